//! *cache* over sockets, in front of a plugin that answers in wire form (*hosts*).

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;

/// `serve_stale 1h verify` in front of *hosts* with a 1 s TTL: once the entry expires, each
/// query is verified with *hosts*, whose fresh answer (TTL 1) is served and stored again. The
/// stale entry (TTL 0) must never be served, since *hosts* never fails. Before the fix, a wire
/// answer did not count as a refresh and every answer after the first second was stale.
#[tokio::test(flavor = "multi_thread")]
async fn serve_stale_verify_serves_and_stores_fresh_wire_answers() {
    let s = TestServer::start(
        "cache-verify.test:0 {\n prometheus localhost:0\n cache 1 {\n  serve_stale 1h verify\n }\n \
         hosts {\n  10.0.0.1 a.cache-verify.test\n  ttl 1\n }\n}",
    )
    .await;
    let by_hosts = [("plugin", "hosts"), ("rcode", "NOERROR")];
    let responses = "coredns_dns_responses_total";
    // Generous: the entry expires within two seconds; only a cache that never asks again fails.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut asked = 0;
    loop {
        let m = s.udp("a.cache-verify.test.", RecordType::A).await;
        asked += 1;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1, "{m:?}");
        assert_eq!(m.answers[0].data.to_string(), "10.0.0.1");
        assert_eq!(m.answers[0].ttl, 1, "query {asked}: the fresh answer, never the stale one");
        // The first query is a miss; two more answers by hosts are verifications of an expired
        // entry, each stored again in between.
        let hosts = metric(&scrape(&s).await, responses, &by_hosts).unwrap_or(0.0);
        if hosts >= 3.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the entry never expired: hosts answered {hosts}");
        // Paces the polling; the condition is the count above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let samples = scrape(&s).await;
    // This block's series only: other tests serve stale answers in the same process.
    let zones = [("zones", "cache-verify.test.")];
    let stale = metric(&samples, "coredns_cache_served_stale_total", &zones).unwrap_or(0.0);
    assert_eq!(stale, 0.0, "nothing stale was served");
    let hits = metric(&samples, "coredns_cache_hits_total", &zones).unwrap_or(0.0);
    assert!(hits >= 1.0, "verified answers were stored and hit again: {hits} hits");
    s.stop().await;
}

/// `serve_stale` in front of a real upstream that stops answering: once the entry has expired,
/// the stale answer is served with TTL 0 (at once, or in verify mode after the upstream failed
/// to answer), and the upstream was asked again for it.
#[tokio::test(flavor = "multi_thread")]
async fn serve_stale_answers_when_the_upstream_fails() {
    use std::net::Ipv4Addr;

    use crate::upstream::{Behaviour, Upstream};

    for mode in ["", " verify"] {
        let up = Upstream::start(Behaviour::Answer(Ipv4Addr::new(192, 0, 2, 77), 60)).await;
        let s = TestServer::start(&format!(
            ".:0 {{\n cache 1 {{\n  serve_stale 1h{mode}\n }}\n forward . {} {{\n  max_fails 0\n  read_timeout 300ms\n }}\n}}",
            up.addr
        ))
        .await;
        let fresh = s.udp("stale.example.", RecordType::A).await;
        assert_eq!(fresh.answers[0].ttl, 1, "{mode}");
        up.mute(true);
        let asked = up.client_queries();
        // Until the entry expires the cache answers with TTL 1; then the stale entry, TTL 0.
        wait_until("the entry expires and is served stale", || async {
            let reply = s.udp("stale.example.", RecordType::A).await;
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{mode}");
            assert_eq!(reply.answers[0].data.to_string(), "192.0.2.77", "{mode}");
            reply.answers[0].ttl == 0
        })
        .await;
        eventually("the upstream is asked again", || up.client_queries() > asked).await;
        s.stop().await;
    }
}
