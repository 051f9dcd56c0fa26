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

    /// The question, if there is one.
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

/// The lower-cased presentation form of `name`, always ending in a dot.
///
/// Names made of letters, digits, `-` and `_` (nearly every query) are written byte by byte;
/// anything that may need escaping takes hickory's presentation code, the reference.
pub fn lower_name(name: &Name) -> String {
    let mut s = String::with_capacity(64);
    lower_name_into(name, &mut s);
    s
}

/// [`lower_name`], written into `s` (which must be empty) to reuse its room.
fn lower_name_into(name: &Name, s: &mut String) {
    // Room for the longest name once; the string is reused from query to query.
    s.reserve(256);
    for label in name.iter() {
        // One pass: a byte that may need escaping sends the whole name the reference way.
        for &b in label {
            let lower = PLAIN[usize::from(b)] as u8;
            if lower == 0 {
                s.clear();
                s.push_str(&lower_name_escaped(name));
                return;
            }
            s.push(char::from(lower));
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
}

/// For each byte: its lower-case form if it may stand unescaped in a plain name (letters,
/// digits, `-`, `_`), else 0, in the low octet; [`NOT_PLAIN`] and [`UPPER`] above it. One load
/// per byte, and one `or` to learn both facts of a whole label, in place of a dozen tests per
/// byte.
static PLAIN: [u16; 256] = {
    let mut table = [NOT_PLAIN; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            let upper = if c.is_ascii_uppercase() { UPPER } else { 0 };
            table[b] = c.to_ascii_lowercase() as u16 | upper;
        }
        b += 1;
    }
    table
};

/// In [`PLAIN`]: the byte must be escaped in presentation form.
const NOT_PLAIN: u16 = 1 << 8;
/// In [`PLAIN`]: the byte is an upper-case letter.
const UPPER: u16 = 1 << 9;

/// The length on the wire of the name at the start of `question` (a query's bytes after the
/// header) if it is uncompressed and at most 255 octets, with the question's type and class
/// after it: the question a decoder may leave out of the message for the [`Request`] to read
/// from the bytes. Only the length octets are read, one per label.
pub(crate) fn uncompressed_question_len(question: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        match *question.get(at)? {
            0 => break,
            // 64 and above: a compression pointer or an extended label type.
            size @ 1..=63 => at += usize::from(size) + 1,
            _ => return None,
        }
    }
    let len = at + 1;
    (len <= 255 && question.len() >= len + 4).then_some(len)
}

/// A name is at most 255 octets on the wire, so at most 254 in presentation form.
const MAX_TEXT: usize = 254;

/// `wire` (a name [`uncompressed_question_len`] measured) lower-cased in presentation form
/// into `text`, if it is plain (every label letters, digits, `-` and `_`): the length written
/// and whether it was lower-case already. Branch-free per byte, the bytes tested all at once:
/// names are read on every query.
fn lower_plain_name(wire: &[u8], text: &mut [u8; MAX_TEXT]) -> Option<(usize, bool)> {
    let (mut at, mut len, mut seen) = (0, 0, 0);
    loop {
        let size = usize::from(*wire.get(at)?);
        if size == 0 {
            break;
        }
        let label = wire.get(at + 1..at + 1 + size)?;
        let out = text.get_mut(len..len + size + 1)?;
        for (o, &b) in out.iter_mut().zip(label) {
            let entry = PLAIN[usize::from(b)];
            seen |= entry;
            *o = entry as u8;
        }
        out[size] = b'.';
        (at, len) = (at + size + 1, len + size + 1);
    }
    if len == 0 {
        (text[0], len) = (b'.', 1);
    }
    (seen & NOT_PLAIN == 0).then_some((len, seen & UPPER == 0))
}

/// `name` lower-cased in presentation form as miekg/dns writes it, and so as CoreDNS logs and
/// matches it: `. ( ) ; space @ ' " \` behind a backslash, other printable ASCII as it is, every
/// other byte as `\DDD` in decimal. (hickory writes a space as `\040`, in octal.)
fn lower_name_escaped(name: &Name) -> String {
    let mut s = String::with_capacity(64);
    for label in name.iter() {
        for &b in label {
            match b.to_ascii_lowercase() {
                c @ (b'.' | b'(' | b')' | b';' | b' ' | b'@' | b'"' | b'\'' | b'\\') => {
                    s.push('\\');
                    s.push(char::from(c));
                }
                c @ 0x21..=0x7e => s.push(char::from(c)),
                c => {
                    use std::fmt::Write;
                    let _ = write!(s, "\\{c:03}");
                }
            }
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_written_directly_is_the_message_encoded() {
        let src: SocketAddr = "10.0.0.9:5353".parse().unwrap();
        // (name, RD, CD, AD, EDNS as (size, DO, version), a *bufsize* cap)
        type Case = (&'static str, bool, bool, bool, Option<(u16, bool, u8)>, u16);
        let cases: [Case; 7] = [
            ("example.org.", true, false, false, None, 0),
            ("WwW.Example.ORG.", true, true, false, Some((1232, true, 0)), 0),
            ("a.b.c.d.e.f.example.", false, false, true, Some((4096, false, 0)), 0),
            ("example.org.", true, false, false, Some((4096, true, 0)), 700),
            ("example.org.", true, false, false, Some((600, false, 0)), 100),
            ("example.org.", true, true, true, Some((300, true, 1)), 0),
            (".", true, false, false, Some((1232, false, 0)), 0),
        ];
        for (name, rd, cd, ad, edns, cap) in cases {
            let mut msg = Message::query();
            msg.metadata.id = 4242;
            msg.metadata.recursion_desired = rd;
            msg.metadata.checking_disabled = cd;
            msg.metadata.authentic_data = ad;
            msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::AAAA));
            if let Some((size, dnssec_ok, version)) = edns {
                let mut e = Edns::new();
                e.set_max_payload(size);
                e.set_dnssec_ok(dnssec_ok);
                e.set_version(version);
                msg.edns = Some(e);
            }
            let bytes = msg.to_vec().unwrap();
            let req = Request::new(Message::from_vec(&bytes).unwrap(), src, src, Proto::Udp, 0);
            if cap > 0 {
                req.cap_payload(cap);
            }
            let mut out = vec![1, 2, 3];
            assert!(req.write_query(&mut out), "{name}");
            assert_eq!(out, req.to_message().to_vec().unwrap(), "{name} {edns:?} cap {cap}");
        }
        // EDNS options: left to the message.
        let mut msg = Message::query();
        msg.add_query(Query::query(Name::from_ascii("example.org.").unwrap(), RecordType::A));
        let mut e = Edns::new();
        e.options_mut().insert(crate::proto::rr::rdata::opt::EdnsOption::Unknown(10, vec![1; 8]));
        msg.edns = Some(e);
        let req = Request::new(msg, src, src, Proto::Udp, 0);
        assert!(!req.write_query(&mut Vec::new()));
    }

    #[test]
    fn a_rewritten_request_asks_the_new_question_and_keeps_the_rest() {
        let mut msg = Message::query();
        msg.metadata.id = 77;
        msg.add_query(Query::query(Name::from_ascii("Old.Example.").unwrap(), RecordType::A));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        msg.edns = Some(edns);
        let (src, local) =
            ("[::ffff:10.0.0.9]:5353".parse().unwrap(), "10.0.0.1:53".parse().unwrap());
        let mut req = Request::new(msg, src, local, Proto::Tcp, 40);
        req.meta_mut().set("kubernetes/namespace", "shop");
        let mut into = Request::new(Message::query(), local, local, Proto::Udp, 0);
        into.meta_mut().set("stale/label", "from an earlier query");
        let wire = b"\x01\x34\x01\x33\x01\x32\x02\x31\x30\x07in-addr\x04ARPA\x00";
        let question = [&wire[..], &[0, 12, 0, 3]].concat();
        assert!(req.rewritten_into(&mut into, &question));
        assert_eq!(into.name(), "4.3.2.10.in-addr.arpa.");
        assert_eq!(into.qname_wire(), wire);
        assert!(!into.qname_is_lower());
        assert_eq!(into.qname().to_ascii(), "4.3.2.10.in-addr.ARPA.");
        assert_eq!((into.qtype(), into.qclass()), (RecordType::PTR, DNSClass::CH));
        assert_eq!(into.reverse_addr(), Some("10.2.3.4".parse().unwrap()));
        assert_eq!(
            (into.id(), into.src(), into.local(), into.proto()),
            (77, req.src(), local, Proto::Tcp)
        );
        assert_eq!((into.len(), into.size()), (40, u16::MAX));
        assert_eq!(into.edns().map(Edns::max_payload), Some(1232));
        assert_eq!(into.src().ip().to_string(), "10.0.0.9");
        // The metadata goes with the query, and only this query's.
        let meta: Vec<_> = into.meta().iter().collect();
        assert_eq!(meta, [("kubernetes/namespace", "shop")]);
        // A compressed name, one without its root, and one too long are refused, leaving the
        // request as it was.
        let too_long = [
            &[63u8][..],
            &[b'a'; 63],
            &[63],
            &[b'a'; 63],
            &[63],
            &[b'a'; 63],
            &[63],
            &[b'a'; 63],
            &[0],
        ]
        .concat();
        for bad in [&b"\x01a\xc0\x0c"[..], b"\x01a", &too_long] {
            let question = [bad, &[0, 1, 0, 1]].concat();
            assert!(!req.rewritten_into(&mut into, &question));
            assert_eq!(into.name(), "4.3.2.10.in-addr.arpa.");
        }
    }

    #[test]
    fn lower_names_match_the_escaping_presentation_form() {
        // Expected forms written out: lower-cased, fully qualified, escaped as miekg/dns prints
        // names (`\.` and `\ ` for a dot and a space inside a label, `\DDD` in decimal for
        // bytes that are not printable).
        let names = [
            (".", "."),
            ("Example.ORG.", "example.org."),
            (
                "_http._tcp.Web-0.default.svc.cluster.local.",
                "_http._tcp.web-0.default.svc.cluster.local.",
            ),
            ("*.wild.test.", "*.wild.test."),
            ("a\\.b.example.", "a\\.b.example."),
            ("xn--bcher-kva.example.", "xn--bcher-kva.example."),
            ("9.8.7.6.in-addr.arpa.", "9.8.7.6.in-addr.arpa."),
        ];
        for (text, want) in names {
            let name = Name::from_ascii(text).unwrap();
            assert_eq!(lower_name(&name), want, "{text}");
        }
        for (labels, want) in [
            (vec![b"A.B".to_vec(), b"C".to_vec()], "a\\.b.c."),
            (vec![b"sp ace".to_vec()], "sp\\ ace."),
            (vec![b"a@b(c)".to_vec(), b"d;e'f".to_vec()], "a\\@b\\(c\\).d\\;e\\'f."),
            (vec![vec![255, 0, b'X']], "\\255\\000x."),
        ] {
            let raw = Name::from_labels(labels).unwrap();
            assert_eq!(lower_name(&raw), want, "{raw:?}");
        }
    }

    /// A question read from the query's bytes (the decoder left it out of the message) is the
    /// one hickory decodes from the whole message, whether the name is plain and read byte by
    /// byte or must be escaped and is read by hickory from where it starts.
    #[test]
    fn questions_read_from_the_wire_match_the_decoded_ones() {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::serialize::binary::BinEncodable;

        let mut names: Vec<Name> = [
            ".",
            "Example.ORG.",
            "_http._tcp.Web-0.default.svc.cluster.local.",
            "*.wild.test.",
            "a\\.b.example.",
            "9.8.7.6.in-addr.arpa.",
        ]
        .iter()
        .map(|text| Name::from_ascii(text).unwrap())
        .collect();
        names.push(Name::from_labels(vec![b"sp ace".to_vec(), b"X".to_vec()]).unwrap());
        // 255 octets on the wire, the most a name may have.
        let longest = [63, 63, 63, 61].map(|n| {
            b"AbcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[..n].to_vec()
        });
        names.push(Name::from_labels(longest).unwrap());
        let addr = "10.0.0.1:53".parse().unwrap();
        let (mut plain, mut escaped) = (0, 0);
        for (name, qtype, qclass) in names.into_iter().flat_map(|name| {
            [(name.clone(), RecordType::A, DNSClass::IN), (name, RecordType::SRV, DNSClass::CH)]
        }) {
            let mut query = Query::query(name.clone(), qtype);
            query.set_query_class(qclass);
            let mut msg = Message::query();
            msg.add_query(query.clone());
            let wire = msg.to_bytes().unwrap();
            let decoded = Message::from_vec(&wire).unwrap();
            let by_hickory = Request::new(decoded.clone(), addr, addr, Proto::Udp, wire.len());
            let mut req = by_hickory.clone();
            *req.message_mut() = decoded;
            let len = uncompressed_question_len(&wire[12..]).expect("never compressed here");
            req.message_mut().queries.clear();
            match lower_plain_name(&wire[12..12 + len], &mut [0; MAX_TEXT]) {
                Some(_) => plain += 1,
                None => escaped += 1,
            }
            req.rebind(&wire, addr, addr, Proto::Udp, Instant::now());
            for r in [&req, &by_hickory] {
                assert_eq!(r.name(), lower_name(&name), "{name:?}");
                assert_eq!(r.qname_wire(), name.to_bytes().unwrap(), "{name:?}");
                let lower = !r.qname_wire().iter().any(u8::is_ascii_uppercase);
                assert_eq!(r.qname_is_lower(), lower, "{name:?}");
                assert_eq!((r.qtype(), r.qclass()), (qtype, qclass));
                assert_eq!(r.question(), Some(&query), "{name:?}");
                assert_eq!(r.to_message().queries, [query.clone()]);
            }
        }
        assert_eq!((plain, escaped), (10, 6), "both paths taken");
    }

    #[test]
    fn uncompressed_questions_are_measured_and_others_refused() {
        // Truncated, compressed, an extended label type, or without room for type and class.
        for question in [
            &b"\x03abc"[..],
            b"\x03ab",
            b"\xc0\x0c\x00\x01\x00\x01",
            b"\x40abc\x00\x00\x01\x00\x01",
            b"\x01a\x00\x00\x01\x00",
            b"",
        ] {
            assert_eq!(uncompressed_question_len(question), None, "{question:?}");
        }
        assert_eq!(uncompressed_question_len(b"\x01A\x02bC\x00\x00\x01\x00\x01"), Some(6));
        assert_eq!(uncompressed_question_len(b"\x00\x00\x02\x00\x01"), Some(1));
        // Escaped names are measured too: hickory reads them from the bytes.
        assert_eq!(uncompressed_question_len(b"\x01 \x00\x00\x01\x00\x01"), Some(3));
        // 256 octets on the wire: one too many, for hickory too (the server answers FORMERR).
        let mut wire = Vec::new();
        for n in [63, 63, 63, 62] {
            wire.push(n);
            wire.extend(std::iter::repeat_n(b'a', usize::from(n)));
        }
        wire.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(wire.len(), 256 + 4);
        assert_eq!(uncompressed_question_len(&wire), None);
        assert!(Query::read(&mut BinDecoder::new(&wire)).is_err());
        wire.remove(0);
        wire[0] = 62;
        assert_eq!(uncompressed_question_len(&wire), Some(255));
    }

    #[test]
    fn plain_names_are_lowered_in_one_pass_and_others_refused() {
        let mut text = [0; MAX_TEXT];
        assert_eq!(lower_plain_name(b"\x01A\x02bC\x00", &mut text), Some((5, false)));
        assert_eq!(&text[..5], b"a.bc.");
        assert_eq!(lower_plain_name(b"\x01a\x01-\x01_\x019\x00", &mut text), Some((8, true)));
        assert_eq!(lower_plain_name(b"\x00", &mut text), Some((1, true)));
        assert_eq!(&text[..1], b".");
        // A byte that needs escaping anywhere, in the first label or the last.
        for wire in [&b"\x01 \x01a\x00"[..], b"\x01a\x02b.\x00", b"\x02\xffa\x00", b"\x01*\x00"] {
            assert_eq!(lower_plain_name(wire, &mut text), None, "{wire:?}");
        }
    }

    /// The reverse address is read with the question, again for each query of a reused request,
    /// and the metadata of the query before is forgotten.
    #[test]
    fn reverse_addresses_follow_the_question() {
        use hickory_proto::serialize::binary::BinEncodable;

        let addr = "10.0.0.1:53".parse().unwrap();
        let wire = |name: &str| {
            let mut msg = Message::query();
            msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::PTR));
            msg.to_bytes().unwrap()
        };
        let mut req = Request::new(Message::query(), addr, addr, Proto::Udp, 12);
        for (name, want) in [
            ("4.3.2.1.in-addr.arpa.", Some("1.2.3.4")),
            ("4.3.2.1.IN-ADDR.ARPA.", Some("1.2.3.4")),
            ("example.org.", None),
            ("9.0.96.10.in-addr.arpa.", Some("10.96.0.9")),
        ] {
            let bytes = wire(name);
            req.meta_mut().set("kubernetes/namespace", "of the query before");
            assert_eq!(decode_question_into(&bytes, req.message_mut()), Some(()));
            req.rebind(&bytes, addr, addr, Proto::Udp, Instant::now());
            let want: Option<IpAddr> = want.map(|a| a.parse().unwrap());
            assert_eq!(req.reverse_addr(), want, "{name}");
            assert!(req.meta().is_empty(), "a reused request starts without metadata");
        }
    }

    /// What the server's decoder does with a plain query: the header fields into the message,
    /// the question left in the bytes.
    fn decode_question_into(wire: &[u8], msg: &mut Message) -> Option<()> {
        *msg = Message::from_vec(wire).ok()?;
        msg.queries.clear();
        uncompressed_question_len(wire.get(12..)?).map(|_| ())
    }

    #[test]
    fn a_request_without_a_question_says_so() {
        let addr = "10.0.0.1:53".parse().unwrap();
        let req = Request::new(Message::query(), addr, addr, Proto::Udp, 12);
        assert_eq!(req.question(), None);
        assert_eq!(
            (req.name(), req.qtype(), req.qclass()),
            (".", RecordType::Unknown(0), DNSClass::IN)
        );
        assert!(req.qname_wire().is_empty());
        assert!(req.to_message().queries.is_empty());
    }
}
