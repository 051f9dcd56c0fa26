//! What the plugin publishes for *metadata*: CoreDNS 1.14.7's `metadata_test.go`
//! (`TestMetadata`, `TestMetadataPodsVerified`), ported.

use std::collections::BTreeMap;
use std::sync::Arc;

use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::request_with;
use plugin_api::{Meta, Proto};

use super::plugin_with;
use crate::objects::Pod;
use crate::store::{Object, Store};

/// What `corefile`'s plugin publishes for `qname` asked from `client`.
fn published(
    corefile: &str,
    index: crate::index::Index,
    qname: &str,
    client: &str,
) -> BTreeMap<String, String> {
    let p = plugin_with(corefile, index, true);
    assert!(p.provides_metadata());
    let src = format!("{client}:40000").parse().unwrap();
    let req = request_with(qname, RecordType::A, Proto::Udp, src, None);
    let mut meta = Meta::default();
    p.metadata(&req, &mut meta);
    meta.iter().map(|(l, v)| (l.to_owned(), v.to_owned())).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect()
}

/// The labels of a name the plugin reads: endpoint, kind, namespace, port, protocol, service.
fn parsed(
    endpoint: &str,
    kind: &str,
    ns: &str,
    port: &str,
    proto: &str,
    svc: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("kubernetes/endpoint", endpoint.into()),
        ("kubernetes/kind", kind.into()),
        ("kubernetes/namespace", ns.into()),
        ("kubernetes/port-name", port.into()),
        ("kubernetes/protocol", proto.into()),
        ("kubernetes/service", svc.into()),
    ]
}

#[test]
fn names_in_the_zones() {
    let corefile = "kubernetes cluster.local clusterset.local {\n multicluster clusterset.local\n}";
    let empty = || Store::with(false, Vec::new()).snapshot(1_700_000_000, true);
    let with =
        |v: Vec<(&'static str, String)>| v.into_iter().map(|(l, v)| (l.to_string(), v)).collect();
    let cases: Vec<(&str, BTreeMap<String, String>)> = vec![
        (
            "foo.bar.notapod.cluster.local.",
            map(&[("kubernetes/parse-error", "invalid query name")]),
        ),
        (
            "10-240-0-1.podns.pod.cluster.local.",
            with(parsed("", "pod", "podns", "", "", "10-240-0-1")),
        ),
        ("s.ns.svc.cluster.local.", with(parsed("", "svc", "ns", "", "", "s"))),
        ("_http._tcp.s.ns.svc.cluster.local.", with(parsed("", "svc", "ns", "http", "tcp", "s"))),
        ("ep.s.ns.svc.cluster.local.", with(parsed("ep", "svc", "ns", "", "", "s"))),
        ("ep.c1.s.ns.svc.clusterset.local.", {
            let mut m: BTreeMap<String, String> = with(parsed("ep", "svc", "ns", "", "", "s"));
            m.insert("kubernetes/cluster".into(), "c1".into());
            m
        }),
        // The zone's apex and `svc.` ask for nothing in particular.
        ("cluster.local.", with(parsed("", "", "", "", "", ""))),
        ("svc.cluster.local.", with(parsed("", "", "", "", "", ""))),
        // Outside the zones: nothing.
        ("example.com.", BTreeMap::new()),
    ];
    for (qname, want) in cases {
        assert_eq!(published(corefile, empty(), qname, "10.10.10.10"), want, "{qname}");
    }
}

#[test]
fn zonal_names_publish_their_zone() {
    let corefile = "kubernetes cluster.local {\n zonal\n}";
    let index = Store::with(false, Vec::new()).snapshot(1_700_000_000, true);
    let got =
        published(corefile, index, "us-west-2a.pin._zone.db.prod.svc.cluster.local.", "10.0.0.1");
    assert_eq!(got.get("kubernetes/zone").map(String::as_str), Some("us-west-2a"));
    assert_eq!(got.get("kubernetes/service").map(String::as_str), Some("db"));
}

pub(super) fn client_pod() -> Object {
    let labels = [("app.kubernetes.io/name", "foo"), ("bar", "baz")];
    Object::Pod(Pod {
        namespace: "podns".into(),
        name: "foo".into(),
        ip: "10.240.0.1".parse().unwrap(),
        labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect::<Arc<[_]>>(),
    })
}

#[test]
fn the_client_pod_with_pods_verified() {
    let index = || {
        let objects = vec![Object::Namespace("podns".into()), client_pod()];
        Store::with(false, objects).snapshot(1_700_000_000, true)
    };
    let want = map(&[
        ("kubernetes/client-namespace", "podns"),
        ("kubernetes/client-pod-name", "foo"),
        ("kubernetes/client-label/app.kubernetes.io/name", "foo"),
        ("kubernetes/client-label/bar", "baz"),
    ]);
    let verified = "kubernetes cluster.local {\n pods verified\n}";
    assert_eq!(published(verified, index(), "example.com.", "10.240.0.1"), want);
    // Another client is no pod; without `pods verified` no pod is looked up, as in CoreDNS.
    assert_eq!(published(verified, index(), "example.com.", "10.240.0.2"), BTreeMap::new());
    let insecure = "kubernetes cluster.local {\n pods insecure\n}";
    assert_eq!(published(insecure, index(), "example.com.", "10.240.0.1"), BTreeMap::new());
}

#[test]
fn a_pods_new_labels_replace_its_old_ones() {
    let mut store = Store::with(false, vec![Object::Namespace("podns".into()), client_pod()]);
    let relabelled = Pod {
        namespace: "podns".into(),
        name: "foo".into(),
        ip: "10.240.0.1".parse().unwrap(),
        labels: [("bar".into(), "qux".into())].into_iter().collect::<Arc<[_]>>(),
    };
    store.put(Object::Pod(relabelled));
    let index = store.snapshot(1_700_000_001, true);
    let pod = index.pod_with_ip("10.240.0.1".parse().unwrap()).expect("the pod");
    assert_eq!(&*pod.labels, &[("bar".into(), "qux".into())][..]);
    assert!(index.has_pod("podns", "10.240.0.1".parse().unwrap()));
}
