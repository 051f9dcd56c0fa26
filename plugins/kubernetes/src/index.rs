//! The index the handler answers from: every object reduced, keyed for the lookups DNS makes.
//! It is immutable; a change builds a new one that replaces it whole, so queries never lock.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::objects::{Kind, Pod, Service, Slice};
use crate::selector::Filter;

/// What an address's PTR record points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReverseTarget {
    /// A Service's cluster IP: `<svc>.<ns>.svc.<zone>`.
    Service { name: String, namespace: String },
    /// An endpoint: `<endpoint>.<svc>.<ns>.svc.<zone>`.
    Endpoint { endpoint: usize, slice: usize, service: String, namespace: String },
}

/// Everything known, ready for lookups.
#[derive(Debug, Default)]
pub struct Index {
    /// namespace → name → Service: nested so that a lookup by `&str` allocates nothing.
    services: HashMap<String, HashMap<String, Service>>,
    /// namespace → Service name → its EndpointSlices.
    slices: HashMap<String, HashMap<String, Vec<Slice>>>,
    namespaces: HashSet<String>,
    pods: HashMap<IpAddr, Vec<Pod>>,
    reverse: HashMap<IpAddr, Vec<ReverseTarget>>,
    /// All slices in one list, for reverse targets to point into.
    all_slices: Vec<Slice>,
    /// Seconds since the epoch when this index was built: the SOA serial.
    pub serial: u32,
    /// True once the objects have been read completely (the API synced, the manifests loaded).
    pub synced: bool,
}

impl Index {
    /// Builds the index. Namespaces named by any object exist, as well as those listed.
    pub fn build(
        services: Vec<Service>,
        slices: Vec<Slice>,
        pods: Vec<Pod>,
        namespaces: Vec<String>,
        serial: u32,
    ) -> Self {
        let mut index = Self { serial, synced: true, ..Self::default() };
        index.namespaces.extend(namespaces);
        for s in services {
            index.namespaces.insert(s.namespace.clone());
            if let Kind::ClusterIp(ips) = &s.kind {
                for ip in ips {
                    index.reverse.entry(*ip).or_default().push(ReverseTarget::Service {
                        name: s.name.clone(),
                        namespace: s.namespace.clone(),
                    });
                }
            }
            index.services.entry(s.namespace.clone()).or_default().insert(s.name.clone(), s);
        }
        for (si, slice) in slices.iter().enumerate() {
            index.namespaces.insert(slice.namespace.clone());
            for (ei, e) in slice.endpoints.iter().enumerate() {
                index.reverse.entry(e.ip).or_default().push(ReverseTarget::Endpoint {
                    endpoint: ei,
                    slice: si,
                    service: slice.service.clone(),
                    namespace: slice.namespace.clone(),
                });
            }
            index
                .slices
                .entry(slice.namespace.clone())
                .or_default()
                .entry(slice.service.clone())
                .or_default()
                .push(slice.clone());
        }
        index.all_slices = slices;
        for p in pods {
            index.namespaces.insert(p.namespace.clone());
            index.pods.entry(p.ip).or_default().push(p);
        }
        index
    }

    /// Builds the index from the objects `filter` lets through: with `namespace_labels`, only
    /// objects in the listed (matched) namespaces.
    pub fn build_filtered(
        mut services: Vec<Service>,
        mut slices: Vec<Slice>,
        mut pods: Vec<Pod>,
        namespaces: Vec<String>,
        serial: u32,
        filter: &Filter,
    ) -> Self {
        if filter.strict_namespaces() {
            let known: HashSet<&str> = namespaces.iter().map(String::as_str).collect();
            services.retain(|s| known.contains(s.namespace.as_str()));
            slices.retain(|s| known.contains(s.namespace.as_str()));
            pods.retain(|p| known.contains(p.namespace.as_str()));
        }
        Self::build(services, slices, pods, namespaces, serial)
    }

    /// An index with nothing in it that has not synced yet.
    pub fn unsynced() -> Self {
        Self::default()
    }

    /// The Service `name` in `namespace`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(namespace)?.get(name)
    }

    /// The EndpointSlices of a Service.
    pub fn slices(&self, namespace: &str, service: &str) -> &[Slice] {
        self.slices.get(namespace).and_then(|s| s.get(service)).map_or(&[], Vec::as_slice)
    }

    /// True if the namespace is known.
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace)
    }

    /// True if a pod in `namespace` has address `ip`.
    pub fn has_pod(&self, namespace: &str, ip: IpAddr) -> bool {
        self.pods.get(&ip).is_some_and(|ps| ps.iter().any(|p| p.namespace == namespace))
    }

    /// What PTR records `ip` has, in the order objects were indexed.
    pub fn reverse(&self, ip: IpAddr) -> &[ReverseTarget] {
        self.reverse.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// The endpoint a reverse target points at.
    pub fn endpoint(&self, slice: usize, endpoint: usize) -> Option<&crate::objects::Endpoint> {
        self.all_slices.get(slice)?.endpoints.get(endpoint)
    }

    /// How many services, slices and pods the index holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.services.values().map(HashMap::len).sum(),
            self.all_slices.len(),
            self.pods.values().map(Vec::len).sum(),
        )
    }
}
