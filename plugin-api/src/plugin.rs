//! The plugin contract: [`Plugin`], the [`Next`] plugins after it, and what serving returns.
//!
//! # The contract
//!
//! A server block's plugins form a chain in the fixed order of the server's directive table, not
//! in the order of the Corefile's lines. A query walks the chain from the front. Each plugin's
//! [`Plugin::serve`] does exactly one of these:
//!
//! * **answers**: returns `Ok(Reply::Message { .. })` with a complete reply. The server sends
//!   it after fitting it to the client (EDNS echoed, truncated to the client's buffer with TC set).
//!   The reply is not sent by the plugin itself, so plugins before it in the chain (*log*,
//!   *cache*, *loadbalance*, metrics) see it on the way back and may change it.
//! * **answers in wire form**: returns `Ok(Reply::Wire { .. })` with a [`WireReply`]: the
//!   complete reply already encoded, its id and question the query's, and no OPT record. Only
//!   *cache* does this, so that a hit is a copy of stored bytes. The server appends the OPT the
//!   client should get, and decodes it to truncate only if it does not fit. A plugin that looks
//!   inside replies decodes it ([`Reply::into_message`]); one that cannot handle it passes it on.
//! * **passes the query on**: returns what `next.run(ctx, req)` returns, possibly changed. When no
//!   plugin follows, `next.run` yields [`PluginError::no_next`] (SERVFAIL, "plugin/<name>: no next
//!   plugin found"), which is CoreDNS's `NextOrFailure`.
//! * **declines with an rcode**: returns `Ok(Reply::Rcode(code))`; nothing is written and the
//!   server answers with a bare reply carrying `code` (CoreDNS: SERVFAIL, REFUSED, FORMERR and
//!   NOTIMP returned without writing).
//! * **fails**: returns `Err(PluginError)`; the server answers with the error's rcode (SERVFAIL
//!   unless set otherwise) and the *errors* plugin logs the text. Errors are returned, not logged
//!   by the plugin that hit them.
//! * **drops**: returns `Ok(Reply::Drop)`; the client gets no answer (*acl*'s `drop`).
//!
//! A plugin that panics is answered SERVFAIL and counted in `coredns_panics_total`; the server
//! and its other queries carry on.
//!
//! # Serving without waiting
//!
//! [`Serve`] is either a finished result or a future. A plugin that answers from memory returns
//! [`Serve::Ready`] and costs no allocation and no task; only a plugin that has to wait (a
//! forwarder) returns [`Serve::Pending`]. Post-processing plugins use [`Serve::map`], which stays
//! synchronous when the rest of the chain was.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};

use crate::wire::WireReply;
use crate::{PluginError, Request};

/// The outcome of serving a query.
pub type ServeResult = Result<Reply, PluginError>;

/// A boxed future of a [`ServeResult`]. It owns what it uses (`'static`), so the server can run
/// it on a task of its own while it goes on receiving.
pub type BoxServe = Pin<Box<dyn Future<Output = ServeResult> + Send + 'static>>;

/// What a plugin hands back to the one before it.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete reply to send, and the name of the plugin that wrote it (the `plugin` label of
    /// `coredns_dns_responses_total`).
    Message {
        /// The reply.
        msg: Message,
        /// The plugin that wrote it.
        by: &'static str,
    },
    /// A complete reply already encoded (see the module docs), and the plugin that wrote it.
    Wire {
        /// The reply.
        wire: WireReply,
        /// The plugin that wrote it.
        by: &'static str,
    },
    /// Nothing written: the server answers with a bare reply carrying this rcode.
    Rcode(ResponseCode),
    /// Nothing is sent to the client at all.
    Drop,
}

impl Reply {
    /// A reply written by plugin `by`.
    pub fn message(msg: Message, by: &'static str) -> Self {
        Self::Message { msg, by }
    }

    /// The reply as a message and who wrote it, decoding a wire reply; `None` for a reply that
    /// was not written (an rcode, a drop) or wire bytes that do not decode.
    pub fn into_message(self) -> Option<(Message, &'static str)> {
        match self {
            Self::Message { msg, by } => Some((msg, by)),
            Self::Wire { wire, by } => Some((wire.decode()?, by)),
            Self::Rcode(_) | Self::Drop => None,
        }
    }
}

/// What [`reply_to_change`] found in a result.
pub enum ToChange {
    /// The reply as a message, decoded if it was wire, and who wrote it.
    Message(Message, &'static str),
    /// The result as it was: an error, an rcode, a drop, or wire bytes that do not decode.
    Unchanged(ServeResult),
}

/// A result's reply as a message to change, for plugins that change what later plugins answer:
/// a wire reply is decoded.
pub fn reply_to_change(result: ServeResult) -> ToChange {
    match result {
        Ok(Reply::Message { msg, by }) => ToChange::Message(msg, by),
        Ok(Reply::Wire { wire, by }) => match wire.decode() {
            Some(msg) => ToChange::Message(msg, by),
            None => ToChange::Unchanged(Ok(Reply::Wire { wire, by })),
        },
        other => ToChange::Unchanged(other),
    }
}

/// A served query's result, now or later.
pub enum Serve {
    /// The result is known without waiting.
    Ready(ServeResult),
    /// The result needs waiting for (I/O, a timer).
    Pending(BoxServe),
}

impl Serve {
    /// Boxes a future; for plugins that must wait. The future owns what it uses: clone the
    /// `Arc<Request>`, the `Ctx` and the plugin's own shared state into it.
    pub fn pending(fut: impl Future<Output = ServeResult> + Send + 'static) -> Self {
        Self::Pending(Box::pin(fut))
    }

    /// Applies `f` to the result: at once if it is ready, else after the future finishes.
    pub fn map<F>(self, f: F) -> Self
    where
        F: FnOnce(ServeResult) -> ServeResult + Send + 'static,
    {
        match self {
            Self::Ready(r) => Self::Ready(f(r)),
            Self::Pending(fut) => Self::pending(async move { f(fut.await) }),
        }
    }

    /// Waits for the result.
    pub async fn resolve(self) -> ServeResult {
        match self {
            Self::Ready(r) => r,
            Self::Pending(fut) => fut.await,
        }
    }

    /// True if no waiting is needed.
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }
}

impl From<ServeResult> for Serve {
    fn from(r: ServeResult) -> Self {
        Self::Ready(r)
    }
}

/// Per-query facts from the server that are not in the message.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The listener, as CoreDNS's `server` metric label writes it: `dns://:53`.
    pub server: Arc<str>,
    /// The server block zone that matched the query, e.g. `cluster.local.`.
    pub zone: Arc<str>,
    /// 0 for a client's query; one more for each nested [`crate::upstream`] lookup.
    pub depth: u8,
}

/// One enabled directive in a server block's chain.
pub trait Plugin: Send + Sync + 'static {
    /// The directive's name, e.g. `whoami`: used in errors, logs and metric labels.
    fn name(&self) -> &'static str;

    /// Serves `req`: answer, pass on through `next`, decline, fail or drop (see the module docs).
    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve;

    /// Whether the plugin is ready to serve, for `/ready`: `None` if it has no notion of
    /// readiness (most plugins), `Some(false)` while it is still starting (kubernetes before its
    /// first sync).
    fn ready(&self) -> Option<bool> {
        None
    }
}

/// The plugins of one server block, in chain order.
pub type Chain = Arc<[Arc<dyn Plugin>]>;

/// The rest of the chain after the plugin being served. It borrows the chain, so passing it on is
/// free; a plugin that must call the rest of the chain after waiting takes [`Next::to_owned`].
#[derive(Clone, Copy)]
pub struct Next<'a> {
    caller: &'static str,
    chain: &'a Chain,
    pos: usize,
}

impl<'a> Next<'a> {
    /// The plugins of `chain` from index `pos` on, entered from the plugin named `caller`
    /// (`""` for the server itself).
    pub fn new(caller: &'static str, chain: &'a Chain, pos: usize) -> Self {
        Self { caller, chain, pos }
    }

    /// Serves `req` with the next plugin, or fails with `no next plugin found`.
    pub fn run(self, ctx: &Ctx, req: &Arc<Request>) -> Serve {
        match self.chain.get(self.pos) {
            Some(first) => first.serve(ctx, req, Next::new(first.name(), self.chain, self.pos + 1)),
            None => Serve::Ready(Err(PluginError::no_next(self.caller))),
        }
    }

    /// True if no plugin follows.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.chain.len()
    }

    /// The plugins that follow, in order.
    pub fn plugins(&self) -> &'a [Arc<dyn Plugin>] {
        self.chain.get(self.pos..).unwrap_or(&[])
    }

    /// An owned handle on the rest of the chain, for use after waiting.
    pub fn to_owned(self) -> OwnedNext {
        OwnedNext { caller: self.caller, chain: self.chain.clone(), pos: self.pos }
    }
}

/// [`Next`] that owns its chain, to move into a future.
#[derive(Clone)]
pub struct OwnedNext {
    caller: &'static str,
    chain: Chain,
    pos: usize,
}

impl OwnedNext {
    /// The borrowed form, to run.
    pub fn as_next(&self) -> Next<'_> {
        Next::new(self.caller, &self.chain, self.pos)
    }
}
