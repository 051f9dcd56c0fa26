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
