//! CoreDNS 1.14.7's tables, ported: plugin/template/setup_test.go (`TestSetupParse`,
//! `TestSetupParseLargeRegex`) and plugin/template/template_test.go (`TestHandler`, and
//! `TestMultiSection` for rules that fall through to each other). Error texts are CoreDNS's,
//! except a record parse failure's, which is hickory's words rather than miekg/dns's.

use plugin_api::proto::op::{Message, Query, ResponseCode};
use plugin_api::proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use plugin_api::proto::rr::{DNSClass, Name, RData, RecordType};
use plugin_api::test_util::{self, Rest};

use super::*;

fn parse_err(corefile: &str) -> Option<String> {
    let mut c = Controller::from_text(corefile);
    setup::parse(&mut c).err().map(|e| e.to_string())
}

#[test]
fn setup_parse_table() {
    // TestSetupParse: the inputs and whether they fail.
    let cases: &[(&str, bool)] = &[
        ("template", true),
        ("template X", true),
        ("template ANY", true),
        ("template ANY X", true),
        ("template ANY ANY .* {\n notavailable\n}", true),
        ("template ANY ANY {\n answer\n}", true),
        ("template ANY ANY {\n additional\n}", true),
        ("template ANY ANY {\n rcode\n}", true),
        ("template ANY ANY {\n rcode UNDEFINED\n}", true),
        ("template ANY ANY {\n answer \"{{\"\n}", true),
        ("template ANY ANY {\n additional \"{{\"\n}", true),
        ("template ANY ANY {\n authority \"{{\"\n}", true),
        ("template ANY ANY {\n answer \"{{ notAFunction }}\"\n}", true),
        (
            "template ANY ANY {\n answer \"{{ parseInt }}\"\n additional \"{{ parseInt }}\"\n authority \"{{ parseInt }}\"\n}",
            false,
        ),
        ("template ANY ANY (?P<x>", false),
        ("template ANY ANY {\n\n}", false),
        (
            "template ANY A example.com {\n match ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]com\n answer \"{{ .Name }} A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Grup.d }}.\"\n fallthrough\n}",
            false,
        ),
        (
            "template IN ANY example.com {\n match \"[.](example[.]com[.]dc1[.]example[.]com[.])$\"\n rcode NXDOMAIN\n authority \"{{ index .Match 1 }} 60 IN SOA ns.{{ index .Match 1 }} hostmaster.example.com (1 60 60 60 60)\"\n fallthrough example.com\n}",
            false,
        ),
        (
            "template IN A example {\n match ^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]example[.]$\n answer \"{{ .Name }} 3600 IN A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.{{ parseInt .Group.d 16 8 }}\"\n}",
            false,
        ),
        (
            "template ANY ANY invalid {\n rcode NXDOMAIN\n authority \"invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"\n ederror 21 \"Blocked according to RFC2606\"\n}",
            false,
        ),
        ("template ANY ANY invalid {\n ederror invalid \"Blocked according to RFC2606\"\n}", true),
        ("template ANY ANY invalid {\n ederror too many arguments\n}", true),
    ];
    for (corefile, should_fail) in cases {
        assert_eq!(
            parse_err(corefile).is_some(),
            *should_fail,
            "{corefile}: {:?}",
            parse_err(corefile)
        );
    }
}

#[test]
fn setup_errors_use_corednss_words() {
    let cases = [
        ("template X", "Testfile:1 - Error during parsing: invalid query class X"),
        ("template ANY X", "Testfile:1 - Error during parsing: invalid RR class X"),
        (
            "template ANY ANY {\n rcode UNDEFINED\n}",
            "Testfile:2 - Error during parsing: unknown rcode UNDEFINED",
        ),
        (
            "template ANY ANY {\n answer \"{{ notAFunction }}\"\n}",
            "Testfile:2 - Error during parsing: could not compile template: {{ notAFunction }}, template: answer: function \"notAFunction\" not defined",
        ),
        (
            "template ANY ANY {\n ederror x\n}",
            "Testfile:2 - Error during parsing: error parsing extended DNS error code x, strconv.ParseUint: parsing \"x\": invalid syntax",
        ),
        (
            "template ANY ANY {\n ederror 70000\n}",
            "error parsing extended DNS error code 70000, strconv.ParseUint: parsing \"70000\": value out of range",
        ),
        ("template ANY ANY {\n ederror +5\n}", "strconv.ParseUint: parsing \"+5\": invalid syntax"),
        (
            "template ANY ANY {\n match (\n}",
            "Testfile:2 - Error during parsing: could not parse regex: (, regex parse error:",
        ),
        (
            "template ANY ANY {\n bogus\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'bogus'",
        ),
    ];
    for (corefile, want) in cases {
        let err = parse_err(corefile).expect(corefile);
        assert!(err.contains(want), "{corefile}:\n got {err}\nwant {want}");
    }
    // TestSetupParseLargeRegex.
    let large = format!(
        "template ANY A example.com {{\n match {}\n}}",
        "a".repeat(setup::MAX_REGEX_LEN + 1)
    );
    let err = parse_err(&large).unwrap();
    assert!(err.contains("regex pattern too long: 10001 > 10000"), "{err}");
}

/// A `template` block for zone `.` followed by [`Rest`] (the "fallthrough" of CoreDNS's tests).
fn serve_with(corefile: &str, qname: &str, qclass: DNSClass, qtype: RecordType) -> ServeResult {
    serve_with_meta(corefile, qname, qclass, qtype, &[])
}

/// [`serve_with`] for a query whose metadata holds `meta`, as *metadata* would leave it.
fn serve_with_meta(
    corefile: &str,
    qname: &str,
    qclass: DNSClass,
    qtype: RecordType,
    meta: &[(&str, &str)],
) -> ServeResult {
    let plugin = setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
    let mut msg = Message::query();
    msg.metadata.id = 4242;
    let mut query = Query::query(Name::from_ascii(qname).unwrap(), qtype);
    query.set_query_class(qclass);
    msg.add_query(query);
    let len = msg.to_vec().unwrap().len();
    let mut req = Request::new(
        msg,
        test_util::CLIENT.parse().unwrap(),
        test_util::SERVER.parse().unwrap(),
        plugin_api::Proto::Udp,
        len,
    );
    for (label, value) in meta {
        req.meta_mut().set(label, value);
    }
    test_util::serve(vec![plugin, Arc::new(Rest)], req)
}

fn message(result: ServeResult) -> Message {
    test_util::reply_message(result)
}

const IP_10: &str = "(^|[.])ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$";

#[test]
fn handler_table() {
    use DNSClass::IN;
    use RecordType::{A, ANY, MX};
    let any = |body: &str| format!("template ANY ANY {{\n{body}\n fallthrough\n}}");

    // RcodeServFail: a bare SERVFAIL, nothing written.
    let result = serve_with(&any(" rcode SERVFAIL"), "test.invalid.", IN, A);
    assert!(matches!(result, Ok(Reply::Rcode(ResponseCode::ServFail))), "{result:?}");

    // ExampleDomainNameMismatch: the regex misses, fallthrough: the next plugin answers.
    let t = any(&format!(
        " match {IP_10}\n answer \"{{{{ .Name }}}} 60 IN A 10.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}\""
    ));
    let result = serve_with(&t, "test.invalid.", IN, A).unwrap();
    assert_eq!(result.by(), Some("rest"));

    // ExampleDomainMatch.
    let msg = message(serve_with(&t, "ip-10-95-12-8.example.", IN, A));
    assert_eq!(msg.answers.len(), 1);
    assert_eq!(msg.answers[0].data, RData::A("10.95.12.8".parse().unwrap()));
    assert!(msg.metadata.authoritative);

    // BrokenTemplate: Go's error text, position and all.
    let broken = any(
        " match [.]example[.]$\n answer \"{{ .Name }} 60 IN TXT \\\"{{ index .Match 2 }}\\\"\"",
    );
    let err = serve_with(&broken, "test.example.", IN, ANY).unwrap_err();
    assert_eq!(err.rcode(), ResponseCode::ServFail);
    assert_eq!(
        err.message(),
        "plugin/template: template: answer:1:26: executing \"answer\" at <index .Match 2>: error calling index: index out of range: 2"
    );

    // NonRRTemplate, NonRRAdditionalTemplate, NonRRAuthorityTemplate: the text is no record.
    for section in ["answer", "additional", "authority"] {
        let t = any(&format!(" match [.]example[.]$\n {section} \"{{{{ .Name }}}}\""));
        let err = serve_with(&t, "test.example.", IN, ANY).unwrap_err();
        assert_eq!(err.rcode(), ResponseCode::ServFail, "{section}");
        assert!(err.message().starts_with("plugin/template: "), "{section}: {}", err.message());
    }

    // ExampleIPMatch: `.Remote` is the client's address.
    let ip = "template IN A {\n answer \"{{ .Name }} 60 IN A {{ .Remote }}\"\n fallthrough\n}";
    let msg = message(serve_with(ip, "test.example.", IN, A));
    let client: std::net::SocketAddr = test_util::CLIENT.parse().unwrap();
    assert_eq!(
        msg.answers[0].data,
        RData::A(match client.ip() {
            std::net::IpAddr::V4(v4) => v4.into(),
            other => panic!("{other}"),
        })
    );

    // ExampleDomainMatchHexIp.
    let hex = any(
        " match ^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]example[.]$\n answer \"{{ .Name }} 60 IN A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.{{ parseInt .Group.d 16 8 }}\"",
    );
    let msg = message(serve_with(&hex, "ip0a5f0c09.example.", IN, A));
    assert_eq!(msg.answers[0].data, RData::A("10.95.12.9".parse().unwrap()));

    // BrokenParseIntTemplate.
    let t = any(
        " match [.]example[.]$\n answer \"{{ .Name }} 60 IN TXT \\\"{{ parseInt \\\"gg\\\" 16 8 }}\\\"\"",
    );
    let err = serve_with(&t, "test.example.", IN, ANY).unwrap_err();
    assert_eq!(
        err.message(),
        "plugin/template: template: answer:1:26: executing \"answer\" at <parseInt \"gg\" 16 8>: error calling parseInt: strconv.ParseUint: parsing \"gg\": invalid syntax"
    );

    // ExampleDomainMXMatch and ExampleDomainANSMatch: additional and authority sections.
    let mx = any(&format!(
        " match {IP_10}\n answer \"{{{{ .Name }}}} 60 MX 10 {{{{ .Name }}}}\"\n additional \"{{{{ .Name }}}} 60 IN A 10.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}\"\n authority \"example. IN NS ns0.example.com.\""
    ));
    let msg = message(serve_with(&mx, "ip-10-95-12-8.example.", IN, MX));
    assert_eq!((msg.answers.len(), msg.additionals.len(), msg.authorities.len()), (1, 1, 1));
    assert_eq!(msg.answers[0].record_type(), MX);
    assert_eq!(msg.additionals[0].record_type(), A);
    assert_eq!(msg.authorities[0].record_type(), RecordType::NS);
    assert_eq!(msg.authorities[0].ttl, rr::DEFAULT_TTL, "no TTL written: miekg/dns's 3600");

    // ExampleInvalidNXDOMAIN: the rcode and an SOA in the answer section, class from `.Class`.
    let nx = any(
        " match [.]invalid[.]$\n rcode NXDOMAIN\n answer \"invalid. 60 {{ .Class }} SOA a.invalid. b.invalid. (1 60 60 60 60)\"",
    );
    let msg = message(serve_with(&nx, "test.invalid.", IN, MX));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(msg.answers[0].record_type(), RecordType::SOA);

    // CNAMEWithoutUpstream: the chain has nothing to follow the CNAME with; it stays alone.
    let cname =
        any(" match example[.]net[.]\n answer \"example.net 60 IN CNAME target.example.com\"");
    let msg = message(serve_with(&cname, "example.net.", IN, A));
    assert_eq!(msg.answers.len(), 1);

    // mdMatch: metadata a plugin set, in the answer's name, the additional's and the NS's data.
    let md = any(&format!(
        " match {IP_10}\n answer \"{{{{ .Meta \\\"foo\\\" }}}}-{{{{ .Name }}}} 60 IN A 10.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}\"\n additional \"{{{{ .Meta \\\"bar\\\" }}}}.example. IN A 203.0.113.8\"\n authority \"example. IN NS {{{{ .Meta \\\"bar\\\" }}}}.example.com.\""
    ));
    let set = [("foo", "myfoo"), ("bar", "mybar"), ("foobar", "myfoobar")];
    let msg = message(serve_with_meta(&md, "ip-10-95-12-8.example.", IN, A, &set));
    assert_eq!(msg.answers.len(), 1);
    assert_eq!(msg.answers[0].name.to_string(), "myfoo-ip-10-95-12-8.example.");
    assert_eq!(msg.additionals.len(), 1);
    assert_eq!(msg.additionals[0].name.to_string(), "mybar.example.");
    assert_eq!(msg.authorities[0].data.to_string(), "mybar.example.com.");

    // mdMissing: metadata no plugin set reads as "".
    let md = any(&format!(
        " match {IP_10}\n answer \"{{{{ .Meta \\\"foofoo\\\" }}}}{{{{ .Name }}}} 60 IN A 10.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}\""
    ));
    let msg = message(serve_with_meta(&md, "ip-10-95-12-8.example.", IN, A, &[("foo", "myfoo")]));
    assert_eq!(msg.answers[0].name.to_string(), "ip-10-95-12-8.example.");

    // EDNS error: NXDOMAIN with an EDE, info code 21 and its text.
    let ede = any(
        " rcode NXDOMAIN\n authority \"invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"\n ederror 21 \"Blocked due to RFC2606\"",
    );
    let msg = message(serve_with(&ede, "test.invalid.", IN, A));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    let edns = msg.edns.as_ref().expect("an OPT with the extended error");
    let data = match edns.options().get(EdnsCode::from(15)) {
        Some(EdnsOption::Unknown(15, data)) => data.clone(),
        other => panic!("no EDE option: {other:?}"),
    };
    assert_eq!(u16::from_be_bytes([data[0], data[1]]), 21);
    assert_eq!(&data[2..], b"Blocked due to RFC2606");
}

#[test]
fn rules_are_tried_in_order_and_fall_through() {
    // After TestMultiSection: the first rule whose zone, class and type fit and whose regex
    // matches answers; a miss without fallthrough is SERVFAIL.
    let corefile = "template IN A example.com {\n match ^a[.]\n answer \"{{ .Name }} 60 IN A 192.0.2.1\"\n fallthrough\n}\n\
                    template IN A example.com {\n match ^b[.]\n answer \"{{ .Name }} 60 IN A 192.0.2.2\"\n}\n\
                    template IN AAAA example.com {\n answer \"{{ .Name }} 60 IN AAAA 2001:db8::1\"\n}";
    let first = message(serve_with(corefile, "a.example.com.", DNSClass::IN, RecordType::A));
    assert_eq!(first.answers[0].data, RData::A("192.0.2.1".parse().unwrap()));
    let second = message(serve_with(corefile, "b.example.com.", DNSClass::IN, RecordType::A));
    assert_eq!(second.answers[0].data, RData::A("192.0.2.2".parse().unwrap()));
    // Neither regex: the first falls through, the second has no fallthrough.
    let miss = serve_with(corefile, "c.example.com.", DNSClass::IN, RecordType::A);
    assert!(matches!(miss, Ok(Reply::Rcode(ResponseCode::ServFail))), "{miss:?}");
    // Another type skips the A rules; the AAAA rule (default regex) answers.
    let aaaa = message(serve_with(corefile, "c.example.com.", DNSClass::IN, RecordType::AAAA));
    assert_eq!(aaaa.answers[0].record_type(), RecordType::AAAA);
    // Outside every zone: the next plugin.
    let outside = serve_with(corefile, "a.example.org.", DNSClass::IN, RecordType::A).unwrap();
    assert_eq!(outside.by(), Some("rest"));
    // The class must fit too.
    let chaos = serve_with(corefile, "a.example.com.", DNSClass::CH, RecordType::A).unwrap();
    assert_eq!(chaos.by(), Some("rest"));
}

#[test]
fn bare_rules_answer_in_wire_form() {
    // The AAAA filter: NOERROR, nothing else, written as wire bytes; AA set as CoreDNS sets it.
    let filter = "template ANY AAAA {\n rcode NOERROR\n}";
    let reply = serve_with(filter, "svc.example.", DNSClass::IN, RecordType::AAAA).unwrap();
    assert!(matches!(reply, Reply::Wire { by: NAME, .. }), "{reply:?}");
    let msg = message(Ok(reply));
    assert_eq!((msg.metadata.response_code, msg.answers.len()), (ResponseCode::NoError, 0));
    assert!(msg.metadata.authoritative);
    assert_eq!(msg.queries[0].query_type(), RecordType::AAAA);
    let a = serve_with(filter, "svc.example.", DNSClass::IN, RecordType::A).unwrap();
    assert_eq!(a.by(), Some("rest"));
    let nx = "template IN ANY invalid {\n rcode NXDOMAIN\n}";
    let msg = message(serve_with(nx, "x.invalid.", DNSClass::IN, RecordType::MX));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn metrics_count_matches_and_failures_with_corednss_labels() {
    let zone = "metrics-test.example.";
    let corefile = format!(
        "template IN A {zone} {{\n match ^ok[.]\n answer \"{{{{ .Name }}}} 60 IN A 192.0.2.1\"\n fallthrough\n}}\n\
         template IN TXT {zone} {{\n answer \"{{{{ index .Match 3 }}}}\"\n}}\n\
         template IN MX {zone} {{\n answer \"{{{{ .Name }}}} 60 IN MX x\"\n}}"
    );
    let before = |labels: &[&str]| metrics::MATCHES.with_label_values(labels).get();
    let matched = ["dns://:53", zone, "", "IN", "A"];
    let start = before(&matched);
    for _ in 0..3 {
        message(serve_with(&corefile, &format!("ok.{zone}"), DNSClass::IN, RecordType::A));
    }
    assert_eq!(before(&matched) - start, 3);
    // A query of type ANY is counted under the rule's type.
    let any_start = before(&["dns://:53", zone, "", "IN", "TXT"]);
    let _ = serve_with(&corefile, &format!("x.{zone}"), DNSClass::IN, RecordType::ANY);
    assert_eq!(before(&["dns://:53", zone, "", "IN", "TXT"]) - any_start, 1);

    let failures = |counter: &IntCounterVec, qtype: &str, source: &str| {
        counter.with_label_values(&["dns://:53", zone, "", "IN", qtype, "answer", source]).get()
    };
    let t0 = failures(&metrics::TEMPLATE_FAILURES, "TXT", "{{index .Match 3}}");
    assert!(serve_with(&corefile, &format!("x.{zone}"), DNSClass::IN, RecordType::TXT).is_err());
    assert_eq!(failures(&metrics::TEMPLATE_FAILURES, "TXT", "{{index .Match 3}}") - t0, 1);
    let r0 = failures(&metrics::RR_FAILURES, "MX", "{{.Name}} 60 IN MX x");
    assert!(serve_with(&corefile, &format!("x.{zone}"), DNSClass::IN, RecordType::MX).is_err());
    assert_eq!(failures(&metrics::RR_FAILURES, "MX", "{{.Name}} 60 IN MX x") - r0, 1);
}
