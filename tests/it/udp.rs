//! The UDP loop with many clients at once: every reply goes to the client that asked, with its
//! id and question, whatever else arrived in the same batch; IPv6 clients are answered on the
//! dual-stack socket; a stopped listener answers no more.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use crate::harness::*;

const CLIENTS: usize = 40;
const QUERIES_PER_CLIENT: u16 = 5;

/// What *whoami* says the client's address is.
fn whoami_client(reply: &Message) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for record in &reply.additionals {
        match &record.data {
            RData::A(a) => ip = Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => ip = Some(IpAddr::V6(a.0)),
            RData::SRV(srv) => port = Some(srv.port),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_from_many_clients_gets_each_its_own_answers() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    // Everything is sent before anything is read, so the server takes it in batches where
    // dropped packets (responses), FORMERR and answers sit side by side.
    let mut response = query("dropped.example.", RecordType::A).to_vec().unwrap();
    response[2] |= 0x80;
    let mut asked = HashMap::new();
    for (c, socket) in clients.iter().enumerate() {
        for q in 0..QUERIES_PER_CLIENT {
            socket.send_to(&response, s.addr).await.unwrap();
            let id = (c as u16) << 8 | q;
            let name = format!("q{q}.c{c}.example.");
            let mut msg = query(&name, RecordType::A);
            msg.metadata.id = id;
            socket.send_to(&msg.to_vec().unwrap(), s.addr).await.unwrap();
            asked.insert(id, (c, name));
        }
        // A header that claims a question it does not have: FORMERR with the same id.
        let formerr_id = (c as u16) << 8 | 0xff;
        let bad: Vec<u8> =
            [formerr_id, 0x0100, 1, 0, 0, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
        socket.send_to(&bad, s.addr).await.unwrap();
    }

    for (c, socket) in clients.iter().enumerate() {
        let me = socket.local_addr().unwrap();
        let (mut answers, mut formerrs) = (0, 0);
        let mut buf = vec![0u8; 4096];
        while answers + formerrs < QUERIES_PER_CLIENT + 1 {
            let (len, from) = timeout(WAIT, socket.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("client {c} got {answers} answers, {formerrs} FORMERR"))
                .unwrap();
            assert_eq!(from.port(), s.addr.port());
            let reply = Message::from_vec(&buf[..len]).unwrap();
            let id = reply.metadata.id;
            assert_eq!(usize::from(id >> 8), c, "client {c} got a reply for client {}", id >> 8);
            if id & 0xff == 0xff {
                assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
                formerrs += 1;
                continue;
            }
            let (_, name) = &asked[&id];
            assert_eq!(reply.queries[0].name().to_ascii(), *name);
            assert_eq!(whoami_client(&reply), Some(me), "reply {id:#06x} names another client");
            answers += 1;
        }
        assert_eq!(formerrs, 1);
        // Nothing more: the responses sent as queries were dropped, not answered.
        assert!(timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await.is_err());
    }
    s.stop().await;
}

/// IPv4 clients of the dual-stack listener are answered with their plain (not mapped) address.
#[tokio::test(flavor = "multi_thread")]
async fn ipv4_clients_are_answered_with_their_plain_address() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let v4 = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let reply = udp_exchange_from(&v4, s.addr, &query("v4.example.", RecordType::A)).await;
    assert_eq!(whoami_client(&reply), Some(v4.local_addr().unwrap()));
    s.stop().await;
}

/// IPv6 clients are answered with their own address. It needs `::1`, which `.ci/run` makes
/// sure of; under CI a missing `::1` fails the test, and elsewhere the skip says so loudly.
#[tokio::test(flavor = "multi_thread")]
async fn ipv6_clients_are_answered_with_their_own_address() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let socket = match UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).await {
        Ok(socket) => socket,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED ipv6_clients_are_answered_with_their_own_address: no ::1 ({e})");
            return s.stop().await;
        }
        Err(e) => panic!("CI must provide the IPv6 loopback ::1: {e}"),
    };
    let server = SocketAddr::from((Ipv6Addr::LOCALHOST, s.addr.port()));
    let reply = udp_exchange_from(&socket, server, &query("v6.example.", RecordType::AAAA)).await;
    assert_eq!(whoami_client(&reply), Some(socket.local_addr().unwrap()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_server_no_longer_answers() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let addr = s.addr;
    assert_eq!(
        udp_exchange(addr, &query("before.example.", RecordType::A)).await.map(|m| m.metadata.id),
        Some(0xbeef)
    );
    s.stop().await;
    let packet = query("after.example.", RecordType::A).to_vec().unwrap();
    assert_eq!(udp_raw(addr, &packet, Duration::from_millis(500)).await, None);
}

async fn udp_exchange_from(socket: &UdpSocket, server: SocketAddr, msg: &Message) -> Message {
    socket.send_to(&msg.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (len, _) = timeout(WAIT, socket.recv_from(&mut buf)).await.expect("a reply").unwrap();
    Message::from_vec(&buf[..len]).unwrap()
}

/// A datagram larger than a receive slot (4 096 octets: a query with a 6 000-octet EDNS
/// option) is cut there, so its OPT does not decode: FORMERR with the question, as miekg/dns's
/// short read buffer gives it. Every other client is served on.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn an_oversize_datagram_gets_formerr_and_others_are_served() {
    use hickory_proto::op::Edns;
    use hickory_proto::rr::rdata::opt::EdnsOption;

    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let mut big = query("big.example.", RecordType::A);
    let mut edns = Edns::new();
    edns.options_mut().insert(EdnsOption::Unknown(65001, vec![7; 6000]));
    big.set_edns(edns);
    let packet = big.to_vec().unwrap();
    assert!(packet.len() > 6000);
    let bytes = udp_raw(s.addr, &packet, WAIT).await.expect("an answer to the big datagram");
    let reply = Message::from_vec(&bytes).unwrap();
    assert_eq!(reply.metadata.id, 0xbeef);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.queries[0].name().to_ascii(), "big.example.");
    let next = s.udp("after.example.", RecordType::A).await;
    assert_eq!(next.metadata.response_code, ResponseCode::NoError);
    s.stop().await;
}
