//! CoreDNS 1.14.7's `plugin/k8s_external/setup_test.go` (`TestSetup`), ported, with the errors.
//! Answers are tested over sockets with the kubernetes plugin behind (tests/it/k8s_external.rs).

use super::setup::parse;
use plugin_api::Controller;
use plugin_api::pkg::fall::Fall;

#[test]
fn setup_table() {
    let parsed = |text: &str| parse(&mut Controller::from_text(text)).map_err(|e| e.to_string());
    // Input, zone, apex, headless, fallthrough zones.
    let ok: &[(&str, &str, &str, bool, Fall)] = &[
        ("k8s_external", ".", "dns", false, Fall::default()),
        ("k8s_external example.org", "example.org.", "dns", false, Fall::default()),
        (
            "k8s_external example.org {\n apex testdns\n}",
            "example.org.",
            "testdns",
            false,
            Fall::default(),
        ),
        ("k8s_external example.org {\n headless\n}", "example.org.", "dns", true, Fall::default()),
        (
            "k8s_external example.org {\n fallthrough\n}",
            "example.org.",
            "dns",
            false,
            Fall::from_args(&[]),
        ),
        (
            "k8s_external example.org {\n fallthrough ip6.arpa inaddr.arpa foo.com\n}",
            "example.org.",
            "dns",
            false,
            Fall::from_args(&["ip6.arpa".into(), "inaddr.arpa".into(), "foo.com".into()]),
        ),
    ];
    for (text, zone, apex, headless, fall) in ok {
        let s = parsed(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            (s.zones[0].as_str(), s.apex.as_str(), s.headless),
            (*zone, *apex, *headless),
            "{text}"
        );
        assert_eq!(&s.fall, fall, "{text}");
        assert_eq!(s.ttl, 5, "{text}");
    }
    assert_eq!(parsed("k8s_external example.org {\n ttl 300\n}").unwrap().ttl, 300);
    let failing = [
        ("k8s_external example.org {\n ttl\n}", "Wrong argument count"),
        ("k8s_external example.org {\n ttl -1\n}", "ttl must be in range [0, 3600]: -1"),
        ("k8s_external example.org {\n ttl 3601\n}", "ttl must be in range [0, 3600]: 3601"),
        (
            "k8s_external example.org {\n ttl five\n}",
            "strconv.Atoi: parsing \"five\": invalid syntax",
        ),
        ("k8s_external example.org {\n apex\n}", "Wrong argument count"),
        ("k8s_external example.org {\n bogus\n}", "unknown property 'bogus'"),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
}
