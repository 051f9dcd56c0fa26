//! Answers in an external zone (CoreDNS's `ServeDNS`, `serveApex`, `serveSubApex` and
//! `msg_to_dns.go`).
//!
//! Deliberate differences: a load balancer's host name reached through several ports is
//! answered with one CNAME and followed once (CoreDNS repeats both per port).

use std::net::IpAddr;
use std::sync::Arc;

use plugin_api::pkg::external::{ExternalRecord, ExternalSource};
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::{Ctx, Next, Reply, Request, Serve};

use crate::External;

/// Serves `req`, whose name is under `zone`.
pub fn serve(
    e: &External,
    source: &dyn ExternalSource,
    zone: &str,
    ctx: &Ctx,
    req: &Arc<Request>,
    next: Next<'_>,
) -> Serve {
    let name = req.name();
    for z in &e.s.zones {
        if name == z {
            return Serve::Ready(Ok(done(apex(e, source, z, req))));
        }
        // `APEX.ZONE` and the names under it, compared without building the name.
        let under_apex = match z.as_str() {
            "." => name.strip_suffix('.'),
            z => name.strip_suffix(z).and_then(|l| l.strip_suffix('.')),
        };
        let is_sub = under_apex.is_some_and(|l| {
            l == e.s.apex || l.strip_suffix(e.s.apex.as_str()).is_some_and(|l| l.ends_with('.'))
        });
        if is_sub {
            return Serve::Ready(Ok(done(sub_apex(e, source, zone, req))));
        }
    }
    if let Some(reply) = addresses_in_wire_form(e, source, zone, req) {
        return Serve::Ready(Ok(reply));
    }
    let found = source.external(req, zone, e.s.headless);
    let mut m = reply(req);
    if found.records.is_empty() {
        if found.rcode == ResponseCode::NXDomain && e.s.fall.through(name) {
            return next.run(ctx, req);
        }
        m.metadata.response_code = found.rcode;
        m.authorities = vec![soa(e, source, zone)];
        return Serve::Ready(Ok(done(m)));
    }
    let qname = req.qname();
    let mut follow: Vec<(Name, RecordType, bool)> = Vec::new();
    match req.qtype() {
        t @ (RecordType::A | RecordType::AAAA) => {
            m.answers = addresses(e, &found.records, &qname, t, &mut follow);
        }
        RecordType::SRV => {
            (m.answers, m.additionals) = srv(e, source, zone, &found.records, &qname, &mut follow);
        }
        RecordType::PTR => m.answers = ptr(e, &found.records, &qname),
        _ => {}
    }
    if m.answers.is_empty() {
        m.authorities = vec![soa(e, source, zone)];
    }
    if follow.is_empty() {
        return Serve::Ready(Ok(done(m)));
    }
    // Host names are followed through the block, each lookup's answers added where CoreDNS
    // adds them (an address query's answer, an SRV's additional section).
    let (ctx, req, upstream) = (ctx.clone(), req.clone(), e.upstream.clone());
    Serve::pending(async move {
        for (target, qtype, to_answer) in follow {
            let Some(lookup) = upstream.lookup(&ctx, &req, target, qtype) else { continue };
            let Ok(reply) = lookup.resolve().await else { continue };
            let Ok((found, _)) = reply.into_message() else { continue };
            if to_answer {
                m.metadata.truncation |= found.metadata.truncation;
                m.answers.extend(found.answers);
            } else {
                m.additionals.extend(found.answers);
            }
        }
        Ok(done(m))
    })
}

/// The commonest answer, a Service's addresses of the asked family, written straight to wire
/// form without a record list (as *kubernetes*' own fast path does); `None` for anything
/// else (a host name to follow, NODATA, more than eight addresses), which the general path
/// answers.
fn addresses_in_wire_form(
    e: &External,
    source: &dyn ExternalSource,
    zone: &str,
    req: &Request,
) -> Option<Reply> {
    let want_v4 = match req.qtype() {
        RecordType::A => true,
        RecordType::AAAA => false,
        _ => return None,
    };
    let mut w = ReplyWriter::new(req)?.owned_as_asked();
    let (mut seen, mut count, mut simple) = ([None::<IpAddr>; 8], 0, true);
    let found = source.for_each_external_host(req, zone, e.s.headless, &mut |host| match host
        .parse::<IpAddr>()
    {
        Ok(ip) if ip.is_ipv4() == want_v4 => {
            if seen[..count].contains(&Some(ip)) {
                return;
            }
            let Some(slot) = seen.get_mut(count) else {
                simple = false;
                return;
            };
            *slot = Some(ip);
            count += 1;
            match ip {
                IpAddr::V4(v4) => w.a(e.s.ttl, v4),
                IpAddr::V6(v6) => w.aaaa(e.s.ttl, v6),
            }
        }
        Ok(_) => {}
        Err(_) => simple = false,
    })?;
    (found && simple && count > 0).then(|| Reply::Wire { wire: w.finish(), by: crate::NAME })
}

fn reply(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.authoritative = true;
    m
}

fn done(m: Message) -> Reply {
    Reply::message(m, crate::NAME)
}

fn name(left: &str, zone: &str) -> Name {
    Name::from_ascii(format!("{left}.{zone}")).unwrap_or_else(|_| Name::root())
}

fn zone_name(zone: &str) -> Name {
    Name::from_ascii(zone).unwrap_or_else(|_| Name::root())
}

/// The zone's SOA: `ns1.APEX.ZONE`, `hostmaster.APEX.ZONE`, the source's serial.
fn soa(e: &External, source: &dyn ExternalSource, zone: &str) -> Record {
    let apex = format!("{}.{zone}", e.s.apex);
    let soa = SOA::new(
        name("ns1", &apex),
        name("hostmaster", &apex),
        source.external_serial(),
        7200,
        1800,
        86400,
        e.s.ttl,
    );
    Record::from_rdata(zone_name(zone), e.s.ttl, RData::SOA(soa))
}

fn address(owner: Name, ip: IpAddr, ttl: u32) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner, ttl, data)
}

/// The zone's apex: SOA, NS (`ns1.APEX.ZONE`, the server's external addresses as glue), else
/// NODATA.
fn apex(e: &External, source: &dyn ExternalSource, zone: &str, req: &Request) -> Message {
    let mut m = reply(req);
    match req.qtype() {
        RecordType::SOA => m.answers = vec![soa(e, source, zone)],
        RecordType::NS => {
            let ns = name("ns1", &format!("{}.{zone}", e.s.apex));
            m.answers = vec![Record::from_rdata(zone_name(zone), e.s.ttl, RData::NS(NS(ns)))];
            // Named under the zone as the query wrote it, as CoreDNS's `state.QName()` is.
            let glue = name("ns1", &format!("{}.{}", e.s.apex, req.qname().to_ascii()));
            let ips = source.external_addresses(e.s.headless);
            m.additionals = ips.into_iter().map(|ip| address(glue.clone(), ip, e.s.ttl)).collect();
        }
        _ => m.authorities = vec![soa(e, source, zone)],
    }
    m
}

/// Names under `APEX.ZONE`: `ns1.APEX.ZONE` has the server's addresses, `APEX.ZONE` is an empty
/// non-terminal, anything else does not exist.
fn sub_apex(e: &External, source: &dyn ExternalSource, zone: &str, req: &Request) -> Message {
    let mut m = reply(req);
    let base = req.name().strip_suffix(zone).unwrap_or_default().trim_end_matches('.');
    let labels: Vec<&str> = base.split('.').collect();
    match labels.as_slice() {
        [_] => {}
        ["ns1", _] => {
            let wanted = |ip: &IpAddr| match req.qtype() {
                RecordType::A => ip.is_ipv4(),
                RecordType::AAAA => ip.is_ipv6(),
                _ => false,
            };
            let ips = source.external_addresses(e.s.headless).into_iter().filter(wanted);
            m.answers = ips.map(|ip| address(req.qname(), ip, e.s.ttl)).collect();
        }
        _ => m.metadata.response_code = ResponseCode::NXDomain,
    }
    if m.answers.is_empty() {
        m.authorities = vec![soa(e, source, zone)];
    }
    m
}

/// A or AAAA: each address of the asked family once; a host name as a CNAME, to be followed.
fn addresses(
    e: &External,
    records: &[ExternalRecord],
    qname: &Name,
    qtype: RecordType,
    follow: &mut Vec<(Name, RecordType, bool)>,
) -> Vec<Record> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for r in records {
        if seen.contains(&r.host.as_str()) {
            continue;
        }
        seen.push(&r.host);
        match r.host.parse::<IpAddr>() {
            Ok(ip @ IpAddr::V4(_)) if qtype == RecordType::A => {
                out.push(address(qname.clone(), ip, e.s.ttl))
            }
            Ok(ip @ IpAddr::V6(_)) if qtype == RecordType::AAAA => {
                out.push(address(qname.clone(), ip, e.s.ttl))
            }
            Ok(_) => {}
            Err(_) => {
                let Ok(target) = Name::from_ascii(fqdn(&r.host)) else { continue };
                out.push(Record::from_rdata(
                    qname.clone(),
                    e.s.ttl,
                    RData::CNAME(CNAME(target.clone())),
                ));
                follow.push((target, qtype, true));
            }
        }
    }
    out
}

fn fqdn(host: &str) -> String {
    if host.ends_with('.') { host.to_owned() } else { format!("{host}.") }
}

/// SRV: one record per target and port, weights shared out as CoreDNS shares them, the
/// targets' addresses in the additional section (a host name's looked up).
fn srv(
    e: &External,
    source: &dyn ExternalSource,
    zone: &str,
    records: &[ExternalRecord],
    qname: &Name,
    follow: &mut Vec<(Name, RecordType, bool)>,
) -> (Vec<Record>, Vec<Record>) {
    // Every record counts 100 at priority 0, port or not (CoreDNS's first loop).
    let total = 100 * records.len() as u64;
    let weight = ((100.0 / total as f64) * 100.0).floor().max(1.0) as u16;
    let (mut answer, mut extra) = (Vec::new(), Vec::new());
    let mut seen_srv: Vec<(Name, u16)> = Vec::new();
    let mut seen_addr: Vec<(Name, String)> = Vec::new();
    for r in records {
        let Some(port) = r.port else { continue };
        let ip = r.host.parse::<IpAddr>().ok();
        let target = match ip {
            Some(_) => name(&r.target, zone),
            None => match Name::from_ascii(fqdn(&r.host)) {
                Ok(t) => t,
                Err(_) => continue,
            },
        };
        if !seen_srv.contains(&(target.clone(), port)) {
            seen_srv.push((target.clone(), port));
            let data = RData::SRV(SRV::new(0, weight, port, target.clone()));
            answer.push(Record::from_rdata(qname.clone(), source.external_ttl(), data));
        }
        if seen_addr.contains(&(target.clone(), r.host.clone())) {
            continue;
        }
        seen_addr.push((target.clone(), r.host.clone()));
        match ip {
            Some(ip) => extra.push(address(target, ip, e.s.ttl)),
            None => {
                follow.push((target.clone(), RecordType::A, false));
                follow.push((target, RecordType::AAAA, false));
            }
        }
    }
    (answer, extra)
}

/// PTR: each Service the address belongs to, under the first zone.
fn ptr(e: &External, records: &[ExternalRecord], qname: &Name) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let first_zone = e.s.zones.first().map_or(".", String::as_str);
    for r in records {
        let data = RData::PTR(PTR(name(&r.host, first_zone)));
        if !out.iter().any(|x| x.data == data) {
            out.push(Record::from_rdata(qname.clone(), e.s.ttl, data));
        }
    }
    out
}
