//! The per-query DNS metrics of a zone (`coredns_dns_*`), counted without locks.
//!
//! CoreDNS counts these in its *prometheus* plugin, which wraps everything after it in the
//! chain. Nothing that can answer a query runs before it, so ferrodns counts at the server, where
//! the reply's final size is known without encoding it twice, for every block that enables
//! *prometheus*. Every label combination a query can produce is resolved to its counter when
//! the configuration is built, so a query costs a few atomic additions and no label lookup.

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use plugin_api::metrics::dns::{
    DO_REQUESTS, DURATION, REQUEST_SIZE, REQUESTS, RESPONSE_SIZE, RESPONSES,
};
use plugin_api::metrics::{MONITORED_TYPES, type_index};
use plugin_api::names::rcode_label;
use plugin_api::{Proto, Request};
use prometheus::{Histogram, IntCounter};

/// Rcodes whose counters are resolved ahead: NOERROR to REFUSED. Others are looked up by label
/// when they happen, which is rare.
const COMMON_RCODES: usize = 6;

/// The counters of one zone on one listener.
pub struct ZoneMetrics {
    server: Arc<str>,
    zone: Arc<str>,
    /// `[proto][family][type]`.
    requests: Vec<IntCounter>,
    do_requests: IntCounter,
    duration: Histogram,
    /// `[proto]`.
    request_size: [Histogram; 2],
    /// `[proto]`.
    response_size: [Histogram; 2],
    /// The plugin names that can write a reply, `""` (the server) first.
    plugins: Vec<&'static str>,
    /// `[rcode][plugin]` for the common rcodes.
    responses: Vec<IntCounter>,
}

fn proto_index(p: Proto) -> usize {
    match p {
        Proto::Udp => 0,
        Proto::Tcp => 1,
    }
}

impl ZoneMetrics {
    /// Resolves every counter of `zone` on `server` for a block whose chain has `plugins`.
    pub fn new(server: Arc<str>, zone: Arc<str>, plugins: &[&'static str]) -> Self {
        let (s, z) = (&*server, &*zone);
        let mut requests = Vec::with_capacity(2 * 2 * MONITORED_TYPES.len());
        for proto in ["udp", "tcp"] {
            for family in ["1", "2"] {
                for qtype in MONITORED_TYPES {
                    requests.push(REQUESTS.with_label_values(&[s, z, "", proto, family, qtype]));
                }
            }
        }
        let mut names = vec![""];
        names.extend(plugins.iter().copied().filter(|p| !p.is_empty()));
        let mut responses = Vec::with_capacity(COMMON_RCODES * names.len());
        for rcode in 0..COMMON_RCODES as u16 {
            let label = rcode_label(ResponseCode::from(0, rcode as u8));
            for plugin in &names {
                responses.push(RESPONSES.with_label_values(&[s, z, "", &label, plugin]));
            }
        }
        Self {
            do_requests: DO_REQUESTS.with_label_values(&[s, z, ""]),
            duration: DURATION.with_label_values(&[s, z, ""]),
            request_size: [
                REQUEST_SIZE.with_label_values(&[s, z, "", "udp"]),
                REQUEST_SIZE.with_label_values(&[s, z, "", "tcp"]),
            ],
            response_size: [
                RESPONSE_SIZE.with_label_values(&[s, z, "", "udp"]),
                RESPONSE_SIZE.with_label_values(&[s, z, "", "tcp"]),
            ],
            requests,
            plugins: names,
            responses,
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
        let proto = proto_index(req.proto());
        let family = usize::from(req.family() == 2);
        let types = MONITORED_TYPES.len();
        self.requests[(proto * 2 + family) * types + type_index(req.qtype())].inc();
        if req.dnssec_ok() {
            self.do_requests.inc();
        }
        self.duration.observe(start.elapsed().as_secs_f64());
        self.request_size[proto].observe(req.len() as f64);
        self.response_size[proto].observe(size as f64);

        let code = u16::from(rcode) as usize;
        match self.plugins.iter().position(|p| *p == plugin) {
            Some(i) if code < COMMON_RCODES => self.responses[code * self.plugins.len() + i].inc(),
            _ => RESPONSES
                .with_label_values(&[&self.server, &self.zone, "", &rcode_label(rcode), plugin])
                .inc(),
        }
    }
}
