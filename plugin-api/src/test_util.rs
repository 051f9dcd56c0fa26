//! Helpers for plugin tests (feature `test-util`): fixed client and server addresses, a way to
//! run a plugin or a chain on a query without a server, [`Case`] tables and record builders, the
//! counterparts of CoreDNS's `plugin/test` package.
//!
//! The client is always `10.240.0.1:40212` and the server `127.0.0.1:53`, as in CoreDNS's
//! `test.ResponseWriter`, so expected answers are stable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::{Chain, Ctx, Next, Plugin, Proto, Reply, Request, Serve, ServeResult};

/// The rest of a chain, for plugins that pass queries on: answers every query with an empty,
/// authoritative NOERROR written by `"rest"`, so a test can tell it passed from what the
/// plugin wrote itself.
pub struct Rest;

impl Plugin for Rest {
    fn name(&self) -> &'static str {
        "rest"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        Serve::Ready(Ok(Reply::message(empty_answer(req), "rest")))
    }
}

/// The two forms a written reply comes in (see [`crate::plugin`]): a post-processor's tests run
/// over [`Form::BOTH`], since *hosts*, *kubernetes* and cache hits answer in wire form and most
/// other plugins with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Reply::Message`.
    Message,
    /// `Reply::Wire`, encoded as a plugin that writes wire bytes would: no OPT record.
    Wire,
}

impl Form {
    /// Both forms, for a test to loop over.
    pub const BOTH: [Self; 2] = [Self::Message, Self::Wire];

    /// `msg`, written by `by`, in this form. A wire reply loses the message's OPT record, which
    /// wire replies never carry (the server appends the client's).
    pub fn reply(self, mut msg: Message, by: &'static str) -> Reply {
        match self {
            Self::Message => Reply::message(msg, by),
            Self::Wire => {
                msg.edns = None;
                let bytes = msg.to_vec().expect("the reply encodes");
                let wire =
                    crate::pkg::wire::WireReply::new(bytes).expect("an encoded reply has a header");
                Reply::Wire { wire, by }
            }
        }
    }
}

/// The rest of a chain that answers with the reply `build` makes from the query, in `form`,
/// and counts the queries it was asked: the stand-in for what follows a plugin that reads or
/// changes later plugins' replies. The writer is `"answers"`.
pub struct Answers {
    build: fn(&Request) -> Message,
    form: Form,
    calls: AtomicUsize,
}

impl Answers {
    /// Answers every query with `build`'s reply in `form`.
    pub fn new(build: fn(&Request) -> Message, form: Form) -> Self {
        Self { build, form, calls: AtomicUsize::new(0) }
    }

    /// How many queries reached it.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Plugin for Answers {
    fn name(&self) -> &'static str {
        "answers"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Serve::Ready(Ok(self.form.reply((self.build)(req), "answers")))
    }
}

/// The reply [`Rest`] writes, for [`Answers`]: an empty authoritative NOERROR.
pub fn empty_answer(req: &Request) -> Message {
    let mut msg = req.reply();
    msg.metadata.authoritative = true;
    msg
}

/// The client address every test request comes from.
pub const CLIENT: &str = "10.240.0.1:40212";
/// The server address every test request reaches.
pub const SERVER: &str = "127.0.0.1:53";

/// A query for `qname`/`qtype` with RD set, over UDP from [`CLIENT`].
pub fn request(qname: &str, qtype: RecordType) -> Request {
    request_with(qname, qtype, Proto::Udp, CLIENT.parse().expect("valid"), None)
}

/// A query for `qname`/`qtype` over `proto` from `src`, with an EDNS buffer size if given.
pub fn request_with(
    qname: &str,
    qtype: RecordType,
    proto: Proto,
    src: SocketAddr,
    edns_size: Option<u16>,
) -> Request {
    let mut msg = Message::query();
    msg.metadata.id = 4242;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(qname).expect("valid test name"), qtype));
    if let Some(size) = edns_size {
        let mut edns = Edns::new();
        edns.set_max_payload(size);
        msg.set_edns(edns);
    }
    let len = msg.to_vec().map_or(0, |v| v.len());
    Request::new(msg, src, SERVER.parse().expect("valid"), proto, len)
}

/// The context a test query is served in: server `dns://:53`, zone `.`.
pub fn ctx() -> Ctx {
    Ctx { server: Arc::from("dns://:53"), zone: Arc::from("."), depth: 0 }
}

/// Serves `req` with the plugins of `chain` in order, waiting if it has to.
pub fn serve(chain: Vec<Arc<dyn Plugin>>, req: Request) -> ServeResult {
    let chain: Chain = chain.into();
    let req = Arc::new(req);
    futures::executor::block_on(Next::new("", &chain, 0).run(&ctx(), &req).resolve())
}

/// Serves `req` with `plugin` in front of [`Answers`] writing `build`'s reply in `form`: how a
/// post-processor's tests run, once for each form of [`Form::BOTH`].
pub fn serve_before(
    plugin: Arc<dyn Plugin>,
    build: fn(&Request) -> Message,
    form: Form,
    req: Request,
) -> ServeResult {
    serve(vec![plugin, Arc::new(Answers::new(build, form))], req)
}

/// The reply message of a result in either form ([`Reply::into_message`]), panicking with a
/// useful message if there is none.
pub fn reply_message(result: ServeResult) -> Message {
    match result.map(Reply::into_message) {
        Ok(Ok((msg, _))) => msg,
        other => panic!("expected a reply message, got {other:?}"),
    }
}

/// Builds a record from its presentation form, e.g. `example.org. 3600 IN A 1.2.3.4`.
pub fn rr(text: &str) -> Record {
    let mut parts = text.split_whitespace();
    let name = Name::from_ascii(parts.next().expect("owner")).expect("owner name");
    let ttl: u32 = parts.next().expect("ttl").parse().expect("ttl number");
    let class = DNSClass::from_str(parts.next().expect("class")).expect("class");
    let rtype = RecordType::from_str(parts.next().expect("type")).expect("type");
    let rest: Vec<&str> = parts.collect();
    let rdata = RData::try_from_str(rtype, &rest.join(" ")).expect("rdata");
    let mut record = Record::from_rdata(name, ttl, rdata);
    record.dns_class = class;
    record
}

/// One query and the reply expected for it (CoreDNS's `test.Case`).
#[derive(Debug, Clone)]
pub struct Case {
    /// The question name.
    pub qname: &'static str,
    /// The question type.
    pub qtype: RecordType,
    /// The expected rcode.
    pub rcode: ResponseCode,
    /// The expected answer section, in any order.
    pub answer: Vec<Record>,
    /// The expected authority section, in any order.
    pub ns: Vec<Record>,
    /// The expected additional section (without OPT), in any order.
    pub extra: Vec<Record>,
}

impl Case {
    /// A case expecting `rcode` and empty sections; fill the sections with struct update syntax.
    pub fn new(qname: &'static str, qtype: RecordType, rcode: ResponseCode) -> Self {
        Self { qname, qtype, rcode, answer: Vec::new(), ns: Vec::new(), extra: Vec::new() }
    }

    /// The query of this case.
    pub fn request(&self) -> Request {
        request(self.qname, self.qtype)
    }
}

/// Checks `msg` against `case`: rcode, then each section compared as sorted presentation text
/// (owner, TTL, class, type and data all count). Panics with both sides on a mismatch.
pub fn assert_case(case: &Case, msg: &Message) {
    assert_eq!(msg.metadata.response_code, case.rcode, "rcode for {} {}", case.qname, case.qtype);
    let text = |records: &[Record]| {
        let mut v: Vec<String> = records.iter().map(ToString::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(text(&msg.answers), text(&case.answer), "answer for {} {}", case.qname, case.qtype);
    assert_eq!(text(&msg.authorities), text(&case.ns), "authority for {}", case.qname);
    assert_eq!(text(&msg.additionals), text(&case.extra), "additional for {}", case.qname);
}

/// A folder of one test's own under the system's temporary folder, for the files a plugin
/// reads (zone files, hosts files, manifests): made empty, removed when dropped, so a failed
/// test leaves nothing behind for the next run to trip over.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `ferrodns-TAG-PID-N`: the tag names the test, the process id keeps apart two runs of the
    /// same tests at once, and the count two folders of one process made with the same tag
    /// (tests run in parallel; one removing the other's folder would fail it at random).
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ferrodns-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where `name` is (or would be) in the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` to `name` in the folder, making the folders on the way; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
