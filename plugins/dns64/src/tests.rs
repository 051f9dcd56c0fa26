//! CoreDNS 1.14.7's `plugin/dns64/setup_test.go` (`TestSetupDns64`) and `dns64_test.go`
//! (`TestTo6`, `TestRequestShouldIntercept`, `TestResponseShould`), ported.

use plugin_api::Proto;
use plugin_api::proto::op::{Message, Query, ResponseCode};
use plugin_api::proto::rr::Name;
use plugin_api::proto::rr::rdata::{A, SOA};
use plugin_api::test_util::{self, Form};

use super::*;

fn parsed(text: &str) -> Result<Dns64, String> {
    parse(&mut Controller::from_text(text)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    // TestSetupDns64: the input, whether it fails, the prefix, allow_ipv4.
    let cases: &[(&str, bool, &str, bool)] = &[
        ("dns64", false, "64:ff9b::/96", false),
        ("dns64 64:dead::/96", false, "64:dead::/96", false),
        ("dns64 {\n translate_all\n}", false, "64:ff9b::/96", false),
        ("dns64 {\n prefix 64:ff9b::/96\n}", false, "64:ff9b::/96", false),
        ("dns64 {\n prefix 64:ff9b::/32\n}", false, "64:ff9b::/32", false),
        ("dns64 {\n prefix 64:ff9b::/52\n}", true, "", false),
        ("dns64 {\n prefix 64:ff9b::/104\n}", true, "", false),
        ("dns64 {\n prefix 8.8.8.8/24\n}", true, "", false),
        ("dns64 {\n prefix 2002:ac12:b083::/96\n}", false, "2002:ac12:b083::/96", false),
        ("dns64 {\n prefix 2002:c0a8:a88a::/48\n}", false, "2002:c0a8:a88a::/48", false),
        ("dns64 foobar {\n prefix 64:ff9b::/96\n}", true, "", false),
        ("dns64 foobar", true, "", false),
        ("dns64 {\n foobar\n}", true, "", false),
        ("dns64 {\n allow_ipv4\n}", false, "64:ff9b::/96", true),
    ];
    for (text, fails, prefix, allow_ipv4) in cases {
        match parsed(text) {
            Ok(d) => {
                assert!(!fails, "{text}: accepted");
                assert_eq!(d.prefix.to_string(), *prefix, "{text}");
                assert_eq!(d.allow_ipv4, *allow_ipv4, "{text}");
            }
            Err(e) => assert!(*fails, "{text}: {e}"),
        }
    }
    // The words, as Go's net package and CoreDNS put them.
    assert_eq!(
        parsed("dns64 foobar").unwrap_err(),
        "Testfile:1 - Error during parsing: invalid CIDR address: foobar"
    );
    assert!(
        parsed("dns64 {\n prefix 8.8.8.8/24\n}")
            .unwrap_err()
            .ends_with("invalid netmask 32 IPv6 address: \"8.8.8.0/24\"")
    );
    assert!(
        parsed("dns64 {\n prefix 64:ff9b::/52\n}")
            .unwrap_err()
            .ends_with("invalid prefix length \"64:ff9b::/52\"")
    );
    assert!(parsed("dns64 {\n foobar\n}").unwrap_err().ends_with("unknown property 'foobar'"));
}

#[test]
fn addresses_are_embedded_as_rfc_6052_says() {
    // TestTo6.
    let v4: Ipv4Addr = "64.64.64.64".parse().unwrap();
    let cases = [
        ("64:ff9b::/96", "64:ff9b::4040:4040"),
        ("64:ff9b::/64", "64:ff9b::40:4040:4000:0"),
        ("64:ff9b::/56", "64:ff9b:0:40:40:4040::"),
        ("64::/32", "64:0:4040:4040::"),
    ];
    for (prefix, want) in cases {
        let text = format!("dns64 {prefix}");
        assert_eq!(parsed(&text).unwrap().prefix.embed(v4).to_string(), want, "{prefix}");
    }
}

fn request(qtype: RecordType, class: DNSClass, src: &str) -> Request {
    let mut msg = Message::query();
    let mut q = Query::query(Name::from_ascii("example.com.").unwrap(), qtype);
    q.set_query_class(class);
    msg.add_query(q);
    Request::new(msg, src.parse().unwrap(), test_util::SERVER.parse().unwrap(), Proto::Udp, 30)
}

#[test]
fn which_queries_are_intercepted() {
    // TestRequestShouldIntercept: AAAA in IN from IPv6; from IPv4 only with allow_ipv4.
    let (v6, v4) = ("[::1]:5353", "127.0.0.1:5353");
    let d = parsed("dns64").unwrap();
    let allowed = parsed("dns64 {\n allow_ipv4\n}").unwrap();
    assert!(d.intercepts(&request(RecordType::AAAA, DNSClass::IN, v6)));
    assert!(!d.intercepts(&request(RecordType::AAAA, DNSClass::IN, v4)));
    assert!(allowed.intercepts(&request(RecordType::AAAA, DNSClass::IN, v4)));
    assert!(!d.intercepts(&request(RecordType::A, DNSClass::IN, v6)));
    assert!(!d.intercepts(&request(RecordType::AAAA, DNSClass::CH, v6)));
}

fn reply(rcode: ResponseCode, answers: &[RecordType], soa: bool) -> Message {
    let req = request(RecordType::AAAA, DNSClass::IN, "[::1]:53");
    let mut msg = req.reply();
    msg.metadata.response_code = rcode;
    let name = Name::from_ascii("example.com.").unwrap();
    for t in answers {
        let data = match t {
            RecordType::A => RData::A(A::new(192, 0, 2, 1)),
            _ => RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        };
        msg.answers.push(Record::from_rdata(name.clone(), 60, data));
    }
    if soa {
        let soa = SOA::new(name.clone(), name.clone(), 1, 2, 3, 4, 5);
        msg.authorities.push(Record::from_rdata(name, 30, RData::SOA(soa)));
    }
    msg
}

#[test]
fn which_replies_are_translated() {
    // TestResponseShould: with and without translate_all, in both reply forms.
    let d = parsed("dns64").unwrap();
    let all = parsed("dns64 {\n translate_all\n}").unwrap();
    let cases: &[(Message, bool, bool)] = &[
        // NOERROR with no answers: translated, either way.
        (reply(ResponseCode::NoError, &[], true), true, true),
        // NXDOMAIN: never.
        (reply(ResponseCode::NXDomain, &[], true), false, false),
        // SERVFAIL counts as empty.
        (reply(ResponseCode::ServFail, &[], false), true, true),
        // A AAAA answer: only with translate_all.
        (reply(ResponseCode::NoError, &[RecordType::AAAA], false), false, true),
    ];
    for (msg, plain, translate_all) in cases {
        for form in Form::BOTH {
            let r = form.reply(msg.clone(), "t");
            assert_eq!(d.translates(&r), Some(*plain), "{form:?} {:?}", msg.metadata.response_code);
            assert_eq!(all.translates(&r), Some(*translate_all), "{form:?}");
        }
    }
}

#[test]
fn a_records_become_aaaa_under_the_prefix() {
    // TestDNS64's synthesis: the TTL is the smaller of the A record's and the first reply's
    // SOA (600 without one); other records pass unchanged; TC comes from the A reply.
    let d = parsed("dns64").unwrap();
    let req = request(RecordType::AAAA, DNSClass::IN, "[::1]:53");
    let mut a_reply = reply(ResponseCode::NoError, &[RecordType::A, RecordType::AAAA], false);
    a_reply.metadata.truncation = true;
    let out = d.synthesize(&req, &reply(ResponseCode::NoError, &[], true), a_reply.clone());
    let lines: Vec<String> =
        out.answers.iter().map(|r| format!("{} {} {}", r.ttl, r.record_type(), r.data)).collect();
    assert_eq!(lines, ["30 AAAA 64:ff9b::c000:201", "60 AAAA 2001:db8::1"]);
    assert!(out.metadata.truncation);
    let out = d.synthesize(&req, &reply(ResponseCode::NoError, &[], false), a_reply);
    assert_eq!(out.answers[0].ttl, 60, "no SOA: the smaller of 60 and 600");
    assert_eq!(out.metadata.response_code, ResponseCode::NoError);
}
