//! A bounded store of cached replies: 256 shards, each holding at most `capacity / 256` items
//! (at least 4, so at least 1024 in all), with a random item evicted when a shard is full, as in
//! CoreDNS's `plugin/pkg/cache`.
//!
//! Reads take no lock and touch no reference count: a shard is a [`papaya::HashMap`], read under
//! a [`Guard`] that only marks this thread active. With a lock per shard, every hit wrote the
//! lock's word and the item's count, and on two cores those lines moved between the cores on
//! most hits (bench/README.md has the perf figures). Writers still take the shard's
//! mutex, which keeps the capacity check and the eviction one step.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use papaya::LocalGuard;
use plugin_api::pkg::prehashed::KeyIsHash;
use plugin_api::pkg::wire::Stored;
pub use seize::Collector;

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

/// Keeps what a reader found alive until it is dropped; one for any number of reads from the
/// stores sharing its [`Collector`]. Hold it only for the time it takes to answer (it delays
/// freeing replaced items).
pub type Guard<'a> = LocalGuard<'a>;

/// The reclamation domain of a cache's stores: one guard covers a hit that asks both, and a
/// thread registers once per cache rather than once per shard.
///
/// It must not be shared wider than the stores of one owner: papaya frees everything retired
/// in the collector when a map is dropped, assuming no thread is reading, which holds only
/// while nothing outside the dropped owner can hold one of its guards (a process-wide collector
/// crashed the tests as soon as one test dropped a store while another read from its own).
pub fn collector() -> Arc<Collector> {
    Arc::new(Collector::new().batch_size(RETIRE_BATCH))
}

/// Replaced and evicted items a thread gathers before they are handed to reclamation. Each
/// hand-over is a `membarrier` system call that interrupts every core running the process, and
/// on a stream of new names every miss evicts an item, and at the default of 32 CACHE-MISS ran
/// below the locked store (bench/README.md). A thousand items of a few hundred bytes is the memory this holds
/// back per thread.
const RETIRE_BATCH: usize = 1024;

type Map = papaya::HashMap<u64, Arc<Item>, KeyIsHash>;

struct Shard {
    items: Map,
    /// The keys the shard holds, in no order, under the lock that orders its writers. Their
    /// number says when the shard is full (without summing papaya's per-thread counters), and
    /// a random victim is one index into them; walking the map's table to the n-th key was
    /// most of a store's time on a stream of new names.
    keys: Mutex<Vec<u64>>,
}

/// The store.
pub struct Store {
    shards: Box<[Shard]>,
    per_shard: usize,
    /// Items stored, kept as they come and go: summing the shards (256 locks) on every store,
    /// to set the entries gauge, took a sixth of a cache miss's CPU.
    count: AtomicUsize,
}

impl Store {
    /// A store for about `capacity` items, its readers' guards coming from `collector`.
    pub fn new(capacity: usize, collector: &Arc<Collector>) -> Self {
        let per_shard = (capacity / SHARDS).max(4);
        let shards = (0..SHARDS)
            .map(|_| Shard {
                // Capacity 0: a shard's table is allocated at its first item, not before.
                items: papaya::HashMap::builder()
                    .hasher(KeyIsHash)
                    .shared_collector(collector.clone())
                    .capacity(0)
                    .build(),
                keys: Mutex::new(Vec::new()),
            })
            .collect();
        Self { shards, per_shard, count: AtomicUsize::new(0) }
    }

    /// The most items the store holds.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    fn shard(&self, key: u64) -> &Shard {
        // Bits the shard's table does not use: it indexes by the low bits and tags entries with
        // the top seven, so taking either here would leave every key of a shard alike there.
        &self.shards[(key >> 48) as usize % SHARDS]
    }

    /// The item under `key`, valid while `guard` is.
    pub fn get<'g>(&self, key: u64, guard: &'g Guard<'_>) -> Option<&'g Arc<Item>> {
        self.shard(key).items.get(&key, guard)
    }

    /// Stores `item`; true if another item had to be evicted to make room.
    pub fn add(&self, key: u64, item: Item) -> bool {
        let shard = self.shard(key);
        let mut keys = shard.keys.lock().unwrap_or_else(|e| e.into_inner());
        let guard = shard.items.guard();
        let mut evicted = false;
        if keys.len() >= self.per_shard && shard.items.get(&key, &guard).is_none() {
            // A random victim, as CoreDNS's (Go's map order is random at each iteration).
            // Always taking the first key evicted the same slots again and again, and a working
            // set that fit kept evicting itself after a flood of one-off names.
            let nth = plugin_api::pkg::random::below(keys.len());
            let victim = keys.swap_remove(nth);
            shard.items.remove(&victim, &guard);
            evicted = true;
        }
        if shard.items.insert(key, Arc::new(item), &guard).is_none() {
            keys.push(key);
            if !evicted {
                self.count.fetch_add(1, Ordering::Relaxed);
            }
        }
        evicted
    }

    /// Removes the item under `key`.
    pub fn remove(&self, key: u64) {
        let shard = self.shard(key);
        let mut keys = shard.keys.lock().unwrap_or_else(|e| e.into_inner());
        if shard.items.remove(&key, &shard.items.guard()).is_some() {
            if let Some(at) = keys.iter().position(|k| *k == key) {
                keys.swap_remove(at);
            }
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
    static SEED: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    let mut h = SEED.build_hasher();
    (dnssec_ok, checking_disabled, qtype, qclass).hash(&mut h);
    name.hash(&mut h);
    h.finish()
}

/// Items the shards hold, after checking that each shard lists exactly the keys its map holds.
#[cfg(test)]
fn held(s: &Store) -> usize {
    for shard in s.shards.iter() {
        let mut listed = shard.keys.lock().unwrap().clone();
        let mut stored: Vec<u64> = shard.items.pin().keys().copied().collect();
        listed.sort();
        stored.sort();
        assert_eq!(listed, stored, "each shard lists exactly the keys it holds");
    }
    s.shards.iter().map(|x| x.items.len()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_like_coredns() {
        assert_eq!(Store::new(10_000, &collector()).capacity(), 9984);
        assert_eq!(Store::new(100, &collector()).capacity(), 1024);
        assert_eq!(Store::new(2048, &collector()).capacity(), 2048);
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let s = Store::new(1024, &collector());
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
mod concurrency_tests {
    use super::*;

    /// Readers and writers on one store while other stores come and go on another thread: what a
    /// reader finds is always the item stored under its key, and the count stays what the shards
    /// hold. (A collector shared wider than one owner broke this: dropping any store freed
    /// items other threads were still reading.)
    #[test]
    fn reads_race_writes_evictions_and_other_stores_being_dropped() {
        let collector = collector();
        let s = Store::new(1024, &collector);
        let wire = Stored::new(&mut plugin_api::proto::op::Message::query()).unwrap();
        let keys: Vec<u64> =
            (0..4096u64).map(|i| key(&format!("k{i}."), 1, 1, false, false)).collect();
        let done = AtomicBool::new(false);
        let (s, keys, wire, done, collector) = (&s, &keys, &wire, &done, &collector);
        std::thread::scope(|scope| {
            for t in 0..2u64 {
                scope.spawn(move || {
                    for round in 0..20u64 {
                        for (i, k) in keys.iter().enumerate() {
                            let guard = collector.enter();
                            match s.get(*k, &guard) {
                                // `stored` carries the key's index: a freed or misplaced item
                                // would show another.
                                Some(item) => assert_eq!(item.stored, i as u64),
                                None if (i as u64 + round + t).is_multiple_of(3) => {
                                    s.add(*k, Item::new(wire.clone(), i as u64, 30));
                                }
                                None => {}
                            }
                            if (i as u64 + round).is_multiple_of(17) {
                                s.remove(*k);
                            }
                        }
                    }
                    done.store(true, Ordering::Release);
                });
            }
            scope.spawn(move || {
                let mut n = 0u64;
                while !done.load(Ordering::Acquire) || n < 10 {
                    let other = Store::new(1024, &super::collector());
                    for i in 0..200u64 {
                        other.add(i << 48 | i, Item::new(wire.clone(), i, 30));
                    }
                    n += 1;
                }
            });
        });
        assert_eq!(s.len(), held(s));
        assert!(s.len() <= s.capacity());
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
        let collector = collector();
        let s = Store::new(9984, &collector);
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
                if s.get(*k, &collector.enter()).is_none() {
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
