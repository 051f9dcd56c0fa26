//! CoreDNS 1.14.7's `plugin/bind/setup_test.go` (`TestSetup`), ported, against a fixed list of
//! interfaces so that it does not depend on the host's; and the host's own `lo`.

use super::*;

fn lo() -> Vec<Interface> {
    vec![
        Interface {
            name: "lo".into(),
            index: 1,
            addrs: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        },
        Interface {
            name: "eth0".into(),
            index: 7,
            addrs: vec!["10.0.0.5".parse().unwrap(), "fe80::1".parse().unwrap()],
        },
        Interface { name: "down0".into(), index: 9, addrs: Vec::new() },
    ]
}

fn hosts(text: &str) -> Result<Vec<String>, String> {
    let mut c = Controller::from_text(text);
    let hosts = parse(&mut c, &lo()).map_err(|e| e.to_string())?;
    Ok(hosts.0.iter().map(ToString::to_string).collect())
}

#[test]
fn setup_table() {
    let ok: &[(&str, &[&str])] = &[
        ("bind 1.2.3.4", &["1.2.3.4"]),
        ("bind 1.2.3.4 ::5", &["1.2.3.4", "::5"]),
        ("bind ::1 1.2.3.4 ::5 127.9.9.0", &["::1", "1.2.3.4", "::5", "127.9.9.0"]),
        ("bind 1.2.3.4 lo", &["1.2.3.4", "127.0.0.1", "::1"]),
        ("bind lo {\nexcept 127.0.0.1\n}\n", &["::1"]),
        // Beyond CoreDNS's table: several directives consolidate; `except` is per directive.
        ("bind 127.0.0.1\nbind ::1", &["127.0.0.1", "::1"]),
        ("bind lo {\nexcept ::1\n}\nbind ::1", &["127.0.0.1", "::1"]),
        ("bind lo {\nexcept lo\n}", &[]),
        // A link-local IPv6 address from an interface carries it as scope.
        ("bind eth0", &["10.0.0.5", "fe80::1%eth0"]),
        // An interface without addresses is a valid name that resolves to nothing.
        ("bind down0", &[]),
        // An address named twice stays twice: the server refuses the zone as defined twice.
        ("bind 127.0.0.1 127.0.0.1", &["127.0.0.1", "127.0.0.1"]),
    ];
    for (text, want) in ok {
        let got = hosts(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, *want, "{text}");
    }
    let failing: &[(&str, &str)] = &[
        ("bind", "at least one address or interface name is expected"),
        ("bind 1.2.3.invalid", "not a valid IP address or interface name: \"1.2.3.invalid\""),
        ("bind ::1 1.2.3.4 ::5 127.9.9.0 noone", "interface name: \"noone\""),
        ("bind lo {\nexcept\n}", "at least one address or interface must be given to except"),
        ("bind lo {\nexcept noone\n}", "not a valid IP address or interface name: \"noone\""),
        ("bind lo {\nonly 127.0.0.1\n}", "invalid option \"only\""),
        ("bind fe80::1%eth0", "not a valid IP address"),
    ];
    for (text, part) in failing {
        let e = hosts(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
        assert!(e.contains("plugin/bind: "), "{text}: {e}");
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
}

#[test]
fn the_hosts_loopback_interface_resolves() {
    let ifaces = interfaces().expect("getifaddrs");
    let lo = ifaces.iter().find(|i| i.name == "lo").expect("the host has lo");
    assert_eq!(lo.addrs.first(), Some(&"127.0.0.1".parse::<IpAddr>().unwrap()), "{lo:?}");
    let mut c = Controller::from_text("bind lo");
    let hosts = parse(&mut c, &ifaces).expect("bind lo");
    assert_eq!(hosts.0.first().map(|h| h.ip), Some("127.0.0.1".parse().unwrap()));
}

#[test]
fn setup_records_the_hosts_for_the_block() {
    let mut c = Controller::from_text("bind 127.0.0.1");
    assert!(setup(&mut c).expect("setup").is_none(), "bind adds no handler");
    let recorded = c.shared::<plugin_api::PerBlock<Hosts>>().of(0);
    assert_eq!(
        recorded,
        Some(Hosts(vec![ListenHost { ip: "127.0.0.1".parse().unwrap(), scope: None }]))
    );
}

#[test]
fn socket_addresses_carry_the_scope() {
    let host = ListenHost { ip: "fe80::1".parse().unwrap(), scope: Some(("eth0".into(), 7)) };
    match host.socket_addr(53) {
        SocketAddr::V6(v6) => assert_eq!((v6.port(), v6.scope_id()), (53, 7)),
        other => panic!("{other}"),
    }
    let plain = ListenHost { ip: "127.0.0.1".parse().unwrap(), scope: None };
    assert_eq!(plain.socket_addr(53), "127.0.0.1:53".parse().unwrap());
}
