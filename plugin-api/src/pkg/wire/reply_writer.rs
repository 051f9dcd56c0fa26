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
//! the question), its names ending in the same pointer; SRV and PTR targets in full, as RFC
//! 2782 forbids compressing the SRV target, with the additional addresses of an SRV target
//! owned by a pointer to it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::WireReply;
use crate::Request;

const HEADER: usize = 12;
/// A pointer to offset 12, where the question's name starts.
const QUESTION_NAME: [u8; 2] = [0xc0, 0x0c];

/// An authoritative reply being written, section by section: answers, then authority, then
/// additional records. A record for an earlier section after a later one is ignored (and
/// flagged in debug builds): the counts in the header would no longer describe the bytes.
pub struct ReplyWriter {
    buf: Vec<u8>,
    /// How each answer's owner is written: a pointer, or the lower-cased name in full the
    /// first time and a pointer to it after.
    owner: Owner,
    /// Records in the answer, authority and additional sections.
    counts: [u16; 3],
    /// Where the question's name ends (just past its root label).
    qname_end: usize,
    /// The class records are written in: the query's.
    class: DNSClass,
}

const ANSWER: usize = 0;
const AUTHORITY: usize = 1;
const ADDITIONAL: usize = 2;

/// The SOA of a zone that is a suffix of the query name, owned by the zone as the client spelt
/// it.
#[derive(Debug, Clone, Copy)]
pub struct ZoneSoa<'a> {
    /// How many labels of the query name, from the right, make the zone.
    pub zone_labels: usize,
    /// The record's TTL.
    pub ttl: u32,
    /// The primary server and the mailbox.
    pub names: SoaNames<'a>,
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

/// How an SOA's two names are given.
#[derive(Debug, Clone, Copy)]
pub enum SoaNames<'a> {
    /// As the labels before the zone (`ns.dns`, `hostmaster`), the zone following in the
    /// client's spelling (*kubernetes*).
    UnderZone {
        /// The primary server's labels (`ns.dns`).
        mname: &'a str,
        /// The mailbox's labels (`hostmaster`).
        rname: &'a str,
    },
    /// In full, in presentation form (`localhost.`, `root.localhost.`), whatever the zone
    /// (*local*).
    Absolute {
        /// The primary server.
        mname: &'a str,
        /// The mailbox.
        rname: &'a str,
    },
}

/// The section a record owned by a zone goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The answer section (an SOA or NS query at the apex).
    Answer,
    /// The authority section (a denial's SOA).
    Authority,
}

enum Owner {
    Pointer([u8; 2]),
    FirstInFull,
}

impl ReplyWriter {
    /// Starts the reply to `req`: its id, RD and CD, QR and AA, and its question. `None` when
    /// the query has no question or is not in class IN.
    pub fn new(req: &Request) -> Option<Self> {
        if req.qclass() != DNSClass::IN {
            return None;
        }
        Self::in_query_class(req)
    }

    /// [`ReplyWriter::new`] for a query in any class, its records in that class (*chaos*'s
    /// CH answers). `None` when the query has no question.
    pub fn in_query_class(req: &Request) -> Option<Self> {
        if req.qname_wire().is_empty() {
            return None;
        }
        let q = req.metadata();
        let mut buf = super::reply_buffer(HEADER + req.name().len() + 6 + 4 * 28);
        buf.extend_from_slice(&q.id.to_be_bytes());
        // QR, opcode QUERY, AA, RD as asked; RA clear; AD clear; CD as asked; NOERROR.
        buf.push(0x84 | u8::from(q.recursion_desired));
        buf.push(if q.checking_disabled { 0x10 } else { 0 });
        buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        // The name as the client sent it, kept by the request in wire form: one copy.
        buf.extend_from_slice(req.qname_wire());
        let lower = req.qname_is_lower();
        let qname_end = buf.len();
        buf.extend_from_slice(&u16::from(req.qtype()).to_be_bytes());
        buf.extend_from_slice(&u16::from(req.qclass()).to_be_bytes());
        let owner = if lower { Owner::Pointer(QUESTION_NAME) } else { Owner::FirstInFull };
        Some(Self { buf, owner, counts: [0; 3], qname_end, class: req.qclass() })
    }

    /// Owns the answers by the query name exactly as the client wrote it, as *kubernetes* does
    /// (CoreDNS's `state.QName()`), rather than lower-cased.
    pub fn owned_as_asked(mut self) -> Self {
        self.owner = Owner::Pointer(QUESTION_NAME);
        self
    }

    /// Clears AA, for replies CoreDNS writes without it (*local*'s, made by `SetReply` alone).
    pub fn not_authoritative(mut self) -> Self {
        self.buf[2] &= !0x04;
        self
    }

    /// Sets the rcode (NXDOMAIN, SERVFAIL: those of the header's four bits).
    pub fn rcode(&mut self, rcode: ResponseCode) {
        self.buf[3] = (self.buf[3] & 0xf0) | (u16::from(rcode) & 0x0f) as u8;
    }

    /// Adds an A answer.
    pub fn a(&mut self, ttl: u32, addr: Ipv4Addr) {
        if let Some(at) = self.answer(RecordType::A, ttl) {
            self.buf.extend_from_slice(&addr.octets());
            self.end(at);
        }
    }

    /// Adds an AAAA answer.
    pub fn aaaa(&mut self, ttl: u32, addr: Ipv6Addr) {
        if let Some(at) = self.answer(RecordType::AAAA, ttl) {
            self.buf.extend_from_slice(&addr.octets());
            self.end(at);
        }
    }

    /// Adds a TXT answer of one character-string, `text` cut to its 255 octets.
    pub fn txt(&mut self, ttl: u32, text: &[u8]) {
        if let Some(at) = self.answer(RecordType::TXT, ttl) {
            let text = &text[..text.len().min(255)];
            self.buf.push(text.len() as u8);
            self.buf.extend_from_slice(text);
            self.end(at);
        }
    }

    /// Adds an SRV answer whose target is `labels` followed by the last `zone_labels` labels
    /// of the question's name, written in full. Returns where the target sits, for
    /// [`ReplyWriter::additional_address`]; `None` (nothing written) if the question has fewer
    /// labels than the zone or the section is past.
    pub fn srv(
        &mut self,
        ttl: u32,
        (priority, weight, port): (u16, u16, u16),
        labels: &[&str],
        zone_labels: usize,
    ) -> Option<usize> {
        let zone = self.zone_offset(zone_labels)?;
        let at = self.answer(RecordType::SRV, ttl)?;
        for value in [priority, weight, port] {
            self.buf.extend_from_slice(&value.to_be_bytes());
        }
        let target = self.buf.len();
        self.labels(labels.iter().copied());
        self.buf.extend_from_within(zone..self.qname_end);
        self.end(at);
        Some(target)
    }

    /// Adds a PTR answer pointing at the name made of `labels` (the root is added).
    pub fn ptr<'a>(&mut self, ttl: u32, labels: impl IntoIterator<Item = &'a str>) {
        if let Some(at) = self.answer(RecordType::PTR, ttl) {
            self.labels(labels);
            self.buf.push(0);
            self.end(at);
        }
    }

    /// Adds `soa` to the authority section (a denial's SOA). Does nothing if the query name
    /// has fewer labels than the zone.
    pub fn soa(&mut self, soa: &ZoneSoa<'_>) {
        self.soa_in(Section::Authority, soa);
    }

    /// Adds `soa` to `section`: the answer, for an SOA query at the apex, or the authority.
    /// Does nothing if the query name has fewer labels than the zone.
    pub fn soa_in(&mut self, section: Section, soa: &ZoneSoa<'_>) {
        let Some(zone) = self.zone_offset(soa.zone_labels) else { return };
        let zone = pointer(zone);
        let section = match section {
            Section::Answer => ANSWER,
            Section::Authority => AUTHORITY,
        };
        let Some(at) = self.begin(section, &zone, RecordType::SOA, soa.ttl) else { return };
        match soa.names {
            SoaNames::UnderZone { mname, rname } => {
                for name in [mname, rname] {
                    self.labels(crate::pkg::zone::split_dots(name).filter(|l| !l.is_empty()));
                    self.buf.extend_from_slice(&zone);
                }
            }
            SoaNames::Absolute { mname, rname } => {
                self.absolute_name(mname);
                self.absolute_name(rname);
            }
        }
        for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
            self.buf.extend_from_slice(&value.to_be_bytes());
        }
        self.end(at);
    }

    /// Adds an NS answer owned by the last `zone_labels` labels of the question's name as the
    /// client wrote them, naming `target` (presentation form) in full. Does nothing if the name
    /// has fewer labels.
    pub fn ns(&mut self, zone_labels: usize, ttl: u32, target: &str) {
        self.ns_in(Section::Answer, zone_labels, ttl, target);
    }

    /// [`ReplyWriter::ns`] into `section`: the authority section of an authoritative answer
    /// carries the zone's name servers (*file*).
    pub fn ns_in(&mut self, section: Section, zone_labels: usize, ttl: u32, target: &str) {
        let Some(zone) = self.zone_offset(zone_labels) else { return };
        let section = match section {
            Section::Answer => ANSWER,
            Section::Authority => AUTHORITY,
        };
        if let Some(at) = self.begin(section, &pointer(zone), RecordType::NS, ttl) {
            self.absolute_name(target);
            self.end(at);
        }
    }

    /// Adds an A or AAAA record to the additional section, owned by the name written at
    /// `owner` (what [`ReplyWriter::srv`] returned).
    pub fn additional_address(&mut self, owner: usize, ttl: u32, addr: IpAddr) {
        let (rtype, octets): (_, &[u8]) = match &addr {
            IpAddr::V4(v4) => (RecordType::A, &v4.octets()),
            IpAddr::V6(v6) => (RecordType::AAAA, &v6.octets()),
        };
        if let Some(at) = self.begin(ADDITIONAL, &pointer(owner), rtype, ttl) {
            self.buf.extend_from_slice(octets);
            self.end(at);
        }
    }

    /// The finished reply.
    pub fn finish(mut self) -> WireReply {
        for (section, count) in self.counts.into_iter().enumerate() {
            let at = 6 + 2 * section;
            self.buf[at..at + 2].copy_from_slice(&count.to_be_bytes());
        }
        WireReply(self.buf)
    }

    /// Starts an answer owned by the query name: see [`Owner`].
    fn answer(&mut self, rtype: RecordType, ttl: u32) -> Option<usize> {
        let owner = match self.owner {
            Owner::Pointer(pointer) => pointer,
            Owner::FirstInFull => {
                if self.counts[AUTHORITY] + self.counts[ADDITIONAL] > 0 {
                    return None;
                }
                let at = self.buf.len();
                // The question's name, lower-cased: same labels, so copy and fold (length
                // octets are below 64, never an upper-case letter).
                self.buf.extend_from_within(HEADER..self.qname_end);
                self.buf[at..].make_ascii_lowercase();
                // Right after one question, so well below the 0x3fff a pointer can reach.
                self.owner = Owner::Pointer(pointer(at));
                return self.begin(ANSWER, &[], rtype, ttl);
            }
        };
        self.begin(ANSWER, &owner, rtype, ttl)
    }

    /// Writes a record's owner (already-encoded octets), type, class and TTL, and room for its
    /// length; returns where the length goes, for [`ReplyWriter::end`].
    fn begin(
        &mut self,
        section: usize,
        owner: &[u8],
        rtype: RecordType,
        ttl: u32,
    ) -> Option<usize> {
        if self.counts[section + 1..].iter().any(|&c| c > 0) {
            debug_assert!(false, "a record for section {section} after a later section");
            return None;
        }
        self.buf.extend_from_slice(owner);
        self.buf.extend_from_slice(&u16::from(rtype).to_be_bytes());
        self.buf.extend_from_slice(&u16::from(self.class).to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        self.counts[section] += 1;
        Some(self.buf.len() - 2)
    }

    /// Fills in the length of the record whose length field is at `at`.
    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at - 2) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// Writes a name given in presentation form, root included.
    fn absolute_name(&mut self, name: &str) {
        self.labels(crate::pkg::zone::split_dots(name).filter(|l| !l.is_empty()));
        self.buf.push(0);
    }

    /// Writes labels (cut to 63 octets, the most a label holds), without the root.
    fn labels<'a>(&mut self, labels: impl IntoIterator<Item = &'a str>) {
        for label in labels {
            let label = &label.as_bytes()[..label.len().min(63)];
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label);
        }
    }

    /// Where the last `labels` labels of the question's name start (for the root zone, the
    /// name's final zero octet); `None` if the name has fewer labels. Two walks over the
    /// length octets: a table of label starts was a kilobyte to zero on every SRV answer and
    /// every negative one.
    fn zone_offset(&self, labels: usize) -> Option<usize> {
        let name = &self.buf[HEADER..self.qname_end];
        let starts = || {
            let mut at = 0;
            std::iter::from_fn(move || {
                let size = usize::from(*name.get(at)?);
                let start = at;
                at += 1 + size;
                (size != 0).then_some(HEADER + start)
            })
        };
        let first = starts().count().checked_sub(labels)?;
        Some(starts().nth(first).unwrap_or(self.qname_end - 1))
    }
}

/// A compression pointer to `offset`.
fn pointer(offset: usize) -> [u8; 2] {
    (0xc000 | offset as u16).to_be_bytes()
}
