//! Test harness: a server started from a Corefile string on port 0, and clients that speak to
//! it over real UDP and TCP sockets.

use std::net::SocketAddr;
use std::time::Duration;

use ferrodns::Instance;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// How long a client waits for an answer before calling it lost.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running server.
pub struct TestServer {
    pub instance: Instance,
    pub addr: SocketAddr,
}

impl TestServer {
    /// Starts `corefile` (keys without a port get port 0).
    pub async fn start(corefile: &str) -> Self {
        let instance = Instance::start_text(corefile)
            .await
            .unwrap_or_else(|e| panic!("server failed to start: {e}\n{corefile}"));
        let addr = instance.dns_addr();
        Self { instance, addr }
    }

    /// Asks `qname`/`qtype` over UDP and returns the reply.
    pub async fn udp(&self, qname: &str, qtype: RecordType) -> Message {
        udp_exchange(self.addr, &query(qname, qtype)).await.expect("UDP reply")
    }

    /// Asks `qname`/`qtype` over TCP and returns the reply.
    pub async fn tcp(&self, qname: &str, qtype: RecordType) -> Message {
        tcp_exchange(self.addr, &query(qname, qtype)).await.expect("TCP reply")
    }

    pub async fn stop(mut self) {
        self.instance.stop().await;
    }
}

/// A query with RD set and a fixed id.
pub fn query(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = 0xbeef;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(qname).expect("test name"), qtype));
    m
}

/// A query in class `class`.
pub fn query_class(qname: &str, qtype: RecordType, class: DNSClass) -> Message {
    let mut m = query(qname, qtype);
    m.queries[0].set_query_class(class);
    m
}

/// Adds EDNS with a buffer size and version.
pub fn with_edns(mut m: Message, size: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(size);
    e.set_version(version);
    m.set_edns(e);
    m
}

/// Sends `msg` over UDP and decodes the reply; `None` if nothing comes back in time.
pub async fn udp_exchange(addr: SocketAddr, msg: &Message) -> Option<Message> {
    let bytes = udp_raw(addr, &msg.to_vec().expect("encode"), WAIT).await?;
    Some(Message::from_vec(&bytes).expect("reply decodes"))
}

/// Sends raw bytes over UDP and returns the raw reply, if one comes within `wait`.
pub async fn udp_raw(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
    sock.send_to(packet, addr).await.expect("send");
    let mut buf = vec![0u8; 65535];
    match timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Sends `msg` over a new TCP connection and decodes the reply.
pub async fn tcp_exchange(addr: SocketAddr, msg: &Message) -> Option<Message> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    write_frame(&mut stream, &msg.to_vec().expect("encode")).await;
    let bytes = read_frame(&mut stream).await?;
    Some(Message::from_vec(&bytes).expect("reply decodes"))
}

/// Writes one length-prefixed message.
pub async fn write_frame(stream: &mut TcpStream, msg: &[u8]) {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    stream.write_all(&framed).await.expect("write");
}

/// Reads one length-prefixed message; `None` on close or after [`WAIT`].
pub async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    timeout(WAIT, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    timeout(WAIT, stream.read_exact(&mut buf)).await.ok()?.ok()?;
    Some(buf)
}
