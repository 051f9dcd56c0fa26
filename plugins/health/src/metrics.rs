//! `coredns_health_request_duration_seconds` and `coredns_health_request_failures_total`, as CoreDNS
//! exports them.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{Histogram, HistogramOpts, IntCounter, Opts};

/// `coredns_health_request_duration_seconds`: the self-check's round trips.
pub static DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "request_duration_seconds",
        "Histogram of the time (in seconds) each request took.",
    )
    .namespace("coredns")
    .subsystem("health")
    .buckets(prometheus::exponential_buckets(0.00025, 10.0, 5).expect("valid buckets"));
    register(Histogram::with_opts(opts).expect("valid metric"))
});

/// `coredns_health_request_failures_total`: self-checks that failed.
pub static FAILURES: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new("request_failures_total", "The number of times the health check failed.")
        .namespace("coredns")
        .subsystem("health");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});
