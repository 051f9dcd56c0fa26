//! CoreDNS 1.14.7's `plugin/chaos/setup_test.go` (`TestSetupChaos`) and `chaos_test.go`
//! (`TestChaos`), ported, and the rest of the names and defaults.

use plugin_api::Proto;
use plugin_api::proto::op::{Message, Query};
use plugin_api::proto::rr::{Name, RData};
use plugin_api::test_util::{self, Rest, reply_message};

use super::*;

#[test]
fn setup_table() {
    // TestSetupChaos: the input, whether it fails, the version, the first author, the error.
    let cases: &[(&str, bool, &str, &str, &str)] = &[
        ("chaos v2", false, "v2", "", ""),
        ("chaos v3 \"Miek Gieben\"", false, "v3", "Miek Gieben", ""),
        ("chaos v2 {\n unknown\n}", true, "", "", "unknown property"),
    ];
    for (text, fails, version, author, error) in cases {
        match parse(&mut Controller::from_text(text)) {
            Ok((v, authors)) => {
                assert!(!fails, "{text}: accepted");
                assert_eq!(v, *version, "{text}");
                if !author.is_empty() {
                    assert_eq!(authors[0], *author, "{text}");
                }
            }
            Err(e) => {
                assert!(*fails, "{text}: {e}");
                assert!(e.to_string().contains(error), "{text}: {e}");
                let e = e.in_plugin(NAME).to_string();
                assert_eq!(
                    e,
                    "plugin/chaos: Testfile:2 - Error during parsing: unknown property 'unknown'"
                );
            }
        }
    }
    // The defaults, the authors' order and deduplication, and the 255-octet cut.
    let (version, authors) = parse(&mut Controller::from_text("chaos")).unwrap();
    assert_eq!(version, format!("CoreDNS-{}", plugin_api::COREDNS_VERSION));
    assert_eq!(authors, DEFAULT_AUTHORS);
    let (_, authors) = parse(&mut Controller::from_text("chaos v1 b a b c")).unwrap();
    assert_eq!(authors, ["a", "b", "c"]);
    let long = "x".repeat(300);
    let (version, _) = parse(&mut Controller::from_text(&format!("chaos {long}"))).unwrap();
    assert_eq!(version.len(), 255);
    let (version, _) = parse(&mut Controller::from_text(&format!("chaos {long} a"))).unwrap();
    assert_eq!(version.len(), 300, "CoreDNS does not trim the version when authors follow");
}

fn ask(corefile: &str, qname: &str, qtype: RecordType, class: DNSClass) -> Message {
    let plugin = setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
    let mut msg = Message::query();
    msg.metadata.id = 77;
    let mut q = Query::query(Name::from_ascii(qname).unwrap(), qtype);
    q.set_query_class(class);
    msg.add_query(q);
    let req = Request::new(
        msg,
        test_util::CLIENT.parse().unwrap(),
        test_util::SERVER.parse().unwrap(),
        Proto::Udp,
        40,
    );
    reply_message(test_util::serve(vec![plugin, Arc::new(Rest)], req))
}

fn texts(msg: &Message) -> Vec<String> {
    msg.answers
        .iter()
        .map(|r| match &r.data {
            RData::TXT(txt) => String::from_utf8(txt.txt_data[0].to_vec()).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn chaos_names_are_answered() {
    // TestChaos: version.bind, authors.bind, and authors.bind for another type (passed on).
    let corefile = "chaos CoreDNS-001 \"Miek Gieben\"";
    let reply = ask(corefile, "version.bind.", RecordType::TXT, DNSClass::CH);
    assert_eq!(texts(&reply), ["CoreDNS-001"]);
    let reply = ask(corefile, "authors.bind.", RecordType::TXT, DNSClass::CH);
    assert_eq!(texts(&reply), ["Miek Gieben"]);
    let reply = ask(corefile, "authors.bind.", RecordType::SRV, DNSClass::CH);
    assert!(reply.answers.is_empty() && reply.metadata.authoritative, "passed on to Rest");
    // The reply's shape: CH, TTL 0, owned by the name as asked, not authoritative.
    let reply = ask(corefile, "Version.Server.", RecordType::TXT, DNSClass::CH);
    let record = &reply.answers[0];
    assert_eq!(record.name.to_ascii(), "Version.Server.");
    assert_eq!((record.dns_class, record.ttl), (DNSClass::CH, 0));
    assert!(!reply.metadata.authoritative);
    assert_eq!(reply.metadata.id, 77);
    assert_eq!(reply.queries[0].query_class(), DNSClass::CH);
    // The host name, under both names; other names and classes pass on.
    for name in ["hostname.bind.", "id.server."] {
        assert_eq!(
            texts(&ask(corefile, name, RecordType::TXT, DNSClass::CH)),
            [trim(&plugin_api::pkg::host::name())]
        );
    }
    for (name, class) in [("other.bind.", DNSClass::CH), ("version.bind.", DNSClass::IN)] {
        let reply = ask(corefile, name, RecordType::TXT, class);
        assert!(reply.answers.is_empty() && reply.metadata.authoritative, "{name} {class}");
    }
}

#[test]
fn authors_come_in_every_order() {
    let corefile = "chaos v1 a b c";
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut got = texts(&ask(corefile, "authors.bind.", RecordType::TXT, DNSClass::CH));
        seen.insert(got.clone());
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
    }
    assert_eq!(seen.len(), 6, "all six orders of three authors: {seen:?}");
}
