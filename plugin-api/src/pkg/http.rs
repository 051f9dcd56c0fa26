//! HTTP endpoints plugins ask for (`/metrics`, `/health`, `/ready`), served by the server.
//!
//! A plugin does not run an HTTP server of its own: it asks its [`crate::Controller`]
//! for a route at an address, and the server binds each address once, keeps it open across
//! reloads, and routes requests by path. Several blocks, and several plugins, may share one
//! address.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{ConfigError, Controller};

/// A reply to an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A `text/plain` reply.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: body.into().into_bytes() }
    }
}

/// Answers a request for one path.
pub type HttpHandler = Arc<dyn Fn() -> HttpResponse + Send + Sync>;

/// A path at an address, and what answers it.
#[derive(Clone)]
pub struct HttpRoute {
    /// The listen address as the Corefile writes it: `:8080`, `localhost:9153`, `[::1]:8181`.
    pub addr: String,
    /// The path, e.g. `/health`.
    pub path: &'static str,
    /// The plugin that asked for it, for error messages.
    pub owner: &'static str,
    /// What answers.
    pub handler: HttpHandler,
}

/// Reads the rest of an HTTP directive's line (*health*, *ready*, *prometheus*): nothing, or one
/// listen address, which replaces `addr` once [`check_listen_addr`] accepts it.
pub fn listen_addr_arg(c: &mut Controller, addr: &mut String) -> Result<(), ConfigError> {
    match c.remaining_args().as_slice() {
        [] => Ok(()),
        [a] => {
            check_listen_addr(a).map_err(|e| c.err(e))?;
            addr.clone_from(a);
            Ok(())
        }
        _ => Err(c.arg_err()),
    }
}

/// Checks a listen address the way Go's `net.SplitHostPort` does, with its words:
/// `HOST:PORT`, `:PORT`, `[IPv6]:PORT`.
pub fn check_listen_addr(addr: &str) -> Result<(), String> {
    let Some((host, _port)) = addr.rsplit_once(':') else {
        return Err(format!("address {addr}: missing port in address"));
    };
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!("address {addr}: too many colons in address"));
    }
    Ok(())
}

/// Set once the process has been told to stop, before the shutdown hooks run: `/ready` then
/// answers 503 so that endpoints are taken out of rotation while DNS is still served.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// True once a stop has begun.
pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::Acquire)
}

/// Marks that a stop has begun (the server calls this on SIGTERM and SIGINT).
pub(crate) fn set_shutting_down() {
    SHUTTING_DOWN.store(true, Ordering::Release);
}
