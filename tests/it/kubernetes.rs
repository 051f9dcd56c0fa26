//! The kubernetes plugin over real sockets, serving the seed cluster from its manifests, and the
//! manifests being read again when they change.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::binary::Scratch;
use crate::harness::*;

fn seed_corefile() -> String {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    format!(
        ".:0 {{\n kubernetes cluster.local in-addr.arpa ip6.arpa {{\n  pods insecure\n  fallthrough in-addr.arpa ip6.arpa\n  ttl 30\n  manifests {manifests}\n }}\n hosts {{\n  172.16.0.3 webservice1.com\n  fallthrough\n }}\n}}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_cluster_answers_from_its_manifests() {
    let s = TestServer::start(&seed_corefile()).await;
    let a = s.udp("nginx-service.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(a.answers.len(), 1);
    assert_eq!(a.answers[0].ttl, 30);
    let RData::A(ip) = &a.answers[0].data else { panic!("{a:?}") };
    assert_eq!(ip.0.octets()[0], 10, "an address in 10.96.0.0/12: {ip}");

    let cname = s.udp("my-database.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(cname.answers[0].data.to_string(), "db.example.com.");
    let hosts = s.tcp("webservice1.com.", RecordType::A).await;
    assert_eq!(hosts.answers[0].data.to_string(), "172.16.0.3");
    let srv = s
        .udp("_name-of-service-port._tcp.nginx-service.default.svc.cluster.local.", RecordType::SRV)
        .await;
    assert_eq!(
        srv.answers[0].data.to_string(),
        "0 100 80 nginx-service.default.svc.cluster.local."
    );
    let ptr = s.udp("10.0.96.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.answers[0].data.to_string(), "kube-dns.kube-system.svc.cluster.local.");
    let nx = s.udp("nosuch.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_manifests_are_served_within_a_few_seconds() {
    let dir = Scratch::new("k8s-manifests");
    dir.write(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: first, namespace: demo}\nspec: {clusterIP: 10.96.7.1, ports: [{port: 80}]}\n",
    );
    let s = TestServer::start(&format!(
        ".:0 {{\n kubernetes cluster.local {{\n  manifests {}\n }}\n}}",
        dir.path().display()
    ))
    .await;
    assert_eq!(s.udp("first.demo.svc.cluster.local.", RecordType::A).await.answers.len(), 1);
    dir.write(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: second, namespace: demo}\nspec: {clusterIP: 10.96.7.2, ports: [{port: 80}]}\n",
    );
    // The manifests are checked every few seconds: wait for the change itself, under the
    // harness's deadline, rather than for five seconds of polling.
    wait_until("the new Service is served", || async {
        let reply = s.udp("second.demo.svc.cluster.local.", RecordType::A).await;
        reply.metadata.response_code == ResponseCode::NoError
    })
    .await;
    assert_eq!(
        s.udp("first.demo.svc.cluster.local.", RecordType::A).await.metadata.response_code,
        ResponseCode::NXDomain,
        "the removed one is gone"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_api_or_manifests_it_is_unsynced_and_not_ready() {
    let s = TestServer::start(".:0 {\n ready localhost:0\n kubernetes cluster.local\n}").await;
    let reply = s.udp("nosuch.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let ready = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(ready, "/ready").await, (503, "kubernetes".to_string()));
    s.stop().await;
}
