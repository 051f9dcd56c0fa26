//! Upstream replies relayed in wire form: *forward* hands the bytes it received on as a
//! [`WireReply`] (its OPT taken off, the server writes the client's), *cache* stores them as
//! they are, and the client gets them; no message is decoded and encoded again on the way.
//!
//! Anything the walker cannot read, a name that `pointers` refuses, an OPT that is not the last
//! record, or an extended rcode, makes these give up (`None`); the caller then decodes, as
//! before.

use hickory_proto::rr::RecordType;

use super::pointers::{Suffixes, question_end};
use super::{
    HEADER, Stored, WireReply, put_question_case, read_rr, record_at, rtype, section_count,
    section_count_at, skip_question, type_code,
};
use crate::Request;

impl WireReply {
    /// An upstream's reply as a [`WireReply`]: its OPT record, which must be the last record
    /// and carry no extended rcode and no options, taken off. The bytes back if they cannot be walked to their
    /// end, or have an OPT elsewhere. (Walked, not decoded: record data goes on as it came, as
    /// a proxy such as dnsdist passes it.)
    pub fn from_upstream(bytes: Vec<u8>) -> Result<Self, Vec<u8>> {
        match opt_start(&bytes) {
            Some(opt) => Ok(Self::without_opt(bytes, opt)),
            None => Err(bytes),
        }
    }

    fn without_opt(mut bytes: Vec<u8>, opt_at: Option<usize>) -> Self {
        if let Some(opt_at) = opt_at {
            bytes.truncate(opt_at);
            let additional = u16::from_be_bytes([bytes[10], bytes[11]]) - 1;
            bytes[10..12].copy_from_slice(&additional.to_be_bytes());
        }
        Self(bytes)
    }

    /// How many records the answer section holds.
    pub fn answer_count(&self) -> usize {
        section_count(&self.0, 0)
    }

    /// Whether this reply's question is `req`'s: the same name (letter case aside), type and
    /// class.
    pub fn answers(&self, req: &Request) -> bool {
        let b = &self.0;
        let asked = req.qname_wire();
        if asked.is_empty() || section_count_at(b, 4) != 1 {
            return false;
        }
        let Some(name) = b.get(HEADER..HEADER + asked.len()) else { return false };
        let Some(tail) = b.get(HEADER + asked.len()..HEADER + asked.len() + 4) else {
            return false;
        };
        name.eq_ignore_ascii_case(asked)
            && tail[..2] == u16::from(req.qtype()).to_be_bytes()
            && tail[2..] == u16::from(req.qclass()).to_be_bytes()
    }

    /// Makes this reply `req`'s: its id, and its question in the letter case `req` asked in
    /// (when the names are the same but for case).
    pub fn readdress(&mut self, req: &Request) {
        self.0[..2].copy_from_slice(&req.id().to_be_bytes());
        put_question_case(&mut self.0, req);
    }

    /// What *cache* decides by, and where every record's TTL sits (into `ttls`, emptied
    /// first: a buffer the caller keeps, so that a miss allocates none), read in one walk;
    /// `None` if the reply cannot be walked or is over 64 KiB.
    pub fn records(&self, ttls: &mut Vec<u16>) -> Option<Records> {
        let b = &self.0;
        ttls.clear();
        if b.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut at = skip_question(b)?;
        let mut out = Records { min_ttl: None, soa_minimum: None };
        for section in 0..3 {
            for _ in 0..section_count(b, section) {
                let rr = read_rr(b, at)?;
                let t = rr.owner_end + 4;
                let ttl = u32::from_be_bytes([b[t], b[t + 1], b[t + 2], b[t + 3]]);
                ttls.push(u16::try_from(t).ok()?);
                out.min_ttl = Some(out.min_ttl.map_or(ttl, |m: u32| m.min(ttl)));
                if rtype(b, &rr) == RecordType::SOA && rr.end >= rr.owner_end + 10 + 22 {
                    let m = &b[rr.end - 4..rr.end];
                    let minimum = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
                    out.soa_minimum = Some(out.soa_minimum.map_or(minimum, |s| s.min(minimum)));
                }
                at = rr.end;
            }
        }
        Some(out)
    }

    /// Sets the TTL at each of `ttls` (from [`WireReply::records`]) to `ttl`.
    pub fn set_ttls(&mut self, ttls: &[u16], ttl: u32) {
        let ttl = ttl.to_be_bytes();
        for &at in ttls {
            let at = usize::from(at);
            self.0[at..at + 4].copy_from_slice(&ttl);
        }
    }
}

/// Where the OPT record starts (`Some(None)` without one), if the message can be walked to its
/// end, its names are all ones a relayed reply may hold (`pointers`), and the OPT, if any, is
/// its last record with no extended rcode.
fn opt_start(b: &[u8]) -> Option<Option<usize>> {
    if b.len() < HEADER {
        return None;
    }
    Suffixes::with(b, |suffixes| {
        let mut at = question_end(b, suffixes)?;
        let total: usize = (0..3).map(|s| section_count(b, s)).sum();
        let mut opt_at = None;
        for i in 0..total {
            let owner_end = suffixes.name(b, at, b.len())?;
            let rr = record_at(b, owner_end)?;
            let code = type_code(b, &rr);
            suffixes.record_data(b, code, owner_end + 10, rr.end)?;
            if code == u16::from(RecordType::OPT) {
                // Last, in the additional section (the last record is there only if that
                // section has any: an OPT ending the authority section left a count of 0 to
                // decrement), no extended rcode (the TTL's first octet), and no options: an
                // upstream's EDE, NSID or cookie goes to the client as CoreDNS passes it,
                // through the decoded reply, whose OPT the server keeps.
                if i + 1 != total
                    || section_count(b, 2) == 0
                    || b[rr.owner_end + 4] != 0
                    || rr.end != rr.owner_end + 10
                {
                    return None;
                }
                opt_at = Some(at);
            }
            at = rr.end;
        }
        (at == b.len()).then_some(opt_at)
    })
}

/// What [`WireReply::records`] reads besides the TTLs' places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records {
    /// The smallest TTL of any record; `None` without records.
    pub min_ttl: Option<u32>,
    /// The smallest SOA minimum of any SOA record.
    pub soa_minimum: Option<u32>,
}

impl Stored {
    /// `reply` kept as it is, with its TTL offsets (from [`WireReply::records`]).
    pub fn from_wire(reply: &WireReply, ttls: &[u16]) -> Self {
        let mut data = Vec::with_capacity(reply.0.len() + 2 * ttls.len());
        data.extend_from_slice(&reply.0);
        Self::from_parts(data, ttls)
    }
}
