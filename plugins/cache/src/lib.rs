//! *cache*: keeps the replies of the plugins after it and answers repeated queries from memory.
//!
//! * [`setup::parse`] reads `cache [TTL] [ZONES...] { success; denial; prefetch; serve_stale;
//!   servfail; disable; keepttl }`.
//! * [`store`]: two bounded stores, one for answers and referrals (success), one for NXDOMAIN,
//!   NODATA and SERVFAIL (denial).
//! * [`Cache`] is the handler. A miss goes to the next plugin; its reply is stored for the
//!   clamped minimum TTL of its records (or the SOA minimum, for a denial; `servfail` for a
//!   SERVFAIL), and every record's TTL is set to that. It is kept in wire form
//!   ([`plugin_api::pkg::wire::Stored`]); a hit copies those bytes and patches the id, flags, the
//!   question's letter case and the TTLs (counting down), and hands them on as
//!   [`Reply::Wire`], so no message is rebuilt or encoded per hit. Entries about to expire that are asked often are
//!   fetched again in the background (`prefetch`); expired ones can be served while they are
//!   refreshed (`serve_stale`).
//!
//! What is never cached, as in CoreDNS: truncated replies, errors other than SERVFAIL,
//! NXDOMAIN or NODATA without a SOA, NOTIFY/UPDATE/zone transfers, and replies whose question
//! is not the query's (counted in `coredns_cache_drops_total`).

pub mod metrics;
pub mod setup;
pub mod store;

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use plugin_api::pkg::response::{Type, type_of, typify};
use plugin_api::pkg::wire::{Records, Stored, WireReply};
use plugin_api::pkg::zone::longest_match;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve, ServeResult};
use setup::{MAX_TTL, MIN_TTL, Options};
use store::{Item, Store, key};

thread_local! {
    /// Where the TTLs of a reply being stored sit, kept from one miss to the next so that
    /// reading them allocates nothing.
    static TTL_PLACES: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// The directive's name.
pub const NAME: &str = "cache";

/// The cache's notion of now, in whole seconds: the process clock, or one a test moves.
#[derive(Clone)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that only moves when told to, starting at `start` seconds.
    pub fn manual(start: u64) -> (Self, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(start));
        (Self(Some(now.clone())), now)
    }

    /// Seconds now.
    pub fn now(&self) -> u64 {
        static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
        match &self.0 {
            Some(now) => now.load(Ordering::Acquire),
            // Offset so that "stored at 0" never looks like "never stored".
            None => START.elapsed().as_secs() + 1_000_000,
        }
    }
}

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = setup::parse(c)?;
    let servers: Vec<String> = c.servers().iter().map(|(_, s)| s.clone()).collect();
    Ok(Some(Arc::new(Cache::new(options, &servers, Clock::system()))))
}

/// The *cache* handler.
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    o: Options,
    success: Store,
    denial: Store,
    /// The stores' reclamation domain; reads hold one of its guards.
    collector: Arc<store::Collector>,
    clock: Clock,
    metrics: metrics::Set,
}

impl Cache {
    /// A cache with `options`, counting its metrics under each of `servers`.
    pub fn new(options: Options, servers: &[String], clock: Clock) -> Self {
        let zones_label = options.zones.join(",");
        let collector = store::collector();
        let inner = Inner {
            success: Store::new(options.pcap, &collector),
            denial: Store::new(options.ncap, &collector),
            collector,
            metrics: metrics::Set::new(servers, &zones_label),
            o: options,
            clock,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Items stored: (success, denial).
    pub fn len(&self) -> (usize, usize) {
        (self.inner.success.len(), self.inner.denial.len())
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

fn query_key(req: &Request) -> u64 {
    let cd = req.metadata().checking_disabled;
    key(req.name(), u16::from(req.qtype()), u16::from(req.qclass()), req.dnssec_ok(), cd)
}

impl Plugin for Cache {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let inner = &self.inner;
        if longest_match(&inner.o.zones, req.name()).is_none() {
            return next.run(ctx, req);
        }
        let m = inner.metrics.for_server(&ctx.server);
        m.requests.get().inc();
        let now = inner.clock.now();
        let k = query_key(req);
        let stale_window = inner.o.serve_stale.map_or(0, |d| d.as_secs() as i64);

        // Held until the reply is built from the item: no copy of the item, no count on it.
        let guard = inner.collector.enter();
        let found = [(&inner.denial, &m.denial_hits), (&inner.success, &m.success_hits)]
            .into_iter()
            .find_map(|(store, hits)| {
                let item = store.get(k, &guard)?;
                let left = item.remaining(now);
                (left > 0 || (inner.o.serve_stale.is_some() && -left < stale_window))
                    .then_some((item, hits))
            });
        let Some((item, hits)) = found else {
            drop(guard);
            m.misses.get().inc();
            let fill = (self.inner.clone(), ctx.server.clone());
            return next.run(ctx, req).map_with(&fill, req, |(fill, server), req, result| {
                fill.store(server, req, result)
            });
        };
        hits.get().inc();

        let left = item.remaining(now);
        if left <= 0 {
            if inner.o.verify_stale {
                // Ask upstream first; the stale entry is the fallback.
                let verify = (self.inner.clone(), ctx.server.clone(), Arc::clone(item));
                drop(guard);
                return next.run(ctx, req).map_with(
                    &verify,
                    req,
                    |(fill, server, stale), req, result| {
                        if refreshes(&result) {
                            return fill.store(server, req, result);
                        }
                        fill.metrics.for_server(server).served_stale.get().inc();
                        Ok(to_reply(stale, req, 0))
                    },
                );
            }
            m.served_stale.get().inc();
            self.refresh(ctx, req, next, item);
            return Serve::Ready(Ok(to_reply(item, req, 0)));
        }
        if self.should_prefetch(item, now) {
            m.prefetches.get().inc();
            self.refresh(ctx, req, next, item);
        }
        let ttl = if inner.o.keepttl { item.ttl } else { left as u32 };
        Serve::Ready(Ok(to_reply(item, req, ttl)))
    }
}

impl Cache {
    /// Counts a hit and says whether the entry should be fetched again now: asked `prefetch`
    /// times without a gap longer than the window, with at most `percent` of its TTL left.
    fn should_prefetch(&self, item: &Item, now: u64) -> bool {
        let o = &self.inner.o;
        if o.prefetch == 0 {
            return false;
        }
        let last = item.last_hit.swap(now, Ordering::AcqRel);
        if now.saturating_sub(last) > o.prefetch_window.as_secs() {
            item.hits.store(0, Ordering::Release);
        }
        let hits = item.hits.fetch_add(1, Ordering::AcqRel) + 1;
        let threshold = (f64::from(o.prefetch_percent) / 100.0 * f64::from(item.ttl)).ceil() as i64;
        hits >= o.prefetch && item.remaining(now) <= threshold
    }

    /// Fetches the entry again in the background through the rest of the chain, at most once at
    /// a time per entry; the new reply replaces it.
    fn refresh(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>, item: &Arc<Item>) {
        if item.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            item.refreshing.store(false, Ordering::Release);
            return;
        };
        let (fill, ctx, req, next, item) =
            (self.inner.clone(), ctx.clone(), req.clone(), next.to_owned(), item.clone());
        rt.spawn(async move {
            let result = next.as_next().run(&ctx, &req).resolve().await;
            let _ = fill.store(&ctx.server, &req, result);
            item.refreshing.store(false, Ordering::Release);
        });
    }
}

impl Inner {
    /// Stores the reply to `req` if it may be cached, and returns it with its TTLs set to the
    /// stored duration.
    fn store(&self, server: &str, req: &Request, result: ServeResult) -> ServeResult {
        // An upstream's reply relayed as bytes (*forward*) is stored as it is, read in place.
        let result = match result {
            Ok(Reply::Wire { wire, by }) => match self.store_wire(server, req, wire) {
                Ok(wire) => return Ok(Reply::Wire { wire, by }),
                Err(wire) => Ok(Reply::Wire { wire, by }),
            },
            other => other,
        };
        // Answers written in wire form (*hosts*, *kubernetes*) are kept like any other, as
        // CoreDNS's cache keeps what the plugins after it answer (its hit and miss counters
        // count them): decoded once here, on the miss, and served as wire from then on.
        let (mut msg, by) = match result.map(Reply::into_message) {
            Ok(Ok(written)) => written,
            Ok(Err(unchanged)) => return Ok(unchanged),
            Err(e) => return Err(e),
        };
        let kind = typify(Some(&msg));
        let Some(ttl) = self.duration(kind, || min_ttl(&msg, kind)) else {
            return Ok(Reply::Message { msg, by });
        };
        set_ttls(&mut msg, ttl);
        let soa = msg.authorities.iter().any(|r| r.record_type() == RecordType::SOA);
        if ttl > 0 && cacheable(msg.metadata.truncation, soa, kind) {
            let answers = req.answers(&msg);
            self.keep(server, req, kind, ttl, answers, || Stored::new(&mut msg));
        }
        if !req.dnssec_ok() && !req.metadata().authentic_data {
            msg.metadata.authentic_data = false;
        }
        Ok(Reply::Message { msg, by })
    }

    /// [`Inner::store`] for a reply in wire form, without decoding it: `Err` with the reply
    /// unchanged when it cannot be read in place.
    fn store_wire(
        &self,
        server: &str,
        req: &Request,
        wire: WireReply,
    ) -> Result<WireReply, WireReply> {
        TTL_PLACES.with_borrow_mut(|ttls| self.store_wire_with(server, req, wire, ttls))
    }

    /// [`Inner::store_wire`] with a buffer for the places of the reply's TTLs.
    fn store_wire_with(
        &self,
        server: &str,
        req: &Request,
        mut wire: WireReply,
        ttls: &mut Vec<u16>,
    ) -> Result<WireReply, WireReply> {
        let (Some(facts), Some(records)) = (wire.facts(), wire.records(ttls)) else {
            return Err(wire);
        };
        let kind = type_of(Some(&facts));
        let Some(ttl) = self.duration(kind, || wire_min_ttl(&records, kind)) else {
            return Ok(wire);
        };
        wire.set_ttls(ttls, ttl);
        if ttl > 0 && cacheable(facts.metadata.truncation, facts.soa, kind) {
            let answers = wire.answers(req);
            self.keep(server, req, kind, ttl, answers, || Some(Stored::from_wire(&wire, ttls)));
        }
        if !req.dnssec_ok() && !req.metadata().authentic_data {
            wire.patch_header(|h| h[3] &= !0x20);
        }
        Ok(wire)
    }

    /// Keeps a cacheable reply of `kind` for `ttl` (made by `stored`), or counts it dropped
    /// when it does not answer the question (`answers`).
    fn keep(
        &self,
        server: &str,
        req: &Request,
        kind: Type,
        ttl: u32,
        answers: bool,
        stored: impl FnOnce() -> Option<Stored>,
    ) {
        let m = self.metrics.for_server(server);
        if !answers {
            m.drops.get().inc();
            return;
        }
        let k = query_key(req);
        let success = matches!(kind, Type::NoError | Type::Delegation);
        let (store, except, evictions) = if success {
            (&self.success, &self.o.disable_success, &m.success_evictions)
        } else {
            (&self.denial, &self.o.disable_denial, &m.denial_evictions)
        };
        if longest_match(except, req.name()).is_none()
            && let Some(wire) = stored()
        {
            if store.add(k, Item::new(wire, self.clock.now(), ttl)) {
                evictions.get().inc();
            }
            if success {
                self.denial.remove(k);
            }
            m.success_entries.get().set(self.success.len() as i64);
            m.denial_entries.get().set(self.denial.len() as i64);
        }
    }

    /// How long a reply of `kind` is kept: its smallest TTL clamped to the class's bounds; the
    /// `servfail` time for SERVFAIL; `None` for replies that are never cached.
    /// `min_ttl` gives the reply's smallest TTL (see [`min_ttl`]).
    fn duration(&self, kind: Type, min_ttl: impl FnOnce() -> u32) -> Option<u32> {
        let o = &self.o;
        Some(match kind {
            Type::NameError | Type::NoData => {
                min_ttl().min(o.nttl).clamp(o.minnttl.min(o.nttl), o.nttl)
            }
            Type::ServerError => o.failttl,
            Type::NoError | Type::Delegation => {
                min_ttl().min(o.pttl).clamp(o.minpttl.min(o.pttl), o.pttl)
            }
            _ => return None,
        })
    }
}

/// Whether a reply fetched to verify a stale entry replaces it: NOERROR or NXDOMAIN, in either
/// form (RFC 8767 §4, as CoreDNS's `verifyStaleResponseWriter` decides). Anything else, an
/// error or a drop, leaves the stale entry to answer.
fn refreshes(result: &ServeResult) -> bool {
    let rcode = result.as_ref().ok().and_then(Reply::rcode);
    matches!(rcode, Some(ResponseCode::NoError | ResponseCode::NXDomain))
}

/// CoreDNS's `key` conditions besides the type: no truncated replies, no denials without SOA
/// (`soa`: the authority section has one).
fn cacheable(truncated: bool, soa: bool, kind: Type) -> bool {
    if truncated {
        return false;
    }
    match kind {
        Type::NameError | Type::NoData => soa,
        Type::NoError | Type::Delegation | Type::ServerError => true,
        _ => false,
    }
}

/// The smallest TTL in the reply (at most `MAX_TTL`); for denials the SOA's minimum counts
/// too. No records at all gives the 5 s minimum, as in CoreDNS.
fn min_ttl(msg: &Message, kind: Type) -> u32 {
    if !matches!(kind, Type::NoError | Type::NameError | Type::NoData) {
        return MIN_TTL;
    }
    if msg.answers.is_empty() && msg.authorities.is_empty() && msg.additionals.is_empty() {
        return MIN_TTL;
    }
    let mut ttl = MAX_TTL;
    for r in msg.answers.iter().chain(&msg.authorities).chain(&msg.additionals) {
        ttl = ttl.min(r.ttl);
        if let plugin_api::proto::rr::RData::SOA(soa) = &r.data
            && matches!(kind, Type::NameError | Type::NoData)
        {
            ttl = ttl.min(soa.minimum);
        }
    }
    ttl
}

/// [`min_ttl`] of a reply read in place.
fn wire_min_ttl(records: &Records, kind: Type) -> u32 {
    if !matches!(kind, Type::NoError | Type::NameError | Type::NoData) {
        return MIN_TTL;
    }
    let Some(smallest) = records.min_ttl else { return MIN_TTL };
    let mut ttl = MAX_TTL.min(smallest);
    if matches!(kind, Type::NameError | Type::NoData)
        && let Some(minimum) = records.soa_minimum
    {
        ttl = ttl.min(minimum);
    }
    ttl
}

fn set_ttls(msg: &mut Message, ttl: u32) {
    for r in
        msg.answers.iter_mut().chain(msg.authorities.iter_mut()).chain(msg.additionals.iter_mut())
    {
        r.ttl = ttl;
    }
}

/// The reply to `req` from a stored item: the query's id, question and RD/CD bits, the stored
/// rcode, RA and records with `ttl`, AA set (as CoreDNS sets it: some clients drop replies
/// without it), AD only if the client asked with DO or AD.
fn to_reply(item: &Item, req: &Request, ttl: u32) -> Reply {
    Reply::Wire { wire: item.wire.reply_to(req, ttl), by: NAME }
}

#[cfg(test)]
mod tests;
