//! Authoritative replies written straight to wire form.
//!
//! The commonest replies a cluster DNS server sends are "these addresses for the name you
//! asked" and "no such name, here is the zone's SOA": *hosts* and *kubernetes* know both before
//! the query comes. [`ReplyWriter`] writes them byte by byte into one buffer (header, the
//! query's question, address records, an SOA), where building a `Message` of `Record`s and
//! encoding it cost a dozen allocations, label comparisons for compression, and a third of the
//! user-space time of a query.
//!
//! The bytes decode to what the encoder would have written: the header of [`Request::reply`]
//! with AA set, the question as the client sent it, answers owned by the lower-cased query name
//! (CoreDNS's *hosts* owns them by `state.Name()`; [`ReplyWriter::owned_as_asked`] keeps the
//! client's spelling, as its *kubernetes* does), compressed to a pointer at the question when
//! the client asked in lower case; an SOA owned by the zone as the client wrote it (a pointer into
//! the question), its names ending in the same pointer.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::WireReply;
use crate::Request;

const HEADER: usize = 12;
/// A pointer to offset 12, where the question's name starts.
const QUESTION_NAME: [u8; 2] = [0xc0, 0x0c];

/// An authoritative reply being written: answers first, then the authority section.
pub struct ReplyWriter {
    buf: Vec<u8>,
    /// How each answer's owner is written: a pointer, or the lower-cased name in full the
    /// first time and a pointer to it after.
    owner: Owner,
    answers: u16,
    authorities: u16,
}

/// The SOA of a zone that is a suffix of the query name: its names are given as the labels
/// before the zone (`ns.dns`, `hostmaster`), the zone itself is the client's spelling.
#[derive(Debug, Clone, Copy)]
pub struct ZoneSoa<'a> {
    /// How many labels of the query name, from the right, make the zone.
    pub zone_labels: usize,
    /// The record's TTL.
    pub ttl: u32,
    /// The primary server's labels before the zone (`ns.dns`).
    pub mname: &'a str,
    /// The mailbox's labels before the zone (`hostmaster`).
    pub rname: &'a str,
    /// The zone's serial.
    pub serial: u32,
    /// Seconds.
    pub refresh: u32,
    /// Seconds.
    pub retry: u32,
    /// Seconds.
    pub expire: u32,
    /// The negative-caching TTL.
    pub minimum: u32,
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
        Some(Self { buf, owner, answers: 0, authorities: 0 })
    }

    /// Owns the answers by the query name exactly as the client wrote it, as *kubernetes* does
    /// (CoreDNS's `state.QName()`), rather than lower-cased.
    pub fn owned_as_asked(mut self) -> Self {
        self.owner = Owner::Pointer(QUESTION_NAME);
        self
    }

    /// Sets the rcode (NXDOMAIN, SERVFAIL: those of the header's four bits).
    pub fn rcode(&mut self, rcode: ResponseCode) {
        self.buf[3] = (self.buf[3] & 0xf0) | (u16::from(rcode) & 0x0f) as u8;
    }

    /// Adds `soa` to the authority section; answers added after it would land in the wrong
    /// section, so it comes last. Does nothing if the query name has fewer labels than the
    /// zone.
    pub fn soa(&mut self, soa: &ZoneSoa<'_>) {
        let Some(zone) = self.zone_pointer(soa.zone_labels) else { return };
        self.buf.extend_from_slice(&zone);
        self.buf.extend_from_slice(&u16::from(RecordType::SOA).to_be_bytes());
        self.buf.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        self.buf.extend_from_slice(&soa.ttl.to_be_bytes());
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        for name in [soa.mname, soa.rname] {
            for label in name.split('.').filter(|l| !l.is_empty()) {
                self.buf.push(label.len().min(63) as u8);
                self.buf.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
            }
            self.buf.extend_from_slice(&zone);
        }
        for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
            self.buf.extend_from_slice(&value.to_be_bytes());
        }
        let rdata_len = (self.buf.len() - length_at - 2) as u16;
        self.buf[length_at..length_at + 2].copy_from_slice(&rdata_len.to_be_bytes());
        self.authorities += 1;
    }

    /// A pointer to the last `labels` labels of the question's name (for the root zone, to the
    /// name's final zero octet); `None` if the name has fewer labels. A name of at most 255
    /// octets has at most 127 labels.
    fn zone_pointer(&self, labels: usize) -> Option<[u8; 2]> {
        let mut starts = [0usize; 128];
        let mut n = 0;
        let mut at = HEADER;
        while self.buf[at] != 0 {
            starts[n] = at;
            n += 1;
            at += 1 + usize::from(self.buf[at]);
        }
        let first = n.checked_sub(labels)?;
        // The root zone is the question name's final zero octet.
        let offset = if first == n { at } else { starts[first] };
        Some((0xc000 | offset as u16).to_be_bytes())
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
        self.buf[6..8].copy_from_slice(&self.answers.to_be_bytes());
        self.buf[8..10].copy_from_slice(&self.authorities.to_be_bytes());
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
        self.answers += 1;
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
