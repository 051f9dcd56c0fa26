//! A wire reply's names read and its question put back in place, for plugins that asked the
//! plugins after them another question and must give the client its own back (*rewrite*).
//!
//! [`WireReply::restore_question`] swaps the client's question name in over the one asked, when
//! the two take the same octets. Every other name in the reply may point into the question
//! (owners usually do), so each is read twice, as it reads now and as it would read after the
//! swap, and the caller says whether the second is what it wants; one refusal leaves the bytes
//! as they were, for the caller to decode and rewrite the reply as a message. Reading needs no
//! allocation: names go into a stack buffer.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::{HEADER, WireReply, read_rr, rtype, section_count};

/// What a name in a reply is to the record holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRole {
    /// A record's owner.
    Owner,
    /// The name a record points at: the target of a CNAME, NS, PTR, MX, SRV or NAPTR, an SOA's
    /// MNAME (the names CoreDNS's *rewrite* rewrites as values).
    Target,
    /// Any other name in a record's data (an SOA's RNAME, ...), which should read the same.
    Other,
}

/// A name in presentation form, letters as written, with its final dot. Only names of letters,
/// digits, `-`, `_` and `*` are read: others need escaping, and the caller decodes instead.
pub struct NameText {
    buf: [u8; 256],
    len: usize,
}

impl NameText {
    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits, `-`, `_`, `*` and dots are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The octets of a reply as they read with `overlay` (a name, at offset 12) over the question's.
struct View<'a> {
    bytes: &'a [u8],
    overlay: Option<&'a [u8]>,
}

impl View<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        match self.overlay {
            Some(name) if (HEADER..HEADER + name.len()).contains(&i) => Some(name[i - HEADER]),
            _ => self.bytes.get(i).copied(),
        }
    }

    /// The name at `at`, following pointers (each must point back, so there is no loop).
    fn name(&self, mut at: usize) -> Option<NameText> {
        let mut text = NameText { buf: [0; 256], len: 0 };
        let mut limit = at;
        loop {
            let len = self.at(at)?;
            match len & 0xc0 {
                0x00 if len == 0 => break,
                0x00 => {
                    for i in at + 1..=at + usize::from(len) {
                        let c = self.at(i)?;
                        if !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'*')) {
                            return None;
                        }
                        *text.buf.get_mut(text.len)? = c;
                        text.len += 1;
                    }
                    *text.buf.get_mut(text.len)? = b'.';
                    text.len += 1;
                    at += 1 + usize::from(len);
                }
                0xc0 => {
                    let to = usize::from(u16::from_be_bytes([len, self.at(at + 1)?]) & 0x3fff);
                    if to >= limit {
                        return None;
                    }
                    (at, limit) = (to, to);
                }
                _ => return None,
            }
        }
        if text.len == 0 {
            text.buf[0] = b'.';
            text.len = 1;
        }
        Some(text)
    }
}

impl WireReply {
    /// Puts the client's question (its name in uncompressed wire form, its type and class) in
    /// place of the reply's, if the names take the same octets and every name in the records
    /// reads as `expect` wants: it gets each name's role, the name as it reads now and as it
    /// would read after the swap, and says whether the latter is right. Nothing is changed
    /// unless it is true of every name and the reply can be walked.
    pub fn restore_question(
        &mut self,
        (asked, qtype, qclass): (&[u8], RecordType, DNSClass),
        mut expect: impl FnMut(NameRole, &str, &str) -> bool,
    ) -> bool {
        let b = &self.0;
        if b.len() < HEADER || u16::from_be_bytes([b[4], b[5]]) != 1 {
            return false;
        }
        // The reply's question name must be plain labels of the same length as the client's.
        let mut end = HEADER;
        while let Some(&len) = b.get(end) {
            match len {
                0 => break,
                1..=63 => end += 1 + usize::from(len),
                _ => return false,
            }
        }
        end += 1;
        if end - HEADER != asked.len() || end + 4 > b.len() {
            return false;
        }
        let before = View { bytes: b, overlay: None };
        let after = View { bytes: b, overlay: Some(asked) };
        let mut check = |role, at| match (before.name(at), after.name(at)) {
            (Some(now), Some(then)) => expect(role, now.as_str(), then.as_str()),
            _ => false,
        };
        let mut at = end + 4;
        for section in 0..3 {
            for _ in 0..section_count(b, section) {
                let Some(rr) = read_rr(b, at) else { return false };
                if !check(NameRole::Owner, at) {
                    return false;
                }
                let rdata = rr.owner_end + 10;
                let ok = match rtype(b, &rr) {
                    RecordType::CNAME | RecordType::NS | RecordType::PTR => {
                        check(NameRole::Target, rdata)
                    }
                    RecordType::MX => check(NameRole::Target, rdata + 2),
                    RecordType::SRV => check(NameRole::Target, rdata + 6),
                    RecordType::SOA => {
                        check(NameRole::Target, rdata)
                            && super::skip_name(b, rdata).is_some_and(|r| check(NameRole::Other, r))
                    }
                    RecordType::NAPTR => {
                        naptr_replacement(b, rdata).is_some_and(|r| check(NameRole::Target, r))
                    }
                    // The other types RFC 3597 lets a sender compress names in, which a reply
                    // hardly ever holds: decoded instead.
                    RecordType::Unknown(3..=9) | RecordType::Unknown(14) => false,
                    _ => true,
                };
                if !ok {
                    return false;
                }
                at = rr.end;
            }
        }
        self.0[HEADER..end].copy_from_slice(asked);
        self.0[end..end + 2].copy_from_slice(&u16::from(qtype).to_be_bytes());
        self.0[end + 2..end + 4].copy_from_slice(&u16::from(qclass).to_be_bytes());
        true
    }

    /// Brings every record's TTL into `min..=max`. False, changing nothing, if the reply
    /// cannot be walked.
    pub fn clamp_ttls(&mut self, min: u32, max: u32) -> bool {
        let Some(ttls) = ttl_positions(&self.0) else { return false };
        for at in ttls.into_iter().flatten() {
            let field: &mut [u8] = &mut self.0[at..at + 4];
            let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
            field.copy_from_slice(&ttl.clamp(min, max).to_be_bytes());
        }
        true
    }

    /// Sets the header's rcode. False, changing nothing, for an rcode the header's four bits
    /// cannot hold (a wire reply has no OPT to extend them).
    pub fn set_rcode(&mut self, rcode: ResponseCode) -> bool {
        let code = u16::from(rcode);
        if code > 15 {
            return false;
        }
        self.0[3] = (self.0[3] & 0xf0) | code as u8;
        true
    }
}

/// Where each record's TTL sits, in a fixed array so that walking allocates nothing; `None` if
/// the reply cannot be walked or has more records than the array holds.
fn ttl_positions(b: &[u8]) -> Option<[Option<usize>; 64]> {
    let mut out = [None; 64];
    let mut at = super::skip_question(b)?;
    let mut n = 0;
    for section in 0..3 {
        for _ in 0..section_count(b, section) {
            let rr = read_rr(b, at)?;
            *out.get_mut(n)? = Some(rr.owner_end + 4);
            n += 1;
            at = rr.end;
        }
    }
    Some(out)
}

/// Where a NAPTR's replacement name starts: after order, preference and three strings.
fn naptr_replacement(b: &[u8], rdata: usize) -> Option<usize> {
    let mut at = rdata + 4;
    for _ in 0..3 {
        at += 1 + usize::from(*b.get(at)?);
    }
    (at < b.len()).then_some(at)
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
