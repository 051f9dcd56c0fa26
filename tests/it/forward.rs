//! forward against real upstream servers started by the test.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream, dead_addr};

const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// RFC 1035's MINFO, a type hickory has no name for and keeps as octets.
const MINFO: RecordType = RecordType::Unknown(14);

pub(crate) fn first_a(m: &hickory_proto::op::Message) -> Option<Ipv4Addr> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_the_upstream_reply_over_the_clients_transport() {
    let up = Upstream::start(Behaviour::Answer(IP, 300)).await;
    let s = TestServer::start(&format!(".:0 {{\n forward . {}\n}}", up.addr)).await;
    let reply = s.udp("Www.Example.COM.", RecordType::A).await;
    assert_eq!(reply.metadata.id, 0xbeef);
    assert_eq!(first_a(&reply), Some(IP));
    assert_eq!(reply.answers[0].ttl, 300);
    assert!(reply.metadata.recursion_available, "upstream flags relayed");
    assert_eq!(reply.queries[0].name().to_string(), "Www.Example.COM.");
    assert_eq!(up.udp_queries.load(std::sync::atomic::Ordering::SeqCst), 1);
    let reply = s.tcp("www.example.com.", RecordType::A).await;
    assert_eq!(first_a(&reply), Some(IP));
    assert_eq!(
        up.tcp_queries.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "TCP client, TCP upstream"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn force_tcp_and_prefer_udp() {
    let up = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let s = TestServer::start(&format!(".:0 {{\n forward . {} {{\n  force_tcp\n }}\n}}", up.addr))
        .await;
    s.udp("a.example.", RecordType::A).await;
    assert_eq!(
        (
            up.udp_queries.load(std::sync::atomic::Ordering::SeqCst),
            up.tcp_queries.load(std::sync::atomic::Ordering::SeqCst)
        ),
        (0, 1)
    );
    s.stop().await;

    // prefer_udp: a truncated UDP reply is asked again over TCP.
    let trunc = Upstream::start(Behaviour::Truncate(IP)).await;
    let s =
        TestServer::start(&format!(".:0 {{\n forward . {} {{\n  prefer_udp\n }}\n}}", trunc.addr))
            .await;
    let reply = s.tcp("t.example.", RecordType::A).await;
    assert_eq!(first_a(&reply), Some(IP));
    assert_eq!(trunc.udp_queries.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(trunc.tcp_queries.load(std::sync::atomic::Ordering::SeqCst), 1);
    s.stop().await;

    // Without prefer_udp the truncated reply goes to the client as it is.
    let s = TestServer::start(&format!(".:0 {{\n forward . {}\n}}", trunc.addr)).await;
    let reply = s.udp("t.example.", RecordType::A).await;
    assert!(reply.metadata.truncation);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_upstream_is_skipped_and_all_dead_is_servfail() {
    let up = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let dead = dead_addr().await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {dead} {} {{\n  policy sequential\n }}\n}}",
        up.addr
    ))
    .await;
    for _ in 0..5 {
        assert_eq!(first_a(&s.udp("a.example.", RecordType::A).await), Some(IP));
    }
    s.stop().await;

    let (d1, d2) = (dead_addr().await, dead_addr().await);
    let s = TestServer::start(&format!(".:0 {{\n forward . {d1} {d2}\n}}")).await;
    let reply = s.udp("a.example.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upstreams_time_out_into_the_next_one() {
    let slow =
        Upstream::start(Behaviour::Slow(Duration::from_secs(3), Ipv4Addr::new(192, 0, 2, 99)))
            .await;
    let fast = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {} {{\n  policy sequential\n  read_timeout 300ms\n }}\n}}",
        slow.addr, fast.addr
    ))
    .await;
    assert_eq!(first_a(&s.udp("a.example.", RecordType::A).await), Some(IP));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_concurrent_refuses_the_excess() {
    let slow = Upstream::start(Behaviour::Slow(Duration::from_millis(800), IP)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {{\n  max_concurrent 1\n }}\n}}",
        slow.addr
    ))
    .await;
    let addr = s.addr;
    let a = tokio::spawn(
        async move { udp_exchange(addr, &query("one.example.", RecordType::A)).await },
    );
    // The first query is in flight once the upstream has it.
    eventually("the first query reaches the upstream", || slow.queries() == 1).await;
    let second = s.udp("two.example.", RecordType::A).await;
    assert_eq!(second.metadata.response_code, ResponseCode::Refused);
    let first = a.await.unwrap().unwrap();
    assert_eq!(first_a(&first), Some(IP));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_upstream_replies_never_reach_the_client() {
    let garbage = Upstream::start(Behaviour::Garbage).await;
    let s = TestServer::start(&format!(
        "garbage.test:0 {{\n prometheus localhost:0\n forward . {} {{\n  health_check 100ms\n }}\n}}",
        garbage.addr
    ))
    .await;
    assert_eq!(
        s.udp("g.garbage.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::ServFail
    );
    // Counted: the failed exchange sends a health probe, which fails too, and the SERVFAIL.
    let to = garbage.addr.to_string();
    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let mut failures = None;
    for _ in 0..250 {
        let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
        failures = metric(&samples, "coredns_proxy_healthcheck_failures_total", &[("to", &to)]);
        if failures.is_some() {
            let servfail = [("zone", "garbage.test."), ("rcode", "SERVFAIL")];
            assert_eq!(metric(&samples, "coredns_dns_responses_total", &servfail), Some(1.0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failures.is_some_and(|f| f >= 1.0), "the garbage upstream's probe failure is counted");
    s.stop().await;

    // A reply to another question over UDP may be a forgery: it is passed over and the wait
    // goes on (tests/it/forward_spoof.rs); when nothing else comes, SERVFAIL.
    let wrong = Upstream::start(Behaviour::WrongQuestion).await;
    let s = TestServer::start(&format!(
        "wrong.test:0 {{\n forward . {} {{\n  read_timeout 200ms\n }}\n}}",
        wrong.addr
    ))
    .await;
    let reply = s.udp("w.wrong.test.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    s.stop().await;
    // Over TCP, where nobody else can inject it, CoreDNS's answer: FORMERR.
    let s = TestServer::start(&format!(
        "wrong.test:0 {{\n prometheus localhost:0\n forward . {} {{\n  force_tcp\n }}\n}}",
        wrong.addr
    ))
    .await;
    let reply = s.udp("w.wrong.test.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.queries[0].name().to_string(), "w.wrong.test.");
    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
    let formerr = [("zone", "wrong.test."), ("rcode", "FORMERR"), ("plugin", "forward")];
    assert_eq!(metric(&samples, "coredns_dns_responses_total", &formerr), Some(1.0));
    s.stop().await;
}

/// A reply relayed in place has its TTLs changed for the client (by *cache* here, to at most
/// 30 s); one whose CNAME target points into a TTL must reach the client as the upstream
/// wrote it, not respelled by the new TTL: it goes through the decoder.
#[tokio::test(flavor = "multi_thread")]
async fn a_pointer_into_a_ttl_does_not_change_the_name_served() {
    let upstream = Upstream::start(Behaviour::PointerIntoTtl).await;
    let s =
        TestServer::start(&format!("ttl.test:0 {{\n cache 30\n forward . {}\n}}", upstream.addr))
            .await;
    for asked in ["first, a miss", "then from the cache"] {
        let reply = s.udp("n.ttl.test.", RecordType::A).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{asked}");
        let [cname] = &reply.answers[..] else { panic!("{asked}: {:?}", reply.answers) };
        let RData::CNAME(target) = &cname.data else { panic!("{asked}: {cname:?}") };
        assert_eq!(target.0.to_ascii(), "www.abc.", "{asked}");
        assert!(cname.ttl <= 30, "{asked}: {}", cname.ttl);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_names_in_data_hickory_keeps_as_octets_survive_truncation() {
    let upstream = Upstream::start(Behaviour::CompressedMinfo(40)).await;
    let s =
        TestServer::start(&format!("minfo.test:0 {{\n cache 30\n forward . {}\n}}", upstream.addr))
            .await;
    let expected = |i: usize| match i {
        0 => vec!["admin.minfo.test.".to_string(), "m.minfo.test.".to_string()],
        i => vec![format!("r{i}.admin.minfo.test."), "minfo.test.".to_string()],
    };
    // Relayed whole to a client with room for it, and cached; from the cache, cut to 512
    // octets for a client without EDNS: decoded and encoded again, its first owner compressed.
    for (asked, edns) in [("with room", true), ("from the cache, truncated", false)] {
        let query = query("m.minfo.test.", MINFO);
        let query = if edns { with_edns(query, 4096, 0) } else { query };
        let reply = udp_raw(s.addr, &query.to_vec().unwrap(), Duration::from_secs(5))
            .await
            .expect("a reply");
        let names = names_in_answers(&reply, MINFO, 2);
        assert_eq!(reply[2] & 0x02 != 0, !edns, "{asked}: TC");
        let whole = if edns { 40..41 } else { 2..40 };
        assert!(whole.contains(&names.len()), "{asked}: {} answers", names.len());
        for (i, read) in names.iter().enumerate() {
            assert_eq!(read, &expected(i), "{asked}: answer {i}");
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn except_next_and_several_lines() {
    let nx = Upstream::start(Behaviour::NxDomain).await;
    let good = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward example.org {} {{\n  next NXDOMAIN\n }}\n forward . {} {{\n  except skip.example\n }}\n whoami\n}}",
        nx.addr, good.addr
    ))
    .await;
    // The first line matches, says NXDOMAIN, and `next` hands the query to the second line.
    assert_eq!(first_a(&s.udp("a.example.org.", RecordType::A).await), Some(IP));
    assert_eq!(nx.queries(), 1);
    // except: not forwarded, whoami answers.
    let reply = s.udp("x.skip.example.", RecordType::A).await;
    assert!(reply.answers.is_empty() && !reply.additionals.is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_tries_the_next_upstream_on_listed_rcodes() {
    let bad = Upstream::start(Behaviour::ServFail).await;
    let good = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {} {{\n  policy sequential\n  failover SERVFAIL\n }}\n}}",
        bad.addr, good.addr
    ))
    .await;
    assert_eq!(first_a(&s.udp("f.example.", RecordType::A).await), Some(IP));
    s.stop().await;
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_socket_leak_after_many_queries_to_a_dead_upstream() {
    let dead = dead_addr().await;
    let s =
        TestServer::start(&format!(".:0 {{\n forward . {dead} {{\n  max_fails 0\n }}\n}}")).await;
    let before = open_fds();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let q = query("leak.example.", RecordType::A).to_vec().unwrap();
    let mut buf = vec![0u8; 4096];
    let mut answered = 0;
    for _ in 0..10_000 {
        sock.send_to(&q, s.addr).await.unwrap();
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 10_000, "every query answered (SERVFAIL)");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = open_fds();
    // Other tests run in this process too (forward_coalesce.rs opens 1000 client sockets at
    // once); a leak of one socket per query would be 10 000.
    assert!(after < before + 1500, "file descriptors: {before} before, {after} after");
    s.stop().await;
}

/// An upstream that stops answering is marked down by its failed probes and skipped: clients'
/// queries stop reaching it, though the policy would try it first. When it answers probes
/// again it is used again.
#[tokio::test(flavor = "multi_thread")]
async fn health_checks_mark_an_upstream_down_and_up_again() {
    let first = Upstream::start(Behaviour::Answer(IP, 60)).await;
    first.mute(true);
    let backup_ip = Ipv4Addr::new(192, 0, 2, 2);
    let backup = Upstream::start(Behaviour::Answer(backup_ip, 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {} {{\n  policy sequential\n  max_fails 1\n  health_check 100ms\n  read_timeout 300ms\n }}\n}}",
        first.addr, backup.addr
    ))
    .await;
    // The first upstream does not answer, the backup does, and probing of the first begins.
    assert_eq!(first_a(&s.udp("h.example.", RecordType::A).await), Some(backup_ip));
    let failures = || {
        plugin_forward::metrics::HEALTHCHECK_FAILURES
            .with_label_values(&["forward", &first.addr.to_string()])
            .get()
    };
    eventually("two failed probes", || failures() >= 2).await;
    // Down: clients' queries go straight to the backup, the first one sees none of them.
    let (asked_first, asked_backup) = (first.client_queries(), backup.client_queries());
    for i in 0..5 {
        let name = format!("down{i}.example.");
        assert_eq!(first_a(&s.udp(&name, RecordType::A).await), Some(backup_ip));
    }
    assert_eq!(first.client_queries(), asked_first, "a down upstream is skipped");
    assert_eq!(backup.client_queries(), asked_backup + 5);
    assert!(first.probes() >= 2, "probes still reach it: {}", first.probes());
    // It answers again: a probe finds it and it is used again.
    first.mute(false);
    wait_until("the first upstream answers again", || async {
        first_a(&s.udp("h.example.", RecordType::A).await) == Some(IP)
    })
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_in_front_of_forward_answers_repeats_from_memory() {
    let up = Upstream::start(Behaviour::Answer(IP, 300)).await;
    let s = TestServer::start(&format!(
        "cache-fwd.test:0 {{\n prometheus localhost:0\n cache 30\n forward . {}\n}}",
        up.addr
    ))
    .await;
    let first = s.udp("a.cache-fwd.test.", RecordType::A).await;
    assert_eq!(first.answers[0].ttl, 30);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = s.udp("a.cache-fwd.test.", RecordType::A).await;
    assert_eq!(up.queries(), 1, "the second answer came from the cache");
    assert!(second.answers[0].ttl <= 29, "TTL counted down: {}", second.answers[0].ttl);
    assert!(second.metadata.authoritative);

    let metrics_addr = s.instance.http_addr("localhost:0").unwrap();
    let samples = parse_exposition(&http_get(metrics_addr, "/metrics").await.1);
    let zones = ("zones", "cache-fwd.test.");
    assert_eq!(
        metric(&samples, "coredns_cache_hits_total", &[zones, ("type", "success")]),
        Some(1.0)
    );
    assert_eq!(metric(&samples, "coredns_cache_misses_total", &[zones]), Some(1.0));
    assert_eq!(metric(&samples, "coredns_cache_requests_total", &[zones]), Some(2.0));
    assert_eq!(metric(&samples, "coredns_cache_entries", &[zones, ("type", "success")]), Some(1.0));
    // The plugin that wrote each reply: forward, then cache.
    let resp = |plugin| {
        metric(
            &samples,
            "coredns_dns_responses_total",
            &[("zone", "cache-fwd.test."), ("plugin", plugin)],
        )
    };
    assert_eq!((resp("forward"), resp("cache")), (Some(1.0), Some(1.0)));
    let upstream = up.addr.to_string();
    assert!(
        metric(
            &samples,
            "coredns_proxy_request_duration_seconds_count",
            &[("to", upstream.as_str()), ("rcode", "NOERROR")]
        )
        .is_some()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_over_tls_upstreams_are_verified() {
    use crate::upstream::{TestPki, start_tls};
    let pki = TestPki::new("dns.test");
    let (addr, count, task) = start_tls(&pki, Behaviour::Answer(IP, 60)).await;
    let dir = crate::binary::Scratch::new("dot");
    let ca = dir.write("ca.pem", &pki.ca_pem);
    let s = TestServer::start(&format!(
        "dot.test:0 {{\n prometheus localhost:0\n forward . tls://127.0.0.1:{}%dns.test {{\n  tls {}\n }}\n}}",
        addr.port(),
        ca.display()
    ))
    .await;
    for _ in 0..3 {
        assert_eq!(first_a(&s.udp("a.dot.test.", RecordType::A).await), Some(IP));
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    let samples = parse_exposition(
        &http_get(s.instance.http_addr("localhost:0").unwrap(), "/metrics").await.1,
    );
    let to = addr.to_string();
    assert_eq!(
        metric(
            &samples,
            "coredns_proxy_conn_cache_misses_total",
            &[("to", to.as_str()), ("proto", "tcp-tls")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &samples,
            "coredns_proxy_conn_cache_hits_total",
            &[("to", to.as_str()), ("proto", "tcp-tls")]
        ),
        Some(2.0),
        "the TLS connection is reused"
    );
    s.stop().await;

    // A certificate for another name is refused: SERVFAIL, nothing answered.
    let s = TestServer::start(&format!(
        "dot.test:0 {{\n forward . tls://127.0.0.1:{}%other.test {{\n  tls {}\n }}\n}}",
        addr.port(),
        ca.display()
    ))
    .await;
    assert_eq!(
        s.udp("b.dot.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::ServFail
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    s.stop().await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_and_random_spread_queries() {
    for policy in ["round_robin", "random"] {
        let a = Upstream::start(Behaviour::Answer(IP, 60)).await;
        let b = Upstream::start(Behaviour::Answer(IP, 60)).await;
        let s = TestServer::start(&format!(
            ".:0 {{\n forward . {} {} {{\n  policy {policy}\n }}\n}}",
            a.addr, b.addr
        ))
        .await;
        for i in 0..40 {
            s.udp(&format!("q{i}.spread.example."), RecordType::A).await;
        }
        let (qa, qb) = (a.queries(), b.queries());
        assert_eq!(qa + qb, 40, "{policy}");
        if policy == "round_robin" {
            assert_eq!((qa, qb), (20, 20), "round_robin alternates");
        } else {
            assert!(qa >= 5 && qb >= 5, "random uses both: {qa}/{qb}");
        }
        s.stop().await;
    }
    // sequential: always the first while it answers.
    let a = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let b = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {} {{\n  policy sequential\n }}\n}}",
        a.addr, b.addr
    ))
    .await;
    for i in 0..10 {
        s.udp(&format!("s{i}.spread.example."), RecordType::A).await;
    }
    assert_eq!((a.queries(), b.queries()), (10, 0));
    s.stop().await;
}

/// Cache hits are stored bytes fitted to each client: the OPT the client should get (its buffer
/// size, its DO bit, its cookie echoed) or none, the client's letter case in the question, the
/// TTL counting down; too big for a 512-octet client, truncated with TC; and *loadbalance*
/// (before the cache, as in the kubeadm Corefile) still shuffles the addresses of every hit.
#[tokio::test(flavor = "multi_thread")]
async fn cache_hits_are_stored_bytes_fitted_to_each_client() {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

    let up = Upstream::start(Behaviour::Many(40)).await;
    let s = TestServer::start(&format!(
        "hits.test:0 {{\n loadbalance\n cache 30\n forward . {}\n}}",
        up.addr
    ))
    .await;
    let name = "a.hits.test.";
    let big = with_edns(query(name, RecordType::A), 4096, 0);
    let first = udp_exchange(s.addr, &big).await.expect("miss answered");
    assert_eq!(first.answers.len(), 40);

    // EDNS with a cookie and no DO: an OPT with the client's size, the cookie back, DO clear.
    let mut cookie = with_edns(query(name, RecordType::A), 1400, 0);
    let opt = cookie.edns.as_mut().unwrap();
    opt.options_mut().insert(EdnsOption::Unknown(10, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    let hit = udp_exchange(s.addr, &cookie).await.expect("hit");
    assert_eq!(hit.answers.len(), 40);
    assert!(hit.metadata.authoritative, "AA on hits, as CoreDNS");
    let opt = hit.edns.as_ref().expect("OPT on the hit");
    assert_eq!((opt.max_payload(), opt.flags().dnssec_ok), (1400, false));
    assert!(opt.options().get(EdnsCode::Cookie).is_some(), "cookie echoed");

    // No EDNS and 512 octets: too big, so truncated with TC; over TCP, all of it, no OPT.
    let small = udp_exchange(s.addr, &query(name, RecordType::A)).await.expect("hit");
    assert!(small.metadata.truncation && small.answers.len() < 40);
    assert!(small.edns.is_none());
    let whole = tcp_exchange(s.addr, &query("A.HITS.test.", RecordType::A)).await.expect("hit");
    assert_eq!(whole.answers.len(), 40);
    assert!(whole.edns.is_none());
    assert_eq!(whole.queries[0].name().to_ascii(), "A.HITS.test.", "the client's case");
    assert!(whole.answers.iter().all(|r| r.ttl <= 30), "TTL capped by cache 30 and counting");

    // Every hit is shuffled; the addresses are always the same forty.
    let mut orders = std::collections::HashSet::new();
    for _ in 0..20 {
        let hit = udp_exchange(s.addr, &big).await.expect("hit");
        let ips: Vec<String> = hit.answers.iter().map(|r| r.data.to_string()).collect();
        let mut sorted = ips.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 40);
        orders.insert(ips);
    }
    assert!(orders.len() > 15, "hits are shuffled: {} orders in 20", orders.len());
    assert_eq!(up.queries(), 1, "one query upstream; everything else came from the cache");
    s.stop().await;
}

/// An upstream that answers with more than the query's buffer allows (60 addresses to a query
/// without EDNS, so at most 512 octets) is not relayed: the exchange fails and the client gets
/// SERVFAIL. Asked with room (EDNS 4096) or over TCP, the same answer comes whole.
#[tokio::test(flavor = "multi_thread")]
async fn upstream_replies_over_the_advertised_size_are_not_relayed() {
    let up = Upstream::start(Behaviour::Many(60)).await;
    let s = TestServer::start(&format!(".:0 {{\n forward . {}\n}}", up.addr)).await;
    let small = s.udp("big.example.", RecordType::A).await;
    assert_eq!(small.metadata.response_code, ResponseCode::ServFail);
    let roomy = udp_exchange(s.addr, &with_edns(query("big.example.", RecordType::A), 4096, 0))
        .await
        .expect("reply");
    assert_eq!(roomy.answers.len(), 60);
    assert_eq!(s.tcp("big.example.", RecordType::A).await.answers.len(), 60);
    s.stop().await;
}
