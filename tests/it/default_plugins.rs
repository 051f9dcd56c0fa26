//! The plugins of the default Corefile over real sockets: hosts (inline and file, reload,
//! PTR, fallthrough), loadbalance, errors and log on the real binary.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::binary::{Running, Scratch};
use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_operators_hosts_block() {
    let s = TestServer::start(
        ".:0 {\n    hosts {\n       172.16.0.3 webservice1.com\n       fallthrough\n    }\n    whoami\n}",
    )
    .await;
    let a = s.udp("webservice1.com.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(a.answers.len(), 1);
    assert_eq!(a.answers[0].ttl, 3600);
    assert_eq!(a.answers[0].data.to_string(), "172.16.0.3");
    let ptr = s.udp("3.0.16.172.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.answers[0].data.to_string(), "webservice1.com.");
    let aaaa = s.tcp("webservice1.com.", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty() && aaaa.authorities.is_empty(), "NODATA without SOA");
    // Anything else falls through to whoami.
    let other = s.udp("other.example.", RecordType::A).await;
    assert!(other.answers.is_empty() && !other.additionals.is_empty(), "whoami answered");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_without_fallthrough_is_servfail_for_unknown_names() {
    let s =
        TestServer::start(".:0 {\n hosts /nonexistent/hosts {\n  10.0.0.1 known.test\n }\n}").await;
    assert_eq!(
        s.udp("unknown.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::ServFail
    );
    assert_eq!(
        s.udp("known.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::NoError
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_file_changes_are_picked_up() {
    let dir = Scratch::new("hostsfile");
    let file = dir.write("hosts", "10.1.0.1 moving.test\n");
    let s = TestServer::start(&format!(
        ".:0 {{\n hosts {} {{\n  reload 100ms\n }}\n}}",
        file.display()
    ))
    .await;
    let first = s.udp("moving.test.", RecordType::A).await;
    assert_eq!(first.answers[0].data.to_string(), "10.1.0.1");
    std::fs::write(&file, "10.1.0.2 moving.test\n10.1.0.3 new.test\n").unwrap();
    let mut seen = String::new();
    for _ in 0..100 {
        let reply = s.udp("moving.test.", RecordType::A).await;
        seen = reply.answers[0].data.to_string();
        if seen == "10.1.0.2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "10.1.0.2", "the new file was read");
    assert_eq!(s.udp("new.test.", RecordType::A).await.answers.len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loadbalance_spreads_the_first_address() {
    let s = TestServer::start(
        ".:0 {\n loadbalance\n hosts {\n  10.2.0.1 lb.test\n  10.2.0.2 lb.test\n  10.2.0.3 lb.test\n }\n}",
    )
    .await;
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..100 {
        let reply = s.udp("lb.test.", RecordType::A).await;
        assert_eq!(reply.answers.len(), 3);
        if let RData::A(a) = &reply.answers[0].data {
            firsts.insert(a.0);
        }
    }
    assert_eq!(firsts.len(), 3, "each address came first at some point");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_and_bad_hosts_lines_are_logged_on_the_binary() {
    let dir = Scratch::new("errors");
    let hosts = dir.write("hosts", "10.3.0.1 good.test\n999.1.1.1 bad.test\n");
    let conf = dir.write(
        "Corefile",
        &format!(
            ".:0 {{\n    errors\n    log\n    hosts {} {{\n        fallthrough\n    }}\n}}\n",
            hosts.display()
        ),
    );
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| {
        l == format!(
            "[WARNING] plugin/hosts: {}:2: skipping line: invalid IP address \"999.1.1.1\"",
            hosts.display()
        )
    });
    let addr = p.port_of(".");
    let good = udp_exchange(addr, &query("good.test.", RecordType::A)).await.unwrap();
    assert_eq!(good.answers.len(), 1, "the good line was loaded");
    // Nothing after hosts: the fallthrough fails, errors logs it, log logs the SERVFAIL.
    let reply = udp_exchange(addr, &query("Missing.Test.", RecordType::A)).await.unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    // log is after errors in the chain, so its line comes first, as in CoreDNS.
    p.wait_line(|l| {
        l == "[ERROR] plugin/errors: 2 missing.test. A: plugin/hosts: no next plugin found"
    });
    let line = p.seen.iter().find(|l| l.contains("\"A IN missing.test. udp ")).expect("log line");
    assert!(line.contains(" SERVFAIL qr,rd "), "{line}");
}
