//! CoreDNS's `auto` setup and walk tests, ported: the directive's errors, origins from file
//! names, and a directory whose files come, change and go. Over sockets: tests/it/auto.rs.

use std::time::Duration;

use plugin_api::Controller;

use crate::setup::{origin, parse};
use crate::{Zones, scan};

fn parsed(text: &str) -> Result<crate::setup::Settings, String> {
    parse(&mut Controller::from_text(text)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let s = parsed("auto example.org {\n directory /tmp\n reload 1s\n}").unwrap();
    assert_eq!(
        (s.zones.as_slice(), s.directory.as_str()),
        (&["example.org.".to_string()][..], "/tmp")
    );
    assert_eq!(s.reload, Duration::from_secs(1));
    assert_eq!(origin(&s, "db.example.org").as_deref(), Some("example.org."));
    assert_eq!(origin(&s, "zone.example.org"), None);
    let s = parsed("auto {\n directory /tmp (.*)\\.zone {1}.test\n}").unwrap();
    assert_eq!(s.zones, ["."]);
    assert_eq!(s.reload, Duration::from_secs(60));
    assert_eq!(origin(&s, "a.b.zone").as_deref(), Some("a.b.test."));
    let s = parsed("auto {\n directory /tmp db\\.(.*)\\.(.*) {2}.{1}\n}").unwrap();
    assert_eq!(origin(&s, "db.x.org").as_deref(), Some("org.x."));
    let failing = [
        ("auto {\n directory\n}", "Wrong argument count"),
        ("auto {\n directory /tmp (.*)\n}", "Wrong argument count"),
        ("auto {\n directory /tmp db.* {1}\n}", "Need at least one sub expression"),
        ("auto {\n directory /tmp (.* {1}\n}", "error parsing regexp"),
        ("auto {\n directory /tmp (.*) {1} extra\n}", "Wrong argument count"),
        ("auto {\n reload\n}", "reload duration value is expected"),
        ("auto {\n reload 1x\n}", "plugin/auto:"),
        ("auto {\n bogus\n}", "unknown property 'bogus'"),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
    }
}

fn zone_text(origin: &str, serial: u32, ip: &str) -> String {
    format!(
        "$ORIGIN {origin}\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A {ip}\n"
    )
}

#[test]
fn zones_come_change_and_go_with_their_files() {
    let dir = plugin_api::test_util::ScratchDir::new("auto-scan");
    let s = parsed(&format!(
        "auto example.org example.net {{\n directory {}\n}}",
        dir.path().display()
    ))
    .unwrap();
    dir.write("db.a.example.org", &zone_text("a.example.org.", 1, "192.0.2.1"));
    dir.write("sub/db.b.example.net", &zone_text("b.example.net.", 1, "192.0.2.2"));
    dir.write("db.other.com", &zone_text("other.com.", 1, "192.0.2.3"));
    dir.write("README", "not a zone");
    let first = scan(&s, &Zones::new());
    let mut origins: Vec<&String> = first.keys().collect();
    origins.sort();
    assert_eq!(origins, ["a.example.org.", "b.example.net."], "other.com is not under ZONES");
    // The same serial: the held zone stays (the same Arc); a higher one is read again.
    dir.write("db.a.example.org", &zone_text("a.example.org.", 1, "192.0.2.9"));
    let second = scan(&s, &first);
    assert!(std::sync::Arc::ptr_eq(&first["a.example.org."].1, &second["a.example.org."].1));
    dir.write("db.a.example.org", &zone_text("a.example.org.", 2, "192.0.2.9"));
    let third = scan(&s, &second);
    assert_eq!(third["a.example.org."].1.serial(), 2);
    // A broken file keeps its zone; a removed one drops it.
    dir.write("db.a.example.org", "garbage here\n");
    std::fs::remove_file(dir.join("sub/db.b.example.net")).unwrap();
    let fourth = scan(&s, &third);
    assert_eq!(fourth["a.example.org."].1.serial(), 2);
    assert!(!fourth.contains_key("b.example.net."));
}
