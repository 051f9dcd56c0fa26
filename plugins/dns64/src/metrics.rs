//! *dns64*'s counter, named and labelled as CoreDNS 1.14.7 exports it.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{IntCounterVec, Opts};

/// `coredns_dns64_requests_translated_total{server}`: AAAA queries answered with translated
/// A records.
pub static TRANSLATED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts =
        Opts::new("requests_translated_total", "Counter of DNS requests translated by dns64.")
            .namespace("coredns")
            .subsystem("dns64");
    register(IntCounterVec::new(opts, &["server"]).expect("valid metric"))
});
