//! Giving freed heap back to the system after lists and manifest loads (*kubernetes*,
//! *k8s_gateway*).
//!
//! Listing a large cluster deserializes pages of full API objects, reduces them and drops them;
//! copy-on-write shards of the index are dropped as their successors are published. glibc keeps
//! what was freed for later (its trim threshold rises with the large blocks it has seen): after
//! the first sync of 10 000 Services, 10 000 EndpointSlices and 50 000 Pods, about 10 MiB of the
//! process were free heap (59.2 MiB before this trim, 48.7 and 51.4 MiB with it, when the index
//! was still rebuilt whole; `cargo bench --bench kube_scale`). It walks the heap, so it runs at
//! most every [`TRIM_EVERY`], not after every publication.
//!
//! The call is the only `unsafe` of this crate (the workspace denies it elsewhere but in the
//! server's batched UDP loop and the allocation test's counting allocator). Other C libraries (musl) have no `malloc_trim`; there this does
//! nothing.

use std::time::{Duration, Instant};

/// The least time between two trims.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Trims after an index is published when the last trim is [`TRIM_EVERY`] old, or when `force`
/// (the first complete index, a manifest load).
#[derive(Debug, Default)]
pub struct Trimmer {
    last: Option<Instant>,
}

impl Trimmer {
    /// Called after each published index.
    pub fn after_publish(&mut self, force: bool) {
        self.after_publish_at(force, Instant::now());
    }

    /// [`Trimmer::after_publish`] at `now`; says whether it trimmed.
    fn after_publish_at(&mut self, force: bool, now: Instant) -> bool {
        let due = self.last.is_none_or(|at| now.saturating_duration_since(at) >= TRIM_EVERY);
        if force || due {
            release_free_heap();
            self.last = Some(now);
        }
        force || due
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
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut t = Trimmer::default();
        assert!(t.after_publish_at(false, at(0)), "the first publication trims");
        assert!(!t.after_publish_at(false, at(1)), "not again within the interval");
        assert!(t.after_publish_at(true, at(2)), "forced, within the interval");
        assert!(!t.after_publish_at(false, at(11)), "the interval counts from the forced trim");
        assert!(t.after_publish_at(false, at(12)), "due again");
        assert_eq!(t.last, Some(at(12)));
    }
}
