//! *forward* over UDP from the server's UDP workers: each worker keeps a few connected sockets
//! per upstream (`ferrodns::server::upstream_udp`), sends a batch's queries on one chosen at
//! random, and replaces a socket once it is older than `expire`. Shown against an upstream that
//! records the source port of every query it gets.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrodns::server::upstream_udp::SOCKETS;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use plugin_forward::metrics::{CONN_CACHE_HITS, CONN_CACHE_MISSES};

use crate::forward::first_a;
use crate::harness::*;

const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

/// An upstream on a thread of its own that answers every A query with [`IP`] and keeps the
/// source port of each query.
fn port_recording_upstream() -> (SocketAddr, Arc<Mutex<Vec<u16>>>) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let addr = socket.local_addr().expect("its address");
    let ports = Arc::new(Mutex::new(Vec::new()));
    let seen = ports.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            seen.lock().unwrap().push(from.port());
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.message_type = MessageType::Response;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.queries = query.queries.clone();
            let owner = query.queries[0].name().clone();
            reply.add_answer(Record::from_rdata(owner, 60, RData::A(A(IP))));
            let _ = socket.send_to(&reply.to_vec().unwrap(), from);
        }
    });
    (addr, ports)
}

fn conn_cache(upstream: SocketAddr) -> (u64, u64) {
    let to = upstream.to_string();
    let labels = ["forward", to.as_str(), "udp"];
    (
        CONN_CACHE_HITS.with_label_values(&labels).get(),
        CONN_CACHE_MISSES.with_label_values(&labels).get(),
    )
}

/// Hundreds of misses at once go out on at most `SOCKETS` sockets per worker, more than one of
/// them, and every client gets its own answer.
#[tokio::test(flavor = "multi_thread")]
async fn udp_misses_share_each_workers_few_sockets() {
    const CLIENTS: usize = 20;
    const EACH: usize = 20;
    let (upstream, ports) = port_recording_upstream();
    // Deltas: an earlier test's upstream may have had the same port, and its series stays.
    let (hits_before, misses_before) = conn_cache(upstream);
    let s = TestServer::start(&format!(".:0 {{\n forward . {upstream}\n}}")).await;
    let addr = s.addr;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        clients.push(tokio::spawn(async move {
            let mut queries = Vec::new();
            for q in 0..EACH {
                let name = format!("n{c}-{q}.sockets.test.");
                queries.push(async move {
                    let reply =
                        udp_exchange(addr, &query(&name, RecordType::A)).await.expect("a reply");
                    (name, reply)
                });
            }
            futures::future::join_all(queries).await
        }));
    }
    for client in clients {
        for (name, reply) in client.await.unwrap() {
            assert_eq!(reply.metadata.id, 0xbeef, "{name}: the client's id");
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name}");
            assert_eq!(reply.queries[0].name().to_ascii(), name, "{name}: its own question");
            assert_eq!(first_a(&reply), Some(IP), "{name}");
        }
    }
    let ports = ports.lock().unwrap().clone();
    // A burst this size can overflow the upstream's receive buffer; a query lost there is
    // asked again after the read timeout, so some names may arrive twice.
    assert!(ports.len() >= CLIENTS * EACH, "every miss went upstream");
    let distinct: HashSet<u16> = ports.iter().copied().collect();
    let most = ferrodns::workers() * SOCKETS;
    assert!(distinct.len() <= most, "{} source ports, at most {most}", distinct.len());
    assert!(distinct.len() > 1, "the queries are spread over several source ports");
    let (hits, misses) = conn_cache(upstream);
    let (hits, misses) = (hits - hits_before, misses - misses_before);
    assert!(hits + misses >= (CLIENTS * EACH) as u64, "each exchange is counted");
    assert!(misses as usize <= most, "{misses} sockets opened, at most {most}");
    s.stop().await;
}

/// With `expire 100ms`, a socket older than that is never used again: queries 250 ms apart
/// each open a fresh one.
#[tokio::test(flavor = "multi_thread")]
async fn udp_sockets_older_than_expire_are_replaced() {
    let (upstream, ports) = port_recording_upstream();
    let (hits_before, misses_before) = conn_cache(upstream);
    let s =
        TestServer::start(&format!(".:0 {{\n forward . {upstream} {{\n  expire 100ms\n }}\n}}"))
            .await;
    for i in 0..4 {
        if i > 0 {
            // Time itself is what expiry is about.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(first_a(&s.udp(&format!("e{i}.sockets.test."), RecordType::A).await), Some(IP));
    }
    let (hits, misses) = conn_cache(upstream);
    assert_eq!(
        (hits - hits_before, misses - misses_before),
        (0, 4),
        "no socket reused past its expiry"
    );
    assert_eq!(ports.lock().unwrap().len(), 4);
    s.stop().await;
}

/// A stop lets a query that waits on its upstream finish: the worker stops reading the
/// listener but keeps serving what it waits on, and the client gets its answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_lets_waiting_queries_finish() {
    use crate::upstream::{Behaviour, Upstream};
    let up = Upstream::start(Behaviour::Slow(Duration::from_millis(800), IP)).await;
    let s = TestServer::start(&format!(".:0 {{\n forward . {}\n}}", up.addr)).await;
    let addr = s.addr;
    let asked = tokio::spawn(async move {
        udp_exchange(addr, &query("slow.sockets.test.", RecordType::A)).await.expect("a reply")
    });
    // The query is on its way upstream when the stop begins.
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.stop().await;
    let reply = asked.await.unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(first_a(&reply), Some(IP), "answered after the stop began");
}
