//! CoreDNS 1.14.7's `plugin/timeouts/timeouts_test.go` (`TestTimeouts`), ported.

use super::*;

fn parsed(text: &str) -> Result<Settings, String> {
    parse(&mut Controller::from_text(text)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let s = Duration::from_secs;
    // The Corefile, whether it fails, part of the error, and the settings.
    let ok: &[(&str, Settings)] = &[
        ("timeouts {\n read 30s\n}", Settings { read: Some(s(30)), ..Default::default() }),
        (
            "timeouts {\n read 1m\n write 2m\n}",
            Settings { read: Some(s(60)), write: Some(s(120)), ..Default::default() },
        ),
        (" timeouts {\n idle 1h\n}", Settings { idle: Some(s(3600)), ..Default::default() }),
        (
            "timeouts {\n read 10\n write 20\n idle 60\n}",
            Settings {
                read: Some(s(10)),
                write: Some(s(20)),
                idle: Some(s(60)),
                ..Default::default()
            },
        ),
        (
            "timeouts {\n maxtcpqueries 128\n}",
            Settings { max_tcp_queries: Some(Some(128)), ..Default::default() },
        ),
        (
            "timeouts {\n maxtcpqueries -1\n}",
            Settings { max_tcp_queries: Some(None), ..Default::default() },
        ),
        (
            "timeouts {\n read 30s\n maxtcpqueries 128\n}",
            Settings { read: Some(s(30)), max_tcp_queries: Some(Some(128)), ..Default::default() },
        ),
    ];
    for (text, want) in ok {
        assert_eq!(parsed(text).as_ref(), Ok(want), "{text}");
    }
    let failing: &[(&str, &str)] = &[
        ("timeouts", "block with no timeouts specified"),
        ("timeouts {\n}", "block with no timeouts specified"),
        ("timeouts {\n read 10s\n giraffe 30s\n}", "unknown option"),
        ("timeouts {\n read 10s 20s\n write 30s\n}", "Wrong argument"),
        ("timeouts {\n write snake\n}", "failed to parse duration"),
        ("timeouts {\n idle 0s\n}", "needs to be between"),
        ("timeouts {\n read 48h\n}", "needs to be between"),
        ("timeouts {\n maxtcpqueries 0\n}", "needs to be -1"),
        ("timeouts {\n maxtcpqueries -2\n}", "needs to be -1"),
        ("timeouts {\n maxtcpqueries snake\n}", "invalid value for maxtcpqueries"),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
    assert_eq!(
        parsed("timeouts {\n idle 0s\n}").unwrap_err(),
        "Testfile:2 - Error during parsing: timeout provided '0s' needs to be between 1 second and 24 hours"
    );
}
