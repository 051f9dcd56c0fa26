//! A hash table cut into shards that snapshots of the index share.
//!
//! Cloning a [`Sharded`] copies one pointer per shard. Changing it afterwards copies only the
//! shard the change lands in (`Arc::make_mut`), and only the first time after a clone: so a
//! published index and the one being changed share every shard an update did not touch, and
//! an update costs what it changed, not the size of the cluster.

use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use super::dense::Dense;

/// Shards per table: with 10 000 Services one holds about 160 of them (about 900 of the 60 000
/// reverse entries), so the copy an update pays for stays in the kilobytes; cloning the 64
/// pointers once per published index is nothing.
const SHARDS: usize = 64;

/// Seeded once per process. Keys come from the API or manifests and lookups from queries; a
/// random seed means neither can be chosen offline to collide.
static STATE: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The hash every table of the index uses for `key`.
pub fn hash_of<K: Hash + ?Sized>(key: &K) -> u64 {
    STATE.hash_one(key)
}

/// An entry that can say its own key's hash (needed when a shard grows and rehashes).
pub trait Hashed {
    /// [`hash_of`] the entry's key.
    fn hash(&self) -> u64;
}

/// What a shard of a [`Sharded`] table is: a hash table of `T` whose lookups take the key's hash
/// and a test for the entry. Two layouts: [`Dense`](super::dense::Dense) for entries larger than
/// a pointer, [`Direct`](super::direct::Direct) for pointers.
pub trait Shard<T>: Default {
    /// The entry with `hash` for which `eq` holds.
    fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T>;

    /// The entry with `hash` for which `eq` holds, to change (its key must stay the same).
    fn find_mut(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T>;

    /// Adds `item`, whose key the table must not hold yet.
    fn insert_new(&mut self, hash: u64, item: T);

    /// Takes out the entry with `hash` for which `eq` holds.
    fn remove(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<T>;

    /// Every entry, in no particular order.
    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a;

    /// Gives back the room a burst of additions left (after a list).
    fn shrink_to_fit(&mut self);
}

/// The shard of a hash. The middle bits: a shard's table places entries by the low bits and
/// tags them with the top seven, so both must still vary among the entries of one shard.
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

/// A hash table of `T` in [`SHARDS`] copy-on-write shards of layout `S`. Lookups take the key's
/// hash and a test for the entry, so a key made of borrowed parts (`(&str, &str)`) needs no
/// allocation.
#[derive(Debug, Clone)]
pub struct Sharded<T, S = Dense<T>> {
    shards: Box<[Arc<S>]>,
    len: usize,
    entries: PhantomData<T>,
}

impl<T, S: Default> Default for Sharded<T, S> {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Arc::default()).collect(), len: 0, entries: PhantomData }
    }
}

impl<T, S: Shard<T> + Clone> Sharded<T, S> {
    /// The entry with `hash` for which `eq` holds.
    pub fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.shards[shard_of(hash)].find(hash, eq)
    }

    /// The entry with `hash` for which `eq` holds, to change; its shard is copied first if a
    /// snapshot shares it (and only if the entry exists).
    pub fn find_mut(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.find(hash, &mut eq)?;
        Arc::make_mut(&mut self.shards[shard_of(hash)]).find_mut(hash, eq)
    }

    /// Adds `item`, whose key the table must not hold yet.
    pub fn insert_new(&mut self, hash: u64, item: T) {
        Arc::make_mut(&mut self.shards[shard_of(hash)]).insert_new(hash, item);
        self.len += 1;
    }

    /// Takes out the entry with `hash` for which `eq` holds.
    pub fn remove(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<T> {
        self.find(hash, &mut eq)?;
        let item = Arc::make_mut(&mut self.shards[shard_of(hash)]).remove(hash, eq)?;
        self.len -= 1;
        Some(item)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Gives back the room a burst of additions left, in the shards no snapshot shares.
    pub fn shrink_to_fit(&mut self) {
        for shard in &mut self.shards {
            if let Some(shard) = Arc::get_mut(shard) {
                shard.shrink_to_fit();
            }
        }
    }

    /// How many shards `other` shares with `self` (for tests of what an update copies).
    #[cfg(test)]
    pub fn shared_shards(&self, other: &Self) -> usize {
        self.shards.iter().zip(other.shards.iter()).filter(|(a, b)| Arc::ptr_eq(a, b)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Entry(u32, &'static str);

    impl Hashed for Entry {
        fn hash(&self) -> u64 {
            hash_of(&self.0)
        }
    }

    fn put(t: &mut Sharded<Entry>, key: u32, value: &'static str) {
        t.insert_new(hash_of(&key), Entry(key, value));
    }

    fn get(t: &Sharded<Entry>, key: u32) -> Option<&'static str> {
        t.find(hash_of(&key), |e| e.0 == key).map(|e| e.1)
    }

    #[test]
    fn finds_changes_and_removes_across_growth() {
        let mut t = Sharded::default();
        for k in 0..5000 {
            put(&mut t, k, "a");
        }
        assert_eq!(t.len(), 5000);
        assert_eq!(get(&t, 4321), Some("a"));
        t.find_mut(hash_of(&4321), |e| e.0 == 4321).unwrap().1 = "b";
        assert_eq!(get(&t, 4321), Some("b"));
        assert_eq!(t.remove(hash_of(&7), |e| e.0 == 7), Some(Entry(7, "a")));
        assert_eq!(t.remove(hash_of(&7), |e| e.0 == 7), None);
        assert_eq!(get(&t, 7), None);
        assert_eq!(t.len(), 4999);
        assert_eq!(t.iter().count(), 4999);
    }

    #[test]
    fn a_change_copies_one_shard_and_leaves_the_snapshot_alone() {
        let mut t = Sharded::default();
        for k in 0..1000 {
            put(&mut t, k, "old");
        }
        let snapshot = t.clone();
        assert_eq!(t.shared_shards(&snapshot), SHARDS);
        t.find_mut(hash_of(&10), |e| e.0 == 10).unwrap().1 = "new";
        assert_eq!(t.shared_shards(&snapshot), SHARDS - 1, "only the changed shard is copied");
        assert_eq!(get(&snapshot, 10), Some("old"));
        assert_eq!(get(&t, 10), Some("new"));
        // Looking for what is not there copies nothing.
        assert!(t.find_mut(hash_of(&5000), |e| e.0 == 5000).is_none());
        assert!(t.remove(hash_of(&5000), |e| e.0 == 5000).is_none());
        assert_eq!(t.shared_shards(&snapshot), SHARDS - 1);
    }
}
