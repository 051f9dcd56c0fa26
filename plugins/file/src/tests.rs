//! *file*'s wire fast path against the full lookup; the zone reader and the lookup are tested
//! in `plugin_api::pkg::zonefile`, and over sockets beside NSD in tests/it/file.rs.

use std::sync::Arc;

use plugin_api::pkg::zonefile::{Zone, load};
use plugin_api::proto::rr::{Record, RecordType};

fn zone() -> Zone {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../corefile-examples/file/db.example.org");
    load(file, "example.org.").unwrap_or_else(|e| panic!("{e}"))
}

fn texts(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

#[test]
fn the_wire_fast_path_answers_as_the_full_lookup_does() {
    use plugin_api::test_util::{request, serve};
    let zone = Arc::new(zone());
    let slot = Arc::new(arc_swap::ArcSwapOption::from(Some(zone.clone())));
    let plugin: Arc<dyn plugin_api::Plugin> = Arc::new(crate::File {
        zones: vec![("example.org.".into(), slot)],
        fall: Default::default(),
    });
    let names = [
        "example.org.",
        "www.example.org.",
        "mail.example.org.",
        "ns1.example.org.",
        "nope.example.org.",
        "c.example.org.",
        "a.b.c.example.org.",
        "x.c.example.org.",
        "any.wild.example.org.",
        "host.wild.example.org.",
        "alias.example.org.",
        "www.sub.example.org.",
        "sub.example.org.",
        "x.dn.example.org.",
        "WWW.example.ORG.",
    ];
    let mut fast = 0;
    for name in names {
        for qtype in [RecordType::A, RecordType::AAAA, RecordType::MX, RecordType::DS] {
            let result = serve(vec![plugin.clone()], request(name, qtype));
            fast += usize::from(matches!(result, Ok(plugin_api::Reply::Wire { .. })));
            let msg = plugin_api::test_util::reply_message(result);
            let want = zone.lookup(&name.to_ascii_lowercase(), qtype);
            assert_eq!(
                (msg.metadata.response_code, msg.metadata.authoritative),
                (want.rcode, want.authoritative),
                "{name} {qtype}"
            );
            // Compared without case: the wire form owns the apex's records by the zone as the
            // client spelt it (a pointer into the question), the full lookup by the zone file's.
            let lower = |rs: &[Record]| {
                texts(rs).into_iter().map(|t| t.to_ascii_lowercase()).collect::<Vec<_>>()
            };
            assert_eq!(lower(&msg.answers), lower(&want.answers), "{name} {qtype} answer");
            assert_eq!(lower(&msg.authorities), lower(&want.authority), "{name} {qtype} authority");
            assert_eq!(
                lower(&msg.additionals),
                lower(&want.additional),
                "{name} {qtype} additional"
            );
        }
    }
    assert!(fast >= 20, "the fast path answered {fast} of them");
}

#[test]
fn setup_table() {
    use plugin_api::Controller;
    use std::time::Duration;
    let parsed = |text: &str| {
        crate::setup::parse(&mut Controller::from_text(text)).map_err(|e| e.to_string())
    };
    let (lines, fall) = parsed("file db.example.org example.org example.net {\n reload 30s\n reload_by_mtime\n fallthrough in-addr.arpa\n}").unwrap();
    assert_eq!(lines[0].file, "db.example.org");
    assert_eq!(lines[0].zones, ["example.org.", "example.net."]);
    assert_eq!((lines[0].reload, lines[0].by_mtime), (Duration::from_secs(30), true));
    assert!(fall.through("1.in-addr.arpa.") && !fall.through("example.org."));
    let (lines, fall) = parsed("file db.example.org").unwrap();
    assert_eq!(
        (lines[0].zones.as_slice(), lines[0].reload),
        (&[".".to_string()][..], Duration::from_secs(60))
    );
    assert!(fall.is_empty());
    let failing = [
        ("file", "Wrong argument count"),
        ("file db {\n reload\n}", "reload duration value is expected"),
        ("file db {\n reload 1x\n}", "plugin/file:"),
        ("file db {\n bogus\n}", "unknown property 'bogus'"),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
    }
}
