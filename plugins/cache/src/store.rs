//! A bounded store of cached replies: 256 shards, each holding at most `capacity / 256` items
//! (at least 4, so at least 1024 in all), with a random item evicted when a shard is full, as in
//! CoreDNS's `plugin/pkg/cache`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use plugin_api::wire::Stored;

const SHARDS: usize = 256;

/// A cached reply.
#[derive(Debug)]
pub struct Item {
    /// The reply as stored, in wire form (records' TTLs already the stored duration): a hit
    /// copies these bytes and patches them.
    pub wire: Stored,
    /// When it was stored, in clock seconds.
    pub stored: u64,
    /// The TTL it was stored with.
    pub ttl: u32,
    /// Hits within the prefetch window.
    pub hits: AtomicU64,
    /// The clock second of the last hit.
    pub last_hit: AtomicU64,
    /// A refresh (prefetch or stale) is under way.
    pub refreshing: AtomicBool,
}

impl Item {
    /// A new item.
    pub fn new(wire: Stored, stored: u64, ttl: u32) -> Self {
        Self {
            wire,
            stored,
            ttl,
            hits: AtomicU64::new(0),
            last_hit: AtomicU64::new(stored),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Seconds of life left at `now`; negative once expired.
    pub fn remaining(&self, now: u64) -> i64 {
        i64::from(self.ttl) - (now.saturating_sub(self.stored) as i64)
    }
}

/// The store.
pub struct Store {
    shards: Vec<RwLock<HashMap<u64, Arc<Item>>>>,
    per_shard: usize,
    /// Items stored, kept as they come and go: summing the shards (256 locks) on every store,
    /// to set the entries gauge, took a sixth of a cache miss's CPU.
    count: AtomicUsize,
}

impl Store {
    /// A store for about `capacity` items.
    pub fn new(capacity: usize) -> Self {
        let per_shard = (capacity / SHARDS).max(4);
        let shards = (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect();
        Self { shards, per_shard, count: AtomicUsize::new(0) }
    }

    /// The most items the store holds.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    fn shard(&self, key: u64) -> &RwLock<HashMap<u64, Arc<Item>>> {
        &self.shards[(key as usize) % SHARDS]
    }

    /// The item under `key`.
    pub fn get(&self, key: u64) -> Option<Arc<Item>> {
        self.shard(key).read().unwrap_or_else(|e| e.into_inner()).get(&key).cloned()
    }

    /// Stores `item`; true if another item had to be evicted to make room.
    pub fn add(&self, key: u64, item: Item) -> bool {
        let mut shard = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        let mut evicted = false;
        if !shard.contains_key(&key) && shard.len() >= self.per_shard {
            // A random victim, as CoreDNS's (Go's map order is random at each iteration). Rust's
            // is not: always taking the first key evicted the same slots again and again, and a
            // working set that fit kept evicting itself after a flood of one-off names.
            let nth = plugin_api::random::below(shard.len());
            if let Some(victim) = shard.keys().nth(nth).copied() {
                shard.remove(&victim);
                evicted = true;
            }
        }
        if shard.insert(key, Arc::new(item)).is_none() && !evicted {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        evicted
    }

    /// Removes the item under `key`.
    pub fn remove(&self, key: u64) {
        let removed = self.shard(key).write().unwrap_or_else(|e| e.into_inner()).remove(&key);
        if removed.is_some() {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many items are stored.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of a query: lower-cased name, type, class, DO and CD bits.
pub fn key(name: &str, qtype: u16, qclass: u16, dnssec_ok: bool, checking_disabled: bool) -> u64 {
    static SEED: std::sync::LazyLock<RandomState> = std::sync::LazyLock::new(RandomState::new);
    let mut h = SEED.build_hasher();
    (dnssec_ok, checking_disabled, qtype, qclass).hash(&mut h);
    name.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_like_coredns() {
        assert_eq!(Store::new(10_000).capacity(), 9984);
        assert_eq!(Store::new(100).capacity(), 1024);
        assert_eq!(Store::new(2048).capacity(), 2048);
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let s = Store::new(1024);
        let mut evictions = 0;
        let wire = Stored::new(&mut plugin_api::proto::op::Message::query()).unwrap();
        for i in 0..1_000_000u64 {
            let k = key(&format!("n{i}.test."), 1, 1, false, false);
            if s.add(k, Item::new(wire.clone(), 0, 30)) {
                evictions += 1;
            }
        }
        assert!(s.len() <= 1024, "{}", s.len());
        assert_eq!(s.len() + evictions, 1_000_000);
        let held = |s: &Store| s.shards.iter().map(|x| x.read().unwrap().len()).sum::<usize>();
        assert_eq!(s.len(), held(&s), "the count is what the shards hold");
        // Replacing and removing keep it so.
        let k = key("n999999.test.", 1, 1, false, false);
        s.add(k, Item::new(wire.clone(), 0, 30));
        s.remove(k);
        s.remove(k);
        assert_eq!(s.len(), held(&s));
    }

    #[test]
    fn keys_tell_apart_what_coredns_does() {
        let base = key("a.test.", 1, 1, false, false);
        assert_eq!(base, key("a.test.", 1, 1, false, false));
        assert_ne!(base, key("a.test.", 28, 1, false, false));
        assert_ne!(base, key("a.test.", 1, 1, true, false));
        assert_ne!(base, key("a.test.", 1, 1, false, true));
        assert_ne!(base, key("b.test.", 1, 1, false, false));
    }
}

#[cfg(test)]
mod eviction_tests {
    use super::*;

    /// After a flood of one-off names has filled the store, a working set well within the
    /// capacity must settle in and stay: evicting an arbitrary *fixed* slot (the first in
    /// iteration order) made the working set evict itself over and over, so hits never came.
    #[test]
    fn a_working_set_settles_after_a_flood() {
        let s = Store::new(9984);
        let wire = Stored::new(&mut plugin_api::proto::op::Message::query()).unwrap();
        for i in 0..100_000u64 {
            s.add(
                key(&format!("junk{i}.test."), 1, 1, false, false),
                Item::new(wire.clone(), 0, 30),
            );
        }
        let hot: Vec<u64> =
            (0..1000).map(|i| key(&format!("h{i}.test."), 1, 1, false, false)).collect();
        let mut late_misses = 0;
        for round in 0..30 {
            for k in &hot {
                if s.get(*k).is_none() {
                    s.add(*k, Item::new(wire.clone(), 0, 30));
                    if round >= 20 {
                        late_misses += 1;
                    }
                }
            }
        }
        assert!(late_misses < 100, "{late_misses} misses in the last 10 rounds of 1000 names");
    }
}
