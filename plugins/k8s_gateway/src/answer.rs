//! Answers in a k8s_gateway zone (its `ServeDNS`, `serveSubApex`, `soa` and `nameservers`).
//!
//! * A name with addresses answers A and AAAA with those of the family asked, written straight
//!   to wire form; TXT with a DNSEndpoint's strings.
//! * The apex answers SOA, and NS naming `APEX.ZONE` (and `SECONDARY.ZONE`) with the addresses
//!   of the `APEX` and `SECONDARY` names (the Services in front of the servers) as glue;
//!   `APEX.ZONE` itself answers those addresses.
//! * A name whose only targets are host names (a cloud load balancer's, a DNSEndpoint CNAME)
//!   answers a CNAME, followed through the block for A and AAAA, as *k8s_external* follows one.
//!
//! Deliberate differences from k8s_gateway, each where it answers against the DNS rules:
//! a name that has records answers NODATA for the other types (k8s_gateway says NXDOMAIN for an
//! A query of a TXT-only name); a name that has none answers NXDOMAIN for every type (it says
//! NOERROR for MX, SOA and NS); an SOA query below the apex gets the SOA in the authority
//! section, not an answer owned by another name; the apex is always answered, never passed on
//! by `fallthrough`; a load balancer's host name is a CNAME, not looked up by the server at
//! every query; an IPv6 glue address is an AAAA record, not a malformed A.

use std::net::IpAddr;
use std::sync::Arc;

use plugin_api::pkg::wire::{ReplyWriter, Section, SoaNames, ZoneSoa};
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{A, AAAA, CNAME, NS};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::{Ctx, Next, PluginError, Reply, Request, Serve};

use crate::K8sGateway;
use crate::index::{Found, Index};

/// The TTL of the SOA, NS and glue records, fixed as in k8s_gateway.
pub const SOA_TTL: u32 = 60;

/// Serves `req`, whose name is under `zone`.
pub fn serve(g: &K8sGateway, zone: &str, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
    let index = g.index.load();
    if !index.synced {
        return Serve::Ready(Err(PluginError::servfail(
            "plugin/k8s_gateway: could not sync required resources",
        )));
    }
    let name = req.name();
    let zoneless = zoneless(name, zone);
    if let Some(below) = zoneless.strip_suffix(g.o.apex.as_str())
        && (below.is_empty() || below.ends_with('.'))
    {
        return Serve::Ready(Ok(sub_apex(g, &index, zone, req, below.is_empty())));
    }
    let at_apex = zoneless.is_empty();
    let key = if name == "." { name } else { name.trim_end_matches('.') };
    let found = index.lookup(key, zoneless);
    if found.is_empty() && !at_apex && g.o.fall.through(name) {
        return next.run(ctx, req);
    }
    let has = |f: fn(&crate::objects::Targets) -> bool| found.parts().any(f);
    let alias = !has(|t| !t.v4.is_empty() || !t.v6.is_empty() || !t.txt.is_empty());
    if let Some(target) = found.parts().flat_map(|t| &t.hosts).next().filter(|_| alias) {
        return cname(g, ctx, req, target);
    }
    match req.qtype() {
        RecordType::NS if at_apex => return Serve::Ready(Ok(apex_ns(g, &index, zone, req))),
        RecordType::TXT if has(|t| t.txt.iter().any(|s| s.len() > 255)) => {
            return Serve::Ready(Ok(long_txt(g, req, found)));
        }
        _ => {}
    }
    let Some(mut w) = ReplyWriter::in_query_class(req) else {
        return next.run(ctx, req);
    };
    let mut answered = 0;
    match req.qtype() {
        RecordType::A => {
            for (i, t) in found.parts().enumerate() {
                for ip in &t.v4 {
                    if i == 0 || !found.0[0].is_some_and(|f| f.v4.contains(ip)) {
                        w.a(g.o.ttl, *ip);
                        answered += 1;
                    }
                }
            }
        }
        RecordType::AAAA => {
            for (i, t) in found.parts().enumerate() {
                for ip in &t.v6 {
                    if i == 0 || !found.0[0].is_some_and(|f| f.v6.contains(ip)) {
                        w.aaaa(g.o.ttl, *ip);
                        answered += 1;
                    }
                }
            }
        }
        RecordType::TXT => {
            for (i, t) in found.parts().enumerate() {
                for s in &t.txt {
                    if i == 0 || !found.0[0].is_some_and(|f| f.txt.contains(s)) {
                        w.txt(g.o.ttl, s.as_bytes());
                        answered += 1;
                    }
                }
            }
        }
        RecordType::SOA if at_apex => {
            w.soa_in(Section::Answer, &soa(g, zone));
            answered += 1;
        }
        _ => {}
    }
    if answered == 0 {
        if found.is_empty() && !at_apex {
            w.rcode(ResponseCode::NXDomain);
        }
        w.soa(&soa(g, zone));
    }
    Serve::Ready(Ok(Reply::Wire { wire: w.finish(), by: crate::NAME }))
}

/// `name` without `zone` and the dot before it: `""` at the apex.
fn zoneless<'a>(name: &'a str, zone: &str) -> &'a str {
    let left = if zone == "." { name } else { name.strip_suffix(zone).unwrap_or("") };
    left.strip_suffix('.').unwrap_or(left)
}

/// How many labels `zone` has.
fn labels(zone: &str) -> usize {
    if zone == "." { 0 } else { zone.bytes().filter(|&b| b == b'.').count() }
}

/// The zone's SOA: `APEX.ZONE`, `hostmaster.APEX.ZONE`, k8s_gateway's fixed serial and timers.
fn soa<'a>(g: &'a K8sGateway, zone: &str) -> ZoneSoa<'a> {
    ZoneSoa {
        zone_labels: labels(zone),
        ttl: SOA_TTL,
        names: SoaNames::UnderZone { mname: &g.o.apex, rname: &g.hostmaster },
        serial: 12345,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: SOA_TTL,
    }
}

/// `APEX.ZONE` and the names under it: the servers' own addresses at `APEX.ZONE`, NXDOMAIN
/// below it.
fn sub_apex(g: &K8sGateway, index: &Index, zone: &str, req: &Request, exact: bool) -> Reply {
    let Some(w) = ReplyWriter::in_query_class(req) else {
        return Reply::message(req.reply(), crate::NAME);
    };
    let mut w = w.owned_as_asked();
    let mut answered = 0;
    if exact {
        for ip in index.all_exact(&g.o.apex).flat_map(addresses) {
            match (ip, req.qtype()) {
                (IpAddr::V4(v4), RecordType::A) => w.a(SOA_TTL, v4),
                (IpAddr::V6(v6), RecordType::AAAA) => w.aaaa(SOA_TTL, v6),
                _ => continue,
            }
            answered += 1;
        }
    } else {
        w.rcode(ResponseCode::NXDomain);
    }
    if answered == 0 {
        w.soa(&soa(g, zone));
    }
    Reply::Wire { wire: w.finish(), by: crate::NAME }
}

fn addresses(t: &crate::objects::Targets) -> impl Iterator<Item = IpAddr> + '_ {
    t.v4.iter().map(|ip| IpAddr::V4(*ip)).chain(t.v6.iter().map(|ip| IpAddr::V6(*ip)))
}

fn name_of(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|_| Name::root())
}

fn authoritative(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.authoritative = true;
    m
}

/// NS at the apex: `APEX.ZONE` and `SECONDARY.ZONE`, each with its addresses as glue.
fn apex_ns(g: &K8sGateway, index: &Index, zone: &str, req: &Request) -> Reply {
    let mut m = authoritative(req);
    let servers = std::iter::once(&g.o.apex).chain(g.o.secondary.as_ref());
    for server in servers {
        let ns = name_of(&format!("{server}.{zone}"));
        m.answers.push(Record::from_rdata(name_of(zone), SOA_TTL, RData::NS(NS(ns.clone()))));
        for ip in index.all_exact(server).flat_map(addresses) {
            let rdata = match ip {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            };
            m.additionals.push(Record::from_rdata(ns.clone(), SOA_TTL, rdata));
        }
    }
    Reply::message(m, crate::NAME)
}

/// TXT strings longer than one character-string: each split into 255-octet pieces of one
/// record (k8s_gateway's `split255`).
fn long_txt(g: &K8sGateway, req: &Request, found: Found<'_>) -> Reply {
    let mut m = authoritative(req);
    let owner = name_of(req.name());
    let mut seen: Vec<&str> = Vec::new();
    for s in found.parts().flat_map(|t| &t.txt) {
        if seen.contains(&s.as_str()) {
            continue;
        }
        seen.push(s);
        let pieces: Vec<String> =
            s.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let txt = plugin_api::proto::rr::rdata::TXT::new(pieces);
        m.answers.push(Record::from_rdata(owner.clone(), g.o.ttl, RData::TXT(txt)));
    }
    Reply::message(m, crate::NAME)
}

/// A name that is an alias: its CNAME, and for an address query the target's addresses looked
/// up through the block.
fn cname(g: &K8sGateway, ctx: &Ctx, req: &Arc<Request>, target: &str) -> Serve {
    let mut m = authoritative(req);
    let target = name_of(&format!("{target}."));
    let cname = RData::CNAME(CNAME(target.clone()));
    m.answers.push(Record::from_rdata(name_of(req.name()), g.o.ttl, cname));
    let qtype = req.qtype();
    if !matches!(qtype, RecordType::A | RecordType::AAAA) {
        return Serve::Ready(Ok(Reply::message(m, crate::NAME)));
    }
    let Some(lookup) = g.upstream.lookup(ctx, req, target, qtype) else {
        return Serve::Ready(Ok(Reply::message(m, crate::NAME)));
    };
    Serve::pending(async move {
        if let Ok(reply) = lookup.resolve().await
            && let Ok((found, _)) = reply.into_message()
        {
            m.answers.extend(found.answers);
        }
        Ok(Reply::message(m, crate::NAME))
    })
}
