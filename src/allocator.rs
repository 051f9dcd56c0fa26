//! The C allocator's one setting: how many malloc arenas the process may spread over.
//!
//! glibc lets threads open up to eight arenas per core, and each arena keeps the high-water mark
//! of what its threads allocated. The kubernetes plugin's lists are reduced on whichever runtime
//! thread polls the watch, so a large cluster's sync leaves freed memory in several arenas. With
//! one arena per worker thread, the 10 000-Service `kube_scale` cluster holds 32.9 MiB after sync
//! instead of 37.2 MiB (`MALLOC_ARENA_MAX=2 cargo bench --bench kube_scale` against the default,
//! same build). Query threads still each get an arena of their own, and their few allocations
//! per query are served by glibc's per-thread cache without taking an arena's lock.
//!
//! An operator's `MALLOC_ARENA_MAX` is left to glibc, which reads it itself. This is one of the
//! workspace's three `unsafe` calls; other C libraries (musl) have one arena and nothing is done.

/// Limits glibc to one arena per worker thread. Call before starting threads.
pub fn limit_arenas(workers: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let arenas = libc::c_int::try_from(workers.max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt sets one of glibc's allocator parameters; it reads no memory of ours
        // and is safe to call at any time (before threads start, nothing races with it).
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = workers;
}
