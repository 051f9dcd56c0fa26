//! A wire reply's names read and its question put back in place, for plugins that asked the
//! plugins after them another question and must give the client its own back (*rewrite*).
//!
//! [`WireReply::restore_question`] swaps the client's question name in over the one asked, when
//! the two take the same octets. Every other name in the reply may point into the question
//! (owners usually do), so each is read twice, as it reads now and as it would read after the
//! swap, and the caller says whether the second is what it wants; one refusal leaves the bytes
//! as they were, for the caller to decode and rewrite the reply as a message. "Every other
//! name" is every owner and every name in record data that a decoder reads, where
//! `pointers::names_in_data` says each type keeps them. Reading needs no allocation: names go
//! into a stack buffer.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::pointers::names_in_data;
use super::{HEADER, WireReply, read_rr, section_count, type_code};

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

/// A pointer to offset 12, where the question's name starts.
const QUESTION_POINTER: [u8; 2] = [0xc0, 0x0c];

/// The types whose first name in their data is a [`NameRole::Target`]: CNAME, NS, PTR, MX, SRV,
/// NAPTR, and SOA (its MNAME).
const VALUE_TYPES: [u16; 7] = [5, 2, 12, 15, 33, 35, 6];

/// The question a reply is to get back, for [`WireReply::restore_question`].
pub struct AskedQuestion<'a> {
    /// The name, uncompressed wire form, letters as the client wrote them.
    pub name: &'a [u8],
    /// The type asked.
    pub qtype: RecordType,
    /// The class asked.
    pub qclass: DNSClass,
    /// The question names in presentation form, if the caller has them: names that are a
    /// pointer to the question are then judged on these rather than read.
    pub texts: Option<QuestionTexts<'a>>,
}

/// What the caller knows of the question names ([`AskedQuestion::texts`]).
#[derive(Debug, Clone, Copy)]
pub struct QuestionTexts<'a> {
    /// The name the reply is believed to hold, in wire form: the texts are used only if the
    /// reply's question is these octets.
    pub wire_now: &'a [u8],
    /// That name in presentation form, exactly as it reads.
    pub now: &'a [u8],
    /// The client's name in presentation form (letter case may differ from the client's).
    pub after: &'a [u8],
}

/// A name in presentation form, letters as written, with its final dot. Only names of letters,
/// digits, `-`, `_` and `*` are read: others need escaping, and the caller decodes instead.
struct NameText {
    buf: [u8; 256],
    len: usize,
}

impl NameText {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The octets of a reply as they read with `overlay` (a name, at offset 12) over the question's.
struct View<'a> {
    bytes: &'a [u8],
    overlay: Option<&'a [u8]>,
}

impl View<'_> {
    /// The octets from `at` to `at + len`: inside the overlay if `at` is (a label that starts
    /// there ends by its root), else the reply's own.
    fn slice(&self, at: usize, len: usize) -> Option<&[u8]> {
        match self.overlay {
            Some(name) if (HEADER..HEADER + name.len()).contains(&at) => {
                name.get(at - HEADER..at - HEADER + len)
            }
            _ => self.bytes.get(at..at + len),
        }
    }

    /// The name at `at` into `text`, following pointers (each must point back, so there is no
    /// loop). False if it cannot be read or needs escaping.
    fn name(&self, mut at: usize, text: &mut NameText) -> bool {
        text.len = 0;
        let mut limit = at;
        loop {
            let Some(&[len]) = self.slice(at, 1) else { return false };
            match len & 0xc0 {
                0x00 if len == 0 => break,
                0x00 => {
                    let n = usize::from(len);
                    let Some(label) = self.slice(at + 1, n) else { return false };
                    let plain = label
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'*'));
                    let Some(room) = text.buf.get_mut(text.len..text.len + n + 1) else {
                        return false;
                    };
                    if !plain {
                        return false;
                    }
                    room[..n].copy_from_slice(label);
                    room[n] = b'.';
                    text.len += n + 1;
                    at += 1 + n;
                }
                0xc0 => {
                    let Some(&[_, low]) = self.slice(at, 2) else { return false };
                    let to = usize::from(u16::from_be_bytes([len, low]) & 0x3fff);
                    if to >= limit {
                        return false;
                    }
                    (at, limit) = (to, to);
                }
                _ => return false,
            }
        }
        if text.len == 0 {
            text.buf[0] = b'.';
            text.len = 1;
        }
        true
    }
}

impl WireReply {
    /// Puts the client's question in place of the reply's, if the names take the same octets
    /// and every name in the records reads as `expect` wants: it gets each name's role, the
    /// name as it reads now and as it would read after the swap (presentation form, letters as
    /// written, final dot; names that would need escaping are refused), and says whether the
    /// latter is right. Nothing is changed unless it is true of every name and the reply can
    /// be walked. Names that are a pointer to the question (most owners) are judged once per
    /// role.
    pub fn restore_question(
        &mut self,
        asked: &AskedQuestion<'_>,
        mut expect: impl FnMut(NameRole, &[u8], &[u8]) -> bool,
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
        if end - HEADER != asked.name.len() || end + 4 > b.len() {
            return false;
        }
        let before = View { bytes: b, overlay: None };
        let after = View { bytes: b, overlay: Some(asked.name) };
        let (mut now, mut then) =
            (NameText { buf: [0; 256], len: 0 }, NameText { buf: [0; 256], len: 0 });
        let texts = asked.texts.filter(|t| b[HEADER..end] == *t.wire_now);
        // Judgements of the question's own name, by role.
        let mut judged: [Option<bool>; 3] = [None; 3];
        let mut check = |role: NameRole, at: usize| {
            if b.get(at..at + 2) != Some(&QUESTION_POINTER[..]) {
                return before.name(at, &mut now)
                    && after.name(at, &mut then)
                    && expect(role, now.bytes(), then.bytes());
            }
            *judged[role as usize].get_or_insert_with(|| match texts {
                Some(t) => {
                    debug_assert!(before.name(HEADER, &mut now) && now.bytes() == t.now);
                    debug_assert!(
                        after.name(HEADER, &mut then) && then.bytes().eq_ignore_ascii_case(t.after)
                    );
                    expect(role, t.now, t.after)
                }
                None => {
                    before.name(HEADER, &mut now)
                        && after.name(HEADER, &mut then)
                        && expect(role, now.bytes(), then.bytes())
                }
            })
        };
        let mut at = end + 4;
        for section in 0..3 {
            for _ in 0..section_count(b, section) {
                let Some(rr) = read_rr(b, at) else { return false };
                if !check(NameRole::Owner, at) {
                    return false;
                }
                // Every name in the record's data a decoder reads: the first name of the
                // types CoreDNS's *rewrite* rewrites as values is a target, any other must read
                // the same after the swap.
                let code = type_code(b, &rr);
                let ok = names_in_data(b, code, rr.owner_end + 10, rr.end, |at, index| {
                    let role = if index == 0 && VALUE_TYPES.contains(&code) {
                        NameRole::Target
                    } else {
                        NameRole::Other
                    };
                    check(role, at).then(|| super::skip_name(b, at)).flatten()
                })
                .is_some();
                if !ok {
                    return false;
                }
                at = rr.end;
            }
        }
        self.0[HEADER..end].copy_from_slice(asked.name);
        self.0[end..end + 2].copy_from_slice(&u16::from(asked.qtype).to_be_bytes());
        self.0[end + 2..end + 4].copy_from_slice(&u16::from(asked.qclass).to_be_bytes());
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

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
