//! TCP: several and pipelined queries per connection, and the read timeout that closes a
//! connection on which nothing arrives.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_queries_are_all_answered() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    // Ten queries in one write.
    let mut burst = Vec::new();
    for id in 0..10u16 {
        let mut q = query(&format!("q{id}.example."), RecordType::A);
        q.metadata.id = id;
        let bytes = q.to_vec().unwrap();
        burst.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        burst.extend_from_slice(&bytes);
    }
    stream.write_all(&burst).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..10 {
        let reply = Message::from_vec(&read_frame(&mut stream).await.expect("reply")).unwrap();
        assert_eq!(reply.queries[0].name().to_string(), format!("q{}.example.", reply.metadata.id));
        ids.push(reply.metadata.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());

    // The connection stays open for more.
    write_frame(&mut stream, &query("again.example.", RecordType::A).to_vec().unwrap()).await;
    assert!(read_frame(&mut stream).await.is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_split_across_writes_is_reassembled() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let bytes = query("split.example.", RecordType::A).to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    for piece in framed.chunks(5) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reply = Message::from_vec(&read_frame(&mut stream).await.expect("reply")).unwrap();
    assert_eq!(reply.queries[0].name().to_string(), "split.example.");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_zero_length_connections_are_closed() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    // Nothing sent: the server closes after its read timeout (3 s); we wait longer than that.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(8), idle.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed by the server: {read:?}");

    // A zero length prefix closes the connection at once, as miekg/dns does.
    let mut zero = TcpStream::connect(s.addr).await.unwrap();
    zero.write_all(&[0, 0]).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(2), zero.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed by the server: {read:?}");
    s.stop().await;
}

/// Hundreds of connections that never send a byte, against the real binary with its open-file
/// limit lowered to 64 (so the connection limit is 32). Past the limit new connections are
/// closed at once instead of waiting in the backlog; UDP and forwarding (which needs a fresh
/// socket per query) carry on; once the idle ones go, TCP serves again.
#[tokio::test(flavor = "multi_thread")]
async fn idle_connection_flood_is_capped_and_udp_goes_on() {
    use crate::binary::{Running, Scratch};
    use crate::upstream::{Behaviour, Upstream};

    let upstream = Upstream::start(Behaviour::Answer([192, 0, 2, 80].into(), 60)).await;
    let dir = Scratch::new("tcp-flood");
    let conf = dir.write("Corefile", &format!(".:0 {{\n    forward . {}\n}}\n", upstream.addr));
    let mut p = Running::spawn_with_fd_limit(&["-conf", conf.to_str().unwrap()], dir.path(), 64);
    let dns = p.port_of(".");
    p.wait_line(|l| l.starts_with("CoreDNS-"));

    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(dns).await.expect("the kernel accepts into the backlog"));
    }
    // Connections past the limit are closed by the server well before any read timeout.
    let mut closed = 0;
    let mut open = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            Ok(Ok(_)) => panic!("the server sent bytes unasked"),
            Err(_) => open += 1,
        }
    }
    assert!(open <= 32, "{open} connections held open past the limit of 32");
    assert!(closed >= 200 - 32, "only {closed} closed");
    p.wait_line(|l| l.contains("TCP connection limit (32) reached"));

    // UDP answers through forward while the TCP slots are full.
    for i in 0..20 {
        let reply = udp_exchange(dns, &query(&format!("u{i}.example."), RecordType::A))
            .await
            .expect("UDP answered during the flood");
        assert_eq!(reply.answers.len(), 1, "forwarded answer");
    }

    drop(idle);
    // Slots come back as the server notices the closed connections.
    let mut served = false;
    for _ in 0..50 {
        if let Ok(Some(reply)) = tokio::time::timeout(
            Duration::from_secs(1),
            tcp_exchange(dns, &query("after.example.", RecordType::A)),
        )
        .await
        {
            served = reply.answers.len() == 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "TCP serves again once the idle connections are gone");
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}
