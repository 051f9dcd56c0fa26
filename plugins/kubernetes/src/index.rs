//! The index the handler answers from: every object reduced, keyed for the lookups DNS makes.
//! It is immutable; a change builds a new one that replaces it whole, so queries never lock.
//!
//! Services and EndpointSlices are shared (`Arc`) with the watch's store and with the index
//! before this one, so a rebuild copies keys and pointers, not objects: with 10 000 Services and
//! 50 000 endpoints that is the difference between one copy of the cluster in memory and three.

// foldhash, not SipHash: every query hashes a name or two here, and the keys come from the
// API or manifests, never from queries (which only look up), so a flood of colliding keys
// cannot be planted through DNS.
use foldhash::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use crate::objects::{Kind, Service, Slice};
use crate::selector::Filter;

/// What an address's PTR record points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReverseTarget {
    /// A Service's cluster IP: `<svc>.<ns>.svc.<zone>`.
    Service(Arc<Service>),
    /// An endpoint of a slice: `<endpoint>.<svc>.<ns>.svc.<zone>`.
    Endpoint { slice: Arc<Slice>, endpoint: usize },
}

impl ReverseTarget {
    /// The namespace of the object pointed at.
    pub fn namespace(&self) -> &str {
        match self {
            Self::Service(s) => &s.namespace,
            Self::Endpoint { slice, .. } => &slice.namespace,
        }
    }
}

/// What one address maps to: nearly always one thing, kept inline; a list only when shared.
#[derive(Debug, Clone)]
enum OneOrMore<T> {
    One(T),
    More(Vec<T>),
}

impl<T> OneOrMore<T> {
    fn push(&mut self, item: T) {
        match self {
            Self::More(items) => items.push(item),
            Self::One(_) => {
                if let Self::One(first) = std::mem::replace(self, Self::More(Vec::new())) {
                    *self = Self::More(vec![first, item]);
                }
            }
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::More(items) => items,
        }
    }
}

fn add<K: std::hash::Hash + Eq, T>(map: &mut HashMap<K, OneOrMore<T>>, key: K, item: T) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(item),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(OneOrMore::One(item));
        }
    }
}

/// Everything known, ready for lookups.
#[derive(Debug, Default)]
pub struct Index {
    /// namespace → name → Service: nested so that a lookup by `&str` allocates nothing.
    services: HashMap<String, HashMap<String, Arc<Service>>>,
    /// namespace → Service name → its EndpointSlices.
    slices: HashMap<String, HashMap<String, Vec<Arc<Slice>>>>,
    namespaces: HashSet<String>,
    /// Pod address → the namespaces of the pods with it (one string per namespace, shared).
    pods: HashMap<IpAddr, OneOrMore<Arc<str>>>,
    reverse: HashMap<IpAddr, OneOrMore<ReverseTarget>>,
    slice_count: usize,
    /// Seconds since the epoch when this index was built: the SOA serial.
    pub serial: u32,
    /// True once the objects have been read completely (the API synced, the manifests loaded).
    pub synced: bool,
}

impl Index {
    /// Builds the index. Namespaces named by any object exist, as well as those listed.
    pub fn build(
        services: Vec<Arc<Service>>,
        slices: Vec<Arc<Slice>>,
        pods: Vec<(&str, IpAddr)>,
        namespaces: Vec<String>,
        serial: u32,
    ) -> Self {
        let mut index = Self { serial, synced: true, ..Self::default() };
        index.namespaces.extend(namespaces);
        for s in services {
            index.namespaces.insert(s.namespace.clone());
            if let Kind::ClusterIp(ips) = &s.kind {
                for ip in ips {
                    add(&mut index.reverse, *ip, ReverseTarget::Service(s.clone()));
                }
            }
            let by_name = index.services.entry(s.namespace.clone()).or_default();
            by_name.insert(s.name.clone(), s);
        }
        index.slice_count = slices.len();
        for slice in slices {
            index.namespaces.insert(slice.namespace.clone());
            for (endpoint, e) in slice.endpoints.iter().enumerate() {
                let target = ReverseTarget::Endpoint { slice: slice.clone(), endpoint };
                add(&mut index.reverse, e.ip, target);
            }
            index
                .slices
                .entry(slice.namespace.clone())
                .or_default()
                .entry(slice.service.clone())
                .or_default()
                .push(slice);
        }
        let mut interned: HashMap<&str, Arc<str>> = HashMap::default();
        for (namespace, ip) in pods {
            let ns = interned.entry(namespace).or_insert_with(|| {
                index.namespaces.insert(namespace.to_string());
                Arc::from(namespace)
            });
            add(&mut index.pods, ip, ns.clone());
        }
        index
    }

    /// Builds the index from the objects `filter` lets through: with `namespace_labels`, only
    /// objects in the listed (matched) namespaces.
    pub fn build_filtered(
        mut services: Vec<Arc<Service>>,
        mut slices: Vec<Arc<Slice>>,
        mut pods: Vec<(&str, IpAddr)>,
        namespaces: Vec<String>,
        serial: u32,
        filter: &Filter,
    ) -> Self {
        if filter.strict_namespaces() {
            let known: HashSet<&str> = namespaces.iter().map(String::as_str).collect();
            services.retain(|s| known.contains(s.namespace.as_str()));
            slices.retain(|s| known.contains(s.namespace.as_str()));
            pods.retain(|(ns, _)| known.contains(ns));
        }
        Self::build(services, slices, pods, namespaces, serial)
    }

    /// An index with nothing in it that has not synced yet.
    pub fn unsynced() -> Self {
        Self::default()
    }

    /// The Service `name` in `namespace`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(namespace)?.get(name).map(|s| &**s)
    }

    /// The EndpointSlices of a Service.
    pub fn slices(&self, namespace: &str, service: &str) -> &[Arc<Slice>] {
        self.slices.get(namespace).and_then(|s| s.get(service)).map_or(&[], Vec::as_slice)
    }

    /// True if the namespace is known.
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace)
    }

    /// True if a pod in `namespace` has address `ip`.
    pub fn has_pod(&self, namespace: &str, ip: IpAddr) -> bool {
        self.pods.get(&ip).is_some_and(|ns| ns.as_slice().iter().any(|n| &**n == namespace))
    }

    /// What PTR records `ip` has, in the order objects were indexed.
    pub fn reverse(&self, ip: IpAddr) -> &[ReverseTarget] {
        self.reverse.get(&ip).map_or(&[], OneOrMore::as_slice)
    }

    /// How many services, slices and pods the index holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.services.values().map(HashMap::len).sum(),
            self.slice_count,
            self.pods.values().map(|p| p.as_slice().len()).sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_more_keeps_every_item_in_order() {
        let mut map: HashMap<u8, OneOrMore<&str>> = HashMap::default();
        add(&mut map, 1, "a");
        assert_eq!(map[&1].as_slice(), ["a"]);
        add(&mut map, 1, "b");
        add(&mut map, 1, "c");
        add(&mut map, 2, "z");
        assert_eq!(map[&1].as_slice(), ["a", "b", "c"]);
        assert_eq!(map[&2].as_slice(), ["z"]);
    }
}
