//! Cheap randomness for load spreading (upstream order, record order, jitter, probe names):
//! a per-thread xorshift generator seeded from the standard library's random hasher keys. Not for
//! anything that needs to be unpredictable to an attacker: [`unpredictable_id`] is for that.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()) | 1);
}

/// The next pseudo-random 64-bit number of this thread.
pub fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// A message id an off-path attacker cannot guess (RFC 5452 §4.3): from a ChaCha generator per
/// thread, seeded by the operating system (`rand`'s thread generator, which hickory-proto's
/// own ids use).
pub fn unpredictable_id() -> u16 {
    rand::random()
}

/// A pseudo-random number below `n` (0 when `n` is 0).
pub fn below(n: usize) -> usize {
    if n == 0 { 0 } else { (next_u64() % n as u64) as usize }
}

/// A pseudo-random number in `[0, 1)`.
pub fn unit() -> f64 {
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges() {
        for _ in 0..1000 {
            assert!(super::below(7) < 7);
            let u = super::unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(super::below(0), 0);
    }
}
