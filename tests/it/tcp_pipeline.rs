//! TCP beyond one query at a time: replies in the order they are ready, the cap on queries
//! waiting per connection, and the idle timeout after the first query.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

/// `count` queries for `name-N.zone` framed for TCP in one buffer, ids 0 upwards.
fn burst(zone: &str, count: u16) -> Vec<u8> {
    let mut out = Vec::new();
    for id in 0..count {
        let mut q = query(&format!("n{id}.{zone}"), RecordType::A);
        q.metadata.id = id;
        let bytes = q.to_vec().unwrap();
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn framed(msg: &Message) -> Vec<u8> {
    let bytes = msg.to_vec().unwrap();
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&bytes);
    out
}

/// A query that must wait for a slow upstream, then one answered from memory, in one write:
/// the second is answered first (RFC 7766's out-of-order replies), then the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_query_does_not_hold_up_the_next() {
    let slow =
        Upstream::start(Behaviour::Slow(Duration::from_millis(500), [192, 0, 2, 9].into())).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n whoami\n}}\nslow.test:0 {{\n forward . {} {{\n  read_timeout 5s\n }}\n}}",
        slow.addr
    ))
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let mut first = query("x.slow.test.", RecordType::A);
    first.metadata.id = 1;
    let mut second = query("x.fast.example.", RecordType::A);
    second.metadata.id = 2;
    let mut both = framed(&first);
    both.extend_from_slice(&framed(&second));
    stream.write_all(&both).await.unwrap();
    let ids: Vec<u16> = [read_frame(&mut stream).await, read_frame(&mut stream).await]
        .into_iter()
        .map(|f| Message::from_vec(&f.expect("a reply")).unwrap().metadata.id)
        .collect();
    assert_eq!(ids, [2, 1], "the ready reply first");
    s.stop().await;
}

/// At most 128 queries of one connection wait at once: with 200 sent to a slow upstream, the
/// upstream sees 128 and no more until replies go out; every query is answered in the end.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_has_at_most_128_queries_waiting() {
    let up = Upstream::start(Behaviour::Slow(Duration::from_secs(1), [192, 0, 2, 8].into())).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n forward . {} {{\n  read_timeout 10s\n }}\n}}",
        up.addr
    ))
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(&burst("cap.test.", 200)).await.unwrap();
    eventually("128 queries reach the upstream", || up.client_queries() >= 128).await;
    // None has been answered yet (the upstream holds each for a second), so no more may have
    // been read.
    assert_eq!(up.client_queries(), 128, "reading paused at the cap");
    let mut ids = Vec::new();
    for _ in 0..200 {
        let reply = Message::from_vec(&read_frame(&mut stream).await.expect("a reply")).unwrap();
        ids.push(reply.metadata.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..200).collect::<Vec<u16>>());
    s.stop().await;
}

/// After a query, a connection that stays silent is closed after the idle timeout (10 s), not
/// the first read's 3 s: it is still open past 3 s.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    write_frame(&mut stream, &query("idle.example.", RecordType::A).to_vec().unwrap()).await;
    assert!(read_frame(&mut stream).await.is_some());
    let mut buf = [0u8; 1];
    // Time is what this is about: 5 s of silence is past the read timeout, within the idle one.
    let early = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(early.is_err(), "still open 5 s after the query: {early:?}");
    let closed = tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "closed by the server: {closed:?}");
    // And a query after the close goes nowhere.
    let _ = stream.write_all(&framed(&query("late.example.", RecordType::A))).await;
    assert!(read_frame(&mut stream).await.is_none());
    s.stop().await;
}

/// A client that sends and never reads: once the server cannot write a reply for the write
/// timeout (5 s), it closes the connection instead of holding it. The client sees its socket
/// closed by the peer while it still has not read, and then the end of the stream after at
/// most the replies that did fit.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_is_closed_after_the_write_timeout() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small window, so what the server writes piles up in its own send buffer (4 MiB at
    // most on Linux) and its writes block.
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(s.addr).await.unwrap();
    let local_port = stream.local_addr().unwrap().port();
    let server_port = s.addr.port();
    let state = move || tcp_state(local_port, server_port);
    assert_eq!(state(), Some(ESTABLISHED), "the connection is in the table");
    let (mut rd, mut wr) = stream.into_split();
    // Long names make long replies: 60 000 of about 300 octets are four times what the
    // buffers hold.
    const SENT: u16 = 60_000;
    let long = format!("{}.{}.{}.never.read.", "a".repeat(63), "b".repeat(63), "c".repeat(63));
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&burst(&long, SENT)).await;
        wr
    });
    // Closed by the peer: CLOSE_WAIT after a FIN, or gone from the table after a reset (the
    // server closes with queries unread, which makes the kernel send a reset).
    eventually("the server closes the connection", || state() != Some(ESTABLISHED)).await;
    let mut replies = 0u32;
    loop {
        let mut len = [0u8; 2];
        if rd.read_exact(&mut len).await.is_err() {
            break;
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if rd.read_exact(&mut body).await.is_err() {
            break;
        }
        replies += 1;
    }
    assert!(replies < u32::from(SENT), "closed before every reply was written: {replies}");
    drop(writer);
    // The server goes on serving others.
    assert!(s.tcp("other.example.", RecordType::A).await.answers.is_empty());
    s.stop().await;
}

/// The kernel's state number for an open connection.
const ESTABLISHED: u8 = 0x01;

/// The state of the IPv4 TCP connection from local port `local` to remote port `remote`, from
/// `/proc/net/tcp` (both ports, since an old connection in TIME_WAIT may share the local one).
fn tcp_state(local: u16, remote: u16) -> Option<u8> {
    let port = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (ours, theirs, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
        let this = port(ours)? == local && port(theirs)? == remote;
        this.then(|| u8::from_str_radix(state, 16).ok()).flatten()
    })
}
