//! The *reload* plugin on the real binary: the Corefile changes ten times (once to a broken
//! file) under a steady stream of UDP and TCP queries; none is lost or answered SERVFAIL, each
//! change shows within the interval, the broken one is logged and counted.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::harness::*;

fn corefile(version: usize, metrics_port: u16) -> String {
    format!(
        "steady.test:0 {{\n    reload 2s 0s\n    prometheus localhost:{metrics_port}\n    whoami\n}}\nv{version}.test:0 {{\n    whoami\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_changes_under_load_lose_nothing() {
    let dir = Scratch::new("reload");
    let metrics_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = dir.write("Corefile", &corefile(0, metrics_port));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.starts_with("[INFO] plugin/reload: Running configuration SHA512 = "));
    let addr = p.port_of("steady.test.");

    // Steady load: UDP and TCP, each query must come back NOERROR.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for tcp in [false, true] {
        let (stop, sent, bad) = (stop.clone(), sent.clone(), bad.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let q = query("a.steady.test.", RecordType::A);
                let reply =
                    if tcp { tcp_exchange(addr, &q).await } else { udp_exchange(addr, &q).await };
                sent.fetch_add(1, Ordering::SeqCst);
                if reply.map(|r| r.metadata.response_code) != Some(ResponseCode::NoError) {
                    bad.fetch_add(1, Ordering::SeqCst);
                }
                // As fast as one client per transport can go: thousands of queries a second.
                tokio::task::yield_now().await;
            }
        }));
    }

    let served = |version: usize| async move {
        let q = query(&format!("x.v{version}.test."), RecordType::A);
        udp_exchange(addr, &q).await.map(|r| r.metadata.response_code)
            == Some(ResponseCode::NoError)
    };
    for version in 1..=10 {
        if version == 5 {
            std::fs::write(&conf, "steady.test:0 {\n    reload 2s 0s\n    nonsense\n}\n").unwrap();
            p.wait_line(|l| {
                l.contains("Corefile changed but reload failed")
                    && l.contains("Unknown directive 'nonsense'")
            });
            assert!(served(4).await, "the running configuration stays");
            continue;
        }
        // The load runs across every reload: it answers more queries after the file changes.
        let before = sent.load(Ordering::SeqCst);
        std::fs::write(&conf, corefile(version, metrics_port)).unwrap();
        wait_until(&format!("version {version} served"), || served(version)).await;
        assert!(!served(version - 1).await || version == 6, "the previous zone is gone");
        eventually("the load goes on", || sent.load(Ordering::SeqCst) > before).await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.unwrap();
    }
    let (sent, bad) = (sent.load(Ordering::SeqCst), bad.load(Ordering::SeqCst));
    assert_eq!(bad, 0, "{bad} of {sent} queries lost or failed");

    let metrics: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
    let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
    assert_eq!(metric(&samples, "coredns_reload_failed_total", &[]), Some(1.0));
    assert_eq!(
        samples.iter().filter(|s| s.name == "coredns_reload_version_info").count(),
        1,
        "one version_info series, the running one"
    );
}

/// The Corefile and a hosts file deleted under a running server: it keeps answering from what
/// it loaded, says once that the Corefile is gone, and picks up a new Corefile when one comes.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_corefile_and_hosts_file_keep_serving() {
    let dir = Scratch::new("deleted");
    let hosts = dir.write("hosts", "10.20.30.40 kept.files.test\n");
    let text = format!(
        "files.test:0 {{\n    reload 2s 0s\n    hosts {} {{\n        reload 1s\n    }}\n}}\n",
        hosts.display()
    );
    let conf = dir.write("Corefile", &text);
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.starts_with("[INFO] plugin/reload: Running configuration SHA512 = "));
    let addr = p.port_of("files.test.");
    let kept = || async move {
        let reply = udp_exchange(addr, &query("kept.files.test.", RecordType::A)).await;
        reply
            .is_some_and(|r| r.answers.first().is_some_and(|a| a.data.to_string() == "10.20.30.40"))
    };
    assert!(kept().await);

    std::fs::remove_file(&hosts).unwrap();
    std::fs::remove_file(&conf).unwrap();
    p.wait_line(|l| {
        l.contains("plugin/reload: Corefile unreadable, the running configuration stays")
    });
    // Past both reload periods: still answering from what was loaded.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(kept().await, "answers from the loaded hosts file");

    // A new Corefile (with a new zone) is picked up.
    std::fs::write(&conf, text.replace("files.test:0", "files.test:0 back.test:0")).unwrap();
    p.wait_line(|l| l.contains("plugin/reload: Corefile readable again"));
    p.wait_line(|l| l.contains("Reloading complete"));
    let back = udp_exchange(addr, &query("x.back.test.", RecordType::A)).await.expect("reply");
    assert_ne!(back.metadata.response_code, ResponseCode::Refused, "the new zone is served");
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}
