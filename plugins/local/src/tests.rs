//! The record table (CoreDNS 1.14.7's, written out), the prefix option, the metric, and setup.

use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Case, Rest, assert_case, rr};

use super::*;

const SOA_DATA: &str = "localhost. root.localhost. 1 0 0 0 604800";

fn soa(owner: &str) -> plugin_api::proto::rr::Record {
    rr(&format!("{owner} 604800 IN SOA {SOA_DATA}"))
}

/// Serves `qname`/`qtype` with `local` (as `corefile` sets it up) in front of [`Rest`].
fn serve(
    corefile: &str,
    qname: &str,
    qtype: RecordType,
) -> Result<(Message, &'static str), String> {
    let local = setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
    let result = test_util::serve(vec![local, Arc::new(Rest)], test_util::request(qname, qtype));
    match result {
        Ok(reply) => reply.into_message().map_err(|other| format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn the_record_table() {
    use RecordType::{A, AAAA, MX, NS, PTR, SOA, TXT};
    let nodata = |qname: &'static str, qtype, owner: &str| Case {
        ns: vec![soa(owner)],
        ..Case::new(qname, qtype, ResponseCode::NoError)
    };
    let answer = |qname: &'static str, qtype, record: &str| Case {
        answer: vec![rr(record)],
        ..Case::new(qname, qtype, ResponseCode::NoError)
    };
    let cases = [
        answer("localhost.", A, "localhost. 604800 IN A 127.0.0.1"),
        answer("localHOst.", A, "localHOst. 604800 IN A 127.0.0.1"),
        answer("localhost.", AAAA, "localhost. 604800 IN AAAA ::1"),
        answer("localhost.", NS, "localhost. 604800 IN NS localhost."),
        answer("localhost.", SOA, &format!("localhost. 604800 IN SOA {SOA_DATA}")),
        nodata("localhost.", MX, "localhost."),
        nodata("127.in-addr.arpa.", A, "127.in-addr.arpa."),
        answer("127.in-addr.arpa.", NS, "127.in-addr.arpa. 604800 IN NS localhost."),
        answer("0.in-addr.arpa.", SOA, &format!("0.in-addr.arpa. 604800 IN SOA {SOA_DATA}")),
        nodata("255.in-addr.arpa.", TXT, "255.in-addr.arpa."),
        answer("a.localhost.", A, "a.localhost. 604800 IN A 127.0.0.1"),
        answer("a.localhost.", AAAA, "a.localhost. 604800 IN AAAA ::1"),
        nodata("a.localhost.", MX, "a.localhost."),
        answer("localhost.example.net.", A, "localhost.example.net. 604800 IN A 127.0.0.1"),
        answer("1.0.0.127.in-addr.arpa.", PTR, "1.0.0.127.in-addr.arpa. 604800 IN PTR localhost."),
        nodata("1.0.0.127.in-addr.arpa.", MX, "127.in-addr.arpa."),
        Case {
            ns: vec![soa("127.in-addr.arpa.")],
            ..Case::new("2.0.0.127.in-addr.arpa.", PTR, ResponseCode::NXDomain)
        },
        Case {
            ns: vec![soa("0.in-addr.arpa.")],
            ..Case::new("9.0.in-addr.arpa.", A, ResponseCode::NXDomain)
        },
    ];
    for case in cases {
        let (msg, by) = serve("local", case.qname, case.qtype).unwrap();
        assert_eq!(by, NAME, "{} {}", case.qname, case.qtype);
        assert!(
            !msg.metadata.authoritative,
            "{}: CoreDNS's replies are not authoritative",
            case.qname
        );
        assert_case(&case, &msg);
        // The owner keeps the client's spelling (rr() and the comparison would not see case).
        if let Some(first) = msg.answers.first() {
            assert_eq!(first.name.to_ascii(), case.answer[0].name.to_ascii());
        }
    }
}

#[test]
fn other_names_go_to_the_next_plugin() {
    for (qname, qtype) in [
        ("example.org.", RecordType::A),
        ("notlocalhost.", RecordType::A),
        ("1.0.0.10.in-addr.arpa.", RecordType::PTR),
        ("1.in-addr.arpa.", RecordType::SOA),
    ] {
        let (_, by) = serve("local", qname, qtype).unwrap();
        assert_eq!(by, "rest", "{qname}");
    }
    let alone = setup(&mut Controller::from_text("local")).unwrap().unwrap();
    let result = test_util::serve(vec![alone], test_util::request("example.org.", RecordType::A));
    assert_eq!(result.unwrap_err().to_string(), "plugin/local: no next plugin found");
}

#[test]
fn localhost_prefix_off_leaves_prefixed_names_to_the_next_plugin() {
    let off = "local {\n localhost_prefix off\n}";
    assert_eq!(serve(off, "localhost.example.net.", RecordType::A).unwrap().1, "rest");
    // Names under localhost. are answered either way.
    let (msg, by) = serve(off, "a.localhost.", RecordType::A).unwrap();
    assert_eq!((by, msg.answers[0].data.to_string()), (NAME, "127.0.0.1".to_string()));
    let on = "local {\n localhost_prefix on\n}";
    assert_eq!(serve(on, "localhost.example.net.", RecordType::A).unwrap().1, NAME);
}

/// Names under (or starting with) `localhost.` count; `localhost.` itself and the reverse
/// zones do not. The handler counts into a counter of this test's own.
#[test]
fn the_metric_counts_names_below_localhost_only() {
    let counter = IntCounter::new("test_localhost_requests", "test").unwrap();
    let local: Arc<dyn Plugin> = Arc::new(Local::new(Options::default(), counter.clone()));
    let ask = |qname: &str| {
        let chain = vec![local.clone(), Arc::new(Rest) as Arc<dyn Plugin>];
        test_util::serve(chain, test_util::request(qname, RecordType::A)).unwrap();
    };
    ask("localhost.");
    ask("1.0.0.127.in-addr.arpa.");
    ask("example.org.");
    assert_eq!(counter.get(), 0);
    ask("a.localhost.");
    ask("localhost.example.net.");
    assert_eq!(counter.get(), 2);
}

#[test]
fn setup_table() {
    let options = |text: &str| parse(&mut Controller::from_text(text)).map_err(|e| e.to_string());
    assert_eq!(options("local"), Ok(Options { localhost_prefix: true }));
    assert_eq!(
        options("local {\n localhost_prefix off\n}"),
        Ok(Options { localhost_prefix: false })
    );
    assert_eq!(options("local {\n localhost_prefix on\n}"), Ok(Options { localhost_prefix: true }));
    let errors = [
        (
            "local extra",
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'extra'",
        ),
        (
            "local {\n localhost_prefix\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'localhost_prefix'",
        ),
        (
            "local {\n localhost_prefix on off\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'off'",
        ),
        (
            "local {\n localhost_prefix maybe\n}",
            "Testfile:2 - Error during parsing: localhost_prefix expects 'on' or 'off', got \"maybe\"",
        ),
        ("local {\n fast\n}", "Testfile:2 - Error during parsing: unknown property 'fast'"),
    ];
    for (text, want) in errors {
        assert_eq!(options(text), Err(want.to_string()), "{text}");
    }
}
