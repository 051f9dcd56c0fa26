//! The objects held ([`Store`]) and the index queries read ([`Index`]): one table per
//! configured resource, in the order of the `resources` line, from host name to [`Targets`].
//!
//! The index is rebuilt whole from the store after changes (at most every
//! [`crate::watch::PUBLISH_EVERY`]): clusters have hundreds of Ingresses and routes, not tens
//! of thousands, and a rebuilt index is a plain map that a query reads without locks, hashing
//! the name it was asked once per table.
//!
//! A lookup is k8s_gateway's: the name asked and, when it differs, the name without the zone
//! (`NAME.NAMESPACE` of a Service); the first table where either has targets answers. Then the
//! same with the first label as `*` (a wildcard host such as `*.example.com` covers one label,
//! as an Ingress's does), so an exact host wins over a wildcard in every table.

use std::collections::{BTreeMap, HashMap};

use crate::objects::{Kind, Object, Targets};

/// Every object held, by kind and (namespace, name).
#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<Kind, BTreeMap<(String, String), Object>>,
}

impl Store {
    /// Adds or replaces one object.
    pub fn put(&mut self, kind: Kind, key: (String, String), object: Object) {
        self.objects.entry(kind).or_default().insert(key, object);
    }

    /// Removes one object.
    pub fn delete(&mut self, kind: Kind, key: &(String, String)) {
        if let Some(held) = self.objects.get_mut(&kind) {
            held.remove(key);
        }
    }

    /// Replaces every object of `kind` (a complete list).
    pub fn replace(&mut self, kind: Kind, listed: BTreeMap<(String, String), Object>) {
        self.objects.insert(kind, listed);
    }

    fn of(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects.get(&kind).into_iter().flat_map(BTreeMap::values)
    }
}

/// One resource's host names.
#[derive(Debug, Default)]
struct Table {
    /// Exact host names.
    exact: HashMap<String, Targets>,
    /// `*.REST` wildcards, keyed by `REST` (`""` for a lone `*`).
    wildcard: HashMap<String, Targets>,
}

impl Table {
    fn add(&mut self, host: &str, targets: &Targets) {
        let (map, key) = match host.strip_prefix("*.") {
            Some(rest) => (&mut self.wildcard, rest),
            None if host == "*" => (&mut self.wildcard, ""),
            None => (&mut self.exact, host),
        };
        match map.get_mut(key) {
            Some(held) => held.merge(targets),
            None => {
                map.insert(key.to_string(), targets.clone());
            }
        }
    }
}

/// What a lookup found: the targets of the asked name and of its zoneless form, either of
/// which may be absent. Read in that order; addresses both have are written once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found<'a>(pub [Option<&'a Targets>; 2]);

impl<'a> Found<'a> {
    /// Every target set found.
    pub fn parts(&self) -> impl Iterator<Item = &'a Targets> + '_ {
        self.0.iter().flatten().copied()
    }

    /// Nothing found: the name does not exist.
    pub fn is_empty(&self) -> bool {
        self.parts().all(Targets::is_empty)
    }
}

/// The published index.
#[derive(Debug, Default)]
pub struct Index {
    /// Every configured kind has listed once (or is not installed).
    pub synced: bool,
    tables: Vec<Table>,
}

impl Index {
    /// The index of `store` for `resources`, in their order.
    pub fn build(resources: &[Kind], store: &Store, synced: bool) -> Self {
        let mut gateways: HashMap<(&str, &str), &Targets> = HashMap::new();
        if let Some(held) = store.objects.get(&Kind::Gateway) {
            for ((ns, name), o) in held {
                if let Object::Gateway(t) = o {
                    gateways.insert((ns, name), t);
                }
            }
        }
        let tables = resources
            .iter()
            .map(|&kind| {
                let mut table = Table::default();
                for object in store.of(kind) {
                    match object {
                        Object::Named(names) => {
                            names.iter().for_each(|(host, t)| table.add(host, t));
                        }
                        Object::Route { hosts, parents } => {
                            let mut targets = Targets::default();
                            for (ns, name) in parents {
                                if let Some(t) = gateways.get(&(ns.as_str(), name.as_str())) {
                                    targets.merge(t);
                                }
                            }
                            if !targets.is_empty() {
                                hosts.iter().for_each(|h| table.add(h, &targets));
                            }
                        }
                        Object::Gateway(_) => {}
                    }
                }
                table
            })
            .collect();
        Self { synced, tables }
    }

    /// Looks up `name` (lower-case, no final dot) and `zoneless` (`name` without its zone;
    /// empty at the apex): exact names first, then the wildcard one label up, neither above
    /// the zone.
    pub fn lookup(&self, name: &str, zoneless: &str) -> Found<'_> {
        let at_apex = zoneless.is_empty();
        let zoneless = (!at_apex && zoneless != name).then_some(zoneless);
        for table in &self.tables {
            let found = Found([table.exact.get(name), zoneless.and_then(|z| table.exact.get(z))]);
            if !found.is_empty() {
                return found;
            }
        }
        if at_apex {
            return Found::default();
        }
        let (name_up, zoneless_up) = (one_up(name), zoneless.map(one_up));
        for table in &self.tables {
            let found = Found([
                table.wildcard.get(name_up),
                zoneless_up.and_then(|z| table.wildcard.get(z)),
            ]);
            if !found.is_empty() {
                return found;
            }
        }
        Found::default()
    }

    /// How many host names (exact and wildcard) the tables hold.
    pub fn names(&self) -> usize {
        self.tables.iter().map(|t| t.exact.len() + t.wildcard.len()).sum()
    }

    /// Every table's targets for exactly `name`: the addresses of the name server `apex` and
    /// `secondary` name (`NAME.NAMESPACE` of the Services in front of the servers).
    pub fn all_exact<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Targets> + 'a {
        self.tables.iter().filter_map(move |t| t.exact.get(name))
    }
}

/// `name` without its first label (`""` for a single label).
fn one_up(name: &str) -> &str {
    name.split_once('.').map_or("", |(_, rest)| rest)
}
