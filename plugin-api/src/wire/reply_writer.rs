//! Address answers written straight to wire form.
//!
//! The commonest reply a cluster DNS server sends is "these addresses for the name you asked":
//! *hosts* and *kubernetes* know the addresses before the query comes. [`ReplyWriter`] writes
//! that reply byte by byte into one buffer (header, the query's question, one record per
//! address), where building a `Message` of `Record`s and encoding it cost a dozen allocations,
//! label comparisons for compression, and a third of the user-space time of a query.
//!
//! The bytes are what the encoder would have written: the header of [`Request::reply`] with
//! AA set, the question as the client sent it, and answers owned by the lower-cased query name
//! (CoreDNS owns them by `state.Name()`), compressed to a pointer at the question when the
//! client asked in lower case.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{DNSClass, RecordType};

use super::WireReply;
use crate::Request;

const HEADER: usize = 12;
/// A pointer to offset 12, where the question's name starts.
const QUESTION_NAME: [u8; 2] = [0xc0, 0x0c];

/// An authoritative NOERROR reply being written, answers last.
pub struct ReplyWriter {
    buf: Vec<u8>,
    /// How each answer's owner is written: a pointer, or the lower-cased name in full the
    /// first time and a pointer to it after.
    owner: Owner,
    count: u16,
}

enum Owner {
    Pointer([u8; 2]),
    FirstInFull,
}

impl ReplyWriter {
    /// Starts the reply to `req`: its id, RD and CD, QR and AA, and its question. `None` when
    /// the query has no question or is not in class IN.
    pub fn new(req: &Request) -> Option<Self> {
        let question = req.question()?;
        if question.query_class() != DNSClass::IN {
            return None;
        }
        let q = &req.message().metadata;
        let mut buf = Vec::with_capacity(HEADER + req.name().len() + 6 + 4 * 28);
        buf.extend_from_slice(&q.id.to_be_bytes());
        // QR, opcode QUERY, AA, RD as asked; RA clear; AD clear; CD as asked; NOERROR.
        buf.push(0x84 | u8::from(q.recursion_desired));
        buf.push(if q.checking_disabled { 0x10 } else { 0 });
        buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut lower = true;
        for label in question.name().iter() {
            buf.push(label.len() as u8);
            buf.extend_from_slice(label);
            lower &= !label.iter().any(u8::is_ascii_uppercase);
        }
        buf.push(0);
        buf.extend_from_slice(&u16::from(question.query_type()).to_be_bytes());
        buf.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        let owner = if lower { Owner::Pointer(QUESTION_NAME) } else { Owner::FirstInFull };
        Some(Self { buf, owner, count: 0 })
    }

    /// Adds an A record.
    pub fn a(&mut self, ttl: u32, addr: Ipv4Addr) {
        self.record(RecordType::A, ttl, &addr.octets());
    }

    /// Adds an AAAA record.
    pub fn aaaa(&mut self, ttl: u32, addr: Ipv6Addr) {
        self.record(RecordType::AAAA, ttl, &addr.octets());
    }

    /// The finished reply.
    pub fn finish(mut self) -> WireReply {
        self.buf[6..8].copy_from_slice(&self.count.to_be_bytes());
        WireReply(self.buf)
    }

    fn record(&mut self, rtype: RecordType, ttl: u32, rdata: &[u8]) {
        match self.owner {
            Owner::Pointer(pointer) => self.buf.extend_from_slice(&pointer),
            Owner::FirstInFull => {
                let at = self.buf.len();
                // The question's name, lower-cased: same labels, so copy and fold.
                let name_end = self.question_name_end();
                self.buf.extend_from_within(HEADER..name_end);
                self.buf[at..].make_ascii_lowercase();
                // Offsets past 0x3fff cannot be pointed at; a name that far never is here, as
                // the header and one question take at most 12 + 255 + 4 octets.
                self.owner = Owner::Pointer((0xc000 | at as u16).to_be_bytes());
            }
        }
        self.buf.extend_from_slice(&u16::from(rtype).to_be_bytes());
        self.buf.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(rdata);
        self.count += 1;
    }

    /// Where the question's name ends (just past its root label).
    fn question_name_end(&self) -> usize {
        let mut at = HEADER;
        while self.buf[at] != 0 {
            at += 1 + usize::from(self.buf[at]);
        }
        at + 1
    }
}
