//! Identical questions in flight share one upstream exchange: 1000 clients ask the same name
//! at once (each from its own socket, with its own id and letter case) of a *forward* whose
//! upstream answers slowly and counts what it receives.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

const CLIENTS: usize = 1000;

/// `name` with each letter's case drawn from `bits`, as a 0x20-checking client sends it.
fn mixed_case(name: &str, bits: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| if bits >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
        .collect()
}

/// Sends every query at once from its own socket and returns each client's reply.
async fn ask_together(server: std::net::SocketAddr, queries: Vec<Message>) -> Vec<Option<Message>> {
    let mut tasks = Vec::new();
    for q in queries {
        tasks.push(tokio::spawn(async move {
            let reply = udp_raw(server, &q.to_vec().unwrap(), Duration::from_secs(10)).await?;
            Message::from_vec(&reply).ok()
        }));
    }
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    replies
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_identical_questions_go_upstream_once() {
    let ip = Ipv4Addr::new(192, 0, 2, 77);
    // Slow enough that every client has asked before the one exchange ends.
    let upstream = Upstream::start(Behaviour::Slow(Duration::from_millis(1500), ip)).await;
    let s = TestServer::start(&format!(
        "coalesce.test:0 {{\n prometheus localhost:0\n forward . {}\n}}",
        upstream.addr
    ))
    .await;
    let queries: Vec<Message> = (0..CLIENTS)
        .map(|i| {
            let name = mixed_case("same.coalesce.test.", plugin_api::pkg::random::next_u64());
            let mut q = query(&name, RecordType::A);
            q.metadata.id = i as u16;
            q
        })
        .collect();
    let replies = ask_together(s.addr, queries.clone()).await;
    for (q, r) in queries.iter().zip(&replies) {
        let r = r.as_ref().unwrap_or_else(|| panic!("client {} got no reply", q.metadata.id));
        assert_eq!(r.metadata.id, q.metadata.id, "each client gets its own id");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            r.queries[0].name().to_ascii(),
            q.queries[0].name().to_ascii(),
            "each client gets the letter case it sent"
        );
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data.to_string(), ip.to_string());
    }
    assert_eq!(upstream.client_queries(), 1, "one query went upstream for all of them");
    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
    let coalesced = metric(&samples, "coredns_forward_coalesced_total", &[]).unwrap_or(0.0);
    assert!(coalesced >= (CLIENTS - 1) as f64, "counted: {coalesced}");
    // Once answered, the next question goes upstream again (no cache here).
    s.udp("same.coalesce.test.", RecordType::A).await;
    assert_eq!(upstream.client_queries(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn waiters_on_a_failed_exchange_get_servfail_and_different_questions_are_not_shared() {
    // A muted upstream never answers: the leader fails after its attempts, and so does every
    // query that waited on it; each asked the upstream nothing of its own.
    let upstream = Upstream::start(Behaviour::Answer(Ipv4Addr::new(192, 0, 2, 1), 60)).await;
    upstream.mute(true);
    let s = TestServer::start(&format!(
        "fail.test:0 {{\n forward . {} {{\n  read_timeout 300ms\n  max_fails 0\n }}\n}}",
        upstream.addr
    ))
    .await;
    let mut queries: Vec<Message> = (0..20)
        .map(|i| {
            let mut q = query("down.fail.test.", RecordType::A);
            q.metadata.id = i;
            q
        })
        .collect();
    // Another type of the same name is an exchange of its own.
    let mut aaaa = query("down.fail.test.", RecordType::AAAA);
    aaaa.metadata.id = 999;
    queries.push(aaaa);
    let replies = ask_together(s.addr, queries.clone()).await;
    for (q, r) in queries.iter().zip(&replies) {
        let r = r.as_ref().expect("a reply");
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    }
    let asked = upstream.asked();
    let a = asked.iter().filter(|(n, t, _)| n == "down.fail.test." && *t == RecordType::A).count();
    let aaaa = asked.iter().filter(|(_, t, _)| *t == RecordType::AAAA).count();
    // The leader's own attempts (two by default), not one per client.
    assert!((1..=2).contains(&a), "A asked {a} times");
    assert!((1..=2).contains(&aaaa), "AAAA asked {aaaa} times");
    s.stop().await;
}
