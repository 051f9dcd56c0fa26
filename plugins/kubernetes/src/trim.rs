//! Giving freed heap back to the system after the index is rebuilt.
//!
//! Listing a large cluster deserializes pages of full API objects, reduces them and drops them;
//! rebuilding the index builds new maps and drops the old ones. glibc keeps what was freed for
//! later (its trim threshold rises with the large blocks it has seen), so after the first sync
//! of 10 000 Services, 10 000 EndpointSlices and 50 000 Pods the process held 59.2 MiB, of which
//! about 10 MiB were free. `malloc_trim` returns that: 48.7 and 51.4 MiB after the same sync
//! in two runs (`cargo bench --bench kube_scale`). It walks the heap, so it runs at most every
//! [`TRIM_EVERY`], not after every rebuild.
//!
//! The call is the only `unsafe` of this crate (the workspace denies it elsewhere but in the
//! server's batched UDP loop and the arena limit of `src/allocator.rs`). Other C libraries (musl) have no `malloc_trim`; there this does
//! nothing.

use std::time::{Duration, Instant};

/// The least time between two trims.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Trims after a rebuild when the last trim is [`TRIM_EVERY`] old, or when `force` (the first
/// complete index).
#[derive(Debug, Default)]
pub struct Trimmer {
    last: Option<Instant>,
}

impl Trimmer {
    /// Called after each rebuild.
    pub fn after_rebuild(&mut self, force: bool) {
        let due = self.last.is_none_or(|at| at.elapsed() >= TRIM_EVERY);
        if force || due {
            release_free_heap();
            self.last = Some(Instant::now());
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_heap() {
    // SAFETY: malloc_trim takes no pointers and may be called at any time from any thread; it
    // only returns free pages of the heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_first_then_at_most_every_interval_unless_forced() {
        let mut t = Trimmer::default();
        t.after_rebuild(false);
        let first = t.last.expect("the first rebuild trims");
        t.after_rebuild(false);
        assert_eq!(t.last, Some(first), "not again within the interval");
        t.after_rebuild(true);
        assert!(t.last.unwrap() >= first, "forced");
    }
}
