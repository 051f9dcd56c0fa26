//! The names the plugin answers, read right to left: `[endpoint|port.proto] service namespace
//! svc|pod` under the zone (CoreDNS's `parseRequest`), with the multicluster and zonal forms;
//! endpoint names and the addresses in pod names.

use std::net::IpAddr;

use plugin_api::pkg::zone::split_dots;

use crate::objects::{Endpoint, Port};

/// What the labels left of the zone ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Parsed<'a> {
    pub(super) pod_or_svc: &'a str,
    pub(super) namespace: &'a str,
    pub(super) service: &'a str,
    pub(super) endpoint: &'a str,
    /// In a multicluster zone, the cluster of an endpoint name (`<endpoint>.<cluster>.<svc>…`).
    pub(super) cluster: &'a str,
    pub(super) port: &'a str,
    pub(super) protocol: &'a str,
    /// With `zonal`, `TOPOZONE.pin|prefer._zone.SVC…`: the topology zone (its labels joined,
    /// since zone names may hold dots) and whether it is `prefer`.
    pub(super) zone: Option<(String, bool)>,
}

/// The grammar a zone's names follow beyond the standard one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Grammar {
    /// A `multicluster` zone: `ENDPOINT.CLUSTER.SVC…`.
    pub(super) multicluster: bool,
    /// `zonal`: `TOPOZONE.pin|prefer._zone.SVC…` (not in multicluster zones).
    pub(super) zonal: bool,
}

/// CoreDNS's `parseRequest`; `None` is a name that cannot exist (NXDOMAIN). In a `multicluster`
/// zone, two labels left of the Service without underscores are an endpoint and its cluster.
pub(super) fn parse_labels<'a>(labels: &[&'a str], grammar: Grammar) -> Option<Parsed<'a>> {
    let mut p = Parsed::default();
    let mut rest = labels;
    let Some((last, before)) = rest.split_last() else { return Some(p) };
    if *last != "svc" && *last != "pod" {
        return None;
    }
    p.pod_or_svc = last;
    rest = before;
    let Some((ns, before)) = rest.split_last() else { return Some(p) };
    p.namespace = ns;
    rest = before;
    let Some((svc, before)) = rest.split_last() else { return Some(p) };
    p.service = svc;
    match before {
        [] => {}
        [endpoint] => p.endpoint = endpoint,
        [endpoint, cluster]
            if grammar.multicluster && !endpoint.starts_with('_') && !cluster.starts_with('_') =>
        {
            (p.endpoint, p.cluster) = (endpoint, cluster);
        }
        [port, protocol] => {
            p.port = port.strip_prefix('_').unwrap_or(port);
            p.protocol = protocol.strip_prefix('_').unwrap_or(protocol);
        }
        [zone @ .., directive, "_zone"]
            if grammar.zonal
                && !grammar.multicluster
                && p.pod_or_svc == "svc"
                && matches!(*directive, "pin" | "prefer") =>
        {
            p.zone = Some((zone.join("."), *directive == "prefer"));
        }
        _ => return None,
    }
    Some(p)
}

/// The name of an endpoint: its hostname; with `endpoint_pod_names` its pod's name (if under 64
/// characters); else its address with dashes (`10-244-1-5`, `fd00--1`).
pub fn endpoint_name(e: &Endpoint, pod_names: bool) -> String {
    if let Some(h) = &e.hostname {
        return h.to_string();
    }
    if pod_names
        && let Some(pod) = &e.pod
        && pod.len() < 64
    {
        return pod.to_ascii_lowercase();
    }
    let mut dashed = match e.ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    };
    if dashed.ends_with('-') {
        dashed.push('0');
    }
    if dashed.starts_with('-') {
        dashed.insert(0, '0');
    }
    dashed
}

/// The address in a pod name: `1-2-3-4`, or an IPv6 address with dashes for colons.
pub(super) fn pod_ip(label: &str) -> Option<IpAddr> {
    if label.matches('-').count() == 3 && !label.contains("--") {
        return label.replace('-', ".").parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    label.replace('-', ":").parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// CoreDNS's `matchPortAndProtocol`: an empty wanted value matches anything. Both sides are
/// lower-case (query names and objects are lowered when read), so equality is exact.
pub(super) fn port_matches(port: &str, protocol: &str, p: &Port) -> bool {
    (port.is_empty() || port == p.name) && (protocol.is_empty() || protocol == p.protocol)
}

/// Base names longer than this (reverse names in ip6.arpa) are split into a `Vec`.
pub(super) const MAX_FIXED_LABELS: usize = 8;

/// Splits `text` into `out`; `None` when it has more labels than `out` holds.
pub(super) fn split_labels<'a>(text: &'a str, out: &mut [&'a str]) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for label in split_dots(text) {
        *out.get_mut(n)? = label;
        n += 1;
    }
    Some(n)
}

/// The number of labels of a zone in presentation form (`.` has none).
pub(super) fn label_count(zone: &str) -> usize {
    split_dots(zone).filter(|l| !l.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MC: Grammar = Grammar { multicluster: true, zonal: false };
    const ZONAL: Grammar = Grammar { multicluster: false, zonal: true };

    #[test]
    fn labels_parse_like_coredns() {
        assert_eq!(parse_labels(&[], Grammar::default()), Some(Parsed::default()));
        assert_eq!(parse_labels(&["foo"], Grammar::default()), None);
        assert_eq!(parse_labels(&["svc"], Grammar::default()).unwrap().pod_or_svc, "svc");
        let p =
            parse_labels(&["_http", "_tcp", "web", "default", "svc"], Grammar::default()).unwrap();
        assert_eq!((p.port, p.protocol, p.service, p.namespace), ("http", "tcp", "web", "default"));
        let p =
            parse_labels(&["http", "tcp", "web", "default", "svc"], Grammar::default()).unwrap();
        assert_eq!((p.port, p.protocol), ("http", "tcp"));
        assert_eq!(
            parse_labels(&["web-0", "nginx", "default", "svc"], Grammar::default())
                .unwrap()
                .endpoint,
            "web-0"
        );
        assert_eq!(parse_labels(&["a", "b", "c", "d", "e", "svc"], Grammar::default()), None);
        // Multicluster zones: an endpoint and its cluster, unless an underscore says port.
        let p = parse_labels(&["web-0", "east", "nginx", "default", "svc"], MC).unwrap();
        assert_eq!((p.endpoint, p.cluster, p.port), ("web-0", "east", ""));
        let p = parse_labels(&["_http", "tcp", "nginx", "default", "svc"], MC).unwrap();
        assert_eq!((p.endpoint, p.port, p.protocol), ("", "http", "tcp"));
        let p = parse_labels(&["http", "_tcp", "nginx", "default", "svc"], MC).unwrap();
        assert_eq!((p.port, p.protocol), ("http", "tcp"));
        // Zonal names: the zone is every label left of the directive.
        let p = parse_labels(&["us-west-2a", "pin", "_zone", "db", "prod", "svc"], ZONAL).unwrap();
        assert_eq!((p.service, p.zone), ("db", Some(("us-west-2a".to_string(), false))));
        let p = parse_labels(&["corp", "example", "prefer", "_zone", "db", "prod", "svc"], ZONAL);
        assert_eq!(p.unwrap().zone, Some(("corp.example".to_string(), true)));
        let zonal = ["a", "pin", "_zone", "db", "prod", "svc"];
        assert_eq!(parse_labels(&zonal, Grammar::default()), None, "option off: too long");
        assert_eq!(parse_labels(&zonal, Grammar { multicluster: true, zonal: true }), None);
        assert_eq!(parse_labels(&["a", "near", "_zone", "db", "prod", "svc"], ZONAL), None);
        let p = parse_labels(&["pin", "_zone", "db", "prod", "svc"], ZONAL).unwrap();
        assert_eq!((p.port, p.protocol, p.zone), ("pin", "zone", None), "no zone: a port name");
        assert_eq!(parse_labels(&["a", "pin", "_zone", "1-2-3-4", "prod", "pod"], ZONAL), None);
    }

    #[test]
    fn endpoint_names_and_pod_addresses() {
        let e = |ip: &str| Endpoint {
            ip: ip.parse().unwrap(),
            hostname: None,
            pod: Some("web-abc".into()),
            ready: true,
            zone: 0,
        };
        assert_eq!(endpoint_name(&e("10.244.1.5"), false), "10-244-1-5");
        assert_eq!(endpoint_name(&e("fd00::"), false), "fd00--0");
        assert_eq!(endpoint_name(&e("10.244.1.5"), true), "web-abc");
        assert_eq!(pod_ip("1-2-3-4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(pod_ip("fd00--1"), Some("fd00::1".parse().unwrap()));
        assert_eq!(pod_ip("1-2-3"), None);
        assert_eq!(pod_ip("not-an-ip-x"), None);
    }
}
