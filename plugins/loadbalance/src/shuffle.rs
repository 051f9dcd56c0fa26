//! Reordering a section's records, as CoreDNS's *loadbalance* does.

use std::net::IpAddr;

use plugin_api::pkg::zone::cidr_contains;
use plugin_api::proto::rr::{RData, Record, RecordType};

/// A pseudo-random number below `limit`.
pub fn random_below(limit: usize) -> usize {
    plugin_api::pkg::random::below(limit)
}

/// A section split by record type, each group in its original order.
#[derive(Default)]
pub struct Groups {
    /// CNAME records.
    pub cname: Vec<Record>,
    /// A and AAAA records.
    pub address: Vec<Record>,
    /// MX records.
    pub mx: Vec<Record>,
    /// Everything else.
    pub rest: Vec<Record>,
}

/// Empties `section` into its groups.
pub fn split(section: &mut Vec<Record>) -> Groups {
    let mut g = Groups::default();
    for r in section.drain(..) {
        match r.record_type() {
            RecordType::CNAME => g.cname.push(r),
            RecordType::A | RecordType::AAAA => g.address.push(r),
            RecordType::MX => g.mx.push(r),
            _ => g.rest.push(r),
        }
    }
    g
}

fn is_address(r: &Record) -> bool {
    matches!(r.record_type(), RecordType::A | RecordType::AAAA)
}

/// Shuffles a section: all A (or all AAAA) records are shuffled in place; a mixed section
/// becomes CNAMEs (in order), then the other records (in order), then the shuffled address
/// records, then the shuffled MX records.
pub fn round_robin(section: &mut Vec<Record>) {
    if section.len() <= 1 {
        return;
    }
    let first = section[0].record_type();
    if matches!(first, RecordType::A | RecordType::AAAA)
        && section.iter().all(|r| r.record_type() == first)
    {
        shuffle(section);
        return;
    }
    let mut g = split(section);
    shuffle(&mut g.address);
    shuffle(&mut g.mx);
    section.extend(g.cname);
    section.extend(g.rest);
    section.extend(g.address);
    section.extend(g.mx);
}

/// A Fisher–Yates shuffle.
fn shuffle(records: &mut [Record]) {
    for i in (1..records.len()).rev() {
        records.swap(i, random_below(i + 1));
    }
}

/// Moves address records inside `subnets` to the front of the addresses, in the order of the
/// subnets; then CNAMEs first, MX and the rest after the addresses (CoreDNS's `prefer`).
pub fn prefer(section: &mut Vec<Record>, subnets: &[(IpAddr, u8)]) {
    if !section.iter().any(is_address) {
        return;
    }
    let g = split(section);
    let mut address: Vec<Option<Record>> = g.address.into_iter().map(Some).collect();
    let mut sorted = Vec::with_capacity(address.len());
    for subnet in subnets {
        for slot in address.iter_mut() {
            if slot.as_ref().and_then(address_of).is_some_and(|ip| cidr_contains(*subnet, ip)) {
                sorted.extend(slot.take());
            }
        }
    }
    sorted.extend(address.into_iter().flatten());
    section.extend(g.cname);
    section.extend(sorted);
    section.extend(g.mx);
    section.extend(g.rest);
}

/// The address an A or AAAA record holds.
pub fn address_of(r: &Record) -> Option<IpAddr> {
    match &r.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use plugin_api::test_util::rr;

    use super::*;

    fn types(section: &[Record]) -> Vec<String> {
        section.iter().map(|r| r.record_type().to_string()).collect()
    }

    #[test]
    fn mixed_sections_are_grouped() {
        let mut s = vec![
            rr("a.test. 60 IN A 10.0.0.1"),
            rr("a.test. 60 IN MX 10 mx.test."),
            rr("a.test. 60 IN CNAME b.test."),
            rr("a.test. 60 IN TXT \"x\""),
            rr("a.test. 60 IN AAAA ::1"),
        ];
        round_robin(&mut s);
        let mut t = types(&s);
        // The addresses are shuffled together: A and AAAA in either order.
        t[2..4].sort();
        assert_eq!(t, ["CNAME", "TXT", "A", "AAAA", "MX"].map(String::from));
    }

    #[test]
    fn every_order_turns_up() {
        let base: Vec<Record> =
            (1..=3).map(|i| rr(&format!("a.test. 60 IN A 10.0.0.{i}"))).collect();
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..300 {
            let mut s = base.clone();
            round_robin(&mut s);
            let mut sorted: Vec<String> = s.iter().map(|r| r.data.to_string()).collect();
            firsts.insert(sorted[0].clone());
            sorted.sort();
            assert_eq!(sorted, ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "nothing lost");
        }
        assert_eq!(firsts.len(), 3, "each address comes first sometimes");
    }

    #[test]
    fn preferred_subnets_come_first() {
        let mut s = vec![
            rr("a.test. 60 IN A 192.168.1.1"),
            rr("a.test. 60 IN A 10.1.0.1"),
            rr("a.test. 60 IN A 172.16.0.1"),
            rr("a.test. 60 IN CNAME x.test."),
        ];
        prefer(&mut s, &[("172.16.0.0".parse().unwrap(), 12), ("10.0.0.0".parse().unwrap(), 8)]);
        let order: Vec<String> = s.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(order, ["x.test.", "172.16.0.1", "10.1.0.1", "192.168.1.1"]);
    }
}
