//! A zone in memory and RFC 1034 §4.3.2's lookup over it, as an authoritative server answers:
//! exact matches, CNAME chains inside the zone, DNAME synthesis (RFC 6672), wildcards with
//! their closest encloser (RFC 4592, empty non-terminals counted as existing), referrals at
//! delegations with glue, and DS answered by the parent side of a cut (RFC 4035 §3.1.4.1).
//!
//! Names are kept as lower-case presentation text with the final dot, the form
//! `Request::name` gives, so a lookup compares strings and builds no `Name`. Records are kept
//! packed ([`Set`]: each RRset's TTLs and record data in wire form, one allocation), not as
//! hickory `Record`s of 272 bytes each: a zone of a million A records took 560 MiB that way,
//! twice NSD's and Knot's. Answers on the full path decode the sets they use.

use std::collections::{HashMap, HashSet};

use crate::proto::op::ResponseCode;
use crate::proto::rr::{Name, RData, Record, RecordType};
use crate::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, Restrict,
};

/// How many CNAME or DNAME steps an answer follows inside the zone.
pub const MAX_CHAIN: usize = 8;

#[path = "signed.rs"]
mod signed;

/// The types a CNAME's owner may hold beside it: itself, and DNSSEC's (RFC 4035 §2.5).
const CNAME_COMPANIONS: [RecordType; 3] = [RecordType::CNAME, RecordType::RRSIG, RecordType::NSEC];

/// A loaded zone.
#[derive(Debug)]
pub struct Zone {
    /// The apex, lower-case, with the final dot.
    pub origin: String,
    /// Each owner's record sets, in file order.
    nodes: HashMap<Box<str>, Box<[Set]>>,
    /// Names that own nothing but have owners below them.
    empty_non_terminals: HashSet<Box<str>>,
    /// The apex SOA.
    soa: Record,
    /// How many records the zone holds.
    pub records: usize,
    /// The parents of wildcard owners (`example.org.` for `*.example.org.`).
    wildcard_parents: HashSet<Box<str>>,
    /// What the wire fast path writes; `None` when a name it needs has escapes in it.
    pub fast: Option<Fast>,
    /// Whether the zone holds signatures: a query with DO then gets them (`signed`).
    pub signed: bool,
    /// The owners of NSEC records in canonical order, each with its sort key, for the NSEC
    /// that covers a name that does not exist.
    nsec_chain: Vec<(Box<[u8]>, Box<str>)>,
}

/// The zone's SOA and apex NS as the wire fast path writes them.
#[derive(Debug)]
pub struct Fast {
    /// How many labels the apex has.
    pub zone_labels: usize,
    /// The apex NS records: TTL and target, presentation form.
    pub apex_ns: Vec<(u32, String)>,
    /// The SOA's TTL in a denial (RFC 2308 §3).
    pub negative_ttl: u32,
    /// The SOA's primary server.
    pub mname: String,
    /// The SOA's mailbox.
    pub rname: String,
    /// Serial, refresh, retry, expire, minimum.
    pub timers: [u32; 5],
}

/// One RRset, packed: for each record its TTL (4 octets), the length of its data (2) and the
/// data in wire form, names uncompressed.
#[derive(Debug)]
pub struct Set {
    rtype: RecordType,
    packed: Box<[u8]>,
}

impl Set {
    /// The set's type.
    pub fn rtype(&self) -> RecordType {
        self.rtype
    }

    /// Each record's TTL and data in wire form.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &[u8])> {
        entries(&self.packed)
    }

    /// The records, owned by `owner`.
    fn records(&self, owner: &Name) -> Vec<Record> {
        self.entries()
            .filter_map(|(ttl, data)| {
                let mut decoder = BinDecoder::new(data);
                let rdata =
                    RData::read(&mut decoder, self.rtype, Restrict::new(data.len() as u16)).ok()?;
                Some(Record::from_rdata(owner.clone(), ttl, rdata))
            })
            .collect()
    }
}

/// A set while the zone is built: its type, how many records it has, and their packed form.
type Building = (RecordType, usize, Vec<u8>);

/// The TTLs and data of packed records.
fn entries(packed: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let mut rest = packed;
    std::iter::from_fn(move || {
        let (ttl, tail) = rest.split_first_chunk::<4>()?;
        let (len, tail) = tail.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (data, tail) = tail.split_at_checked(len)?;
        rest = tail;
        Some((u32::from_be_bytes(*ttl), data))
    })
}

/// Record data in wire form, names uncompressed (they are read back on their own).
fn wire_data(data: &RData) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_canonical_form(true);
    data.emit(&mut encoder).ok()?;
    Some(buf)
}

/// The common answers, found without allocating: what [`Zone::quick`] gives.
#[derive(Debug, Clone, Copy)]
pub enum Quick<'a> {
    /// The records of the asked type at the asked name itself.
    Records(&'a Set),
    /// The name exists without records of that type.
    NoData,
    /// The name does not exist and no wildcard covers it.
    NxDomain,
}

/// What a lookup found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answer {
    /// The rcode.
    pub rcode: ResponseCode,
    /// Authoritative (not a referral).
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section.
    pub additional: Vec<Record>,
}

/// `name` (presentation form, final dot) without its first label; `None` for the root.
pub fn parent(name: &str) -> Option<&str> {
    if name == "." {
        return None;
    }
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'.' => return Some(if i + 1 >= name.len() { "." } else { &name[i + 1..] }),
            _ => i += 1,
        }
    }
    None
}

fn key(name: &Name) -> String {
    let mut text = name.to_lowercase().to_string();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

fn in_zone(origin: &str, name: &str) -> bool {
    crate::pkg::zone::is_subdomain(origin, name)
}

impl Zone {
    /// Builds the zone of `origin` from `records`, checking what RFC 1034 and 2181 require: one
    /// SOA at the apex, every owner inside the zone, and a CNAME alone at its name.
    pub fn new(origin: &Name, records: Vec<Record>) -> Result<Self, String> {
        let origin = key(origin);
        // Each record is packed as it is placed, so no second copy of the records is held: a
        // copy made of many small blocks would stay interleaved with the zone in the heap.
        let mut nodes: HashMap<Box<str>, Vec<Building>> = HashMap::new();
        let total = records.len();
        let mut soa: Option<Record> = None;
        for r in records {
            let owner = key(&r.name);
            if !in_zone(&origin, &owner) {
                return Err(format!("{owner} is out of zone {origin}"));
            }
            let rtype = r.record_type();
            let data = wire_data(&r.data)
                .ok_or_else(|| format!("{owner} {rtype}: data that does not encode"))?;
            let len = u16::try_from(data.len())
                .map_err(|_| format!("{owner} {rtype}: data over 64 KiB"))?;
            if rtype == RecordType::SOA && owner == origin {
                if soa.as_ref().is_some_and(|held| held.data != r.data) {
                    return Err(format!("{origin} has more than one SOA"));
                }
                soa = Some(r.clone());
            }
            let sets = nodes.entry(owner.into_boxed_str()).or_default();
            let at = match sets.iter().position(|(t, _, _)| *t == rtype) {
                Some(at) => at,
                None => {
                    sets.push((rtype, 0, Vec::new()));
                    sets.len() - 1
                }
            };
            let (_, count, packed) = &mut sets[at];
            // A record given twice is one record (RFC 2181 §5).
            if entries(packed).any(|(_, held)| held == data.as_slice()) {
                continue;
            }
            packed.extend_from_slice(&r.ttl.to_be_bytes());
            packed.extend_from_slice(&len.to_be_bytes());
            packed.extend_from_slice(&data);
            *count += 1;
        }
        for (owner, sets) in &nodes {
            if let Some((_, count, _)) = sets.iter().find(|(t, _, _)| *t == RecordType::CNAME) {
                // A signed zone's CNAME owner has its RRSIG and NSEC too (RFC 4035 §2.5).
                if sets.iter().any(|(t, _, _)| !CNAME_COMPANIONS.contains(t)) {
                    return Err(format!("{owner} has a CNAME and other data"));
                }
                if *count > 1 {
                    return Err(format!("{owner} has more than one CNAME"));
                }
            }
        }
        let Some(soa) = soa else { return Err(format!("no SOA record at the apex {origin}")) };
        let nodes: HashMap<Box<str>, Box<[Set]>> = nodes
            .into_iter()
            .map(|(owner, sets)| {
                let sets = sets
                    .into_iter()
                    .map(|(rtype, _, packed)| Set { rtype, packed: packed.into_boxed_slice() })
                    .collect::<Vec<_>>();
                (owner, sets.into_boxed_slice())
            })
            .collect();
        let mut empty_non_terminals: HashSet<Box<str>> = HashSet::new();
        for owner in nodes.keys() {
            let mut at = parent(owner);
            while let Some(p) = at.filter(|p| in_zone(&origin, p) && *p != origin) {
                if nodes.contains_key(p) || !empty_non_terminals.insert(p.into()) {
                    break;
                }
                at = parent(p);
            }
        }
        let wildcard_parents = nodes
            .keys()
            .filter(|k| k.starts_with("*."))
            .filter_map(|k| parent(k).map(Box::from))
            .collect();
        let holding =
            |rtype| nodes.iter().filter(move |(_, sets)| sets.iter().any(|s| s.rtype == rtype));
        let signed = holding(RecordType::RRSIG).next().is_some();
        let mut nsec_chain: Vec<_> = holding(RecordType::NSEC)
            .map(|(owner, _)| (signed::canonical_key(owner), owner.clone()))
            .collect();
        nsec_chain.sort_unstable();
        let mut zone = Self {
            origin,
            nodes,
            empty_non_terminals,
            soa,
            records: total,
            wildcard_parents,
            fast: None,
            signed,
            nsec_chain,
        };
        zone.fast = fast(&zone);
        Ok(zone)
    }

    /// The apex SOA.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// The SOA's serial.
    pub fn serial(&self) -> u32 {
        match &self.soa.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        }
    }

    /// The packed set of `rtype` at `name`.
    fn packed(&self, name: &str, rtype: RecordType) -> Option<&Set> {
        self.nodes.get(name)?.iter().find(|s| s.rtype == rtype)
    }

    /// The records of `rtype` at `name`, decoded.
    fn set(&self, name: &str, rtype: RecordType) -> Option<Vec<Record>> {
        let set = self.packed(name, rtype)?;
        Some(set.records(&Name::from_ascii(name).ok()?))
    }

    fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.empty_non_terminals.contains(name)
    }

    /// The closest existing ancestor of `name` (empty non-terminals count), the apex at most.
    fn closest_encloser<'a>(&self, name: &'a str) -> Option<&'a str> {
        let mut at = parent(name);
        while let Some(e) = at {
            if self.exists(e) || e == self.origin {
                return Some(e);
            }
            at = parent(e);
        }
        None
    }

    /// Every record, apex SOA first (for a transfer).
    pub fn all(&self) -> impl Iterator<Item = Record> + '_ {
        let rest = self.nodes.iter().flat_map(|(owner, sets)| {
            let name = Name::from_ascii(&**owner).ok();
            sets.iter()
                .filter(|s| s.rtype != RecordType::SOA)
                .flat_map(move |s| name.as_ref().map(|n| s.records(n)).unwrap_or_default())
        });
        std::iter::once(self.soa.clone()).chain(rest)
    }

    /// The answer to `name`/`qtype` when it is one of the common ones (records at the name
    /// itself, NODATA, NXDOMAIN without a wildcard); `None` for everything that takes the full
    /// lookup (a delegation or DNAME above the name, a CNAME, a wildcard, ANY).
    pub fn quick(&self, name: &str, qtype: RecordType) -> Option<Quick<'_>> {
        if qtype == RecordType::ANY {
            return None;
        }
        let mut at = Some(name);
        while let Some(n) = at.filter(|n| *n != self.origin && in_zone(&self.origin, n)) {
            if let Some(sets) = self.nodes.get(n) {
                let has = |t: RecordType| sets.iter().any(|s| s.rtype == t);
                let at_name = n == name;
                if (has(RecordType::NS) && !(at_name && qtype == RecordType::DS))
                    || (!at_name && has(RecordType::DNAME))
                    || (at_name && qtype != RecordType::CNAME && has(RecordType::CNAME))
                {
                    return None;
                }
            }
            at = parent(n);
        }
        if let Some(sets) = self.nodes.get(name) {
            return Some(match sets.iter().find(|s| s.rtype == qtype) {
                Some(set) => Quick::Records(set),
                None => Quick::NoData,
            });
        }
        if self.empty_non_terminals.contains(name) {
            return Some(Quick::NoData);
        }
        let encloser = self.closest_encloser(name);
        if encloser.is_some_and(|e| self.wildcard_parents.contains(e)) {
            return None;
        }
        Some(Quick::NxDomain)
    }

    /// Answers `qname` (lower-case, final dot, inside the zone) for `qtype`.
    pub fn lookup(&self, qname: &str, qtype: RecordType) -> Answer {
        let mut out = Answer { authoritative: true, ..Answer::default() };
        let mut name = qname.to_string();
        let mut seen: Vec<String> = Vec::new();
        loop {
            if seen.contains(&name) || seen.len() > MAX_CHAIN {
                return out;
            }
            seen.push(name.clone());
            match self.step(&name, qtype, &mut out) {
                Some(next) if in_zone(&self.origin, &next) => name = next,
                Some(_) => return out,
                None => return out,
            }
        }
    }

    /// One name of a chain: fills `out` and says which name to follow next, if any.
    fn step(&self, name: &str, qtype: RecordType, out: &mut Answer) -> Option<String> {
        // From the apex down to the name: a delegation or a DNAME above it decides first.
        let mut path: Vec<&str> = Vec::new();
        let mut at = Some(name);
        while let Some(n) = at.filter(|n| in_zone(&self.origin, n) && *n != self.origin) {
            path.push(n);
            at = parent(n);
        }
        for &node in path.iter().rev() {
            let at_name = node == name;
            if !(at_name && qtype == RecordType::DS)
                && let Some(ns) = self.set(node, RecordType::NS)
            {
                self.referral(&ns, out);
                return None;
            }
            if !at_name && let Some(dname) = self.set(node, RecordType::DNAME) {
                let target = dname_target(&dname[0])?;
                let prefix = &name[..name.len() - node.len()];
                let synthesized = format!("{prefix}{}", if target == "." { "" } else { &target });
                out.answers.push(dname[0].clone());
                let owner = Name::from_ascii(name).ok()?;
                let cname = Name::from_ascii(&synthesized).ok()?;
                out.answers.push(Record::from_rdata(
                    owner,
                    dname[0].ttl,
                    RData::CNAME(crate::proto::rr::rdata::CNAME(cname)),
                ));
                return Some(synthesized.to_ascii_lowercase());
            }
        }
        if self.nodes.contains_key(name) {
            return self.at_node(name, name, qtype, out);
        }
        if self.empty_non_terminals.contains(name) {
            self.no_data(out);
            return None;
        }
        // The closest encloser, and the wildcard below it.
        let encloser = self.closest_encloser(name);
        let wildcard = encloser.map(|e| format!("*.{e}"));
        if let Some(w) = wildcard.filter(|w| self.nodes.contains_key(w.as_str())) {
            return self.at_node(&w, name, qtype, out);
        }
        out.rcode = ResponseCode::NXDomain;
        out.authority = vec![self.negative_soa()];
        None
    }

    /// The records of `node` for `qtype`, owned by `owner` (the asked name, for a wildcard).
    fn at_node(
        &self,
        node: &str,
        owner: &str,
        qtype: RecordType,
        out: &mut Answer,
    ) -> Option<String> {
        let owned = |r: &Record| {
            let mut r = r.clone();
            if node != owner
                && let Ok(n) = Name::from_ascii(owner)
            {
                r.name = n;
            }
            r
        };
        if qtype != RecordType::CNAME
            && let Some(cname) = self.set(node, RecordType::CNAME)
        {
            out.answers.push(owned(&cname[0]));
            let RData::CNAME(target) = &cname[0].data else { return None };
            return Some(key(&target.0));
        }
        let sets = self.nodes.get(node)?;
        let node_name = Name::from_ascii(node).ok()?;
        let found: Vec<Record> = sets
            .iter()
            .filter(|s| qtype == RecordType::ANY || s.rtype == qtype)
            .flat_map(|s| s.records(&node_name))
            .collect();
        if found.is_empty() {
            self.no_data(out);
            return None;
        }
        out.answers.extend(found.iter().map(owned));
        for r in &found {
            let target = match &r.data {
                RData::MX(mx) => &mx.exchange,
                RData::SRV(srv) => &srv.target,
                RData::NS(ns) => &ns.0,
                _ => continue,
            };
            self.glue(&key(target), &mut out.additional);
        }
        if !(qtype == RecordType::NS && node == self.origin)
            && let Some(ns) = self.set(&self.origin, RecordType::NS)
        {
            out.authority = ns;
        }
        None
    }

    /// NODATA: the SOA in the authority section.
    fn no_data(&self, out: &mut Answer) {
        out.authority = vec![self.negative_soa()];
    }

    /// The SOA of a denial, its TTL the lesser of its own and its MINIMUM (RFC 2308 §3), so a
    /// denial is cached no longer than the zone says.
    fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::SOA(data) = &self.soa.data {
            soa.ttl = soa.ttl.min(data.minimum);
        }
        soa
    }

    /// A referral to the zone cut at `cut`: its NS records, and the addresses of name servers
    /// inside the zone as glue.
    fn referral(&self, ns: &[Record], out: &mut Answer) {
        out.authoritative = !out.answers.is_empty();
        out.authority = ns.to_vec();
        for r in ns {
            if let RData::NS(target) = &r.data {
                self.glue(&key(&target.0), &mut out.additional);
            }
        }
    }

    /// The A and AAAA records of `target`, if it is in the zone, added once.
    fn glue(&self, target: &str, additional: &mut Vec<Record>) {
        if !in_zone(&self.origin, target) {
            return;
        }
        for t in [RecordType::A, RecordType::AAAA] {
            for r in self.set(target, t).into_iter().flatten() {
                if !additional.contains(&r) {
                    additional.push(r);
                }
            }
        }
    }
}

/// The fast path's SOA and apex NS; `None` if a name among them has an escape (`\.`), which
/// the wire writer does not spell out.
fn fast(zone: &Zone) -> Option<Fast> {
    let origin = zone.origin.as_str();
    let RData::SOA(data) = &zone.soa.data else { return None };
    let plain = |n: &Name| {
        let text = key(n);
        (!text.contains('\\')).then_some(text)
    };
    let apex_ns = zone
        .set(origin, RecordType::NS)
        .unwrap_or_default()
        .iter()
        .map(|r| match &r.data {
            RData::NS(ns) => plain(&ns.0).map(|t| (r.ttl, t)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if origin.contains('\\') {
        return None;
    }
    let zone_labels = if origin == "." { 0 } else { origin.matches('.').count() };
    Some(Fast {
        zone_labels,
        apex_ns,
        negative_ttl: zone.soa.ttl.min(data.minimum),
        mname: plain(&data.mname)?,
        rname: plain(&data.rname)?,
        timers: [
            data.serial,
            data.refresh as u32,
            data.retry as u32,
            data.expire as u32,
            data.minimum,
        ],
    })
}

/// The target of a DNAME record (kept in wire form: hickory has no DNAME type).
fn dname_target(r: &Record) -> Option<String> {
    let RData::Unknown { rdata, .. } = &r.data else { return None };
    let name = Name::from_bytes(&rdata.anything).ok()?;
    Some(key(&name))
}
