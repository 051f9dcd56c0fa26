//! CoreDNS 1.14.7's tables, ported: plugin/rewrite/setup_test.go (`TestParse`),
//! name_test.go (`TestRewriteIllegalName`, `TestRewriteNamePrefixSuffix`,
//! `TestRewriteNameNoRewrite`, `TestRewriteNamePrefixSuffixNoAutoAnswer`,
//! `TestRewriteNamePrefixSuffixAutoAnswer`, `TestRewriteNameExactAnswer`,
//! `TestRewriteNameRegexAnswer`, `TestNewNameRule`, `TestNewNameRuleLargeRegex`), and the
//! type and class rules of rewrite_test.go.
//!
//! CoreDNS's tests look at the reply with the question restored or not (`NoRestorePolicy`); the
//! plugin here always restores it, so these read what the next plugin was asked from the
//! answer it wrote, and the question the client gets from the reply.

use std::sync::Mutex;

use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{CNAME, SRV};
use plugin_api::proto::rr::{DNSClass, RData, Record, RecordType};
use plugin_api::test_util;

use super::*;

/// The next plugin: answers with an A record owned by the name it was asked, and a CNAME and
/// an SRV pointing at that name, so that both name and value rewrites show. It keeps the last
/// question it saw.
#[derive(Default)]
struct Echo {
    seen: Mutex<Option<(String, RecordType, DNSClass)>>,
}

impl Plugin for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        *self.seen.lock().unwrap() = Some((req.name().to_owned(), req.qtype(), req.qclass()));
        let mut msg = req.reply();
        let owner = req.qname();
        msg.answers.push(Record::from_rdata(
            owner.clone(),
            60,
            RData::A("127.0.0.1".parse().unwrap()),
        ));
        msg.additionals.push(Record::from_rdata(
            Name::from_ascii("alias.test.").unwrap(),
            60,
            RData::CNAME(CNAME(owner.clone())),
        ));
        msg.additionals.push(Record::from_rdata(
            Name::from_ascii("_x._tcp.test.").unwrap(),
            60,
            RData::SRV(SRV::new(0, 0, 53, owner)),
        ));
        Serve::Ready(Ok(Reply::message(msg, "echo")))
    }
}

struct Outcome {
    /// What the next plugin was asked.
    asked: (String, RecordType, DNSClass),
    /// The reply the client gets.
    reply: Message,
}

fn run(corefile: &str, qname: &str, qtype: RecordType) -> Result<Outcome, String> {
    let plugin = setup(&mut Controller::from_text(corefile)).map_err(|e| e.to_string())?.unwrap();
    let echo = Arc::new(Echo::default());
    let result = test_util::serve(vec![plugin, echo.clone()], test_util::request(qname, qtype));
    let reply = result.map_err(|e| e.to_string())?.into_message().map_err(|r| format!("{r:?}"))?.0;
    let asked = echo.seen.lock().unwrap().clone().expect("the next plugin was asked");
    Ok(Outcome { asked, reply })
}

fn answer_owner(o: &Outcome) -> String {
    o.reply.answers[0].name.to_string()
}

#[test]
fn parse_table() {
    // TestParse: the input, whether it fails, and part of the error.
    let cases: &[(&str, bool, &str)] = &[
        ("rewrite", true, ""),
        ("rewrite name", true, ""),
        ("rewrite name a.com b.com", false, ""),
        ("rewrite stop {\n name regex foo bar\n answer name bar foo\n}", false, ""),
        ("rewrite stop name regex foo bar answer name bar foo", false, ""),
        (
            "rewrite stop {\n name regex foo bar\n answer name bar foo\n name baz\n}",
            true,
            "2 arguments required",
        ),
        (
            "rewrite stop {\n answer name bar foo\n name regex foo bar\n}",
            true,
            "must begin with a name rule",
        ),
        ("rewrite stop", true, ""),
        ("rewrite continue", true, ""),
        ("rewrite stop name regex [bad[ bar answer name bar foo", true, ""),
    ];
    for (corefile, fails, part) in cases {
        let result = setup::parse(&mut Controller::from_text(corefile));
        match result {
            Ok(_) => assert!(!fails, "{corefile}: parsed"),
            Err(e) => {
                assert!(fails, "{corefile}: {e}");
                assert!(e.to_string().contains(part), "{corefile}: {e}");
                assert!(e.to_string().starts_with("Testfile:"), "located: {e}");
            }
        }
    }
}

#[test]
fn new_name_rule_table() {
    // TestNewNameRule: a name rule's words (after `name`) and whether they are refused.
    let cases: &[(&[&str], bool)] = &[
        (&["exact", "srv3.coredns.rocks", "srv4.coredns.rocks"], false),
        (&["srv1.coredns.rocks", "srv2.coredns.rocks"], false),
        (&["suffix", "coredns.rocks", "coredns.rocks."], false),
        (&["suffix", "coredns.rocks.", "coredns.rocks"], false),
        (&["suffix", "coredns.rocks.", "coredns.rocks."], false),
        (&["regex", "srv1.coredns.rocks", "10"], false),
        (&["regex", "(.*).coredns.rocks", "10"], false),
        (&["regex", "(.*).coredns.rocks", "{1}.coredns.rocks"], false),
        (&["regex", "(.*).coredns.rocks", "{1}.{2}.coredns.rocks"], true),
        (
            &["regex", "staging.mydomain.com", "aws-loadbalancer-id.us-east-1.elb.amazonaws.com"],
            false,
        ),
        (&["suffix", "staging.mydomain.com", "coredns.rock", "answer"], true),
        (&["suffix", "staging.mydomain.com", "coredns.rock", "answer", "name"], true),
        (&["suffix", "staging.mydomain.com", "coredns.rock", "answer", "other"], true),
        (&["suffix", "staging.mydomain.com", "coredns.rock", "answer", "auto"], false),
        (&["regex", "staging.mydomain.com", "coredns.rock", "answer", "auto"], false),
        (&["regex", "staging.mydomain.com", "coredns.rock", "answer", "name"], true),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "coredns.rock",
                "staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.{2}.staging.mydomain.com",
            ],
            true,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "name",
                "(.*).coredns.rock",
            ],
            true,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "answer",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "regex",
                "staging.mydomain.com",
                "coredns.rock",
                "answer",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "value",
                "(.*).coredns.rock",
            ],
            true,
        ),
        (
            &[
                "suffix",
                "staging.mydomain.com.",
                "coredns.rock.",
                "answer",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "suffix",
                "staging.mydomain.com.",
                "coredns.rock.",
                "answer",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "answer",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
        (
            &[
                "suffix",
                "staging.mydomain.com.",
                "coredns.rock.",
                "answer",
                "value",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
                "name",
                "(.*).coredns.rock",
                "{1}.staging.mydomain.com",
            ],
            false,
        ),
    ];
    for (words, refused) in cases {
        let mut args = vec!["name".to_string()];
        args.extend(words.iter().map(|w| w.to_string()));
        assert_eq!(
            setup::rule(&args).is_err(),
            *refused,
            "{words:?}: {:?}",
            setup::rule(&args).err()
        );
    }
    // TestNewNameRuleLargeRegex.
    let large =
        vec!["name".into(), "regex".into(), "a".repeat(setup::MAX_REGEX_LEN + 1), "b".into()];
    let err = setup::rule(&large).unwrap_err();
    assert!(err.contains("regex pattern too long"), "{err}");
}

#[test]
fn illegal_name_after_rewrite_is_servfail() {
    let err =
        run("rewrite name example.org example..org", "example.org.", RecordType::A).err().unwrap();
    assert!(err.contains("invalid name after rewrite: example..org."), "{err}");
}

#[test]
fn prefix_and_suffix_rewrite_the_question() {
    // TestRewriteNamePrefixSuffix and TestRewriteNameNoRewrite.
    let cases = [
        ("prefix foo bar", "foo.example.com.", "bar.example.com."),
        ("prefix foo. bar.", "foo.example.com.", "bar.example.com."),
        ("suffix com org", "foo.example.com.", "foo.example.org."),
        ("suffix .com .org", "foo.example.com.", "foo.example.org."),
        ("prefix foo bar", "coredns.foo.", "coredns.foo."),
        ("prefix foo bar.", "coredns.foo.", "coredns.foo."),
        ("suffix com org", "com.coredns.", "com.coredns."),
        ("suffix com org.", "com.coredns.", "com.coredns."),
        ("substring service svc", "com.coredns.", "com.coredns."),
    ];
    for (rule, question, expected) in cases {
        let o = run(&format!("rewrite stop name {rule}"), question, RecordType::A).unwrap();
        assert_eq!(o.asked.0, expected, "{rule}: what the next plugin was asked");
    }
}

#[test]
fn without_answer_rules_the_reply_keeps_the_rewritten_names() {
    // TestRewriteNamePrefixSuffixNoAutoAnswer: no reply rewriting for prefix and suffix rules
    // without `answer`, so the answer's owner is the rewritten name, and so is the question.
    let cases = [
        ("prefix foo bar", "foo.example.com.", "bar.example.com."),
        ("suffix com org", "foo.example.com.", "foo.example.org."),
        (
            "suffix .ingress.coredns.rocks nginx.coredns.rocks",
            "coredns.ingress.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
        ),
    ];
    for (rule, question, expected) in cases {
        let o = run(&format!("rewrite stop name {rule}"), question, RecordType::A).unwrap();
        assert_eq!(answer_owner(&o), expected, "{rule}");
        assert_eq!(o.reply.queries[0].name().to_string(), expected, "{rule}: CoreDNS leaves it");
    }
}

#[test]
fn answer_auto_maps_the_reply_back() {
    // TestRewriteNamePrefixSuffixAutoAnswer, TestRewriteNameExactAnswer and
    // TestRewriteNameRegexAnswer: what the next plugin was asked, and the answer's owner.
    let cases = [
        ("prefix foo bar answer auto", "foo.example.com.", "bar.example.com.", "foo.example.com."),
        (
            "prefix foo. bar. answer auto",
            "foo.example.com.",
            "bar.example.com.",
            "foo.example.com.",
        ),
        ("suffix com org answer auto", "foo.example.com.", "foo.example.org.", "foo.example.com."),
        (
            "suffix .com .org answer auto",
            "foo.example.com.",
            "foo.example.org.",
            "foo.example.com.",
        ),
        (
            "suffix .ingress.coredns.rocks nginx.coredns.rocks answer auto",
            "coredns.ingress.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
            "coredns.ingress.coredns.rocks.",
        ),
        (
            "exact coredns.rocks service.consul answer auto",
            "coredns.rocks.",
            "service.consul.",
            "coredns.rocks.",
        ),
        (
            "exact coredns.rocks. service.consul. answer auto",
            "coredns.rocks.",
            "service.consul.",
            "coredns.rocks.",
        ),
        (
            "exact coredns.rocks service.consul",
            "coredns.rocks.",
            "service.consul.",
            "coredns.rocks.",
        ),
        (
            "exact coredns.org. service.consul.",
            "coredns.rocks.",
            "coredns.rocks.",
            "coredns.rocks.",
        ),
        (
            "regex (.*).coredns.rocks {1}.coredns.maps answer auto",
            "foo.coredns.rocks.",
            "foo.coredns.maps.",
            "foo.coredns.rocks.",
        ),
        (
            "regex (.*).coredns.rocks {1}.coredns.maps answer name (.*).coredns.maps {1}.coredns.works",
            "foo.coredns.rocks.",
            "foo.coredns.maps.",
            "foo.coredns.works.",
        ),
        (
            "regex (.*).coredns.rocks {1}.coredns.maps",
            "foo.coredns.rocks.",
            "foo.coredns.maps.",
            "foo.coredns.maps.",
        ),
    ];
    for (rule, question, rewritten, owner) in cases {
        let o = run(&format!("rewrite stop name {rule}"), question, RecordType::A).unwrap();
        assert_eq!(o.asked.0, rewritten, "{rule}: what the next plugin was asked");
        assert_eq!(answer_owner(&o), owner, "{rule}: the answer's owner");
    }
}

#[test]
fn auto_rewrites_values_and_restores_the_question_as_asked() {
    let o = run(
        "rewrite name suffix .corp.example .svc.cluster.local answer auto",
        "DB.Corp.Example.",
        RecordType::A,
    )
    .unwrap();
    assert_eq!(o.asked.0, "db.svc.cluster.local.");
    // The question exactly as the client wrote it, letter case included.
    assert_eq!(o.reply.queries[0].name().to_string(), "DB.Corp.Example.");
    // The CNAME's and the SRV's targets (values) are mapped back too.
    let values: Vec<String> = o.reply.additionals.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(values, ["db.corp.example.", "0 0 53 db.corp.example."]);
    // An explicit value rule alone rewrites values, not owners.
    let o = run(
        "rewrite name regex (.*)[.]corp[.]example {1}.svc.cluster.local answer value (.*)[.]svc[.]cluster[.]local {1}.corp.example",
        "db.corp.example.",
        RecordType::A,
    )
    .unwrap();
    assert_eq!(answer_owner(&o), "db.svc.cluster.local.");
    assert_eq!(o.reply.additionals[0].data.to_string(), "db.corp.example.");
}

#[test]
fn type_and_class_rules_and_continue() {
    let o = run("rewrite type ANY HINFO", "a.example.", RecordType::ANY).unwrap();
    assert_eq!(o.asked.1, RecordType::HINFO);
    let o = run("rewrite class CH IN", "a.example.", RecordType::A).unwrap();
    assert_eq!(o.asked.2, DNSClass::IN, "an IN query is left alone: class stays IN");
    // `continue` applies the next rule to the rewritten question; `stop` ends the list.
    let both = "rewrite continue name a.example b.example\nrewrite type A AAAA";
    let o = run(both, "a.example.", RecordType::A).unwrap();
    assert_eq!((o.asked.0.as_str(), o.asked.1), ("b.example.", RecordType::AAAA));
    let stopped = "rewrite stop name a.example b.example\nrewrite type A AAAA";
    let o = run(stopped, "a.example.", RecordType::A).unwrap();
    assert_eq!((o.asked.0.as_str(), o.asked.1), ("b.example.", RecordType::A));
    // A later name rule sees the earlier one's result.
    let chained = "rewrite continue name a.example b.example\nrewrite name b.example c.example";
    let o = run(chained, "a.example.", RecordType::A).unwrap();
    assert_eq!(o.asked.0, "c.example.");
    assert_eq!(answer_owner(&o), "a.example.", "both exact rules mapped back, last first");
    assert_eq!(o.reply.metadata.response_code, ResponseCode::NoError);
}

/// The next plugin for the ttl and rcode tables: answers with fixed records and rcode, or
/// writes nothing and returns the rcode.
struct Fixed {
    records: Vec<Record>,
    rcode: ResponseCode,
    write: bool,
}

impl Plugin for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        if !self.write {
            return Serve::Ready(Ok(Reply::Rcode(self.rcode)));
        }
        let mut msg = req.reply();
        msg.metadata.response_code = self.rcode;
        msg.answers = self.records.clone();
        Serve::Ready(Ok(Reply::message(msg, "fixed")))
    }
}

fn serve_fixed(corefile: &str, qname: &str, qtype: RecordType, fixed: Fixed) -> Message {
    let plugin = setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
    let result = test_util::serve(vec![plugin, Arc::new(fixed)], test_util::request(qname, qtype));
    match result.map(Reply::into_message) {
        Ok(Ok((msg, _))) => msg,
        other => panic!("{corefile} {qname}: {other:?}"),
    }
}

#[test]
fn new_ttl_rule_table() {
    // TestNewTTLRule: the words after `ttl`, and whether they are refused; each with stop and
    // continue.
    let cases: &[(&[&str], bool)] = &[
        (&["srv1.coredns.rocks", "10"], false),
        (&["exact", "srv1.coredns.rocks", "15"], false),
        (&["prefix", "coredns.rocks", "20"], false),
        (&["suffix", "srv1", "25"], false),
        (&["substring", "coredns", "30"], false),
        (&["regex", r"(srv1)\.(coredns)\.(rocks)", "35"], false),
        (&["srv1.coredns.rocks", "12345678901234567890"], true),
        (&["srv1.coredns.rocks", "coredns.rocks"], true),
        (&["srv1.coredns.rocks", "#1"], true),
        (&["range.coredns.rocks", "1-2"], false),
        (&["ceil.coredns.rocks", "-2"], false),
        (&["floor.coredns.rocks", "1-"], false),
        (&["range.coredns.rocks", "2-2"], false),
        (&["invalid.coredns.rocks", "-"], true),
        (&["invalid.coredns.rocks", "2-1"], true),
        (&["invalid.coredns.rocks", "5-10-20"], true),
    ];
    for mode in ["stop", "continue"] {
        for (words, refused) in cases {
            let mut args = vec![mode.to_string(), "ttl".to_string()];
            args.extend(words.iter().map(|w| w.to_string()));
            assert_eq!(
                setup::rule(&args).is_err(),
                *refused,
                "{args:?}: {:?}",
                setup::rule(&args).err()
            );
        }
    }
    // TestNewTTLRuleLargeRegex.
    let large =
        vec!["ttl".into(), "regex".into(), "a".repeat(setup::MAX_REGEX_LEN + 1), "5".into()];
    assert!(setup::rule(&large).unwrap_err().contains("regex pattern too long in a ttl rule"));
}

#[test]
fn ttl_rewrite_table() {
    // TestTtlRewrite's rules and doTTLTests' cases: question, the TTL the next plugin answered
    // with, the TTL the client gets.
    let corefile = [
        "rewrite stop ttl srv1.coredns.rocks 1",
        "rewrite stop ttl exact srv15.coredns.rocks 15",
        "rewrite stop ttl prefix srv30 30",
        "rewrite stop ttl suffix 45.coredns.rocks 45",
        "rewrite stop ttl substring rv50 50",
        r"rewrite stop ttl regex (srv10)\.(coredns)\.(rocks) 10",
        r"rewrite stop ttl regex (srv20)\.(coredns)\.(rocks) 20",
        "rewrite stop ttl range.example.com. 30-300",
        "rewrite stop ttl ceil.example.com. -11",
        "rewrite stop ttl floor.example.com. 5-",
    ]
    .join("\n");
    let cases = [
        ("srv1.coredns.rocks.", RecordType::A, "A 10.0.0.1", 5, 1),
        ("srv15.coredns.rocks.", RecordType::A, "A 10.0.0.15", 5, 15),
        ("srv30.coredns.rocks.", RecordType::A, "A 10.0.0.30", 5, 30),
        ("srv45.coredns.rocks.", RecordType::A, "A 10.0.0.45", 5, 45),
        ("srv50.coredns.rocks.", RecordType::A, "A 10.0.0.50", 5, 50),
        ("srv10.coredns.rocks.", RecordType::A, "A 10.0.0.10", 5, 10),
        ("xmpp.coredns.rocks.", RecordType::SRV, "SRV 0 100 100 srvxmpp.coredns.rocks.", 5, 5),
        ("srv20.coredns.rocks.", RecordType::A, "A 10.0.0.22", 5, 20),
        ("range.example.com.", RecordType::A, "A 10.0.0.1", 5, 30),
        ("range.example.com.", RecordType::A, "A 10.0.0.1", 55, 55),
        ("range.example.com.", RecordType::A, "A 10.0.0.1", 500, 300),
        ("ceil.example.com.", RecordType::A, "A 10.0.0.1", 5, 5),
        ("ceil.example.com.", RecordType::A, "A 10.0.0.1", 15, 11),
        ("floor.example.com.", RecordType::A, "A 10.0.0.1", 0, 5),
        ("floor.example.com.", RecordType::A, "A 10.0.0.1", 30, 30),
    ];
    for (qname, qtype, data, ttl, want) in cases {
        let record = test_util::rr(&format!("{qname} {ttl} IN {data}"));
        let fixed = Fixed {
            records: vec![record.clone(), record],
            rcode: ResponseCode::NoError,
            write: true,
        };
        let msg = serve_fixed(&corefile, qname, qtype, fixed);
        let ttls: Vec<u32> = msg.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [want, want], "{qname} {ttl}");
    }
}

#[test]
fn rcode_rewrite() {
    let cases = [
        // A written reply's rcode, by name and by number.
        (
            "rewrite rcode exact a.example NXDOMAIN REFUSED",
            "a.example.",
            ResponseCode::NXDomain,
            true,
            ResponseCode::Refused,
        ),
        (
            "rewrite rcode suffix example 3 5",
            "b.a.example.",
            ResponseCode::NXDomain,
            true,
            ResponseCode::Refused,
        ),
        // A SERVFAIL the next plugin did not write is written, then rewritten (CoreDNS's
        // reverter writes it too).
        (
            r"rewrite continue { rcode regex (.*)\.coredns\.rocks SERVFAIL NOERROR }",
            "x.coredns.rocks.",
            ResponseCode::ServFail,
            false,
            ResponseCode::NoError,
        ),
        // Another rcode, or another name: untouched.
        (
            "rewrite rcode exact a.example NXDOMAIN REFUSED",
            "a.example.",
            ResponseCode::NoError,
            true,
            ResponseCode::NoError,
        ),
        (
            "rewrite rcode exact a.example NXDOMAIN REFUSED",
            "b.example.",
            ResponseCode::NXDomain,
            true,
            ResponseCode::NXDomain,
        ),
    ];
    for (corefile, qname, rcode, write, want) in cases {
        let corefile = corefile.replace("{ ", "{\n").replace(" }", "\n}");
        let msg = serve_fixed(
            &corefile,
            qname,
            RecordType::A,
            Fixed { records: Vec::new(), rcode, write },
        );
        assert_eq!(msg.metadata.response_code, want, "{corefile} {qname}");
        assert_eq!(msg.queries[0].name().to_string(), qname, "the question is the client's");
    }
    for (words, err) in [
        ("rcode a.example BOGUS NOERROR", "invalid matching RCODE 'BOGUS' for a rcode rule"),
        ("rcode a.example NOERROR 24", "invalid replacement RCODE '24' for a rcode rule"),
        ("rcode a.example NOERROR", "too few (2) arguments for a rcode rule"),
        (
            "rcode wrong a.example NOERROR SERVFAIL",
            "rcode rule supports only exact, prefix, suffix, substring, and regex name matching",
        ),
    ] {
        let args: Vec<String> = words.split_whitespace().map(String::from).collect();
        assert_eq!(setup::rule(&args).unwrap_err(), err, "{words}");
    }
}

#[test]
fn cname_rules_parse_as_corednss() {
    // After cname_target_test.go's setup cases: two or three words, the match types, the
    // regex checks, CoreDNS's error words.
    for words in [
        "cname exact a.example b.example",
        "cname a.example b.example",
        "cname prefix a b",
        "cname suffix .a.example .b.example",
        "cname substring a b",
        "cname regex (.*)[.]a[.]example {1}.b.example",
    ] {
        let args: Vec<String> = words.split_whitespace().map(String::from).collect();
        assert!(setup::rule(&args).is_ok(), "{words}: {:?}", setup::rule(&args).err());
    }
    for (words, err) in [
        ("cname a.example", "too few (1) arguments for a cname rule"),
        ("cname wrong a.example b.example", "unknown cname rewrite type: wrong"),
        ("cname regex ( b", "invalid cname rewrite regex pattern"),
    ] {
        let args: Vec<String> = words.split_whitespace().map(String::from).collect();
        let got = setup::rule(&args).unwrap_err();
        assert!(got.contains(err), "{words}: {got}");
    }
    // The new targets.
    let rule = |words: &str| match setup::rule(
        &words.split_whitespace().map(String::from).collect::<Vec<_>>(),
    )
    .unwrap()
    .action
    {
        Action::Cname(rule) => rule,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        rule("cname exact db.example.com db.corp.test").new_target("db.example.com."),
        Some("db.corp.test.".into())
    );
    assert_eq!(rule("cname exact db.example.com db.corp.test").new_target("x.example.com."), None);
    assert_eq!(
        rule("cname suffix example.com. corp.test.").new_target("db.example.com."),
        Some("db.corp.test.".into())
    );
    assert_eq!(
        rule("cname regex (.*)[.]example[.]com[.] {1}.corp.test.").new_target("db.example.com."),
        Some("db.corp.test.".into())
    );
}

#[test]
fn new_rule_table() {
    // rewrite_test.go TestNewRule, the rows that are not edns0: the rule's words and whether
    // they are refused.
    let cases: &[(&[&str], bool)] = &[
        (&[], true),
        (&["foo"], true),
        (&["name"], true),
        (&["name", "a.com"], true),
        (&["name", "a.com", "b.com", "c.com"], true),
        (&["name", "a.com", "b.com"], false),
        (&["name", "exact", "a.com", "b.com"], false),
        (&["name", "prefix", "a.com", "b.com"], false),
        (&["name", "suffix", "a.com", "b.com"], false),
        (&["name", "substring", "a.com", "b.com"], false),
        (&["name", "regex", r"([a])\.com", "new-{1}.com"], false),
        (&["name", "regex", r"([a]\.com", "new-{1}.com"], true),
        (
            &[
                "name",
                "regex",
                r"(dns)\.(core)\.(rocks)",
                "{2}.{1}.{3}",
                "answer",
                "name",
                r"(core)\.(dns)\.(rocks)",
                "{2}.{1}.{3}",
            ],
            false,
        ),
        (
            &[
                "name",
                "regex",
                r"(adns)\.(core)\.(rocks)",
                "{2}.{1}.{3}",
                "answer",
                "name",
                r"(core)\.(adns)\.(rocks)",
                "{2}.{1}.{3}",
                "too.long",
                "way.too.long",
            ],
            true,
        ),
        (
            &[
                "name",
                "regex",
                r"(bdns)\.(core)\.(rocks)",
                "{2}.{1}.{3}",
                "NoAnswer",
                "name",
                r"(core)\.(bdns)\.(rocks)",
                "{2}.{1}.{3}",
            ],
            true,
        ),
        (
            &[
                "name",
                "regex",
                r"(cdns)\.(core)\.(rocks)",
                "{2}.{1}.{3}",
                "answer",
                "ttl",
                r"(core)\.(cdns)\.(rocks)",
                "{2}.{1}.{3}",
            ],
            true,
        ),
        (
            &[
                "name",
                "substring",
                "fcore.dns.rocks",
                "dns.fcore.rocks",
                "answer",
                "name",
                r"(fcore)\.(dns)\.(rocks)",
                "{2}.{1}.{3}",
            ],
            false,
        ),
        (&["name", "substring", "a.com", "b.com", "c.com"], true),
        (&["type"], true),
        (&["type", "a"], true),
        (&["type", "any", "a", "a"], true),
        (&["type", "any", "a"], false),
        (&["type", "XY", "WV"], true),
        (&["type", "ANY", "WV"], true),
        (&["class"], true),
        (&["class", "IN"], true),
        (&["class", "ch", "in", "in"], true),
        (&["class", "ch", "in"], false),
        (&["class", "XY", "WV"], true),
        (&["class", "IN", "WV"], true),
        (&["stop", "name", "a.com", "b.com"], false),
        (&["continue", "name", "a.com", "b.com"], false),
        (&["stop", "type", "any", "a"], false),
        (&["continue", "type", "any", "a"], false),
        (&["stop", "class", "ch", "in"], false),
        (&["continue", "class", "ch", "in"], false),
    ];
    for (words, refused) in cases {
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            setup::rule(&args).is_err(),
            *refused,
            "{words:?}: {:?}",
            setup::rule(&args).err()
        );
    }
}

#[test]
fn rewrite_table() {
    // rewrite_test.go TestRewrite: twelve rules in order, and what the next plugin is asked
    // for each question.
    let corefile = [
        "rewrite stop name from.nl. to.nl.",
        r"rewrite stop name regex (core)\.(dns)\.(rocks)\.(nl) {2}.{1}.{3}.{4} answer name (dns)\.(core)\.(rocks)\.(nl) {2}.{1}.{3}.{4}",
        "rewrite stop name exact from.exact.nl. to.nl.",
        "rewrite stop name prefix prefix to",
        "rewrite stop name suffix .suffix. .nl.",
        "rewrite stop name substring from.substring to",
        r"rewrite stop name regex (f.*m)\.regex\.(nl) to.{2}",
        r"rewrite continue name regex consul\.(rocks) core.dns.{1}",
        "rewrite stop name core.dns.rocks to.nl.",
        "rewrite continue class HS CH",
        "rewrite stop class CH IN",
        "rewrite stop type ANY HINFO",
    ]
    .join("\n");
    use DNSClass::{CH, HS, IN};
    use RecordType::{A, ANY, HINFO};
    let cases = [
        ("from.nl.", A, IN, "to.nl.", A, IN),
        ("a.nl.", A, IN, "a.nl.", A, IN),
        ("a.nl.", A, CH, "a.nl.", A, IN),
        ("a.nl.", ANY, IN, "a.nl.", HINFO, IN),
        // The name is rewritten, the type is not.
        ("from.nl.", ANY, IN, "to.nl.", ANY, IN),
        ("from.exact.nl.", A, IN, "to.nl.", A, IN),
        ("prefix.nl.", A, IN, "to.nl.", A, IN),
        ("to.suffix.", A, IN, "to.nl.", A, IN),
        ("from.substring.nl.", A, IN, "to.nl.", A, IN),
        ("from.regex.nl.", A, IN, "to.nl.", A, IN),
        ("consul.rocks.", A, IN, "to.nl.", A, IN),
        // The class rule comes before the type rule and stops.
        ("a.nl.", ANY, CH, "a.nl.", ANY, IN),
        // HS to CH (continue), then CH to IN (stop).
        ("a.nl.", ANY, HS, "a.nl.", ANY, IN),
        ("core.dns.rocks.nl.", A, IN, "dns.core.rocks.nl.", A, IN),
    ];
    for (name, qtype, qclass, to, to_type, to_class) in cases {
        let plugin = setup(&mut Controller::from_text(&corefile)).unwrap().unwrap();
        let echo = Arc::new(Echo::default());
        let mut msg = Message::query();
        let mut query = plugin_api::proto::op::Query::query(Name::from_ascii(name).unwrap(), qtype);
        query.set_query_class(qclass);
        msg.add_query(query);
        let len = msg.to_vec().unwrap().len();
        let src = test_util::CLIENT.parse().unwrap();
        let req =
            Request::new(msg, src, test_util::SERVER.parse().unwrap(), plugin_api::Proto::Udp, len);
        let _ = test_util::serve(vec![plugin, echo.clone()], req);
        let asked = echo.seen.lock().unwrap().clone().expect("asked");
        assert_eq!(asked, (to.to_string(), to_type, to_class), "{name} {qtype} {qclass}");
    }
}
