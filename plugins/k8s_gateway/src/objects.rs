//! Each watched object reduced to what DNS answers with: the host names it claims and their
//! [`Targets`], or, for a route, its host names and the Gateways whose addresses they take.
//!
//! Which names an object claims follows k8s_gateway: an Ingress's rule hosts (and, beyond it,
//! its TLS hosts); a LoadBalancer Service's `coredns.io/hostname` or
//! `external-dns.alpha.kubernetes.io/hostname` annotation (comma-separated), else
//! `NAME.NAMESPACE`; a route's `spec.hostnames`; a DNSEndpoint's `dnsName`s. An object labelled
//! `k8s-gateway.dns/ignore: "true"` claims nothing. Host names are kept lower-cased and without
//! a final dot, as the index looks them up.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Resource;
use plugin_api::pkg::zone::is_domain_name;

use crate::types::{self, DnsEndpoint, Gateway, RouteSpec};

/// The label that hides an object from DNS.
pub const IGNORE_LABEL: &str = "k8s-gateway.dns/ignore";
/// The Service annotations naming its host names, in the order they are read.
pub const HOSTNAME_ANNOTATIONS: [&str; 2] =
    ["coredns.io/hostname", "external-dns.alpha.kubernetes.io/hostname"];
/// The annotation older Ingresses give their class in.
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// What a name answers with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// IPv4 addresses.
    pub v4: Vec<Ipv4Addr>,
    /// IPv6 addresses.
    pub v6: Vec<Ipv6Addr>,
    /// TXT strings (DNSEndpoint).
    pub txt: Vec<String>,
    /// Host names the name is an alias of (a cloud load balancer's, a DNSEndpoint CNAME).
    pub hosts: Vec<String>,
}

impl Targets {
    /// Nothing to answer with.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty() && self.txt.is_empty() && self.hosts.is_empty()
    }

    /// Adds an address, once.
    pub fn add_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) if !self.v4.contains(&v4) => self.v4.push(v4),
            IpAddr::V6(v6) if !self.v6.contains(&v6) => self.v6.push(v6),
            _ => {}
        }
    }

    /// Adds an address, or else a host name, once.
    pub fn add_address(&mut self, value: &str) {
        match value.parse::<IpAddr>() {
            Ok(ip) => self.add_ip(ip),
            Err(_) => self.add_host(value),
        }
    }

    /// Adds a host name, once; one that is not a domain name is dropped.
    pub fn add_host(&mut self, host: &str) {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if !host.is_empty() && is_domain_name(&host) && !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
    }

    /// Adds everything `other` has that this does not.
    pub fn merge(&mut self, other: &Self) {
        other.v4.iter().for_each(|ip| self.add_ip(IpAddr::V4(*ip)));
        other.v6.iter().for_each(|ip| self.add_ip(IpAddr::V6(*ip)));
        for t in &other.txt {
            if !self.txt.contains(t) {
                self.txt.push(t.clone());
            }
        }
        for h in &other.hosts {
            if !self.hosts.contains(h) {
                self.hosts.push(h.clone());
            }
        }
    }
}

/// A kind of object watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `v1` Service.
    Service,
    /// HTTPRoute.
    HttpRoute,
    /// TLSRoute.
    TlsRoute,
    /// GRPCRoute.
    GrpcRoute,
    /// external-dns DNSEndpoint.
    DnsEndpoint,
    /// Gateway: watched when a route kind is.
    Gateway,
}

impl Kind {
    /// The kinds a `resources` line may name, as k8s_gateway spells them.
    pub const RESOURCES: [(&'static str, Self); 6] = [
        ("Ingress", Self::Ingress),
        ("Service", Self::Service),
        ("HTTPRoute", Self::HttpRoute),
        ("TLSRoute", Self::TlsRoute),
        ("GRPCRoute", Self::GrpcRoute),
        ("DNSEndpoint", Self::DnsEndpoint),
    ];

    /// The kind's name, as the API and a `resources` line spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "Gateway",
            k => Self::RESOURCES.iter().find(|(_, r)| *r == k).map_or("", |(n, _)| n),
        }
    }

    /// A route kind, whose names take their parent Gateways' addresses.
    pub fn is_route(self) -> bool {
        matches!(self, Self::HttpRoute | Self::TlsRoute | Self::GrpcRoute)
    }

    /// Whether the kind comes from a CRD that a cluster may not have installed.
    pub fn is_custom(self) -> bool {
        !matches!(self, Self::Ingress | Self::Service)
    }
}

/// An object, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// Host names and what each answers (Ingress, Service, DNSEndpoint).
    Named(BTreeMap<String, Targets>),
    /// A route: its host names and its parent Gateways (namespace, name).
    Route {
        /// Host names, possibly `*.` wildcards.
        hosts: Vec<String>,
        /// Parent Gateways.
        parents: Vec<(String, String)>,
    },
    /// A Gateway's addresses; empty when its class is not among `gatewayClasses`.
    Gateway(Targets),
}

/// The store key of an object: namespace and name.
pub fn key_of<K: Resource>(obj: &K) -> (String, String) {
    let meta = obj.meta();
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

fn ignored<K: Resource>(obj: &K) -> bool {
    obj.meta().labels.as_ref().and_then(|l| l.get(IGNORE_LABEL)).is_some_and(|v| v == "true")
}

/// A host name as the index keeps it: lower-cased, without the final dot; `None` if it is not
/// a domain name (a `*.` wildcard is).
fn host_key(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let checked = host.strip_prefix("*.").unwrap_or(&host);
    (!host.is_empty() && is_domain_name(checked) && !checked.contains('*')).then_some(host)
}

/// `hosts`, each claiming `targets`.
fn named(hosts: impl IntoIterator<Item = String>, targets: &Targets) -> Object {
    Object::Named(hosts.into_iter().map(|h| (h, targets.clone())).collect())
}

/// An Ingress: its rule and TLS hosts, answering its load balancer's addresses. `classes`, when
/// not empty, are the Ingress classes served.
pub fn ingress(ing: &Ingress, classes: &[String]) -> Object {
    let spec = ing.spec.as_ref();
    let class = spec
        .and_then(|s| s.ingress_class_name.clone())
        .or_else(|| ing.metadata.annotations.as_ref()?.get(INGRESS_CLASS_ANNOTATION).cloned());
    if ignored(ing) || !(classes.is_empty() || class.is_some_and(|c| classes.contains(&c))) {
        return Object::Named(BTreeMap::new());
    }
    let mut targets = Targets::default();
    let status = ing.status.as_ref().and_then(|s| s.load_balancer.as_ref());
    for lb in status.and_then(|s| s.ingress.as_ref()).into_iter().flatten() {
        if let Some(ip) = lb.ip.as_deref().filter(|ip| !ip.is_empty()) {
            targets.add_address(ip);
        } else if let Some(host) = lb.hostname.as_deref() {
            targets.add_host(host);
        }
    }
    let rules = spec.and_then(|s| s.rules.as_ref()).into_iter().flatten();
    let tls = spec.and_then(|s| s.tls.as_ref()).into_iter().flatten();
    let hosts = rules
        .filter_map(|r| r.host.as_deref())
        .chain(tls.flat_map(|t| t.hosts.iter().flatten().map(String::as_str)))
        .filter_map(host_key);
    named(hosts, &targets)
}

/// A Service of type LoadBalancer: its annotated host names or `NAME.NAMESPACE`, answering its
/// external IPs if it has any, else its load balancer's addresses.
pub fn service(svc: &Service) -> Object {
    let spec = svc.spec.as_ref();
    if ignored(svc) || spec.and_then(|s| s.type_.as_deref()) != Some("LoadBalancer") {
        return Object::Named(BTreeMap::new());
    }
    let mut targets = Targets::default();
    for ip in spec.and_then(|s| s.external_ips.as_ref()).into_iter().flatten() {
        if let Ok(ip) = ip.parse() {
            targets.add_ip(ip);
        }
    }
    // As k8s_gateway: external IPs, when given, are the Service's addresses and the status is
    // not read.
    if targets.is_empty() {
        let status = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref());
        for lb in status.and_then(|s| s.ingress.as_ref()).into_iter().flatten() {
            if let Some(ip) = lb.ip.as_deref().filter(|ip| !ip.is_empty()) {
                targets.add_address(ip);
            } else if let Some(host) = lb.hostname.as_deref() {
                targets.add_host(host);
            }
        }
    }
    let annotations = svc.metadata.annotations.as_ref();
    let annotated = HOSTNAME_ANNOTATIONS.iter().find_map(|a| annotations?.get(*a));
    match annotated {
        Some(list) => named(list.split(',').filter_map(host_key), &targets),
        None => {
            let (namespace, name) = key_of(svc);
            named(host_key(&format!("{name}.{namespace}")), &targets)
        }
    }
}

/// A DNSEndpoint: each endpoint's name with its A, AAAA, TXT and CNAME targets; other record
/// types are passed over.
pub fn dns_endpoint(de: &DnsEndpoint) -> Object {
    let mut names: BTreeMap<String, Targets> = BTreeMap::new();
    if ignored(de) {
        return Object::Named(names);
    }
    for ep in de.spec.iter().flat_map(|s| &s.endpoints) {
        let Some(host) = host_key(&ep.dns_name) else { continue };
        let targets = names.entry(host).or_default();
        for t in &ep.targets {
            match ep.record_type.as_str() {
                "A" | "AAAA" => {
                    if let Ok(ip) = t.parse() {
                        targets.add_ip(ip);
                    }
                }
                "TXT" if !targets.txt.contains(t) => targets.txt.push(t.clone()),
                "CNAME" => targets.add_host(t),
                _ => {}
            }
        }
    }
    names.retain(|_, t| !t.is_empty());
    Object::Named(names)
}

/// A route: its host names, and the Gateways among its parents (other parent kinds, a mesh's
/// Services, are passed over).
pub fn route<K: Resource>(obj: &K, spec: Option<&RouteSpec>) -> Object {
    if ignored(obj) {
        return Object::Route { hosts: Vec::new(), parents: Vec::new() };
    }
    let (namespace, _) = key_of(obj);
    let hosts = spec.iter().flat_map(|s| &s.hostnames).filter_map(|h| host_key(h)).collect();
    let parents = spec
        .iter()
        .flat_map(|s| &s.parent_refs)
        .filter(|p| p.group.as_deref().is_none_or(|g| g == types::GATEWAY_GROUP))
        .filter(|p| p.kind.as_deref().is_none_or(|k| k == "Gateway"))
        .map(|p| (p.namespace.clone().unwrap_or_else(|| namespace.clone()), p.name.clone()))
        .collect();
    Object::Route { hosts, parents }
}

/// A Gateway's addresses, if its class is served (`classes` empty: every class).
pub fn gateway(gw: &Gateway, classes: &[String]) -> Object {
    let mut targets = Targets::default();
    let class = gw.spec.as_ref().and_then(|s| s.gateway_class_name.as_ref());
    if !(classes.is_empty() || class.is_some_and(|c| classes.contains(c))) {
        return Object::Gateway(targets);
    }
    for addr in gw.status.iter().flat_map(|s| &s.addresses) {
        match addr.type_.as_deref() {
            None | Some("IPAddress") => {
                if let Ok(ip) = addr.value.parse() {
                    targets.add_ip(ip);
                }
            }
            Some("Hostname") => targets.add_host(&addr.value),
            Some(_) => {}
        }
    }
    Object::Gateway(targets)
}
