//! Replies already in wire form: what *cache* hands back on a hit, so that a hit is a copy of
//! stored bytes with a few fields patched, not a message rebuilt record by record and encoded
//! again.
//!
//! * [`WireReply`] is such a reply: a complete DNS message without an OPT record, its id and
//!   question already those of the query. The server appends the OPT the client should get.
//!   Plugins that need to look inside decode it ([`WireReply::decode`]); *loadbalance* can
//!   shuffle address records in place ([`WireReply::shuffle_addresses`]).
//! * [`ReplyWriter`] writes an authoritative address answer directly, for plugins that know
//!   the addresses before the query comes (*hosts*, *kubernetes*).
//! * [`Stored`] is the form a reply is kept in: the bytes plus where every record's TTL sits,
//!   and [`Stored::reply_to`] makes the [`WireReply`] for one query.
//! * [`WireReply::restore_question`] puts the client's question back in a reply to another
//!   question, checking every name that points into it (*rewrite*); `clamp_ttls` and
//!   `set_rcode` patch the rest of what *rewrite* changes.
//!
//! * [`decode_message`] (`expand`) decodes bytes from outside, writing out the compressed names
//!   in the data of records hickory keeps as octets, which would lead elsewhere once encoded
//!   into another layout.
//! * `relay`: an upstream's reply relayed as a [`WireReply`] (*forward*), and what *cache*
//!   stores it by, read in place; `pointers` checks its names first, that every compression
//!   pointer leads to a name read before.
//!
//! The walker here reads only what our own encoder wrote, or what `pointers` let through
//! (names are labels, or a pointer at the end); anything else makes it give up, and the caller
//! falls back to decoding.

use hickory_proto::op::{Header, Message, Metadata, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::Request;
use crate::pkg::response::Facts;

mod expand;
mod names;
mod pointers;
mod relay;
mod reply_writer;
pub use expand::decode_message;
pub use names::{AskedQuestion, NameRole, QuestionTexts};
pub use relay::Records;
pub use reply_writer::{ReplyWriter, Section, SoaNames, ZoneSoa};

const HEADER: usize = 12;

/// The largest buffer kept for reuse: a UDP reply's worth and then some.
const SPARE_LIMIT: usize = 4096;

thread_local! {
    /// The buffer of the reply this thread sent last, for the next reply to write into: with
    /// [`recycle_buffer`] a query answered from memory allocates no reply buffer.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An empty buffer with room for `capacity` octets: this thread's spare if it has one.
pub(crate) fn reply_buffer(capacity: usize) -> Vec<u8> {
    let mut buf = SPARE.take();
    buf.clear();
    buf.reserve(capacity);
    buf
}

/// Gives a buffer whose reply went out back to this thread, for the next reply. (The server
/// calls it when it puts a [`WireReply`]'s bytes in place of the ones it sent before.)
pub(crate) fn recycle_buffer(buf: Vec<u8>) {
    if buf.capacity() <= SPARE_LIMIT {
        SPARE.set(buf);
    }
}

/// A buffer borrowed from this thread's spare for as long as it is held, and given back to the
/// spare of the thread it is dropped on: for bytes a plugin needs only for a while (*forward*'s
/// query to an upstream), so that they cost no allocation once the thread has a spare.
#[derive(Debug)]
pub struct SpareBuffer(Vec<u8>);

impl SpareBuffer {
    /// An empty buffer with room for `capacity` octets.
    pub fn take(capacity: usize) -> Self {
        Self(reply_buffer(capacity))
    }
}

impl std::ops::Deref for SpareBuffer {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for SpareBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for SpareBuffer {
    fn drop(&mut self) {
        recycle_buffer(std::mem::take(&mut self.0));
    }
}

/// A complete reply in wire form, without an OPT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireReply(Vec<u8>);

impl WireReply {
    /// Wraps `bytes`, which must hold at least a header.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= HEADER).then_some(Self(bytes))
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The octets, to send or extend.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Changes the 12-octet header in place (flags a plugin sets or clears: *header*).
    pub fn patch_header(&mut self, change: impl FnOnce(&mut [u8])) {
        change(&mut self.0[..HEADER]);
    }

    /// The reply's rcode (the header's four bits; there is no OPT to extend it).
    pub fn rcode(&self) -> ResponseCode {
        ResponseCode::from(0, self.0[3] & 0x0f)
    }

    /// The header's flags, opcode and rcode, or `None` if the bytes are shorter than a header.
    pub fn metadata(&self) -> Option<Metadata> {
        let header = Header::read(&mut BinDecoder::new(self.0.get(..HEADER)?)).ok()?;
        Some(header.metadata)
    }

    /// The reply as a message, for plugins that need to look inside ([`decode_message`]: names
    /// in record data hickory keeps as octets written out, so that it encodes into any layout).
    pub fn decode(&self) -> Option<Message> {
        decode_message(&self.0).ok()
    }

    /// What sorting and logging the reply need, read in place: the header, the question's
    /// type, and the answer and authority sections' record types. `None` if the bytes cannot be
    /// walked; the caller then decodes.
    pub fn facts(&self) -> Option<Facts> {
        let b = &self.0;
        let metadata = self.metadata()?;
        let qtype = (section_count_at(b, 4) > 0)
            .then(|| skip_name(b, HEADER))
            .flatten()
            .and_then(|end| b.get(end..end + 2))
            .map(|t| RecordType::from(u16::from_be_bytes([t[0], t[1]])));
        let mut at = skip_question(b)?;
        let answers = section_count(b, 0);
        for _ in 0..answers {
            at = read_rr(b, at)?.end;
        }
        let (mut soa, mut ns) = (false, 0);
        for _ in 0..section_count(b, 1) {
            let rr = read_rr(b, at)?;
            match rtype(b, &rr) {
                RecordType::SOA => soa = true,
                RecordType::NS => ns += 1,
                _ => {}
            }
            at = rr.end;
        }
        Some(Facts { metadata, qtype, answers, soa, ns })
    }

    /// Whether the answer section holds a record of type `rtype`, read in place; `None` if the
    /// bytes cannot be walked (the caller then decodes). *dns64* asks it of every AAAA reply.
    pub fn answers_have(&self, rtype_wanted: RecordType) -> Option<bool> {
        let b = &self.0;
        self.metadata()?;
        let mut at = skip_question(b)?;
        for _ in 0..section_count(b, 0) {
            let rr = read_rr(b, at)?;
            if rtype(b, &rr) == rtype_wanted {
                return Some(true);
            }
            at = rr.end;
        }
        Some(false)
    }

    /// Whether the authority or additional section holds a record other than the EDNS OPT
    /// record, read in place; `None` if the bytes cannot be walked. *minimal* asks it, so that a
    /// reply with nothing to drop is not decoded.
    pub fn has_records_beyond_answers(&self) -> Option<bool> {
        let b = &self.0;
        self.metadata()?;
        if section_count(b, 1) > 0 {
            return Some(true);
        }
        let mut at = skip_question(b)?;
        for _ in 0..section_count(b, 0) {
            at = read_rr(b, at)?.end;
        }
        for _ in 0..section_count(b, 2) {
            let rr = read_rr(b, at)?;
            if rtype(b, &rr) != RecordType::OPT {
                return Some(true);
            }
            at = rr.end;
        }
        Some(false)
    }

    /// Shuffles the address records of each section in place, as *loadbalance*'s round robin
    /// orders them, when that can be done by swapping their addresses: the section is some
    /// CNAMEs followed by A (or AAAA) records of one owner, class and TTL. Returns false, having
    /// changed nothing, when some section is not like that; the caller then decodes.
    pub fn shuffle_addresses(&mut self, mut random_below: impl FnMut(usize) -> usize) -> bool {
        let Some(mut at) = skip_question(&self.0) else { return false };
        let mut runs = [(0usize, 0usize, 0usize); 3];
        for (section, run) in runs.iter_mut().enumerate() {
            let count = section_count(&self.0, section);
            match address_run(&self.0, at, count) {
                Some((next, found)) => {
                    *run = found;
                    at = next;
                }
                None => return false,
            }
        }
        for (first, stride, n) in runs {
            let len = if n > 1 { rdata_len(&self.0, first) } else { 0 };
            for i in (1..n).rev() {
                let j = random_below(i + 1);
                if i != j {
                    let (a, b) = (first + i * stride, first + j * stride);
                    for k in 0..len {
                        self.0.swap(a + k, b + k);
                    }
                }
            }
        }
        true
    }
}

/// A reply kept for later: its bytes (no OPT) and the offset of every record's TTL.
///
/// One allocation holds both, the offsets (two octets each, native order) after the bytes:
/// storing a miss's reply allocates once, not twice, and a hit reads both from one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    data: Box<[u8]>,
    /// Where the bytes end and the offsets begin.
    len: usize,
}

impl Stored {
    /// Encodes `msg` with its OPT, if any, left out (taken off for the encoding and put back,
    /// rather than copying the whole message). `None` if it does not encode or is too big to
    /// patch (over 64 KiB).
    pub fn new(msg: &mut Message) -> Option<Self> {
        let edns = msg.edns.take();
        let bytes = msg.to_vec();
        msg.edns = edns;
        let bytes = bytes.ok()?;
        let ttls = ttl_offsets(&bytes)?;
        Some(Self::from_parts(bytes, &ttls))
    }

    /// The reply `bytes` (all of `data`) with the TTL offsets `ttls` appended: the one place
    /// the layout [`Stored::bytes`] and [`Stored::ttls`] read is written.
    pub(crate) fn from_parts(mut data: Vec<u8>, ttls: &[u16]) -> Self {
        let len = data.len();
        data.reserve_exact(2 * ttls.len());
        data.extend(ttls.iter().flat_map(|at| at.to_ne_bytes()));
        Self { data: data.into_boxed_slice(), len }
    }

    /// The reply's bytes as stored.
    fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Where each record's TTL sits.
    fn ttls(&self) -> impl Iterator<Item = usize> + '_ {
        self.data[self.len..]
            .chunks_exact(2)
            .map(|at| usize::from(u16::from_ne_bytes([at[0], at[1]])))
    }

    /// The reply to `req`: the stored bytes with the query's id, RD and CD bits and question
    /// (in the query's letter case), AA set, AD cleared unless the client asked for DNSSEC or
    /// AD, and every record's TTL set to `ttl`.
    pub fn reply_to(&self, req: &Request, ttl: u32) -> WireReply {
        let bytes = self.bytes();
        let mut b = reply_buffer(bytes.len());
        b.extend_from_slice(bytes);
        let q = req.metadata();
        b[..2].copy_from_slice(&q.id.to_be_bytes());
        b[2] = (b[2] & !0x01) | 0x04 | u8::from(q.recursion_desired);
        b[3] = (b[3] & !0x10) | if q.checking_disabled { 0x10 } else { 0 };
        if !req.dnssec_ok() && !q.authentic_data {
            b[3] &= !0x20;
        }
        // Same name but for case (the cache's key is the lower-cased name), so the same wire
        // form but for case: the client's, kept by the request, goes over ours in one copy.
        put_question_case(&mut b, req);
        let ttl = ttl.to_be_bytes();
        for at in self.ttls() {
            b[at..at + 4].copy_from_slice(&ttl);
        }
        WireReply(b)
    }
}

/// Writes `req`'s question name over the reply's in `b` when they are the same name but for
/// letter case, so the client gets its own case back.
fn put_question_case(b: &mut [u8], req: &Request) {
    let asked = req.qname_wire();
    if let Some(ours) = b.get_mut(HEADER..HEADER + asked.len())
        && ours.eq_ignore_ascii_case(asked)
    {
        ours.copy_from_slice(asked);
    }
}

fn section_count(b: &[u8], section: usize) -> usize {
    section_count_at(b, 6 + 2 * section)
}

/// The 16-bit count at `at` in the header (4: questions, 6, 8, 10: the record sections).
fn section_count_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// The offset just past the name at `at`. A compression pointer must point back, past the
/// header (RFC 1035 §4.1.4: to a prior occurrence of a name): one into the header would read
/// the id and flags as labels, and those are patched for each client, so the name the client
/// decodes would not be the one the upstream sent. Only the first pointer is looked at: an
/// upstream's reply has had all of its names checked by `pointers` before it is walked here.
fn skip_name(b: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *b.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + usize::from(len),
            0xc0 => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *b.get(at + 1)?]));
                return (HEADER..at).contains(&target).then_some(at + 2);
            }
            _ => return None,
        }
    }
}

/// The offset just past the question section.
fn skip_question(b: &[u8]) -> Option<usize> {
    let mut at = HEADER;
    for _ in 0..u16::from_be_bytes([*b.get(4)?, *b.get(5)?]) {
        at = skip_name(b, at)? + 4;
    }
    (at <= b.len()).then_some(at)
}

/// One record's layout: where its owner ends (type, class, TTL follow) and where it ends.
struct Rr {
    owner_end: usize,
    end: usize,
}

fn read_rr(b: &[u8], at: usize) -> Option<Rr> {
    record_at(b, skip_name(b, at)?)
}

/// The record whose owner ends at `owner_end`.
fn record_at(b: &[u8], owner_end: usize) -> Option<Rr> {
    let fixed = b.get(owner_end..owner_end + 10)?;
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let end = owner_end + 10 + rdlen;
    (end <= b.len()).then_some(Rr { owner_end, end })
}

fn rtype(b: &[u8], rr: &Rr) -> RecordType {
    RecordType::from(type_code(b, rr))
}

/// The record's type as the number on the wire (the walkers of record data match on these:
/// hickory names only some of the types they know).
fn type_code(b: &[u8], rr: &Rr) -> u16 {
    u16::from_be_bytes([b[rr.owner_end], b[rr.owner_end + 1]])
}

fn rdata_len(b: &[u8], rdata_at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[rdata_at - 2], b[rdata_at - 1]]))
}

/// Checks a section of `count` records from `at`: CNAMEs, then address records that differ
/// only in their address. Returns where the section ends and the run to shuffle: the offset of
/// the first address, the distance between addresses, and how many there are.
fn address_run(b: &[u8], mut at: usize, count: usize) -> Option<(usize, (usize, usize, usize))> {
    let mut first: Option<(usize, Rr)> = None;
    let mut n = 0;
    let mut stride = 0;
    for _ in 0..count {
        let rr = read_rr(b, at)?;
        let kind = rtype(b, &rr);
        match &first {
            None if kind == RecordType::CNAME => {}
            None if matches!(kind, RecordType::A | RecordType::AAAA) => {
                first = Some((at, Rr { owner_end: rr.owner_end, end: rr.end }));
                n = 1;
            }
            None => return None,
            Some((start, head)) => {
                let len = head.end - start;
                // Owner, type, class, TTL and length all the same bytes: only the address differs.
                let same = rr.end - at == len
                    && b[at..at + (head.owner_end - start) + 10]
                        == b[*start..*start + (head.owner_end - start) + 10];
                if !same {
                    return None;
                }
                stride = len;
                n += 1;
            }
        }
        at = rr.end;
    }
    let run = first.map_or((0, 0, 0), |(_, head)| (head.owner_end + 10, stride, n));
    Some((at, run))
}

/// Where each record's TTL sits, every section; `None` if the message cannot be walked or is
/// too long for 16-bit offsets.
fn ttl_offsets(b: &[u8]) -> Option<Vec<u16>> {
    if b.len() > usize::from(u16::MAX) {
        return None;
    }
    let mut at = skip_question(b)?;
    let mut out = Vec::new();
    for section in 0..3 {
        for _ in 0..section_count(b, section) {
            let rr = read_rr(b, at)?;
            if rtype(b, &rr) != RecordType::OPT {
                out.push(u16::try_from(rr.owner_end + 4).ok()?);
            }
            at = rr.end;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
