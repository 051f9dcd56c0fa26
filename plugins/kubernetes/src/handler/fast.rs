//! The answers a cluster asks for most, written straight to wire form.
//!
//! A Service's A/AAAA, its SRV records and the PTR of its cluster IP are answered here with a
//! [`ReplyWriter`], reading the index in place: no entry list, no `Record`s, no encoder. Each
//! function returns `None` for anything outside its narrow case (headless Services, endpoint
//! names, NODATA, classes other than IN), and the handler then takes the general path, which
//! stays the reference: the handler's `Case` tables run both.

use std::net::IpAddr;

use plugin_api::Reply;
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::pkg::zone::split_dots;
use plugin_api::proto::rr::RecordType;

use super::{Grammar, Lookup, Parsed, parse_labels, port_matches, ports_or_placeholder};
use crate::index::ReverseTarget;
use crate::objects::{Kind, Port};

/// What the fast path found.
pub(super) enum Fast {
    /// The reply, written.
    Reply(Reply),
    /// The name cannot exist: the handler answers NXDOMAIN (or falls through).
    Missing,
}

/// What the labels of a query name say about Services, read once for every fast case.
enum Named<'i> {
    /// A Service name in an exposed namespace that has no such Service.
    Missing,
    /// A ClusterIP Service that is the whole answer: no endpoint label, not hidden by `ignore
    /// empty_service`.
    ClusterIp { ips: &'i [IpAddr], ports: &'i [Port] },
    /// Anything else: the general path decides.
    Other,
}

impl Lookup<'_> {
    /// Looks the Service of a parsed `service.namespace.svc` name up, once. (The parse stays
    /// with the caller: moving it into the result was a 144-octet copy on every query.)
    fn named_service(&self, p: &Parsed<'_>) -> Named<'_> {
        if p.service.is_empty() || !self.namespace_exposed(p.namespace) {
            return Named::Other;
        }
        // Whatever the type and the labels before it, the general path ends in NXDOMAIN for a
        // missing Service, after parsing the name and looking it up once more; the search paths
        // of every pod ask exactly this.
        let Some(svc) = self.index.service(p.namespace, p.service) else { return Named::Missing };
        let Kind::ClusterIp(ips) = &svc.kind else { return Named::Other };
        if !p.endpoint.is_empty() || (self.o.ignore_empty_service && !self.has_ready_endpoints(p)) {
            return Named::Other;
        }
        Named::ClusterIp { ips, ports: ports_or_placeholder(&svc.ports) }
    }

    /// The reply, or the knowledge that the name does not exist, when a fast case applies.
    pub(super) fn fast_reply(&self, base: &[&str]) -> Option<Fast> {
        let parsed = match base {
            [_, _, .., "svc"] => parse_labels(base, Grammar::default()),
            _ => None,
        };
        let named = parsed.as_ref().map_or(Named::Other, |p| self.named_service(p));
        let reply = match (named, &parsed, self.req.qtype()) {
            (Named::Missing, ..) => return Some(Fast::Missing),
            (Named::ClusterIp { ips, .. }, Some(p), RecordType::A | RecordType::AAAA) => {
                self.service_addresses(p, ips)?
            }
            (Named::ClusterIp { ips, ports }, Some(p), RecordType::SRV) => {
                self.service_srv(p, ips, ports)?
            }
            (Named::Other, _, RecordType::PTR) => self.service_ptr(base)?,
            _ => return None,
        };
        Some(Fast::Reply(Reply::Wire { wire: reply.finish(), by: crate::NAME }))
    }

    /// A/AAAA of `service.namespace.svc`: its cluster IPs of the asked family, each once.
    fn service_addresses(&self, p: &Parsed<'_>, ips: &[IpAddr]) -> Option<ReplyWriter> {
        if !p.port.is_empty() {
            return None;
        }
        let wanted = |ip: &IpAddr| match self.req.qtype() {
            RecordType::A => ip.is_ipv4(),
            _ => ip.is_ipv6(),
        };
        if !ips.iter().any(wanted) {
            return None;
        }
        let mut reply = ReplyWriter::new(self.req)?.owned_as_asked();
        for (i, ip) in ips.iter().enumerate() {
            if !wanted(ip) || ips[..i].contains(ip) {
                continue;
            }
            match ip {
                IpAddr::V4(v4) => reply.a(self.ttl(), *v4),
                IpAddr::V6(v6) => reply.aaaa(self.ttl(), *v6),
            }
        }
        Some(reply)
    }

    /// SRV of `[_port._proto.]service.namespace.svc`: one record per matching port with the
    /// Service's name as target and CoreDNS's weight (100 shared by the IP × port pairs), then
    /// each cluster IP once as the target's address.
    fn service_srv(&self, p: &Parsed<'_>, ips: &[IpAddr], ports: &[Port]) -> Option<ReplyWriter> {
        let matching = || ports.iter().filter(|port| port_matches(p.port, p.protocol, port));
        let backends = ips.len() * matching().count();
        if backends == 0 {
            return None;
        }
        let weight = (100 / backends).max(1) as u16;
        let target_labels = [p.service, p.namespace, "svc"];
        let mut reply = ReplyWriter::new(self.req)?.owned_as_asked();
        let mut target = None;
        for (i, port) in matching().enumerate() {
            if matching().take(i).any(|earlier| earlier.port == port.port) {
                continue;
            }
            let srv = (0, weight, port.port);
            target = reply.srv(self.ttl(), srv, &target_labels, self.zone_labels).or(target);
        }
        let target = target?;
        for (i, ip) in ips.iter().enumerate() {
            if !ips[..i].contains(ip) {
                reply.additional_address(target, self.ttl(), *ip);
            }
        }
        Some(reply)
    }

    /// PTR of a cluster IP: `service.namespace.svc.<primary zone>`.
    fn service_ptr(&self, base: &[&str]) -> Option<ReplyWriter> {
        if base.is_empty() {
            return None;
        }
        // Only a full reverse name under in-addr.arpa. or ip6.arpa. has an address.
        let ip = self.req.reverse_addr()?;
        let svc = self.index.reverse(ip).find_map(|t| match t {
            ReverseTarget::Service(svc) if self.o.namespace_listed(&svc.namespace) => Some(svc),
            _ => None,
        })?;
        let mut reply = ReplyWriter::new(self.req)?.owned_as_asked();
        let service = [svc.name.as_str(), svc.namespace.as_str(), "svc"];
        let primary = split_dots(&self.o.primary).filter(|l| !l.is_empty());
        reply.ptr(self.ttl(), service.into_iter().chain(primary));
        Some(reply)
    }
}
