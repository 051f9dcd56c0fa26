//! Authoritative zones from RFC 1035 zone files, for the plugins that serve them (*file*, and
//! *auto* and *secondary* after it), as CoreDNS's `plugin/file` package serves its siblings.
//!
//! * [`lexer`] splits a zone file into entries with their lines; [`reader`] reads them into
//!   records (`$ORIGIN`, `$TTL`, `$INCLUDE`, relative names), every error with `file:line`;
//!   [`more_types`] reads the types hickory does not (the DNSSEC records, MINFO, RP, SPF, ...).
//! * [`zone`] holds a zone and answers from it as RFC 1034 §4.3.2 says: CNAME chains, DNAME,
//!   wildcards, delegations with glue, DS at a cut, NXDOMAIN and NODATA with the SOA; and the
//!   common answers without allocating ([`Zone::quick`]). A signed zone's answers to a query
//!   with DO get their RRSIGs and NSEC denials ([`Zone::add_dnssec`], in `zone`'s `signed`).
//! * [`reply`] answers a query from a zone: the common answers written straight to wire form
//!   without allocating, the rest through the full lookup; AXFR and IXFR are REFUSED (they are
//!   *transfer*'s, earlier in the chain).
//! * [`load`] and [`load_text`] make a zone of a file, and [`serial_newer`] tells a reload
//!   whether a file's zone replaces the one held.

pub mod lexer;
pub mod more_types;
pub mod reader;
pub mod zone;

pub use zone::{Answer, Fast, Quick, Zone};

use crate::proto::rr::Name;
use crate::{Reply, Request};

/// Why a zone could not be loaded.
#[derive(Debug)]
pub enum Problem {
    /// The file cannot be read.
    Open(String),
    /// It does not parse, or its records do not make a zone.
    Parse(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open(e) | Self::Parse(e) => f.write_str(e),
        }
    }
}

impl Problem {
    /// `file` cannot be read, in Go's words.
    fn open(file: &str, e: &std::io::Error) -> Self {
        Self::Open(format!("open {file}: {}", crate::pkg::os::error_words(e)))
    }
}

/// `origin` as a name, or why it is not one.
fn origin_name(origin: &str) -> Result<Name, Problem> {
    Name::from_ascii(origin).map_err(|e| Problem::Parse(format!("{origin}: {e}")))
}

/// Reads `file` as the zone `origin`.
pub fn load(file: &str, origin: &str) -> Result<Zone, Problem> {
    let text = std::fs::read_to_string(file).map_err(|e| Problem::open(file, &e))?;
    load_text(&text, file, origin)
}

/// How much of a zone file is read first to find its SOA serial.
const SERIAL_PREFIX: u64 = 64 * 1024;

/// The SOA serial in zone file `file`, reading as little of it as it can: the first 64 KiB,
/// where the SOA almost always is, and the whole file only when they do not give it (a cut in
/// the middle of an entry fails to read, and so falls back to the whole). A reload asks this
/// before reading a file whole, as CoreDNS's reload stops at the SOA.
pub fn serial(file: &str, origin: &str) -> Result<u32, Problem> {
    use std::io::Read;
    let open = |e: std::io::Error| Problem::open(file, &e);
    let origin = origin_name(origin)?;
    let mut head = Vec::new();
    std::fs::File::open(file)
        .map_err(open)?
        .take(SERIAL_PREFIX)
        .read_to_end(&mut head)
        .map_err(open)?;
    let whole = (head.len() as u64) < SERIAL_PREFIX;
    // A multi-byte character cut at the end of the prefix is left out.
    let head = match std::str::from_utf8(&head) {
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        _ => &head[..],
    };
    if let Ok(text) = std::str::from_utf8(head) {
        match reader::soa_serial(text, file, &origin) {
            Ok(serial) => return Ok(serial),
            Err(e) if whole => return Err(Problem::Parse(e.to_string())),
            Err(_) => {}
        }
    }
    let text = std::fs::read_to_string(file).map_err(open)?;
    reader::soa_serial(&text, file, &origin).map_err(|e| Problem::Parse(e.to_string()))
}

/// Reads `text` (the file `file`) as the zone `origin`.
pub fn load_text(text: &str, file: &str, origin: &str) -> Result<Zone, Problem> {
    let origin = origin_name(origin)?;
    let records = reader::parse(text, file, &origin).map_err(|e| Problem::Parse(e.to_string()))?;
    let zone = Zone::new(&origin, records).map_err(|e| Problem::Parse(format!("{file}: {e}")));
    // The records as read, and their first index, are gone: a large zone's load leaves hundreds
    // of megabytes of free heap that glibc would keep.
    crate::pkg::trim::Trimmer::default().after_publish(true);
    zone
}

/// The reply to `req` (whose name is in `zone`) from `by`: the common answers in wire form,
/// the rest through the full lookup.
pub fn reply(zone: &Zone, req: &Request, by: &'static str) -> Reply {
    // A transfer that got this far has no *transfer* plugin to answer it (CoreDNS's file).
    if matches!(
        req.qtype(),
        crate::proto::rr::RecordType::AXFR | crate::proto::rr::RecordType::IXFR
    ) {
        return Reply::Rcode(crate::proto::op::ResponseCode::Refused);
    }
    // A signed zone's answers to DO carry signatures and NSECs: the full lookup adds them.
    let dnssec = zone.signed && req.dnssec_ok();
    if !dnssec && let Some(reply) = in_wire_form(zone, req, by) {
        return reply;
    }
    let mut found = zone.lookup(req.name(), req.qtype());
    if dnssec {
        zone.add_dnssec(req.name(), &mut found);
    }
    let mut m = req.reply();
    m.metadata.authoritative = found.authoritative;
    m.metadata.response_code = found.rcode;
    m.answers = found.answers;
    m.authorities = found.authority;
    m.additionals = found.additional;
    Reply::message(m, by)
}

/// The common answers written straight to wire form, as *hosts* writes its own: addresses at
/// the asked name with the apex NS in the authority section, NODATA and NXDOMAIN with the SOA.
/// `None` for the rest, which the full lookup answers.
fn in_wire_form(zone: &Zone, req: &Request, by: &'static str) -> Option<Reply> {
    use crate::pkg::wire::{ReplyWriter, Section, SoaNames, ZoneSoa};
    use crate::proto::op::ResponseCode;
    use crate::proto::rr::RecordType;
    let fast = zone.fast.as_ref()?;
    let quick = zone.quick(req.name(), req.qtype())?;
    fn soa(f: &Fast) -> ZoneSoa<'_> {
        ZoneSoa {
            zone_labels: f.zone_labels,
            ttl: f.negative_ttl,
            names: SoaNames::Absolute { mname: &f.mname, rname: &f.rname },
            serial: f.timers[0],
            refresh: f.timers[1],
            retry: f.timers[2],
            expire: f.timers[3],
            minimum: f.timers[4],
        }
    }
    if let Quick::Records(set) = quick
        && !matches!(set.rtype(), RecordType::A | RecordType::AAAA)
    {
        return None;
    }
    let mut w = ReplyWriter::new(req)?;
    match quick {
        Quick::Records(set) => {
            for (ttl, data) in set.entries() {
                match (set.rtype(), data.len()) {
                    (RecordType::A, 4) => {
                        w.a(ttl, std::net::Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?))
                    }
                    (RecordType::AAAA, 16) => {
                        w.aaaa(ttl, std::net::Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))
                    }
                    _ => return None,
                }
            }
            for (ttl, target) in &fast.apex_ns {
                w.ns_in(Section::Authority, fast.zone_labels, *ttl, target);
            }
        }
        Quick::NoData => w.soa(&soa(fast)),
        Quick::NxDomain => {
            w.rcode(ResponseCode::NXDomain);
            w.soa(&soa(fast));
        }
    }
    Some(Reply::Wire { wire: w.finish(), by })
}

/// Zones that changed in one server block (a reload swapped one in, a transfer brought a new
/// serial), announced by the plugins that serve them (*file*, *auto*, *secondary*) to the block's
/// *transfer*, which NOTIFYs its secondaries. As in CoreDNS, a block's *transfer* hears only
/// its own block's zones.
#[derive(Debug, Clone)]
pub struct ZoneChanges {
    bus: std::sync::Arc<ChangeBus>,
    block: usize,
}

/// One per configuration load (`Controller::shared`): every block's changes.
#[derive(Debug)]
struct ChangeBus(tokio::sync::broadcast::Sender<(usize, String, u32)>);

impl Default for ChangeBus {
    fn default() -> Self {
        Self(tokio::sync::broadcast::channel(256).0)
    }
}

impl ZoneChanges {
    /// The changes of the block `c` is setting up.
    pub fn of(c: &crate::Controller) -> Self {
        Self { bus: c.shared::<ChangeBus>(), block: c.block_index() }
    }

    /// Says that `origin` now has `serial`; nobody listening is fine.
    pub fn announce(&self, origin: &str, serial: u32) {
        let _ = self.bus.0.send((self.block, origin.to_string(), serial));
    }

    /// The block's changes announced from now on.
    pub fn subscribe(&self) -> ChangesHeard {
        ChangesHeard { rx: self.bus.0.subscribe(), block: self.block }
    }
}

/// A block's zone changes as they are announced.
#[derive(Debug)]
pub struct ChangesHeard {
    rx: tokio::sync::broadcast::Receiver<(usize, String, u32)>,
    block: usize,
}

impl ChangesHeard {
    /// The next change in the block, as (origin, serial); `None` once nobody can announce any
    /// more. Changes missed because this listener fell behind are passed over.
    pub async fn recv(&mut self) -> Option<(String, u32)> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match self.rx.recv().await {
                Ok((block, origin, serial)) if block == self.block => {
                    return Some((origin, serial));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Whether `req`'s name does not exist in `zone` (what `fallthrough` passes on).
pub fn is_nxdomain(zone: &Zone, req: &Request) -> bool {
    match zone.quick(req.name(), req.qtype()) {
        Some(q) => matches!(q, Quick::NxDomain),
        None => {
            zone.lookup(req.name(), req.qtype()).rcode == crate::proto::op::ResponseCode::NXDomain
        }
    }
}

/// RFC 1982 serial number arithmetic: `a` is newer than `b`.
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

#[cfg(test)]
mod tests;
