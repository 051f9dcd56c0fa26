//! A signed zone's answers to a query with the DO bit, as CoreDNS's *file* gives them: every
//! RRset in the reply with the signatures that cover it, NODATA and NXDOMAIN with the NSEC
//! records that prove them, a wildcard answer with the NSEC that shows the asked name does not
//! exist, and a referral with the cut's DS, or its NSEC when it has none (RFC 4035 §3.1).
//!
//! The lookup finds the records as for any query ([`Zone::lookup`]); [`Zone::add_dnssec`] then
//! adds what DO asks for. NSEC3 chains are not used for denials, as in CoreDNS (the records are
//! served when asked for).

use crate::proto::op::ResponseCode;
use crate::proto::rr::{Name, RData, Record, RecordType};

use super::{Answer, Zone, key};

/// A name's canonical sort key (RFC 4034 §6.1): its labels from the root, each followed by a
/// zero octet, so that octet-wise comparison of keys is the canonical order.
pub(super) fn canonical_key(name: &str) -> Box<[u8]> {
    let Ok(name) = Name::from_ascii(name) else { return Box::default() };
    let mut key = Vec::with_capacity(name.len() + 1);
    for label in name.iter().rev() {
        key.extend(label.iter().map(u8::to_ascii_lowercase));
        key.push(0);
    }
    key.into_boxed_slice()
}

impl Zone {
    /// Adds to `out`, the lookup's answer to `qname`, the signatures and denial records a
    /// query with the DO bit gets.
    pub fn add_dnssec(&self, qname: &str, out: &mut Answer) {
        let mut denial: Vec<Record> = Vec::new();
        // A referral's authority is the cut's NS (a positive answer's, the apex NS); a
        // denial's, the SOA, after any CNAMEs that led to it.
        let referral = out
            .authority
            .first()
            .is_some_and(|r| r.record_type() == RecordType::NS && key(&r.name) != self.origin);
        let negative = out.authority.iter().any(|r| r.record_type() == RecordType::SOA);
        let no_data = out.rcode == ResponseCode::NoError && negative;
        if referral {
            // The cut's DS, or the NSEC that proves it has none.
            if let Some(cut) = out.authority.first().map(|r| key(&r.name)) {
                let ds = self.records_at(&cut, RecordType::DS);
                denial = if ds.is_empty() { self.records_at(&cut, RecordType::NSEC) } else { ds };
            }
        } else if out.rcode == ResponseCode::NXDomain || no_data {
            let last = self.last_name(qname, out);
            let owner = self.node_for(&last).filter(|n| self.nodes.contains_key(n.as_str()));
            if let Some(node) = owner.filter(|_| no_data) {
                // The name (or the wildcard that stands for it) exists: its own NSEC lists
                // what it holds.
                denial = self.records_at(&node, RecordType::NSEC);
            } else {
                // No such name, or an empty non-terminal: the NSEC that covers it; for no such
                // name, the one that covers the wildcard that could have answered too.
                self.push_covering(&last, &mut denial);
                if let Some(encloser) = self.closest_encloser(&last).filter(|_| !no_data) {
                    self.push_covering(&format!("*.{encloser}"), &mut denial);
                }
            }
        } else if !self.nodes.contains_key(qname)
            && out.answers.first().is_some_and(|r| key(&r.name) == qname)
        {
            // A wildcard answered: the asked name itself does not exist.
            self.push_covering(qname, &mut denial);
        }
        out.authority.extend(denial);
        for section in [&mut out.answers, &mut out.authority, &mut out.additional] {
            let signatures = self.signatures_for(section);
            section.extend(signatures);
        }
    }

    /// The name the lookup ended at: the last CNAME's target in the answer, else `qname`.
    fn last_name(&self, qname: &str, out: &Answer) -> String {
        let target = out.answers.iter().rev().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(key(&c.0)),
            _ => None,
        });
        target.filter(|t| super::in_zone(&self.origin, t)).unwrap_or_else(|| qname.to_string())
    }

    /// The node whose records answer for `name`: itself, or the wildcard below its closest
    /// encloser; `None` if neither exists.
    fn node_for(&self, name: &str) -> Option<String> {
        if self.nodes.contains_key(name) || self.empty_non_terminals.contains(name) {
            return Some(name.to_string());
        }
        let wildcard = format!("*.{}", self.closest_encloser(name)?);
        self.nodes.contains_key(wildcard.as_str()).then_some(wildcard)
    }

    /// The records of `rtype` at `name`, decoded, or none.
    fn records_at(&self, name: &str, rtype: RecordType) -> Vec<Record> {
        self.set(name, rtype).unwrap_or_default()
    }

    /// Adds the NSEC whose span covers `name` (the last owner before it in canonical order),
    /// unless it is there already.
    fn push_covering(&self, name: &str, out: &mut Vec<Record>) {
        let key = canonical_key(name);
        let before = self.nsec_chain.partition_point(|(k, _)| **k < *key);
        let at = if before == 0 { self.nsec_chain.len() } else { before };
        let Some((_, owner)) = at.checked_sub(1).and_then(|i| self.nsec_chain.get(i)) else {
            return;
        };
        for r in self.records_at(owner, RecordType::NSEC) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }

    /// The RRSIGs of every RRset in `section`, owned as the set is (a wildcard's signatures
    /// under the name it answered), in the order the sets come.
    fn signatures_for(&self, section: &[Record]) -> Vec<Record> {
        let mut seen: Vec<(String, RecordType)> = Vec::new();
        let mut signatures = Vec::new();
        for r in section {
            let owner = key(&r.name);
            let rtype = r.record_type();
            if rtype == RecordType::RRSIG || seen.contains(&(owner.clone(), rtype)) {
                continue;
            }
            let Some(node) = self.node_for(&owner) else { continue };
            for mut sig in self.records_at(&node, RecordType::RRSIG) {
                if covered(&sig) == Some(u16::from(rtype)) {
                    // Owned and timed as the set it covers (a denial's SOA has its TTL cut to
                    // MINIMUM; RFC 4035 §2.2 has the two TTLs match).
                    sig.name = r.name.clone();
                    sig.ttl = r.ttl;
                    signatures.push(sig);
                }
            }
            seen.push((owner, rtype));
        }
        signatures
    }
}

/// The type an RRSIG covers: the first two octets of its data.
fn covered(sig: &Record) -> Option<u16> {
    let RData::Unknown { rdata, .. } = &sig.data else { return None };
    let first = rdata.anything.get(..2)?;
    Some(u16::from_be_bytes([first[0], first[1]]))
}
