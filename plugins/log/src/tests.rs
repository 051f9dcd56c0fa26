//! Setup tables and the lines the handler writes.

use std::sync::Arc;
use std::time::Duration;

use plugin_api::pkg::response::Class;
use plugin_api::pkg::wire::WireReply;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Form, rr};
use plugin_api::{Controller, PluginError, Proto, Reply};

use super::*;
use crate::format::Format;

fn rules(input: &str) -> Result<Vec<Rule>, String> {
    parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let common = Format::parse(format::COMMON);
    let combined = Format::parse(format::COMBINED);
    let rule = |name: &str, classes: Vec<Class>, format: &Format| Rule {
        name: name.into(),
        classes,
        format: format.clone(),
    };
    let rows: Vec<(&str, Vec<Rule>)> = vec![
        ("log", vec![rule(".", vec![], &common)]),
        ("log example.org", vec![rule("example.org.", vec![], &common)]),
        (
            "log example.org Example.NET",
            vec![rule("example.org.", vec![], &common), rule("example.net.", vec![], &common)],
        ),
        ("log . {combined}", vec![rule(".", vec![], &combined)]),
        ("log {combined}", vec![rule(".", vec![], &combined)]),
        (
            "log a.org \"{type} {name}\"",
            vec![rule("a.org.", vec![], &Format::parse("{type} {name}"))],
        ),
        (
            "log {\n class denial error\n}",
            vec![rule(".", vec![Class::Denial, Class::Error], &common)],
        ),
        (
            "log {\n class denial\n class error\n}",
            vec![rule(".", vec![Class::Denial, Class::Error], &common)],
        ),
        ("log {\n class all denial\n}", vec![rule(".", vec![], &common)]),
        (
            "log a.org\nlog b.org {\n class success\n}",
            vec![rule("a.org.", vec![], &common), rule("b.org.", vec![Class::Success], &common)],
        ),
    ];
    for (input, want) in rows {
        assert_eq!(rules(input).unwrap(), want, "{input}");
    }
}

#[test]
fn setup_errors() {
    let rows = [
        (
            "log {\n class\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'class'",
        ),
        ("log {\n class nonsense\n}", "Testfile:2 - Error during parsing: invalid Class: nonsense"),
        ("log {\n format x\n}", "Testfile:2 - Error during parsing: unknown property 'format'"),
    ];
    for (input, want) in rows {
        assert_eq!(rules(input).unwrap_err(), want, "{input}");
    }
}

fn answer(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.authoritative = true;
    m.add_answer(rr("example.org. 5 IN A 10.0.0.1"));
    m
}

#[test]
fn common_format_line() {
    let req = test_util::request("Example.ORG.", RecordType::A);
    let rule = &rules("log").unwrap()[0];
    let result = Ok(Reply::message(answer(&req), "test"));
    let got = line(rule, &req, &result, Duration::from_micros(1500)).unwrap();
    // The query: a 12-octet header and a 17-octet question (13 for the name, 4 for type and
    // class). The reply: the same, and an A record of 27 octets: its owner `example.org.` in
    // full (13), as the question was asked in other letter case and the encoder compresses
    // only an exact match, then type, class, TTL, length (10) and the address (4).
    assert_eq!(
        got,
        "10.240.0.1:40212 - 4242 \"A IN example.org. udp 29 false 512\" NOERROR qr,aa,rd 56 0.0015s"
    );
}

#[test]
fn combined_format_ipv6_tcp_and_failures() {
    let src = "[2001:db8::1]:5300".parse().unwrap();
    let req = test_util::request_with("a.test.", RecordType::AAAA, Proto::Tcp, src, Some(1232));
    let rule = &rules("log . {combined}").unwrap()[0];
    let result: ServeResult = Err(PluginError::servfail("plugin/forward: no healthy proxies"));
    let got = line(rule, &req, &result, Duration::from_secs(2)).unwrap();
    assert!(
        got.starts_with("[2001:db8::1]:5300 - 4242 \"AAAA IN a.test. tcp ")
            && got.contains(" false 65535\" SERVFAIL qr,rd ")
            && got.ends_with(" 2s \"0\""),
        "{got}"
    );
}

#[test]
fn classes_select_lines() {
    let req = test_util::request("example.org.", RecordType::A);
    let denial_only = &rules("log {\n class denial\n}").unwrap()[0];
    let ok = Ok(Reply::message(answer(&req), "test"));
    assert_eq!(line(denial_only, &req, &ok, Duration::ZERO), None);
    let mut nx = req.reply();
    nx.metadata.response_code = ResponseCode::NXDomain;
    assert!(line(denial_only, &req, &Ok(Reply::message(nx, "test")), Duration::ZERO).is_some());
    let errors_only = &rules("log {\n class error\n}").unwrap()[0];
    assert!(
        line(errors_only, &req, &Ok(Reply::Rcode(ResponseCode::Refused)), Duration::ZERO).is_some()
    );
    assert_eq!(line(errors_only, &req, &ok, Duration::ZERO), None);
}

/// A reply in wire form is logged from its header alone when every class is logged, and from
/// its sections when classes are chosen; either way the line is the decoded reply's.
#[test]
fn wire_replies_log_as_their_messages() {
    let req = test_util::request("example.org.", RecordType::A);
    let mut nx = req.reply();
    nx.metadata.response_code = ResponseCode::NXDomain;
    nx.metadata.recursion_available = true;
    nx.metadata.authoritative = true;
    let all = &rules("log").unwrap()[0];
    let denial_only = &rules("log {\n class denial\n}").unwrap()[0];
    for msg in [answer(&req), nx] {
        let bytes = msg.to_vec().unwrap();
        let wire = Ok(Reply::Wire { wire: WireReply::new(bytes).unwrap(), by: "test" });
        let message = Ok(Reply::message(msg.clone(), "test"));
        for rule in [all, denial_only] {
            assert_eq!(
                line(rule, &req, &wire, Duration::ZERO),
                line(rule, &req, &message, Duration::ZERO),
                "{:?} under {:?}",
                msg.metadata.response_code,
                rule.classes
            );
        }
    }
    // The filter still reads a wire reply's class.
    let ok = Ok(Reply::Wire {
        wire: WireReply::new(answer(&req).to_vec().unwrap()).unwrap(),
        by: "test",
    });
    assert_eq!(line(denial_only, &req, &ok, Duration::ZERO), None);
    assert!(line(all, &req, &ok, Duration::ZERO).unwrap().contains(" NOERROR qr,aa,rd "));
}

#[test]
fn dropped_queries_log_dashes() {
    let req = test_util::request("example.org.", RecordType::A);
    let rule = &rules("log . \"{rcode} {>rflags} {rsize} {/kubernetes/namespace}\"").unwrap()[0];
    assert_eq!(line(rule, &req, &Ok(Reply::Drop), Duration::ZERO).unwrap(), "- - 0 -");
}

#[test]
fn metadata_labels_print_their_values() {
    let mut req = test_util::request("web.default.svc.cluster.local.", RecordType::A);
    req.meta_mut().set("kubernetes/namespace", "default");
    req.meta_mut().set("kubernetes/endpoint", "");
    let rule =
        &rules("log . \"{/kubernetes/namespace}|{/kubernetes/endpoint}|{/kubernetes/nope}\"")
            .unwrap()[0];
    let ok = Ok(Reply::Rcode(ResponseCode::NoError));
    assert_eq!(line(rule, &req, &ok, Duration::ZERO).unwrap(), "default||-");
}

/// Whatever form the reply comes in, it leaves *log* as it came: same form, same writer.
#[test]
fn handler_passes_the_reply_through_unchanged() {
    let log: Arc<dyn Plugin> = setup(&mut Controller::from_text("log")).unwrap().unwrap();
    for form in Form::BOTH {
        let req = test_util::request("example.org.", RecordType::A);
        let result = test_util::serve_before(log.clone(), answer, form, req);
        assert_eq!(result.as_ref().ok().and_then(Reply::by), Some("answers"), "{form:?}");
        assert_eq!(matches!(result, Ok(Reply::Wire { .. })), form == Form::Wire, "{form:?}");
        let msg = test_util::reply_message(result);
        assert_eq!(msg.answers.len(), 1, "{form:?}");
    }
    // Alone, it reports that nothing follows it.
    let alone = test_util::serve(vec![log], test_util::request("example.org.", RecordType::A));
    assert_eq!(alone.unwrap_err().to_string(), "plugin/log: no next plugin found");
}
