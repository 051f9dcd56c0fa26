//! *local*: answers `localhost.`, the names under it and the loopback reverse zones itself, so
//! such queries never reach an upstream.
//!
//! * [`setup()`] reads the directive ([`setup::parse`]: `local { localhost_prefix on|off }`).
//! * [`Local`] is the handler, CoreDNS 1.14.7's record table:
//!   - names under `localhost.`, and by default names starting with `localhost.`
//!     (`localhost.example.org.`), get `127.0.0.1` for A, `::1` for AAAA and NODATA otherwise,
//!     and are counted in [`metrics::LOCALHOST_REQUESTS`];
//!   - the zones `localhost.`, `0.in-addr.arpa.`, `127.in-addr.arpa.` and `255.in-addr.arpa.`
//!     answer SOA and NS at their apex, the loopback addresses at `localhost.`, the PTR
//!     `1.0.0.127.in-addr.arpa. → localhost.`, NODATA for other types there, and NXDOMAIN for
//!     every other name in them;
//!   - everything else goes to the next plugin.
//!
//!   Replies are not authoritative, every record has a TTL of a week, and the SOA is
//!   `localhost. root.localhost. 1 0 0 0 604800`, all as in CoreDNS. They are written in wire
//!   form, so a local answer allocates nothing.

pub mod metrics;
pub mod setup;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use metrics::LOCALHOST_REQUESTS;
use plugin_api::pkg::wire::{ReplyWriter, Section, SoaNames, ZoneSoa};
use plugin_api::pkg::zone::is_subdomain;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};
use prometheus::IntCounter;
use setup::{Options, parse};

/// The directive's name.
pub const NAME: &str = "local";

/// The TTL of every record *local* writes: a week, as in CoreDNS.
pub const TTL: u32 = 604_800;

/// The zones *local* answers for, with their number of labels.
const ZONES: [(&str, usize); 4] =
    [("localhost.", 1), ("0.in-addr.arpa.", 3), ("127.in-addr.arpa.", 3), ("255.in-addr.arpa.", 3)];

/// The one name in the reverse zones that has a record.
const LOOPBACK_REVERSE: &str = "1.0.0.127.in-addr.arpa.";

/// The SOA of every zone *local* answers for, owned by the last `zone_labels` labels of the
/// question.
fn soa(zone_labels: usize) -> ZoneSoa<'static> {
    let names = SoaNames::Absolute { mname: "localhost.", rname: "root.localhost." };
    let (serial, refresh, retry, expire, minimum) = (1, 0, 0, 0, TTL);
    ZoneSoa { zone_labels, ttl: TTL, names, serial, refresh, retry, expire, minimum }
}

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = parse(c)?;
    Ok(Some(Arc::new(Local::new(options, LOCALHOST_REQUESTS.clone()))))
}

/// The *local* handler.
#[derive(Debug)]
pub struct Local {
    options: Options,
    /// Where queries under `localhost.` are counted: [`LOCALHOST_REQUESTS`] once set up.
    localhost_requests: IntCounter,
}

impl Local {
    /// A handler with `options`, counting queries under `localhost.` in `localhost_requests`.
    pub fn new(options: Options, localhost_requests: IntCounter) -> Self {
        Self { options, localhost_requests }
    }

    /// True for the names answered with the loopback addresses whatever zone they are in:
    /// those under `localhost.`, and with `localhost_prefix`, those starting with it.
    fn is_under_localhost(&self, name: &str) -> bool {
        const LOCALHOST: &str = "localhost.";
        name.len() > LOCALHOST.len()
            && (name.ends_with(".localhost.")
                || (self.options.localhost_prefix && name.starts_with(LOCALHOST)))
    }
}

impl Plugin for Local {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        let under_localhost = self.is_under_localhost(name);
        let zone = ZONES.iter().find(|(zone, _)| is_subdomain(zone, name));
        if !under_localhost && zone.is_none() {
            return next.run(ctx, req);
        }
        // Only a question in class IN is written in wire form; anything else (a block that
        // serves every class) is for the plugins after this one.
        let Some(writer) = ReplyWriter::new(req) else { return next.run(ctx, req) };
        let mut w = writer.owned_as_asked().not_authoritative();
        let (qtype, labels) = (req.qtype(), label_count(req.qname_wire()));
        if under_localhost {
            self.localhost_requests.inc();
            tracing::debug!(
                "plugin/local: Intercepting localhost query for {name:?} {qtype}, from {}",
                req.ip()
            );
            loopback(&mut w, qtype, labels);
        } else if let Some(&(_, zone_labels)) = zone {
            in_zone(&mut w, name, qtype, labels, zone_labels);
        }
        Serve::Ready(Ok(Reply::Wire { wire: w.finish(), by: NAME }))
    }
}

/// The loopback address of `qtype`'s family, or NODATA with an SOA owned by the name.
fn loopback(w: &mut ReplyWriter, qtype: RecordType, labels: usize) {
    match qtype {
        RecordType::A => w.a(TTL, Ipv4Addr::LOCALHOST),
        RecordType::AAAA => w.aaaa(TTL, Ipv6Addr::LOCALHOST),
        _ => w.soa(&soa(labels)),
    }
}

/// The answer for `name` (of `labels` labels) in the zone of `zone_labels` labels.
fn in_zone(w: &mut ReplyWriter, name: &str, qtype: RecordType, labels: usize, zone_labels: usize) {
    if labels == zone_labels {
        match qtype {
            RecordType::A | RecordType::AAAA if name == "localhost." => loopback(w, qtype, labels),
            RecordType::SOA => w.soa_in(Section::Answer, &soa(labels)),
            RecordType::NS => w.ns(labels, TTL, "localhost."),
            _ => w.soa(&soa(labels)),
        }
    } else if name == LOOPBACK_REVERSE {
        match qtype {
            RecordType::PTR => w.ptr(TTL, ["localhost"]),
            _ => w.soa(&soa(zone_labels)),
        }
    } else {
        w.rcode(ResponseCode::NXDomain);
        w.soa(&soa(zone_labels));
    }
}

/// The number of labels of a name in wire form, the root not counted: read from the bytes, so
/// a label holding a dot counts once.
fn label_count(wire: &[u8]) -> usize {
    let (mut at, mut labels) = (0, 0);
    while let Some(&size) = wire.get(at).filter(|&&size| size != 0) {
        at += 1 + usize::from(size);
        labels += 1;
    }
    labels
}

#[cfg(test)]
mod tests;
