//! The per-client state: a fixed table of atomic words, one generic cell rate algorithm (GCRA)
//! bucket per client, updated with compare-and-swap. No lock, no allocation and no growth per
//! query, whatever the number of clients.
//!
//! A bucket is one word: a 16-bit tag from the client's hash and the *theoretical arrival time*
//! (TAT) in microseconds since the table was made, 48 bits (8.9 years). A query at `now` is let
//! through when `max(TAT, now) - now <= tolerance`, and then moves the TAT one interval on; a
//! client that stays under its rate therefore never has a TAT far ahead of the clock, and one
//! that bursts may run `burst` queries ahead before it is held back.
//!
//! A client's bucket lives in one group of eight slots chosen by its hash: one cache line, so
//! finding it costs one memory fetch. It uses the slot carrying its tag; otherwise it claims one
//! whose TAT is in the past (an idle bucket is a full bucket, so taking it loses nobody
//! anything). If all eight are busy with other clients it shares one: bounded memory is worth
//! more than exact fairness when more clients are active at once than the table was sized for,
//! and the hash seed is random, so no client can choose whom it shares with.
//!
//! The clock is passed in, so tests drive it by hand.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

const TAT_BITS: u32 = 48;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;

fn pack(tag: u64, tat: u64) -> u64 {
    (tag << TAT_BITS) | (tat & TAT_MASK)
}

fn tag_of(word: u64) -> u64 {
    word >> TAT_BITS
}

fn tat_of(word: u64) -> u64 {
    word & TAT_MASK
}

const GROUP: usize = 8;

/// Eight buckets in one cache line.
#[repr(align(64))]
struct Group([AtomicU64; GROUP]);

/// The buckets of every client of one `ratelimit` directive; `S` hashes clients (a random
/// seed per table unless a test fixes one).
pub struct Table<S = RandomState> {
    groups: Box<[Group]>,
    mask: usize,
    /// Microseconds one query uses up.
    interval: u64,
    /// How far ahead of the clock a bucket's TAT may be and still let a query through.
    tolerance: u64,
    hasher: S,
}

impl Table {
    /// A table for about `clients` clients at once, each allowed `rate` queries a second with
    /// bursts of `burst`. `rate` and `burst` are at least 1.
    pub fn new(clients: usize, rate: u32, burst: u32) -> Self {
        Self::with_hasher(clients, rate, burst, RandomState::new())
    }
}

impl<S: BuildHasher> Table<S> {
    /// [`Table::new`] with clients hashed by `hasher`.
    pub fn with_hasher(clients: usize, rate: u32, burst: u32, hasher: S) -> Self {
        // Room for twice as many clients as asked, so groups rarely fill up.
        let len = (clients.max(1) * 2).div_ceil(GROUP).next_power_of_two();
        let interval = (1_000_000 / u64::from(rate.max(1))).max(1);
        Self {
            groups: (0..len).map(|_| Group(Default::default())).collect(),
            mask: len - 1,
            interval,
            tolerance: interval * u64::from(burst.max(1) - 1),
            hasher,
        }
    }

    /// Counts a query from `client` at `now` (microseconds since the table's epoch) and says
    /// whether it is within the client's rate.
    pub fn allow(&self, client: Client, now: u64) -> bool {
        let hash = self.hasher.hash_one(client);
        let tag = hash >> TAT_BITS;
        let group = &self.groups[hash as usize & self.mask].0;
        let mut idle = None;
        let mut slot = None;
        for s in group {
            let word = s.load(Ordering::Relaxed);
            if tag_of(word) == tag {
                slot = Some(s);
                break;
            }
            if idle.is_none() && tat_of(word) <= now {
                idle = Some(s);
            }
        }
        // Shared when the group is full of busy clients, see the module docs.
        let shared = &group[(hash >> 32) as usize % GROUP];
        let slot = slot.or(idle).unwrap_or(shared);
        self.take(slot, tag, now)
    }

    fn take(&self, slot: &AtomicU64, tag: u64, now: u64) -> bool {
        let mut word = slot.load(Ordering::Relaxed);
        loop {
            let (owner, tat) = (tag_of(word), tat_of(word));
            // Ours, or idle and so ours to claim, or shared with a busy owner whose tag stays.
            let (new_tag, base) =
                if owner == tag || tat <= now { (tag, tat.max(now)) } else { (owner, tat) };
            if base - now > self.tolerance {
                return false;
            }
            let new = pack(new_tag, base + self.interval);
            match slot.compare_exchange_weak(word, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(current) => word = current,
            }
        }
    }
}

/// What a client is counted under: its family (IPv4-mapped IPv6 counts as IPv4) and its address
/// with only the first `v4_prefix` or `v6_prefix` bits kept.
pub type Client = (bool, u128);

/// The [`Client`] of `ip`.
pub fn client_key(ip: IpAddr, v4_prefix: u8, v6_prefix: u8) -> Client {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = if v4_prefix == 0 { 0 } else { bits & (u32::MAX << (32 - v4_prefix)) };
            (true, u128::from(kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (false, if v6_prefix == 0 { 0 } else { bits & (u128::MAX << (128 - v6_prefix)) })
        }
    }
}
