//! The server's own metric families (CoreDNS's `plugin/metrics/vars`: `coredns_dns_*`,
//! `coredns_panics_total`, `coredns_build_info`, `coredns_plugin_enabled`), registered on first
//! use. The server counts every query in them; *prometheus*, which exposes them, is the only
//! plugin that touches them.

use std::sync::LazyLock;

use prometheus::{GaugeVec, IntCounter, IntGaugeVec, Opts};

use crate::pkg::metrics::sharded::{ShardedCounterVec, ShardedHistogramVec};
use crate::pkg::metrics::{SIZE_BUCKETS, register, time_buckets};

/// A per-query counter: sharded, as every UDP thread counts it on every query.
fn counter_vec(name: &str, help: &str, labels: &[&str]) -> ShardedCounterVec {
    let name = format!("coredns_dns_{name}");
    register(ShardedCounterVec::counters(&name, help, labels).expect("valid metric"))
}

/// A per-query histogram: sharded, as every UDP thread observes it on every query.
fn histogram_vec(
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
    units_per_unit: f64,
) -> ShardedHistogramVec {
    let name = format!("coredns_dns_{name}");
    let vec = ShardedHistogramVec::new(&name, help, labels, buckets, units_per_unit);
    register(vec.expect("valid metric"))
}

/// `coredns_dns_requests_total{server,zone,view,proto,family,type}`.
pub static REQUESTS: LazyLock<ShardedCounterVec> = LazyLock::new(|| {
    counter_vec(
        "requests_total",
        "Counter of DNS requests made per zone, protocol and family.",
        &["server", "zone", "view", "proto", "family", "type"],
    )
});

/// `coredns_dns_request_duration_seconds{server,zone,view}`, observed in nanoseconds.
pub static DURATION: LazyLock<ShardedHistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "request_duration_seconds",
        "Histogram of the time (in seconds) each request took per zone.",
        time_buckets(),
        &["server", "zone", "view"],
        1e9,
    )
});

/// `coredns_dns_request_size_bytes{server,zone,view,proto}`.
pub static REQUEST_SIZE: LazyLock<ShardedHistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "request_size_bytes",
        "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
        SIZE_BUCKETS.to_vec(),
        &["server", "zone", "view", "proto"],
        1.0,
    )
});

/// `coredns_dns_response_size_bytes{server,zone,view,proto}`.
pub static RESPONSE_SIZE: LazyLock<ShardedHistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "response_size_bytes",
        "Size of the returned response in bytes.",
        SIZE_BUCKETS.to_vec(),
        &["server", "zone", "view", "proto"],
        1.0,
    )
});

/// `coredns_dns_do_requests_total{server,zone,view}`.
pub static DO_REQUESTS: LazyLock<ShardedCounterVec> = LazyLock::new(|| {
    counter_vec(
        "do_requests_total",
        "Counter of DNS requests with DO bit set per zone.",
        &["server", "zone", "view"],
    )
});

/// `coredns_dns_responses_total{server,zone,view,rcode,plugin}`.
pub static RESPONSES: LazyLock<ShardedCounterVec> = LazyLock::new(|| {
    counter_vec(
        "responses_total",
        "Counter of response status codes.",
        &["server", "zone", "view", "rcode", "plugin"],
    )
});

/// `coredns_panics_total`.
pub static PANICS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::with_opts(
            Opts::new("panics_total", "A metrics that counts the number of panics.")
                .namespace("coredns"),
        )
        .expect("valid metric"),
    )
});

/// `coredns_plugin_enabled{server,zone,view,name}`.
pub static PLUGIN_ENABLED: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "plugin_enabled",
        "A metric that indicates whether a plugin is enabled on per server and zone basis.",
    )
    .namespace("coredns");
    register(IntGaugeVec::new(opts, &["server", "zone", "view", "name"]).expect("valid"))
});

/// `coredns_build_info{version,revision,goversion}`.
pub static BUILD_INFO: LazyLock<GaugeVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "build_info",
        "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
    )
    .namespace("coredns");
    register(GaugeVec::new(opts, &["version", "revision", "goversion"]).expect("valid"))
});

/// Counts a query the server answered itself before any plugin ran (zone `dropped`, no
/// plugin), as CoreDNS's `errorAndMetricsFunc` does.
pub fn report_dropped(
    server: &str,
    req: &crate::Request,
    rcode: hickory_proto::op::ResponseCode,
    size: usize,
) {
    let proto = req.proto().as_str();
    let family = if req.family() == 1 { "1" } else { "2" };
    let qtype = crate::pkg::metrics::MONITORED_TYPES[crate::pkg::metrics::type_index(req.qtype())];
    let zone = "dropped";
    if req.dnssec_ok() {
        DO_REQUESTS.with_label_values(&[server, zone, ""]).inc();
    }
    REQUESTS.with_label_values(&[server, zone, "", proto, family, qtype]).inc();
    DURATION.with_label_values(&[server, zone, ""]).observe(0);
    RESPONSE_SIZE.with_label_values(&[server, zone, "", proto]).observe(size as u64);
    REQUEST_SIZE.with_label_values(&[server, zone, "", proto]).observe(req.len() as u64);
    let rcode = crate::pkg::names::rcode_label(rcode);
    RESPONSES.with_label_values(&[server, zone, "", &rcode, ""]).inc();
}
