//! The *template* plugin's counters, named and labelled as CoreDNS 1.14.7 exports them. The
//! `template` label of the failure counters is the template as Go prints its parse tree
//! ([`crate::gotemplate::Template::source`]), so it maps back to the Corefile line.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::register;
use prometheus::{IntCounterVec, Opts};

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let opts = Opts::new(name, help).namespace("coredns").subsystem("template");
    register(IntCounterVec::new(opts, labels).expect("valid metric"))
}

/// `coredns_template_matches_total{server, zone, view, class, type}`: queries a regex matched.
pub static MATCHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let labels = ["server", "zone", "view", "class", "type"];
    counter("matches_total", "Counter of template regex matches.", &labels)
});

/// `coredns_template_template_failures_total{server, zone, view, class, type, section,
/// template}`: templates that failed to execute.
pub static TEMPLATE_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let labels = ["server", "zone", "view", "class", "type", "section", "template"];
    counter("template_failures_total", "Counter of go template failures.", &labels)
});

/// `coredns_template_rr_failures_total{...}`: templates whose text was not a resource record.
pub static RR_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let labels = ["server", "zone", "view", "class", "type", "section", "template"];
    counter("rr_failures_total", "Counter of mis-templated RRs.", &labels)
});
