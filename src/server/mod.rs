//! The DNS listeners: sockets, the loops that serve them, and graceful stop.
//!
//! * [`Servers::bind`] opens, for each listener of a [`Config`], one UDP socket and one TCP
//!   socket on the same port (dual-stack `[::]` where the host has IPv6, else `0.0.0.0`; with
//!   *bind*, the one address), or with *multisocket* N of each, all `SO_REUSEPORT`. Port 0 picks
//!   a free port and uses it for UDP and TCP alike. A failure is worded as Go's `net.Listen`
//!   words it (`listen tcp 169.254.20.10:53: bind: cannot assign requested address`).
//! * The loops: `workers` of them read the UDP socket together, [`udp_batch`] on Linux (threads
//!   with `recvmmsg`/`sendmmsg`), [`udp`] elsewhere (tokio tasks); and [`tcp`]. One socket shared
//!   rather than one `SO_REUSEPORT` socket per worker: the kernel spreads `SO_REUSEPORT` sockets'
//!   packets by a hash of the client's address and port, so a few clients (a node-local cache's
//!   forwarder, a benchmark's ten sockets) could load one worker with most of the queries while
//!   another sat idle (bench/README.md, "Figures behind the code"). A shared socket lets
//!   whichever worker is free take the next packets. With *multisocket* there are at least as
//!   many loops as sockets, each reading one.
//! * [`Servers::stage`] and [`Servers::commit`] move to a new configuration on reload:
//!   listeners (address and port) that stay keep their sockets, unless their number of sockets
//!   changes.
//! * [`mux`] turns a packet into a reply; [`wire`] holds the wire-level rules (what is a query,
//!   error replies, fitting a reply to the client).
//! * [`Servers::stop`] stops receiving, then lets the queued packets, and the queries and
//!   connections in progress, finish, for at most the grace period.

pub mod metrics;
pub mod mux;
pub mod tcp;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod udp_batch;
#[cfg(target_os = "linux")]
pub mod udp_tasks;
#[cfg(target_os = "linux")]
pub mod upstream_udp;
pub mod wire;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
#[cfg(not(target_os = "linux"))]
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::config::{Config, Listener};
use mux::Mux;
use plugin_bind::ListenHost;

/// Counts queries and connections still being served, so a stop can wait for them.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// Held while one query or connection is in progress.
pub struct InFlightGuard(Arc<AtomicUsize>);

impl InFlight {
    /// Marks one more in progress until the guard is dropped.
    pub fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.0.clone())
    }

    /// How many are in progress.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One listen address, bound and serving.
pub struct Bound {
    /// The address the sockets are bound to (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The port the Corefile named (0 included), to match listeners on reload.
    pub configured_port: u16,
    /// The address *bind* named, or `None` for the wildcard; with the port, what a reload
    /// matches.
    pub host: Option<ListenHost>,
    /// The listener's `server` label as configured (`dns://127.0.0.1:0`).
    pub label: String,
    /// How many UDP sockets and TCP listeners share the port (*multisocket*).
    pub sockets: usize,
    /// The dispatcher, swapped whole on reload.
    pub mux: Arc<ArcSwap<Mux>>,
    tasks: Vec<JoinHandle<()>>,
    /// The UDP loops that run on threads of their own.
    #[cfg(target_os = "linux")]
    udp_loops: Vec<udp_batch::Loop>,
}

/// Listeners bound for a configuration that is not in service yet.
pub struct Staged {
    added: Vec<Bound>,
}

impl Staged {
    /// Closes the staged listeners: the configuration they were for is not used.
    pub fn discard(self) {
        self.added.iter().for_each(Bound::abort);
    }
}

/// All listeners of a running configuration.
pub struct Servers {
    /// The listeners, in the order of the configuration.
    pub bound: Vec<Bound>,
    in_flight: InFlight,
}

impl Servers {
    /// Binds and starts every listener of `config`, with `workers` UDP loops each. Must be
    /// called inside a Tokio runtime.
    pub fn bind(config: &Config, workers: usize) -> io::Result<Self> {
        let in_flight = InFlight::default();
        let mut bound = Vec::new();
        for listener in &config.listeners {
            bound.push(start_listener(listener, listener.port, workers, &in_flight)?);
        }
        Ok(Self { bound, in_flight })
    }

    /// First half of moving to `config`: binds the ports it names that are not bound yet (all of
    /// them, or none if one fails). Nothing running changes until [`Servers::commit`]. A port
    /// whose number of sockets changes gets its new sockets now, beside the old ones (all are
    /// `SO_REUSEPORT`), and the old ones stop at the commit.
    pub fn stage(&self, config: &Config, workers: usize) -> io::Result<Staged> {
        let mut added = Vec::new();
        for listener in &config.listeners {
            let running = self.bound.iter().find(|b| b.serves(listener));
            let port = match running {
                Some(b) if b.sockets == listener.sockets => continue,
                Some(b) => b.addr.port(),
                None => listener.port,
            };
            match start_listener(listener, port, workers, &self.in_flight) {
                Ok(b) => added.push(b),
                Err(e) => {
                    added.iter().for_each(Bound::abort);
                    return Err(e);
                }
            }
        }
        Ok(Staged { added })
    }

    /// Where each listener is bound, by its configured `server` label, counting the staged
    /// listeners too.
    pub fn addresses(&self, staged: Option<&Staged>) -> Vec<(String, SocketAddr)> {
        self.bound
            .iter()
            .chain(staged.map_or(&[][..], |s| s.added.as_slice()))
            .map(|b| (b.label.clone(), b.addr))
            .collect()
    }

    /// Second half: listeners on ports that stay get the new dispatcher in one atomic swap
    /// (their sockets stay open, so no query is lost), the staged ones join, ports no longer
    /// named stop.
    pub fn commit(&mut self, staged: Staged, config: &Config) {
        let mut kept = Vec::new();
        for b in std::mem::take(&mut self.bound) {
            let same = |l: &&Listener| b.serves(l) && l.sockets == b.sockets;
            match config.listeners.iter().find(same) {
                Some(listener) => {
                    b.mux.store(Arc::new(Mux::new(listener)));
                    kept.push(b);
                }
                None => b.abort(),
            }
        }
        kept.extend(staged.added);
        // Keep the configuration's order, so the first listener stays first.
        kept.sort_by_key(|b| {
            config.listeners.iter().position(|l| b.serves(l)).unwrap_or(usize::MAX)
        });
        self.bound = kept;
    }

    /// Stops receiving, then waits up to `grace` for queries and connections in progress and
    /// for the loops to end. The sockets close when this returns, unless a loop is still held
    /// past `grace`: until they close, the kernel queues packets that a loop still between two
    /// reads would answer.
    pub async fn stop(self, grace: Duration) {
        for b in &self.bound {
            b.abort();
        }
        let deadline = tokio::time::Instant::now() + grace;
        let busy = || self.in_flight.count() > 0 || self.bound.iter().any(Bound::running);
        while busy() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Bound {
    /// Whether this is the listener `listener` configures: the same address and port.
    fn serves(&self, listener: &Listener) -> bool {
        self.configured_port == listener.port && self.host == listener.host
    }

    /// Whether a loop of this listener still runs (and holds its socket).
    fn running(&self) -> bool {
        #[cfg(target_os = "linux")]
        if self.udp_loops.iter().any(|l| !l.is_finished()) {
            return true;
        }
        self.tasks.iter().any(|t| !t.is_finished())
    }

    fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
        #[cfg(target_os = "linux")]
        self.udp_loops.iter().for_each(udp_batch::Loop::stop);
    }
}

impl Drop for Bound {
    /// A listener nobody holds stops serving: its UDP threads would otherwise run on.
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        self.udp_loops.iter().for_each(udp_batch::Loop::stop);
    }
}

#[cfg(test)]
mod tests;

/// Binds `listener` on `port` (its configured port, or on reload the port it is bound to
/// already) with `listener.sockets` UDP sockets and TCP listeners, and starts serving them: at
/// least `workers` UDP loops, and one per socket, each reading one socket.
fn start_listener(
    listener: &Listener,
    port: u16,
    workers: usize,
    in_flight: &InFlight,
) -> io::Result<Bound> {
    let host = listener.host.as_ref();
    let (first_udp, first_tcp) = bind_port(host, port).map_err(|e| listen_error(host, port, e))?;
    let addr = first_tcp.local_addr()?;
    let (mut udps, mut tcps) = (vec![first_udp], vec![first_tcp]);
    for _ in 1..listener.sockets.max(1) {
        let (udp, tcp) =
            try_bind_port(host, addr.port()).map_err(|e| listen_error(host, addr.port(), e))?;
        udps.push(udp);
        tcps.push(tcp);
    }
    let mux = Arc::new(ArcSwap::from_pointee(Mux::new(listener)));
    let mut tasks = Vec::new();
    #[cfg(target_os = "linux")]
    let mut udp_loops = Vec::new();
    #[cfg(target_os = "linux")]
    let udps: Vec<_> = udps.into_iter().map(Arc::new).collect();
    #[cfg(not(target_os = "linux"))]
    let udps = udps
        .into_iter()
        .map(|u| UdpSocket::from_std(u).map(Arc::new))
        .collect::<io::Result<Vec<_>>>()?;
    for index in 0..workers.max(udps.len()) {
        let udp = udps[index % udps.len()].clone();
        #[cfg(target_os = "linux")]
        udp_loops.push(udp_batch::Loop::start(udp, mux.clone(), in_flight.clone(), index)?);
        #[cfg(not(target_os = "linux"))]
        tasks.push(tokio::spawn(udp::serve(udp, mux.clone(), in_flight.clone())));
    }
    for tcp in tcps {
        tasks.push(tokio::spawn(tcp::serve(tcp, mux.clone(), in_flight.clone())));
    }
    Ok(Bound {
        addr,
        configured_port: listener.port,
        host: listener.host.clone(),
        label: listener.label(),
        sockets: listener.sockets.max(1),
        mux,
        tasks,
        #[cfg(target_os = "linux")]
        udp_loops,
    })
}

/// Go's words for a failed listen, which operators grep for: `listen tcp :53: bind: address
/// already in use`, `listen tcp 169.254.20.10:53: bind: cannot assign requested address`.
fn listen_error(host: Option<&ListenHost>, port: u16, e: io::Error) -> io::Error {
    let addr = crate::config::server_label(plugin_api::pkg::zone::Transport::Dns, host, port);
    let addr = addr.trim_start_matches("dns://");
    let words = match e.raw_os_error() {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or_default().to_owned();
            let mut chars = text.chars();
            let lower = chars.next().map(|c| c.to_ascii_lowercase());
            format!("bind: {}{}", lower.map(String::from).unwrap_or_default(), chars.as_str())
        }
        None => e.to_string(),
    };
    io::Error::new(e.kind(), format!("listen tcp {addr}: {words}"))
}

/// Binds one UDP socket and one TCP listener on one port, of `host` or of the wildcard. With
/// port 0 the kernel picks the UDP port and TCP takes the same one; if TCP finds it taken,
/// another port is tried.
fn bind_port(
    host: Option<&ListenHost>,
    port: u16,
) -> io::Result<(std::net::UdpSocket, TcpListener)> {
    let mut attempts = if port == 0 { 20 } else { 1 };
    loop {
        attempts -= 1;
        match try_bind_port(host, port) {
            Err(e) if attempts > 0 && e.kind() == io::ErrorKind::AddrInUse => continue,
            other => return other,
        }
    }
}

fn try_bind_port(
    host: Option<&ListenHost>,
    port: u16,
) -> io::Result<(std::net::UdpSocket, TcpListener)> {
    let udp = bind_udp(host, port)?;
    let tcp = bind_tcp(host, udp.local_addr()?.port())?;
    Ok((udp, tcp))
}

/// A socket of `host`'s family, and the address to bind it to.
fn host_socket(
    host: &ListenHost,
    port: u16,
    ty: Type,
    proto: Protocol,
) -> io::Result<(Socket, SocketAddr)> {
    let addr = host.socket_addr(port);
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        // Only this address: another block may bind the IPv4 side of the same port.
        socket.set_only_v6(true)?;
    }
    Ok((socket, addr))
}

/// The wildcard address: dual-stack IPv6 where the host has it, else IPv4.
fn wildcard_sockets(port: u16, ty: Type, proto: Protocol) -> io::Result<(Socket, SocketAddr)> {
    let v6 = Socket::new(Domain::IPV6, ty, Some(proto)).and_then(|s| {
        s.set_only_v6(false)?;
        Ok(s)
    });
    match v6 {
        Ok(s) => Ok((s, SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)))),
        Err(_) => Ok((
            Socket::new(Domain::IPV4, ty, Some(proto))?,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        )),
    }
}

/// A non-blocking UDP socket on `port`, for [`udp`] to wrap, or for [`udp_batch`], which makes
/// it blocking to wait inside its reads.
fn bind_udp(host: Option<&ListenHost>, port: u16) -> io::Result<std::net::UdpSocket> {
    if let Some(host) = host {
        let (socket, addr) = host_socket(host, port, Type::DGRAM, Protocol::UDP)?;
        set_udp_options(&socket)?;
        socket.bind(&addr.into())?;
        return Ok(socket.into());
    }
    let (socket, addr) = wildcard_sockets(port, Type::DGRAM, Protocol::UDP)?;
    set_udp_options(&socket)?;
    match socket.bind(&addr.into()) {
        Ok(()) => {}
        Err(e) if addr.is_ipv6() && e.kind() == io::ErrorKind::AddrNotAvailable => {
            return bind_udp_v4(port);
        }
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

fn bind_udp_v4(port: u16) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    set_udp_options(&socket)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(socket.into())
}

/// What both address families' UDP sockets get before they are bound.
fn set_udp_options(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // A larger receive buffer rides out bursts; the kernel may cap it, which is fine.
    let _ = socket.set_recv_buffer_size(4 << 20);
    Ok(())
}

fn bind_tcp(host: Option<&ListenHost>, port: u16) -> io::Result<TcpListener> {
    let (socket, addr) = match host {
        Some(host) => host_socket(host, port, Type::STREAM, Protocol::TCP)?,
        None => wildcard_sockets(port, Type::STREAM, Protocol::TCP)?,
    };
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}
