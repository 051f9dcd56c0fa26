//! `coredns_acl_*_requests_total`, resolved per server and zone when the block is set up and
//! created on first use, so a query costs a string comparison or two and an atomic add.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::{Series, register};
use prometheus::{IntCounterVec, Opts};

fn family(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let opts = Opts::new(name, help).namespace("coredns").subsystem("acl");
    register(IntCounterVec::new(opts, labels).expect("valid metric"))
}

/// `coredns_acl_blocked_requests_total{server,zone,view}`.
pub static BLOCKED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let help = "Counter of DNS requests being blocked.";
    family("blocked_requests_total", help, &["server", "zone", "view"])
});

/// `coredns_acl_filtered_requests_total{server,zone,view}`.
pub static FILTERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let help = "Counter of DNS requests being filtered.";
    family("filtered_requests_total", help, &["server", "zone", "view"])
});

/// `coredns_acl_dropped_requests_total{server,zone,view}`.
pub static DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let help = "Counter of DNS requests being dropped.";
    family("dropped_requests_total", help, &["server", "zone", "view"])
});

/// `coredns_acl_allowed_requests_total{server,view}`: no zone label, as in CoreDNS.
pub static ALLOWED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let help = "Counter of DNS requests being allowed.";
    family("allowed_requests_total", help, &["server", "view"])
});

/// The refusing outcomes, which count per zone.
#[derive(Debug, Clone, Copy)]
pub enum Denied {
    /// Blocked.
    Blocked,
    /// Filtered.
    Filtered,
    /// Dropped.
    Dropped,
}

struct ForZone {
    zone: String,
    /// Indexed by [`Denied`].
    counters: [Series<IntCounterVec>; 3],
}

struct ForServer {
    server: String,
    allowed: Series<IntCounterVec>,
    zones: Vec<ForZone>,
}

/// The counters of one `acl` block, for every server label it is served under.
pub struct Counters {
    servers: Vec<ForServer>,
}

impl Counters {
    /// Counters for each server label of `servers` and each zone of `zones`.
    pub fn new<'a>(servers: impl IntoIterator<Item = &'a str>, zones: &[&str]) -> Self {
        let mut list: Vec<ForServer> = Vec::new();
        for server in servers {
            if list.iter().any(|s| s.server == server) {
                continue;
            }
            let zones = zones
                .iter()
                .map(|z| ForZone {
                    zone: z.to_string(),
                    counters: [&BLOCKED, &FILTERED, &DROPPED]
                        .map(|f| Series::new(&**f, &[server, z, ""])),
                })
                .collect();
            let allowed = Series::new(&*ALLOWED, &[server, ""]);
            list.push(ForServer { server: server.to_string(), allowed, zones });
        }
        Self { servers: list }
    }

    fn server(&self, server: &str) -> Option<&ForServer> {
        self.servers.iter().find(|s| s.server == server)
    }

    /// Counts a query let through.
    pub fn allowed(&self, server: &str) {
        match self.server(server) {
            Some(s) => s.allowed.get().inc(),
            None => ALLOWED.with_label_values(&[server, ""]).inc(),
        }
    }

    /// Counts a query refused under `zone`.
    pub fn denied(&self, server: &str, zone: &str, how: Denied) {
        let known = self.server(server).and_then(|s| s.zones.iter().find(|z| z.zone == zone));
        match known {
            Some(z) => z.counters[how as usize].get().inc(),
            None => [&BLOCKED, &FILTERED, &DROPPED][how as usize]
                .with_label_values(&[server, zone, ""])
                .inc(),
        }
    }
}
