//! [`Request`]: one decoded query and where it came from, with the accessors CoreDNS's
//! `request.Request` gives its plugins.
//!
//! The server builds a `Request` only for a message that passed its checks: exactly one question,
//! a query or notify opcode, at most two additional records. Each accessor still says what it
//! returns when something is missing, so a plugin never has to guess.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

mod name;
#[cfg(test)]
mod tests;

pub use name::lower_name;
pub(crate) use name::uncompressed_question_len;
use name::{MAX_TEXT, lower_name_into, lower_plain_name};

/// The transport a query arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// UDP: replies are cut to the client's buffer size.
    Udp,
    /// TCP: replies may be up to 65535 octets.
    Tcp,
}

impl Proto {
    /// `udp` or `tcp`, as in CoreDNS's logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// A query being served.
#[derive(Debug, Clone)]
pub struct Request {
    /// The header, EDNS and additional records. Its question is taken out into the fields below
    /// (an uncompressed question is not decoded into it, see
    /// [`uncompressed_question_len`]).
    msg: Message,
    /// The question as hickory's `Query`, built from the fields below the first time a plugin
    /// asks: answers written in wire form never need it, and decoding it was a large share of a
    /// cluster query's instructions, with an allocation for long names (bench/README.md).
    question: OnceLock<Query>,
    qtype: RecordType,
    qclass: DNSClass,
    /// The address a reverse name stands for, read once by `bind`: *hosts* and *kubernetes*
    /// both answer PTR queries, and a cluster's chain runs both. Read there rather than on
    /// first use through a `OnceLock`, whose first `get_or_init` takes two atomic
    /// read-modify-writes in every query that asks.
    reverse_addr: Option<IpAddr>,
    /// The question name lower-cased in presentation form, computed once because every zone
    /// match and every plugin needs it.
    name: String,
    /// The question name in wire form as the client sent it (uncompressed, case kept), for
    /// replies that copy the question; empty without a question.
    qname_wire: Vec<u8>,
    /// True if `qname_wire` has no upper-case letters.
    qname_is_lower: bool,
    src: SocketAddr,
    local: SocketAddr,
    proto: Proto,
    wire_len: usize,
    received: Instant,
    /// The EDNS buffer size a plugin capped the client's at (*bufsize*); 0 for none.
    payload_cap: PayloadCap,
    /// The metadata the block's providers published before the chain ran (*metadata*); empty
    /// in blocks without it.
    meta: crate::Meta,
}

/// An EDNS buffer size cap set through a shared request (CoreDNS's *bufsize* sets it in the
/// query, which every later reader sees). A relaxed atomic: it is set before the plugins after
/// it run, on the same thread or before the request is handed on.
#[derive(Debug, Default)]
struct PayloadCap(AtomicU16);

impl Clone for PayloadCap {
    fn clone(&self) -> Self {
        Self(AtomicU16::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Request {
    /// Wraps a decoded query. `src` is the client, `local` the address it reached, `wire_len` the
    /// size of the message as received. IPv4 clients seen through a dual-stack socket are
    /// reported as IPv4, as Go reports them.
    pub fn new(
        msg: Message,
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        wire_len: usize,
    ) -> Self {
        let (name, qname_wire) = (String::with_capacity(64), Vec::with_capacity(64));
        let received = Instant::now();
        let mut req = Self {
            msg,
            question: OnceLock::new(),
            qtype: RecordType::Unknown(0),
            qclass: DNSClass::IN,
            reverse_addr: None,
            name,
            qname_wire,
            qname_is_lower: true,
            src,
            local,
            proto,
            wire_len,
            received,
            payload_cap: PayloadCap::default(),
            meta: crate::Meta::default(),
        };
        req.bind(None, src, local, proto, wire_len, received);
        req
    }

    /// The message, to decode the next query into, reusing its buffers: the server keeps one
    /// `Request` per thread for the queries answered at once, so that they allocate nothing.
    /// Call [`Request::rebind`] after changing it. A decoder may leave the question out of the
    /// message when [`uncompressed_question_len`] measures it: the request then reads it from
    /// the bytes.
    pub(crate) fn message_mut(&mut self) -> &mut Message {
        &mut self.msg
    }

    /// Says where and when the message (as [`Request::message_mut`] left it, decoded from
    /// `wire`) came from, and reads the question again into the buffers it already has.
    pub(crate) fn rebind(
        &mut self,
        wire: &[u8],
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        received: Instant,
    ) {
        self.bind(wire.get(12..), src, local, proto, wire.len(), received);
    }

    /// Reads the question again into the buffers the request has: from the message if the
    /// decoder put it there, else from `question` (the bytes after the header).
    fn bind(
        &mut self,
        question: Option<&[u8]>,
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        wire_len: usize,
        received: Instant,
    ) {
        self.name.clear();
        self.qname_wire.clear();
        self.question = OnceLock::new();
        match self.msg.queries.pop() {
            // A question the decoder could not leave to us (compressed): hickory's name.
            Some(q) => {
                self.msg.queries.clear();
                self.bind_decoded(q);
            }
            // A question left in the bytes, after the 12-octet header.
            None => match question.and_then(|q| self.bind_plain(q)) {
                Some(()) => {}
                // Only a caller that decoded no question and gave no bytes gets here.
                None => {
                    (self.qtype, self.qclass) = (RecordType::Unknown(0), DNSClass::IN);
                    self.name.push('.');
                }
            },
        }
        // Only names under `arpa.` can be reverse names: the others pay one comparison.
        self.reverse_addr = if self.name.ends_with("arpa.") {
            crate::pkg::zone::addr_from_reverse(&self.name)
        } else {
            None
        };
        self.src = SocketAddr::new(src.ip().to_canonical(), src.port());
        self.payload_cap.0.store(0, Ordering::Relaxed);
        self.meta.clear();
        (self.local, self.proto, self.wire_len, self.received) = (local, proto, wire_len, received);
    }

    /// The question at the start of `question` (the bytes after the header), which a decoder
    /// that left it out of the message has measured: read in one pass over its bytes if plain,
    /// else by hickory, which escapes what needs it. `None` if it is not there at all.
    fn bind_plain(&mut self, question: &[u8]) -> Option<()> {
        let len = uncompressed_question_len(question)?;
        let (wire, fixed) = (&question[..len], &question[len..len + 4]);
        let mut text = [0; MAX_TEXT];
        let Some((text_len, is_lower)) = lower_plain_name(wire, &mut text) else {
            // Uncompressed and at most 255 octets: hickory reads it from where it starts.
            let q = Query::read(&mut BinDecoder::new(question)).ok()?;
            self.bind_decoded(q);
            return Some(());
        };
        // Only ASCII was written: this cannot fail, and checking is a fraction of the reading.
        self.name.push_str(std::str::from_utf8(&text[..text_len]).ok()?);
        self.qname_wire.extend_from_slice(wire);
        self.qname_is_lower = is_lower;
        self.qtype = RecordType::from(u16::from_be_bytes([fixed[0], fixed[1]]));
        self.qclass = DNSClass::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        Some(())
    }

    fn bind_decoded(&mut self, q: Query) {
        lower_name_into(q.name(), &mut self.name);
        self.qname_is_lower = true;
        for label in q.name().iter() {
            self.qname_wire.push(label.len() as u8);
            self.qname_wire.extend_from_slice(label);
            self.qname_is_lower &= !label.iter().any(u8::is_ascii_uppercase);
        }
        self.qname_wire.push(0);
        (self.qtype, self.qclass) = (q.query_type(), q.query_class());
        // Set on a cell just emptied: this cannot find it full.
        let _ = self.question.set(q);
    }

    /// When the server read the query: for UDP on Linux, when the batch it came in was read,
    /// since one clock reading dates the whole batch. Plugins that time it (*log*) start here
    /// rather than read the clock again: at a few hundred thousand queries a second, a clock read
    /// per query is a measurable share of a core.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// The query's header fields.
    pub fn metadata(&self) -> &Metadata {
        &self.msg.metadata
    }

    /// The query's EDNS record, if it has one.
    pub fn edns(&self) -> Option<&Edns> {
        self.msg.edns.as_ref()
    }

    /// The query as a whole message, question included, to send on (*forward*): a copy, its
    /// EDNS buffer size capped as [`Request::cap_payload`] says.
    pub fn to_message(&self) -> Message {
        let mut msg = self.msg.clone();
        msg.queries.extend(self.question().cloned());
        if let (Some(edns), Some(size)) = (msg.edns.as_mut(), self.max_payload()) {
            edns.set_max_payload(size);
        }
        msg
    }

    /// Writes the query as [`Request::to_message`] would encode it, straight into `out` (cleared
    /// first): the header, the question as the client sent it, and an OPT record without
    /// options. *forward* sends a query this way without copying and encoding a message.
    /// False, with `out` left to the caller, for anything else (answer, authority or
    /// additional records, EDNS options, a signature, an extended rcode); then use
    /// `to_message`.
    pub fn write_query(&self, out: &mut Vec<u8>) -> bool {
        let m = &self.msg;
        let edns = m.edns.as_ref();
        let plain = m.answers.is_empty()
            && m.authorities.is_empty()
            && m.additionals.is_empty()
            && m.signature.is_none()
            && !self.qname_wire.is_empty()
            && u16::from(m.metadata.response_code) <= 0x0f
            && edns.is_none_or(|e| e.options().options.is_empty());
        if !plain {
            return false;
        }
        let h = &m.metadata;
        let flags_hi = u8::from(h.message_type == MessageType::Response) << 7
            | (u8::from(h.op_code) & 0x0f) << 3
            | u8::from(h.authoritative) << 2
            | u8::from(h.truncation) << 1
            | u8::from(h.recursion_desired);
        let flags_lo = u8::from(h.recursion_available) << 7
            | u8::from(h.authentic_data) << 5
            | u8::from(h.checking_disabled) << 4
            | (u16::from(h.response_code) & 0x0f) as u8;
        out.clear();
        out.extend_from_slice(&h.id.to_be_bytes());
        out.extend_from_slice(&[flags_hi, flags_lo, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
        out.extend_from_slice(&self.qname_wire);
        out.extend_from_slice(&u16::from(self.qtype).to_be_bytes());
        out.extend_from_slice(&u16::from(self.qclass).to_be_bytes());
        if let Some(e) = edns {
            // As `to_message` sets it: RFC 6891's floor of 512.
            let size = self.max_payload().unwrap_or_else(|| e.max_payload()).max(512);
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(&[0, e.version()]);
            out.extend_from_slice(&u16::from(*e.flags()).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        true
    }

    /// Makes `into` a copy of this query, reusing its buffers (see
    /// [`Request::rewritten_into`]), for a plugin that changes a copy's header
    /// ([`Request::metadata_mut`]) for the plugins after it (*header*). False, leaving `into`
    /// unchanged, if the query has no question.
    pub fn copy_into(&self, into: &mut Self) -> bool {
        let mut question = [0u8; 255 + 4];
        let name = self.qname_wire();
        let Some(room) = question.get_mut(..name.len() + 4) else { return false };
        room[..name.len()].copy_from_slice(name);
        room[name.len()..name.len() + 2].copy_from_slice(&u16::from(self.qtype).to_be_bytes());
        room[name.len() + 2..].copy_from_slice(&u16::from(self.qclass).to_be_bytes());
        !name.is_empty() && self.rewritten_into(into, room)
    }

    /// The metadata published for this query ([`crate::metadata`]): empty unless the block
    /// uses *metadata* and a plugin of it provides some.
    pub fn meta(&self) -> &crate::Meta {
        &self.meta
    }

    /// The metadata, to fill: for the server, which collects it before the chain runs, and for
    /// tests.
    pub fn meta_mut(&mut self) -> &mut crate::Meta {
        &mut self.meta
    }

    /// The header's flags, opcode and rcode, to change in a request the plugin owns (a copy
    /// made with [`Request::copy_into`] or [`Request::rewritten_into`]).
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.msg.metadata
    }

    /// Caps the client's EDNS buffer size at `size` for everything that reads it after
    /// (CoreDNS's *bufsize*, which lowers it in the query): [`Request::size`],
    /// [`Request::max_payload`], the reply's OPT and the copy [`Request::to_message`] makes.
    /// Nothing changes without EDNS, or when the client asked for no more than `size`.
    pub fn cap_payload(&self, size: u16) {
        if self.msg.edns.as_ref().is_some_and(|e| e.max_payload() > size) {
            self.payload_cap.0.store(size, Ordering::Relaxed);
        }
    }

    /// The client's EDNS buffer size, as capped ([`Request::cap_payload`]); `None` without
    /// EDNS.
    pub fn max_payload(&self) -> Option<u16> {
        let asked = self.msg.edns.as_ref()?.max_payload();
        match self.payload_cap.0.load(Ordering::Relaxed) {
            0 => Some(asked),
            cap => Some(asked.min(cap)),
        }
    }

    /// The query id.
    pub fn id(&self) -> u16 {
        self.msg.metadata.id
    }

    /// The question, if there is one: decoded into hickory's [`Query`] at the first call, whose
    /// `Name` allocates when the name has more than 32 octets of labels. Code on a query's path
    /// that needs only the name, type or class reads [`Request::name`],
    /// [`Request::qname_wire`], [`Request::qtype`] and [`Request::qclass`], which cost nothing.
    pub fn question(&self) -> Option<&Query> {
        // Every question leaves its wire form, the root's included (one zero octet).
        let has_question = !self.qname_wire.is_empty();
        has_question.then(|| self.question.get_or_init(|| self.decode_question()))
    }

    /// The question as hickory's `Query`, from the bytes `bind` kept.
    fn decode_question(&self) -> Query {
        // Bytes `lower_plain_name` accepted, so a valid uncompressed name.
        let name =
            Name::read(&mut BinDecoder::new(&self.qname_wire)).unwrap_or_else(|_| Name::root());
        let mut q = Query::query(name, self.qtype);
        q.set_query_class(self.qclass);
        q
    }

    /// The question name, lower-cased, fully qualified, in presentation form; `.` if there is no
    /// question.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address the question name stands for if it is a reverse name
    /// ([`addr_from_reverse`](crate::pkg::zone::addr_from_reverse)), read once per query.
    pub fn reverse_addr(&self) -> Option<IpAddr> {
        self.reverse_addr
    }

    /// The question name in wire form exactly as the client sent it (case kept, uncompressed);
    /// empty if there is no question.
    pub fn qname_wire(&self) -> &[u8] {
        &self.qname_wire
    }

    /// True if the question name as sent has no upper-case letters, so the lower-cased
    /// [`Request::name`] is also the name as asked.
    pub fn qname_is_lower(&self) -> bool {
        self.qname_is_lower
    }

    /// The question name exactly as the client sent it (case kept), the root if there is none.
    pub fn qname(&self) -> Name {
        self.question().map_or_else(Name::root, |q| q.name().clone())
    }

    /// The question type; `RecordType::Unknown(0)` if there is no question.
    pub fn qtype(&self) -> RecordType {
        self.qtype
    }

    /// The question class; `IN` if there is no question.
    pub fn qclass(&self) -> DNSClass {
        self.qclass
    }

    /// The client's address.
    pub fn src(&self) -> SocketAddr {
        self.src
    }

    /// The client's IP address.
    pub fn ip(&self) -> IpAddr {
        self.src.ip()
    }

    /// The client's port.
    pub fn port(&self) -> u16 {
        self.src.port()
    }

    /// The local address the query reached.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The transport.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// 1 for an IPv4 client, 2 for IPv6, as in CoreDNS's `family` label.
    pub fn family(&self) -> u8 {
        if self.src.is_ipv4() { 1 } else { 2 }
    }

    /// The largest reply the client accepts: 65535 over TCP; over UDP its EDNS buffer size, never
    /// less than 512, and 512 without EDNS.
    pub fn size(&self) -> u16 {
        match self.proto {
            Proto::Tcp => u16::MAX,
            Proto::Udp => self.max_payload().map_or(512, |size| size.max(512)),
        }
    }

    /// True if the client set the DNSSEC OK bit.
    pub fn dnssec_ok(&self) -> bool {
        self.msg.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
    }

    /// The size of the query as received, in octets.
    pub fn len(&self) -> usize {
        self.wire_len
    }

    /// True if the query was empty on the wire (never for a served query).
    pub fn is_empty(&self) -> bool {
        self.wire_len == 0
    }

    /// True if `reply` answers this query's question: same type and class, and the same name
    /// ignoring case. A reply that does not is not to be trusted or cached.
    pub fn answers(&self, reply: &Message) -> bool {
        match (self.question(), reply.queries.first()) {
            (Some(q), Some(r)) => {
                q.query_type() == r.query_type()
                    && q.query_class() == r.query_class()
                    && lower_name(r.name()) == self.name
            }
            _ => false,
        }
    }

    /// Makes `into` this query asking `question` instead: a name in uncompressed wire form (at
    /// most 255 octets), its type and class, as a question section holds them. The header,
    /// EDNS, addresses, transport and time stay this query's. `into`'s buffers are reused, so
    /// that a plugin keeping one spare request for the purpose (*rewrite*) allocates nothing
    /// for a query without EDNS options. False, leaving `into` unchanged, if `question` is not
    /// such a question.
    pub fn rewritten_into(&self, into: &mut Self, question: &[u8]) -> bool {
        if uncompressed_question_len(question).map(|len| len + 4) != Some(question.len()) {
            return false;
        }
        // Field by field, so that the (usually empty) sections reuse what `into` has.
        let (to, from) = (&mut into.msg, &self.msg);
        to.metadata = from.metadata;
        to.queries.clear();
        to.answers.clone_from(&from.answers);
        to.authorities.clone_from(&from.authorities);
        to.additionals.clone_from(&from.additionals);
        to.signature.clone_from(&from.signature);
        to.edns.clone_from(&from.edns);
        let (src, local, proto, len, received) =
            (self.src, self.local, self.proto, self.wire_len, self.received);
        into.bind(Some(question), src, local, proto, len, received);
        into.payload_cap = self.payload_cap.clone();
        // The metadata was collected for the query as asked, and goes with it (CoreDNS's
        // context does).
        into.meta.copy_from(&self.meta);
        true
    }

    /// A reply to this query with nothing in it yet: same id and opcode, QR set, RD and CD copied
    /// for a standard query, the first question echoed, NOERROR (miekg/dns `SetReply`).
    pub fn reply(&self) -> Message {
        let req = &self.msg.metadata;
        let mut m = Message::response(req.id, req.op_code);
        m.metadata.message_type = MessageType::Response;
        if req.op_code == OpCode::Query {
            m.metadata.recursion_desired = req.recursion_desired;
            m.metadata.checking_disabled = req.checking_disabled;
        }
        if let Some(q) = self.question() {
            m.add_query(q.clone());
        }
        m
    }
}
