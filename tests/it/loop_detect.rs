//! *loop* on the real binary: forwarding to itself stops the process with CoreDNS's message;
//! forwarding elsewhere starts normally.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

/// A port free for both UDP and TCP right now.
fn free_dns_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::", port)).is_ok() {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_to_itself_exits_1() {
    let dir = Scratch::new("loop");
    let port = free_dns_port();
    let conf = dir
        .write("Corefile", &format!(".:{port} {{\n    loop\n    forward . 127.0.0.1:{port}\n}}\n"));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let line = p.wait_line(|l| l.starts_with("[FATAL] plugin/loop: Loop ("));
    assert!(
        line.contains(&format!(" -> 127.0.0.1:{port}) detected for zone \".\""))
            && line.contains("Query: \"HINFO "),
        "{line}"
    );
    assert_eq!(p.wait_exit(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_loop_starts_normally() {
    let up = Upstream::start(Behaviour::Answer(std::net::Ipv4Addr::new(192, 0, 2, 7), 60)).await;
    let dir = Scratch::new("noloop");
    let conf = dir.write("Corefile", &format!(".:0 {{\n    loop\n    forward . {}\n}}\n", up.addr));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let addr = p.port_of(".");
    // The probe went out to the upstream, which answered it rather than sending it back; the
    // server stays up.
    eventually("the probe is forwarded", || up.queries() >= 1).await;
    assert!(p.child.try_wait().unwrap().is_none(), "still running");
    let reply = udp_exchange(addr, &query("a.example.", RecordType::A)).await.unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
}
