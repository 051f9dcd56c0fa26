//! `/health` and `/ready`, in process and on the real binary through a SIGTERM with lameduck.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn health_and_ready_answer_ok() {
    let s =
        TestServer::start("probes-a.test:0 {\n health localhost:0\n ready 127.0.0.1:0\n whoami\n}")
            .await;
    let health = s.instance.http_addr("localhost:0").expect("health listener");
    let ready = s.instance.http_addr("127.0.0.1:0").expect("ready listener");
    assert_ne!(health, ready);
    assert_eq!(http_get(health, "/health").await, (200, "OK".to_string()));
    assert_eq!(http_get(ready, "/ready").await, (200, "OK".to_string()));
    assert_eq!(http_get(health, "/ready").await.0, 404, "each path only where it was asked for");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_ready_share_an_address() {
    let s = TestServer::start(
        "probes-b.test:0 {\n health localhost:0\n ready localhost:0\n prometheus localhost:0\n whoami\n}",
    )
    .await;
    let addr = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(addr, "/health").await.0, 200);
    assert_eq!(http_get(addr, "/ready").await.0, 200);
    assert_eq!(http_get(addr, "/metrics").await.0, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_lameduck_keeps_answering_and_flips_ready() {
    let dir = Scratch::new("lameduck");
    let (hp, rp) = (free_port(), free_port());
    let conf = dir.write(
        "Corefile",
        &format!(
            ".:0 {{\n    health localhost:{hp} {{\n        lameduck 2s\n    }}\n    ready localhost:{rp}\n    whoami\n}}\n"
        ),
    );
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let dns = p.port_of(".");
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    let ready: SocketAddr = ([127, 0, 0, 1], rp).into();
    let health: SocketAddr = ([127, 0, 0, 1], hp).into();
    assert_eq!(http_get(ready, "/ready").await.0, 200);
    assert_eq!(http_get(health, "/health").await.0, 200);

    p.signal("TERM");
    let deadline = Instant::now() + DEADLINE;
    let (mut ready_503, mut answered_after_503) = (false, false);
    while p.child.try_wait().unwrap().is_none() {
        if let Some((503, body)) = http_get_opt(ready, "/ready").await {
            assert_eq!(body, "Shutting down");
            ready_503 = true;
        }
        // Answered after /ready said 503: the order, not a time, shows the lameduck at work.
        if let Some(reply) = udp_exchange_within(
            dns,
            &query("during.lameduck.", RecordType::A),
            Duration::from_millis(500),
        )
        .await
        {
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
            answered_after_503 |= ready_503;
        }
        if Instant::now() > deadline {
            panic!("did not exit within {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p.wait_exit(), 0);
    assert!(ready_503, "/ready said 503 during lameduck");
    assert!(answered_after_503, "DNS was answered after /ready said 503");
    p.wait_line(|l| l == "[INFO] plugin/health: Going into lameduck mode for 2s");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigint_during_lameduck_forces_exit_2() {
    let dir = Scratch::new("sigint2");
    let hp = free_port();
    let conf = dir.write(
        "Corefile",
        &format!(
            ".:0 {{\n    health localhost:{hp} {{\n        lameduck 10s\n    }}\n    whoami\n}}\n"
        ),
    );
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.port_of(".");
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    p.signal("INT");
    p.wait_line(|l| l == "[INFO] plugin/health: Going into lameduck mode for 10s");
    p.signal("INT");
    assert_eq!(p.wait_exit(), 2, "the second SIGINT forces exit 2");
    p.wait_line(|l| l == "[INFO] SIGINT: Force quit");
}

/// *health* asks its own `/health` at the port its listener got. CoreDNS asks the address as
/// written, so with `localhost:0` it asks port 0 and counts a failure every second; here the
/// checks run and none fails, across a reload that moves the listener to a new port too.
#[tokio::test(flavor = "multi_thread")]
async fn health_checks_itself_at_the_port_its_listener_got() {
    let dir = Scratch::new("health-port-0");
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let corefile =
        |health: &str| format!(".:0 {{\n health {health}\n prometheus {metrics}\n whoami\n}}\n");
    let conf = dir.write("Corefile", &corefile("localhost:0"));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    let sample = |name: &'static str| async move {
        let (_, text) = http_get_opt(metrics, "/metrics").await.unwrap_or_default();
        metric(&parse_exposition(&text), name, &[]).unwrap_or(0.0)
    };
    let checks = "coredns_health_request_duration_seconds_count";
    wait_until("two self-checks", || async { sample(checks).await >= 2.0 }).await;

    // Another spelling of port 0 is another listener, on another port.
    std::fs::write(&conf, corefile("127.0.0.1:0")).unwrap();
    p.signal("USR1");
    let before = sample(checks).await;
    wait_until("two more self-checks", || async { sample(checks).await >= before + 2.0 }).await;
    assert_eq!(sample("coredns_health_request_failures_total").await, 0.0);
    let warned = p.drain().iter().any(|l| l.contains("Local health request"));
    assert!(!warned, "no self-check failed: {:?}", p.seen);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}
