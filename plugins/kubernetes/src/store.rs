//! The writer's side of the index: the objects as the API (or the manifests) last gave them,
//! and the working copy of the [`Index`] that each change updates in place.
//!
//! A change replaces what it names and nothing else: a new Service adds its entry and its
//! reverse entries; a changed EndpointSlice takes out its old endpoints and puts in its new ones;
//! an object equal to the one held changes nothing. [`Store::snapshot`] hands out the index to
//! publish, sharing every shard the next changes do not touch.
//!
//! A namespace exists while the API lists it or (unless `namespace_labels` makes only listed
//! namespaces count) while an object names it: the store counts the objects per namespace.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::index::dense::Dense;
use crate::index::sharded::Shard;
use crate::index::sharded::{Hashed, hash_of};
use crate::index::{Index, PodEntry};
use crate::objects::{Pod, Service, Slice};
use foldhash::HashMap;

/// One reduced object of any kind.
#[derive(Debug, Clone)]
pub enum Object {
    /// A Service.
    Service(Arc<Service>),
    /// An EndpointSlice.
    Slice(Arc<Slice>),
    /// A Pod.
    Pod(Pod),
    /// A Namespace, by name.
    Namespace(String),
    /// A ServiceImport (`multicluster`), as the Service it stands for.
    Import(Arc<Service>),
    /// A multicluster EndpointSlice: of a ServiceImport, from any cluster.
    ClustersetSlice(Arc<Slice>),
}

/// The kinds of object the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Services.
    Service,
    /// EndpointSlices.
    Slice,
    /// Pods.
    Pod,
    /// Namespaces.
    Namespace,
    /// ServiceImports.
    Import,
    /// Multicluster EndpointSlices.
    ClustersetSlice,
}

impl Object {
    /// Its kind.
    pub fn kind(&self) -> ObjectKind {
        match self {
            Self::Service(_) => ObjectKind::Service,
            Self::Slice(_) => ObjectKind::Slice,
            Self::Pod(_) => ObjectKind::Pod,
            Self::Namespace(_) => ObjectKind::Namespace,
            Self::Import(_) => ObjectKind::Import,
            Self::ClustersetSlice(_) => ObjectKind::ClustersetSlice,
        }
    }

    /// `(namespace, name)`; a Namespace's own namespace is empty.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Self::Service(s) | Self::Import(s) => (&s.namespace, &s.name),
            Self::Slice(s) | Self::ClustersetSlice(s) => (&s.namespace, &s.name),
            Self::Pod(p) => (&p.namespace, &p.name),
            Self::Namespace(n) => ("", n),
        }
    }
}

/// A pod as the store keeps it: its address, and what the index holds for it (who it is, for
/// its deletion, and its labels).
#[derive(Debug)]
struct PodRecord {
    ip: IpAddr,
    entry: Arc<PodEntry>,
}

/// The keys a list named, as 128-bit hashes (16 bytes a key, not a copy of the object): two
/// keys sharing both hashes would keep an object the API deleted, a chance of about 1 in 10^28
/// for a hundred thousand keys.
#[derive(Debug, Default)]
pub struct ListedKeys(HashSet<(u64, u64)>);

impl ListedKeys {
    /// Records a listed key.
    pub fn insert(&mut self, namespace: &str, name: &str) {
        self.0.insert(Self::hash(namespace, name));
    }

    /// True if the list named this key.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.0.contains(&Self::hash(namespace, name))
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.0.clear();
        self.0.shrink_to_fit();
    }

    fn hash(namespace: &str, name: &str) -> (u64, u64) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let second = BuildHasherDefault::<DefaultHasher>::default().hash_one((namespace, name));
        (key_hash(namespace, name), second)
    }
}

/// Why a namespace exists.
#[derive(Debug, Default)]
struct Presence {
    listed: bool,
    objects: u32,
}

/// The objects and the working index.
#[derive(Debug)]
pub struct Store {
    index: Index,
    /// Every slice by `(namespace, slice name)`: a deletion names the slice, while the index
    /// finds slices by their Service.
    slices: Dense<Arc<Slice>>,
    /// Every multicluster slice by `(namespace, slice name)`.
    clusterset_slices: Dense<Arc<Slice>>,
    /// Every pod by `(namespace, name)`; the index knows pods by address.
    pods: Dense<PodRecord>,
    /// Each namespace listed or named by an object, with the one string its pods share.
    namespaces: HashMap<Arc<str>, Presence>,
    strict: bool,
}

fn key_hash(namespace: &str, name: &str) -> u64 {
    hash_of(&(namespace, name))
}

/// The store keeps slices by their own name (the index, by their Service's).
impl Hashed for Arc<Slice> {
    fn hash(&self) -> u64 {
        key_hash(&self.namespace, &self.name)
    }
}

impl Hashed for PodRecord {
    fn hash(&self) -> u64 {
        key_hash(&self.entry.namespace, &self.entry.name)
    }
}

impl Store {
    /// An empty store. With `strict` (`namespace_labels`), only listed namespaces exist and
    /// only their objects are answered for.
    pub fn new(strict: bool) -> Self {
        Self {
            index: Index::new(strict),
            slices: Dense::default(),
            clusterset_slices: Dense::default(),
            pods: Dense::default(),
            namespaces: HashMap::default(),
            strict,
        }
    }

    /// A store holding these objects.
    pub fn with(strict: bool, objects: impl IntoIterator<Item = Object>) -> Self {
        let mut store = Self::new(strict);
        for o in objects {
            store.put(o);
        }
        store
    }

    /// The index to publish, with its SOA serial and whether every kind has listed.
    pub fn snapshot(&self, serial: u32, synced: bool) -> Index {
        let mut index = self.index.clone();
        (index.serial, index.synced) = (serial, synced);
        index
    }

    /// The Service `name` in `namespace`, answered for or not.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Arc<Service>> {
        self.index.any_service(namespace, name)
    }

    /// Adds `object`, or puts it in place of the one with its key. An equal object changes
    /// nothing.
    pub fn put(&mut self, object: Object) {
        if self.holds(&object) {
            return;
        }
        match object {
            Object::Service(s) => self.put_service(s, false),
            Object::Import(s) => self.put_service(s, true),
            Object::Slice(s) => self.put_slice(s, false),
            Object::ClustersetSlice(s) => self.put_slice(s, true),
            Object::Pod(p) => {
                let namespace = self.hold(&p.namespace);
                self.delete(ObjectKind::Pod, &p.namespace, &p.name);
                let name = p.name.as_str().into();
                let entry = Arc::new(PodEntry { namespace, name, labels: p.labels });
                self.index.add_pod(entry.clone(), p.ip);
                let record = PodRecord { ip: p.ip, entry };
                self.pods.insert_new(key_hash(&record.entry.namespace, &record.entry.name), record);
            }
            Object::Namespace(n) => {
                self.namespaces.entry(n.as_str().into()).or_default().listed = true;
                self.refresh(&n);
            }
        }
    }

    /// Removes the object of `kind` with this key, if held. Namespaces have no namespace: pass
    /// `""`.
    pub fn delete(&mut self, kind: ObjectKind, namespace: &str, name: &str) {
        match kind {
            ObjectKind::Service => {
                if self.index.remove_service(namespace, name).is_some() {
                    self.release(namespace);
                }
            }
            ObjectKind::Slice | ObjectKind::ClustersetSlice => {
                let clusterset = kind == ObjectKind::ClustersetSlice;
                let hash = key_hash(namespace, name);
                let same = |o: &Arc<Slice>| o.name == name && o.namespace == namespace;
                if let Some(old) = self.slice_table(clusterset).remove(hash, same) {
                    if clusterset {
                        self.index.remove_clusterset_slice(&old);
                    } else {
                        self.index.remove_slice(&old);
                    }
                    self.release(namespace);
                }
            }
            ObjectKind::Import => {
                if self.index.remove_import(namespace, name).is_some() {
                    self.release(namespace);
                }
            }
            ObjectKind::Pod => {
                let hash = key_hash(namespace, name);
                let same =
                    |o: &PodRecord| *o.entry.name == *name && *o.entry.namespace == *namespace;
                if let Some(old) = self.pods.remove(hash, same) {
                    self.index.remove_pod(namespace, name, old.ip);
                    self.release(namespace);
                }
            }
            ObjectKind::Namespace => {
                if let Some(p) = self.namespaces.get_mut(name) {
                    p.listed = false;
                    self.refresh(name);
                }
            }
        }
    }

    /// Adds a Service (or, with `import`, a ServiceImport), or puts it in place of the one with
    /// its name.
    fn put_service(&mut self, s: Arc<Service>, import: bool) {
        // Held before the old one is released, so the namespace's count never passes through
        // zero (which would take it out of the index and put it back).
        self.hold(&s.namespace);
        let kind = if import { ObjectKind::Import } else { ObjectKind::Service };
        self.delete(kind, &s.namespace, &s.name);
        if import {
            self.index.add_import(s);
        } else {
            self.index.add_service(s);
        }
    }

    /// Adds a slice, or puts it in place of the one with its name.
    fn put_slice(&mut self, s: Arc<Slice>, clusterset: bool) {
        self.hold(&s.namespace);
        let kind = if clusterset { ObjectKind::ClustersetSlice } else { ObjectKind::Slice };
        self.delete(kind, &s.namespace, &s.name);
        if clusterset {
            self.index.add_clusterset_slice(s.clone());
        } else {
            self.index.add_slice(s.clone());
        }
        let hash = key_hash(&s.namespace, &s.name);
        self.slice_table(clusterset).insert_new(hash, s);
    }

    fn slice_table(&mut self, clusterset: bool) -> &mut Dense<Arc<Slice>> {
        if clusterset { &mut self.clusterset_slices } else { &mut self.slices }
    }

    fn slice_table_ref(&self, clusterset: bool) -> &Dense<Arc<Slice>> {
        if clusterset { &self.clusterset_slices } else { &self.slices }
    }

    /// Makes `listed` the whole of `kind`: what is held and not listed goes, the rest is put.
    /// Objects of other kinds in `listed` are left out.
    pub fn replace(&mut self, kind: ObjectKind, listed: Vec<Object>) {
        let mut keys = ListedKeys::default();
        for (namespace, name) in listed.iter().filter(|o| o.kind() == kind).map(Object::key) {
            keys.insert(namespace, name);
        }
        self.replace_listed(kind, listed, &keys);
    }

    /// True if the store holds `o` exactly as it is: a relist need not put it again.
    pub fn holds(&self, o: &Object) -> bool {
        let (namespace, name) = o.key();
        let hash = key_hash(namespace, name);
        match o {
            Object::Service(s) => {
                self.index.any_service(namespace, name).is_some_and(|h| **h == **s)
            }
            Object::Import(s) => self.index.any_import(namespace, name).is_some_and(|h| **h == **s),
            Object::Slice(s) | Object::ClustersetSlice(s) => {
                let clusterset = matches!(o, Object::ClustersetSlice(_));
                let same = |h: &Arc<Slice>| h.name == name && h.namespace == namespace;
                self.slice_table_ref(clusterset).find(hash, same).is_some_and(|h| **h == **s)
            }
            Object::Pod(p) => {
                let same =
                    |h: &PodRecord| *h.entry.name == *name && *h.entry.namespace == *namespace;
                self.pods
                    .find(hash, same)
                    .is_some_and(|h| h.ip == p.ip && h.entry.labels == p.labels)
            }
            Object::Namespace(n) => self.namespaces.get(n.as_str()).is_some_and(|p| p.listed),
        }
    }

    /// Ends a relist of `kind`: what `listed` does not name is deleted, and `changed` (the listed
    /// objects the store did not hold as they are) is put. Unlike [`Store::replace`], the
    /// objects that did not change were never copied.
    pub fn replace_listed(&mut self, kind: ObjectKind, changed: Vec<Object>, listed: &ListedKeys) {
        let gone: Vec<(String, String)> = self
            .keys(kind)
            .filter(|(ns, name)| !listed.contains(ns, name))
            .map(|(ns, name)| (ns.to_string(), name.to_string()))
            .collect();
        for (namespace, name) in gone {
            self.delete(kind, &namespace, &name);
        }
        for o in changed.into_iter().filter(|o| o.kind() == kind) {
            self.put(o);
        }
        // A first list grows the tables by doubling; what it left unused would stay.
        self.index.shrink_to_fit();
        self.slices.shrink_to_fit();
        self.clusterset_slices.shrink_to_fit();
        self.pods.shrink_to_fit();
    }

    /// The keys of everything held of `kind`.
    fn keys(&self, kind: ObjectKind) -> Box<dyn Iterator<Item = (&str, &str)> + '_> {
        match kind {
            ObjectKind::Service => {
                Box::new(self.index.services().map(|s| (s.namespace.as_str(), s.name.as_str())))
            }
            ObjectKind::Slice => {
                Box::new(self.slices.iter().map(|s| (s.namespace.as_str(), s.name.as_str())))
            }
            ObjectKind::Pod => {
                Box::new(self.pods.iter().map(|p| (&*p.entry.namespace, &*p.entry.name)))
            }
            ObjectKind::Import => {
                Box::new(self.index.imports().map(|s| (s.namespace.as_str(), s.name.as_str())))
            }
            ObjectKind::ClustersetSlice => Box::new(
                self.clusterset_slices.iter().map(|s| (s.namespace.as_str(), s.name.as_str())),
            ),
            ObjectKind::Namespace => {
                Box::new(self.namespaces.iter().filter(|(_, p)| p.listed).map(|(n, _)| ("", &**n)))
            }
        }
    }

    /// Counts one more object in `namespace`; returns the namespace's shared string.
    fn hold(&mut self, namespace: &str) -> Arc<str> {
        let name = match self.namespaces.get_key_value(namespace) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = namespace.into();
                self.namespaces.insert(name.clone(), Presence::default());
                name
            }
        };
        if let Some(p) = self.namespaces.get_mut(namespace) {
            p.objects += 1;
        }
        self.refresh(namespace);
        name
    }

    /// Counts one object fewer in `namespace`.
    fn release(&mut self, namespace: &str) {
        if let Some(p) = self.namespaces.get_mut(namespace) {
            p.objects = p.objects.saturating_sub(1);
        }
        self.refresh(namespace);
    }

    /// Brings the index's word on `namespace` in line with the counts, and forgets a namespace
    /// nothing keeps.
    fn refresh(&mut self, namespace: &str) {
        let (listed, objects) =
            self.namespaces.get(namespace).map_or((false, 0), |p| (p.listed, p.objects));
        if !listed && objects == 0 {
            self.namespaces.remove(namespace);
        }
        self.index.set_namespace(namespace, listed || (!self.strict && objects > 0));
    }
}

impl Index {
    /// An index of these objects, not strict: a namespace named by any object exists, as do
    /// those in `namespaces`.
    pub fn build(
        services: Vec<Arc<Service>>,
        slices: Vec<Arc<Slice>>,
        pods: Vec<Pod>,
        namespaces: Vec<String>,
        serial: u32,
    ) -> Self {
        let objects = (services.into_iter().map(Object::Service))
            .chain(slices.into_iter().map(Object::Slice))
            .chain(pods.into_iter().map(Object::Pod))
            .chain(namespaces.into_iter().map(Object::Namespace));
        Store::with(false, objects).snapshot(serial, true)
    }
}

#[cfg(test)]
mod tests;
