//! One upstream resolver: exchanging a query with it over UDP or TCP, reusing connections, and
//! checking its health after a failure.
//!
//! Health works as in CoreDNS: a failed exchange starts a probe (`<domain> IN NS`, any reply
//! counts as healthy) every `health_check` interval until one succeeds; each failed probe adds to
//! the upstream's fail count and a success resets it. With more than `max_fails` fails the
//! upstream is down and skipped while others are up.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plugin_api::pkg::datagram;
use plugin_api::proto::op::{Message, Query};
use plugin_api::proto::rr::{Name, RecordType};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::metrics;

/// How long a health probe waits for its reply.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Settings shared by the upstreams of one `forward` line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Idle connections older than this are not reused.
    pub expire: Duration,
    /// Most idle connections kept per upstream and transport (0: no limit).
    pub max_idle: usize,
    /// Failed probes before the upstream is down (0: never down, no probes).
    pub max_fails: u32,
    /// Time between probes.
    pub health_check: Duration,
    /// Probe over TCP (with `force_tcp`).
    pub hc_tcp: bool,
    /// RD bit of the probe.
    pub hc_recursion_desired: bool,
    /// The name the probe asks NS of.
    pub hc_domain: String,
}

/// An upstream resolver.
pub struct Upstream {
    /// Its address.
    pub addr: SocketAddr,
    /// `ip:port`, the `to` label of the metrics.
    pub label: String,
    /// Its metric series.
    pub series: metrics::UpstreamSeries,
    settings: Arc<Settings>,
    fails: AtomicU32,
    probing: AtomicBool,
    udp_idle: Mutex<Vec<(UdpSocket, Instant)>>,
    tcp_idle: Mutex<Vec<(TcpStream, Instant)>>,
    /// For a `tls://` upstream: how to connect, and the name its certificate must carry.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    tls_idle: Mutex<Vec<(TlsStream<TcpStream>, Instant)>>,
}

impl Upstream {
    /// An upstream at `addr`; with `tls`, spoken to over DNS over TLS.
    pub fn new(
        addr: SocketAddr,
        settings: Arc<Settings>,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    ) -> Self {
        Self {
            addr,
            label: addr.to_string(),
            series: metrics::UpstreamSeries::default(),
            settings,
            fails: AtomicU32::new(0),
            probing: AtomicBool::new(false),
            udp_idle: Mutex::new(Vec::new()),
            tcp_idle: Mutex::new(Vec::new()),
            tls: tls.map(|(config, name)| (TlsConnector::from(config), name)),
            tls_idle: Mutex::new(Vec::new()),
        }
    }

    /// True for a DNS over TLS upstream.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True if the upstream failed more health checks than `max_fails` allows.
    pub fn down(&self) -> bool {
        let max = self.settings.max_fails;
        max != 0 && self.fails.load(Ordering::Acquire) > max
    }

    /// Sends `query` (whose id is `id`) and returns the reply's bytes; replies with another id
    /// are ignored. Errors are worded as Go words network errors, for the *errors* log.
    ///
    /// Over UDP the reply may be at most `udp_size` octets, the buffer the query advertised:
    /// reading into a buffer of that size rather than 64 KiB keeps hundreds of queries in
    /// flight from holding tens of megabytes.
    pub async fn exchange(
        &self,
        query: &[u8],
        id: u16,
        tcp: bool,
        read_timeout: Duration,
        udp_size: u16,
    ) -> Result<Vec<u8>, String> {
        // TLS and TCP exchanges are boxed: their state (a TLS handshake above all) would
        // otherwise make every query's future several KiB, which glibc serves from its slow
        // large-chunk path, and which is moved in whole when the chain's future is boxed.
        if self.tls.is_some() {
            Box::pin(self.exchange_tls(query, id, read_timeout)).await
        } else if tcp {
            Box::pin(self.exchange_tcp(query, id, read_timeout)).await
        } else if let Some(started) = self.start_on_worker(query, read_timeout, udp_size) {
            self.exchange_on_worker(started).await
        } else {
            self.exchange_udp(query, id, read_timeout, udp_size).await
        }
    }

    /// Starts a UDP exchange on the server's UDP worker this query runs on, if it runs on one
    /// (`plugin_api::pkg::datagram`): the worker's sockets, batched sends and receives, no
    /// runtime task.
    fn start_on_worker(
        &self,
        query: &[u8],
        read_timeout: Duration,
        udp_size: u16,
    ) -> Option<Result<datagram::Exchange, String>> {
        let started = datagram::exchange(&datagram::Query {
            to: self.addr,
            bytes: query,
            deadline: Instant::now() + read_timeout,
            expire: self.settings.expire,
            // One octet more than allowed is not needed here: the worker reads whole datagrams.
            limit: usize::from(udp_size.max(512)),
        })?;
        Some(
            started
                .map(|(exchange, reused)| {
                    self.series.conn_cache(&self.label, "udp", reused);
                    exchange
                })
                .map_err(|f| self.failure(f)),
        )
    }

    async fn exchange_on_worker(
        &self,
        started: Result<datagram::Exchange, String>,
    ) -> Result<Vec<u8>, String> {
        started?.await.map_err(|f| self.failure(f))
    }

    /// A worker's failure in Go's words: `read udp 127.0.0.1:40000->127.0.0.1:53: i/o timeout`.
    fn failure(&self, f: datagram::Failure) -> String {
        self.udp_error(f.op, f.local, &go_io(&f.error))
    }

    /// A UDP exchange's error as Go words it: `OP udp LOCAL->UPSTREAM: ERROR`, or without the
    /// local address when there was none (a socket that could not be dialled).
    fn udp_error(
        &self,
        op: &str,
        local: Option<SocketAddr>,
        error: &dyn std::fmt::Display,
    ) -> String {
        match local {
            Some(local) => format!("{op} udp {local}->{}: {error}", self.addr),
            None => format!("{op} udp {}: {error}", self.addr),
        }
    }

    fn take_idle<T>(&self, pool: &Mutex<Vec<(T, Instant)>>) -> Option<T> {
        let mut idle = pool.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < self.settings.expire {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle<T>(&self, pool: &Mutex<Vec<(T, Instant)>>, conn: T) {
        let mut idle = pool.lock().unwrap_or_else(|e| e.into_inner());
        if self.settings.max_idle == 0 || idle.len() < self.settings.max_idle {
            idle.push((conn, Instant::now()));
        }
    }

    async fn exchange_udp(
        &self,
        query: &[u8],
        id: u16,
        read_timeout: Duration,
        udp_size: u16,
    ) -> Result<Vec<u8>, String> {
        let socket = match self.take_idle(&self.udp_idle) {
            Some(s) => {
                self.series.conn_cache(&self.label, "udp", true);
                s
            }
            None => {
                self.series.conn_cache(&self.label, "udp", false);
                let bind: SocketAddr = if self.addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let s = UdpSocket::bind(bind)
                    .await
                    .map_err(|e| format!("dial udp {}: {e}", self.addr))?;
                s.connect(self.addr).await.map_err(|e| format!("dial udp {}: {e}", self.addr))?;
                s
            }
        };
        // The local address only when something failed: a `getsockname` and a string per
        // exchange otherwise.
        let op_err = |what: &str, e: &dyn std::fmt::Display| {
            self.udp_error(what, socket.local_addr().ok(), e)
        };
        // The socket's readiness is left set by the last exchange's read, which found its reply
        // and stopped there; a read now would only find the socket empty, a system call for
        // nothing. Cleared before sending, it is set again when the reply arrives (a late reply
        // already queued is then read first, and passed over below).
        let _ =
            socket.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
        socket.send(query).await.map_err(|e| op_err("write", &go_io(&e)))?;
        let deadline = tokio::time::Instant::now() + read_timeout;
        // One octet more than allowed, to tell a reply that overflowed from one that fit.
        let limit = usize::from(udp_size.max(512));
        let mut buf = vec![0u8; limit + 1];
        loop {
            let wait = socket.ready(Interest::READABLE | Interest::ERROR);
            let ready = match tokio::time::timeout_at(deadline, wait).await {
                Err(_) => return Err(op_err("read", &"i/o timeout")),
                Ok(Err(e)) => return Err(op_err("read", &go_io(&e))),
                Ok(Ok(ready)) => ready,
            };
            // An ICMP error (port unreachable: nothing listens there) is the socket's pending
            // error, not something to read: a read would see only that nothing is readable.
            if ready.is_error() {
                if let Ok(Some(e)) = socket.take_error() {
                    return Err(op_err("read", &go_io(&e)));
                }
                let _ = socket
                    .try_io(Interest::ERROR, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
            }
            let n = match socket.try_recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(op_err("read", &go_io(&e))),
            };
            // Only this query's reply is taken: a late reply to an earlier query on this socket,
            // or a forgery with another id or question, is skipped and the wait goes on. (The
            // socket is connected: the kernel drops what comes from any other address or port.)
            if n >= 2
                && u16::from_be_bytes([buf[0], buf[1]]) == id
                && replies_to(query, &buf[..n.min(limit)])
            {
                if n > limit {
                    return Err(op_err("read", &format!("reply larger than {limit} octets")));
                }
                buf.truncate(n);
                self.put_idle(&self.udp_idle, socket);
                return Ok(buf);
            }
        }
    }

    async fn exchange_tcp(
        &self,
        query: &[u8],
        id: u16,
        read_timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        // A reused connection may have been closed by the upstream meanwhile: then dial anew.
        if let Some(conn) = self.take_idle(&self.tcp_idle) {
            self.series.conn_cache(&self.label, "tcp", true);
            if let Ok((reply, conn)) = self.round_trip(conn, "tcp", query, id, read_timeout).await {
                self.put_idle(&self.tcp_idle, conn);
                return Ok(reply);
            }
        } else {
            self.series.conn_cache(&self.label, "tcp", false);
        }
        let conn = self.dial(read_timeout).await?;
        let (reply, conn) = self.round_trip(conn, "tcp", query, id, read_timeout).await?;
        self.put_idle(&self.tcp_idle, conn);
        Ok(reply)
    }

    async fn exchange_tls(
        &self,
        query: &[u8],
        id: u16,
        read_timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let Some((connector, name)) = &self.tls else { return Err("not a TLS upstream".into()) };
        if let Some(conn) = self.take_idle(&self.tls_idle) {
            self.series.conn_cache(&self.label, "tcp-tls", true);
            if let Ok((reply, conn)) = self.round_trip(conn, "tcp", query, id, read_timeout).await {
                self.put_idle(&self.tls_idle, conn);
                return Ok(reply);
            }
        } else {
            self.series.conn_cache(&self.label, "tcp-tls", false);
        }
        let tcp = self.dial(read_timeout).await?;
        let conn = timeout(read_timeout, connector.connect(name.clone(), tcp))
            .await
            .map_err(|_| format!("tls handshake with {}: i/o timeout", self.addr))?
            .map_err(|e| format!("tls: {e}"))?;
        let (reply, conn) = self.round_trip(conn, "tcp", query, id, read_timeout).await?;
        self.put_idle(&self.tls_idle, conn);
        Ok(reply)
    }

    async fn dial(&self, limit: Duration) -> Result<TcpStream, String> {
        timeout(limit, TcpStream::connect(self.addr))
            .await
            .map_err(|_| format!("dial tcp {}: i/o timeout", self.addr))?
            .map_err(|e| format!("dial tcp {}: {}", self.addr, go_io(&e)))
    }

    /// One framed query and its reply on a stream (TCP or TLS); the stream comes back for reuse.
    async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut conn: S,
        net: &str,
        query: &[u8],
        id: u16,
        read_timeout: Duration,
    ) -> Result<(Vec<u8>, S), String> {
        let op_err =
            |what: &str, e: &dyn std::fmt::Display| format!("{what} {net} {}: {e}", self.addr);
        let len = u16::try_from(query.len()).map_err(|_| "query too large".to_string())?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        conn.write_all(&framed).await.map_err(|e| op_err("write", &go_io(&e)))?;
        conn.flush().await.map_err(|e| op_err("write", &go_io(&e)))?;
        let deadline = tokio::time::Instant::now() + read_timeout;
        loop {
            let mut len = [0u8; 2];
            match tokio::time::timeout_at(deadline, conn.read_exact(&mut len)).await {
                Err(_) => return Err(op_err("read", &"i/o timeout")),
                Ok(Err(e)) => return Err(op_err("read", &go_io(&e))),
                Ok(Ok(_)) => {}
            }
            let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
            match tokio::time::timeout_at(deadline, conn.read_exact(&mut reply)).await {
                Err(_) => return Err(op_err("read", &"i/o timeout")),
                Ok(Err(e)) => return Err(op_err("read", &go_io(&e))),
                Ok(Ok(_)) => {}
            }
            if reply.len() >= 2 && u16::from_be_bytes([reply[0], reply[1]]) == id {
                return Ok((reply, conn));
            }
        }
    }

    /// Starts probing the upstream, unless probing is off or already running.
    pub fn healthcheck(self: &Arc<Self>) {
        if self.settings.max_fails == 0 || self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.probing.store(false, Ordering::Release);
            return;
        };
        // The probe holds the upstream weakly: when a reload or a stop drops this configuration,
        // the probing ends with it instead of running on for an upstream nobody uses.
        let weak = Arc::downgrade(self);
        let every = self.settings.health_check;
        rt.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(me) = weak.upgrade() else { return };
                if me.probe().await {
                    me.fails.store(0, Ordering::Release);
                    me.probing.store(false, Ordering::Release);
                    return;
                }
                me.fails.fetch_add(1, Ordering::AcqRel);
                metrics::healthcheck_failure(&me.label);
            }
        });
    }

    /// One probe: `<domain> IN NS`; any reply is healthy.
    async fn probe(&self) -> bool {
        let mut q = Message::query();
        q.metadata.id = plugin_api::pkg::random::unpredictable_id();
        q.metadata.recursion_desired = self.settings.hc_recursion_desired;
        let Ok(name) = Name::from_ascii(&self.settings.hc_domain) else { return false };
        q.add_query(Query::query(name, RecordType::NS));
        let Ok(bytes) = q.to_vec() else { return false };
        // A reply that does not decode is a failed probe, as a failed unpack is in CoreDNS.
        let reply = self.exchange(&bytes, q.metadata.id, self.settings.hc_tcp, HEALTH_TIMEOUT, 512);
        reply.await.is_ok_and(|r| Message::from_vec(&r).is_ok())
    }
}

pub use plugin_api::pkg::datagram::replies_to;

/// An I/O error in Go's words.
fn go_io(e: &io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        UnexpectedEof => "EOF".into(),
        TimedOut => "i/o timeout".into(),
        _ => e.to_string(),
    }
}
