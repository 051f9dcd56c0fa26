//! Test harness: a server started from a Corefile string on port 0, and clients that speak to
//! it over real UDP and TCP sockets.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use ferrodns::Instance;
use hickory_proto::op::{Edns, Header, Message, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
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

/// A reply's answers as `OWNER TYPE DATA` lines, to compare with lines written out.
pub fn answer_lines(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data)).collect()
}

/// A loopback port free for TCP and UDP alike, at the time of asking: for a server (a DNS
/// listener, a primary, NSD or Knot) whose port must be known before it starts.
pub fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
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

/// The names in the data of each answer of `reply`, `per_record` of them, read from the bytes
/// where the message's compression pointers lead: for types whose data hickory keeps as
/// octets (MINFO, MB, ...), which it would not read as names. Each answer must be of `rtype`,
/// its data the names alone.
pub fn names_in_answers(reply: &[u8], rtype: RecordType, per_record: usize) -> Vec<Vec<String>> {
    let mut d = BinDecoder::new(reply);
    let header = Header::read(&mut d).expect("a header");
    for _ in 0..header.counts.queries {
        Query::read(&mut d).expect("a question");
    }
    let mut names = Vec::new();
    for _ in 0..header.counts.answers {
        Name::read(&mut d).expect("an owner");
        let code = d.read_u16().expect("a type").unverified();
        assert_eq!(RecordType::from(code), rtype, "an answer of the type asked");
        d.read_slice(6).expect("class and TTL");
        let length = d.read_u16().expect("a data length").unverified();
        let end = d.index() + usize::from(length);
        let read = (0..per_record).map(|_| Name::read(&mut d).expect("a name").to_ascii());
        names.push(read.collect());
        assert_eq!(d.index(), end, "the data is {per_record} names");
    }
    names
}

/// Sends raw bytes over UDP and returns the raw reply, if one comes within `wait`.
pub async fn udp_raw(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let local = if addr.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" };
    let sock = UdpSocket::bind(local).await.expect("bind client");
    // Connected, as a stub resolver's socket is, so that only the server's datagrams count:
    // tests run side by side in one process, and a late reply from another test's upstream
    // to a port the kernel has since handed to this socket is not this query's answer.
    sock.connect(addr).await.expect("connect client");
    sock.send(packet).await.expect("send");
    let mut buf = vec![0u8; 65535];
    match timeout(wait, sock.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
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

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect HTTP");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write HTTP");
    let mut raw = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("HTTP in time").expect("read HTTP");
    let text = String::from_utf8(raw).expect("UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, body.to_string())
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parses the Prometheus text exposition format (version 0.0.4): comments and `# TYPE` lines are
/// checked for shape, samples are `name{label="value",...} value`, label values may hold
/// escaped quotes, backslashes and newlines.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split_whitespace().next().unwrap_or("");
            assert!(matches!(kind, "HELP" | "TYPE"), "unknown comment: {line}");
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("bad sample line: {line}"),
        };
        let mut labels = Vec::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut key = String::new();
            let end;
            loop {
                let (i, c) = chars.next().expect("unterminated labels");
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            let (_, c) = chars.next().expect("unterminated value");
                            match c {
                                '"' => break,
                                '\\' => match chars.next().expect("escape").1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.push((std::mem::take(&mut key), value));
                    }
                    other => key.push(other),
                }
            }
            rest = &body[end..];
        }
        let value = rest.split_whitespace().next().expect("value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        samples.push(Sample { name: name.to_string(), labels, value });
    }
    samples
}

/// The sum of the samples `name` whose labels include all of `want`; `None` if there is none.
pub fn metric(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && want.iter().all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
        .reduce(|a, b| a + b)
}

/// Like [`udp_exchange`] with a shorter wait; `None` if nothing comes back.
pub async fn udp_exchange_within(
    addr: SocketAddr,
    msg: &Message,
    wait: Duration,
) -> Option<Message> {
    let bytes = udp_raw(addr, &msg.to_vec().expect("encode"), wait).await?;
    Message::from_vec(&bytes).ok()
}

/// An HTTP GET that tolerates a refused connection; `None` then.
pub async fn http_get_opt(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut raw)).await.ok()?.ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The samples of the `/metrics` the server's Corefile asked for at `localhost:0`.
pub async fn scrape(s: &TestServer) -> Vec<Sample> {
    let addr = s.instance.http_addr("localhost:0").expect("metrics listener");
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    parse_exposition(&body)
}

/// How long a test waits for something that must happen before it calls it a failure: far
/// beyond what any machine needs, so that only "never" fails, never "slowly".
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a waiting test looks again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `check` says yes, looking every 20 ms; panics naming `what` if it has not
/// within [`DEADLINE`]. The way a test waits for a condition: no sleep standing in for it, no
/// bound on how long it took.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let polled = async {
        while !check().await {
            tokio::time::sleep(POLL).await;
        }
    };
    if timeout(DEADLINE, polled).await.is_err() {
        panic!("never within {DEADLINE:?}: {what}");
    }
}

/// [`wait_until`] for a check that needs no waiting itself.
pub async fn eventually(what: &str, ok: impl Fn() -> bool) {
    wait_until(what, || std::future::ready(ok())).await;
}
