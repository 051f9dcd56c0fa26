//! *k8s_gateway* over real sockets, through the real kube client against the test API server:
//! Ingress, LoadBalancer Service, Gateway API and DNSEndpoint names, an Ingress whose status
//! changes, a relist, CRDs that are not installed (and installed later), and a load
//! balancer's host name followed through the block.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::binary::Scratch;
use crate::fake_api::FakeApi;
use crate::harness::*;
use crate::kube_api::SERVICES;

const INGRESSES: &str = "/apis/networking.k8s.io/v1/ingresses";
const GATEWAYS: &str = "/apis/gateway.networking.k8s.io/v1/gateways";
const HTTPROUTES: &str = "/apis/gateway.networking.k8s.io/v1/httproutes";
const DNSENDPOINTS: &str = "/apis/externaldns.k8s.io/v1alpha1/dnsendpoints";

fn ingress(name: &str, hosts: &[&str], status: Value) -> Value {
    let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ingressClassName": "nginx", "rules": rules},
        "status": {"loadBalancer": {"ingress": [status]}},
    })
}

fn gateway(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": "infra"},
        "spec": {"gatewayClassName": "istio"},
        "status": {"addresses": [{"type": "IPAddress", "value": ip}]},
    })
}

fn http_route(name: &str, host: &str, gateway: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {"hostnames": [host], "parentRefs": [{"name": gateway, "namespace": "infra"}]},
    })
}

/// A kubeconfig for the test API server, in `dir`.
fn kubeconfig(dir: &Scratch, api: &FakeApi) -> String {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: nobody\ncurrent-context: fake\nusers:\n- name: nobody\n  user: {{}}\n",
        api.addr
    );
    dir.write("config", &text).display().to_string()
}

fn corefile(kubeconfig: &str, before: &str) -> String {
    format!(
        ".:0 {{\n ready localhost:0\n {before}\n k8s_gateway a.com example.com {{\n  resources Ingress Service HTTPRoute DNSEndpoint\n  kubeconfig {kubeconfig} fake\n }}\n}}"
    )
}

/// The addresses `name`/`qtype` answers, as text, sorted.
async fn addresses(s: &TestServer, name: &str, qtype: RecordType) -> Vec<String> {
    let m = s.udp(name, qtype).await;
    let mut v: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

async fn until_answer(s: &TestServer, name: &str, want: &[&str]) {
    let what = format!("{name} answers {want:?}");
    wait_until(&what, || async { addresses(s, name, RecordType::A).await == want }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_is_served_and_changes_show_up() {
    let api = FakeApi::start().await;
    api.apply(INGRESSES, ingress("ingress", &["a.com", "www.a.com"], json!({"ip": "192.0.2.10"})));
    api.apply(
        SERVICES,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"coredns.io/hostname": "shop.example.com"}},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.7.1"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.20"}]}},
        }),
    );
    api.apply(
        SERVICES,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "dns1", "namespace": "kube-system"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.7.53"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.53"}]}},
        }),
    );
    api.apply(GATEWAYS, gateway("gw", "192.0.2.30"));
    api.apply(HTTPROUTES, http_route("web", "*.apps.example.com", "gw"));
    api.apply(
        DNSENDPOINTS,
        json!({
            "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
            "metadata": {"name": "records", "namespace": "default"},
            "spec": {"endpoints": [
                {"dnsName": "txt.example.com", "recordType": "TXT", "targets": ["hello"]},
                {"dnsName": "static.example.com", "recordType": "A", "targets": ["192.0.2.40"]},
            ]},
        }),
    );
    let dir = Scratch::new("k8s-gateway");
    let s = TestServer::start(&corefile(&kubeconfig(&dir, &api), "")).await;
    let ready = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(ready, "/ready").await, (200, "OK".to_string()), "synced during start-up");

    assert_eq!(addresses(&s, "a.com.", RecordType::A).await, ["192.0.2.10"]);
    assert_eq!(addresses(&s, "WWW.a.com.", RecordType::A).await, ["192.0.2.10"]);
    assert_eq!(addresses(&s, "shop.example.com.", RecordType::A).await, ["192.0.2.20"]);
    assert_eq!(addresses(&s, "web.shop.example.com.", RecordType::A).await, Vec::<String>::new());
    assert_eq!(addresses(&s, "store.apps.example.com.", RecordType::A).await, ["192.0.2.30"]);
    assert_eq!(addresses(&s, "static.example.com.", RecordType::A).await, ["192.0.2.40"]);
    assert_eq!(addresses(&s, "txt.example.com.", RecordType::TXT).await, ["hello"]);
    let nx = s.udp("nothing.example.com.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    let ns = s.udp("example.com.", RecordType::NS).await;
    assert_eq!(ns.answers[0].data.to_string(), "dns1.kube-system.example.com.");
    assert_eq!(ns.additionals[0].data.to_string(), "192.0.2.53");

    // The Ingress controller moves: the new address is answered once the watch brings it.
    api.apply(INGRESSES, ingress("ingress", &["a.com", "www.a.com"], json!({"ip": "192.0.2.11"})));
    until_answer(&s, "a.com.", &["192.0.2.11"]).await;
    // A route's Gateway changes address; a route goes away.
    api.apply(GATEWAYS, gateway("gw", "192.0.2.31"));
    until_answer(&s, "store.apps.example.com.", &["192.0.2.31"]).await;
    api.delete(HTTPROUTES, "app", "web");
    until_answer(&s, "store.apps.example.com.", &[]).await;
    // After 410 Gone every kind lists again, and answers go on through it.
    api.expire_watches();
    api.apply(INGRESSES, ingress("later", &["later.a.com"], json!({"ip": "192.0.2.12"})));
    until_answer(&s, "later.a.com.", &["192.0.2.12"]).await;
    assert_eq!(addresses(&s, "a.com.", RecordType::A).await, ["192.0.2.11"]);
    s.stop().await;
    api.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_that_is_not_installed_holds_nothing_up_and_is_watched_once_installed() {
    let api = FakeApi::start().await;
    for collection in [GATEWAYS, HTTPROUTES, DNSENDPOINTS] {
        api.uninstall(collection);
    }
    api.apply(INGRESSES, ingress("ingress", &["a.com"], json!({"ip": "192.0.2.10"})));
    let dir = Scratch::new("k8s-gateway-crd");
    let s = TestServer::start(&corefile(&kubeconfig(&dir, &api), "")).await;
    let ready = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(ready, "/ready").await, (200, "OK".to_string()));
    assert_eq!(addresses(&s, "a.com.", RecordType::A).await, ["192.0.2.10"]);
    let before = s.udp("route.example.com.", RecordType::A).await;
    assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);

    api.apply(GATEWAYS, gateway("gw", "192.0.2.30"));
    api.apply(HTTPROUTES, http_route("web", "route.example.com", "gw"));
    api.install(GATEWAYS);
    api.install(HTTPROUTES);
    until_answer(&s, "route.example.com.", &["192.0.2.30"]).await;
    s.stop().await;
    api.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_host_name_is_a_cname_followed_through_the_block() {
    let api = FakeApi::start().await;
    api.apply(
        INGRESSES,
        ingress("cloud", &["cloud.example.com"], json!({"hostname": "lb-1.elb.example.net"})),
    );
    let dir = Scratch::new("k8s-gateway-cname");
    let hosts = "hosts {\n  192.0.2.77 lb-1.elb.example.net\n  fallthrough\n }";
    let s = TestServer::start(&corefile(&kubeconfig(&dir, &api), hosts)).await;
    let m = s.udp("cloud.example.com.", RecordType::A).await;
    let answers: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(answers, ["lb-1.elb.example.net.", "192.0.2.77"]);
    s.stop().await;
    api.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_ingress_hosts_answer_ingress_nginx_address() {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    let s = TestServer::start(&format!(
        ".:0 {{\n k8s_gateway a.com b.com {{\n  resources Ingress\n  manifests {manifests}\n }}\n}}"
    ))
    .await;
    for name in ["a.com.", "b.com."] {
        let m = s.udp(name, RecordType::A).await;
        assert!(m.metadata.authoritative, "{name}");
        let answers: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(answers, ["192.168.1.151"], "{name}");
    }
    let nx = s.udp("www.a.com.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_manifests_are_served_again() {
    let dir = Scratch::new("k8s-gateway-manifests");
    let write = |ip: &str| {
        let text = format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web}}\nspec: {{rules: [{{host: web.example.com}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}\n"
        );
        dir.write("ingress.yaml", &text);
    };
    write("192.0.2.1");
    let s = TestServer::start(&format!(
        ".:0 {{\n k8s_gateway example.com {{\n  manifests {}\n }}\n}}",
        dir.path().display()
    ))
    .await;
    assert_eq!(addresses(&s, "web.example.com.", RecordType::A).await, ["192.0.2.1"]);
    write("192.0.2.22");
    until_answer(&s, "web.example.com.", &["192.0.2.22"]).await;
    s.stop().await;
}
