//! A zone in memory and RFC 1034 §4.3.2's lookup over it, as an authoritative server answers:
//! exact matches, CNAME chains inside the zone, DNAME synthesis (RFC 6672), wildcards with
//! their closest encloser (RFC 4592, empty non-terminals counted as existing), referrals at
//! delegations with glue, and DS answered by the parent side of a cut (RFC 4035 §3.1.4.1).
//!
//! Names are kept as lower-case presentation text with the final dot, the form
//! `Request::name` gives, so a lookup compares strings and builds no `Name`.

use std::collections::{HashMap, HashSet};

use crate::proto::op::ResponseCode;
use crate::proto::rr::{Name, RData, Record, RecordType};

/// How many CNAME or DNAME steps an answer follows inside the zone.
pub const MAX_CHAIN: usize = 8;

/// A loaded zone.
#[derive(Debug)]
pub struct Zone {
    /// The apex, lower-case, with the final dot.
    pub origin: String,
    /// Each owner's records, by type, in file order.
    nodes: HashMap<String, Vec<(RecordType, Vec<Record>)>>,
    /// Names that own nothing but have owners below them.
    empty_non_terminals: HashSet<String>,
    /// The apex SOA.
    soa: Record,
    /// How many records the zone holds.
    pub records: usize,
    /// The parents of wildcard owners (`example.org.` for `*.example.org.`).
    wildcard_parents: HashSet<String>,
    /// What the wire fast path writes; `None` when a name it needs has escapes in it.
    pub fast: Option<Fast>,
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

/// The common answers, found without allocating: what [`Zone::quick`] gives.
#[derive(Debug, Clone, Copy)]
pub enum Quick<'a> {
    /// The records of the asked type at the asked name itself.
    Records(&'a [Record]),
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
        let mut nodes: HashMap<String, Vec<(RecordType, Vec<Record>)>> = HashMap::new();
        let total = records.len();
        for r in records {
            let owner = key(&r.name);
            if !in_zone(&origin, &owner) {
                return Err(format!("{owner} is out of zone {origin}"));
            }
            let sets = nodes.entry(owner).or_default();
            let rtype = r.record_type();
            match sets.iter_mut().find(|(t, _)| *t == rtype) {
                // A record given twice is one record (RFC 2181 §5).
                Some((_, set)) if set.iter().any(|h| h.data == r.data) => {}
                Some((_, set)) => set.push(r),
                None => sets.push((rtype, vec![r])),
            }
        }
        for (owner, sets) in &nodes {
            if sets.iter().any(|(t, _)| *t == RecordType::CNAME) {
                if sets.len() > 1 {
                    return Err(format!("{owner} has a CNAME and other data"));
                }
                if sets[0].1.len() > 1 {
                    return Err(format!("{owner} has more than one CNAME"));
                }
            }
        }
        let soa =
            match nodes.get(&origin).and_then(|s| s.iter().find(|(t, _)| *t == RecordType::SOA)) {
                Some((_, set)) if set.len() == 1 => set[0].clone(),
                Some(_) => return Err(format!("{origin} has more than one SOA")),
                None => return Err(format!("no SOA record at the apex {origin}")),
            };
        let mut empty_non_terminals = HashSet::new();
        for owner in nodes.keys() {
            let mut at = parent(owner);
            while let Some(p) = at.filter(|p| in_zone(&origin, p) && *p != origin) {
                if nodes.contains_key(p) || !empty_non_terminals.insert(p.to_string()) {
                    break;
                }
                at = parent(p);
            }
        }
        let wildcard_parents = nodes
            .keys()
            .filter(|k| k.starts_with("*."))
            .filter_map(|k| parent(k).map(str::to_string))
            .collect();
        let fast = fast(&origin, &nodes, &soa);
        Ok(Self { origin, nodes, empty_non_terminals, soa, records: total, wildcard_parents, fast })
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

    fn set(&self, name: &str, rtype: RecordType) -> Option<&[Record]> {
        let sets = self.nodes.get(name)?;
        sets.iter().find(|(t, _)| *t == rtype).map(|(_, s)| s.as_slice())
    }

    fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.empty_non_terminals.contains(name)
    }

    /// Every record, apex SOA first (for a transfer).
    pub fn all(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(&self.soa).chain(
            self.nodes
                .values()
                .flatten()
                .flat_map(|(_, s)| s)
                .filter(|r| r.record_type() != RecordType::SOA),
        )
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
                let has = |t: RecordType| sets.iter().any(|(rt, _)| *rt == t);
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
            return Some(match sets.iter().find(|(t, _)| *t == qtype) {
                Some((_, set)) => Quick::Records(set),
                None => Quick::NoData,
            });
        }
        if self.empty_non_terminals.contains(name) {
            return Some(Quick::NoData);
        }
        let mut encloser = parent(name);
        while let Some(e) = encloser {
            if self.exists(e) || e == self.origin {
                break;
            }
            encloser = parent(e);
        }
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
            if let Some(ns) = self.set(node, RecordType::NS)
                && !(at_name && qtype == RecordType::DS)
            {
                self.referral(node, ns, out);
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
        let mut encloser = parent(name);
        while let Some(e) = encloser {
            if self.exists(e) || e == self.origin {
                break;
            }
            encloser = parent(e);
        }
        let wildcard = encloser.map(|e| format!("*.{e}"));
        if let Some(w) = wildcard.filter(|w| self.nodes.contains_key(w)) {
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
        let found: Vec<&Record> = match qtype {
            RecordType::ANY => sets.iter().flat_map(|(_, s)| s).collect(),
            t => sets.iter().filter(|(rt, _)| *rt == t).flat_map(|(_, s)| s).collect(),
        };
        if found.is_empty() {
            self.no_data(out);
            return None;
        }
        out.answers.extend(found.iter().map(|r| owned(r)));
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
            out.authority = ns.to_vec();
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
    fn referral(&self, _cut: &str, ns: &[Record], out: &mut Answer) {
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
                if !additional.contains(r) {
                    additional.push(r.clone());
                }
            }
        }
    }
}

/// The fast path's SOA and apex NS; `None` if a name among them has an escape (`\.`), which
/// the wire writer does not spell out.
fn fast(
    origin: &str,
    nodes: &HashMap<String, Vec<(RecordType, Vec<Record>)>>,
    soa: &Record,
) -> Option<Fast> {
    let RData::SOA(data) = &soa.data else { return None };
    let plain = |n: &Name| {
        let text = key(n);
        (!text.contains('\\')).then_some(text)
    };
    let apex_ns = nodes
        .get(origin)
        .and_then(|s| s.iter().find(|(t, _)| *t == RecordType::NS))
        .map(|(_, set)| set.as_slice())
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
        negative_ttl: soa.ttl.min(data.minimum),
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
    use crate::proto::serialize::binary::BinDecodable;
    let name = Name::from_bytes(&rdata.anything).ok()?;
    Some(key(&name))
}
