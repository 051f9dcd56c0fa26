//! Setup tables for `forward`; the behaviour against real upstreams is in tests/it/forward.rs.

use std::time::Duration;

use plugin_api::Controller;
use plugin_api::proto::op::ResponseCode;

use super::setup::*;

fn stanzas(input: &str) -> Result<Vec<Stanza>, String> {
    parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let s =
        &stanzas("forward . 10.0.0.1 10.0.0.2:5300 [2001:db8::1]:53 dns://10.0.0.3").unwrap()[0];
    assert_eq!(s.from, ".");
    let to: Vec<String> = s.to.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(to, ["10.0.0.1:53", "10.0.0.2:5300", "[2001:db8::1]:53", "10.0.0.3:53"]);
    assert_eq!(
        (s.max_fails, s.expire, s.read_timeout),
        (2, Duration::from_secs(10), Duration::from_secs(2))
    );
    assert_eq!(s.policy, Policy::Random);

    let s = &stanzas(
        "forward Example.ORG 10.0.0.1 {\n except a.example.org b.example.org\n force_tcp\n max_fails 3\n \
         health_check 1s no_rec domain example.com\n policy sequential\n max_concurrent 100\n \
         next NXDOMAIN servfail\n failover REFUSED\n max_connect_attempts 4\n read_timeout 500ms\n \
         expire 30s\n max_idle_conns 5\n failfast_all_unhealthy_upstreams\n next_on_nodata\n}",
    )
    .unwrap()[0];
    assert_eq!(s.from, "example.org.");
    assert_eq!(s.except, vec!["a.example.org.".to_string(), "b.example.org.".to_string()]);
    assert!(s.force_tcp && s.failfast_all_unhealthy && s.next_on_nodata);
    assert_eq!(
        (s.max_fails, s.health_check, s.hc_recursion_desired),
        (3, Duration::from_secs(1), false)
    );
    assert_eq!(s.hc_domain, "example.com.");
    assert_eq!((s.policy, s.max_concurrent), (Policy::Sequential, 100));
    assert_eq!(s.next, vec![ResponseCode::NXDomain, ResponseCode::ServFail]);
    assert_eq!(s.failover, vec![ResponseCode::Refused]);
    assert_eq!((s.max_connect_attempts, s.read_timeout), (Some(4), Duration::from_millis(500)));
    assert_eq!((s.expire, s.max_idle_conns), (Duration::from_secs(30), 5));

    assert_eq!(stanzas("forward . 10.0.0.1\nforward example.org 10.0.0.2").unwrap().len(), 2);
}

#[test]
fn tls_upstreams() {
    let s = &stanzas("forward . tls://10.0.0.1 tls://10.0.0.2%dns.example:8853 tls://[2001:db8::1]%x.test {\n tls\n}").unwrap()[0];
    let got: Vec<(String, bool, Option<String>)> =
        s.to.iter().map(|t| (t.addr.to_string(), t.tls, t.server_name.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("10.0.0.1:853".to_string(), true, None),
            ("10.0.0.2:8853".to_string(), true, Some("dns.example".to_string())),
            ("[2001:db8::1]:853".to_string(), true, Some("x.test".to_string())),
        ]
    );
    let err = stanzas("forward . tls://10.0.0.1%a.test {\n tls_servername b.test\n}").unwrap_err();
    assert!(err.ends_with("both forward ('b.test') and proxy level ('a.test') TLS servernames are set for upstream proxy"), "{err}");
    assert!(stanzas("forward . tls://10.0.0.1 {\n tls a b c d\n}").is_err());
    // The CA file is read when the plugin is built.
    let err = crate::setup(&mut Controller::from_text(
        "forward . tls://10.0.0.1 {\n tls /nonexistent/ca.pem\n}",
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn resolv_conf_files() {
    let dir = plugin_api::test_util::ScratchDir::new("forward-resolv");
    let path = dir.write("resolv.conf", "# comment\nsearch example.org\nnameserver 10.9.0.1\nnameserver fe80::1%eth0\noptions ndots:5\n");
    let s = &stanzas(&format!("forward . {}", path.display())).unwrap()[0];
    let to: Vec<String> = s.to.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(to, ["10.9.0.1:53", "[fe80::1]:53"]);
}

#[test]
fn setup_errors() {
    let rows = [
        (
            "forward",
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'forward'",
        ),
        (
            "forward .",
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '.'",
        ),
        (
            "forward . /nonexistent/resolv.conf",
            "Testfile:1 - Error during parsing: not an IP address or file: \"/nonexistent/resolv.conf\"",
        ),
        (
            "forward . https://10.0.0.1",
            "Testfile:1 - Error during parsing: 'https' is not supported as a destination protocol in forward: https://10.0.0.1",
        ),
        (
            "forward . 10.0.0.1 {\n policy fastest\n}",
            "Testfile:2 - Error during parsing: unknown policy 'fastest'",
        ),
        (
            "forward . 10.0.0.1 {\n next BOGUS\n}",
            "Testfile:2 - Error during parsing: BOGUS is not a valid rcode",
        ),
        (
            "forward . 10.0.0.1 {\n failover NOERROR\n}",
            "Testfile:2 - Error during parsing: NoError cannot be used in failover",
        ),
        (
            "forward . 10.0.0.1 {\n health_check 1s nope\n}",
            "Testfile:2 - Error during parsing: health_check: unknown option nope",
        ),
        (
            "forward . 10.0.0.1 {\n force_tcp x\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'x'",
        ),
        (
            "forward . 10.0.0.1 {\n read_timeout 0s\n}",
            "Testfile:2 - Error during parsing: read_timeout must be positive: 0s",
        ),
        (
            "forward . 10.0.0.1 {\n bogus\n}",
            "Testfile:2 - Error during parsing: unknown property 'bogus'",
        ),
        // Go's strconv: ParseUint takes no sign and 32 bits at most; Atoi takes a sign.
        (
            "forward . 10.0.0.1 {\n max_fails +5\n}",
            "Testfile:2 - Error during parsing: strconv.ParseUint: parsing \"+5\": invalid syntax",
        ),
        (
            "forward . 10.0.0.1 {\n max_connect_attempts 4294967296\n}",
            "Testfile:2 - Error during parsing: strconv.ParseUint: parsing \"4294967296\": value out of range",
        ),
        (
            "forward . 10.0.0.1 {\n max_concurrent -1\n}",
            "Testfile:2 - Error during parsing: max_concurrent can't be negative: -1",
        ),
        (
            "forward . 10.0.0.1 {\n max_idle_conns many\n}",
            "Testfile:2 - Error during parsing: strconv.Atoi: parsing \"many\": invalid syntax",
        ),
        (
            "forward . 10.0.0.1 {\n max_concurrent 99999999999999999999\n}",
            "Testfile:2 - Error during parsing: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
    ];
    for (input, want) in rows {
        assert_eq!(stanzas(input).unwrap_err(), want, "{input}");
    }
    let many: Vec<String> = (1..=16).map(|i| format!("10.0.0.{i}")).collect();
    assert!(
        stanzas(&format!("forward . {}", many.join(" ")))
            .unwrap_err()
            .ends_with("more than 15 TOs configured: 16")
    );
}

#[test]
fn a_reply_must_answer_the_question_asked() {
    use crate::upstream::replies_to;
    use plugin_api::proto::op::{Message, MessageType, Query, ResponseCode};
    use plugin_api::proto::rr::{Name, RecordType};
    let msg = |name: &str, qtype: RecordType, response: bool| {
        let mut m = Message::query();
        m.metadata.id = 7;
        if response {
            m.metadata.message_type = MessageType::Response;
        }
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    };
    let q = msg("Www.Example.org.", RecordType::A, false);
    assert!(replies_to(&q, &msg("www.EXAMPLE.org.", RecordType::A, true)), "case aside");
    assert!(!replies_to(&q, &msg("www.example.org.", RecordType::A, false)), "not a response");
    assert!(!replies_to(&q, &msg("www.example.net.", RecordType::A, true)), "another name");
    assert!(!replies_to(&q, &msg("www.example.org.", RecordType::AAAA, true)), "another type");
    // Without a question: only an error counts (FORMERR and NOTIMP may leave it out).
    let bare = |rcode: ResponseCode| {
        let mut m = Message::error_msg(7, plugin_api::proto::op::OpCode::Query, rcode);
        m.metadata.message_type = MessageType::Response;
        m.to_vec().unwrap()
    };
    assert!(replies_to(&q, &bare(ResponseCode::FormErr)));
    assert!(!replies_to(&q, &bare(ResponseCode::NoError)));
    assert!(!replies_to(&q, &[0u8; 5]), "too short");
}
