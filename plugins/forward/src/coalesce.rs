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

use plugin_api::proto::op::Message;
use plugin_api::{PluginError, Proto, Request};
use tokio::sync::watch;

/// The most queries that wait on one exchange.
pub const MAX_WAITERS: usize = 4096;
/// Independent locks, so that workers rarely meet on one.
const SHARDS: usize = 16;

/// What the leader's exchange gave.
pub type Outcome = Arc<Result<Message, PluginError>>;

/// What a query's answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    line: usize,
    name: String,
    qtype: u16,
    qclass: u16,
    /// RD, CD, DO, TCP.
    flags: u8,
    udp_size: u16,
}

impl Key {
    /// The key of `req` for line `line`; `None` when it must not be shared.
    pub fn of(line: usize, req: &Request) -> Option<Self> {
        let q = req.question()?;
        if req.edns().is_some_and(|e| !e.options().options.is_empty()) {
            return None;
        }
        // *loop*'s probe (a random name, HINFO) must come back through a forwarding loop each
        // time to be counted; shared, its second coming would wait on the first instead.
        if q.query_type() == plugin_api::proto::rr::RecordType::HINFO {
            return None;
        }
        let m = req.metadata();
        let flags = u8::from(m.recursion_desired)
            | u8::from(m.checking_disabled) << 1
            | u8::from(req.dnssec_ok()) << 2
            | u8::from(req.proto() == Proto::Tcp) << 3;
        Some(Self {
            line,
            name: req.name().to_owned(),
            qtype: u16::from(q.query_type()),
            qclass: u16::from(q.query_class()),
            flags,
            udp_size: req.max_payload().unwrap_or(0),
        })
    }
}

/// One exchange in flight and those waiting on it.
struct Flight {
    done: watch::Sender<Option<Outcome>>,
    waiters: usize,
}

/// Every exchange in flight that others may join.
pub struct Coalescer {
    shards: Vec<Mutex<HashMap<Key, Flight>>>,
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
    /// Too many wait already: it forwards on its own.
    Alone,
}

impl Coalescer {
    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Flight>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Joins the exchange for `key`, or starts it.
    pub fn join(&self, key: Key) -> Role<'_> {
        let shard = self.shard(&key);
        let mut flights = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flight) = flights.get_mut(&key) {
            if flight.waiters >= MAX_WAITERS {
                return Role::Alone;
            }
            flight.waiters += 1;
            return Role::Waiter(flight.done.subscribe());
        }
        let (done, _) = watch::channel(None);
        flights.insert(key.clone(), Flight { done, waiters: 0 });
        Role::Leader(Leader { coalescer: self, key: Some(key) })
    }
}

/// The query that forwards for the others. Dropped without publishing (its task cancelled),
/// it still takes its key out, and the waiters, seeing the channel closed, answer SERVFAIL.
pub struct Leader<'a> {
    coalescer: &'a Coalescer,
    key: Option<Key>,
}

impl Leader<'_> {
    /// Hands `outcome` to every waiter; later queries for the key start a new exchange.
    pub fn publish(mut self, outcome: &Result<Message, PluginError>) {
        if let Some(flight) = self.take()
            && flight.waiters > 0
        {
            let _ = flight.done.send(Some(Arc::new(outcome.clone())));
        }
    }

    fn take(&mut self) -> Option<Flight> {
        let key = self.key.take()?;
        let shard = self.coalescer.shard(&key);
        shard.lock().unwrap_or_else(|e| e.into_inner()).remove(&key)
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
) -> Result<Message, PluginError> {
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
            mine.metadata.id = req.id();
            if let (Some(q), Some(asked)) = (mine.queries.first_mut(), req.question()) {
                *q = asked.clone();
            }
            Ok(mine)
        }
        Err(e) => Err(e.clone()),
    }
}
