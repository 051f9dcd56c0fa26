//! *forward*'s options that only show against real upstreams: the all-down path, the attempt
//! cap, `next_on_nodata`, `read_timeout` below the default, the health check's `domain` and
//! `no_rec`, connection expiry, and `tls_servername`.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use plugin_forward::metrics::{CONN_CACHE_HITS, CONN_CACHE_MISSES, HEALTHCHECK_BROKEN};

use crate::forward::first_a;
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

fn failures(upstream: &Upstream) -> u64 {
    plugin_forward::metrics::HEALTHCHECK_FAILURES
        .with_label_values(&["forward", &upstream.addr.to_string()])
        .get()
}

/// Every upstream down: CoreDNS still tries one (counting the query in
/// `coredns_forward_healthcheck_broken_total`), unless `failfast_all_unhealthy_upstreams`,
/// which answers SERVFAIL without asking any.
#[tokio::test(flavor = "multi_thread")]
async fn when_every_upstream_is_down() {
    for failfast in [false, true] {
        let ups = [
            Upstream::start(Behaviour::Answer(IP, 60)).await,
            Upstream::start(Behaviour::Answer(IP, 60)).await,
        ];
        for up in &ups {
            up.mute(true);
        }
        let option = if failfast { "  failfast_all_unhealthy_upstreams\n" } else { "" };
        let s = TestServer::start(&format!(
            ".:0 {{\n forward . {} {} {{\n  max_fails 1\n  health_check 100ms\n  read_timeout 200ms\n{option} }}\n}}",
            ups[0].addr, ups[1].addr
        ))
        .await;
        // A first query fails on both and starts their probes; wait until both are down.
        let first = s.udp("first.example.", RecordType::A).await;
        assert_eq!(first.metadata.response_code, ResponseCode::ServFail);
        eventually("both upstreams fail their probes", || ups.iter().all(|u| failures(u) >= 2))
            .await;
        let (asked, broken) =
            (ups.iter().map(Upstream::client_queries).sum::<usize>(), HEALTHCHECK_BROKEN.get());
        let reply = s.udp("down.example.", RecordType::A).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::ServFail, "failfast {failfast}");
        let tried = ups.iter().map(Upstream::client_queries).sum::<usize>() - asked;
        if failfast {
            assert_eq!(tried, 0, "failfast asks no upstream");
        } else {
            assert!(tried >= 1, "one upstream is tried anyway");
        }
        assert!(HEALTHCHECK_BROKEN.get() > broken, "counted as broken");
        s.stop().await;
    }
}

/// `max_connect_attempts 1`: one upstream is asked per query, however many there are.
#[tokio::test(flavor = "multi_thread")]
async fn max_connect_attempts_caps_the_upstreams_tried() {
    let ups = [
        Upstream::start(Behaviour::Answer(IP, 60)).await,
        Upstream::start(Behaviour::Answer(IP, 60)).await,
        Upstream::start(Behaviour::Answer(IP, 60)).await,
    ];
    for up in &ups {
        up.mute(true);
    }
    let list = ups.iter().map(|u| u.addr.to_string()).collect::<Vec<_>>().join(" ");
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {list} {{\n  policy sequential\n  max_connect_attempts 1\n  max_fails 0\n  read_timeout 200ms\n }}\n}}"
    ))
    .await;
    let reply = s.udp("capped.example.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let asked: Vec<usize> = ups.iter().map(Upstream::client_queries).collect();
    assert_eq!(asked, [1, 0, 0], "only the first, once");
    s.stop().await;
}

/// `next_on_nodata`: a NOERROR reply without records goes on to the next `forward` line, as
/// `next` does for the rcodes it lists.
#[tokio::test(flavor = "multi_thread")]
async fn next_on_nodata_goes_to_the_next_forward_line() {
    let empty = Upstream::start(Behaviour::NoData).await;
    let full = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let corefile = |option: &str| {
        format!(
            ".:0 {{\n forward . {} {{\n  next NXDOMAIN\n{option} }}\n forward . {}\n}}",
            empty.addr, full.addr
        )
    };
    let s = TestServer::start(&corefile("  next_on_nodata\n")).await;
    assert_eq!(first_a(&s.udp("nodata.example.", RecordType::A).await), Some(IP));
    assert_eq!((empty.client_queries(), full.client_queries()), (1, 1));
    s.stop().await;
    // Without it, the empty reply is the answer.
    let s = TestServer::start(&corefile("")).await;
    let reply = s.udp("nodata.example.", RecordType::A).await;
    assert_eq!((reply.metadata.response_code, reply.answers.len()), (ResponseCode::NoError, 0));
    assert_eq!(full.client_queries(), 1, "the second line was not asked");
    s.stop().await;
}

/// `read_timeout 300ms` gives up on an upstream that takes a second, which the 2 s default
/// would wait for: the second upstream's answer comes back, not the slow one's.
#[tokio::test(flavor = "multi_thread")]
async fn read_timeout_below_the_default_moves_on() {
    let slow_ip = Ipv4Addr::new(192, 0, 2, 99);
    let slow = Upstream::start(Behaviour::Slow(Duration::from_secs(1), slow_ip)).await;
    let fast = Upstream::start(Behaviour::Answer(IP, 60)).await;
    let corefile = |option: &str| {
        format!(
            ".:0 {{\n forward . {} {} {{\n  policy sequential\n{option} }}\n}}",
            slow.addr, fast.addr
        )
    };
    let s = TestServer::start(&corefile("  read_timeout 300ms\n")).await;
    assert_eq!(first_a(&s.udp("t.example.", RecordType::A).await), Some(IP));
    s.stop().await;
    // The default waits out the slow upstream.
    let s = TestServer::start(&corefile("")).await;
    assert_eq!(first_a(&s.udp("t.example.", RecordType::A).await), Some(slow_ip));
    s.stop().await;
}

/// The health check asks `domain`'s NS, without RD when `no_rec` is given; by default `.`
/// with RD. Checks begin once an upstream has failed.
#[tokio::test(flavor = "multi_thread")]
async fn health_check_domain_and_no_rec_shape_the_probe() {
    for (options, name, rd) in [
        ("  health_check 100ms no_rec domain probe.example.\n", "probe.example.", false),
        ("  health_check 100ms\n", ".", true),
    ] {
        let up = Upstream::start(Behaviour::Answer(IP, 60)).await;
        up.mute(true);
        let backup = Upstream::start(Behaviour::Answer(IP, 60)).await;
        let s = TestServer::start(&format!(
            ".:0 {{\n forward . {} {} {{\n  policy sequential\n  read_timeout 200ms\n{options} }}\n}}",
            up.addr, backup.addr
        ))
        .await;
        s.udp("h.example.", RecordType::A).await;
        let probe = |a: &(String, RecordType, bool)| a.1 == RecordType::NS;
        eventually("a probe arrives", || up.asked().iter().any(probe)).await;
        let probes: Vec<_> = up.asked().into_iter().filter(probe).collect();
        assert!(probes.iter().all(|p| p.0 == name && p.2 == rd), "{options}: {probes:?}");
        s.stop().await;
    }
}

/// Connections are reused until `expire`: with `expire 100ms`, a connection idle for longer
/// is not, while the 10 s default reuses it.
#[tokio::test(flavor = "multi_thread")]
async fn expire_ends_connection_reuse() {
    for (expire, reused) in [("  expire 100ms\n", false), ("", true)] {
        let up = Upstream::start(Behaviour::Answer(IP, 60)).await;
        let s = TestServer::start(&format!(
            ".:0 {{\n forward . {} {{\n  force_tcp\n{expire} }}\n}}",
            up.addr
        ))
        .await;
        let labels = ["forward".to_string(), up.addr.to_string(), "tcp".to_string()];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(first_a(&s.udp("one.example.", RecordType::A).await), Some(IP));
        // Time itself is what expiry is about: the connection must have been idle longer than
        // 100 ms, far less than the default's 10 s.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(first_a(&s.udp("two.example.", RecordType::A).await), Some(IP));
        let hits = CONN_CACHE_HITS.with_label_values(&labels).get();
        let misses = CONN_CACHE_MISSES.with_label_values(&labels).get();
        if reused {
            assert_eq!((hits, misses), (1, 1), "the default reuses the connection");
        } else {
            assert_eq!((hits, misses), (0, 2), "an expired connection is not reused");
        }
        s.stop().await;
    }
}

/// `tls_servername` is the name every TLS upstream's certificate must carry.
#[tokio::test(flavor = "multi_thread")]
async fn tls_servername_names_the_certificate_to_expect() {
    use crate::upstream::{TestPki, start_tls};
    let pki = TestPki::new("dns.test");
    let (addr, count, _task) = start_tls(&pki, Behaviour::Answer(IP, 60)).await;
    let dir = crate::binary::Scratch::new("tls-servername");
    let ca = dir.write("ca.pem", &pki.ca_pem);
    let corefile = |name: &str| {
        format!(
            ".:0 {{\n forward . tls://127.0.0.1:{} {{\n  tls {}\n  tls_servername {name}\n }}\n}}",
            addr.port(),
            ca.display()
        )
    };
    let s = TestServer::start(&corefile("dns.test")).await;
    assert_eq!(first_a(&s.udp("a.example.", RecordType::A).await), Some(IP));
    s.stop().await;
    let s = TestServer::start(&corefile("other.test")).await;
    let refused = s.udp("a.example.", RecordType::A).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::ServFail, "the name does not match");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "nothing asked over it");
    s.stop().await;
}

/// `max_idle_conns 1`: of two connections that were busy at once, one is kept for reuse. Two
/// concurrent queries later reuse one connection and open another; without the cap both are
/// reused.
#[tokio::test(flavor = "multi_thread")]
async fn max_idle_conns_caps_the_connections_kept() {
    for (option, hits, misses) in [("  max_idle_conns 1\n", 1, 3), ("", 2, 2)] {
        let up = Upstream::start(Behaviour::Slow(Duration::from_millis(300), IP)).await;
        let s = TestServer::start(&format!(
            ".:0 {{\n forward . {} {{\n  force_tcp\n{option} }}\n}}",
            up.addr
        ))
        .await;
        let labels = ["forward".to_string(), up.addr.to_string(), "tcp".to_string()];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        for round in 0..2 {
            // Two at once: the upstream holds each for 300 ms, so each needs a connection.
            let (first, second) = (format!("a{round}.example."), format!("b{round}.example."));
            let (a, b) = tokio::join!(s.udp(&first, RecordType::A), s.udp(&second, RecordType::A));
            assert_eq!((first_a(&a), first_a(&b)), (Some(IP), Some(IP)), "{option}");
        }
        let got = (
            CONN_CACHE_HITS.with_label_values(&labels).get(),
            CONN_CACHE_MISSES.with_label_values(&labels).get(),
        );
        assert_eq!(got, (hits, misses), "{option}");
        s.stop().await;
    }
}
