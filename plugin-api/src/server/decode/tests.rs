//! Which packets are queries, and reading a query into a reused request.

use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn query(name: &str) -> Message {
    let mut m = Message::query();
    m.metadata.id = 9;
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m
}

#[test]
fn decode_sorts_packets() {
    let good = query("a.test.").to_vec().unwrap();
    assert!(matches!(decode(&good), Decoded::Query(_)));
    assert!(matches!(decode(&good[..5]), Decoded::Drop));
    let mut response = good.clone();
    response[2] |= 0x80;
    assert!(matches!(decode(&response), Decoded::Drop));
    let mut status = good.clone();
    status[2] = (status[2] & 0x87) | (2 << 3);
    match decode(&status) {
        Decoded::Reject(m) => {
            assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
            assert_eq!(m.metadata.op_code, OpCode::Status);
        }
        other => panic!("{other:?}"),
    }
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 2); // the question's class is cut
    match decode(&truncated) {
        Decoded::Reject(m) => {
            assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
            assert_eq!(m.metadata.message_type, MessageType::Response);
            assert!(m.metadata.recursion_desired && m.metadata.checking_disabled, "flags kept");
            assert!(m.queries.is_empty(), "the question did not decode");
        }
        other => panic!("{other:?}"),
    }
}

/// The field-by-field read of plain queries, with the request reading the question from the
/// bytes, gives exactly what decoding the whole message gives, into a message left over from
/// any earlier query.
#[test]
fn decoding_into_a_reused_message_equals_decoding_afresh() {
    let plain = query("Plain.Test.");
    let mut with_opt = query("edns.test.");
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(true);
    edns.options_mut().insert(EdnsOption::Unknown(10, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    with_opt.edns = Some(edns);
    let mut with_answer = query("notify.test.");
    with_answer.metadata.op_code = OpCode::Notify;
    with_answer.add_answer(Record::from_rdata(
        Name::from_ascii("notify.test.").unwrap(),
        60,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    let mut with_extra = query("extra.test.");
    with_extra.add_additional(Record::from_rdata(
        Name::from_ascii("extra.test.").unwrap(),
        60,
        RData::TXT(TXT::new(vec!["x".into()])),
    ));
    // OPT records without options, read without hickory's record reader: DO and a large
    // buffer; and a buffer under 512, a version, an extended rcode and Z bits.
    let mut bare = query("bare.test.");
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns.set_dnssec_ok(true);
    bare.edns = Some(edns);
    let mut odd = bare.to_vec().unwrap();
    let opt = odd.len() - 11;
    odd[opt + 3..opt + 9].copy_from_slice(&[0, 100, 3, 1, 0x40, 0x01]);
    let packets: Vec<Vec<u8>> = [plain, with_opt, with_answer, with_extra, bare]
        .iter()
        .map(|m| m.to_vec().unwrap())
        .chain([odd])
        .collect();
    let (src, local) = ("10.0.0.2:999".parse().unwrap(), "10.0.0.1:53".parse().unwrap());
    let mut reused = Request::new(Message::query(), src, local, Proto::Udp, 12);
    // Every order, so each shape is decoded over each other one's leftovers.
    for first in &packets {
        for second in &packets {
            for packet in [first, second] {
                let mut probe = Message::query();
                assert!(matches!(decode_into(packet, &mut probe), Accepted::Query));
                let left_out = probe.queries.is_empty();
                let read = read_query(&mut reused, packet, src, local, Proto::Udp, Instant::now());
                assert!(matches!(read, Accepted::Query));
                let whole = Message::from_vec(packet).unwrap();
                assert_eq!(reused.to_message(), whole);
                assert_eq!(left_out, packet != &packets[2], "only the one with an answer is whole");
                assert!(matches!(decode(packet), Decoded::Query(m) if m == whole));
            }
        }
    }
    // A plain query cut short is FORMERR, as before, and leaves nothing half-read behind.
    let before = reused.message_mut().clone();
    let cut = &packets[0][..packets[0].len() - 2];
    let read = read_query(&mut reused, cut, src, local, Proto::Udp, Instant::now());
    assert!(matches!(read, Accepted::Reject(_)));
    assert_eq!(*reused.message_mut(), before);
}
