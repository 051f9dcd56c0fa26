//! The per-query DNS metrics of a zone (`coredns_dns_*`), counted without locks.
//!
//! CoreDNS counts these in its *prometheus* plugin, which wraps everything after it in the
//! chain. Nothing that can answer a query runs before it, so ferrodns counts at the server, where
//! the reply's final size is known without encoding it twice, for every block that enables
//! *prometheus*. Every label combination a query can produce has a slot, filled with its counter
//! on first use, so a query costs a few atomic loads and additions and no label lookup.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use plugin_api::pkg::metrics::sharded::{ShardedCounter, ShardedHistogram};
use plugin_api::pkg::metrics::{MONITORED_TYPES, type_index};
use plugin_api::pkg::names::rcode_label;
use plugin_api::server::metrics::{
    DO_REQUESTS, DURATION, REQUEST_SIZE, REQUESTS, RESPONSE_SIZE, RESPONSES,
};
use plugin_api::{Proto, Request};

/// Rcodes whose counters are resolved ahead: NOERROR to REFUSED. Others are looked up by label
/// when they happen, which is rare.
const COMMON_RCODES: usize = 6;

/// The counters of one zone on one listener. Each is created on its first use (so `/metrics`
/// lists what happened, as CoreDNS's does) and kept, so later queries touch atomics only.
pub struct ZoneMetrics {
    server: Arc<str>,
    zone: Arc<str>,
    /// `[proto][family][type]`.
    requests: Box<[OnceLock<Arc<ShardedCounter>>]>,
    do_requests: OnceLock<Arc<ShardedCounter>>,
    duration: OnceLock<Arc<ShardedHistogram>>,
    /// `[proto]`.
    request_size: [OnceLock<Arc<ShardedHistogram>>; 2],
    /// `[proto]`.
    response_size: [OnceLock<Arc<ShardedHistogram>>; 2],
    /// The plugin names that can write a reply, `""` (the server) first.
    plugins: Vec<&'static str>,
    /// `[rcode][plugin]` for the common rcodes.
    responses: Box<[OnceLock<Arc<ShardedCounter>>]>,
}

const PROTOS: [&str; 2] = ["udp", "tcp"];
const FAMILIES: [&str; 2] = ["1", "2"];

fn proto_index(p: Proto) -> usize {
    match p {
        Proto::Udp => 0,
        Proto::Tcp => 1,
    }
}

fn unset<T>(n: usize) -> Box<[OnceLock<T>]> {
    (0..n).map(|_| OnceLock::new()).collect()
}

impl ZoneMetrics {
    /// The counters of `zone` on `server` for a block whose chain has `plugins`.
    pub fn new(server: Arc<str>, zone: Arc<str>, plugins: &[&'static str]) -> Self {
        let mut names = vec![""];
        names.extend(plugins.iter().copied().filter(|p| !p.is_empty()));
        Self {
            requests: unset(PROTOS.len() * FAMILIES.len() * MONITORED_TYPES.len()),
            do_requests: OnceLock::new(),
            duration: OnceLock::new(),
            request_size: [OnceLock::new(), OnceLock::new()],
            response_size: [OnceLock::new(), OnceLock::new()],
            responses: unset(COMMON_RCODES * names.len()),
            plugins: names,
            server,
            zone,
        }
    }

    /// Counts one query: its reply had `rcode`, was written by `plugin` (`""` for the server)
    /// and took `size` octets.
    pub fn report(
        &self,
        req: &Request,
        rcode: ResponseCode,
        plugin: &str,
        size: usize,
        start: Instant,
    ) {
        let (s, z) = (&*self.server, &*self.zone);
        let proto = proto_index(req.proto());
        let family = usize::from(req.family() == 2);
        let qtype = type_index(req.qtype());
        let slot = (proto * FAMILIES.len() + family) * MONITORED_TYPES.len() + qtype;
        self.requests[slot]
            .get_or_init(|| {
                let labels = [s, z, "", PROTOS[proto], FAMILIES[family], MONITORED_TYPES[qtype]];
                REQUESTS.with_label_values(&labels)
            })
            .inc();
        if req.dnssec_ok() {
            self.do_requests.get_or_init(|| DO_REQUESTS.with_label_values(&[s, z, ""])).inc();
        }
        let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.duration.get_or_init(|| DURATION.with_label_values(&[s, z, ""])).observe(elapsed);
        self.request_size[proto]
            .get_or_init(|| REQUEST_SIZE.with_label_values(&[s, z, "", PROTOS[proto]]))
            .observe(req.len() as u64);
        self.response_size[proto]
            .get_or_init(|| RESPONSE_SIZE.with_label_values(&[s, z, "", PROTOS[proto]]))
            .observe(size as u64);

        let code = u16::from(rcode) as usize;
        let label = || rcode_label(rcode);
        match self.plugins.iter().position(|p| *p == plugin) {
            Some(i) if code < COMMON_RCODES => self.responses[code * self.plugins.len() + i]
                .get_or_init(|| RESPONSES.with_label_values(&[s, z, "", &label(), plugin]))
                .inc(),
            _ => RESPONSES.with_label_values(&[s, z, "", &label(), plugin]).inc(),
        }
    }
}
