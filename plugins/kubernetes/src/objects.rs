//! The few fields DNS needs of Kubernetes objects, taken from the API's types.
//!
//! Keeping only these (CoreDNS's `object` package does the same) is what keeps memory flat in a
//! big cluster: a Service is a name, a namespace, its addresses and ports; an EndpointSlice the
//! ready addresses with their names. An object with a field that does not parse is skipped with a
//! reason, never half-used.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use compact_str::CompactString;
use k8s_openapi::api::core::v1::{Namespace as K8sNamespace, Pod as K8sPod, Service as K8sService};
use k8s_openapi::api::discovery::v1::EndpointSlice as K8sSlice;
use smallvec::SmallVec;

use crate::mcs::{self, ServiceImport};

/// One port of a Service or an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The port's name, lower-cased; empty if unnamed.
    pub name: CompactString,
    /// `tcp`, `udp` or `sctp` (the API allows no other, but one is kept as given).
    pub protocol: Cow<'static, str>,
    /// The number.
    pub port: u16,
}

/// A Service's cluster IPs, the first inline.
pub type ClusterIps = SmallVec<[IpAddr; 1]>;

/// What kind of Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Has cluster IPs (ClusterIP, NodePort, LoadBalancer): one, or two when dual-stack.
    ClusterIp(ClusterIps),
    /// `clusterIP: None`: answered with the endpoints' addresses.
    Headless,
    /// A CNAME to this name (fully qualified).
    ExternalName(String),
}

/// A Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Lower-cased name.
    pub name: CompactString,
    /// Lower-cased namespace.
    pub namespace: CompactString,
    /// Addresses or target.
    pub kind: Kind,
    /// Its ports.
    pub ports: Vec<Port>,
    /// `spec.externalIPs`, then each `status.loadBalancer.ingress` address (or hostname, if it
    /// has no address), as CoreDNS's `ExternalIPs`: what *k8s_external* answers. Empty (no
    /// allocation) for most Services.
    pub external: Box<[Box<str>]>,
}

/// One address of an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address.
    pub ip: IpAddr,
    /// `hostname`, if set (StatefulSet pods).
    pub hostname: Option<Box<str>>,
    /// The pod it belongs to, if the slice says.
    pub pod: Option<Box<str>>,
    /// Ready, or readiness not reported.
    pub ready: bool,
    /// Its topology zone, as an index into its slice's `zones` plus one; 0 for none. (A number
    /// fits in the struct's padding: a string here would cost 16 bytes for every endpoint of
    /// the cluster, zonal or not.)
    pub zone: u16,
}

/// An EndpointSlice, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The slice's own name, lower-cased (several slices can serve one Service).
    pub name: CompactString,
    /// Lower-cased namespace.
    pub namespace: CompactString,
    /// The Service it belongs to (label `kubernetes.io/service-name`).
    pub service: CompactString,
    /// Its endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Its ports.
    pub ports: Vec<Port>,
    /// For a multicluster slice, the cluster its endpoints are in (label
    /// `multicluster.kubernetes.io/source-cluster`), if the slice says.
    pub cluster: Option<Box<str>>,
    /// The distinct topology zones of its endpoints (lower-cased), kept only for `zonal`.
    pub zones: Box<[Box<str>]>,
}

impl Slice {
    /// The topology zone of one of its endpoints, if known.
    pub fn zone_of(&self, e: &Endpoint) -> Option<&str> {
        let at = usize::from(e.zone).checked_sub(1)?;
        self.zones.get(at).map(|z| &**z)
    }
}

/// What of an EndpointSlice to keep beyond addresses and names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// The endpoints' pod names (`endpoint_pod_names`).
    pub pod_names: bool,
    /// The endpoints' topology zones (`zonal`).
    pub zones: bool,
}

/// A Pod, reduced to its address, name and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Lower-cased namespace.
    pub namespace: CompactString,
    /// Its name, lower-cased.
    pub name: CompactString,
    /// `status.podIP`.
    pub ip: IpAddr,
    /// `metadata.labels`, by key: *metadata*'s `kubernetes/client-label/KEY` of a query from
    /// this pod.
    pub labels: Labels,
}

/// A pod's labels, sorted by key, shared by the store and the index.
pub type Labels = Arc<[(Box<str>, Box<str>)]>;

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// `s` lower-cased, inline when it is short.
fn lower_compact(s: &str) -> CompactString {
    let mut lowered = CompactString::new(s);
    lowered.make_ascii_lowercase();
    lowered
}

/// An object's namespace as the index keys it: lower-cased, `default` when not given.
pub fn namespace_or_default(namespace: Option<&str>) -> CompactString {
    lower_compact(namespace.unwrap_or("default"))
}

/// A protocol's lower-case name; the three the API knows are static strings, since every
/// port has one.
fn protocol_of(given: &str) -> Cow<'static, str> {
    match lower(given).as_str() {
        "tcp" => Cow::Borrowed("tcp"),
        "udp" => Cow::Borrowed("udp"),
        "sctp" => Cow::Borrowed("sctp"),
        other => Cow::Owned(other.to_string()),
    }
}

fn port_of(name: Option<&String>, protocol: Option<&String>, port: i32) -> Result<Port, String> {
    let port = u16::try_from(port).map_err(|_| format!("port {port} out of range"))?;
    Ok(Port {
        name: name.map(|n| lower_compact(n)).unwrap_or_default(),
        protocol: protocol_of(protocol.map_or("tcp", String::as_str)),
        port,
    })
}

/// A Service's (or ServiceImport's) name, which is one label of the names answered for it.
fn label_name(name: Option<&str>) -> Result<&str, String> {
    let name = name.ok_or("no metadata.name")?;
    if name.len() > 63 {
        return Err(format!("name {name:?} is longer than a DNS label"));
    }
    Ok(name)
}

/// A Service from the API's object; `Err` says why it cannot be used.
pub fn service(s: &K8sService) -> Result<Service, String> {
    let name = label_name(s.metadata.name.as_deref())?;
    let spec = s.spec.as_ref().ok_or("no spec")?;
    let mut ports = Vec::new();
    for p in spec.ports.iter().flatten() {
        ports.push(port_of(p.name.as_ref(), p.protocol.as_ref(), p.port)?);
    }
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        let target = spec.external_name.as_deref().ok_or("ExternalName without externalName")?;
        // An IP literal is no name: CoreDNS ignores such a Service.
        if target.parse::<IpAddr>().is_ok() {
            return Err(format!("externalName {target:?} is an IP address"));
        }
        let fqdn = plugin_api::pkg::zone::normalize(target);
        if !plugin_api::pkg::zone::is_domain_name(&fqdn) {
            return Err(format!("externalName {target:?} is not a domain name"));
        }
        Kind::ExternalName(fqdn)
    } else {
        let mut ips: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
        if ips.is_empty()
            && let Some(ip) = &spec.cluster_ip
        {
            ips.push(ip.clone());
        }
        if ips.iter().any(|ip| ip == "None") {
            Kind::Headless
        } else if ips.is_empty() {
            return Err("no clusterIP".into());
        } else {
            let mut parsed = ClusterIps::with_capacity(ips.len());
            for ip in &ips {
                parsed.push(ip.parse().map_err(|_| format!("clusterIPs {ips:?} do not parse"))?);
            }
            Kind::ClusterIp(parsed)
        }
    };
    let namespace = namespace_or_default(s.metadata.namespace.as_deref());
    ports.shrink_to_fit();
    let ingress = s
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    let from_ingress = ingress.into_iter().flatten().filter_map(|i| {
        i.ip.as_deref().filter(|ip| !ip.is_empty()).or(i.hostname.as_deref()).map(Into::into)
    });
    let external = spec
        .external_ips
        .iter()
        .flatten()
        .map(|ip| ip.as_str().into())
        .chain(from_ingress)
        .collect();
    Ok(Service { name: lower_compact(name), namespace, kind, ports, external })
}

/// The label naming the Service of an EndpointSlice.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// An EndpointSlice from the API's object; its endpoints' pod names and zones are kept only if
/// asked for (`endpoint_pod_names`, `zonal`): 50 000 pod names are a few megabytes nothing else
/// reads.
pub fn slice(s: &K8sSlice, keep: Keep) -> Result<Slice, String> {
    slice_of(s, keep, SERVICE_NAME_LABEL)
}

/// A multicluster EndpointSlice: one labelled with the ServiceImport it serves and, usually,
/// the cluster its endpoints are in.
pub fn clusterset_slice(s: &K8sSlice, pod_names: bool) -> Result<Slice, String> {
    // Zonal names are not defined in multicluster zones.
    let keep = Keep { pod_names, zones: false };
    let mut slice = slice_of(s, keep, mcs::SERVICE_NAME_LABEL)?;
    let labels = s.metadata.labels.as_ref();
    slice.cluster = labels.and_then(|l| l.get(mcs::SOURCE_CLUSTER_LABEL)).map(|c| lower(c).into());
    Ok(slice)
}

/// A ServiceImport, as the Service it stands for: `ClusterSetIP` with its addresses, or
/// `Headless`.
pub fn service_import(si: &ServiceImport) -> Result<Service, String> {
    let name = label_name(si.metadata.name.as_deref())?;
    let spec = si.spec.as_ref().ok_or("no spec")?;
    let mut ports = Vec::with_capacity(spec.ports.len());
    for p in &spec.ports {
        ports.push(port_of(p.name.as_ref(), p.protocol.as_ref(), p.port)?);
    }
    let kind = match spec.type_.as_deref() {
        Some("Headless") => Kind::Headless,
        Some("ClusterSetIP") | None => {
            if spec.ips.is_empty() {
                return Err("ClusterSetIP without ips".into());
            }
            let mut parsed = ClusterIps::with_capacity(spec.ips.len());
            for ip in &spec.ips {
                parsed.push(ip.parse().map_err(|_| format!("ips {:?} do not parse", spec.ips))?);
            }
            Kind::ClusterIp(parsed)
        }
        Some(other) => return Err(format!("unknown type {other:?}")),
    };
    let namespace = namespace_or_default(si.metadata.namespace.as_deref());
    Ok(Service { name: lower_compact(name), namespace, kind, ports, external: Box::default() })
}

fn slice_of(s: &K8sSlice, keep: Keep, service_label: &str) -> Result<Slice, String> {
    let name = lower_compact(s.metadata.name.as_deref().unwrap_or_default());
    let namespace = namespace_or_default(s.metadata.namespace.as_deref());
    let service = s
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(service_label))
        .ok_or_else(|| format!("no {service_label} label"))?;
    let mut ports = Vec::new();
    for p in s.ports.iter().flatten() {
        if let Some(port) = p.port {
            ports.push(port_of(p.name.as_ref(), p.protocol.as_ref(), port)?);
        }
    }
    let mut endpoints = Vec::new();
    let mut zones: Vec<Box<str>> = Vec::new();
    for e in &s.endpoints {
        let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        let zone = match e.zone.as_deref().filter(|_| keep.zones) {
            None => 0,
            Some(z) => {
                let z = lower(z);
                let at = match zones.iter().position(|known| **known == *z) {
                    Some(at) => at,
                    None => {
                        zones.push(z.into());
                        zones.len() - 1
                    }
                };
                u16::try_from(at + 1).map_err(|_| "more than 65535 zones".to_string())?
            }
        };
        let pod = e
            .target_ref
            .as_ref()
            .filter(|t| keep.pod_names && t.kind.as_deref() == Some("Pod"))
            .and_then(|t| t.name.as_deref())
            .map(Box::<str>::from);
        for a in &e.addresses {
            let ip: IpAddr = a.parse().map_err(|_| format!("address {a:?} does not parse"))?;
            endpoints.push(Endpoint {
                ip,
                hostname: e.hostname.as_deref().map(|h| lower(h).into_boxed_str()),
                pod: pod.clone(),
                ready,
                zone,
            });
        }
    }
    // Exact sizes: a pushed-to vector keeps up to twice its length, for as long as the object
    // lives (heaptrack on kube_scale: 5.8 MB of endpoint vectors, 2.2 MB of port vectors).
    ports.shrink_to_fit();
    endpoints.shrink_to_fit();
    let zones = zones.into_boxed_slice();
    Ok(Slice {
        name,
        namespace,
        service: lower_compact(service),
        endpoints,
        ports,
        cluster: None,
        zones,
    })
}

/// A Pod from the API's object (only running pods with an address are of use).
pub fn pod(p: &K8sPod) -> Result<Pod, String> {
    let name = lower_compact(p.metadata.name.as_deref().unwrap_or_default());
    let namespace = namespace_or_default(p.metadata.namespace.as_deref());
    let ip = p.status.as_ref().and_then(|s| s.pod_ip.as_deref()).ok_or("no status.podIP")?;
    let ip: IpAddr = ip.parse().map_err(|_| format!("podIP {ip:?} does not parse"))?;
    let labels = p.metadata.labels.iter().flatten();
    let labels = labels.map(|(k, v)| (k.as_str().into(), v.as_str().into())).collect();
    Ok(Pod { namespace, name, ip, labels })
}

/// A namespace's name.
pub fn namespace(n: &K8sNamespace) -> Result<String, String> {
    n.metadata.name.as_deref().map(lower).ok_or_else(|| "no metadata.name".into())
}
