//! *autopath*'s counter, named and labelled as CoreDNS 1.14.7 exports it.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{IntCounterVec, Opts};

/// `coredns_autopath_success_total{server}`: queries answered from a step of the search path.
pub static SUCCESS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("success_total", "Counter of requests that did autopath.")
        .namespace("coredns")
        .subsystem("autopath");
    register(IntCounterVec::new(opts, &["server"]).expect("valid metric"))
});
