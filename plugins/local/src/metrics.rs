//! `coredns_local_localhost_requests_total`, as CoreDNS exports it: without a `server` label,
//! since the client asking matters more than the server answering.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{IntCounter, Opts};

/// Queries for names under `localhost.` (or starting with it), not `localhost.` itself.
pub static LOCALHOST_REQUESTS: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new("localhost_requests_total", "Counter of localhost.<domain> requests.")
        .namespace("coredns")
        .subsystem("local");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});
