//! Real upstream DNS servers for forward tests: UDP and TCP on loopback, each with a behaviour.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// What an upstream does with a query.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Answers with `ip` and `ttl` for any name.
    Answer(Ipv4Addr, u32),
    /// Answers NXDOMAIN.
    NxDomain,
    /// Answers SERVFAIL.
    ServFail,
    /// Answers after a delay.
    Slow(Duration, Ipv4Addr),
    /// Over UDP, an empty reply with TC set; over TCP, the answer.
    Truncate(Ipv4Addr),
    /// Random bytes with the query's id.
    Garbage,
    /// A reply for another name.
    WrongQuestion,
    /// Answers this many A records, 10.9.0.1 upwards, TTL 300.
    Many(u8),
    /// Answers NOERROR with no records (NODATA).
    NoData,
    /// A name with only an IPv4 address: A queries get it with this TTL, every other type an
    /// empty NOERROR.
    OnlyA(Ipv4Addr, u32),
    /// NXDOMAIN with an extended DNS error (RFC 8914) of this info code in its OPT.
    Filtered(u16),
    /// A CNAME to `www.abc.`, its target written as `www` and a compression pointer to the
    /// record's own TTL, 0x03616263 (56 713 827 s), whose octets spell the label `abc`, ended
    /// by the root that is the high octet of RDLENGTH: a name a decoder reads as sent, but
    /// that spells another once the TTL is changed in place.
    PointerIntoTtl,
    /// This many MINFO records (a type hickory keeps as octets) whose names point into the
    /// first record: its owner, the question's name written in full, and the first label of
    /// its data. Record 0 holds `admin.<second name>` and the question's name; record i,
    /// `r<i>.admin.<second name>` and the question's name less its first label. Encoded again
    /// with the first owner compressed, a pointer copied as it came leads elsewhere.
    CompressedMinfo(u8),
}

/// A running upstream.
pub struct Upstream {
    pub addr: SocketAddr,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
    /// What the serving tasks saw, and whether they answer.
    seen: Seen,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn answer(query: &Message, b: Behaviour, tcp: bool) -> Vec<u8> {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.queries = query.queries.clone();
    let owner = query.queries.first().map(|q| q.name().clone()).unwrap_or_else(Name::root);
    match b {
        Behaviour::Answer(ip, ttl) => {
            m.add_answer(Record::from_rdata(owner, ttl, RData::A(A(ip))));
        }
        Behaviour::Slow(_, ip) => {
            m.add_answer(Record::from_rdata(owner, 300, RData::A(A(ip))));
        }
        Behaviour::Truncate(ip) => {
            if tcp {
                m.add_answer(Record::from_rdata(owner, 300, RData::A(A(ip))));
            } else {
                m.metadata.truncation = true;
            }
        }
        Behaviour::NxDomain => m.metadata.response_code = ResponseCode::NXDomain,
        Behaviour::NoData => {}
        Behaviour::OnlyA(ip, ttl) => {
            if query.queries.first().is_some_and(|q| q.query_type() == RecordType::A) {
                m.add_answer(Record::from_rdata(owner, ttl, RData::A(A(ip))));
            }
        }
        Behaviour::ServFail => m.metadata.response_code = ResponseCode::ServFail,
        Behaviour::Garbage => {
            let mut junk = query.metadata.id.to_be_bytes().to_vec();
            junk.extend_from_slice(&[0xff; 40]);
            return junk;
        }
        Behaviour::WrongQuestion => {
            m.queries[0].set_name(Name::from_ascii("somewhere.else.").unwrap());
        }
        Behaviour::Filtered(code) => {
            m.metadata.response_code = ResponseCode::NXDomain;
            let mut edns = hickory_proto::op::Edns::new();
            let mut ede = code.to_be_bytes().to_vec();
            ede.extend_from_slice(b"blocked upstream");
            edns.options_mut().insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(15, ede));
            m.edns = Some(edns);
        }
        Behaviour::PointerIntoTtl => {
            let mut b = m.to_vec().unwrap();
            b[7] = 1; // one answer
            let ttl_at = b.len() + 2 + 4;
            b.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 3, b'a', b'b', b'c', 0, 6, 3]);
            b.extend_from_slice(b"www");
            b.extend_from_slice(&[0xc0, ttl_at as u8]);
            return b;
        }
        Behaviour::CompressedMinfo(n) => return compressed_minfo(&m, n),
        Behaviour::Many(n) => {
            for i in 1..=n {
                let ip = Ipv4Addr::new(10, 9, 0, i);
                m.add_answer(Record::from_rdata(owner.clone(), 300, RData::A(A(ip))));
            }
        }
    }
    m.to_vec().unwrap()
}

/// The reply of [`Behaviour::CompressedMinfo`] to the question in `m`.
fn compressed_minfo(m: &Message, n: u8) -> Vec<u8> {
    let pointer = |to: usize| [0xc0 | (to >> 8) as u8, to as u8];
    let record = |b: &mut Vec<u8>, data: &[u8]| {
        b.extend_from_slice(&[0, 14, 0, 1, 0, 0, 1, 44, 0, data.len() as u8]);
        b.extend_from_slice(data);
    };
    let mut b = m.to_vec().unwrap();
    b[7] = n;
    let question_end = b.len();
    b.extend_from_within(12..question_end - 4);
    let second_label = question_end + 1 + usize::from(b[12]);
    let admin = b.len() + 10;
    let mut data = b"\x05admin".to_vec();
    data.extend_from_slice(&pointer(second_label));
    data.extend_from_slice(&pointer(question_end));
    record(&mut b, &data);
    for i in 1..n {
        b.extend_from_slice(&pointer(12));
        let label = format!("r{i}");
        let mut data = vec![label.len() as u8];
        data.extend_from_slice(label.as_bytes());
        data.extend_from_slice(&pointer(admin));
        data.extend_from_slice(&pointer(second_label));
        record(&mut b, &data);
    }
    b
}

/// A query as an upstream saw it: its name, type and RD bit.
pub type Asked = (String, RecordType, bool);

/// A query's EDNS options, (code, data) each; `None` for a query without an OPT.
pub type OptionsAsked = Option<Vec<(u16, Vec<u8>)>>;

/// What an upstream's tasks share about the queries they see.
#[derive(Clone, Default)]
struct Seen {
    root_queries: Arc<AtomicUsize>,
    muted: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<Asked>>>,
    /// Each query's EDNS options (code, data), in order; `None` for a query without an OPT.
    options: Arc<Mutex<Vec<OptionsAsked>>>,
    /// The id of every query received, in order.
    ids: Arc<Mutex<Vec<u16>>>,
    /// Each query's EDNS buffer size, in order; `None` for a query without an OPT.
    payloads: Arc<Mutex<Vec<Option<u16>>>>,
}

impl Seen {
    /// Counts a root query and notes `q`; says whether it is to be answered.
    fn note(&self, q: &Message) -> bool {
        if let Some(question) = q.queries.first() {
            if question.name().is_root() {
                self.root_queries.fetch_add(1, Ordering::SeqCst);
            }
            let asked =
                (question.name().to_ascii(), question.query_type(), q.metadata.recursion_desired);
            self.asked.lock().unwrap().push(asked);
            self.ids.lock().unwrap().push(q.metadata.id);
            let options = q.edns.as_ref().map(|e| {
                let options = e.options().options.iter();
                options.map(|(code, o)| (u16::from(*code), o.to_bytes().unwrap_or_default()))
            });
            self.options.lock().unwrap().push(options.map(Iterator::collect));
            self.payloads.lock().unwrap().push(q.edns.as_ref().map(|e| e.max_payload()));
        }
        !self.muted.load(Ordering::SeqCst)
    }
}

/// Answers length-prefixed queries on one stream connection (TCP or TLS) until it closes.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    b: Behaviour,
    counter: Arc<AtomicUsize>,
    seen: Seen,
) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Ok(q) = Message::from_vec(&buf) else { return };
        counter.fetch_add(1, Ordering::SeqCst);
        if !seen.note(&q) {
            continue;
        }
        if let Behaviour::Slow(d, _) = b {
            tokio::time::sleep(d).await;
        }
        let reply = answer(&q, b, true);
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        // TLS holds written bytes until flushed.
        if stream.write_all(&framed).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1, UDP and TCP on one port.
    pub async fn start(b: Behaviour) -> Self {
        Self::start_at("127.0.0.1:0".parse().unwrap(), b).await
    }

    /// Starts an upstream at `addr`. With port 0, UDP and TCP get one free port between them
    /// (another is tried when the UDP port's TCP twin is taken, as can happen with many tests
    /// running at once).
    pub async fn start_at(addr: SocketAddr, b: Behaviour) -> Self {
        let mut attempts = 0;
        let (udp, tcp) = loop {
            attempts += 1;
            let udp = UdpSocket::bind(addr).await.unwrap();
            let bound = udp.local_addr().unwrap();
            match TcpListener::bind(bound).await {
                Ok(tcp) => break (udp, Some(tcp)),
                Err(_) if addr.port() == 0 && attempts < 50 => continue,
                // A fixed port whose TCP twin is busy: serve UDP only (the callers that fix the
                // port only use UDP).
                Err(_) if addr.port() != 0 => break (udp, None),
                Err(e) => panic!("TCP on {bound}: {e}"),
            }
        };
        let addr = udp.local_addr().unwrap();
        let (udp_queries, tcp_queries) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = Seen::default();
        let counter = udp_queries.clone();
        let udp = Arc::new(udp);
        let udp_seen = seen.clone();
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, src)) = udp.recv_from(&mut buf).await else { continue };
                let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                if !udp_seen.note(&q) {
                    continue;
                }
                let reply = answer(&q, b, false);
                let udp = udp.clone();
                tokio::spawn(async move {
                    if let Behaviour::Slow(d, _) = b {
                        tokio::time::sleep(d).await;
                    }
                    let _ = udp.send_to(&reply, src).await;
                });
            }
        });
        let counter = tcp_queries.clone();
        let tcp_seen = seen.clone();
        let tcp_task = tokio::spawn(async move {
            let Some(tcp) = tcp else { return };
            loop {
                let Ok((stream, _)) = tcp.accept().await else { continue };
                let counter = counter.clone();
                tokio::spawn(serve_stream(stream, b, counter, tcp_seen.clone()));
            }
        });
        let tasks = vec![udp_task, tcp_task];
        Self { addr, udp_queries, tcp_queries, seen, tasks }
    }

    /// Queries received, UDP and TCP together.
    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }

    /// Queries received for other names than the root: what clients asked, not health checks.
    pub fn client_queries(&self) -> usize {
        self.queries() - self.probes()
    }

    /// Queries for the root received: *forward*'s health-check probes.
    pub fn probes(&self) -> usize {
        self.seen.root_queries.load(Ordering::SeqCst)
    }

    /// While `on`, queries are counted and never answered.
    pub fn mute(&self, on: bool) {
        self.seen.muted.store(on, Ordering::SeqCst);
    }

    /// Every query received, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.seen.asked.lock().unwrap().clone()
    }

    /// The id of every query received, in order.
    pub fn ids_asked(&self) -> Vec<u16> {
        self.seen.ids.lock().unwrap().clone()
    }

    /// The EDNS options of every query received, in order (`None`: the query had no OPT).
    pub fn options_asked(&self) -> Vec<OptionsAsked> {
        self.seen.options.lock().unwrap().clone()
    }

    /// The EDNS buffer size of every query received, in order (`None`: no OPT).
    pub fn payloads_asked(&self) -> Vec<Option<u16>> {
        self.seen.payloads.lock().unwrap().clone()
    }
}

/// An address where nothing listens (UDP answers with ICMP port unreachable).
pub async fn dead_addr() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    drop(s);
    addr
}

/// A CA and a server certificate for `name` (and 127.0.0.1) signed by it, in PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// A CA, a server that accepts only clients with a certificate from it, and such a client
/// certificate and key, in PEM.
pub struct MutualPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// A CA made for one test, and what it signs.
struct TestCa {
    cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, issuer: Issuer::new(params, key) }
    }

    /// A certificate for `names` and its key.
    fn sign(&self, names: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let cert =
            rcgen::CertificateParams::new(names).unwrap().signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }

    /// A server configuration presenting a certificate for `name` and 127.0.0.1; with
    /// `client_auth`, it accepts only clients with a certificate from this CA.
    fn server_config(&self, name: &str, client_auth: bool) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.sign(&[name, "127.0.0.1"]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.cert.der().clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        Arc::new(builder.with_single_cert(vec![cert.der().clone()], key).unwrap())
    }
}

impl MutualPki {
    pub fn new(name: &str) -> Self {
        let ca = TestCa::new();
        let (client, client_key) = ca.sign(&["ferrodns-client"]);
        Self {
            ca_pem: ca.cert.pem(),
            server_config: ca.server_config(name, true),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }
}

impl TestPki {
    pub fn new(name: &str) -> Self {
        let ca = TestCa::new();
        Self { ca_pem: ca.cert.pem(), server_config: ca.server_config(name, false) }
    }
}

/// A DNS over TLS upstream on 127.0.0.1 answering `Answer(ip, ttl)`.
pub async fn start_tls(
    pki: &TestPki,
    b: Behaviour,
) -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<()>) {
    let listener = crate::fake_api::unused_tcp_listener().await;
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config.clone());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, counter) = (acceptor.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                serve_stream(stream, b, counter, Seen::default()).await;
            });
        }
    });
    (addr, count, task)
}
