//! The per-listener dispatcher: one packet in, what to send back out.
//!
//! [`Mux::serve_packet`] follows CoreDNS's `Server.ServeDNS` step by step: drop or reject what is
//! not a query, REFUSED for a class other than IN unless a block loads *chaos* or *forward*,
//! BADVERS for an EDNS version above 0, then the block whose zone is the longest suffix of the
//! query name (DS queries go to the parent's block when this server has it), `.` as the last
//! resort, REFUSED when nothing matches or the block has no plugins. The chain's reply is fitted
//! to the client; a panic inside the chain is answered SERVFAIL and counted.

// foldhash, not SipHash: every query looks up each suffix of its name; the keys are the
// Corefile's zones.
use foldhash::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use plugin_api::{Ctx, Next, Proto, Reply, Request, Serve, ServeResult};

use super::metrics::ZoneMetrics;
use plugin_api::server::{Accepted, read_query};

use super::wire;
use crate::config::{Block, Listener};

/// Where a zone's queries go.
struct Route {
    ctx: Ctx,
    block: Arc<Block>,
    /// The zone's counters, when its block enables *prometheus*.
    metrics: Option<Arc<ZoneMetrics>>,
}

/// What to do with a packet.
pub enum Outcome {
    /// Send the bytes now in the output buffer.
    Send,
    /// Send the bytes now in the output buffer: several messages, each with its two-octet
    /// length already in front (a zone transfer over TCP).
    SendFrames,
    /// Send nothing.
    Drop,
    /// A plugin has to wait: run this to get the bytes to send, if any.
    Wait(WaitReply),
}

/// The reply of a query whose plugin has to wait: the bytes to send, if any.
pub type WaitReply = Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>>;

/// The zones of one listener and the blocks that serve them.
pub struct Mux {
    zones: HashMap<String, Route>,
    /// True if any block here loads a plugin that takes non-IN classes.
    any_class: bool,
    /// The length of the longest zone: longer suffixes of a query name cannot match.
    longest_zone: usize,
    /// The `server` label: `dns://:53`.
    server: Arc<str>,
    /// The TCP connections' timeouts (*timeouts*), read when a connection opens.
    tcp: crate::server::tcp::Timeouts,
    /// *debug*: a panic ends the process ([`set_fatal_panic`]) instead of a SERVFAIL.
    debug: bool,
    /// *shed*: UDP replies the socket drops are counted.
    shed: bool,
}

/// What a panic does under *debug*: by default it ends the process.
static FATAL_PANIC: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Replaces what a panic does under *debug* (tests record it instead of exiting). The first
/// call wins.
pub fn set_fatal_panic(action: fn(&str)) {
    let _ = FATAL_PANIC.set(action);
}

/// A panic under *debug*, as Go ends a program on a panic nothing recovers: the message on
/// standard error and exit status 2 (the log lines so far written first).
fn fatal_panic(server: &str, payload: &(dyn std::any::Any + Send)) {
    let message = panic_message(payload);
    match FATAL_PANIC.get() {
        Some(action) => action(&message),
        None => {
            crate::logging::flush();
            eprintln!("panic: {message} [recovered=false, server={server}]");
            std::process::exit(2);
        }
    }
}

impl Mux {
    /// Counts `n` UDP replies the socket would not take, under *shed*
    /// (`coredns_shed_dropped_total{reason="response"}`).
    pub fn replies_dropped(&self, n: usize) {
        if self.shed && n > 0 {
            let counter = plugin_shed::DROPPED.with_label_values(&[&*self.server, "response"]);
            counter.inc_by(n as u64);
        }
    }

    /// The TCP connections' timeouts and query limit for this configuration.
    pub fn tcp_timeouts(&self) -> crate::server::tcp::Timeouts {
        self.tcp
    }

    /// The dispatcher for `listener`.
    pub fn new(listener: &Listener) -> Self {
        let server: Arc<str> = Arc::from(listener.label());
        let zones = listener
            .zones
            .iter()
            .map(|(zone, block)| {
                let ctx = Ctx { server: server.clone(), zone: Arc::from(zone.as_str()), depth: 0 };
                let metrics = block.directives.contains(&"prometheus").then(|| {
                    let names: Vec<&'static str> = block.chain.iter().map(|p| p.name()).collect();
                    Arc::new(ZoneMetrics::new(server.clone(), ctx.zone.clone(), &names))
                });
                (zone.clone(), Route { ctx, block: block.clone(), metrics })
            })
            .collect();
        let any_class = listener.zones.iter().any(|(_, b)| b.allows_any_class());
        let longest_zone = listener.zones.iter().map(|(z, _)| z.len()).max().unwrap_or(0);
        let (tcp, debug, shed) = (listener.tcp, listener.debug, listener.shed);
        Self { zones, any_class, longest_zone, server, tcp, debug, shed }
    }

    /// The `server` label of this listener.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Picks the route for `name` (lower-case, fully qualified), or `None` for REFUSED.
    fn route(&self, name: &str, qtype: RecordType) -> Option<&Route> {
        let mut ds_route = None;
        // Suffixes longer than the longest zone cannot be one: start at the first label that
        // begins within that many octets of the end (for `.:53` alone, none does).
        let mut offset = match name.len().checked_sub(self.longest_zone) {
            None | Some(0) => 0,
            Some(from) => match next_label(name, from - 1) {
                Some(at) => at,
                None => return self.root_route(),
            },
        };
        loop {
            if name.len() - offset <= self.longest_zone
                && let Some(route) = self.zones.get(&name[offset..])
            {
                if route.block.chain.is_empty() {
                    // A zone without plugins refuses, even if a parent zone has some.
                    return None;
                }
                if qtype != RecordType::DS {
                    return Some(route);
                }
                // A DS record lives in the parent zone: keep looking for a shorter match.
                ds_route = Some(route);
            }
            match next_label(name, offset) {
                Some(at) => offset = at,
                None => break,
            }
        }
        if ds_route.is_some() {
            return ds_route;
        }
        self.root_route()
    }

    /// The route of the root zone, if it has plugins.
    fn root_route(&self) -> Option<&Route> {
        self.zones.get(".").filter(|r| !r.block.chain.is_empty())
    }

    /// [`Mux::serve_packet`] for the listeners' loops: a panic outside the plugin chain (in
    /// decoding or encoding; the chain's own are answered SERVFAIL) drops the packet instead of
    /// ending the loop. The fuzz target calls `serve_packet` itself, so that such panics show.
    pub fn serve_packet_guarded(
        &self,
        packet: &[u8],
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.serve_packet(packet, src, local, proto, received, out)
        }))
        .unwrap_or(Outcome::Drop)
    }

    /// Serves one packet from `src`, which arrived at `received` (the start of the query's
    /// duration in the log and the metrics). The reply, if any, is written to `out` (or
    /// produced by the returned future when a plugin has to wait).
    pub fn serve_packet(
        &self,
        packet: &[u8],
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome {
        // This thread's spare request, refilled in place: a query answered at once allocates
        // nothing for its message, name or `Arc`.
        let mut req = spare::take();
        let fresh = Arc::make_mut(&mut req);
        match read_query(fresh, packet, src, local, proto, received) {
            Accepted::Query => {}
            Accepted::Drop => {
                spare::keep(req);
                return Outcome::Drop;
            }
            Accepted::Reject(mut reply) => {
                spare::keep(req);
                return encode(&mut reply, 512, out);
            }
        }
        let outcome = self.serve_request(&mut req, received, out);
        match outcome {
            Outcome::Wait(_) => {}
            _ => spare::keep(req),
        }
        outcome
    }

    /// Everything after decoding: class, EDNS version, the route, the metadata, the chain.
    fn serve_request(&self, req: &mut Arc<Request>, start: Instant, out: &mut Vec<u8>) -> Outcome {
        if req.qclass() != DNSClass::IN && !self.any_class {
            return self.dropped(req, ResponseCode::Refused, out);
        }
        if req.edns().is_some_and(|e| e.version() > 0) {
            let mut reply = wire::badvers_reply(req);
            return encode(&mut reply, req.size(), out);
        }
        let Some(route) = self.route(req.name(), req.qtype()) else {
            return self.dropped(req, ResponseCode::Refused, out);
        };

        if let Some(collector) = &route.block.metadata {
            // The request is this thread's own until the chain runs: no copy is made.
            collector.collect(Arc::make_mut(req));
        }
        let req = &*req;
        let chain = &route.block.chain;
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
            Next::new("", chain, 0).run(&route.ctx, req)
        }));
        match served {
            Err(panic) if self.debug => {
                fatal_panic(&self.server, &*panic);
                Outcome::Drop
            }
            Err(panic) => {
                log_panic(&self.server, &*panic);
                self.dropped(req, ResponseCode::ServFail, out)
            }
            Ok(Serve::Ready(result)) => {
                finish_counted(result, req, route.metrics.as_deref(), start, out)
            }
            Ok(Serve::Pending(fut)) => {
                let req = req.clone();
                let server = self.server.clone();
                let metrics = route.metrics.clone();
                let debug = self.debug;
                Outcome::Wait(Box::pin(async move {
                    let result = match AssertUnwindSafe(fut).catch_unwind().await {
                        Ok(result) => result,
                        Err(panic) if debug => {
                            fatal_panic(&server, &*panic);
                            return None;
                        }
                        Err(panic) => {
                            log_panic(&server, &*panic);
                            Ok(Reply::Rcode(ResponseCode::ServFail))
                        }
                    };
                    // A stream from a plugin that waited: its first message (see `Reply::Stream`).
                    let result = match result {
                        Ok(Reply::Stream { msgs, by }) => match msgs.into_iter().next() {
                            Some(msg) => Ok(Reply::Message { msg, by }),
                            None => Ok(Reply::Rcode(ResponseCode::ServFail)),
                        },
                        other => other,
                    };
                    let mut out = plugin_api::server::reply_buffer(512);
                    let outcome = finish_counted(result, &req, metrics.as_deref(), start, &mut out);
                    // Usually the last holder now: kept for a later query of this thread (a
                    // UDP worker's, where the next miss takes it).
                    spare::give_back(req);
                    match outcome {
                        Outcome::Send => Some(out),
                        _ => None,
                    }
                }))
            }
        }
    }

    /// An answer the server writes itself without a plugin, counted under zone `dropped` as
    /// CoreDNS's `errorAndMetricsFunc` counts it.
    fn dropped(&self, req: &Request, rcode: ResponseCode, out: &mut Vec<u8>) -> Outcome {
        let outcome = finish_error(req, rcode, out);
        plugin_api::server::metrics::report_dropped(&self.server, req, rcode, out.len());
        outcome
    }
}

fn log_panic(server: &str, panic: &(dyn std::any::Any + Send)) {
    plugin_api::server::metrics::PANICS.inc();
    let what = panic_message(panic);
    tracing::error!("Recovered from panic in server: {server:?} {what}");
}

/// A panic's message, if it carries one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// Where the label after the first dot at or after `from` starts, if a label (not just the
/// root) follows. Bytes, not a `char` search: see `plugin_api::pkg::zone::split_dots`.
fn next_label(name: &str, from: usize) -> Option<usize> {
    let dot = from + name.as_bytes()[from..].iter().position(|&b| b == b'.')?;
    (dot + 1 < name.len()).then_some(dot + 1)
}

/// [`finish`], then counts the query in the zone's metrics, if it has them.
fn finish_counted(
    result: ServeResult,
    req: &Request,
    metrics: Option<&ZoneMetrics>,
    start: Instant,
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(metrics) = metrics else { return finish(result, req, out) };
    let (rcode, by) = match &result {
        Ok(Reply::Message { msg, by }) => (msg.metadata.response_code, *by),
        Ok(Reply::Wire { wire, by }) => (wire.rcode(), *by),
        Ok(Reply::Stream { msgs, by }) => {
            (msgs.first().map_or(ResponseCode::ServFail, |m| m.metadata.response_code), *by)
        }
        Ok(Reply::Rcode(rcode)) => (*rcode, ""),
        Ok(Reply::Drop) => (ResponseCode::NoError, ""),
        Err(e) => (e.rcode(), ""),
    };
    let outcome = finish(result, req, out);
    let size = if matches!(outcome, Outcome::Send | Outcome::SendFrames) { out.len() } else { 0 };
    metrics.report(req, rcode, by, size, start);
    outcome
}

/// Turns the chain's result into bytes for the client.
fn finish(result: ServeResult, req: &Request, out: &mut Vec<u8>) -> Outcome {
    match result {
        Ok(Reply::Message { mut msg, .. }) => {
            wire::size_and_do(req, &mut msg);
            encode(&mut msg, req.size(), out)
        }
        Ok(Reply::Wire { wire, by }) => {
            if wire.as_bytes().len() + wire::opt_len_for(req) > usize::from(req.size()) {
                // Too big for the client: the usual path, which truncates record by record.
                return match wire.decode() {
                    Some(msg) => finish(Ok(Reply::Message { msg, by }), req, out),
                    None => finish_error(req, ResponseCode::ServFail, out),
                };
            }
            // The bytes sent last go back to this thread for the next reply to write into.
            plugin_api::server::recycle_buffer(std::mem::replace(out, wire.into_bytes()));
            wire::append_opt(out, req);
            Outcome::Send
        }
        Ok(Reply::Stream { msgs, by }) if req.proto() == Proto::Tcp && msgs.len() > 1 => {
            out.clear();
            let mut one = Vec::with_capacity(4096);
            for mut msg in msgs {
                wire::size_and_do(req, &mut msg);
                if !matches!(encode(&mut msg, u16::MAX, &mut one), Outcome::Send) {
                    return finish_error(req, ResponseCode::ServFail, out);
                }
                out.extend_from_slice(&(one.len() as u16).to_be_bytes());
                out.extend_from_slice(&one);
                one.clear();
            }
            let _ = by;
            Outcome::SendFrames
        }
        // Over UDP, or a stream of one: its first message alone.
        Ok(Reply::Stream { msgs, by }) => match msgs.into_iter().next() {
            Some(msg) => finish(Ok(Reply::Message { msg, by }), req, out),
            None => finish_error(req, ResponseCode::ServFail, out),
        },
        Ok(Reply::Rcode(rcode)) => finish_error(req, rcode, out),
        Ok(Reply::Drop) => Outcome::Drop,
        Err(e) => finish_error(req, e.rcode(), out),
    }
}

fn finish_error(req: &Request, rcode: ResponseCode, out: &mut Vec<u8>) -> Outcome {
    let mut reply = wire::error_reply(req, rcode);
    wire::size_and_do(req, &mut reply);
    encode(&mut reply, req.size(), out)
}

fn encode(msg: &mut Message, limit: u16, out: &mut Vec<u8>) -> Outcome {
    match wire::encode_fitting(msg, limit, out) {
        Ok(()) => Outcome::Send,
        Err(e) => {
            // A plugin built something that cannot be encoded: say SERVFAIL rather than nothing.
            tracing::error!("Failed to encode reply for {}: {e}", msg.metadata.id);
            let mut fallback =
                Message::error_msg(msg.metadata.id, msg.metadata.op_code, ResponseCode::ServFail);
            fallback.queries = std::mem::take(&mut msg.queries);
            match wire::encode_fitting(&mut fallback, limit, out) {
                Ok(()) => Outcome::Send,
                Err(_) => Outcome::Drop,
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// One [`Request`] per thread, refilled by each query that is answered at once: its message's
/// vectors, its name's string and the `Arc` around it are allocated once per thread, not once
/// per query. A request a plugin still holds (an answer that waits) is not taken back.
mod spare {
    use std::cell::{Cell, RefCell};
    use std::net::{Ipv4Addr, SocketAddr};
    use std::sync::Arc;

    use hickory_proto::op::Message;
    use plugin_api::{Proto, Request};

    thread_local! {
        static SPARE: Cell<Option<Arc<Request>>> = const { Cell::new(None) };
        /// Requests that finished waiting on this thread, for the next ones that wait.
        static RETURNED: RefCell<Vec<Arc<Request>>> = const { RefCell::new(Vec::new()) };
    }

    /// The most requests [`RETURNED`] keeps: as many misses as a worker's batch starts at once,
    /// and then some; a thread whose waits end but never start (a runtime thread) holds no more.
    const RETURNED_MAX: usize = 64;

    /// This thread's spare request, or one that finished waiting here, or a new one.
    pub(super) fn take() -> Arc<Request> {
        SPARE.take().or_else(|| RETURNED.with(|r| r.borrow_mut().pop())).unwrap_or_else(|| {
            let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
            Arc::new(Request::new(Message::query(), nowhere, nowhere, Proto::Udp, 0))
        })
    }

    /// Keeps a request whose wait ended, if nothing else holds it: a UDP worker's misses then
    /// reuse requests as its immediate answers reuse [`SPARE`].
    pub(super) fn give_back(req: Arc<Request>) {
        if Arc::strong_count(&req) == 1 && Arc::weak_count(&req) == 0 {
            RETURNED.with(|r| {
                let mut r = r.borrow_mut();
                if r.len() < RETURNED_MAX {
                    r.push(req);
                }
            });
        }
    }

    /// Keeps `req` as the spare, if nothing else holds it.
    pub(super) fn keep(req: Arc<Request>) {
        if Arc::strong_count(&req) == 1 && Arc::weak_count(&req) == 0 {
            SPARE.set(Some(req));
        }
    }
}
