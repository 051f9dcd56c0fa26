//! What a change does to the index: replaces what it names, copies only the shards it touches,
//! and leaves published snapshots as they were.

use std::net::IpAddr;
use std::sync::Arc;

use super::{ListedKeys, Object, ObjectKind, Store};
use crate::index::{Index, ReverseTarget};
use crate::objects::{Endpoint, Kind, Pod, Service, Slice};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn service(ns: &str, name: &str, cluster_ip: &str) -> Object {
    let kind = Kind::ClusterIp(smallvec::smallvec![ip(cluster_ip)]);
    Object::Service(Arc::new(Service {
        external: Box::default(),
        name: name.into(),
        namespace: ns.into(),
        kind,
        ports: vec![],
    }))
}

fn slice(ns: &str, name: &str, service: &str, addresses: &[&str]) -> Object {
    let endpoints = addresses
        .iter()
        .map(|a| Endpoint { ip: ip(a), hostname: None, pod: None, ready: true, zone: 0 })
        .collect();
    Object::Slice(Arc::new(Slice {
        name: name.into(),
        namespace: ns.into(),
        service: service.into(),
        endpoints,
        ports: vec![],
        cluster: None,
        zones: Box::default(),
    }))
}

fn pod(ns: &str, name: &str, address: &str) -> Object {
    Object::Pod(Pod {
        namespace: ns.into(),
        name: name.into(),
        ip: ip(address),
        labels: Arc::default(),
    })
}

/// The `i`th Service of [`cluster`]: `svc-i` in `ns-(i % 10)`.
fn cluster_service(i: usize) -> Object {
    service(
        &format!("ns-{}", i % 10),
        &format!("svc-{i}"),
        &format!("10.96.{}.{}", i / 200, i % 200),
    )
}

/// A thousand Services in ten namespaces, each with a slice of two endpoints.
fn cluster() -> Store {
    let objects = (0..1000).flat_map(|i| {
        let (ns, name) = (format!("ns-{}", i % 10), format!("svc-{i}"));
        let (a, b) =
            (format!("10.1.{}.{}", i / 200, i % 200), format!("10.2.{}.{}", i / 200, i % 200));
        [cluster_service(i), slice(&ns, &format!("{name}-abc"), &name, &[&a, &b])]
    });
    Store::with(false, objects)
}

/// The PTR targets of an address, as `kind:name` strings.
fn reverse(index: &Index, address: &str) -> Vec<String> {
    index
        .reverse(ip(address))
        .map(|t| match t {
            ReverseTarget::Service(s) => format!("service:{}", s.name),
            ReverseTarget::Endpoint { slice, .. } => format!("endpoint:{}", slice.name),
        })
        .collect()
}

fn slice_names(index: &Index, ns: &str, service: &str) -> Vec<String> {
    index.slices(ns, service).iter().map(|s| s.name.to_string()).collect()
}

/// Shards per table times the seven tables.
const ALL_SHARDS: usize = 64 * 7;

#[test]
fn a_changed_service_replaces_its_entries_and_copies_only_their_shards() {
    let mut store = cluster();
    let before = store.snapshot(1, true);
    store.put(service("ns-7", "svc-7", "10.99.0.7"));
    let after = store.snapshot(2, true);

    // The Service entry and two reverse entries (old and new address): at most three shards.
    let shared = after.shared_shards(&before);
    assert!(shared >= ALL_SHARDS - 3, "{shared} of {ALL_SHARDS} shards still shared");
    assert_eq!(reverse(&after, "10.96.0.7"), Vec::<String>::new());
    assert_eq!(reverse(&after, "10.99.0.7"), ["service:svc-7"]);
    // The published snapshot is untouched.
    assert_eq!(reverse(&before, "10.96.0.7"), ["service:svc-7"]);
    assert_eq!(reverse(&before, "10.99.0.7"), Vec::<String>::new());
    assert_eq!(after.counts(), (1000, 1000, 0));
}

#[test]
fn an_object_equal_to_the_one_held_changes_nothing() {
    let mut store = cluster();
    let before = store.snapshot(1, true);
    store.put(service("ns-3", "svc-3", "10.96.0.3"));
    store.put(slice("ns-3", "svc-3-abc", "svc-3", &["10.1.0.3", "10.2.0.3"]));
    assert_eq!(store.snapshot(2, true).shared_shards(&before), ALL_SHARDS);
}

#[test]
fn a_changed_slice_moves_its_endpoints() {
    let mut store = cluster();
    store.put(slice("ns-4", "svc-4-abc", "svc-4", &["10.2.0.4", "10.3.0.1"]));
    let index = store.snapshot(2, true);
    assert_eq!(reverse(&index, "10.1.0.4"), Vec::<String>::new(), "dropped endpoint");
    assert_eq!(reverse(&index, "10.2.0.4"), ["endpoint:svc-4-abc"], "kept, once");
    assert_eq!(reverse(&index, "10.3.0.1"), ["endpoint:svc-4-abc"], "added");
    assert_eq!(reverse(&index, "10.1.0.5"), ["endpoint:svc-5-abc"], "another slice's");
    assert_eq!(slice_names(&index, "ns-4", "svc-4"), ["svc-4-abc"]);

    // A second slice for the Service joins the first; relabelled to another Service, it leaves.
    store.put(slice("ns-4", "svc-4-def", "svc-4", &["10.3.0.2"]));
    assert_eq!(slice_names(&store.snapshot(3, true), "ns-4", "svc-4"), ["svc-4-abc", "svc-4-def"]);
    store.put(slice("ns-4", "svc-4-def", "svc-14", &["10.3.0.2"]));
    let index = store.snapshot(4, true);
    assert_eq!(slice_names(&index, "ns-4", "svc-4"), ["svc-4-abc"]);
    assert_eq!(slice_names(&index, "ns-4", "svc-14"), ["svc-14-abc", "svc-4-def"]);
    assert_eq!(index.counts(), (1000, 1001, 0));

    store.delete(ObjectKind::Slice, "ns-4", "svc-4-abc");
    let index = store.snapshot(5, true);
    assert!(index.slices("ns-4", "svc-4").is_empty());
    assert_eq!(reverse(&index, "10.2.0.4"), Vec::<String>::new());
    assert_eq!(index.counts(), (1000, 1000, 0));
}

#[test]
fn a_relist_removes_what_it_lacks_and_keeps_what_it_finds_unchanged() {
    let mut store = cluster();
    let before = store.snapshot(1, true);
    let mut listed: Vec<Object> = (0..1000).filter(|i| *i != 500).map(cluster_service).collect();
    // Objects of another kind in a list are not this kind's business.
    listed.push(pod("ns-0", "stray", "10.9.9.9"));
    store.replace(ObjectKind::Service, listed);
    let after = store.snapshot(2, true);
    assert!(after.service("ns-0", "svc-500").is_none());
    assert!(after.service("ns-1", "svc-501").is_some());
    assert_eq!(after.counts(), (999, 1000, 0));
    assert!(after.shared_shards(&before) >= ALL_SHARDS - 2, "one Service and its reverse entry");
}

/// A relist as the watch runs it: each listed object is compared with the held one as it
/// arrives, only the changed ones are kept, and the end deletes what the list did not name.
#[test]
fn a_relist_keeps_only_what_changed_and_deletes_what_it_lacks() {
    let mut store = cluster();
    store.put(pod("ns-0", "web-0", "10.244.0.1"));
    store.put(pod("ns-0", "web-1", "10.244.0.2"));
    let before = store.snapshot(1, true);
    let mut listed = ListedKeys::default();
    let mut changed = Vec::new();
    let mut list = |store: &Store, o: Object| {
        let (ns, name) = o.key();
        listed.insert(ns, name);
        if !store.holds(&o) {
            changed.push(o);
        }
    };
    // Services: one gone (svc-500), one with a new address (svc-7), the rest as held.
    for i in (0..1000).filter(|i| *i != 500) {
        let o = if i == 7 { service("ns-7", "svc-7", "10.96.99.7") } else { cluster_service(i) };
        list(&store, o);
    }
    assert_eq!(changed.len(), 1, "only svc-7 is kept for the end of the list");
    store.replace_listed(ObjectKind::Service, std::mem::take(&mut changed), &listed);
    let after = store.snapshot(2, true);
    assert!(after.service("ns-0", "svc-500").is_none(), "deleted while the watch was down");
    assert_eq!(reverse(&after, "10.96.99.7"), ["service:svc-7"]);
    assert!(after.service("ns-1", "svc-501").is_some());
    assert_eq!(after.counts(), (999, 1000, 2));
    let shared = after.shared_shards(&before);
    assert!(shared >= ALL_SHARDS - 5, "two Services, their old and new reverse entries: {shared}");

    // Pods: one relabelled, one gone, one new.
    let mut listed = ListedKeys::default();
    let mut changed = Vec::new();
    let relabelled = Object::Pod(Pod {
        namespace: "ns-0".into(),
        name: "web-0".into(),
        ip: ip("10.244.0.1"),
        labels: [("app".into(), "web".into())].into_iter().collect(),
    });
    for o in [relabelled, pod("ns-0", "web-2", "10.244.0.3")] {
        let (ns, name) = o.key();
        listed.insert(ns, name);
        if !store.holds(&o) {
            changed.push(o);
        }
    }
    assert_eq!(changed.len(), 2);
    store.replace_listed(ObjectKind::Pod, changed, &listed);
    let after = store.snapshot(3, true);
    assert!(after.has_pod("ns-0", ip("10.244.0.3")));
    assert!(!after.has_pod("ns-0", ip("10.244.0.2")), "web-1 was not listed");
    let web0 = after.pod_with_ip(ip("10.244.0.1")).expect("web-0");
    assert_eq!(&*web0.labels, &[("app".into(), "web".into())][..]);
}

#[test]
fn pods_sharing_an_address_are_counted_apart() {
    let mut store = cluster();
    // Host-network pods share their node's address.
    store.put(pod("kube-system", "proxy-a", "172.18.0.2"));
    store.put(pod("kube-system", "agent-a", "172.18.0.2"));
    store.put(pod("default", "web", "10.4.0.1"));
    store.delete(ObjectKind::Pod, "kube-system", "proxy-a");
    let index = store.snapshot(2, true);
    assert!(index.has_pod("kube-system", ip("172.18.0.2")), "agent-a still has it");
    assert!(!index.has_pod("default", ip("172.18.0.2")));
    // A pod that moves takes its address with it.
    store.put(pod("default", "web", "10.4.0.2"));
    store.delete(ObjectKind::Pod, "kube-system", "agent-a");
    let index = store.snapshot(3, true);
    assert!(!index.has_pod("kube-system", ip("172.18.0.2")));
    assert!(!index.has_pod("default", ip("10.4.0.1")));
    assert!(index.has_pod("default", ip("10.4.0.2")));
    assert_eq!(index.counts().2, 1);
}

#[test]
fn a_namespace_exists_while_listed_or_named() {
    let mut store = Store::new(false);
    store.put(Object::Namespace("empty".into()));
    store.put(service("apps", "web", "10.96.0.1"));
    store.put(pod("apps", "web-1", "10.4.0.1"));
    let index = store.snapshot(1, true);
    assert!(index.has_namespace("empty") && index.has_namespace("apps"));
    store.delete(ObjectKind::Service, "apps", "web");
    assert!(store.snapshot(2, true).has_namespace("apps"), "the pod still names it");
    store.delete(ObjectKind::Pod, "apps", "web-1");
    store.delete(ObjectKind::Namespace, "", "empty");
    let index = store.snapshot(3, true);
    assert!(!index.has_namespace("apps") && !index.has_namespace("empty"));
}

#[test]
fn with_namespace_labels_only_listed_namespaces_are_answered_for() {
    let mut store = Store::new(true);
    store.put(service("team", "web", "10.96.0.1"));
    store.put(slice("team", "web-abc", "web", &["10.1.0.1"]));
    store.put(pod("team", "web-1", "10.1.0.1"));
    let index = store.snapshot(1, true);
    assert!(!index.has_namespace("team"), "named, not listed");
    assert!(index.service("team", "web").is_none());
    assert!(index.slices("team", "web").is_empty());
    assert!(!index.has_pod("team", ip("10.1.0.1")));
    assert_eq!(reverse(&index, "10.96.0.1"), Vec::<String>::new());
    // The namespace gets its label: its objects answer without being sent again.
    store.put(Object::Namespace("team".into()));
    let index = store.snapshot(2, true);
    assert!(index.service("team", "web").is_some());
    assert_eq!(slice_names(&index, "team", "web"), ["web-abc"]);
    assert!(index.has_pod("team", ip("10.1.0.1")));
    assert_eq!(reverse(&index, "10.96.0.1"), ["service:web"]);
    store.delete(ObjectKind::Namespace, "", "team");
    assert!(store.snapshot(3, true).service("team", "web").is_none());
}

#[test]
fn imports_and_clusterset_slices_are_kept_apart_from_services_and_slices() {
    let as_import = |o: Object| match o {
        Object::Service(s) => Object::Import(s),
        _ => unreachable!(),
    };
    let as_clusterset = |o: Object| match o {
        Object::Slice(s) => Object::ClustersetSlice(s),
        _ => unreachable!(),
    };
    let mut store = Store::new(false);
    store.put(service("ns", "web", "10.96.0.1"));
    store.put(as_import(service("ns", "web", "10.100.0.1")));
    store.put(as_clusterset(slice("ns", "web-east", "web", &["10.1.0.1"])));
    let index = store.snapshot(1, true);
    assert_eq!(
        index.service("ns", "web").unwrap().kind,
        Kind::ClusterIp(smallvec::smallvec![ip("10.96.0.1")])
    );
    assert_eq!(
        index.import("ns", "web").unwrap().kind,
        Kind::ClusterIp(smallvec::smallvec![ip("10.100.0.1")])
    );
    let names = |slices: &[Arc<Slice>]| slices.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(index.clusterset_slices("ns", "web")), ["web-east"]);
    assert!(index.slices("ns", "web").is_empty());
    assert_eq!(reverse(&index, "10.100.0.1"), Vec::<String>::new(), "imports have no PTR");
    assert_eq!(reverse(&index, "10.1.0.1"), Vec::<String>::new(), "nor their endpoints");
    assert!(index.has_namespace("ns"));

    // A relist without them takes them out; the Service stays, and so does its namespace.
    store.replace(ObjectKind::Import, vec![]);
    store.replace(ObjectKind::ClustersetSlice, vec![]);
    let index = store.snapshot(2, true);
    assert!(index.import("ns", "web").is_none());
    assert!(index.clusterset_slices("ns", "web").is_empty());
    assert!(index.service("ns", "web").is_some() && index.has_namespace("ns"));
    store.delete(ObjectKind::Service, "ns", "web");
    assert!(!store.snapshot(3, true).has_namespace("ns"), "nothing holds it any more");
}
