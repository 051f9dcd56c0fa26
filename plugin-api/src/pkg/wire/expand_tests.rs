use hickory_proto::op::Message;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::decode_message;

/// A name in uncompressed wire form.
fn wire(name: &str) -> Vec<u8> {
    hickory_proto::serialize::binary::BinEncodable::to_bytes(&Name::from_ascii(name).unwrap())
        .unwrap()
}

fn pointer(to: usize) -> [u8; 2] {
    [0xc0 | (to >> 8) as u8, to as u8]
}

/// A record's fixed fields and data after its owner.
fn fixed(rtype: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&300u32.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A reply header and the question `m.minfo.test. MINFO`; returns the bytes and where the
/// question ends.
fn header(answers: u16, additionals: u16) -> (Vec<u8>, usize) {
    let mut b = vec![0, 1, 0x81, 0x80, 0, 1];
    b.extend_from_slice(&answers.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&additionals.to_be_bytes());
    b.extend_from_slice(&wire("m.minfo.test."));
    b.extend_from_slice(&[0, 14, 0, 1]);
    let end = b.len();
    (b, end)
}

/// The reply of the forward test upstream: the first owner written in full after the
/// question, the others a pointer to the question; each MINFO's names point into the first
/// record (its owner, and its data's first label), so that they lead elsewhere as soon as the
/// first owner is compressed.
fn minfo_reply(count: u16) -> Vec<u8> {
    let (mut b, q_end) = header(count, 0);
    b.extend_from_slice(&wire("m.minfo.test."));
    let admin = b.len() + 10;
    let mut data = wire("admin.");
    data.truncate(data.len() - 1);
    data.extend_from_slice(&pointer(q_end + 2));
    data.extend_from_slice(&pointer(q_end));
    b.extend_from_slice(&fixed(14, &data));
    for i in 1..count {
        b.extend_from_slice(&pointer(12));
        let mut data = vec![2, b'r', b'0' + i as u8];
        data.extend_from_slice(&pointer(admin));
        data.extend_from_slice(&pointer(q_end + 2));
        b.extend_from_slice(&fixed(14, &data));
    }
    b
}

/// The names in opaque record data, read from its octets alone.
fn names_in(data: &RData) -> Vec<String> {
    let RData::Unknown { rdata, .. } = data else { panic!("not opaque: {data:?}") };
    let mut d = BinDecoder::new(&rdata.anything);
    let mut names = Vec::new();
    while !d.is_empty() {
        names.push(Name::read(&mut d).expect("a name written out").to_ascii());
    }
    names
}

#[test]
fn compressed_names_in_opaque_data_read_the_same_in_a_new_layout() {
    let bytes = minfo_reply(3);
    let msg = decode_message(&bytes).unwrap();
    let expected = [
        vec!["admin.minfo.test.", "m.minfo.test."],
        vec!["r1.admin.minfo.test.", "minfo.test."],
        vec!["r2.admin.minfo.test.", "minfo.test."],
    ];
    let read: Vec<_> = msg.answers.iter().map(|r| names_in(&r.data)).collect();
    assert_eq!(read, expected);
    // Encoded again (hickory compresses the first owner), the names read as they did.
    let again = decode_message(&msg.to_vec().unwrap()).unwrap();
    let read: Vec<_> = again.answers.iter().map(|r| names_in(&r.data)).collect();
    assert_eq!(read, expected);
    // The layout did change: hickory alone carries the pointers into it unchanged.
    let plain = Message::from_vec(&bytes).unwrap().to_vec().unwrap();
    assert!(plain.len() < bytes.len(), "{} against {}", plain.len(), bytes.len());
}

#[test]
fn records_after_an_opt_in_the_additional_section_are_matched() {
    let (mut b, _) = header(0, 2);
    b.push(0);
    b.extend_from_slice(&[0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&pointer(12));
    b.extend_from_slice(&fixed(7, &pointer(14)));
    let msg = decode_message(&b).unwrap();
    assert!(msg.edns.is_some());
    let [mb] = &msg.additionals[..] else { panic!("{:?}", msg.additionals) };
    assert_eq!(u16::from(mb.record_type()), 7, "an MB");
    assert_eq!(names_in(&mb.data), ["minfo.test."]);
}

#[test]
fn other_data_and_names_that_cannot_be_read_are_left_as_they_came() {
    // A type without names whose data happens to look like a pointer, and an MB whose name
    // points forward, past itself: hickory's octets either way.
    let (mut b, _) = header(2, 0);
    b.extend_from_slice(&pointer(12));
    b.extend_from_slice(&fixed(65280, &pointer(12)));
    b.extend_from_slice(&pointer(12));
    let forward = b.len() + 10 + 2;
    let mut data = pointer(forward).to_vec();
    data.push(0);
    b.extend_from_slice(&fixed(7, &data));
    let msg = decode_message(&b).unwrap();
    let kept: Vec<_> = msg
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::Unknown { rdata, .. } => rdata.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kept, [NULL::with(pointer(12).to_vec()), NULL::with(data)]);
}
