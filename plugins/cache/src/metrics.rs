//! The cache's metrics (`coredns_cache_*`), with CoreDNS's labels, resolved per server label at
//! setup so that a query only touches atomics.

use std::sync::LazyLock;

use plugin_api::pkg::metrics::{Series, register};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("coredns").subsystem("cache")
}

/// `coredns_cache_entries{server,type,zones,view}`.
pub static ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            opts("entries", "The number of elements in the cache."),
            &["server", "type", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_requests_total{server,zones,view}`.
pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts("requests_total", "The count of cache requests."),
            &["server", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_hits_total{server,type,zones,view}`.
pub static HITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts("hits_total", "The count of cache hits."),
            &["server", "type", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_misses_total{server,zones,view}`.
pub static MISSES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(IntCounterVec::new(opts("misses_total", "The count of cache misses. Deprecated, derive misses from cache hits/requests counters."), &["server", "zones", "view"]).expect("valid"))
});
/// `coredns_cache_prefetch_total{server,zones,view}`.
pub static PREFETCH: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts("prefetch_total", "The number of times the cache has prefetched a cached item."),
            &["server", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_drops_total{server,zones,view}`.
pub static DROPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts(
                "drops_total",
                "The number responses that are not cached, because the reply is malformed.",
            ),
            &["server", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_served_stale_total{server,zones,view}`.
pub static SERVED_STALE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts("served_stale_total", "The number of requests served from stale cache entries."),
            &["server", "zones", "view"],
        )
        .expect("valid"),
    )
});
/// `coredns_cache_evictions_total{server,type,zones,view}`.
pub static EVICTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            opts("evictions_total", "The count of cache evictions."),
            &["server", "type", "zones", "view"],
        )
        .expect("valid"),
    )
});

/// The counters of one server label.
pub struct ForServer {
    /// The label.
    pub server: String,
    /// Requests.
    pub requests: Series<IntCounterVec>,
    /// Hits on the success cache.
    pub success_hits: Series<IntCounterVec>,
    /// Hits on the denial cache.
    pub denial_hits: Series<IntCounterVec>,
    /// Misses.
    pub misses: Series<IntCounterVec>,
    /// Prefetches.
    pub prefetches: Series<IntCounterVec>,
    /// Replies not cached because their question was not the query's.
    pub drops: Series<IntCounterVec>,
    /// Stale answers.
    pub served_stale: Series<IntCounterVec>,
    /// Evictions from the success cache.
    pub success_evictions: Series<IntCounterVec>,
    /// Evictions from the denial cache.
    pub denial_evictions: Series<IntCounterVec>,
    /// Items in the success cache.
    pub success_entries: Series<IntGaugeVec>,
    /// Items in the denial cache.
    pub denial_entries: Series<IntGaugeVec>,
}

impl ForServer {
    fn new(server: &str, zones: &str) -> Self {
        let (s, z) = (server, zones);
        Self {
            server: server.to_string(),
            requests: Series::new(&REQUESTS, &[s, z, ""]),
            success_hits: Series::new(&HITS, &[s, "success", z, ""]),
            denial_hits: Series::new(&HITS, &[s, "denial", z, ""]),
            misses: Series::new(&MISSES, &[s, z, ""]),
            prefetches: Series::new(&PREFETCH, &[s, z, ""]),
            drops: Series::new(&DROPS, &[s, z, ""]),
            served_stale: Series::new(&SERVED_STALE, &[s, z, ""]),
            success_evictions: Series::new(&EVICTIONS, &[s, "success", z, ""]),
            denial_evictions: Series::new(&EVICTIONS, &[s, "denial", z, ""]),
            success_entries: Series::new(&ENTRIES, &[s, "success", z, ""]),
            denial_entries: Series::new(&ENTRIES, &[s, "denial", z, ""]),
        }
    }
}

/// The counters of every server label the cache is used under.
pub struct Set {
    servers: Vec<ForServer>,
    zones: String,
}

impl Set {
    /// Counters for each of `servers` (deduplicated).
    pub fn new(servers: &[String], zones: &str) -> Self {
        let mut list: Vec<ForServer> = Vec::new();
        for s in servers {
            if !list.iter().any(|f| f.server == *s) {
                list.push(ForServer::new(s, zones));
            }
        }
        if list.is_empty() {
            list.push(ForServer::new("dns://:53", zones));
        }
        Self { servers: list, zones: zones.to_string() }
    }

    /// The counters of `server`; the first set if it is not one of the configured ones.
    pub fn for_server(&self, server: &str) -> &ForServer {
        self.servers.iter().find(|f| f.server == server).unwrap_or(&self.servers[0])
    }

    /// The `zones` label.
    pub fn zones(&self) -> &str {
        &self.zones
    }
}
