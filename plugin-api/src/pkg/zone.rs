//! Zone names and server-block keys: `[SCHEME://]ZONE[:PORT]`, reverse zones written as CIDR,
//! and normalisation to the lower-case, fully qualified form every comparison uses.

use std::fmt;
use std::net::IpAddr;

/// How a server block's listener talks to clients, from the key's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// `dns://` or no scheme: DNS over UDP and TCP.
    Dns,
    /// `tls://`: DNS over TLS.
    Tls,
    /// `quic://`: DNS over QUIC.
    Quic,
    /// `grpc://`: DNS over gRPC.
    Grpc,
    /// `https://`: DNS over HTTPS.
    Https,
    /// `https3://`: DNS over HTTP/3.
    Https3,
    /// `unix://`: recognised by CoreDNS's parser, served by nothing.
    Unix,
}

impl Transport {
    /// The scheme as written in a key, without `://`.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Quic => "quic",
            Self::Grpc => "grpc",
            Self::Https => "https",
            Self::Https3 => "https3",
            Self::Unix => "unix",
        }
    }

    /// The port a key of this transport gets when it names none; `dns_port` is `-dns.port`.
    pub fn default_port(self, dns_port: &str) -> String {
        match self {
            Self::Dns | Self::Unix => dns_port.to_string(),
            Self::Tls | Self::Quic => "853".into(),
            Self::Grpc | Self::Https | Self::Https3 => "443".into(),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// Splits a scheme off `s`: `tls://example.org` is `(Tls, "example.org")`; no scheme is DNS.
pub fn split_transport(s: &str) -> (Transport, &str) {
    // https3 before https: one is a prefix of the other.
    const SCHEMES: [(&str, Transport); 7] = [
        ("tls://", Transport::Tls),
        ("dns://", Transport::Dns),
        ("quic://", Transport::Quic),
        ("grpc://", Transport::Grpc),
        ("https3://", Transport::Https3),
        ("https://", Transport::Https),
        ("unix://", Transport::Unix),
    ];
    for (prefix, t) in SCHEMES {
        if let Some(rest) = s.strip_prefix(prefix) {
            return (t, rest);
        }
    }
    (Transport::Dns, s)
}

/// Lower-cases `name` and makes it fully qualified: `Example.ORG` → `example.org.`.
pub fn normalize(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n
}

/// Splits `HOST[:PORT]` and expands a CIDR host into its reverse zones, as CoreDNS's
/// `plugin.SplitHostPort` does. Hosts are returned as written (not yet normalised); the port is
/// the digits after the last colon, if they are a number. Errors use CoreDNS's words.
pub fn split_host_port(s: &str) -> Result<(Vec<String>, Option<String>), String> {
    let mut host = s;
    let mut port = None;
    if let Some(colon) = s.rfind(':') {
        if colon == s.len() - 1 {
            return Err(format!("expecting data after last colon: {s:?}"));
        }
        if let Ok(p) = s[colon + 1..].parse::<i64>() {
            port = Some(p.to_string());
            host = &s[..colon];
        }
    }
    if host.len() > 255 {
        return Err(format!("specified zone is too long: {} > 255", host.len()));
    }
    if !is_domain_name(host) {
        return Err(format!("zone is not a valid domain name: {host}"));
    }
    let Some((addr, prefix)) = parse_cidr(host) else {
        return Ok((vec![host.to_string()], port));
    };
    if host.starts_with(':') || (host.starts_with('0') && host.contains(':')) {
        return Err(format!("invalid CIDR {host}"));
    }
    Ok((reverse_zones(addr, prefix), port))
}

/// True if `s` is a syntactically valid domain name in presentation form: no empty label except
/// the root, labels of at most 63 octets, at most 255 octets on the wire.
pub fn is_domain_name(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if s == "." {
        return true;
    }
    let body = s.strip_suffix('.').unwrap_or(s);
    let mut wire = 1; // the root label
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        wire += label.len() + 1;
    }
    wire <= 255
}

/// Parses `ADDR/PREFIX` into the network address (host bits cleared) and the prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > bits {
        return None;
    }
    Some((mask(addr, prefix), prefix))
}

/// `s` in CIDR notation: a bare address becomes a one-address network (`/32` for IPv4, `/128`
/// for IPv6), as CoreDNS's *acl* normalises it; anything with a `/` is left as it is. Parse the
/// result with [`parse_cidr`].
pub fn host_cidr(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('/') {
        s.into()
    } else if s.contains(':') {
        format!("{s}/128").into()
    } else {
        format!("{s}/32").into()
    }
}

/// True if `ip` is inside `net/prefix` (as [`parse_cidr`] returns it). An address of the other
/// family is never inside; an IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn cidr_contains((net, prefix): (IpAddr, u8), ip: IpAddr) -> bool {
    match (net, ip.to_canonical()) {
        (IpAddr::V4(_), ip @ IpAddr::V4(_)) | (IpAddr::V6(_), ip @ IpAddr::V6(_)) => {
            mask(ip, prefix) == net
        }
        _ => false,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// The reverse zones that cover `addr/prefix`. A prefix that is not on a label boundary (8 bits
/// for IPv4, a 4-bit nibble for IPv6) is widened to the next boundary and split into every zone
/// it covers: `10.0.0.0/27` gives 32 zones, `10.0.0.0/15` gives two.
pub fn reverse_zones(addr: IpAddr, prefix: u8) -> Vec<String> {
    let (boundary, bits) = if addr.is_ipv4() { (8u32, 32u32) } else { (4, 128) };
    let prefix = u32::from(prefix);
    let rounded = prefix.div_ceil(boundary) * boundary;
    let count = 1u32 << (rounded - prefix); // at most 2^7: the widening is below one label
    let labels = (rounded / boundary) as usize;
    (0..count)
        .map(|i| {
            let sub = match addr {
                IpAddr::V4(a) => {
                    let step = if rounded == 0 { 0 } else { 1u32 << (bits - rounded) };
                    IpAddr::V4((u32::from(a) + i * step).into())
                }
                IpAddr::V6(a) => {
                    let step = if rounded == 0 { 0 } else { 1u128 << (bits - rounded) };
                    IpAddr::V6((u128::from(a) + u128::from(i) * step).into())
                }
            };
            reverse_name_prefix(sub, labels)
        })
        .collect()
}

/// The reverse name of the first `labels` labels (octets or nibbles) of `addr`:
/// `(10.1.0.0, 2)` is `1.10.in-addr.arpa.`.
fn reverse_name_prefix(addr: IpAddr, labels: usize) -> String {
    let mut parts: Vec<String> = match addr {
        IpAddr::V4(a) => a.octets().iter().take(labels).map(u8::to_string).collect(),
        IpAddr::V6(a) => a
            .octets()
            .iter()
            .flat_map(|b| [b >> 4, b & 0xf])
            .take(labels)
            .map(|n| format!("{n:x}"))
            .collect(),
    };
    parts.reverse();
    let suffix = if addr.is_ipv4() { "in-addr.arpa." } else { "ip6.arpa." };
    if parts.is_empty() { suffix.to_string() } else { format!("{}.{suffix}", parts.join(".")) }
}

/// The full reverse name of an address: `10.0.0.1` is `1.0.0.10.in-addr.arpa.`.
pub fn reverse_name(addr: IpAddr) -> String {
    reverse_name_prefix(addr, if addr.is_ipv4() { 4 } else { 32 })
}

/// The address a reverse name stands for: `1.0.0.10.in-addr.arpa.` is 10.0.0.1, a full
/// 32-nibble `ip6.arpa.` name an IPv6 address. `None` for anything else, partial names included
/// (CoreDNS's `dnsutil.ExtractAddressFromReverse`). Every PTR query asks this, so it reads the
/// name in place, allocating nothing.
pub fn addr_from_reverse(name: &str) -> Option<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if let Some(rest) = strip_suffix_ignore_case(name, ".in-addr.arpa") {
        // The first label is the last octet.
        let mut octets = [0u8; 4];
        let mut labels = split_dots(rest);
        for octet in octets.iter_mut().rev() {
            *octet = decimal_octet(labels.next()?)?;
        }
        return labels.next().is_none().then_some(IpAddr::from(octets));
    }
    let rest = strip_suffix_ignore_case(name, ".ip6.arpa")?;
    // The first label is the lowest nibble.
    let mut value: u128 = 0;
    let mut nibbles = 0;
    for nibble in split_dots(rest) {
        let [c] = nibble.as_bytes() else { return None };
        if nibbles == 32 {
            return None;
        }
        value |= u128::from((*c as char).to_digit(16)?) << (4 * nibbles);
        nibbles += 1;
    }
    (nibbles == 32).then_some(IpAddr::V6(value.into()))
}

/// One to three decimal digits worth at most 255, leading zeros allowed. Read digit by digit:
/// `u8::from_str` would also take a sign, and costs a PTR query more than the rest of this.
fn decimal_octet(label: &str) -> Option<u8> {
    if label.is_empty() || label.len() > 3 {
        return None;
    }
    let mut value: u16 = 0;
    for b in label.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u16::from(digit);
    }
    u8::try_from(value).ok()
}

/// `name` without `suffix`, compared ignoring ASCII case.
fn strip_suffix_ignore_case<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = name.len().checked_sub(suffix.len())?;
    let (rest, tail) = (name.get(..cut)?, &name[cut..]);
    tail.eq_ignore_ascii_case(suffix).then_some(rest)
}

/// `text` cut at every `.`, as `text.split('.')` cuts it, looking at bytes. A `char` pattern
/// finds each dot with `memchr` and then checks it with a call to `memcmp`, and a `char`
/// closure decodes UTF-8 on every character: for the few octets of a DNS label either costs
/// more than comparing bytes, and names are cut on every query (bench/README.md has the perf and
/// callgrind figures). A `.` never occurs inside a multi-byte character, so every cut is at
/// a character boundary.
pub fn split_dots(text: &str) -> Dots<'_> {
    Dots { rest: Some(text) }
}

/// The labels of [`split_dots`], from either end.
#[derive(Debug, Clone)]
pub struct Dots<'a> {
    /// What is left to cut; `None` once the last piece was taken.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Dots<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b'.') {
            Some(dot) => {
                self.rest = Some(&rest[dot + 1..]);
                Some(&rest[..dot])
            }
            None => self.rest.take(),
        }
    }
}

impl<'a> DoubleEndedIterator for Dots<'a> {
    fn next_back(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().rposition(|b| b == b'.') {
            Some(dot) => {
                self.rest = Some(&rest[..dot]);
                Some(&rest[dot + 1..])
            }
            None => self.rest.take(),
        }
    }
}

/// Normalises the zones a plugin names on its line, or, when it names none, takes the server
/// block's zones (CoreDNS's `plugin.OriginsFromArgsOrServerBlock`). Arguments that are not
/// valid zones are skipped, as CoreDNS skips them.
pub fn origins_from_args_or_block(args: &[String], block_zones: &[String]) -> Vec<String> {
    if args.is_empty() {
        return block_zones.to_vec();
    }
    args.iter()
        .filter_map(|a| split_host_port(split_transport(a).1).ok())
        .flat_map(|(hosts, _)| hosts.into_iter().map(|h| normalize(&h)))
        .collect()
}

/// True if `name` is `zone` or below it; both lower-case and fully qualified.
pub fn is_subdomain(zone: &str, name: &str) -> bool {
    if zone == "." {
        return true;
    }
    name.len() >= zone.len()
        && name.ends_with(zone)
        && (name.len() == zone.len() || name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The longest of `zones` that `name` is in, if any (CoreDNS's `Zones.Matches`).
pub fn longest_match<'z>(zones: &'z [String], name: &str) -> Option<&'z str> {
    zones.iter().filter(|z| is_subdomain(z, name)).max_by_key(|z| z.len()).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(s: &str) -> Vec<String> {
        split_host_port(s).unwrap().0
    }

    #[test]
    fn bare_addresses_become_host_networks() {
        assert_eq!(host_cidr("10.0.0.1"), "10.0.0.1/32");
        assert_eq!(host_cidr("::1"), "::1/128");
        assert_eq!(host_cidr("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(parse_cidr(&host_cidr("192.0.2.9")), Some(("192.0.2.9".parse().unwrap(), 32)));
    }

    #[test]
    fn cidr_membership() {
        let net = |s| parse_cidr(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains(net("10.1.0.0/16"), ip("10.1.255.3")));
        assert!(!cidr_contains(net("10.1.0.0/16"), ip("10.2.0.1")));
        assert!(cidr_contains(net("0.0.0.0/0"), ip("192.0.2.1")));
        assert!(!cidr_contains(net("0.0.0.0/0"), ip("2001:db8::1")), "families never mix");
        assert!(cidr_contains(net("::/0"), ip("2001:db8::1")));
        assert!(cidr_contains(net("192.0.2.7/32"), ip("::ffff:192.0.2.7")), "v4-mapped is v4");
        assert!(cidr_contains(net("2001:db8::/127"), ip("2001:db8::1")));
    }

    #[test]
    fn host_and_port() {
        assert_eq!(
            split_host_port("example.org:1053").unwrap(),
            (vec!["example.org".into()], Some("1053".into()))
        );
        assert_eq!(split_host_port(".").unwrap(), (vec![".".into()], None));
        assert_eq!(split_host_port(".:53").unwrap(), (vec![".".into()], Some("53".into())));
        assert_eq!(
            split_host_port("example.org:").unwrap_err(),
            "expecting data after last colon: \"example.org:\""
        );
        assert!(
            split_host_port("a..b").unwrap_err().starts_with("zone is not a valid domain name")
        );
        let long = format!("{}.org", "a".repeat(300));
        assert_eq!(split_host_port(&long).unwrap_err(), "specified zone is too long: 304 > 255");
    }

    #[test]
    fn cidr_on_boundary() {
        assert_eq!(hosts("10.0.0.0/24"), vec!["0.0.10.in-addr.arpa."]);
        assert_eq!(hosts("10.0.0.0/8"), vec!["10.in-addr.arpa."]);
        assert_eq!(hosts("0.0.0.0/0"), vec!["in-addr.arpa."]);
        assert_eq!(hosts("fd00::/8"), vec!["d.f.ip6.arpa."]);
        // Host bits are cleared first.
        assert_eq!(hosts("10.1.2.3/16"), vec!["1.10.in-addr.arpa."]);
    }

    #[test]
    fn cidr_off_boundary_splits() {
        let z = hosts("10.0.0.0/27");
        assert_eq!(z.len(), 32);
        assert_eq!(z[0], "0.0.0.10.in-addr.arpa.");
        assert_eq!(z[31], "31.0.0.10.in-addr.arpa.");
        assert_eq!(hosts("10.0.0.0/15"), vec!["0.10.in-addr.arpa.", "1.10.in-addr.arpa."]);
        assert_eq!(hosts("fd00::/7"), vec!["c.f.ip6.arpa.", "d.f.ip6.arpa."]);
        assert_eq!(hosts("10.0.0.0/31"), vec!["0.0.0.10.in-addr.arpa.", "1.0.0.10.in-addr.arpa."]);
    }

    #[test]
    fn cidr_rejected() {
        assert_eq!(split_host_port("::/64").unwrap_err(), "invalid CIDR ::/64");
        assert_eq!(split_host_port("0::/64").unwrap_err(), "invalid CIDR 0::/64");
        // Not a CIDR at all: an ordinary (odd) name.
        assert_eq!(hosts("10.0.0.0/33"), vec!["10.0.0.0/33"]);
    }

    #[test]
    fn transports() {
        assert_eq!(split_transport("tls://example.org"), (Transport::Tls, "example.org"));
        assert_eq!(split_transport("https3://x"), (Transport::Https3, "x"));
        assert_eq!(split_transport("https://x"), (Transport::Https, "x"));
        assert_eq!(split_transport("x"), (Transport::Dns, "x"));
        assert_eq!(Transport::Tls.default_port("53"), "853");
        assert_eq!(Transport::Dns.default_port("1053"), "1053");
    }

    #[test]
    fn subdomains() {
        assert!(is_subdomain(".", "a.b."));
        assert!(is_subdomain("b.", "a.b."));
        assert!(is_subdomain("a.b.", "a.b."));
        assert!(!is_subdomain("b.", "ab."));
        let zones = vec!["org.".to_string(), "example.org.".to_string()];
        assert_eq!(longest_match(&zones, "www.example.org."), Some("example.org."));
        assert_eq!(longest_match(&zones, "example.com."), None);
    }

    #[test]
    fn addresses_from_reverse_names() {
        assert_eq!(
            addr_from_reverse("1.0.96.10.in-addr.arpa."),
            Some("10.96.0.1".parse().unwrap())
        );
        assert_eq!(addr_from_reverse("0.96.10.in-addr.arpa."), None);
        assert_eq!(addr_from_reverse("300.0.96.10.in-addr.arpa."), None);
        assert_eq!(addr_from_reverse("5.1.0.96.10.in-addr.arpa."), None);
        assert_eq!(addr_from_reverse("x.0.96.10.in-addr.arpa."), None);
        // Octets are one to three digits worth at most 255: leading zeros yes, signs no.
        let v4 = |octet: &str| addr_from_reverse(&format!("{octet}.0.96.10.in-addr.arpa."));
        assert_eq!(v4("255"), Some("10.96.0.255".parse().unwrap()));
        assert_eq!(v4("007"), Some("10.96.0.7".parse().unwrap()));
        for bad in ["256", "999", "0255", "+1", "-1", "1/", ":"] {
            assert_eq!(v4(bad), None, "{bad}");
        }
        assert_eq!(addr_from_reverse(".0.96.10.in-addr.arpa."), None);
        assert_eq!(addr_from_reverse("in-addr.arpa."), None);
        assert_eq!(addr_from_reverse("1.0.96.10.IN-ADDR.Arpa"), Some("10.96.0.1".parse().unwrap()));
        let v6: IpAddr = "2001:db8::567:89ab".parse().unwrap();
        let name = reverse_name(v6);
        assert_eq!(addr_from_reverse(&name), Some(v6));
        assert_eq!(addr_from_reverse(&name.to_ascii_uppercase()), Some(v6));
        assert_eq!(addr_from_reverse(&name[2..]), None, "31 nibbles");
        assert_eq!(addr_from_reverse(&format!("0.{name}")), None, "33 nibbles");
        assert_eq!(addr_from_reverse(&name.replacen('b', "g", 1)), None);
        assert_eq!(addr_from_reverse(&name.replacen('b', "bb", 1)), None);
        assert_eq!(addr_from_reverse("example.org."), None);
        assert_eq!(addr_from_reverse("\u{e9}.in-addr.arpa."), None);
    }

    #[test]
    fn dots_cut_as_split_cuts() {
        for text in ["", ".", "a", "a.b", "a..b.", ".a.b.c", "\u{e9}t\u{e9}.x", "\u{2e2e}.\u{e9}"] {
            let want: Vec<&str> = text.split('.').collect();
            assert_eq!(split_dots(text).collect::<Vec<_>>(), want);
            assert_eq!(
                split_dots(text).rev().collect::<Vec<_>>(),
                text.rsplit('.').collect::<Vec<_>>()
            );
            // Taken from both ends at once, the pieces meet without loss or overlap.
            let mut dots = split_dots(text);
            let (first, last) = (dots.next(), dots.next_back());
            let middle: Vec<&str> = dots.collect();
            let mut pieces: Vec<&str> = first.into_iter().chain(middle).collect();
            pieces.extend(last);
            assert_eq!(pieces, want, "{text:?}");
        }
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_name("10.96.0.1".parse().unwrap()), "1.0.96.10.in-addr.arpa.");
        assert!(reverse_name("::1".parse().unwrap()).starts_with("1.0.0.0."));
    }
}
