//! The per-listener dispatcher: one packet in, what to send back out.
//!
//! [`Mux::serve_packet`] follows CoreDNS's `Server.ServeDNS` step by step: drop or reject what is
//! not a query, REFUSED for a class other than IN unless a block loads *chaos* or *forward*,
//! BADVERS for an EDNS version above 0, then the block whose zone is the longest suffix of the
//! query name (DS queries go to the parent's block when this server has it), `.` as the last
//! resort, REFUSED when nothing matches or the block has no plugins. The chain's reply is fitted
//! to the client; a panic inside the chain is answered SERVFAIL and counted.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use plugin_api::{Ctx, Next, Proto, Reply, Request, Serve, ServeResult};

use super::wire::{self, Decoded};
use crate::config::{Block, Listener};

/// Panics recovered while serving, for `coredns_panics_total`.
pub static PANICS: AtomicU64 = AtomicU64::new(0);

/// Where a zone's queries go.
struct Route {
    ctx: Ctx,
    block: Arc<Block>,
}

/// What to do with a packet.
pub enum Outcome {
    /// Send the bytes now in the output buffer.
    Send,
    /// Send nothing.
    Drop,
    /// A plugin has to wait: run this to get the bytes to send, if any.
    Wait(Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>>),
}

/// The zones of one listener and the blocks that serve them.
pub struct Mux {
    zones: HashMap<String, Route>,
    /// True if any block here loads a plugin that takes non-IN classes.
    any_class: bool,
    /// The `server` label: `dns://:53`.
    server: Arc<str>,
}

impl Mux {
    /// The dispatcher for `listener`.
    pub fn new(listener: &Listener) -> Self {
        let server: Arc<str> = Arc::from(listener.label());
        let zones = listener
            .zones
            .iter()
            .map(|(zone, block)| {
                let ctx = Ctx { server: server.clone(), zone: Arc::from(zone.as_str()) };
                (zone.clone(), Route { ctx, block: block.clone() })
            })
            .collect();
        let any_class = listener.zones.iter().any(|(_, b)| b.allows_any_class());
        Self { zones, any_class, server }
    }

    /// The `server` label of this listener.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Picks the route for `name` (lower-case, fully qualified), or `None` for REFUSED.
    fn route(&self, name: &str, qtype: RecordType) -> Option<&Route> {
        let mut ds_route = None;
        let mut offset = 0;
        loop {
            if let Some(route) = self.zones.get(&name[offset..]) {
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
            match name[offset..].find('.') {
                Some(dot) if offset + dot + 1 < name.len() => offset += dot + 1,
                _ => break,
            }
        }
        if ds_route.is_some() {
            return ds_route;
        }
        self.zones.get(".").filter(|r| !r.block.chain.is_empty())
    }

    /// Serves one packet from `src`. The reply, if any, is written to `out` (or produced by the
    /// returned future when a plugin has to wait).
    pub fn serve_packet(
        &self,
        packet: &[u8],
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let msg = match wire::decode(packet) {
            Decoded::Drop => return Outcome::Drop,
            Decoded::Reject(mut reply) => return encode(&mut reply, 512, out),
            Decoded::Query(msg) => msg,
        };
        let req = Request::new(msg, src, local, proto, packet.len());

        if req.qclass() != DNSClass::IN && !self.any_class {
            return finish_error(&req, ResponseCode::Refused, out);
        }
        if req.message().edns.as_ref().is_some_and(|e| e.version() > 0) {
            let mut reply = wire::badvers_reply(&req);
            return encode(&mut reply, req.size(), out);
        }
        let Some(route) = self.route(req.name(), req.qtype()) else {
            return finish_error(&req, ResponseCode::Refused, out);
        };

        let req = Arc::new(req);
        let chain = &route.block.chain;
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
            Next::new("", chain, 0).run(&route.ctx, &req)
        }));
        match served {
            Err(panic) => {
                self.recovered(&*panic);
                finish_error(&req, ResponseCode::ServFail, out)
            }
            Ok(Serve::Ready(result)) => finish(result, &req, out),
            Ok(Serve::Pending(fut)) => {
                let server = self.server.clone();
                Outcome::Wait(Box::pin(async move {
                    let result = match AssertUnwindSafe(fut).catch_unwind().await {
                        Ok(result) => result,
                        Err(panic) => {
                            log_panic(&server, &*panic);
                            Ok(Reply::Rcode(ResponseCode::ServFail))
                        }
                    };
                    let mut out = Vec::with_capacity(512);
                    match finish(result, &req, &mut out) {
                        Outcome::Send => Some(out),
                        _ => None,
                    }
                }))
            }
        }
    }

    fn recovered(&self, panic: &(dyn std::any::Any + Send)) {
        log_panic(&self.server, panic);
    }
}

fn log_panic(server: &str, panic: &(dyn std::any::Any + Send)) {
    PANICS.fetch_add(1, Ordering::Relaxed);
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    tracing::error!("Recovered from panic in server: {server:?} {what}");
}

/// Turns the chain's result into bytes for the client.
fn finish(result: ServeResult, req: &Request, out: &mut Vec<u8>) -> Outcome {
    match result {
        Ok(Reply::Message { mut msg, .. }) => {
            wire::size_and_do(req, &mut msg);
            encode(&mut msg, req.size(), out)
        }
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
