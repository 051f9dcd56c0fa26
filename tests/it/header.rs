//! *header* over sockets: reply flags set in front of *hosts* (wire replies) and *forward*
//! (message replies), and a query flag cleared before *forward* asks its upstream.

use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn flags_are_set_on_replies_and_cleared_on_queries() {
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.8".parse().unwrap(), 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{
 header {{
  response set ra
  response clear aa
  query clear rd
 }}
 hosts {{
  10.0.0.7 local.test
  fallthrough
 }}
 forward . {}
}}",
        upstream.addr
    ))
    .await;
    // hosts answers in wire form with AA set and RA clear; the client sees them swapped.
    let reply = s.udp("local.test.", RecordType::A).await;
    assert_eq!(answer_lines(&reply), ["local.test. A 10.0.0.7"]);
    assert!(reply.metadata.recursion_available && !reply.metadata.authoritative);
    // The query reaches the upstream without RD; its reply gets RA from the rule.
    let reply = s.tcp("outside.example.", RecordType::A).await;
    assert_eq!(answer_lines(&reply), ["outside.example. A 192.0.2.8"]);
    assert!(reply.metadata.recursion_available);
    let asked = upstream.asked();
    let rd: Vec<bool> =
        asked.iter().filter(|(name, ..)| name == "outside.example.").map(|a| a.2).collect();
    assert_eq!(rd, [false], "RD cleared before forward");
    s.stop().await;
}
