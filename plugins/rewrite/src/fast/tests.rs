//! The wire path against the general one: every rule set and reply here is served twice, the
//! reply written as a message and in wire form, and the client must get the same reply both
//! ways (names compared without letter case: the wire path keeps the client's spelling where
//! the question is pointed at). Where the wire path can patch the reply in place it must: the
//! reply is still in wire form.

use std::sync::Arc;

use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{CNAME, SOA, SRV};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::test_util::{self, Form};
use plugin_api::{Controller, Reply, Request};

/// A reply builder for [`test_util::Answers`].
type Build = fn(&Request) -> Message;

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// An address owned by the name asked.
fn owner_answer(req: &Request) -> Message {
    let mut msg = test_util::empty_answer(req);
    msg.answers.push(Record::from_rdata(req.qname(), 60, RData::A("10.0.0.1".parse().unwrap())));
    msg
}

/// A CNAME from the name asked to a name under it, and that name's address.
fn cname_chain(req: &Request) -> Message {
    let mut msg = test_util::empty_answer(req);
    let target = name(&format!("real.{}", req.name()));
    msg.answers.push(Record::from_rdata(req.qname(), 60, RData::CNAME(CNAME(target.clone()))));
    msg.answers.push(Record::from_rdata(target, 60, RData::A("10.0.0.2".parse().unwrap())));
    msg
}

/// NXDOMAIN with the SOA of `bench.test.`, which the reverse suffix rule does not rewrite.
fn nxdomain(req: &Request) -> Message {
    let mut msg = test_util::empty_answer(req);
    msg.metadata.response_code = ResponseCode::NXDomain;
    let soa = SOA::new(name("ns.bench.test."), name("hostmaster.bench.test."), 1, 2, 3, 4, 5);
    msg.authorities.push(Record::from_rdata(name("bench.test."), 30, RData::SOA(soa)));
    msg
}

/// An SRV owned by the name asked, its target a sibling.
fn srv(req: &Request) -> Message {
    let mut msg = test_util::empty_answer(req);
    let target = name("host.bench.test.");
    let rdata = RData::SRV(SRV::new(0, 10, 443, target.clone()));
    msg.answers.push(Record::from_rdata(req.qname(), 60, rdata));
    msg.additionals.push(Record::from_rdata(target, 60, RData::A("10.0.0.3".parse().unwrap())));
    msg
}

/// The reply as the client gets it, in both forms: the message path's, and the wire path's
/// with whether it stayed in wire form.
fn both(corefile: &str, build: Build, qname: &str) -> (Message, Message, bool) {
    let run = |form| {
        let plugin = crate::setup(&mut Controller::from_text(corefile)).unwrap().unwrap();
        let req = test_util::request(qname, RecordType::A);
        test_util::serve_before(plugin, build, form, req).expect("a reply")
    };
    let message = run(Form::Message).into_message().unwrap().0;
    let wire = run(Form::Wire);
    let in_place = matches!(wire, Reply::Wire { .. });
    (message, wire.into_message().unwrap().0, in_place)
}

/// A reply's content, names lower-cased.
fn summary(msg: &Message) -> Vec<String> {
    let mut out = vec![format!("{:?}", msg.metadata.response_code)];
    let q = &msg.queries[0];
    out.push(format!("Q {} {} {}", q.name(), q.query_type(), q.query_class()));
    for (section, records) in
        [("AN", &msg.answers), ("NS", &msg.authorities), ("AR", &msg.additionals)]
    {
        for r in records {
            let line = format!("{section} {} {} {} {}", r.name, r.ttl, r.record_type(), r.data);
            out.push(line.to_ascii_lowercase());
        }
    }
    out
}

const SUFFIX: &str = "rewrite name suffix .alias.test .bench.test answer auto";
const EXACT: &str = "rewrite name exact a.alias.test a.bench.test";
const SUBSTRING: &str = "rewrite name substring alias bench answer auto";
const LONGER: &str = "rewrite name suffix .alias.test .longer-bench.test answer auto";
const WITH_TTL: &str = "rewrite continue name suffix .alias.test .bench.test answer auto\n\
                        rewrite continue ttl suffix .bench.test 100-200\n\
                        rewrite ttl suffix .bench.test 10-150";
const TYPE_AND_RCODE: &str = "rewrite continue type A AAAA\n\
                              rewrite rcode suffix .alias.test NXDOMAIN REFUSED";
const NO_ANSWER: &str = "rewrite name prefix a b";
/// Renamed without mapping back, with a ttl rule: the reply gets the question back, its owners
/// keep the new name.
const NO_AUTO_TTL: &str = "rewrite continue name suffix .alias.test .bench.test\n\
                           rewrite ttl suffix .bench.test 30";

#[test]
fn the_wire_path_gives_the_general_paths_reply() {
    let builders: [(&str, Build); 4] =
        [("owner", owner_answer), ("cname", cname_chain), ("nxdomain", nxdomain), ("srv", srv)];
    for corefile in
        [SUFFIX, EXACT, SUBSTRING, LONGER, WITH_TTL, TYPE_AND_RCODE, NO_ANSWER, NO_AUTO_TTL]
    {
        for (what, build) in builders {
            for qname in ["a.alias.test.", "A.Alias.TEST."] {
                let (message, wire, _) = both(corefile, build, qname);
                assert_eq!(summary(&wire), summary(&message), "{corefile} / {what} / {qname}");
                // The client's question, exactly as asked, when the reply is rewritten.
                if corefile != NO_ANSWER {
                    assert_eq!(wire.queries[0].name().to_ascii(), qname, "{corefile} / {what}");
                }
            }
        }
    }
}

#[test]
fn replies_that_only_point_at_the_question_are_patched_in_place() {
    for corefile in [SUFFIX, EXACT, SUBSTRING, WITH_TTL, TYPE_AND_RCODE, NO_ANSWER] {
        for build in [owner_answer as Build, cname_chain] {
            let (_, wire, in_place) = both(corefile, build, "a.alias.test.");
            assert!(in_place, "{corefile}: {wire:?}");
        }
    }
    // A mixed-case question is pointed at too: the answers carry the client's spelling.
    let (_, wire, in_place) = both(SUFFIX, owner_answer, "A.Alias.TEST.");
    assert!(in_place);
    assert_eq!(wire.answers[0].name.to_ascii(), "A.Alias.TEST.");
}

#[test]
fn replies_the_names_do_not_fit_are_decoded() {
    // Another length.
    let (_, _, in_place) = both(LONGER, owner_answer, "a.alias.test.");
    assert!(!in_place);
    // The zone's SOA points into the question but is not rewritten back.
    let (_, wire, in_place) = both(SUFFIX, nxdomain, "a.alias.test.");
    assert!(!in_place);
    assert_eq!(wire.authorities[0].name.to_ascii(), "bench.test.");
}

#[test]
fn ttl_and_rcode_rules_patch_the_wire_reply() {
    let (_, wire, in_place) = both(WITH_TTL, owner_answer, "a.alias.test.");
    assert!(in_place);
    // 60 into 10-150, then into 100-200: the last rule's first, as CoreDNS applies them.
    assert_eq!(wire.answers[0].ttl, 100);
    let (_, wire, in_place) = both(TYPE_AND_RCODE, nxdomain, "a.alias.test.");
    assert!(in_place);
    assert_eq!(wire.metadata.response_code, ResponseCode::Refused);
    assert_eq!(wire.queries[0].query_type(), RecordType::A, "the type asked is back");
}

#[test]
fn the_spare_request_is_reused_and_a_kept_one_is_not_overwritten() {
    let plugin: Arc<dyn plugin_api::Plugin> =
        crate::setup(&mut Controller::from_text(SUFFIX)).unwrap().unwrap();
    let first = test_util::serve_before(
        plugin.clone(),
        owner_answer,
        Form::Wire,
        test_util::request("a.alias.test.", RecordType::A),
    );
    let second = test_util::serve_before(
        plugin,
        owner_answer,
        Form::Wire,
        test_util::request("b.alias.test.", RecordType::A),
    );
    let names = |r: plugin_api::ServeResult| {
        r.unwrap().into_message().unwrap().0.answers[0].name.to_ascii()
    };
    assert_eq!(names(first), "a.alias.test.");
    assert_eq!(names(second), "b.alias.test.");
}

/// A reply without a question section, owned by the name asked.
fn no_question(req: &Request) -> Message {
    let mut msg = owner_answer(req);
    msg.queries.clear();
    msg
}

#[test]
fn a_reply_without_a_question_gets_the_clients() {
    // reverter_test.go TestResponseReverterRestoresMissingQuestion, in both reply forms.
    let corefile = "rewrite name suffix .example.org .example.net answer auto";
    let (message, wire, _) = both(corefile, no_question, "service.example.org.");
    for reply in [message, wire] {
        assert_eq!(reply.queries.len(), 1);
        assert_eq!(reply.queries[0].name().to_ascii(), "service.example.org.");
        assert_eq!(reply.answers[0].name.to_ascii(), "service.example.org.");
    }
}
