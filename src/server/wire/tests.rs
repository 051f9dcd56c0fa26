//! Wire rules: what is a query, and fitting replies to the client.

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use plugin_api::{Proto, Request};

use super::*;

fn query(name: &str) -> Message {
    let mut m = Message::query();
    m.metadata.id = 9;
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m
}

fn request(m: Message, proto: Proto) -> Request {
    let len = m.to_vec().unwrap().len();
    Request::new(m, "10.0.0.2:999".parse().unwrap(), "10.0.0.1:53".parse().unwrap(), proto, len)
}

#[test]
fn error_replies_copy_the_question_and_flags() {
    let req = request(query("Mixed.Case."), Proto::Udp);
    let m = error_reply(&req, ResponseCode::ServFail);
    assert_eq!(m.metadata.id, 9);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.metadata.recursion_desired && m.metadata.checking_disabled);
    assert!(!m.metadata.authoritative);
    assert_eq!(m.queries[0].name().to_string(), "Mixed.Case.");
}

#[test]
fn size_and_do_echoes_size_do_and_known_options() {
    let mut q = query("a.test.");
    let mut edns = Edns::new();
    edns.set_max_payload(1400);
    edns.set_dnssec_ok(true);
    edns.options_mut().insert(EdnsOption::Unknown(10, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    edns.options_mut().insert(EdnsOption::Unknown(65001, vec![9]));
    q.set_edns(edns);
    let req = request(q, Proto::Udp);
    let mut reply = req.reply();
    size_and_do(&req, &mut reply);
    let e = reply.edns.expect("OPT added");
    assert_eq!(e.max_payload(), 1400);
    assert!(e.flags().dnssec_ok);
    assert!(e.options().get(EdnsCode::Cookie).is_some(), "cookie echoed");
    assert!(e.options().get(EdnsCode::from(65001)).is_none(), "unknown option dropped");

    // No EDNS in the query: the reply gets none.
    let req = request(query("a.test."), Proto::Udp);
    let mut reply = req.reply();
    size_and_do(&req, &mut reply);
    assert!(reply.edns.is_none());
}

/// A plugin's own OPT (acl writes one with DO set and an EDE option) keeps its options but
/// takes the client's size and the client's DO bit, as CoreDNS's `SizeAndDo` clears the flags.
#[test]
fn size_and_do_keeps_a_reply_opt_with_the_clients_do() {
    let own_opt = || {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        e.set_dnssec_ok(true);
        e.options_mut().insert(EdnsOption::Unknown(15, vec![0, 15]));
        e
    };
    let mut q = query("a.test.");
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    q.set_edns(edns);
    let req = request(q, Proto::Udp);
    let mut reply = req.reply();
    reply.edns = Some(own_opt());
    size_and_do(&req, &mut reply);
    let e = reply.edns.expect("OPT kept");
    assert_eq!(e.max_payload(), 1232);
    assert!(!e.flags().dnssec_ok, "DO is the client's");
    assert!(e.options().get(EdnsCode::from(15)).is_some(), "EDE kept");

    // No EDNS in the query: CoreDNS leaves the plugin's OPT as it wrote it.
    let req = request(query("a.test."), Proto::Udp);
    let mut reply = req.reply();
    reply.edns = Some(own_opt());
    size_and_do(&req, &mut reply);
    assert!(reply.edns.is_some_and(|e| e.flags().dnssec_ok && e.max_payload() == 4096));
}

#[test]
fn encode_fitting_keeps_prefixes_and_sets_tc() {
    let mut m = query("t.test.");
    m.metadata.message_type = MessageType::Response;
    for i in 0..60u32 {
        m.add_answer(Record::from_rdata(
            Name::from_ascii("t.test.").unwrap(),
            60,
            RData::A(A(std::net::Ipv4Addr::from(i))),
        ));
    }
    m.add_additional(Record::from_rdata(
        Name::from_ascii("t.test.").unwrap(),
        60,
        RData::TXT(TXT::new(vec!["x".into()])),
    ));
    let mut out = Vec::new();
    let mut small = m.clone();
    encode_fitting(&mut small, 512, &mut out).unwrap();
    assert!(out.len() <= 512);
    let back = Message::from_vec(&out).unwrap();
    assert!(back.metadata.truncation);
    assert_eq!(back.answers.len(), small.answers.len());
    assert!(back.answers.len() < 60);
    // The kept answers are the first ones, in order.
    assert_eq!(back.answers[0].data, RData::A(A(std::net::Ipv4Addr::from(0))));

    let mut big = m.clone();
    encode_fitting(&mut big, 4096, &mut out).unwrap();
    let back = Message::from_vec(&out).unwrap();
    assert!(!back.metadata.truncation);
    assert_eq!(back.answers.len(), 60);
    assert_eq!(back.additionals.len(), 1);
}

#[test]
fn badvers_has_an_opt_of_version_zero() {
    let mut q = query("a.test.");
    let mut e = Edns::new();
    e.set_version(1);
    q.set_edns(e);
    let req = request(q, Proto::Udp);
    let mut reply = badvers_reply(&req);
    let mut out = Vec::new();
    encode_fitting(&mut reply, 512, &mut out).unwrap();
    let back = Message::from_vec(&out).unwrap();
    assert_eq!(u16::from(back.metadata.response_code), 16);
    assert_eq!(back.edns.unwrap().version(), 0);
}
