//! Answering: the name is read (`names`) and looked up in the index, following CoreDNS's
//! record table; the commonest answers are written straight to wire form (`fast`).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use compact_str::CompactString;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::pkg::wire::{ReplyWriter, SoaNames, ZoneSoa};
use plugin_api::pkg::zone::{longest_match, split_dots};
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::{Ctx, Next, Plugin, Reply, Request, Serve};

use crate::index::{Index, ReverseTarget};
use crate::objects::{Endpoint, Kind, Port, Service, Slice};
use crate::setup::{Options, PodMode};

mod autopath;
mod external;
mod fast;
mod metadata;
mod names;
mod ns;
mod xfr;

pub use names::endpoint_name;
use names::{
    Grammar, MAX_FIXED_LABELS, Parsed, label_count, parse_labels, pod_ip, port_matches,
    split_labels,
};

/// The SOA's primary server and mailbox, as labels before the zone (CoreDNS's `ns.dns` and
/// `hostmaster`).
const SOA_NAMES: (&str, &str) = ("ns.dns", "hostmaster");

/// The version of the Kubernetes DNS specification served (`dns-version` TXT).
pub const SCHEMA_VERSION: &str = "1.1.0";

/// The *kubernetes* handler.
pub struct Kubernetes {
    pub(crate) o: Arc<Options>,
    pub(crate) index: Arc<ArcSwap<Index>>,
    /// The block's chain, to resolve ExternalName targets through.
    pub(crate) upstream: Arc<Upstream>,
    /// Whether the commonest answers are written straight to wire form (`fast`). Always on
    /// when serving; the handler's tests run every case with it off too, so that both paths
    /// must give the same answers.
    pub(crate) fast_path: bool,
    /// The server's own addresses, found when it starts (`ns`): what CoreDNS's `localIPs`
    /// holds, to name this server's Services in NS answers.
    pub(crate) local_ips: Arc<std::sync::OnceLock<Vec<IpAddr>>>,
}

/// What a lookup found.
#[derive(Debug)]
enum Outcome {
    Records { answer: Vec<Record>, extra: Vec<Record> },
    NoData,
    NxDomain,
}

/// A backend a Service name resolves to.
#[derive(Debug, Clone)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

#[derive(Debug, Clone)]
struct Entry {
    host: Host,
    port: u16,
    /// The endpoint's name, for endpoint SRV targets.
    endpoint: Option<String>,
}

/// The placeholder of a port-less Service or slice.
static NO_PORT: [Port; 1] = [Port {
    name: CompactString::const_new(""),
    protocol: std::borrow::Cow::Borrowed(""),
    port: 0,
}];

/// Ports, or one placeholder when there are none (CoreDNS adds one so that port-less services
/// still have addresses).
fn ports_or_placeholder(ports: &[Port]) -> &[Port] {
    if ports.is_empty() { &NO_PORT } else { ports }
}

struct Lookup<'a> {
    o: &'a Options,
    index: &'a Index,
    req: &'a Request,
    /// How many labels of the query name are the zone.
    zone_labels: usize,
    /// The server's own addresses (empty before it has started).
    local_ips: &'a [IpAddr],
    /// The zone is a `multicluster` one: Services are ServiceImports, endpoints those of the
    /// multicluster EndpointSlices.
    clusterset: bool,
}

impl Lookup<'_> {
    /// The zone as the query wrote it.
    fn zone(&self) -> Name {
        self.req.qname().trim_to(self.zone_labels)
    }

    /// The query name as asked: the owner of every answer.
    fn qname(&self) -> Name {
        self.req.qname()
    }

    /// The zone's SOA, for the authority section of negative answers (its names are
    /// [`SOA_NAMES`] under the zone).
    fn zone_soa(&self) -> ZoneSoa<'static> {
        ZoneSoa {
            zone_labels: self.zone_labels,
            ttl: self.ttl().min(300),
            names: SoaNames::UnderZone { mname: SOA_NAMES.0, rname: SOA_NAMES.1 },
            serial: self.index.serial,
            refresh: 7200,
            retry: 1800,
            expire: 86400,
            minimum: self.ttl(),
        }
    }

    fn name(&self, left: &str, zone: &Name) -> Option<Name> {
        Name::from_ascii(left).ok()?.append_domain(zone).ok()
    }

    fn ttl(&self) -> u32 {
        self.o.ttl
    }

    fn soa(&self) -> Record {
        let (zone, z) = (self.zone(), self.zone_soa());
        let (mname, rname) = SOA_NAMES;
        let mname = self.name(mname, &zone).unwrap_or_else(Name::root);
        let rname = self.name(rname, &zone).unwrap_or_else(Name::root);
        let (refresh, retry, expire) = (z.refresh as i32, z.retry as i32, z.expire as i32);
        let soa = SOA::new(mname, rname, z.serial, refresh, retry, expire, z.minimum);
        Record::from_rdata(zone, z.ttl, RData::SOA(soa))
    }

    fn record(&self, data: RData) -> Record {
        Record::from_rdata(self.qname(), self.ttl(), data)
    }

    fn namespace_exposed(&self, ns: &str) -> bool {
        self.index.has_namespace(ns) && self.o.namespace_listed(ns)
    }

    fn address(&self, owner: Name, ip: IpAddr) -> Record {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        Record::from_rdata(owner, self.ttl(), data)
    }

    fn resolve(&self, base: &[&str]) -> Outcome {
        let qtype = self.req.qtype();
        if base.is_empty() {
            return match qtype {
                RecordType::SOA => Outcome::Records { answer: vec![self.soa()], extra: vec![] },
                RecordType::NS => {
                    // CoreDNS's `plugin.NS` over `nsAddrs`: one NS per name, every address
                    // as glue.
                    let servers = self.ns_addrs(&self.zone());
                    let mut answer: Vec<Record> = Vec::new();
                    let mut extra = Vec::with_capacity(servers.len());
                    for (target, ip) in servers {
                        let ns = RData::NS(NS(target.clone()));
                        if !answer.iter().any(|r| r.data == ns) {
                            answer.push(Record::from_rdata(self.zone(), self.ttl(), ns));
                        }
                        extra.push(self.address(target, ip));
                    }
                    if answer.is_empty() {
                        Outcome::NoData
                    } else {
                        Outcome::Records { answer, extra }
                    }
                }
                _ => Outcome::NoData,
            };
        }
        if base == ["dns-version"] && qtype == RecordType::TXT {
            let txt = TXT::new(vec![SCHEMA_VERSION.to_string()]);
            return Outcome::Records {
                answer: vec![Record::from_rdata(self.qname(), 28800, RData::TXT(txt))],
                extra: vec![],
            };
        }
        if base == ["ns", "dns"] {
            let servers = self.ns_addrs(&self.zone());
            let answer: Vec<Record> = servers
                .into_iter()
                .map(|(_, ip)| ip)
                .filter(|ip| {
                    matches!(
                        (ip, qtype),
                        (IpAddr::V4(_), RecordType::A) | (IpAddr::V6(_), RecordType::AAAA)
                    )
                })
                .map(|ip| self.address(self.qname(), ip))
                .collect();
            return if answer.is_empty() {
                Outcome::NoData
            } else {
                Outcome::Records { answer, extra: vec![] }
            };
        }
        if self.req.name().ends_with("in-addr.arpa.") || self.req.name().ends_with("ip6.arpa.") {
            return self.reverse();
        }
        let grammar = Grammar { multicluster: self.clusterset, zonal: self.o.zonal };
        let Some(p) = parse_labels(base, grammar) else { return Outcome::NxDomain };
        if p.pod_or_svc.is_empty() || p.namespace.is_empty() {
            return Outcome::NoData;
        }
        if !self.namespace_exposed(p.namespace) {
            return Outcome::NxDomain;
        }
        if p.service.is_empty() {
            return Outcome::NoData;
        }
        let entries =
            if p.pod_or_svc == "pod" { self.pod_entries(&p) } else { self.service_entries(&p) };
        if entries.is_empty() {
            // A zonal name of a headless Service exists whatever its zone holds: NODATA, the
            // same on every replica, where a drained zone and a mistyped one look alike.
            if p.zone.is_some() && self.service(&p).is_some_and(|s| s.kind == Kind::Headless) {
                return Outcome::NoData;
            }
            return Outcome::NxDomain;
        }
        self.records(&p, &entries)
    }

    fn reverse(&self) -> Outcome {
        if self.req.qtype() != RecordType::PTR {
            return Outcome::NxDomain;
        }
        let Some(ip) = self.req.reverse_addr() else { return Outcome::NxDomain };
        let primary = Name::from_ascii(&self.o.primary).unwrap_or_else(|_| Name::root());
        let exposed = |ns: &str| self.o.namespace_listed(ns);
        let targets = self.index.reverse(ip);
        let mut answer = Vec::new();
        if let Some(ReverseTarget::Service(svc)) = targets
            .clone()
            .find(|t| matches!(t, ReverseTarget::Service(_)) && exposed(t.namespace()))
            && let Some(target) =
                self.name(&format!("{}.{}.svc", svc.name, svc.namespace), &primary)
        {
            answer.push(self.record(RData::PTR(PTR(target))));
        }
        if answer.is_empty() {
            for t in targets {
                if let ReverseTarget::Endpoint { slice, endpoint } = t
                    && exposed(&slice.namespace)
                    && let Some(e) = slice.endpoints.get(*endpoint as usize)
                {
                    let left = format!(
                        "{}.{}.{}.svc",
                        endpoint_name(e, self.o.endpoint_pod_names),
                        slice.service,
                        slice.namespace
                    );
                    if let Some(target) = self.name(&left, &primary) {
                        answer.push(self.record(RData::PTR(PTR(target))));
                    }
                }
            }
        }
        if answer.is_empty() {
            Outcome::NxDomain
        } else {
            Outcome::Records { answer, extra: vec![] }
        }
    }

    fn pod_entries(&self, p: &Parsed<'_>) -> Vec<Entry> {
        if !p.endpoint.is_empty() || !p.port.is_empty() {
            return Vec::new();
        }
        let Some(ip) = pod_ip(p.service) else { return Vec::new() };
        let ok = match self.o.pods {
            PodMode::Disabled => false,
            PodMode::Insecure => true,
            PodMode::Verified => self.index.has_pod(p.namespace, ip),
        };
        if ok { vec![Entry { host: Host::Ip(ip), port: 0, endpoint: None }] } else { Vec::new() }
    }

    /// The Service (or, in a multicluster zone, the ServiceImport) a name is about.
    fn service(&self, p: &Parsed<'_>) -> Option<&Service> {
        if self.clusterset {
            self.index.import(p.namespace, p.service)
        } else {
            self.index.service(p.namespace, p.service)
        }
    }

    /// The EndpointSlices of the Service a name is about (multicluster ones in such a zone).
    fn slices(&self, p: &Parsed<'_>) -> &[Arc<Slice>] {
        if self.clusterset {
            self.index.clusterset_slices(p.namespace, p.service)
        } else {
            self.index.slices(p.namespace, p.service)
        }
    }

    fn service_entries(&self, p: &Parsed<'_>) -> Vec<Entry> {
        let Some(svc) = self.service(p) else { return Vec::new() };
        if let Some((zone, prefer)) = &p.zone {
            // Zonal names are for headless Services only: a cluster IP has no zone.
            if svc.kind != Kind::Headless {
                return Vec::new();
            }
            let local = self.endpoint_entries(p, Some(zone));
            // `prefer` widens to every endpoint when its zone holds none; `pin` never does.
            return if local.is_empty() && *prefer {
                self.endpoint_entries(p, None)
            } else {
                local
            };
        }
        let mut out = Vec::new();
        match &svc.kind {
            Kind::ExternalName(target) => {
                if p.endpoint.is_empty() && p.port.is_empty() {
                    out.push(Entry { host: Host::Name(target.clone()), port: 0, endpoint: None });
                }
                return out;
            }
            Kind::ClusterIp(ips) if p.endpoint.is_empty() => {
                if self.o.ignore_empty_service && !self.has_ready_endpoints(p) {
                    return out;
                }
                for ip in ips {
                    for port in ports_or_placeholder(&svc.ports)
                        .iter()
                        .filter(|port| port_matches(p.port, p.protocol, port))
                    {
                        out.push(Entry { host: Host::Ip(*ip), port: port.port, endpoint: None });
                    }
                }
                return out;
            }
            _ => {}
        }
        // CoreDNS's `noendpoints` stops the local EndpointSlice watch only.
        if self.o.noendpoints && !self.clusterset {
            return out;
        }
        self.endpoint_entries(p, None)
    }

    /// The ready endpoints the name selects (all, or the one named), in `zone` if given, with
    /// every port that matches.
    fn endpoint_entries(&self, p: &Parsed<'_>, zone: Option<&str>) -> Vec<Entry> {
        let mut out = Vec::new();
        for slice in self.slices(p) {
            let cluster = slice.cluster.as_deref().unwrap_or("");
            if !p.endpoint.is_empty() && self.clusterset && cluster != p.cluster {
                continue;
            }
            let in_zone = |e: &Endpoint| zone.is_none() || slice.zone_of(e) == zone;
            for e in slice.endpoints.iter().filter(|e| e.ready && in_zone(e)) {
                let mut name = endpoint_name(e, self.o.endpoint_pod_names);
                if !p.endpoint.is_empty() && name != p.endpoint {
                    continue;
                }
                // In a multicluster zone an endpoint is named within its cluster.
                if self.clusterset && !cluster.is_empty() {
                    name = format!("{name}.{cluster}");
                }
                for port in ports_or_placeholder(&slice.ports)
                    .iter()
                    .filter(|port| port_matches(p.port, p.protocol, port))
                {
                    out.push(Entry {
                        host: Host::Ip(e.ip),
                        port: port.port,
                        endpoint: Some(name.clone()),
                    });
                }
            }
        }
        out
    }

    fn has_ready_endpoints(&self, p: &Parsed<'_>) -> bool {
        self.slices(p).iter().any(|s| s.endpoints.iter().any(|e| e.ready))
    }

    fn records(&self, p: &Parsed<'_>, entries: &[Entry]) -> Outcome {
        let qtype = self.req.qtype();
        let mut answer = Vec::new();
        let mut extra = Vec::new();
        match qtype {
            RecordType::A | RecordType::AAAA | RecordType::CNAME => {
                let mut seen = HashSet::new();
                for e in entries {
                    match &e.host {
                        Host::Name(target) => {
                            if let Ok(t) = Name::from_ascii(target)
                                && seen.insert(target.clone())
                            {
                                answer.push(self.record(RData::CNAME(CNAME(t))));
                            }
                        }
                        Host::Ip(ip) if qtype != RecordType::CNAME => {
                            let family_ok = matches!(
                                (ip, qtype),
                                (IpAddr::V4(_), RecordType::A) | (IpAddr::V6(_), RecordType::AAAA)
                            );
                            if family_ok && seen.insert(ip.to_string()) {
                                answer.push(self.address(self.qname(), *ip));
                            }
                        }
                        Host::Ip(_) => {}
                    }
                }
            }
            RecordType::SRV => {
                let backends: Vec<&Entry> =
                    entries.iter().filter(|e| matches!(e.host, Host::Ip(_))).collect();
                let weight = (100 / backends.len().max(1)).max(1) as u16;
                let zone = self.zone();
                let mut seen = HashSet::new();
                for e in backends {
                    let Host::Ip(ip) = e.host else { continue };
                    let left = match &e.endpoint {
                        Some(ep) => format!("{ep}.{}.{}.svc", p.service, p.namespace),
                        None => format!("{}.{}.svc", p.service, p.namespace),
                    };
                    let Some(target) = self.name(&left, &zone) else { continue };
                    if seen.insert((target.to_ascii(), e.port)) {
                        answer.push(self.record(RData::SRV(SRV::new(
                            0,
                            weight,
                            e.port,
                            target.clone(),
                        ))));
                    }
                    if seen.insert((format!("{target} {ip}"), 0)) {
                        extra.push(self.address(target, ip));
                    }
                }
            }
            _ => {}
        }
        if answer.is_empty() { Outcome::NoData } else { Outcome::Records { answer, extra } }
    }
}

impl Plugin for Kubernetes {
    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn ready(&self) -> Option<bool> {
        Some(self.index.load().synced)
    }

    fn transfer_records(&self, zone: &str) -> Option<Vec<Record>> {
        self.zone_records(zone)
    }

    fn provides_metadata(&self) -> bool {
        true
    }

    fn metadata(&self, req: &Request, meta: &mut plugin_api::Meta) {
        self.publish_metadata(req, meta);
    }

    fn provides_search_path(&self) -> bool {
        true
    }

    fn search_path(&self, req: &Request) -> Option<Vec<String>> {
        self.client_search_path(req)
    }

    fn external_source(&self) -> Option<&dyn plugin_api::pkg::external::ExternalSource> {
        Some(self)
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        let Some(zone) = longest_match(&self.o.zones, name) else { return next.run(ctx, req) };
        if matches!(req.qtype(), RecordType::AXFR | RecordType::IXFR) {
            return Serve::Ready(Ok(Reply::Rcode(ResponseCode::Refused)));
        }
        let index = self.index.load();
        let clusterset = self.o.is_multicluster(zone);
        let local_ips = self.local_ips.get().map_or(&[][..], Vec::as_slice);
        let lookup = Lookup {
            o: &self.o,
            index: &index,
            req,
            zone_labels: label_count(zone),
            local_ips,
            clusterset,
        };
        let base_text = name[..name.len() - zone.len()].trim_end_matches('.');
        let mut fixed = [""; MAX_FIXED_LABELS];
        let spilled: Vec<&str>;
        let base: &[&str] = match split_labels(base_text, &mut fixed) {
            Some(n) => &fixed[..n],
            None => {
                spilled = split_dots(base_text).collect();
                &spilled
            }
        };
        // The fast path knows the local cluster's names only.
        let fast = self.fast_path && !clusterset;
        let outcome = match fast.then(|| lookup.fast_reply(base)).flatten() {
            Some(fast::Fast::Reply(reply)) => return Serve::Ready(Ok(reply)),
            Some(fast::Fast::Missing) => Outcome::NxDomain,
            None => lookup.resolve(base),
        };
        let rcode = match outcome {
            Outcome::Records { .. } => ResponseCode::NoError,
            Outcome::NoData => ResponseCode::NoError,
            Outcome::NxDomain if self.o.fall.through(name) => return next.run(ctx, req),
            // Before the first sync a missing name may just not be known yet.
            Outcome::NxDomain if !index.synced => ResponseCode::ServFail,
            Outcome::NxDomain => ResponseCode::NXDomain,
        };
        if !matches!(outcome, Outcome::Records { .. })
            && let Some(mut reply) = ReplyWriter::new(req)
        {
            // Negative answers, the commonest kind (search paths), go straight to wire form.
            reply.rcode(rcode);
            reply.soa(&lookup.zone_soa());
            return Serve::Ready(Ok(Reply::Wire { wire: reply.finish(), by: crate::NAME }));
        }
        let mut msg = req.reply();
        msg.metadata.authoritative = true;
        msg.metadata.response_code = rcode;
        match outcome {
            Outcome::Records { answer, extra } => {
                msg.answers = answer;
                msg.additionals = extra;
            }
            Outcome::NoData | Outcome::NxDomain => msg.authorities = vec![lookup.soa()],
        }
        if let Some(target) = external_target(&msg, req.qtype())
            && let Some(nested) = self.upstream.lookup(ctx, req, target, req.qtype())
        {
            // The target's records follow the CNAME, as CoreDNS's upstream lookup adds them.
            // A failed lookup leaves the CNAME alone: the client can still chase it.
            return nested.map(move |result| {
                if let Some((found, _)) = result.ok().and_then(|r| r.into_message().ok()) {
                    msg.answers.extend(found.answers);
                }
                Ok(Reply::message(msg, crate::NAME))
            });
        }
        Serve::Ready(Ok(Reply::message(msg, crate::NAME)))
    }
}

/// The target of an ExternalName answer to an address query: the reply's lone CNAME.
fn external_target(msg: &Message, qtype: RecordType) -> Option<Name> {
    if !matches!(qtype, RecordType::A | RecordType::AAAA) {
        return None;
    }
    match msg.answers.as_slice() {
        [only] => match &only.data {
            RData::CNAME(CNAME(target)) => Some(target.clone()),
            _ => None,
        },
        _ => None,
    }
}
