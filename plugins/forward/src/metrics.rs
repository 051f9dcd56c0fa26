//! The forwarder's metrics, with CoreDNS's names and labels (`proxy_name` is always
//! `forward`).

use std::sync::{LazyLock, OnceLock};

use plugin_api::pkg::metrics::{register, time_buckets};
use plugin_api::pkg::names::rcode_label;
use plugin_api::proto::op::ResponseCode;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

/// `coredns_proxy_request_duration_seconds{proxy_name,to,rcode}`.
pub static REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts =
        HistogramOpts::new("request_duration_seconds", "Histogram of the time each request took.")
            .namespace("coredns")
            .subsystem("proxy")
            .buckets(time_buckets());
    register(HistogramVec::new(opts, &["proxy_name", "to", "rcode"]).expect("valid metric"))
});

/// `coredns_proxy_healthcheck_failures_total{proxy_name,to}`.
pub static HEALTHCHECK_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts =
        Opts::new("healthcheck_failures_total", "Counter of the number of failed healthchecks.")
            .namespace("coredns")
            .subsystem("proxy");
    register(IntCounterVec::new(opts, &["proxy_name", "to"]).expect("valid metric"))
});

/// `coredns_proxy_conn_cache_hits_total{proxy_name,to,proto}`.
pub static CONN_CACHE_HITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "conn_cache_hits_total",
        "Counter of connection cache hits per upstream and protocol.",
    )
    .namespace("coredns")
    .subsystem("proxy");
    register(IntCounterVec::new(opts, &["proxy_name", "to", "proto"]).expect("valid metric"))
});

/// `coredns_proxy_conn_cache_misses_total{proxy_name,to,proto}`.
pub static CONN_CACHE_MISSES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "conn_cache_misses_total",
        "Counter of connection cache misses per upstream and protocol.",
    )
    .namespace("coredns")
    .subsystem("proxy");
    register(IntCounterVec::new(opts, &["proxy_name", "to", "proto"]).expect("valid metric"))
});

/// `coredns_forward_coalesced_total`: queries answered by another's upstream exchange of the
/// same question (ferrodns's own; CoreDNS does not share exchanges).
pub static COALESCED: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new(
        "coalesced_total",
        "Counter of queries answered from an identical query's upstream exchange.",
    )
    .namespace("coredns")
    .subsystem("forward");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});

/// `coredns_forward_healthcheck_broken_total`.
pub static HEALTHCHECK_BROKEN: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new(
        "healthcheck_broken_total",
        "Counter of the number of complete failures of the healthchecks.",
    )
    .namespace("coredns")
    .subsystem("forward");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});

/// `coredns_forward_max_concurrent_rejects_total`.
pub static MAX_CONCURRENT_REJECTS: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new(
        "max_concurrent_rejects_total",
        "Counter of the number of queries rejected because the concurrent queries were at maximum.",
    )
    .namespace("coredns")
    .subsystem("forward");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});

/// Registers every series family, so `/metrics` shows them from the start.
pub fn init() {
    LazyLock::force(&REQUEST_DURATION);
    LazyLock::force(&HEALTHCHECK_FAILURES);
    LazyLock::force(&CONN_CACHE_HITS);
    LazyLock::force(&CONN_CACHE_MISSES);
    LazyLock::force(&HEALTHCHECK_BROKEN);
    LazyLock::force(&MAX_CONCURRENT_REJECTS);
    LazyLock::force(&COALESCED);
}

/// One upstream's series, each looked up on its first use and kept: `with_label_values` hashes
/// the labels under a lock, twice per exchange before. Made on first use, as before, so
/// `/metrics` shows only what happened, as CoreDNS's does.
#[derive(Default)]
pub struct UpstreamSeries {
    /// `conn_cache_{hits,misses}_total` by transport (udp, tcp, tcp-tls) and hit.
    conn: [[OnceLock<IntCounter>; 2]; 3],
    /// `request_duration_seconds` by rcode (the header's four bits).
    durations: [OnceLock<Histogram>; 16],
}

/// The transports of the connection metrics' `proto` label.
const PROTOS: [&str; 3] = ["udp", "tcp", "tcp-tls"];

impl UpstreamSeries {
    /// Counts a connection to `to` over `proto` taken from the idle pool (`hit`) or made anew.
    pub fn conn_cache(&self, to: &str, proto: &str, hit: bool) {
        let p = PROTOS.iter().position(|x| *x == proto).unwrap_or(0);
        self.conn[p][usize::from(hit)]
            .get_or_init(|| {
                let family = if hit { &CONN_CACHE_HITS } else { &CONN_CACHE_MISSES };
                family.with_label_values(&["forward", to, PROTOS[p]])
            })
            .inc();
    }

    /// Observes an exchange with `to` that took `seconds` and returned `rcode`.
    pub fn duration(&self, to: &str, rcode: ResponseCode, seconds: f64) {
        let code = u16::from(rcode);
        let observe = |h: &Histogram| h.observe(seconds);
        match self.durations.get(usize::from(code)) {
            Some(slot) => observe(slot.get_or_init(|| {
                REQUEST_DURATION.with_label_values(&["forward", to, &rcode_label(rcode)])
            })),
            None => {
                observe(&REQUEST_DURATION.with_label_values(&["forward", to, &rcode_label(rcode)]))
            }
        }
    }
}

/// Counts a failed health check.
pub fn healthcheck_failure(to: &str) {
    HEALTHCHECK_FAILURES.with_label_values(&["forward", to]).inc();
}
