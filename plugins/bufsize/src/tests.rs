//! CoreDNS 1.14.7's `plugin/bufsize/setup_test.go` (`TestSetupBufsize`) and
//! `bufsize_test.go` (`TestBufsize`), ported.

use plugin_api::Proto;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Rest};

use super::*;

#[test]
fn setup_table() {
    // TestSetupBufsize: the input, whether it fails, and the size; then rows of ours.
    let cases: &[(&str, bool, u16)] = &[
        ("bufsize", false, 1232),
        ("bufsize \"1220\"", false, 1220),
        ("bufsize \"5000\"", true, 0),
        ("bufsize \"512 512\"", true, 0),
        ("bufsize \"511\"", true, 0),
        ("bufsize \"abc123\"", true, 0),
        ("bufsize 512", false, 512),
        ("bufsize 4096", false, 4096),
        ("bufsize 511", true, 0),
        ("bufsize 4097", true, 0),
        ("bufsize 1232 4096", true, 0),
        ("bufsize ABC", true, 0),
        ("bufsize 0x200", true, 0),
        ("bufsize +1232", false, 1232),
        ("bufsize -1", true, 0),
    ];
    for (text, fails, size) in cases {
        let mut c = Controller::from_text(text);
        match parse(&mut c) {
            Ok(got) => {
                assert!(!fails, "{text}: accepted");
                assert_eq!(got, *size, "{text}");
            }
            Err(e) => {
                assert!(*fails, "{text}: {e}");
                let e = e.in_plugin(NAME).to_string();
                assert!(e.starts_with("plugin/bufsize: Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending"), "{e}");
            }
        }
    }
}

/// The size the next plugin sees, and the query it would send on.
fn served(corefile: &str, edns: Option<u16>) -> (Option<u16>, u16, Option<u16>) {
    let plugin = setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
    let req = test_util::request_with(
        "example.org.",
        RecordType::A,
        Proto::Udp,
        test_util::CLIENT.parse().unwrap(),
        edns,
    );
    let req = Arc::new(req);
    let chain: plugin_api::Chain = vec![plugin, Arc::new(Rest) as Arc<dyn Plugin>].into();
    let result = futures_lite_block(Next::new("", &chain, 0).run(&test_util::ctx(), &req));
    assert!(result.is_ok());
    let sent = req.to_message().edns.map(|e| e.max_payload());
    (req.max_payload(), req.size(), sent)
}

fn futures_lite_block(serve: Serve) -> plugin_api::ServeResult {
    match serve {
        Serve::Ready(result) => result,
        Serve::Pending(_) => panic!("bufsize never waits"),
    }
}

#[test]
fn the_size_is_capped_as_corednss_table_says() {
    // TestBufsize's two cases (a larger size capped, a smaller one kept), and more: the
    // plugin's words, the query's size, and the size after.
    let cases: &[(&str, Option<u16>, Option<u16>)] = &[
        // The default caps a larger size.
        ("bufsize", Some(4096), Some(1232)),
        // A smaller size is left alone.
        ("bufsize 1280", Some(1220), Some(1220)),
        ("bufsize 1280", Some(4096), Some(1280)),
        // No EDNS: nothing to cap, and none is added.
        ("bufsize 512", None, None),
    ];
    for (corefile, asked, want) in cases {
        let (seen, size, sent) = served(corefile, *asked);
        assert_eq!(seen, *want, "{corefile} on {asked:?}");
        assert_eq!(sent, *want, "{corefile} on {asked:?}: the copy sent on");
        assert_eq!(size, want.map_or(512, |w| w.max(512)), "{corefile} on {asked:?}");
    }
}
