//! Identical questions in flight at once share one upstream exchange, as Unbound shares them
//! (CoreDNS sends every one): when 500 Pods of a new Deployment ask the same uncached name
//! together, one query goes upstream and its reply answers them all.
//!
//! The first query for a key is the *leader*: it forwards as usual and publishes what came
//! back. Queries with the same key that arrive meanwhile *wait* for it, at most
//! [`MAX_WAITERS`] of them and at most until the query deadline; each gets the reply with its
//! own id and its own question (the letter case it sent), or SERVFAIL with the leader's error
//! when the upstreams failed. A waiter past the cap forwards on its own.
//!
//! The key is everything the upstream's answer may depend on: the `forward` line, the question
//! (name lower-cased, type, class), the RD, CD and DO bits, the transport and the advertised
//! buffer size. A query with EDNS options (a client subnet, a cookie) is never shared, nor is a
//! HINFO query (*loop*'s probe, which must travel a forwarding loop again and again to be seen).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use plugin_api::pkg::prehashed::KeyIsHash;
use plugin_api::{PluginError, Proto, Request};
use tokio::sync::watch;

use crate::relayed::Relayed;

/// The most queries that wait on one exchange.
pub const MAX_WAITERS: usize = 4096;
/// Independent locks, so that workers rarely meet on one.
const SHARDS: usize = 16;

/// What the leader's exchange gave.
pub type Outcome = Arc<Result<Relayed, PluginError>>;

/// What a query's answer depends on, borrowed from the query: the leader's copy is its
/// `Arc<Request>`, so starting an exchange allocates no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'r> {
    line: usize,
    name: &'r str,
    qtype: u16,
    qclass: u16,
    /// RD, CD, DO, TCP.
    flags: u8,
    udp_size: u16,
}

impl<'r> Key<'r> {
    /// The key of `req` for line `line`; `None` when it must not be shared.
    pub fn of(line: usize, req: &'r Request) -> Option<Self> {
        // The request's own fields, not `req.question()`: that builds hickory's `Name`, which
        // allocates for names past 32 octets, as most of a cluster's search-path misses are.
        if req.qname_wire().is_empty() {
            return None;
        }
        if req.edns().is_some_and(|e| !e.options().options.is_empty()) {
            return None;
        }
        // *loop*'s probe (a random name, HINFO) must come back through a forwarding loop each
        // time to be counted; shared, its second coming would wait on the first instead.
        if req.qtype() == plugin_api::proto::rr::RecordType::HINFO {
            return None;
        }
        let m = req.metadata();
        let flags = u8::from(m.recursion_desired)
            | u8::from(m.checking_disabled) << 1
            | u8::from(req.dnssec_ok()) << 2
            | u8::from(req.proto() == Proto::Tcp) << 3;
        Some(Self {
            line,
            name: req.name(),
            qtype: u16::from(req.qtype()),
            qclass: u16::from(req.qclass()),
            flags,
            udp_size: req.max_payload().unwrap_or(0),
        })
    }
}

/// One exchange in flight and those waiting on it.
struct Flight {
    /// The leader's query, whose key this flight is for.
    leader: Arc<Request>,
    line: usize,
    /// Made when the first waiter comes: most exchanges have none.
    done: Option<watch::Sender<Option<Outcome>>>,
    waiters: usize,
}

/// Every exchange in flight that others may join, by the hash of its key.
pub struct Coalescer {
    /// By the key's keyed hash, which the table takes as its own hash rather than hash again.
    shards: Vec<Mutex<HashMap<u64, Flight, KeyIsHash>>>,
    hasher: RandomState,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), hasher: RandomState::new() }
    }
}

/// A query's part in an exchange.
pub enum Role<'a> {
    /// It forwards, and must [`Leader::publish`] what came back.
    Leader(Leader<'a>),
    /// It waits for the leader.
    Waiter(watch::Receiver<Option<Outcome>>),
    /// Too many wait already, or another question's exchange has the same hash: it forwards
    /// on its own.
    Alone,
}

impl Coalescer {
    /// Joins the exchange of `req`'s question on `line`, or starts it; `None` when the query is
    /// not to be shared.
    pub fn join(&self, line: usize, req: &Arc<Request>) -> Option<Role<'_>> {
        let key = Key::of(line, req)?;
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash as usize) % SHARDS];
        let mut flights = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flight) = flights.get_mut(&hash) {
            if flight.waiters >= MAX_WAITERS || Key::of(flight.line, &flight.leader) != Some(key) {
                return Some(Role::Alone);
            }
            flight.waiters += 1;
            let done = flight.done.get_or_insert_with(|| watch::channel(None).0);
            return Some(Role::Waiter(done.subscribe()));
        }
        let flight = Flight { leader: req.clone(), line, done: None, waiters: 0 };
        flights.insert(hash, flight);
        Some(Role::Leader(Leader { coalescer: self, hash: Some(hash) }))
    }
}

/// The query that forwards for the others. Dropped without publishing (its task cancelled),
/// it still takes its flight out, and the waiters, seeing the channel closed, answer SERVFAIL.
pub struct Leader<'a> {
    coalescer: &'a Coalescer,
    hash: Option<u64>,
}

impl Leader<'_> {
    /// Hands `outcome` to every waiter; later queries for the key start a new exchange.
    pub fn publish(mut self, outcome: &Result<Relayed, PluginError>) {
        if let Some(done) = self.take().and_then(|f| f.done) {
            let _ = done.send(Some(Arc::new(outcome.clone())));
        }
    }

    fn take(&mut self) -> Option<Flight> {
        let hash = self.hash.take()?;
        let shard = &self.coalescer.shards[(hash as usize) % SHARDS];
        shard.lock().unwrap_or_else(|e| e.into_inner()).remove(&hash)
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// Waits for the leader's outcome, and makes it this query's: its id and question.
pub async fn wait(
    mut done: watch::Receiver<Option<Outcome>>,
    req: &Request,
    within: std::time::Duration,
) -> Result<Relayed, PluginError> {
    let got = tokio::time::timeout(within, done.wait_for(Option::is_some)).await;
    let outcome = match got {
        Ok(Ok(value)) => value.clone(),
        Ok(Err(_)) => None,
        Err(_) => return Err(PluginError::servfail("waited too long for a shared upstream query")),
    };
    let Some(outcome) = outcome else {
        return Err(PluginError::servfail("the shared upstream query was abandoned"));
    };
    match &*outcome {
        Ok(reply) => {
            let mut mine = reply.clone();
            mine.readdress(req);
            Ok(mine)
        }
        Err(e) => Err(e.clone()),
    }
}
