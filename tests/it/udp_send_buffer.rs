//! The UDP loop when its socket's send buffer is full: the replies that fit are sent, each to
//! the client that asked and once; the rest are dropped after a short wait (the client's retry
//! covers them, as it covers a packet lost on the way in); and the workers go on serving.
//!
//! On loopback a sent datagram leaves the sender's buffer at once, so a full buffer cannot be
//! made there. The test gives the server a network namespace of its own (needs root, as CI and
//! this repository's machine have) whose loopback sends the server port's packets through a slow
//! traffic class: replies wait in the queue, charged to the server's socket, as on a congested
//! link. The kernel's `SndbufErrors` counter shows the buffer really was full, and *shed*'s
//! counter the replies dropped.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use ferrodns::Instance;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::harness::{DEADLINE, query};

/// The server's port inside the namespace, where nothing else listens.
const PORT: u16 = 5300;
/// Queries sent at once: many times what the server's send buffer holds.
const BURST: u16 = 4000;
/// The first id of the queries that check the server still answers after the burst.
const LATER: u16 = 60_000;

#[test]
fn a_full_send_buffer_drops_replies_but_never_mixes_them_up() {
    // The namespace belongs to the thread that enters it; this one ends with the test.
    std::thread::spawn(in_own_network).join().unwrap();
}

fn in_own_network() {
    crate::netns::enter();
    // Replies (from the server's port) go through a 400 kbit/s class; everything else, the
    // queries included, through a fast one.
    let port = PORT.to_string();
    for args in [
        &["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"][..],
        &["class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"],
        &["class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "400kbit"],
        &[
            "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "u32", "match", "ip",
            "sport", &port, "0xffff", "flowid", "1:20",
        ],
    ] {
        let out = Command::new("tc").args(args).output().unwrap_or_else(|e| panic!("tc: {e}"));
        assert!(out.status.success(), "tc {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let corefile = format!(".:{PORT} {{\n shed\n hosts {{\n  192.0.2.1 q7.test\n }}\n}}\n");
    let mut instance = runtime.block_on(Instance::start_text(&corefile)).unwrap();
    let server = SocketAddr::from(([127, 0, 0, 1], PORT));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&client).set_recv_buffer_size(4 << 20).unwrap();
    let errors_before = sndbuf_errors();

    let mut asked = HashMap::new();
    for id in 0..BURST {
        let name = format!("q{id}.test.");
        send(&client, server, id, &name);
        asked.insert(id, name);
    }
    // Ask again and again until one of these is answered: it was queued behind the burst's
    // replies, so nearly all of those that were sent have arrived by then.
    let mut answers = HashMap::new();
    let mut later = LATER;
    let started = Instant::now();
    client.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let answered_later = loop {
        // The harness's deadline for a hang, as `wait_until` has it: not a measure of speed.
        if started.elapsed() >= DEADLINE {
            panic!("the server answered nothing for {DEADLINE:?} after the burst");
        }
        if let Some((id, reply)) = receive(&client) {
            if id >= LATER {
                break (id, reply);
            }
            check_and_count(&asked, &mut answers, id, &reply);
            continue;
        }
        let name = format!("later{later}.test.");
        send(&client, server, later, &name);
        asked.insert(later, name);
        later += 1;
    };
    check_and_count(&asked, &mut answers, answered_later.0, &answered_later.1);
    // Stragglers from a worker that was still sending.
    while let Some((id, reply)) = receive(&client) {
        check_and_count(&asked, &mut answers, id, &reply);
    }

    let full = sndbuf_errors() - errors_before;
    let burst_answers = answers.keys().filter(|&&id| id < BURST).count();
    assert!(full > 0, "the send buffer never filled: the test proved nothing");
    assert!(burst_answers > 0, "no reply of the burst was sent");
    // The answers are right, too: q7.test is the one name hosts has.
    let q7 = answers.get(&7).map(|m| m.answers.len());
    assert!(q7.is_none_or(|n| n == 1), "q7.test. answered with {q7:?} records");
    // *shed* counts the replies dropped: some, and never more than went unanswered.
    let dropped = shed_dropped_responses();
    assert!(dropped > 0.0, "coredns_shed_dropped_total counted no dropped reply");
    let unanswered = asked.len() - answers.len();
    assert!(dropped <= unanswered as f64, "{dropped} counted, {unanswered} unanswered");
    runtime.block_on(instance.stop());
}

/// `coredns_shed_dropped_total{reason="response"}`, every server's (only this test uses
/// *shed*).
fn shed_dropped_responses() -> f64 {
    let families = plugin_api::pkg::metrics::registry().gather();
    families
        .iter()
        .filter(|f| f.name() == "coredns_shed_dropped_total")
        .flat_map(|f| f.get_metric())
        .filter(|m| m.get_label().iter().any(|l| l.name() == "reason" && l.value() == "response"))
        .map(|m| m.get_counter().get_value())
        .sum()
}

fn send(client: &UdpSocket, server: SocketAddr, id: u16, name: &str) {
    let mut q = query(name, RecordType::A);
    q.metadata.id = id;
    client.send_to(&q.to_vec().unwrap(), server).unwrap();
}

fn receive(client: &UdpSocket) -> Option<(u16, Message)> {
    let mut buf = [0u8; 1500];
    let (n, _) = client.recv_from(&mut buf).ok()?;
    let reply = Message::from_vec(&buf[..n]).expect("a reply that decodes");
    Some((reply.metadata.id, reply))
}

/// A reply is for a query that was sent, carries that query's question, and is the only one
/// with its id.
fn check_and_count(
    asked: &HashMap<u16, String>,
    answers: &mut HashMap<u16, Message>,
    id: u16,
    reply: &Message,
) {
    let name = asked.get(&id).unwrap_or_else(|| panic!("a reply with id {id}, never asked"));
    let question = reply.queries.first().map(|q| q.name().to_string());
    assert_eq!(question.as_deref(), Some(name.as_str()), "reply {id} answers another question");
    assert!(answers.insert(id, reply.clone()).is_none(), "id {id} was answered twice");
}

/// UDP's `SndbufErrors` in this thread's network namespace: sends refused for a full buffer.
fn sndbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    let at = names.split_whitespace().position(|n| n == "SndbufErrors").unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}
