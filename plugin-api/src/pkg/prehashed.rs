//! Tables keyed by values that are hashes already.

use std::hash::{BuildHasher, Hasher};

/// Hashes a key by taking it as it is: for tables whose keys are already keyed hashes (*cache*'s
/// SipHash of the question), where hashing them again cost as much as the rest of a lookup.
#[derive(Clone, Copy, Default)]
pub struct KeyIsHash;

impl BuildHasher for KeyIsHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// The hasher of [`KeyIsHash`].
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; anything else still gets a usable (if weak) hash.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}
