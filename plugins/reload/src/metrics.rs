//! `coredns_reload_failed_total` and `coredns_reload_version_info`.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{IntCounter, IntGaugeVec, Opts};

/// `coredns_reload_failed_total`.
pub static RELOAD_FAILED: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new("failed_total", "Counter of the number of failed reload attempts.")
        .namespace("coredns")
        .subsystem("reload");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});

/// `coredns_reload_version_info{hash="sha512",value}`.
pub static VERSION_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "version_info",
        "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
    )
    .namespace("coredns")
    .subsystem("reload");
    register(IntGaugeVec::new(opts, &["hash", "value"]).expect("valid metric"))
});
