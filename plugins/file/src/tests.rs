//! *file*'s wire fast path against the full lookup, and where its reload starts from; the zone
//! reader and the lookup are tested in `plugin_api::pkg::zonefile`, and over sockets beside NSD
//! in tests/it/file.rs.

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

/// The stamp the reload task starts from is the one taken before the zone was read: a file
/// rewritten between that read and the task's first run is read again at the first check.
#[test]
fn a_file_changed_before_the_reload_task_starts_is_read_again() {
    use plugin_api::Controller;
    use std::time::Duration;
    let dir = plugin_api::test_util::ScratchDir::new("file-reload-start");
    let zone_with = |address: &str| {
        format!(
            "$ORIGIN example.org.\n@ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 3600\n@ 3600 IN NS ns\nns 3600 IN A 192.0.2.53\nwww 3600 IN A {address}\n"
        )
    };
    let path = dir.write("db.example.org", &zone_with("192.0.2.1"));
    let file = path.display().to_string();
    let read_at = crate::modified(&file);
    let slot = Arc::new(arc_swap::ArcSwapOption::from(Some(Arc::new(
        load(&file, "example.org.").unwrap_or_else(|e| panic!("{e}")),
    ))));
    // Rewritten with the same serial, stamped later than the read whatever the clock's grain.
    std::fs::write(&path, zone_with("192.0.2.2")).unwrap();
    let later = read_at.unwrap() + Duration::from_secs(2);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    let line = crate::setup::FileZones {
        file,
        zones: vec!["example.org.".into()],
        reload: Duration::from_millis(20),
        by_mtime: true,
    };
    let changes = plugin_api::pkg::zonefile::ZoneChanges::of(&Controller::from_text("file db"));
    let www = |slot: &arc_swap::ArcSwapOption<Zone>| {
        let zone = slot.load_full().unwrap();
        texts(&zone.lookup("www.example.org.", RecordType::A).answers)
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let served = runtime.block_on(async {
        let zones = vec![("example.org.".to_string(), slot.clone())];
        tokio::spawn(crate::reload(line, zones, changes, read_at));
        for _ in 0..250 {
            if www(&slot).iter().any(|t| t.contains("192.0.2.2")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        www(&slot)
    });
    assert_eq!(served.len(), 1);
    assert!(served[0].ends_with("192.0.2.2"), "{served:?}");
}
