//! CoreDNS's `transfer` setup tests, ported, and who may transfer. Transfers themselves go
//! over TCP to dig and to Knot in tests/it/transfer.rs.

use plugin_api::Controller;

use crate::{Xfr, parse};

fn parsed(text: &str) -> Result<Vec<Xfr>, String> {
    parse(&mut Controller::from_text(text)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let x = parsed("transfer example.net example.org {\n to 1.2.3.4 5.6.7.8:1053 [1::2]:34\n}\ntransfer example.com {\n to *\n}").unwrap();
    assert_eq!(x.len(), 2);
    assert_eq!(x[0].zones, ["example.net.", "example.org."]);
    assert_eq!(x[0].to, ["1.2.3.4:53", "5.6.7.8:1053", "[1::2]:34"]);
    assert_eq!(x[1].to, ["*"]);
    let x = parsed("transfer {\n to *\n source 127.0.0.1\n}").unwrap();
    assert_eq!(x[0].source, Some("127.0.0.1".parse().unwrap()));
    let x = parsed("transfer {\n to 1.2.3.4\n to 5.6.7.8\n}").unwrap();
    assert_eq!(x[0].zones, ["."]);
    assert_eq!(x[0].to.len(), 2);
    let failing = [
        ("transfer example.org", "'to' is required"),
        ("transfer example.org {\n to\n}", "Wrong argument count"),
        ("transfer example.org {\n to example.com\n}", "must specify an IP address: `example.com'"),
        (
            "transfer example.org {\n to *\n source 10.0.0.1\n source 10.0.0.2\n}",
            "source already specified",
        ),
        ("transfer example.org {\n to *\n source nope\n}", "invalid source address \"nope\""),
        ("transfer example.org {\n to *\n source\n}", "Wrong argument count"),
        ("transfer example.org {\n from 1.2.3.4\n}", "unknown property \"from\""),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
    }
}

#[test]
fn only_listed_hosts_may_transfer() {
    let x = Xfr {
        zones: vec![".".into()],
        to: vec!["192.0.2.1:53".into(), "[2001:db8::1]:53".into()],
        source: None,
    };
    assert!(x.allowed("192.0.2.1".parse().unwrap()));
    assert!(x.allowed("2001:db8::1".parse().unwrap()));
    assert!(!x.allowed("192.0.2.2".parse().unwrap()));
    let all = Xfr { zones: vec![".".into()], to: vec!["*".into()], source: None };
    assert!(all.allowed("203.0.113.9".parse().unwrap()));
}
