//! The HTTP listeners behind `/metrics`, `/health` and `/ready`.
//!
//! Plugins ask for routes (address + path); this module binds each address once and answers by
//! path. A reload swaps the route table of an address that stays in one step, without closing
//! its socket, so probes and scrapes never see a refused connection because of a reload
//! (CoreDNS closes and reopens these listeners on reload, coredns/coredns#2339).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use plugin_api::pkg::http::{HttpHandler, HttpResponse, HttpRoute};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Paths and their handlers at one address.
type Routes = HashMap<&'static str, HttpHandler>;

struct Listener {
    /// The address as the Corefile wrote it.
    addr: String,
    bound: SocketAddr,
    routes: Arc<ArcSwap<Routes>>,
    task: JoinHandle<()>,
}

/// Every HTTP listener of the process.
#[derive(Default)]
pub struct HttpServers {
    listeners: Vec<Listener>,
}

impl HttpServers {
    /// Serves exactly `routes`: binds addresses that are new (all of them before anything
    /// changes, so a failure leaves the running set as it was), swaps the tables of those that
    /// stay, and closes those no longer named.
    pub fn apply(&mut self, routes: &[HttpRoute]) -> io::Result<()> {
        let mut wanted: Vec<(String, Routes)> = Vec::new();
        for r in routes {
            let table = match wanted.iter_mut().find(|(a, _)| *a == r.addr) {
                Some((_, t)) => t,
                None => {
                    wanted.push((r.addr.clone(), Routes::new()));
                    &mut wanted.last_mut().expect("just pushed").1
                }
            };
            // Several blocks may ask for the same path at one address; they all report the same
            // process-wide state, so the first one serves.
            table.entry(r.path).or_insert_with(|| r.handler.clone());
        }

        let mut fresh = Vec::new();
        for (addr, table) in &wanted {
            if !self.listeners.iter().any(|l| l.addr == *addr) {
                fresh.push(bind(addr, table.clone())?);
            }
        }
        let mut kept = Vec::new();
        for l in std::mem::take(&mut self.listeners) {
            match wanted.iter().find(|(a, _)| *a == l.addr) {
                Some((_, table)) => {
                    l.routes.store(Arc::new(table.clone()));
                    kept.push(l);
                }
                None => l.task.abort(),
            }
        }
        kept.extend(fresh);
        self.listeners = kept;
        Ok(())
    }

    /// The bound address of the listener the Corefile wrote as `addr` (useful with port 0).
    pub fn bound(&self, addr: &str) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.addr == addr).map(|l| l.bound)
    }

    /// Closes every listener.
    pub fn stop(&mut self) {
        for l in self.listeners.drain(..) {
            l.task.abort();
        }
    }
}

/// Resolves a Go-style listen address: `:8080` is every interface, `localhost:9153` loopback.
pub fn resolve(addr: &str) -> io::Result<SocketAddr> {
    let invalid =
        || io::Error::new(io::ErrorKind::InvalidInput, format!("address {addr}: invalid"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    }
    if host == "localhost" {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs()?.next().ok_or_else(invalid)
}

fn bind(addr: &str, table: Routes) -> io::Result<Listener> {
    let target = resolve(addr)?;
    let listener =
        listen(target).map_err(|e| io::Error::new(e.kind(), format!("listen tcp {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let routes = Arc::new(ArcSwap::from_pointee(table));
    let task = tokio::spawn(serve(listener, routes.clone()));
    Ok(Listener { addr: addr.to_string(), bound, routes, task })
}

fn listen(target: SocketAddr) -> io::Result<TcpListener> {
    let try_bind = |target: SocketAddr| -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(target), Type::STREAM, Some(Protocol::TCP))?;
        if target.is_ipv6() && target.ip().is_unspecified() {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&target.into())?;
        socket.listen(128)?;
        TcpListener::from_std(socket.into())
    };
    match try_bind(target) {
        // No IPv6 on this host: every interface means every IPv4 interface.
        Err(_) if target.is_ipv6() && target.ip().is_unspecified() => {
            try_bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), target.port()))
        }
        other => other,
    }
}

async fn serve(listener: TcpListener, routes: Arc<ArcSwap<Routes>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let routes = routes.clone();
                async move { Ok::<_, Infallible>(answer(&routes.load(), req.uri().path())) }
            });
            // CoreDNS's health server uses 5 s timeouts; a silent client is dropped after that.
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .serve_connection(TokioIo::new(stream), service),
            )
            .await;
        });
    }
}

fn answer(routes: &Routes, path: &str) -> Response<Full<Bytes>> {
    let reply = match routes.get(path) {
        Some(handler) => handler(),
        None => HttpResponse::text(404, "404 page not found\n"),
    };
    Response::builder()
        .status(reply.status)
        .header("Content-Type", reply.content_type)
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_addresses() {
        assert_eq!(resolve(":8080").unwrap(), "[::]:8080".parse().unwrap());
        assert_eq!(resolve("localhost:9153").unwrap(), "127.0.0.1:9153".parse().unwrap());
        assert_eq!(resolve("[::1]:8181").unwrap(), "[::1]:8181".parse().unwrap());
        assert_eq!(resolve("10.0.0.1:0").unwrap(), "10.0.0.1:0".parse().unwrap());
        assert!(resolve("8080").is_err());
        assert!(resolve(":http").is_err());
    }
}
