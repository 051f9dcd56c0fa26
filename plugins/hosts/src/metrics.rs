//! `coredns_hosts_entries` and `coredns_hosts_reload_timestamp_seconds`.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{Gauge, IntGaugeVec, Opts};

/// `coredns_hosts_entries{hostsfile}`.
pub static ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new("entries", "The combined number of entries in hosts and Corefile.")
        .namespace("coredns")
        .subsystem("hosts");
    register(IntGaugeVec::new(opts, &["hostsfile"]).expect("valid metric"))
});

/// `coredns_hosts_reload_timestamp_seconds`.
pub static RELOAD_TIME: LazyLock<Gauge> = LazyLock::new(|| {
    let opts =
        Opts::new("reload_timestamp_seconds", "The timestamp of the last reload of hosts file.")
            .namespace("coredns")
            .subsystem("hosts");
    register(Gauge::with_opts(opts).expect("valid metric"))
});
