//! The index the handler answers from: every object reduced, keyed for the lookups DNS makes.
//!
//! Queries read a published index through an `ArcSwap` and never lock. The [`store`](crate::store)
//! keeps a working copy that it changes object by object; publishing clones it, which copies a
//! pointer per shard (`sharded`). The working copy's next change to a shard copies that shard
//! alone, so an update costs what it touched and the two indexes share everything else.
//!
//! Services and EndpointSlices are `Arc`s, shared by every index that holds them: a copied shard
//! copies pointers, not objects.

pub(crate) mod dense;
pub(crate) mod direct;
pub(crate) mod sharded;

use std::net::IpAddr;
use std::sync::Arc;

use crate::objects::{Kind, Service, Slice};
use direct::Direct;
use sharded::{Hashed, Sharded, hash_of};

/// What an address's PTR record points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReverseTarget {
    /// A Service's cluster IP: `<svc>.<ns>.svc.<zone>`.
    Service(Arc<Service>),
    /// An endpoint of a slice: `<endpoint>.<svc>.<ns>.svc.<zone>`.
    Endpoint { slice: Arc<Slice>, endpoint: u32 },
}

impl ReverseTarget {
    /// The namespace of the object pointed at.
    pub fn namespace(&self) -> &str {
        match self {
            Self::Service(s) => &s.namespace,
            Self::Endpoint { slice, .. } => &slice.namespace,
        }
    }

    /// True if this points into `slice` (the same object, not an equal one).
    fn is_in(&self, slice: &Arc<Slice>) -> bool {
        matches!(self, Self::Endpoint { slice: s, .. } if Arc::ptr_eq(s, slice))
    }

    fn is_service(&self, service: &Arc<Service>) -> bool {
        matches!(self, Self::Service(s) if Arc::ptr_eq(s, service))
    }
}

/// What one key maps to: nearly always one thing, kept inline; a list only when shared. The
/// list is a boxed slice, not a `Vec`, so the whole is 8 bytes smaller for every address of the
/// cluster; lists change rarely (addresses shared by host-network pods), so resizing is cheap.
#[derive(Debug, Clone)]
enum OneOrMore<T> {
    One(T),
    More(Box<[T]>),
}

impl<T> OneOrMore<T> {
    fn push(&mut self, item: T) {
        let mut items = match std::mem::replace(self, Self::More(Box::default())) {
            Self::One(first) => vec![first],
            Self::More(items) => items.into_vec(),
        };
        items.push(item);
        *self = Self::More(items.into_boxed_slice());
    }

    /// Removes the first item `matches` picks; false if that leaves nothing (the caller drops
    /// the whole entry, since a `One` cannot be empty).
    fn remove_first(&mut self, matches: impl Fn(&T) -> bool) -> bool {
        if let Self::One(item) = self {
            return !matches(item);
        }
        let Self::More(items) = std::mem::replace(self, Self::More(Box::default())) else {
            return true;
        };
        let mut items = items.into_vec();
        if let Some(at) = items.iter().position(matches) {
            items.remove(at);
        }
        *self = match items.len() {
            1 => Self::One(items.remove(0)),
            _ => Self::More(items.into_boxed_slice()),
        };
        true
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::More(items) => items,
        }
    }
}

/// The hash of a `(namespace, name)` key.
fn name_hash(namespace: &str, name: &str) -> u64 {
    hash_of(&(namespace, name))
}

impl Hashed for Arc<Service> {
    fn hash(&self) -> u64 {
        name_hash(&self.namespace, &self.name)
    }
}

/// The EndpointSlices of one Service; never empty.
#[derive(Debug, Clone)]
struct ServiceSlices(Vec<Arc<Slice>>);

impl ServiceSlices {
    fn is_of(&self, namespace: &str, service: &str) -> bool {
        self.0[0].namespace == namespace && self.0[0].service == service
    }
}

impl Hashed for ServiceSlices {
    fn hash(&self) -> u64 {
        name_hash(&self.0[0].namespace, &self.0[0].service)
    }
}

/// Entries keyed by an address: what PTR records it has, or which namespaces have a pod with it.
#[derive(Debug, Clone)]
struct ByAddress<T> {
    ip: IpAddr,
    items: OneOrMore<T>,
}

impl<T> Hashed for ByAddress<T> {
    fn hash(&self) -> u64 {
        hash_of(&self.ip)
    }
}

impl Hashed for Box<str> {
    fn hash(&self) -> u64 {
        hash_of(&**self)
    }
}

/// A pod as the index knows it by address.
#[derive(Debug, PartialEq, Eq)]
pub struct PodEntry {
    /// Its namespace, the string every object of the namespace shares.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: Box<str>,
    /// Its labels, by key.
    pub labels: crate::objects::Labels,
}

/// Adds `item` under `ip`.
fn add_at<T: Clone>(table: &mut Sharded<ByAddress<T>>, ip: IpAddr, item: T) {
    let hash = hash_of(&ip);
    match table.find_mut(hash, |e| e.ip == ip) {
        Some(entry) => entry.items.push(item),
        None => table.insert_new(hash, ByAddress { ip, items: OneOrMore::One(item) }),
    }
}

/// Removes the first item under `ip` that `matches` picks; false if none did.
fn remove_at<T: Clone>(
    table: &mut Sharded<ByAddress<T>>,
    ip: IpAddr,
    matches: impl Fn(&T) -> bool,
) -> bool {
    let hash = hash_of(&ip);
    let Some(entry) = table.find(hash, |e| e.ip == ip) else { return false };
    if !entry.items.as_slice().iter().any(&matches) {
        return false;
    }
    let emptied =
        table.find_mut(hash, |e| e.ip == ip).is_some_and(|e| !e.items.remove_first(matches));
    if emptied {
        table.remove(hash, |e| e.ip == ip);
    }
    true
}

/// The Service `name` in `namespace` of `table` (Services, or ServiceImports).
fn named<'a>(
    table: &'a Sharded<Arc<Service>, Direct<Arc<Service>>>,
    namespace: &str,
    name: &str,
) -> Option<&'a Arc<Service>> {
    table.find(name_hash(namespace, name), |s| s.name == name && s.namespace == namespace)
}

/// Adds `slice` to its Service's group.
fn add_to_group(table: &mut Sharded<ServiceSlices>, slice: Arc<Slice>) {
    let (namespace, service) = (slice.namespace.as_str(), slice.service.as_str());
    let hash = name_hash(namespace, service);
    match table.find_mut(hash, |s| s.is_of(namespace, service)) {
        Some(group) => group.0.push(slice),
        None => table.insert_new(hash, ServiceSlices(vec![slice])),
    }
}

/// Takes `slice` (this object, by pointer) out of its Service's group; false if not there.
fn remove_from_group(table: &mut Sharded<ServiceSlices>, slice: &Arc<Slice>) -> bool {
    let (namespace, service) = (slice.namespace.as_str(), slice.service.as_str());
    let hash = name_hash(namespace, service);
    let is_of = |s: &ServiceSlices| s.is_of(namespace, service);
    let Some(group) = table.find(hash, is_of) else { return false };
    if !group.0.iter().any(|s| Arc::ptr_eq(s, slice)) {
        return false;
    }
    // A group is never left empty: the last slice takes the entry with it.
    if group.0.len() == 1 {
        table.remove(hash, is_of);
    } else if let Some(group) = table.find_mut(hash, is_of) {
        group.0.retain(|s| !Arc::ptr_eq(s, slice));
    }
    true
}

/// Everything known, ready for lookups.
#[derive(Debug, Clone, Default)]
pub struct Index {
    services: Sharded<Arc<Service>, Direct<Arc<Service>>>,
    /// By `(namespace, service)`: the slices that serve it.
    slices: Sharded<ServiceSlices>,
    /// Namespaces that exist: listed by the API (or manifests), or, unless `strict`, named by an
    /// object.
    namespaces: Sharded<Box<str>>,
    /// Pod address → the pods with it (`pods verified`): their namespace (one shared string per
    /// namespace), name and labels.
    pods: Sharded<ByAddress<Arc<PodEntry>>>,
    reverse: Sharded<ByAddress<ReverseTarget>>,
    /// ServiceImports (`multicluster` zones), as Services: ClusterSetIP or headless.
    imports: Sharded<Arc<Service>, Direct<Arc<Service>>>,
    /// By `(namespace, imported service)`: the multicluster slices that serve it.
    clusterset_slices: Sharded<ServiceSlices>,
    /// With `namespace_labels`: objects outside the listed namespaces are kept (a namespace's
    /// labels can change) but not answered for.
    strict: bool,
    slice_count: usize,
    pod_count: usize,
    /// Seconds since the epoch when this index was published: the SOA serial.
    pub serial: u32,
    /// True once the objects have been read completely (the API synced, the manifests loaded).
    pub synced: bool,
}

impl Index {
    /// An index with nothing in it that has not synced yet.
    pub fn unsynced() -> Self {
        Self::default()
    }

    /// An empty index; with `strict`, only objects in namespaces that exist are answered for.
    pub(crate) fn new(strict: bool) -> Self {
        Self { strict, ..Self::default() }
    }

    /// True if answers may name objects of `namespace`.
    fn visible(&self, namespace: &str) -> bool {
        !self.strict || self.has_namespace(namespace)
    }

    /// The Service `name` in `namespace`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        let found = self.any_service(namespace, name)?;
        self.visible(namespace).then_some(found)
    }

    /// The Service, visible or not.
    pub(crate) fn any_service(&self, namespace: &str, name: &str) -> Option<&Arc<Service>> {
        named(&self.services, namespace, name)
    }

    /// The EndpointSlices of a Service.
    pub fn slices(&self, namespace: &str, service: &str) -> &[Arc<Slice>] {
        self.group(&self.slices, namespace, service)
    }

    /// The ServiceImport `name` in `namespace`, as a Service.
    pub fn import(&self, namespace: &str, name: &str) -> Option<&Service> {
        let found = self.any_import(namespace, name)?;
        self.visible(namespace).then_some(found)
    }

    /// The ServiceImport, visible or not.
    pub(crate) fn any_import(&self, namespace: &str, name: &str) -> Option<&Arc<Service>> {
        named(&self.imports, namespace, name)
    }

    /// The multicluster EndpointSlices of a ServiceImport, from every cluster.
    pub fn clusterset_slices(&self, namespace: &str, service: &str) -> &[Arc<Slice>] {
        self.group(&self.clusterset_slices, namespace, service)
    }

    fn group<'a>(
        &self,
        table: &'a Sharded<ServiceSlices>,
        namespace: &str,
        service: &str,
    ) -> &'a [Arc<Slice>] {
        if !self.visible(namespace) {
            return &[];
        }
        table
            .find(name_hash(namespace, service), |s| s.is_of(namespace, service))
            .map_or(&[], |s| &s.0)
    }

    /// True if the namespace is known.
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.find(hash_of(namespace), |n| **n == *namespace).is_some()
    }

    /// True if a pod in `namespace` has address `ip`.
    pub fn has_pod(&self, namespace: &str, ip: IpAddr) -> bool {
        self.visible(namespace)
            && self
                .pods
                .find(hash_of(&ip), |e| e.ip == ip)
                .is_some_and(|e| e.items.as_slice().iter().any(|p| &*p.namespace == namespace))
    }

    /// The first pod that arrived with address `ip` (CoreDNS's `podWithIP`): a query's client,
    /// for *metadata*.
    pub fn pod_with_ip(&self, ip: IpAddr) -> Option<&PodEntry> {
        let entry = self.pods.find(hash_of(&ip), |e| e.ip == ip)?;
        entry.items.as_slice().first().map(|p| &**p)
    }

    /// What PTR records `ip` has, in the order their objects arrived.
    pub fn reverse(&self, ip: IpAddr) -> impl Iterator<Item = &ReverseTarget> + Clone {
        let targets = self.reverse.find(hash_of(&ip), |e| e.ip == ip);
        targets
            .map_or(&[][..], |e| e.items.as_slice())
            .iter()
            .filter(|t| self.visible(t.namespace()))
    }

    /// Every Service, visible or not.
    pub(crate) fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.iter()
    }

    /// Every ServiceImport, visible or not.
    pub(crate) fn imports(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.imports.iter()
    }

    /// How many services, slices and pods the index holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.services.len(), self.slice_count, self.pod_count)
    }

    /// Adds a Service whose key the index does not hold.
    pub(crate) fn add_service(&mut self, s: Arc<Service>) {
        if let Kind::ClusterIp(ips) = &s.kind {
            for ip in ips {
                add_at(&mut self.reverse, *ip, ReverseTarget::Service(s.clone()));
            }
        }
        self.services.insert_new(s.hash(), s);
    }

    /// Takes out the Service `name` in `namespace`.
    pub(crate) fn remove_service(&mut self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        let hash = name_hash(namespace, name);
        let s = self.services.remove(hash, |s| s.name == name && s.namespace == namespace)?;
        if let Kind::ClusterIp(ips) = &s.kind {
            for ip in ips {
                remove_at(&mut self.reverse, *ip, |t| t.is_service(&s));
            }
        }
        Some(s)
    }

    /// Adds a slice (not yet in the index).
    pub(crate) fn add_slice(&mut self, slice: Arc<Slice>) {
        for (endpoint, e) in slice.endpoints.iter().enumerate() {
            let endpoint = u32::try_from(endpoint).unwrap_or(u32::MAX);
            add_at(
                &mut self.reverse,
                e.ip,
                ReverseTarget::Endpoint { slice: slice.clone(), endpoint },
            );
        }
        add_to_group(&mut self.slices, slice);
        self.slice_count += 1;
    }

    /// Takes out this slice (the object itself, found by pointer).
    pub(crate) fn remove_slice(&mut self, slice: &Arc<Slice>) {
        for e in &slice.endpoints {
            remove_at(&mut self.reverse, e.ip, |t| t.is_in(slice));
        }
        if remove_from_group(&mut self.slices, slice) {
            self.slice_count -= 1;
        }
    }

    /// Adds a ServiceImport (as a Service) whose key the index does not hold.
    pub(crate) fn add_import(&mut self, s: Arc<Service>) {
        self.imports.insert_new(s.hash(), s);
    }

    /// Takes out the ServiceImport `name` in `namespace`.
    pub(crate) fn remove_import(&mut self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        let hash = name_hash(namespace, name);
        self.imports.remove(hash, |s| s.name == name && s.namespace == namespace)
    }

    /// Adds a multicluster slice (not yet in the index). Its addresses get no PTR records, as
    /// in CoreDNS: reverse names are the local cluster's.
    pub(crate) fn add_clusterset_slice(&mut self, slice: Arc<Slice>) {
        add_to_group(&mut self.clusterset_slices, slice);
    }

    /// Takes out this multicluster slice (found by pointer).
    pub(crate) fn remove_clusterset_slice(&mut self, slice: &Arc<Slice>) {
        remove_from_group(&mut self.clusterset_slices, slice);
    }

    /// Adds a pod with address `ip`.
    pub(crate) fn add_pod(&mut self, pod: Arc<PodEntry>, ip: IpAddr) {
        add_at(&mut self.pods, ip, pod);
        self.pod_count += 1;
    }

    /// Removes pod `namespace`/`name` from address `ip`.
    pub(crate) fn remove_pod(&mut self, namespace: &str, name: &str, ip: IpAddr) {
        let same = |p: &Arc<PodEntry>| &*p.namespace == namespace && &*p.name == name;
        if remove_at(&mut self.pods, ip, same) {
            self.pod_count -= 1;
        }
    }

    /// Says whether `namespace` exists from now on.
    pub(crate) fn set_namespace(&mut self, namespace: &str, exists: bool) {
        let hash = hash_of(namespace);
        let known = self.has_namespace(namespace);
        if exists && !known {
            self.namespaces.insert_new(hash, namespace.into());
        } else if !exists && known {
            self.namespaces.remove(hash, |n| **n == *namespace);
        }
    }

    /// Gives back the room a burst of additions left (after a list).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.services.shrink_to_fit();
        self.slices.shrink_to_fit();
        self.namespaces.shrink_to_fit();
        self.pods.shrink_to_fit();
        self.reverse.shrink_to_fit();
        self.imports.shrink_to_fit();
        self.clusterset_slices.shrink_to_fit();
    }

    /// How many of the tables' shards `other` shares with `self` (for tests).
    #[cfg(test)]
    pub(crate) fn shared_shards(&self, other: &Self) -> usize {
        self.services.shared_shards(&other.services)
            + self.slices.shared_shards(&other.slices)
            + self.namespaces.shared_shards(&other.namespaces)
            + self.pods.shared_shards(&other.pods)
            + self.reverse.shared_shards(&other.reverse)
            + self.imports.shared_shards(&other.imports)
            + self.clusterset_slices.shared_shards(&other.clusterset_slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_more_keeps_every_item_in_order() {
        let mut items = OneOrMore::One("a");
        items.push("b");
        items.push("c");
        assert_eq!(items.as_slice(), ["a", "b", "c"]);
        assert!(items.remove_first(|i| *i == "b"));
        assert_eq!(items.as_slice(), ["a", "c"]);
        assert!(items.remove_first(|i| *i == "a"));
        assert!(matches!(items, OneOrMore::One("c")));
        assert!(items.remove_first(|i| *i == "x"), "nothing matched: still holds c");
        assert!(!items.remove_first(|i| *i == "c"), "the last one goes: the entry must go");
    }
}
