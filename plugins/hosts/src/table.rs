//! The hosts table: what a hosts file and the inline lines say, ready to answer from.
//!
//! Lines are `IP NAME [ALIASES...]`, `#` starts a comment. Names are lower-cased and made fully
//! qualified; names outside the plugin's zones are left out. A leftmost `*` label makes a
//! wildcard that matches exactly one label in its place (not the name without it) and gets no
//! PTR record. Every address gets a PTR record for each of its names unless `no_reverse`.
//! A name listed in both the file and the inline lines answers with the file's addresses
//! followed by the inline ones, as in CoreDNS.
//!
//! The table is built whole on every (re)load and swapped in, so lookups never lock; answers are
//! kept as records, ready to copy.

use std::collections::HashMap;
use std::net::IpAddr;

use plugin_api::proto::rr::rdata::{A, AAAA, PTR};
use plugin_api::proto::rr::{Name, RData, Record};
use plugin_api::zone::{longest_match, normalize};

/// One line that was skipped, and why: `(line number, reason)`.
pub type Skipped = (usize, String);

/// Parsed entries of one source (the file, or the inline lines).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entries {
    /// name → addresses, in order of appearance; wildcards under their `*.` name.
    pub names: Vec<(String, IpAddr)>,
}

impl Entries {
    /// CoreDNS's count for `coredns_hosts_entries`: one per (name, address), plus one per
    /// (address, name) reverse mapping when reverse records are made.
    pub fn count(&self, reverse: bool) -> usize {
        let wild = self.names.iter().filter(|(n, _)| n.starts_with("*.")).count();
        let plain = self.names.len() - wild;
        self.names.len() + if reverse { plain } else { 0 }
    }
}

/// Parses hosts-file text. Lines that cannot be used are returned as skipped, with their line
/// numbers, so the caller can say where they are.
pub fn parse(text: &str, zones: &[String]) -> (Entries, Vec<Skipped>) {
    let mut entries = Entries::default();
    let mut skipped = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => continue,
            [only] => {
                skipped.push((index + 1, format!("no name after {only:?}")));
                continue;
            }
            _ => {}
        }
        let Some(addr) = parse_ip(fields[0]) else {
            skipped.push((index + 1, format!("invalid IP address {:?}", fields[0])));
            continue;
        };
        for field in &fields[1..] {
            let name = normalize(field);
            if Name::from_ascii(&name).is_err() {
                skipped.push((index + 1, format!("invalid name {field:?}")));
                continue;
            }
            if longest_match(zones, &name).is_none() {
                continue;
            }
            entries.names.push((name, addr));
        }
    }
    (entries, skipped)
}

/// An address as hosts files write it: a zone suffix (`fe80::1%eth0`) is dropped, and an
/// IPv4-mapped IPv6 address counts as IPv4.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.split('%').next()?;
    let ip: IpAddr = s.parse().ok()?;
    Some(ip.to_canonical())
}

/// The answers for one name.
#[derive(Debug, Default, Clone)]
pub struct NameRecords {
    /// A records, TTL and owner set.
    pub a: Vec<Record>,
    /// AAAA records.
    pub aaaa: Vec<Record>,
}

/// Everything the handler answers from.
#[derive(Debug, Default)]
pub struct Table {
    names: HashMap<String, NameRecords>,
    /// Wildcards, keyed by the name with its first label replaced by `*`.
    wild: HashMap<String, (Vec<IpAddr>, Vec<IpAddr>)>,
    /// PTR targets per address.
    reverse: HashMap<IpAddr, Vec<Name>>,
    ttl: u32,
}

impl Table {
    /// Builds the table from the file's entries, then the inline ones.
    pub fn build(sources: &[&Entries], ttl: u32, reverse: bool) -> Self {
        let mut table = Self { ttl, ..Self::default() };
        for entries in sources {
            for (name, addr) in &entries.names {
                if name.starts_with("*.") && name.len() > 2 {
                    let (v4, v6) = table.wild.entry(name.clone()).or_default();
                    if addr.is_ipv4() {
                        v4.push(*addr)
                    } else {
                        v6.push(*addr)
                    }
                    continue;
                }
                let Ok(owner) = Name::from_ascii(name) else { continue };
                let records = table.names.entry(name.clone()).or_default();
                let record = address_record(owner.clone(), *addr, ttl);
                if addr.is_ipv4() {
                    records.a.push(record)
                } else {
                    records.aaaa.push(record)
                }
                if reverse {
                    table.reverse.entry(*addr).or_default().push(owner);
                }
            }
        }
        table
    }

    /// The records of `name` (lower-case, fully qualified), wildcards included; `None` if the
    /// table does not know the name at all.
    pub fn lookup(&self, name: &str) -> Option<NameRecords> {
        if let Some(r) = self.names.get(name) {
            return Some(r.clone());
        }
        let (_, rest) = name.split_once('.')?;
        if rest.is_empty() {
            return None;
        }
        let (v4, v6) = self.wild.get(&format!("*.{rest}"))?;
        let owner = Name::from_ascii(name).ok()?;
        Some(NameRecords {
            a: v4.iter().map(|ip| address_record(owner.clone(), *ip, self.ttl)).collect(),
            aaaa: v6.iter().map(|ip| address_record(owner.clone(), *ip, self.ttl)).collect(),
        })
    }

    /// PTR records answering `qname` for `addr`.
    pub fn ptr(&self, qname: &Name, addr: IpAddr) -> Option<Vec<Record>> {
        let targets = self.reverse.get(&addr)?;
        Some(
            targets
                .iter()
                .map(|t| Record::from_rdata(qname.clone(), self.ttl, RData::PTR(PTR(t.clone()))))
                .collect(),
        )
    }
}

fn address_record(owner: Name, addr: IpAddr, ttl: u32) -> Record {
    let data = match addr {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner, ttl, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Vec<String> {
        vec![".".into()]
    }

    #[test]
    fn parses_lines_and_reports_bad_ones() {
        let text = "\
# a comment
127.0.0.1 localhost
::1 localhost ip6-localhost # trailing comment
10.0.0.1 Web.Example.ORG www
fe80::1%eth0 link.local
::ffff:10.0.0.9 mapped.test
300.1.1.1 broken.test
onlyone

10.0.0.2 *.wild.test
";
        let (e, skipped) = parse(text, &root());
        let names: Vec<(&str, String)> =
            e.names.iter().map(|(n, a)| (n.as_str(), a.to_string())).collect();
        assert_eq!(
            names,
            vec![
                ("localhost.", "127.0.0.1".to_string()),
                ("localhost.", "::1".to_string()),
                ("ip6-localhost.", "::1".to_string()),
                ("web.example.org.", "10.0.0.1".to_string()),
                ("www.", "10.0.0.1".to_string()),
                ("link.local.", "fe80::1".to_string()),
                ("mapped.test.", "10.0.0.9".to_string()),
                ("*.wild.test.", "10.0.0.2".to_string()),
            ]
        );
        assert_eq!(
            skipped,
            vec![
                (7, "invalid IP address \"300.1.1.1\"".to_string()),
                (8, "no name after \"onlyone\"".to_string()),
            ]
        );
    }

    #[test]
    fn names_outside_the_zones_are_left_out() {
        let (e, _) = parse("10.0.0.1 a.example.org b.example.net", &["example.org.".into()]);
        assert_eq!(e.names.len(), 1);
    }

    #[test]
    fn file_then_inline_and_wildcards() {
        let (file, _) = parse("10.0.0.1 a.test\n10.0.0.5 *.w.test", &root());
        let (inline, _) = parse("10.0.0.2 a.test", &root());
        let t = Table::build(&[&file, &inline], 3600, true);
        let a = t.lookup("a.test.").unwrap();
        let ips: Vec<String> = a.a.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(t.lookup("x.w.test.").unwrap().a.len(), 1);
        assert!(t.lookup("w.test.").is_none(), "a wildcard does not match the name itself");
        assert!(t.lookup("y.x.w.test.").is_none(), "a wildcard matches one label");
        let q = Name::from_ascii("1.0.0.10.in-addr.arpa.").unwrap();
        assert_eq!(t.ptr(&q, "10.0.0.1".parse().unwrap()).unwrap()[0].data.to_string(), "a.test.");
        assert!(t.ptr(&q, "10.0.0.5".parse().unwrap()).is_none(), "no PTR for wildcards");
        let none = Table::build(&[&file], 60, false);
        assert!(none.ptr(&q, "10.0.0.1".parse().unwrap()).is_none());
    }
}
