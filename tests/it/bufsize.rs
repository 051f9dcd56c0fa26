//! *bufsize* over sockets: a reply larger than the cap is truncated at the capped size, not at
//! the client's, and its OPT advertises the cap; *forward* asks its upstream with the cap.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

/// A hosts block with `n` addresses for `big.test.`: about 16 octets each in a reply.
fn many_addresses(n: u8) -> String {
    (1..=n).map(|i| format!("  10.9.0.{i} big.test\n")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_are_cut_at_the_capped_size() {
    let hosts = many_addresses(120);
    let capped =
        TestServer::start(&format!(".:0 {{\n bufsize 1232\n hosts {{\n{hosts} }}\n}}")).await;
    let plain = TestServer::start(&format!(".:0 {{\n hosts {{\n{hosts} }}\n}}")).await;
    let asked = with_edns(query("big.test.", RecordType::A), 4096, 0);
    let wire = asked.to_vec().unwrap();

    let bytes = udp_raw(capped.addr, &wire, WAIT).await.expect("a reply");
    let reply = Message::from_vec(&bytes).unwrap();
    assert!(bytes.len() <= 1232, "{} octets", bytes.len());
    assert!(reply.metadata.truncation, "TC set");
    assert_eq!(reply.edns.as_ref().map(|e| e.max_payload()), Some(1232));

    let bytes = udp_raw(plain.addr, &wire, WAIT).await.expect("a reply");
    let reply = Message::from_vec(&bytes).unwrap();
    assert!(bytes.len() > 1232 && !reply.metadata.truncation, "{} octets", bytes.len());
    assert_eq!(reply.answers.len(), 120);
    assert_eq!(reply.edns.as_ref().map(|e| e.max_payload()), Some(4096));

    // A client asking for less than the cap keeps its own size.
    let small = with_edns(query("big.test.", RecordType::A), 1000, 0);
    let reply = udp_exchange(capped.addr, &small).await.expect("a reply");
    assert_eq!(reply.edns.as_ref().map(|e| e.max_payload()), Some(1000));
    // Over TCP the whole reply comes back.
    let reply = tcp_exchange(capped.addr, &asked).await.expect("a reply");
    assert_eq!(reply.answers.len(), 120);
    capped.stop().await;
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_asks_its_upstream_with_the_capped_size() {
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.7".parse().unwrap(), 60)).await;
    let s = TestServer::start(&format!(".:0 {{\n bufsize 1400\n forward . {}\n}}", upstream.addr))
        .await;
    let asked = with_edns(query("outside.example.", RecordType::A), 4096, 0);
    let reply = udp_exchange(s.addr, &asked).await.expect("a reply");
    assert_eq!(answer_lines(&reply), ["outside.example. A 192.0.2.7"]);
    // The client's query, not forward's health checks of the root.
    let asked = upstream.asked().into_iter().zip(upstream.payloads_asked());
    let sizes: Vec<_> = asked.filter(|((name, ..), _)| name == "outside.example.").collect();
    assert_eq!(sizes.iter().map(|(_, size)| *size).collect::<Vec<_>>(), [Some(1400)]);
    s.stop().await;
}
