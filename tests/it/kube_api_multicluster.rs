//! `multicluster` through the real client: ServiceImports and multicluster EndpointSlices from
//! the API server answer in the clusterset zone, and come and go with the objects, while the
//! local cluster's EndpointSlices stay in the local zone.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::fake_api::{FakeApi, labelled, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES, corefile, until};

const IMPORTS: &str = "/apis/multicluster.x-k8s.io/v1alpha1/serviceimports";
const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";

fn import(name: &str, kind: &str, ips: &[&str]) -> Value {
    json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"type": kind, "ips": ips, "ports": [{"name": "http", "protocol": "TCP", "port": 80}]}})
}

fn slice(name: &str, labels: &[(&str, &str)], address: &str, hostname: &str) -> Value {
    let object = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "default"}, "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "hostname": hostname, "conditions": {"ready": true}}],
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}]});
    labelled(object, labels)
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_and_their_slices_answer_in_the_clusterset_zone() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.0.50"));
    api.apply(IMPORTS, import("web", "ClusterSetIP", &["10.100.0.1"]));
    api.apply(IMPORTS, import("db", "Headless", &[]));
    let mcs = [
        ("multicluster.kubernetes.io/service-name", "db"),
        ("multicluster.kubernetes.io/source-cluster", "east"),
    ];
    api.apply(SLICES, slice("db-east", &mcs, "10.1.0.1", "db-0"));
    // A local slice of the local `web`: its endpoint is not the import's.
    api.apply(SLICES, slice("web-1", &[("kubernetes.io/service-name", "web")], "10.244.0.9", "w"));
    let config = corefile(&api, "  multicluster clusterset.local\n")
        .replace("kubernetes cluster.local {", "kubernetes cluster.local clusterset.local {");
    let s = TestServer::start(&config).await;
    let ready = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(ready, "/ready").await.0, 200, "synced with the two more watches");
    // Each EndpointSlice watch asks the API server only for the slices it can use: those
    // labelled with their Service, or with their ServiceImport.
    let slice_lists: Vec<String> = api
        .arrivals()
        .into_iter()
        .map(|(_, what)| what)
        .filter(|what| what.starts_with(SLICES) && !what.contains("watch=true"))
        .collect();
    for label in ["kubernetes.io%2Fservice-name", "multicluster.kubernetes.io%2Fservice-name"] {
        let asked = slice_lists.iter().any(|w| w.contains(&format!("labelSelector={label}")));
        assert!(asked, "a slice list selecting {label}: {slice_lists:?}");
    }

    let a = |m: hickory_proto::op::Message| {
        m.answers.iter().map(|r| r.data.to_string()).collect::<Vec<_>>()
    };
    let web = s.udp("web.default.svc.clusterset.local.", RecordType::A).await;
    assert_eq!(a(web), ["10.100.0.1"]);
    let local = s.udp("web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(a(local), ["10.96.0.50"]);
    let db = s.udp("db-0.east.db.default.svc.clusterset.local.", RecordType::A).await;
    assert_eq!(a(db), ["10.1.0.1"]);
    let srv = s.udp("_http._tcp.db.default.svc.clusterset.local.", RecordType::SRV).await;
    assert_eq!(a(srv), ["0 100 80 db-0.east.db.default.svc.clusterset.local."]);
    let local_endpoint = s.udp("w.web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(a(local_endpoint), ["10.244.0.9"]);
    let crossed = s.udp("w.web.default.svc.clusterset.local.", RecordType::A).await;
    assert_eq!(crossed.metadata.response_code, ResponseCode::NXDomain);

    // A new cluster's slice, a new import, a deleted import: each shows.
    let west = [
        ("multicluster.kubernetes.io/service-name", "db"),
        ("multicluster.kubernetes.io/source-cluster", "west"),
    ];
    api.apply(SLICES, slice("db-west", &west, "10.2.0.1", "db-0"));
    until(&s, "db-0.west.db.default.svc.clusterset.local.", ResponseCode::NoError).await;
    api.apply(IMPORTS, import("cache", "ClusterSetIP", &["10.100.0.7"]));
    until(&s, "cache.default.svc.clusterset.local.", ResponseCode::NoError).await;
    api.delete(IMPORTS, "default", "web");
    until(&s, "web.default.svc.clusterset.local.", ResponseCode::NXDomain).await;
    assert_eq!(a(s.udp("web.default.svc.cluster.local.", RecordType::A).await), ["10.96.0.50"]);
    s.stop().await;
    api.stop();
}
