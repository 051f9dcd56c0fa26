//! Forged replies never reach a client or the cache. An upstream started here answers each query
//! twice: first a forgery (another id, another question, or the right id and question from
//! another port or address), then, a moment later, the genuine reply. The client must get the
//! genuine one, and so must the next client (from *cache*).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

use crate::harness::*;

/// The address forgeries claim.
const FORGED: Ipv4Addr = Ipv4Addr::new(6, 6, 6, 6);
/// The genuine answer.
const GENUINE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// What a forgery gets wrong.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// The right question, the id plus one.
    Id,
    /// The right id, another name.
    Question,
    /// Right id and question, from another port of the upstream's address.
    Port,
    /// Right id and question, from 127.0.0.2.
    Address,
}

fn reply(query: &Message, ip: Ipv4Addr) -> Message {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.queries = query.queries.clone();
    let owner = query.queries[0].name().clone();
    m.add_answer(Record::from_rdata(owner, 300, RData::A(A(ip))));
    m
}

/// An upstream that sends `forgery` at once and the genuine reply 150 ms later.
async fn forging_upstream(forgery: Forgery) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let other_port = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other_address = UdpSocket::bind("127.0.0.2:0").await.ok();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            let mut forged = reply(&q, FORGED);
            let sender = match forgery {
                Forgery::Id => {
                    forged.metadata.id = q.metadata.id.wrapping_add(1);
                    &socket
                }
                Forgery::Question => {
                    let other = Name::from_ascii("elsewhere.spoof.test.").unwrap();
                    forged.queries[0].set_name(other.clone());
                    forged.answers[0].name = other;
                    &socket
                }
                Forgery::Port => &other_port,
                Forgery::Address => other_address.as_ref().unwrap_or(&other_port),
            };
            let _ = sender.send_to(&forged.to_vec().unwrap(), from).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            let _ = socket.send_to(&reply(&q, GENUINE).to_vec().unwrap(), from).await;
        }
    });
    addr
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_replies_are_never_taken() {
    for forgery in [Forgery::Id, Forgery::Question, Forgery::Port, Forgery::Address] {
        let upstream = forging_upstream(forgery).await;
        let s =
            TestServer::start(&format!("spoof.test:0 {{\n cache 30\n forward . {upstream}\n}}"))
                .await;
        let first = s.udp("www.spoof.test.", RecordType::A).await;
        assert_eq!(first.metadata.response_code, ResponseCode::NoError, "{forgery:?}");
        assert_eq!(addresses(&first), [GENUINE.to_string()], "{forgery:?}");
        // And the cache holds the genuine answer, not the forgery.
        let cached = s.udp("www.spoof.test.", RecordType::A).await;
        assert_eq!(addresses(&cached), [GENUINE.to_string()], "{forgery:?} from the cache");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_never_sees_the_clients_id() {
    // The id a client chose is the one a forger would guess first: each exchange upstream uses
    // one of its own, and the client still gets its own back.
    let upstream =
        crate::upstream::Upstream::start(crate::upstream::Behaviour::Answer(GENUINE, 60)).await;
    let s = TestServer::start(&format!("ids.test:0 {{\n forward . {}\n}}", upstream.addr)).await;
    let mut ids = Vec::new();
    for (i, name) in ["a.ids.test.", "b.ids.test.", "c.ids.test.", "d.ids.test."].iter().enumerate()
    {
        let mut q = query(name, RecordType::A);
        q.metadata.id = 0x1000 + i as u16;
        let r = udp_exchange(s.addr, &q).await.expect("an answer");
        assert_eq!(r.metadata.id, q.metadata.id);
        ids.push(q.metadata.id);
    }
    let upstream_ids = upstream.ids_asked();
    assert_eq!(upstream_ids.len(), 4);
    assert!(upstream_ids.iter().all(|id| !ids.contains(id)), "{upstream_ids:?} vs {ids:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstreams_extended_error_reaches_the_client() {
    // Replies are relayed as bytes only when their OPT holds nothing: an upstream's EDE goes to
    // the client, through *cache* too, as CoreDNS passes it on.
    use crate::upstream::{Behaviour, Upstream};
    let upstream = Upstream::start(Behaviour::Filtered(17)).await;
    let s =
        TestServer::start(&format!("ede.test:0 {{\n cache 30\n forward . {}\n}}", upstream.addr))
            .await;
    for _ in 0..2 {
        let mut q = query("blocked.ede.test.", RecordType::A);
        q.edns = Some(hickory_proto::op::Edns::new());
        let r = udp_exchange(s.addr, &q).await.expect("an answer");
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        let options = r.edns.as_ref().map(|e| e.options().options.clone()).unwrap_or_default();
        let ede = options.iter().find(|(code, _)| u16::from(*code) == 15);
        assert!(ede.is_some(), "the upstream's EDE is kept: {options:?}");
    }
    s.stop().await;
}

/// An upstream that answers at once and sends, 20 ms later, a copy of the reply with the same
/// id and question but [`FORGED`] in it; returns its address and the source port of each query.
async fn late_copy_upstream() -> (SocketAddr, Arc<Mutex<Vec<u16>>>) {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let ports = Arc::new(Mutex::new(Vec::new()));
    let seen = ports.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            seen.lock().unwrap().push(from.port());
            let _ = socket.send_to(&reply(&q, GENUINE).to_vec().unwrap(), from).await;
            let late = reply(&q, FORGED).to_vec().unwrap();
            let socket = socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = socket.send_to(&late, from).await;
            });
        }
    });
    (addr, ports)
}

/// A forged copy that comes after its exchange has ended, onto a socket nothing waits on, is
/// passed over, whether it is read at once or by the next exchange on that socket (which asks
/// the same question): its id gives it away.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_reply_left_on_an_idle_socket_is_passed_over() {
    const QUERIES: usize = 24;
    let (upstream, ports) = late_copy_upstream().await;
    let s = TestServer::start(&format!("late.test:0 {{\n forward . {upstream}\n}}")).await;
    for i in 0..QUERIES {
        let r = s.udp("www.late.test.", RecordType::A).await;
        assert_eq!(addresses(&r), [GENUINE.to_string()], "query {i}");
        // The copy arrives while the socket idles.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let ports = ports.lock().unwrap().clone();
    let distinct: HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(ports.len(), QUERIES);
    assert!(distinct.len() < QUERIES, "some socket was used again after a late copy: {ports:?}");
    s.stop().await;
}
