//! The hosts table: what a hosts file and the inline lines say, ready to answer from.
//!
//! Lines are `IP NAME [ALIASES...]`, `#` starts a comment. Names are lower-cased and made fully
//! qualified; names outside the plugin's zones are left out. A leftmost `*` label makes a
//! wildcard that matches exactly one label in its place (not the name without it) and gets no
//! PTR record. Every address gets a PTR record for each of its names unless `no_reverse`.
//! A name listed in both the file and the inline lines answers with the file's addresses
//! followed by the inline ones, as in CoreDNS.
//!
//! The table is built whole on every (re)load and swapped in, so lookups never lock; a name's
//! addresses are kept as they are, and the handler writes them straight into the reply.

// foldhash, not SipHash: every query looks a name up here; the keys come from the hosts file
// and the Corefile, never from queries.
use foldhash::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use plugin_api::pkg::zone::{longest_match, normalize};
use plugin_api::proto::rr::rdata::PTR;
use plugin_api::proto::rr::{Name, RData, Record};

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

/// The addresses of one name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// For A answers, in file order.
    pub v4: Vec<Ipv4Addr>,
    /// For AAAA answers.
    pub v6: Vec<Ipv6Addr>,
}

impl Addresses {
    fn push(&mut self, addr: IpAddr) {
        match addr {
            IpAddr::V4(v4) => self.v4.push(v4),
            IpAddr::V6(v6) => self.v6.push(v6),
        }
    }

    /// True if the name has an address of either family, so that it exists.
    pub fn exist(&self) -> bool {
        !self.v4.is_empty() || !self.v6.is_empty()
    }
}

/// Everything the handler answers from.
#[derive(Debug, Default)]
pub struct Table {
    names: HashMap<String, Addresses>,
    /// Wildcards, keyed by the name with its first label replaced by `*`.
    wild: HashMap<String, Addresses>,
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
                    table.wild.entry(name.clone()).or_default().push(*addr);
                    continue;
                }
                let Ok(owner) = Name::from_ascii(name) else { continue };
                table.names.entry(name.clone()).or_default().push(*addr);
                if reverse {
                    table.reverse.entry(*addr).or_default().push(owner);
                }
            }
        }
        table
    }

    /// The TTL of every answer.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The addresses of `name` (lower-case, fully qualified), wildcards included; `None` if the
    /// table does not know the name at all. No copy and no allocation: this is every query's
    /// path.
    pub fn lookup(&self, name: &str) -> Option<&Addresses> {
        if let Some(found) = self.names.get(name) {
            return Some(found);
        }
        let (_, rest) = name.split_once('.')?;
        if rest.is_empty() {
            return None;
        }
        // The wildcard's key is `*.` and the rest; built on the stack, not with format!.
        let mut key = [0u8; 256];
        let len = 2 + rest.len();
        key[..2].copy_from_slice(b"*.");
        key.get_mut(2..len)?.copy_from_slice(rest.as_bytes());
        self.wild.get(std::str::from_utf8(&key[..len]).ok()?)
    }

    /// PTR records answering `qname` for `addr`.
    /// `qname` is asked for only when `addr` has names: every PTR query of the server passes
    /// through *hosts*, and building the owner name can allocate.
    pub fn ptr(&self, qname: impl FnOnce() -> Name, addr: IpAddr) -> Option<Vec<Record>> {
        let targets = self.reverse.get(&addr)?;
        let qname = qname();
        Some(
            targets
                .iter()
                .map(|t| Record::from_rdata(qname.clone(), self.ttl, RData::PTR(PTR(t.clone()))))
                .collect(),
        )
    }
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
        assert_eq!(a.v4, [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(t.lookup("x.w.test.").unwrap().v4, [Ipv4Addr::new(10, 0, 0, 5)]);
        assert!(t.lookup("w.test.").is_none(), "a wildcard does not match the name itself");
        assert!(t.lookup("y.x.w.test.").is_none(), "a wildcard matches one label");
        let q = Name::from_ascii("1.0.0.10.in-addr.arpa.").unwrap();
        assert_eq!(
            t.ptr(|| q.clone(), "10.0.0.1".parse().unwrap()).unwrap()[0].data.to_string(),
            "a.test."
        );
        assert!(t.ptr(|| q.clone(), "10.0.0.5".parse().unwrap()).is_none(), "no PTR for wildcards");
        let none = Table::build(&[&file], 60, false);
        assert!(none.ptr(|| q.clone(), "10.0.0.1".parse().unwrap()).is_none());
    }
}
