//! `WireReply::restore_question`, `clamp_ttls` and `set_rcode`.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::pkg::wire::{AskedQuestion, NameRole, QuestionTexts, WireReply};

fn question_of(name: &[u8], qtype: RecordType, qclass: DNSClass) -> AskedQuestion<'_> {
    AskedQuestion { name, qtype, qclass, texts: None }
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// A reply to `qname` with an address owned by it and a CNAME from `alias.test.` to it,
/// encoded with compression (the owner and the target point at the question).
fn wire(qname: &str) -> WireReply {
    let mut m = Message::query();
    m.metadata.message_type = hickory_proto::op::MessageType::Response;
    m.add_query(hickory_proto::op::Query::query(name(qname), RecordType::A));
    m.answers.push(Record::from_rdata(
        name(qname),
        30,
        RData::A(hickory_proto::rr::rdata::A::new(10, 0, 0, 1)),
    ));
    m.answers.push(Record::from_rdata(name("alias.test."), 90, RData::CNAME(CNAME(name(qname)))));
    WireReply::new(m.to_vec().unwrap()).unwrap()
}

fn wire_name(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name(text).iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

#[test]
fn the_question_is_put_back_when_every_name_reads_as_wanted() {
    let mut reply = wire("a.bench.test.");
    let mut seen = Vec::new();
    let asked = wire_name("A.Alias.test.");
    let ok = reply.restore_question(
        &question_of(&asked, RecordType::AAAA, DNSClass::CH),
        |role, now, then| {
            seen.push((role, now.to_vec(), then.to_vec()));
            true
        },
    );
    assert!(ok);
    let roles: Vec<_> = seen.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(roles, [NameRole::Owner, NameRole::Owner, NameRole::Target]);
    assert_eq!(seen[0].1, b"a.bench.test.");
    assert_eq!(seen[0].2, b"A.Alias.test.");
    assert_eq!(seen[1].1, b"alias.test.");
    let got = reply.decode().unwrap();
    assert_eq!(got.queries[0].name().to_ascii(), "A.Alias.test.");
    assert_eq!(got.queries[0].query_type(), RecordType::AAAA);
    assert_eq!(got.queries[0].query_class(), DNSClass::CH);
    assert_eq!(got.answers[0].name.to_ascii(), "A.Alias.test.");
}

#[test]
fn a_refused_name_or_another_length_changes_nothing() {
    let before = wire("a.bench.test.");
    let mut reply = before.clone();
    let asked = wire_name("a.alias.test.");
    assert!(
        !reply.restore_question(&question_of(&asked, RecordType::A, DNSClass::IN), |role, _, _| {
            role != NameRole::Target
        })
    );
    assert_eq!(reply, before);
    let longer = wire_name("a.aliases.test.");
    assert!(
        !reply.restore_question(&question_of(&longer, RecordType::A, DNSClass::IN), |_, _, _| true)
    );
    assert_eq!(reply, before);
}

#[test]
fn a_pointer_into_the_question_that_no_longer_meets_a_label_is_refused() {
    // `ab.cd.` and `abc.d.` take the same octets, but a pointer to `cd.` would land inside the
    // label `abc` once swapped.
    let mut m = Message::query();
    m.metadata.message_type = hickory_proto::op::MessageType::Response;
    m.add_query(hickory_proto::op::Query::query(name("ab.cd."), RecordType::A));
    m.answers.push(Record::from_rdata(
        name("x.cd."),
        30,
        RData::A(hickory_proto::rr::rdata::A::new(10, 0, 0, 1)),
    ));
    let before = WireReply::new(m.to_vec().unwrap()).unwrap();
    let mut reply = before.clone();
    let asked = wire_name("abc.d.");
    assert!(
        !reply.restore_question(&question_of(&asked, RecordType::A, DNSClass::IN), |_, _, _| true)
    );
    assert_eq!(reply, before);
}

#[test]
fn ttls_and_rcodes_are_patched_in_place() {
    let mut reply = wire("a.bench.test.");
    assert!(reply.clamp_ttls(40, 60));
    let ttls: Vec<u32> = reply.decode().unwrap().answers.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [40, 60]);
    assert!(reply.set_rcode(ResponseCode::Refused));
    assert_eq!(reply.rcode(), ResponseCode::Refused);
    assert!(!reply.set_rcode(ResponseCode::BADVERS), "16 does not fit the header");
    assert_eq!(reply.rcode(), ResponseCode::Refused);
}

#[test]
fn names_pointing_at_the_question_are_judged_once_per_role() {
    let mut m = Message::query();
    m.metadata.message_type = hickory_proto::op::MessageType::Response;
    m.add_query(hickory_proto::op::Query::query(name("a.bench.test."), RecordType::A));
    for last in 1..=3 {
        let rdata = RData::A(hickory_proto::rr::rdata::A::new(10, 0, 0, last));
        m.answers.push(Record::from_rdata(name("a.bench.test."), 30, rdata));
    }
    let mut reply = WireReply::new(m.to_vec().unwrap()).unwrap();
    let asked = wire_name("a.alias.test.");
    let mut calls = 0;
    let question = AskedQuestion {
        name: &asked,
        qtype: RecordType::A,
        qclass: DNSClass::IN,
        texts: Some(QuestionTexts {
            wire_now: &wire_name("a.bench.test."),
            now: b"a.bench.test.",
            after: b"a.alias.test.",
        }),
    };
    assert!(reply.restore_question(&question, |role, now, then| {
        calls += 1;
        role == NameRole::Owner && now == b"a.bench.test." && then == b"a.alias.test."
    }));
    assert_eq!(calls, 1);
    assert!(reply.decode().unwrap().answers.iter().all(|r| r.name.to_ascii() == "a.alias.test."));
}

/// A reply to `a.bench.test. A` holding one record of type `rtype` owned by the question,
/// whose data is `data`.
fn reply_with(rtype: u16, data: &[u8]) -> WireReply {
    let mut b = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    b.extend_from_slice(&wire_name("a.bench.test."));
    b.extend_from_slice(&[0, 1, 0, 1, 0xc0, 12]);
    b.extend_from_slice(&rtype.to_be_bytes());
    b.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
    b.extend_from_slice(&(data.len() as u16).to_be_bytes());
    b.extend_from_slice(data);
    WireReply::new(b).unwrap()
}

/// Names in the data of types beyond the values *rewrite* rewrites (an HTTPS target, an
/// RRSIG's signer, a DNAME's target, MINFO's mailboxes) were not looked at, or made the
/// reply be decoded; they are judged as names that must read the same after the swap.
#[test]
fn every_name_in_record_data_is_judged() {
    let question = [0xc0, 12];
    let cases: [(u16, Vec<u8>); 4] = [
        (65, [&[0, 1][..], &question].concat()),
        (46, [&[0; 18][..], &question, &[1, 2, 3]].concat()),
        (39, question.to_vec()),
        (14, [question, question].concat()),
    ];
    let asked = wire_name("A.Alias.test.");
    for (rtype, data) in cases {
        let kind = RecordType::from(rtype);
        let before = reply_with(rtype, &data);
        let mut seen = Vec::new();
        let mut reply = before.clone();
        let q = question_of(&asked, RecordType::A, DNSClass::IN);
        let ok = reply.restore_question(&q, |role, now, then| {
            seen.push((role, now.to_vec(), then.to_vec()));
            role == NameRole::Owner
        });
        assert!(!ok, "{kind}: its name would read otherwise after the swap");
        assert_eq!(reply, before, "{kind}: nothing changed");
        let other = (NameRole::Other, b"a.bench.test.".to_vec(), b"A.Alias.test.".to_vec());
        assert_eq!(seen.last(), Some(&other), "{kind}");
        // Said to be right, the swap is made.
        assert!(reply.restore_question(&q, |_, _, _| true), "{kind}");
    }
}
