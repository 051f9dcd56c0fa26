//! A hash table that keeps its entries packed in a `Vec` and only their positions (`u32`) in
//! the hashed slots.
//!
//! A plain hash table leaves between an eighth and a half of its slots empty, each as large as
//! an entry; in this one an empty slot costs five bytes. For the index's 50-byte entries that is
//! a third less memory an entry (bench/README.md, "Figures behind the code"), and on a large
//! cluster the tables are the largest single use of memory.

use hashbrown::HashTable;

use super::sharded::{Hashed, Shard};

/// Entries of `T`, found by hash and a test, in no particular order.
#[derive(Debug)]
pub struct Dense<T> {
    slots: HashTable<u32>,
    entries: Vec<T>,
}

impl<T> Default for Dense<T> {
    fn default() -> Self {
        Self { slots: HashTable::new(), entries: Vec::new() }
    }
}

/// A copy is made to be changed (copy-on-write), usually by a few entries: it gets a little room
/// rather than none, so the first addition does not double it.
impl<T: Clone> Clone for Dense<T> {
    fn clone(&self) -> Self {
        let mut entries = Vec::with_capacity(self.entries.len() + self.entries.len() / 16 + 4);
        entries.extend_from_slice(&self.entries);
        Self { slots: self.slots.clone(), entries }
    }
}

impl<T: Hashed> Shard<T> for Dense<T> {
    fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&T> {
        let at = *self.slots.find(hash, |&i| eq(&self.entries[i as usize]))?;
        Some(&self.entries[at as usize])
    }

    fn find_mut(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        let entries = &self.entries;
        let at = *self.slots.find(hash, |&i| eq(&entries[i as usize]))?;
        Some(&mut self.entries[at as usize])
    }

    fn insert_new(&mut self, hash: u64, item: T) {
        // Four thousand million entries would need some 200 GB: a cluster that size is not
        // served from one process.
        let at = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries");
        self.entries.push(item);
        let entries = &self.entries;
        self.slots.insert_unique(hash, at, |&i| entries[i as usize].hash());
    }

    fn remove(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<T> {
        let entries = &self.entries;
        let slot = self.slots.find_entry(hash, |&i| eq(&entries[i as usize])).ok()?;
        let (at, _) = slot.remove();
        let item = self.entries.swap_remove(at as usize);
        // The last entry moved into the hole: its slot must say so.
        if let Some(moved) = self.entries.get(at as usize) {
            let was = self.entries.len() as u32;
            if let Some(slot) = self.slots.find_mut(moved.hash(), |&i| i == was) {
                *slot = at;
            }
        }
        Some(item)
    }

    fn iter<'a>(&'a self) -> impl Iterator<Item = &'a T>
    where
        T: 'a,
    {
        self.entries.iter()
    }

    fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        let entries = &self.entries;
        self.slots.shrink_to_fit(|&i| entries[i as usize].hash());
    }
}

impl<T> Dense<T> {
    /// How many entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sharded::hash_of;
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Entry(u32);

    impl Hashed for Entry {
        fn hash(&self) -> u64 {
            hash_of(&self.0)
        }
    }

    fn has(t: &Dense<Entry>, k: u32) -> bool {
        t.find(hash_of(&k), |e| e.0 == k).is_some()
    }

    #[test]
    fn removal_keeps_every_other_entry_findable() {
        let mut t = Dense::default();
        for k in 0..2000 {
            t.insert_new(hash_of(&k), Entry(k));
        }
        // Removing from the front moves the last entry into each hole.
        for k in (0..2000).step_by(3) {
            assert_eq!(t.remove(hash_of(&k), |e| e.0 == k), Some(Entry(k)));
        }
        assert!(t.remove(hash_of(&0), |e| e.0 == 0).is_none());
        for k in 0..2000 {
            assert_eq!(has(&t, k), k % 3 != 0, "{k}");
        }
        assert_eq!(t.len(), 1333);
        t.shrink_to_fit();
        t.find_mut(hash_of(&1), |e| e.0 == 1).unwrap();
        assert!((0..2000).all(|k| has(&t, k) == (k % 3 != 0)));
        let copy = t.clone();
        assert!(copy.entries.capacity() > copy.len(), "a copy has room to change");
        assert!((0..2000).all(|k| has(&copy, k) == (k % 3 != 0)));
    }
}
