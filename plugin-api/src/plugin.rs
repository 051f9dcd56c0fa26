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
//!   complete reply already encoded, its id and question the query's, and no OPT record. *cache*
//!   hits (a copy of stored bytes), *hosts* and *kubernetes* answer this way, so that a query
//!   answered from memory builds no `Message`. The server appends the OPT the client should get,
//!   and decodes it to truncate only if it does not fit. A plugin after which replies pass reads
//!   both forms alike (see "Reading replies" below).
//! * **passes the query on**: returns what `next.run(ctx, req)` returns, possibly changed. When no
//!   plugin follows, `next.run` yields [`PluginError::no_next`] (SERVFAIL, `plugin/NAME: no next
//!   plugin found`), which is CoreDNS's `NextOrFailure`.
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
//! # Metadata
//!
//! In a block that uses *metadata*, the server asks each plugin whose
//! [`Plugin::provides_metadata`] is true to publish labels for the query
//! ([`Plugin::metadata`]) before the chain runs, for the names in *metadata*'s zones. Any plugin
//! reads them from [`Request::meta`] while serving. A provider must be quick, and publishes
//! nothing a query outside its own zones would not want.
//!
//! # Serving without waiting
//!
//! [`Serve`] is either a finished result or a future. A plugin that answers from memory returns
//! [`Serve::Ready`] and costs no allocation and no task; only a plugin that has to wait (a
//! forwarder) returns [`Serve::Pending`]. Post-processing plugins use [`Serve::map`], which stays
//! synchronous when the rest of the chain was, or [`Serve::map_with`] when the change needs the
//! plugin's shared state or the request: it clones them only for a result that is pending.
//!
//! # Reading replies
//!
//! A plugin that looks at what later plugins answered must read both written forms alike. Ask
//! the [`Reply`]: [`Reply::rcode`], [`Reply::response_type`], [`Reply::is_success`] and
//! [`Reply::is_denial`] read a wire reply in place; [`Reply::into_message`] (or
//! [`Reply::change`]) is the one way to a `Message`. Never match on `Reply::Message` alone to
//! decide what a reply is: the same answer comes as `Wire` from *hosts*, *kubernetes* and cache
//! hits. `test_util::Answers` serves both forms, so that every post-processor's tests cover
//! both.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};

use crate::pkg::response::{Class, Facts, Type, classify, type_of};
use crate::pkg::wire::WireReply;
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
    /// Several messages answering one query, sent in order over TCP: a zone transfer (RFC 5936
    /// §2.2). Over UDP only the first is sent; from a plugin that waits, only the first too.
    /// Plugins after the writer pass it on unchanged ([`Reply::into_message`] gives it back).
    Stream {
        /// The messages, the first carrying the question.
        msgs: Vec<Message>,
        /// The plugin that wrote them.
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

    /// The plugin that wrote the reply; `None` for an rcode or a drop.
    pub fn by(&self) -> Option<&'static str> {
        match self {
            Self::Message { by, .. } | Self::Wire { by, .. } | Self::Stream { by, .. } => Some(by),
            Self::Rcode(_) | Self::Drop => None,
        }
    }

    /// The rcode the client gets, read the same from both written forms (a wire reply's header
    /// is read in place); the declined rcode for [`Reply::Rcode`]; `None` for a drop, or wire
    /// bytes without a header.
    pub fn rcode(&self) -> Option<ResponseCode> {
        match self {
            Self::Message { msg, .. } => Some(msg.metadata.response_code),
            Self::Wire { wire, .. } => wire.metadata().map(|m| m.response_code),
            Self::Stream { msgs, .. } => msgs.first().map(|m| m.metadata.response_code),
            Self::Rcode(code) => Some(*code),
            Self::Drop => None,
        }
    }

    /// What kind of reply this is (CoreDNS's `response.Typify`), read the same from both
    /// written forms, without decoding a wire reply whose sections can be walked in place. A
    /// declined rcode is typed as the bare reply the server writes for it; a drop is `None`.
    pub fn response_type(&self) -> Option<Type> {
        let facts = match self {
            Self::Message { msg, .. } => Facts::of(msg),
            Self::Wire { wire, .. } => {
                wire.facts().or_else(|| wire.decode().as_ref().map(Facts::of))?
            }
            Self::Stream { msgs, .. } => Facts::of(msgs.first()?),
            Self::Rcode(code) => {
                let mut metadata = Metadata::new(0, MessageType::Response, OpCode::Query);
                metadata.response_code = *code;
                Facts { metadata, qtype: None, answers: 0, soa: false, ns: 0 }
            }
            Self::Drop => return None,
        };
        Some(type_of(Some(&facts)))
    }

    /// True for a positive answer or a referral (CoreDNS's `response.Success` class).
    pub fn is_success(&self) -> bool {
        self.response_type().is_some_and(|t| classify(t) == Class::Success)
    }

    /// True for NXDOMAIN or NODATA (CoreDNS's `response.Denial` class).
    pub fn is_denial(&self) -> bool {
        self.response_type().is_some_and(|t| classify(t) == Class::Denial)
    }

    /// The reply as a message to read or change, and who wrote it: the one converter between
    /// the two forms. A wire reply is decoded. An rcode, a drop, or wire bytes that do not
    /// decode come back unchanged as the error, to be passed on as they are.
    #[expect(
        clippy::result_large_err,
        reason = "the error is the reply handed back whole, as large as the message it is not"
    )]
    pub fn into_message(self) -> Result<(Message, &'static str), Self> {
        match self {
            Self::Message { msg, by } => Ok((msg, by)),
            Self::Wire { wire, by } => match wire.decode() {
                Some(msg) => Ok((msg, by)),
                None => Err(Self::Wire { wire, by }),
            },
            other => Err(other),
        }
    }

    /// Applies `change` to the reply as a message ([`Reply::into_message`]), keeping who wrote
    /// it; anything that is not a reply to change is returned as it was. For plugins that
    /// change every reply they see; one that can often leave a wire reply alone looks first
    /// ([`Reply::response_type`], the `WireReply` readers) and converts only when it must.
    pub fn change(self, change: impl FnOnce(&mut Message)) -> Self {
        match self.into_message() {
            Ok((mut msg, by)) => {
                change(&mut msg);
                Self::Message { msg, by }
            }
            Err(unchanged) => unchanged,
        }
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

    /// Applies `f` to the result with `state` and the request, cloning them only if the result
    /// is still pending: the combinator for post-processors (*log*, *errors*, *loadbalance*,
    /// *cache*). A query answered at once then costs no clone, no reference count that every
    /// thread touches, and no task. `f` should capture only what is `Copy`; what it shares goes
    /// in `state` (usually an `Arc` of the plugin's own data).
    pub fn map_with<S, F>(self, state: &S, req: &Arc<Request>, f: F) -> Self
    where
        S: Clone + Send + 'static,
        F: FnOnce(&S, &Request, ServeResult) -> ServeResult + Send + 'static,
    {
        match self {
            Self::Ready(r) => Self::Ready(f(state, req, r)),
            Self::Pending(fut) => {
                let (state, req) = (state.clone(), req.clone());
                Self::pending(async move {
                    let result = fut.await;
                    f(&state, &req, result)
                })
            }
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
    /// 0 for a client's query; one more for each nested [`crate::pkg::upstream`] lookup.
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

    /// True if [`Plugin::metadata`] publishes anything: the server asks only such plugins, and
    /// only in a block that uses *metadata*.
    fn provides_metadata(&self) -> bool {
        false
    }

    /// Publishes this plugin's metadata for `req` into `meta` (CoreDNS's `metadata.Provider`):
    /// labels named `<this plugin>/<name>`. Called before the chain runs, for every query in
    /// the *metadata* plugin's zones, so it must be quick; it may not answer or fail.
    fn metadata(&self, req: &Request, meta: &mut crate::Meta) {
        let _ = (req, meta);
    }

    /// True if the plugin gives search paths to *autopath* ([`Plugin::search_path`]; CoreDNS's
    /// `AutoPather`).
    fn provides_search_path(&self) -> bool {
        false
    }

    /// The search path of the client that sent `req`, fully qualified names ending with ""
    /// (the bare name), for *autopath* to walk; `None` for no autopathing of this query.
    fn search_path(&self, req: &Request) -> Option<Vec<String>> {
        let _ = req;
        None
    }

    /// The plugin's answers for *k8s_external*'s zones, if it has any (*kubernetes*).
    fn external_source(&self) -> Option<&dyn crate::pkg::external::ExternalSource> {
        None
    }

    /// Every record of `zone` (fully qualified, lower-case) for a zone transfer, its SOA first,
    /// if this plugin serves the zone (CoreDNS's `Transferer`, which *transfer* asks): *file*
    /// and *auto* give their zones. `None` otherwise.
    fn transfer_records(&self, zone: &str) -> Option<Vec<crate::proto::rr::Record>> {
        let _ = zone;
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::op::{Message, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use super::*;
    use crate::Proto;
    use crate::pkg::response::Type;

    fn request() -> Request {
        let mut msg = Message::query();
        msg.add_query(Query::query(Name::from_ascii("a.test.").unwrap(), RecordType::A));
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        Request::new(msg, addr, addr, Proto::Udp, 25)
    }

    fn answer(rcode: ResponseCode, a: bool, soa: bool) -> Message {
        let mut m = request().reply();
        m.metadata.response_code = rcode;
        let owner = Name::from_ascii("a.test.").unwrap();
        if a {
            m.add_answer(Record::from_rdata(owner.clone(), 30, RData::A(A::new(10, 0, 0, 1))));
        }
        if soa {
            let (mname, rname) = (Name::from_ascii("ns.test.").unwrap(), owner.clone());
            let soa = SOA::new(mname, rname, 1, 7200, 1800, 86400, 30);
            m.add_authority(Record::from_rdata(owner, 30, RData::SOA(soa)));
        }
        m
    }

    /// Both written forms of `msg`.
    fn both(msg: Message) -> [Reply; 2] {
        let wire = WireReply::new(msg.to_vec().unwrap()).unwrap();
        [Reply::message(msg, "m"), Reply::Wire { wire, by: "w" }]
    }

    /// The accessors read the same facts from a message and from its wire bytes; the values are
    /// written out, not computed by the code under test.
    #[test]
    fn accessors_read_both_forms_alike() {
        let cases = [
            (answer(ResponseCode::NoError, true, false), ResponseCode::NoError, Type::NoError),
            (answer(ResponseCode::NXDomain, false, true), ResponseCode::NXDomain, Type::NameError),
            (answer(ResponseCode::NoError, false, true), ResponseCode::NoError, Type::NoData),
            (
                answer(ResponseCode::ServFail, false, false),
                ResponseCode::ServFail,
                Type::ServerError,
            ),
            (answer(ResponseCode::Refused, false, false), ResponseCode::Refused, Type::OtherError),
        ];
        for (msg, rcode, kind) in cases {
            for reply in both(msg) {
                assert_eq!(reply.rcode(), Some(rcode), "{reply:?}");
                assert_eq!(reply.response_type(), Some(kind), "{reply:?}");
                assert_eq!(reply.is_success(), kind == Type::NoError, "{reply:?}");
                let denial = matches!(kind, Type::NameError | Type::NoData);
                assert_eq!(reply.is_denial(), denial, "{reply:?}");
            }
        }
        let declined = Reply::Rcode(ResponseCode::Refused);
        assert_eq!(declined.rcode(), Some(ResponseCode::Refused));
        assert_eq!(declined.response_type(), Some(Type::OtherError));
        assert_eq!(Reply::Rcode(ResponseCode::ServFail).response_type(), Some(Type::ServerError));
        assert_eq!((Reply::Drop.rcode(), Reply::Drop.response_type()), (None, None));
        assert!(!Reply::Drop.is_success() && !Reply::Drop.is_denial());
    }

    #[test]
    fn into_message_converts_written_replies_and_hands_back_the_rest() {
        for reply in both(answer(ResponseCode::NoError, true, false)) {
            let by = reply.by();
            let (msg, written_by) = reply.into_message().unwrap();
            assert_eq!((Some(written_by), msg.answers.len()), (by, 1));
        }
        // A header that promises a question and an answer, and nothing after it.
        let cut = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        let garbled = Reply::Wire { wire: WireReply::new(cut).unwrap(), by: "w" };
        assert!(matches!(garbled.into_message(), Err(Reply::Wire { by: "w", .. })));
        assert!(matches!(Reply::Drop.into_message(), Err(Reply::Drop)));
        let code = Reply::Rcode(ResponseCode::FormErr).into_message();
        assert!(matches!(code, Err(Reply::Rcode(ResponseCode::FormErr))));
    }

    #[test]
    fn change_turns_either_form_into_a_changed_message() {
        for reply in both(answer(ResponseCode::NoError, true, false)) {
            let by = reply.by();
            let changed = reply.change(|m| m.answers.clear());
            let Reply::Message { msg, by: written_by } = changed else { panic!("{changed:?}") };
            assert_eq!((msg.answers.len(), Some(written_by)), (0, by));
        }
        assert!(matches!(Reply::Drop.change(|_| unreachable!()), Reply::Drop));
    }

    /// The state and the request are cloned only when the result is pending.
    #[test]
    fn map_with_clones_only_for_pending_results() {
        let (state, req) = (Arc::new(7), Arc::new(request()));
        let ready = Serve::Ready(Ok(Reply::Drop)).map_with(&state, &req, |s, _, r| {
            assert_eq!(**s, 7);
            r
        });
        assert!(ready.is_ready());
        assert_eq!((Arc::strong_count(&state), Arc::strong_count(&req)), (1, 1), "no clone");
        let pending = Serve::pending(async { Ok(Reply::Rcode(ResponseCode::Refused)) }).map_with(
            &state,
            &req,
            |s, req, r| {
                assert_eq!((**s, req.name()), (7, "a.test."));
                r
            },
        );
        assert_eq!(Arc::strong_count(&state), 2, "a pending result takes the state along");
        let result = futures::executor::block_on(pending.resolve());
        assert!(matches!(result, Ok(Reply::Rcode(ResponseCode::Refused))));
        assert_eq!(Arc::strong_count(&state), 1);
    }
}
