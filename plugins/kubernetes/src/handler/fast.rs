//! The answers a cluster asks for most, written straight to wire form.
//!
//! A Service's A/AAAA, its SRV records and the PTR of its cluster IP are answered here with a
//! [`ReplyWriter`], reading the index in place: no entry list, no `Record`s, no encoder. Each
//! function returns `None` for anything outside its narrow case (headless Services, endpoint
//! names, NODATA, classes other than IN), and the handler then takes the general path, which
//! stays the reference: the handler's `Case` tables run both.

use std::net::IpAddr;

use plugin_api::Reply;
use plugin_api::proto::rr::RecordType;
use plugin_api::wire::ReplyWriter;
use plugin_api::zone::addr_from_reverse;

use super::{Lookup, Parsed, parse_labels, port_matches};
use crate::index::ReverseTarget;
use crate::objects::{Kind, Port, Service};

/// What the fast path found.
pub(super) enum Fast {
    /// The reply, written.
    Reply(Reply),
    /// The name cannot exist: the handler answers NXDOMAIN (or falls through).
    Missing,
}

impl Lookup<'_> {
    /// The ClusterIP Service `base` names, when it is the whole answer: a `svc` name without
    /// an endpoint label, in an exposed namespace, not hidden by `ignore empty_service`.
    fn cluster_ip_service<'p>(&self, base: &[&'p str]) -> Option<(Parsed<'p>, &Service)> {
        let p = parse_labels(base)?;
        if p.pod_or_svc != "svc" || p.service.is_empty() || !p.endpoint.is_empty() {
            return None;
        }
        if !self.namespace_exposed(p.namespace) {
            return None;
        }
        let svc = self.index.service(p.namespace, p.service)?;
        if !matches!(svc.kind, Kind::ClusterIp(_)) {
            return None;
        }
        if self.o.ignore_empty_service && !self.has_ready_endpoints(&p) {
            return None;
        }
        Some((p, svc))
    }

    /// The reply, or the knowledge that the name does not exist, when a fast case applies.
    pub(super) fn fast_reply(&self, base: &[&str]) -> Option<Fast> {
        if self.names_missing_service(base) {
            return Some(Fast::Missing);
        }
        let reply = match self.req.qtype() {
            RecordType::A | RecordType::AAAA => self.service_addresses(base)?,
            RecordType::SRV => self.service_srv(base)?,
            RecordType::PTR => self.service_ptr(base)?,
            _ => return None,
        };
        Some(Fast::Reply(Reply::Wire { wire: reply.finish(), by: crate::NAME }))
    }

    /// True if `base` names a Service (with or without port or endpoint labels) in an exposed
    /// namespace that has no such Service: whatever the type asked, the general path ends in
    /// NXDOMAIN, after parsing the name and looking the Service up once more. The search
    /// paths of every pod ask exactly this.
    fn names_missing_service(&self, base: &[&str]) -> bool {
        if base.len() < 3 || base.last() != Some(&"svc") {
            return false;
        }
        let Some(p) = parse_labels(base) else { return false };
        !p.service.is_empty()
            && self.namespace_exposed(p.namespace)
            && self.index.service(p.namespace, p.service).is_none()
    }

    /// A/AAAA of `service.namespace.svc`: its cluster IPs of the asked family, each once.
    fn service_addresses(&self, base: &[&str]) -> Option<ReplyWriter> {
        let (p, svc) = self.cluster_ip_service(base)?;
        let Kind::ClusterIp(ips) = &svc.kind else { return None };
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
    fn service_srv(&self, base: &[&str]) -> Option<ReplyWriter> {
        let (p, svc) = self.cluster_ip_service(base)?;
        let Kind::ClusterIp(ips) = &svc.kind else { return None };
        let placeholder = [Port { name: String::new(), protocol: String::new(), port: 0 }];
        let ports = if svc.ports.is_empty() { &placeholder[..] } else { &svc.ports[..] };
        let matching = || ports.iter().filter(|port| port_matches(&p, port));
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
        let name = self.req.name();
        if base.is_empty() || !(name.ends_with("in-addr.arpa.") || name.ends_with("ip6.arpa.")) {
            return None;
        }
        let ip = addr_from_reverse(name)?;
        let exposed =
            |ns: &str| self.o.namespaces.is_empty() || self.o.namespaces.iter().any(|n| n == ns);
        let svc = self.index.reverse(ip).iter().find_map(|t| match t {
            ReverseTarget::Service(svc) if exposed(&svc.namespace) => Some(svc),
            _ => None,
        })?;
        let mut reply = ReplyWriter::new(self.req)?.owned_as_asked();
        let service = [svc.name.as_str(), svc.namespace.as_str(), "svc"];
        let primary = self.o.primary.split('.').filter(|l| !l.is_empty());
        reply.ptr(self.ttl(), service.into_iter().chain(primary));
        Some(reply)
    }
}
