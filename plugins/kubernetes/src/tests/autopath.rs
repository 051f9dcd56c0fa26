//! The search path the plugin gives *autopath* (CoreDNS 1.14.7's `Kubernetes.AutoPath`).

use plugin_api::Proto;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::request_with;

use super::plugin_with;
use crate::store::{Object, Store};

fn search_path(corefile: &str, qname: &str, client: &str) -> Option<Vec<String>> {
    let objects = vec![Object::Namespace("podns".into()), super::metadata::client_pod()];
    let p = plugin_with(corefile, Store::with(false, objects).snapshot(1_700_000_000, true), true);
    assert!(p.provides_search_path());
    let src = format!("{client}:40000").parse().unwrap();
    p.search_path(&request_with(qname, RecordType::A, Proto::Udp, src, None))
}

#[test]
fn a_client_pods_namespace_leads_the_path() {
    let verified = "kubernetes cluster.local {\n pods verified\n}";
    let path = search_path(verified, "example.com.podns.svc.cluster.local.", "10.240.0.1").unwrap();
    // The server's own search list (its /etc/resolv.conf) is empty in the test's plugin.
    assert_eq!(path, ["podns.svc.cluster.local.", "svc.cluster.local.", "cluster.local.", ""]);
    // In the root zone the names are relative to it.
    let root = "kubernetes . {\n pods verified\n}";
    let path = search_path(root, "example.com.podns.svc.", "10.240.0.1").unwrap();
    assert_eq!(path, ["podns.svc.", "svc.", ".", ""]);
}

#[test]
fn no_path_without_a_known_pod_or_outside_the_zones() {
    let verified = "kubernetes cluster.local {\n pods verified\n}";
    assert_eq!(search_path(verified, "example.com.", "10.240.0.1"), None, "outside the zones");
    assert_eq!(search_path(verified, "x.podns.svc.cluster.local.", "10.9.9.9"), None, "no pod");
    let insecure = "kubernetes cluster.local {\n pods insecure\n}";
    assert_eq!(search_path(insecure, "x.podns.svc.cluster.local.", "10.240.0.1"), None);
}
