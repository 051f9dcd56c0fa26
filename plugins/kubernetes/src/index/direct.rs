//! A hash table that keeps its entries in the hashed slots themselves, for entries no larger
//! than a pointer.
//!
//! [`Dense`](super::dense::Dense) saves memory on large entries by hashing their positions; for
//! an `Arc` the position is as large as the entry, and the extra step is one more cache miss on
//! every lookup. The Services table is looked up by every query for a cluster name, and with
//! 10 000 Services a lookup's cost is its cache misses, most on the Service and the rest on the
//! table (bench/README.md, "Figures behind the code").

use hashbrown::HashTable;

use super::sharded::{Hashed, Shard};

/// Entries of `T`, found by hash and a test, in no particular order.
#[derive(Debug, Clone)]
pub struct Direct<T>(HashTable<T>);

impl<T> Default for Direct<T> {
    fn default() -> Self {
        Self(HashTable::new())
    }
}

impl<T: Hashed> Shard<T> for Direct<T> {
    fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.0.find(hash, eq)
    }

    fn find_mut(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.0.find_mut(hash, eq)
    }

    fn insert_new(&mut self, hash: u64, item: T) {
        self.0.insert_unique(hash, item, T::hash);
    }

    fn remove(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<T> {
        let entry = self.0.find_entry(hash, eq).ok()?;
        Some(entry.remove().0)
    }

    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.0.iter()
    }

    fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit(T::hash);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::sharded::hash_of;
    use super::*;

    impl Hashed for Arc<u32> {
        fn hash(&self) -> u64 {
            hash_of(&**self)
        }
    }

    fn has(t: &Direct<Arc<u32>>, k: u32) -> bool {
        t.find(hash_of(&k), |e| **e == k).is_some()
    }

    #[test]
    fn finds_what_was_added_and_not_what_was_removed() {
        let mut t = Direct::default();
        for k in 0..2000 {
            t.insert_new(hash_of(&k), Arc::new(k));
        }
        for k in (0..2000).step_by(3) {
            assert_eq!(t.remove(hash_of(&k), |e| **e == k).as_deref(), Some(&k));
        }
        assert!(t.remove(hash_of(&0), |e| **e == 0).is_none());
        t.shrink_to_fit();
        assert!((0..2000).all(|k| has(&t, k) == (k % 3 != 0)));
        assert_eq!(t.iter().count(), 1333);
        *t.find_mut(hash_of(&1), |e| **e == 1).expect("present") = Arc::new(1);
        let copy = t.clone();
        assert!((0..2000).all(|k| has(&copy, k) == (k % 3 != 0)));
    }
}
