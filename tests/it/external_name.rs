//! ExternalName Services: the CNAME comes with its target's records, looked up through the rest
//! of the block (here a real upstream behind *forward*, or *hosts*), and a CNAME loop between
//! Services ends.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::binary::Scratch;
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

const SERVICES: &str = "\
apiVersion: v1
kind: Service
metadata: {name: my-database, namespace: default}
spec: {type: ExternalName, externalName: db.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: listed, namespace: default}
spec: {type: ExternalName, externalName: internal.example.org}
---
apiVersion: v1
kind: Service
metadata: {name: ping, namespace: default}
spec: {type: ExternalName, externalName: pong.default.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: pong, namespace: default}
spec: {type: ExternalName, externalName: ping.default.svc.cluster.local}
";

fn texts(m: &hickory_proto::op::Message) -> Vec<String> {
    m.answers.iter().map(|r| format!("{} {}", r.record_type(), r.data)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn external_name_targets_are_resolved_through_the_block() {
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.44".parse().unwrap(), 60)).await;
    let dir = Scratch::new("external-name");
    dir.write("svc.yaml", SERVICES);
    let s = TestServer::start(&format!(
        ".:0 {{\n kubernetes cluster.local {{\n  manifests {}\n }}\n hosts {{\n  10.9.8.7 internal.example.org\n  fallthrough\n }}\n forward . {}\n}}",
        dir.path().display(),
        upstream.addr
    ))
    .await;

    // Through forward, to the upstream the test started.
    let a = s.udp("my-database.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert_eq!(texts(&a), ["CNAME db.example.com.", "A 192.0.2.44"]);
    assert_eq!(a.answers[1].name.to_ascii(), "db.example.com.");
    assert_eq!(upstream.queries(), 1, "one nested lookup reached the upstream");

    // Through hosts, which comes earlier in the chain.
    let tcp = s.tcp("listed.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(texts(&tcp), ["CNAME internal.example.org.", "A 10.9.8.7"]);

    // A CNAME query is answered with the CNAME alone, as before.
    let cname = s.udp("my-database.default.svc.cluster.local.", RecordType::CNAME).await;
    assert_eq!(texts(&cname), ["CNAME db.example.com."]);
    assert_eq!(upstream.queries(), 1, "no lookup for a CNAME query");

    // Two Services naming each other: the chase stops, the server goes on answering.
    let ping = s.udp("ping.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(ping.metadata.response_code, ResponseCode::NoError);
    assert!(ping.answers.iter().all(|r| matches!(r.data, RData::CNAME(_))), "{ping:?}");
    // The first CNAME, then one per nested lookup: cut after 8.
    assert_eq!(ping.answers.len(), 9, "the loop is cut after 8 nested lookups");
    let again = s.udp("my-database.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(texts(&again), ["CNAME db.example.com.", "A 192.0.2.44"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_nobody_answers_leaves_the_cname() {
    let dir = Scratch::new("external-name-alone");
    dir.write("svc.yaml", SERVICES);
    let s = TestServer::start(&format!(
        ".:0 {{\n kubernetes cluster.local {{\n  manifests {}\n }}\n}}",
        dir.path().display()
    ))
    .await;
    let a = s.udp("my-database.default.svc.cluster.local.", RecordType::AAAA).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert_eq!(texts(&a), ["CNAME db.example.com."]);
    s.stop().await;
}
