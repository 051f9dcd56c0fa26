//! *ratelimit* (beyond CoreDNS): caps how many queries per second each client may ask, so one
//! noisy or compromised pod cannot take the DNS service from the others.
//!
//! * [`setup::parse`] reads `ratelimit [RATE] { burst N; exempt CIDR...; action drop|refuse;
//!   ipv4_prefix N; ipv6_prefix N; clients N }` into [`Options`].
//! * [`table`] keeps one lock-free bucket per client in a fixed-size table.
//! * [`RateLimit`] is the handler: exempt sources pass; others take a token from their bucket
//!   or are dropped (the default) or refused. Over-limit queries are counted in
//!   `coredns_ratelimit_{dropped,refused}_requests_total` and logged at most once a second.
//!
//! The directive sits right after *acl* in the chain: after *log* and *errors* (so refusals
//! are logged like any reply), before *cache* (so cached answers are limited too).

pub mod setup;
pub mod table;

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use plugin_api::pkg::metrics::{Series, register};
use plugin_api::pkg::zone::cidr_contains;
use plugin_api::proto::op::ResponseCode;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};
use prometheus::{IntCounterVec, Opts};

pub use setup::{Action, Options, parse};
use table::{Table, client_key};

/// The directive's name.
pub const NAME: &str = "ratelimit";

fn counter(name: &str, help: &str) -> IntCounterVec {
    let opts = Opts::new(name, help).namespace("coredns").subsystem("ratelimit");
    register(IntCounterVec::new(opts, &["server", "zone", "view"]).expect("valid metric"))
}

/// `coredns_ratelimit_dropped_requests_total{server,zone,view}`.
pub static DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("dropped_requests_total", "Counter of DNS requests dropped for going over the rate.")
});

/// `coredns_ratelimit_refused_requests_total{server,zone,view}`.
pub static REFUSED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter("refused_requests_total", "Counter of DNS requests refused for going over the rate.")
});

/// The counter family an over-limit query of `action` is counted in.
fn family(action: Action) -> &'static IntCounterVec {
    match action {
        Action::Drop => &DROPPED,
        Action::Refuse => &REFUSED,
    }
}

/// Reads the directive and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let o = parse(c)?;
    let family = family(o.action);
    let counters = c
        .servers()
        .iter()
        .map(|(zone, server)| {
            (server.clone(), zone.clone(), Series::new(family, &[server, zone, ""]))
        })
        .collect();
    Ok(Some(Arc::new(RateLimit::new(o, counters, Clock::system()))))
}

/// The limiter's notion of now, in microseconds since it started: the process clock, or one a
/// test moves.
#[derive(Clone, Debug)]
pub struct Clock {
    epoch: Instant,
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self { epoch: Instant::now(), manual: None }
    }

    /// A clock that only moves when the returned microsecond count is changed.
    pub fn manual() -> (Self, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(0));
        (Self { epoch: Instant::now(), manual: Some(now.clone()) }, now)
    }

    /// Microseconds now.
    fn now(&self) -> u64 {
        match &self.manual {
            Some(now) => now.load(Ordering::Acquire),
            None => self.epoch.elapsed().as_micros() as u64,
        }
    }
}

/// The *ratelimit* handler.
pub struct RateLimit {
    o: Options,
    table: Table,
    clock: Clock,
    /// Microseconds (on `clock`) of the last warning logged.
    last_warning: AtomicU64,
    /// `(server, zone, counter)` for each zone of the block.
    counters: Vec<(String, String, Series<IntCounterVec>)>,
}

impl RateLimit {
    /// A limiter with `o`, counting into `counters`, on `clock`.
    pub fn new(
        o: Options,
        counters: Vec<(String, String, Series<IntCounterVec>)>,
        clock: Clock,
    ) -> Self {
        let table = Table::new(o.clients, o.rate, o.burst);
        Self { o, table, clock, last_warning: AtomicU64::new(0), counters }
    }

    /// True if a query from `req`'s client at `now` (microseconds since the epoch) is within its
    /// rate. Exempt clients always are.
    pub fn admit(&self, req: &Request, now: u64) -> bool {
        let ip = req.ip();
        if self.o.exempt.iter().any(|net| cidr_contains(*net, ip)) {
            return true;
        }
        self.table.allow(client_key(ip, self.o.ipv4_prefix, self.o.ipv6_prefix), now)
    }

    fn count(&self, ctx: &Ctx) {
        let found = self.counters.iter().find(|(s, z, _)| **s == *ctx.server && **z == *ctx.zone);
        match found {
            Some((_, _, series)) => series.get().inc(),
            None => family(self.o.action).with_label_values(&[&*ctx.server, &*ctx.zone, ""]).inc(),
        }
    }

    /// Logs the first over-limit client of each second, so a flood costs one line a second.
    fn warn(&self, req: &Request, now: u64) {
        let last = self.last_warning.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1_000_000)
            && self
                .last_warning
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                "plugin/ratelimit: client {} is over {} queries per second; {} its queries",
                req.ip(),
                self.o.rate,
                self.o.action.verb()
            );
        }
    }
}

impl Plugin for RateLimit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        // Lookups the server makes for itself (an ExternalName target) are not a client's.
        if ctx.depth > 0 {
            return next.run(ctx, req);
        }
        let now = self.clock.now();
        if self.admit(req, now) {
            return next.run(ctx, req);
        }
        self.count(ctx);
        self.warn(req, now);
        match self.o.action {
            Action::Drop => Serve::Ready(Ok(Reply::Drop)),
            Action::Refuse => {
                let mut msg = req.reply();
                msg.metadata.response_code = ResponseCode::Refused;
                Serve::Ready(Ok(Reply::message(msg, NAME)))
            }
        }
    }
}

#[cfg(test)]
mod tests;
