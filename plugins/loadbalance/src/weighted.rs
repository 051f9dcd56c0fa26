//! Weighted round robin: a file of names and address weights; for each reply, one address is
//! picked at random in proportion to its weight and put first.
//!
//! The file has a name on a line of its own, followed by `ADDRESS WEIGHT` lines (weight 1 to
//! 255); `#` lines are comments. Addresses not in the file weigh 1. It is read at start-up and,
//! every `reload` interval, again if its content changed.

use std::collections::HashMap;
use std::net::IpAddr;

use plugin_api::proto::rr::{Record, RecordType};

use crate::shuffle::{address_of, random_below, split};

/// Weights per owner name (lower-case, fully qualified).
pub type Weights = HashMap<String, Vec<(IpAddr, u8)>>;

/// Parses a weight file; errors use CoreDNS's words and name `file`.
pub fn parse(text: &str, file: &str) -> Result<Weights, String> {
    let mut weights = Weights::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [name] => {
                if name.parse::<IpAddr>().is_ok() {
                    return Err(format!(
                        "wrong domain name:\"{name}\" in weight file {file}. (Maybe a missing weight value?)"
                    ));
                }
                let name = plugin_api::pkg::zone::normalize(name);
                weights.entry(name.clone()).or_default();
                current = Some(name);
            }
            [ip, weight] => {
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("wrong IP address:\"{ip}\" in weight file {file}"))?;
                let weight: u8 = match weight.parse() {
                    Ok(w) if w > 0 => w,
                    _ => {
                        return Err(format!(
                            "wrong weight value:\"{weight}\" in weight file {file}"
                        ));
                    }
                };
                let Some(name) = &current else {
                    return Err(format!("missing domain name in weight file {file}"));
                };
                weights.entry(name.clone()).or_default().push((ip, weight));
            }
            _ => {
                return Err(format!(
                    "could not parse weight line:\"{line}\" in weight file {file}"
                ));
            }
        }
    }
    Ok(weights)
}

/// Groups the section as round robin does and puts a weighted random address first.
pub fn apply(section: &mut Vec<Record>, weights: &Weights) {
    if !section.iter().any(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA)) {
        return;
    }
    let mut g = split(section);
    if let Some(top) = pick(&g.address, weights) {
        g.address.swap(0, top);
    }
    section.extend(g.cname);
    section.extend(g.rest);
    section.extend(g.address);
    section.extend(g.mx);
}

/// The index of the address to put first.
fn pick(address: &[Record], weights: &Weights) -> Option<usize> {
    let weight_of = |r: &Record| -> usize {
        let owner = plugin_api::request::lower_name(&r.name);
        let ip = address_of(r);
        weights
            .get(&owner)
            .and_then(|ws| ws.iter().find(|(a, _)| Some(*a) == ip))
            .map_or(1, |(_, w)| usize::from(*w))
    };
    let mut order: Vec<(usize, usize)> =
        address.iter().enumerate().map(|(i, r)| (i, weight_of(r))).collect();
    // Heaviest first, as CoreDNS sorts them, so the draw walks the same cumulative ranges.
    order.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    let total: usize = order.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut draw = random_below(total);
    for (i, w) in order {
        if draw < w {
            return Some(i);
        }
        draw -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use plugin_api::test_util::rr;

    use super::*;

    #[test]
    fn parses_weight_files() {
        let w = parse(
            "# weights\nwww.example.org\n10.0.0.1 100\n10.0.0.2 1\n\nOther.test.\n::1 5\n",
            "w",
        )
        .unwrap();
        assert_eq!(
            w["www.example.org."],
            vec![("10.0.0.1".parse().unwrap(), 100), ("10.0.0.2".parse().unwrap(), 1)]
        );
        assert_eq!(w["other.test."].len(), 1);
        let errors = [
            (
                "10.0.0.1\n",
                "wrong domain name:\"10.0.0.1\" in weight file w. (Maybe a missing weight value?)",
            ),
            ("a.test\nx 1\n", "wrong IP address:\"x\" in weight file w"),
            ("a.test\n10.0.0.1 0\n", "wrong weight value:\"0\" in weight file w"),
            ("a.test\n10.0.0.1 256\n", "wrong weight value:\"256\" in weight file w"),
            ("10.0.0.1 5\n", "missing domain name in weight file w"),
            ("a b c\n", "could not parse weight line:\"a b c\" in weight file w"),
        ];
        for (text, want) in errors {
            assert_eq!(parse(text, "w").unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn heavy_addresses_come_first_most_often() {
        let w = parse("a.test\n10.0.0.1 250\n10.0.0.2 1\n10.0.0.3 1\n", "w").unwrap();
        let base = vec![
            rr("a.test. 60 IN A 10.0.0.2"),
            rr("a.test. 60 IN A 10.0.0.1"),
            rr("a.test. 60 IN A 10.0.0.3"),
        ];
        let mut heavy_first = 0;
        for _ in 0..1000 {
            let mut s = base.clone();
            apply(&mut s, &w);
            assert_eq!(s.len(), 3);
            if s[0].data.to_string() == "10.0.0.1" {
                heavy_first += 1;
            }
        }
        // Expected 250/252 of 1000; far above what an unweighted choice would give.
        assert!(heavy_first > 900, "{heavy_first}");
    }
}
