//! Setup tables and answers against `Case` tables, from inline entries and from a file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Case, assert_case, rr};
use plugin_api::{Controller, Plugin, Reply};

use super::*;

fn opts(input: &str) -> Result<Options, String> {
    parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let o = opts("hosts").unwrap();
    assert_eq!(o.path, PathBuf::from("/etc/hosts"));
    assert_eq!((o.ttl, o.reverse, o.reload), (3600, true, Duration::from_secs(5)));
    assert!(o.fall.is_empty());
    let o = opts("hosts /nonexistent/hosts example.org 10.0.0.0/24 {\n ttl 60\n no_reverse\n reload 0\n fallthrough\n}").unwrap();
    assert_eq!(o.path, PathBuf::from("/nonexistent/hosts"));
    assert_eq!(o.zones, vec!["example.org.".to_string(), "0.0.10.in-addr.arpa.".to_string()]);
    assert_eq!((o.ttl, o.reverse, o.reload), (60, false, Duration::ZERO));
    assert!(o.fall.through("anything."));
    let o = opts("hosts {\n 172.16.0.3 webservice1.com\n fallthrough\n}").unwrap();
    assert_eq!(o.inline, vec!["172.16.0.3 webservice1.com".to_string()]);
}

#[test]
fn setup_errors() {
    let rows = [
        ("hosts {\n ttl\n}", "Testfile:2 - Error during parsing: ttl needs a time in second"),
        ("hosts {\n ttl x\n}", "Testfile:2 - Error during parsing: ttl needs a number of second"),
        ("hosts {\n ttl 0\n}", "Testfile:2 - Error during parsing: ttl provided is invalid"),
        ("hosts {\n ttl 70000\n}", "Testfile:2 - Error during parsing: ttl provided is invalid"),
        (
            "hosts {\n reload\n}",
            "Testfile:2 - Error during parsing: reload needs a duration (zero seconds to disable)",
        ),
        (
            "hosts {\n reload soon\n}",
            "Testfile:2 - Error during parsing: invalid duration for reload 'soon'",
        ),
        (
            "hosts {\n reload -1s\n}",
            "Testfile:2 - Error during parsing: invalid negative duration for reload '-1s'",
        ),
        (
            "hosts {\n fallthrough\n 10.0.0.1 late.test\n}",
            "Testfile:3 - Error during parsing: unknown property '10.0.0.1'",
        ),
        (
            "hosts {\n fallthrough_unsupported\n}",
            "Testfile:3 - Error during parsing: fallthrough_unsupported requires fallthrough",
        ),
        (
            "hosts {\n fallthrough\n fallthrough_unsupported x\n}",
            "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'x'",
        ),
    ];
    for (input, want) in rows {
        assert_eq!(opts(input).unwrap_err(), want, "{input}");
    }
}

const INLINE: &str = "hosts /nonexistent/hosts example.org {
    10.0.0.1 a.example.org alias.example.org
    10.0.0.2 a.example.org
    ::1 a.example.org
    10.0.0.3 v4only.example.org
    10.0.0.9 outside.example.net
    10.0.0.7 *.wild.example.org
    reload 0
}";

fn plugin(input: &str) -> Arc<dyn Plugin> {
    setup(&mut Controller::from_text(input)).unwrap().unwrap()
}

fn run(p: &Arc<dyn Plugin>, case: &Case) {
    let result = test_util::serve(vec![p.clone()], case.request());
    match result {
        // Addresses come as wire bytes, PTR as a message: both must decode to the expected reply.
        Ok(reply @ (Reply::Message { .. } | Reply::Wire { .. })) => {
            let (msg, by) = reply.into_message().expect("a reply that decodes");
            assert_eq!(by, "hosts");
            assert!(msg.metadata.authoritative, "{}", case.qname);
            assert_case(case, &msg);
        }
        Ok(Reply::Rcode(rcode)) => {
            assert_eq!(rcode, case.rcode, "{} {}", case.qname, case.qtype);
            assert!(case.answer.is_empty());
        }
        Err(e) => panic!("{} {}: {e}", case.qname, case.qtype),
        Ok(Reply::Drop) => panic!("hosts never drops"),
        Ok(Reply::Stream { .. }) => panic!("hosts never streams"),
    }
}

#[test]
fn answers_like_coredns() {
    let p = plugin(INLINE);
    let cases = [
        Case {
            answer: vec![
                rr("a.example.org. 3600 IN A 10.0.0.1"),
                rr("a.example.org. 3600 IN A 10.0.0.2"),
            ],
            ..Case::new("a.example.org.", RecordType::A, ResponseCode::NoError)
        },
        // The owner is the lower-cased query name, as in CoreDNS.
        Case {
            answer: vec![rr("a.example.org. 3600 IN AAAA ::1")],
            ..Case::new("A.Example.ORG.", RecordType::AAAA, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr("alias.example.org. 3600 IN A 10.0.0.1")],
            ..Case::new("alias.example.org.", RecordType::A, ResponseCode::NoError)
        },
        // Known name, other family or type: NOERROR, nothing, no SOA.
        Case::new("v4only.example.org.", RecordType::AAAA, ResponseCode::NoError),
        Case::new("a.example.org.", RecordType::MX, ResponseCode::NoError),
        // Unknown without fallthrough: SERVFAIL.
        Case::new("nope.example.org.", RecordType::A, ResponseCode::ServFail),
        // PTR for every name of the address, for any reverse name.
        Case {
            answer: vec![
                rr("1.0.0.10.in-addr.arpa. 3600 IN PTR a.example.org."),
                rr("1.0.0.10.in-addr.arpa. 3600 IN PTR alias.example.org."),
            ],
            ..Case::new("1.0.0.10.in-addr.arpa.", RecordType::PTR, ResponseCode::NoError)
        },
        // Wildcards match one label and have no PTR.
        Case {
            answer: vec![rr("x.wild.example.org. 3600 IN A 10.0.0.7")],
            ..Case::new("x.wild.example.org.", RecordType::A, ResponseCode::NoError)
        },
        Case::new("wild.example.org.", RecordType::A, ResponseCode::ServFail),
    ];
    for case in &cases {
        run(&p, case);
    }
}

#[test]
fn outside_names_and_unknown_ptr_go_to_the_next_plugin() {
    let p = plugin(INLINE);
    for (name, qtype) in [
        ("outside.example.net.", RecordType::A),
        ("9.0.0.10.in-addr.arpa.", RecordType::PTR),
        ("7.0.0.10.in-addr.arpa.", RecordType::PTR),
    ] {
        let result = test_util::serve(vec![p.clone()], test_util::request(name, qtype));
        assert_eq!(result.unwrap_err().to_string(), "plugin/hosts: no next plugin found", "{name}");
    }
}

#[test]
fn fallthrough_and_unsupported_types() {
    let p = plugin("hosts /nonexistent/hosts {\n 10.0.0.1 a.test\n fallthrough\n}");
    let next = |name: &str, qtype| {
        test_util::serve(vec![p.clone()], test_util::request(name, qtype)).is_err()
    };
    assert!(next("b.test.", RecordType::A), "unknown names fall through");
    assert!(!next("a.test.", RecordType::MX), "known names answer NODATA");
    let p = plugin(
        "hosts /nonexistent/hosts {\n 10.0.0.1 a.test\n fallthrough\n fallthrough_unsupported\n}",
    );
    let result = test_util::serve(vec![p], test_util::request("a.test.", RecordType::MX));
    assert!(result.is_err(), "other types fall through with fallthrough_unsupported");
}

#[test]
fn ttl_and_no_reverse() {
    let p = plugin("hosts /nonexistent/hosts {\n 10.0.0.1 a.test\n ttl 30\n no_reverse\n}");
    run(
        &p,
        &Case {
            answer: vec![rr("a.test. 30 IN A 10.0.0.1")],
            ..Case::new("a.test.", RecordType::A, ResponseCode::NoError)
        },
    );
    let ptr =
        test_util::serve(vec![p], test_util::request("1.0.0.10.in-addr.arpa.", RecordType::PTR));
    assert!(ptr.is_err(), "no PTR with no_reverse");
}

#[test]
fn file_is_read_and_reread_when_it_changes() {
    let dir = test_util::ScratchDir::new("hosts-reread");
    let path = dir.write("hosts", "10.1.1.1 file.test\nbad line here\n10.1.1.2 both.test\n");
    let input = format!("hosts {} {{\n 10.9.9.9 both.test\n reload 0\n}}", path.display());
    let state = Arc::new(State::new(parse(&mut Controller::from_text(&input)).unwrap()));
    state.refresh();
    let table = state.table.load();
    let ips: Vec<String> =
        table.lookup("both.test.").unwrap().v4.iter().map(|ip| ip.to_string()).collect();
    assert_eq!(ips, ["10.1.1.2", "10.9.9.9"], "file first, then inline");
    assert!(state.table.load().lookup("file.test.").is_some());
    assert_eq!(
        ENTRIES.with_label_values(&[&path.to_string_lossy()]).get(),
        6,
        "2 file names + 1 inline, each with a reverse mapping"
    );

    // A change of size is noticed; the new file replaces the old entries.
    std::fs::write(&path, "10.1.1.3 changed.test\n").unwrap();
    state.refresh();
    assert!(state.table.load().lookup("file.test.").is_none());
    assert!(state.table.load().lookup("changed.test.").is_some());

    // Deleting the file keeps what was loaded.
    std::fs::remove_file(&path).unwrap();
    state.refresh();
    assert!(state.table.load().lookup("changed.test.").is_some());
    assert!(state.table.load().lookup("both.test.").is_some());
}
