//! *local* over sockets: the loopback names answered in front of an upstream that must never see
//! them, the rest forwarded to it, over UDP and TCP, and the metric.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn local_names_never_reach_the_upstream() {
    let upstream = Upstream::start(Behaviour::Answer(Ipv4Addr::new(192, 0, 2, 7), 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n prometheus localhost:0\n local\n forward . {}\n}}",
        upstream.addr
    ))
    .await;
    let counted = "coredns_local_localhost_requests_total";
    let before = metric(&scrape(&s).await, counted, &[]).unwrap_or(0.0);

    let a = s.udp("Web.LocalHost.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(!a.metadata.authoritative);
    assert_eq!(a.answers.len(), 1);
    assert_eq!(a.answers[0].name.to_ascii(), "Web.LocalHost.", "the question's spelling");
    assert_eq!((a.answers[0].ttl, a.answers[0].data.to_string()), (604800, "127.0.0.1".into()));

    let aaaa = s.tcp("localhost.", RecordType::AAAA).await;
    assert_eq!(aaaa.answers[0].data.to_string(), "::1");

    let ptr = s.udp("1.0.0.127.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.answers[0].data.to_string(), "localhost.");

    let nx = s.tcp("2.0.0.127.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities[0].name.to_ascii(), "127.in-addr.arpa.");
    assert_eq!(nx.authorities[0].data.to_string(), "localhost. root.localhost. 1 0 0 0 604800");

    let soa = s.udp("0.in-addr.arpa.", RecordType::SOA).await;
    assert_eq!(soa.answers.len(), 1);
    assert_eq!(soa.answers[0].record_type(), RecordType::SOA);

    assert_eq!(upstream.queries(), 0, "nothing local was forwarded");
    // Anything else goes on to the upstream.
    let other = s.udp("example.org.", RecordType::A).await;
    assert_eq!(other.answers[0].data.to_string(), "192.0.2.7");
    assert_eq!(upstream.queries(), 1);

    // Two queries under localhost. (over UDP and TCP alike); localhost. itself is not counted.
    s.tcp("db.localhost.", RecordType::A).await;
    let after = metric(&scrape(&s).await, counted, &[]).unwrap_or(0.0);
    assert_eq!(after - before, 2.0);
    s.stop().await;
}
