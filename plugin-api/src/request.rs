//! [`Request`]: one decoded query and where it came from, with the accessors CoreDNS's
//! `request.Request` gives its plugins.
//!
//! The server builds a `Request` only for a message that passed its checks: exactly one question,
//! a query or notify opcode, at most two additional records. Each accessor still says what it
//! returns when something is missing, so a plugin never has to guess.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

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
    msg: Message,
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
            name,
            qname_wire,
            qname_is_lower: true,
            src,
            local,
            proto,
            wire_len,
            received,
        };
        req.bind(None, src, local, proto, wire_len, received);
        req
    }

    /// The message, to decode the next query into, reusing its buffers: the server keeps one
    /// `Request` per thread for the queries answered at once, so that they allocate nothing.
    /// Call [`Request::rebind`] after changing it.
    pub fn message_mut(&mut self) -> &mut Message {
        &mut self.msg
    }

    /// Says where and when the message (as [`Request::message_mut`] left it, decoded from
    /// `wire`) came from, and recomputes the lower-cased name into the string it already has.
    pub fn rebind(
        &mut self,
        wire: &[u8],
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        received: Instant,
    ) {
        self.bind(Some(wire), src, local, proto, wire.len(), received);
    }

    fn bind(
        &mut self,
        wire: Option<&[u8]>,
        src: SocketAddr,
        local: SocketAddr,
        proto: Proto,
        wire_len: usize,
        received: Instant,
    ) {
        self.name.clear();
        self.qname_wire.clear();
        // The question follows the 12-octet header. Read from there the name costs a pass over
        // its bytes; through hickory's `Name` it cost three times that (its label iterator).
        let question = wire.and_then(|w| w.get(12..)).filter(|_| self.msg.queries.len() == 1);
        match question.and_then(|q| Some((q, lower_wire_name_into(q, &mut self.name)?))) {
            Some((question, (len, is_lower))) => {
                self.qname_wire.extend_from_slice(&question[..len]);
                self.qname_is_lower = is_lower;
            }
            None => match self.msg.queries.first() {
                Some(q) => {
                    lower_name_into(q.name(), &mut self.name);
                    self.qname_is_lower = true;
                    for label in q.name().iter() {
                        self.qname_wire.push(label.len() as u8);
                        self.qname_wire.extend_from_slice(label);
                        self.qname_is_lower &= !label.iter().any(u8::is_ascii_uppercase);
                    }
                    self.qname_wire.push(0);
                }
                None => self.name.push('.'),
            },
        }
        self.src = SocketAddr::new(src.ip().to_canonical(), src.port());
        (self.local, self.proto, self.wire_len, self.received) = (local, proto, wire_len, received);
    }

    /// When the server read the query. Plugins that time it (*log*) start here rather than
    /// read the clock again: at a few hundred thousand queries a second, each clock read is
    /// about 1 % of a core.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// The decoded query message.
    pub fn message(&self) -> &Message {
        &self.msg
    }

    /// The query id.
    pub fn id(&self) -> u16 {
        self.msg.metadata.id
    }

    /// The first question, if there is one.
    pub fn question(&self) -> Option<&Query> {
        self.msg.queries.first()
    }

    /// The question name, lower-cased, fully qualified, in presentation form; `.` if there is no
    /// question.
    pub fn name(&self) -> &str {
        &self.name
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
        self.question().map_or(RecordType::Unknown(0), Query::query_type)
    }

    /// The question class; `IN` if there is no question.
    pub fn qclass(&self) -> DNSClass {
        self.question().map_or(DNSClass::IN, Query::query_class)
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
            Proto::Udp => self.msg.edns.as_ref().map_or(512, |e| e.max_payload().max(512)),
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
            let lower = PLAIN_LOWER[usize::from(b)];
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
/// digits, `-`, `_`), else 0. One load per byte, where the tests it stands for were a dozen
/// instructions.
static PLAIN_LOWER: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            table[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// The name at the start of `question` (a query's bytes after the header), lower-cased in
/// presentation form, appended to `s`, if it is plain: uncompressed, every label letters,
/// digits, `-` and `_`. Returns its length on the wire and whether it was already lower-case;
/// `None` otherwise, with nothing appended (the caller then takes [`lower_name_into`], which
/// escapes what needs it).
fn lower_wire_name_into(question: &[u8], s: &mut String) -> Option<(usize, bool)> {
    // A name is at most 255 octets on the wire, so at most 254 in presentation form.
    let mut text = [0u8; 255];
    let (mut len, mut at, mut upper) = (0, 0, false);
    loop {
        let size = usize::from(*question.get(at)?);
        if size == 0 {
            break;
        }
        // 64 and above: a compression pointer or an extended label type.
        if size > 63 {
            return None;
        }
        let label = question.get(at + 1..at + 1 + size)?;
        let out = text.get_mut(len..len + size + 1)?;
        for (o, &b) in out.iter_mut().zip(label) {
            let lower = PLAIN_LOWER[usize::from(b)];
            if lower == 0 {
                return None;
            }
            upper |= lower != b;
            *o = lower;
        }
        out[size] = b'.';
        (len, at) = (len + size + 1, at + size + 1);
    }
    if len == 0 {
        (text[0], len) = (b'.', 1);
    }
    // Only ASCII was written: this cannot fail, and checking is a fraction of the loop above.
    s.push_str(std::str::from_utf8(&text[..len]).ok()?);
    Some((at + 1, !upper))
}

fn lower_name_escaped(name: &Name) -> String {
    let mut s = name.to_ascii();
    s.make_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_names_match_the_escaping_presentation_form() {
        let names = [
            ".",
            "Example.ORG.",
            "_http._tcp.Web-0.default.svc.cluster.local.",
            "*.wild.test.",
            "a\\.b.example.",
            "xn--bcher-kva.example.",
            "9.8.7.6.in-addr.arpa.",
        ];
        for text in names {
            let name = Name::from_ascii(text).unwrap();
            assert_eq!(lower_name(&name), lower_name_escaped(&name), "{text}");
        }
        for labels in [
            vec![b"A.B".to_vec(), b"C".to_vec()],
            vec![b"sp ace".to_vec()],
            vec![vec![255, 0, b'X']],
        ] {
            let raw = Name::from_labels(labels).unwrap();
            assert_eq!(lower_name(&raw), lower_name_escaped(&raw), "{raw:?}");
        }
    }

    /// A request's name read from the query's bytes is the one read from the decoded message,
    /// for names that take the byte path and for those that must be escaped or are compressed.
    #[test]
    fn names_read_from_the_wire_match_the_decoded_ones() {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::RecordType;
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
        let long =
            vec![b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-".to_vec(); 3];
        names.push(Name::from_labels(long).unwrap());
        let addr = "10.0.0.1:53".parse().unwrap();
        for name in names {
            let mut msg = Message::query();
            msg.add_query(Query::query(name.clone(), RecordType::A));
            let wire = msg.to_bytes().unwrap();
            let decoded = Message::from_vec(&wire).unwrap();
            let mut req = Request::new(decoded.clone(), addr, addr, Proto::Udp, wire.len());
            let from_message = req.name().to_string();
            let wire_from_message = (req.qname_wire().to_vec(), req.qname_is_lower());
            *req.message_mut() = decoded;
            req.rebind(&wire, addr, addr, Proto::Udp, Instant::now());
            assert_eq!(req.name(), from_message, "{name:?}");
            assert_eq!(req.name(), lower_name(&name), "{name:?}");
            assert_eq!((req.qname_wire().to_vec(), req.qname_is_lower()), wire_from_message);
            assert_eq!(req.qname_wire(), name.to_bytes().unwrap(), "{name:?}");
        }
        // Truncated or compressed question bytes are left to the decoded name.
        for question in [&b"\x03abc"[..], b"\x03ab", b"\xc0\x0c", b"\x40abc\x00", b""] {
            let mut s = String::new();
            assert_eq!(lower_wire_name_into(question, &mut s), None, "{question:?}");
        }
        let mut s = String::new();
        assert_eq!(lower_wire_name_into(b"\x01A\x02bC\x00\x00\x01", &mut s), Some((6, false)));
        assert_eq!(s, "a.bc.");
        s.clear();
        assert_eq!(lower_wire_name_into(b"\x01a\x00", &mut s), Some((3, true)));
        assert_eq!(lower_wire_name_into(b"\x00", &mut s), Some((1, true)));
        assert_eq!(s, "a..");
    }
}
