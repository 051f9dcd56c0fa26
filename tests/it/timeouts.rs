//! *timeouts* over sockets: `maxtcpqueries` closes a connection after that many queries, and
//! the blocks of one port combine as CoreDNS combines them.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::*;

/// Sends `n` queries at once on one connection and reads `n` replies, then waits (under
/// [`WAIT`]) for the server to close it; true if it did.
async fn closed_after(addr: std::net::SocketAddr, n: u16) -> bool {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    for id in 1..=n {
        let mut q = query("a.test.", RecordType::A);
        q.metadata.id = id;
        write_frame(&mut stream, &q.to_vec().unwrap()).await;
    }
    let mut ids = Vec::new();
    for _ in 0..n {
        let reply = read_frame(&mut stream).await.expect("a reply");
        ids.push(Message::from_vec(&reply).unwrap().metadata.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=n).collect::<Vec<_>>());
    // Idle connections are kept for an hour here: only the limit closes one sooner. The end
    // of the stream, not a wait that ran out.
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(WAIT, stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_closes_after_maxtcpqueries() {
    let block = |limit: &str| {
        format!(
            ".:0 {{\n timeouts {{\n  idle 1h\n  maxtcpqueries {limit}\n }}\n hosts {{\n  10.0.0.1 a.test\n }}\n}}"
        )
    };
    let limited = TestServer::start(&block("2")).await;
    assert!(closed_after(limited.addr, 2).await, "closed after its second query");
    let unlimited = TestServer::start(&block("-1")).await;
    assert!(!closed_after(unlimited.addr, 5).await, "still open after five queries");
    limited.stop().await;
    unlimited.stop().await;
}

#[test]
fn blocks_on_one_port_override_the_ones_before() {
    use ferrodns::config::{self, Source};
    use std::time::Duration;
    let text = "a.test:1053 {\n timeouts {\n  read 30s\n  maxtcpqueries 8\n }\n whoami\n}\n\
                b.test:1053 {\n timeouts {\n  read 20s\n  idle 1m\n }\n whoami\n}\n\
                c.test:1054 {\n whoami\n}\n";
    let source = Source {
        filename: "Corefile".into(),
        text: text.into(),
        path: None,
        dns_port: "53".into(),
    };
    let config = config::load(&source, &|_| {}).expect("loads");
    let tcp = config.listeners[0].tcp;
    assert_eq!(tcp.read, Duration::from_secs(20), "the later block's");
    assert_eq!(tcp.idle, Duration::from_secs(60));
    assert_eq!(tcp.write, Duration::from_secs(5), "CoreDNS's default");
    assert_eq!(tcp.max_queries, Some(8), "kept from the first block");
    assert_eq!(config.listeners[1].tcp, Default::default());
}
