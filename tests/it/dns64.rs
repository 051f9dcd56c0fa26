//! *dns64* over sockets, in front of *forward* to a real upstream that has only A records: an
//! IPv6 client asking AAAA gets the A record under the NAT64 prefix; an IPv4 client gets the
//! upstream's empty answer, unless `allow_ipv4`.

use std::net::{Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

/// Asks `qname`/`qtype` from `[::1]`; `None` where the host has no IPv6 loopback (CI has one,
/// and there its absence fails).
async fn ask_over_ipv6(port: u16, qname: &str, qtype: RecordType) -> Option<Message> {
    let socket = match UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await {
        Ok(socket) => socket,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED the IPv6 half of a dns64 test: no ::1 ({e})");
            return None;
        }
        Err(e) => panic!("CI must provide the IPv6 loopback ::1: {e}"),
    };
    let server = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    socket.send_to(&query(qname, qtype).to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = timeout(WAIT, socket.recv_from(&mut buf)).await.expect("a reply").unwrap();
    Some(Message::from_vec(&buf[..n]).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_records_are_served_as_aaaa_to_ipv6_clients() {
    let upstream = Upstream::start(Behaviour::OnlyA("192.0.2.33".parse().unwrap(), 300)).await;
    let s = TestServer::start(&format!(".:0 {{\n dns64\n forward . {}\n}}", upstream.addr)).await;
    let Some(reply) = ask_over_ipv6(s.addr.port(), "v4only.example.", RecordType::AAAA).await
    else {
        return s.stop().await;
    };
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    // The upstream's AAAA reply has no SOA: the TTL is the smaller of 300 and 600.
    let lines: Vec<String> =
        reply.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
    assert_eq!(lines, ["v4only.example. 300 64:ff9b::c000:221"]);
    // The upstream was asked AAAA, then A.
    let asked: Vec<RecordType> = upstream
        .asked()
        .into_iter()
        .filter(|(name, ..)| name == "v4only.example.")
        .map(|(_, qtype, _)| qtype)
        .collect();
    assert_eq!(asked, [RecordType::AAAA, RecordType::A]);
    // An IPv4 client gets the upstream's empty answer.
    let reply = s.udp("v4only.example.", RecordType::AAAA).await;
    assert!(reply.answers.is_empty() && reply.metadata.response_code == ResponseCode::NoError);
    // A queries pass untouched.
    let reply = ask_over_ipv6(s.addr.port(), "v4only.example.", RecordType::A).await.unwrap();
    assert_eq!(answer_lines(&reply), ["v4only.example. A 192.0.2.33"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_ipv4_and_a_prefix_of_its_own() {
    let upstream = Upstream::start(Behaviour::OnlyA("198.51.100.7".parse().unwrap(), 900)).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n dns64 {{\n  prefix 2001:db8:64::/48\n  allow_ipv4\n }}\n forward . {}\n}}",
        upstream.addr
    ))
    .await;
    let before = translated();
    let reply = s.udp("v4only.example.", RecordType::AAAA).await;
    // RFC 6052 with a /48: two octets of the address, the u octet skipped, then the rest.
    let lines: Vec<String> =
        reply.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
    assert_eq!(lines, ["v4only.example. 600 2001:db8:64:c633:64:700::"]);
    assert!(translated() > before, "coredns_dns64_requests_translated_total counts it");
    s.stop().await;
}

/// `coredns_dns64_requests_translated_total`, every server's, from the process-wide registry
/// (the server runs without *prometheus*).
fn translated() -> f64 {
    let families = plugin_api::pkg::metrics::registry().gather();
    families
        .iter()
        .filter(|f| f.name() == "coredns_dns64_requests_translated_total")
        .flat_map(|f| f.get_metric())
        .map(|m| m.get_counter().get_value())
        .sum()
}
