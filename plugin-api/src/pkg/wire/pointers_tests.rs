//! An upstream's reply is relayed as bytes only when every compression pointer a decoder would
//! follow leads to a label of a name read before it.

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::pkg::wire::WireReply;

/// The question's name, `a.example.`, at offset 12: labels start at 12 (`a.example.`) and 14
/// (`example.`).
const QUESTION: [u8; 2] = [0xc0, 12];
const EXAMPLE: [u8; 2] = [0xc0, 14];
/// Where the first record starts, after the question's 11-octet name, type and class.
const FIRST_RECORD: usize = 27;
/// Where the first record's data starts when its owner is a pointer.
const FIRST_DATA: usize = FIRST_RECORD + 2 + 10;

/// A reply to `a.example. A` whose answer section holds `records` (owner, type, data).
fn reply(records: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
    let mut b = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, records.len() as u8, 0, 0, 0, 0];
    b.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
    assert_eq!(b.len(), FIRST_RECORD);
    for (owner, rtype, data) in records {
        b.extend_from_slice(owner);
        b.extend_from_slice(&rtype.to_be_bytes());
        b.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        b.extend_from_slice(&(data.len() as u16).to_be_bytes());
        b.extend_from_slice(data);
    }
    b
}

fn relayed(b: Vec<u8>) -> bool {
    WireReply::from_upstream(b).is_ok()
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

#[test]
fn names_in_record_data_may_point_to_names_read_before() {
    // a.example. CNAME www.example. (its own label, then a pointer to `example.`), and the
    // A record owned by that target, a pointer into the CNAME's data.
    let target = [&b"\x03www"[..], &EXAMPLE].concat();
    let b = reply(&[(&QUESTION, 5, &target), (&[0xc0, FIRST_DATA as u8], 1, &[192, 0, 2, 1])]);
    let wire = WireReply::from_upstream(b.clone()).expect("relayed");
    let m = wire.decode().unwrap();
    assert_eq!(
        m.answers[0].data,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(name("www.example.")))
    );
    assert_eq!(m.answers[1].name, name("www.example."));
    assert_eq!(Message::from_vec(&b).unwrap().answers, m.answers);
}

#[test]
fn a_pointer_anywhere_but_to_a_label_read_before_is_left_to_the_decoder() {
    let ttl = (FIRST_RECORD + 2 + 4) as u8;
    let own = FIRST_DATA as u8;
    let targets: [(&str, &[u8]); 8] = [
        ("into the header", &[0xc0, 2]),
        ("into the record's TTL", &[0xc0, ttl]),
        ("into the middle of a label", &[0xc0, 13]),
        ("at the question's type", &[0xc0, 23]),
        ("at itself", &[0xc0, own]),
        ("forward", &[0xc0, own + 8]),
        ("at the name's own first label", &[3, b'w', b'w', b'w', 0xc0, own]),
        ("an extended label type", &[0x41, 0]),
    ];
    for (what, target) in targets {
        let b = reply(&[(&QUESTION, 5, target)]);
        assert!(!relayed(b), "a CNAME target {what}");
    }
    // Owners are read the same way: one pointing into the header.
    assert!(!relayed(reply(&[(&[0xc0, 4], 1, &[192, 0, 2, 1])])));
    // A record whose data no decoder reads as names (TXT) is no target either, even where it
    // looks like one.
    let txt = b"\x05\x03www\x00";
    let b = reply(&[(&QUESTION, 16, txt), (&[0xc0, own + 1], 1, &[192, 0, 2, 1])]);
    assert!(!relayed(b), "an owner pointing into a TXT's data");
}

#[test]
fn a_name_of_more_than_255_octets_through_pointers_is_refused() {
    // Labels of 244 octets, then `a.example.` (11): 255 in all, the most a name may spell.
    let labels = |last: usize| {
        let mut v = Vec::new();
        for len in [63, 63, 63, last] {
            v.push(len as u8);
            v.extend(std::iter::repeat_n(b'x', len));
        }
        v
    };
    let longest = [&labels(51)[..], &QUESTION].concat();
    let at_target = [0xc0, FIRST_DATA as u8];
    let b = reply(&[(&QUESTION, 5, &longest), (&at_target, 1, &[192, 0, 2, 1])]);
    let m = WireReply::from_upstream(b).expect("255 octets").decode().unwrap();
    let cname = hickory_proto::rr::rdata::CNAME(m.answers[1].name.clone());
    assert_eq!(m.answers[0].data, RData::CNAME(cname));
    assert_eq!(m.answers[1].name.num_labels(), 6);
    // One octet more in the target itself.
    let too_long = [&labels(52)[..], &QUESTION].concat();
    assert!(!relayed(reply(&[(&QUESTION, 5, &too_long)])));
    // Or in a name that points at the longest: the whole chain is counted.
    let one_more = [&b"\x01y"[..], &at_target].concat();
    assert!(!relayed(reply(&[(&QUESTION, 5, &longest), (&QUESTION, 5, &one_more)])));
}

/// A type's record data with `p` (a pointer) for each name.
type Layout = fn([u8; 2]) -> Vec<u8>;

/// Each type with names in its data, and how the data is laid out around them.
fn layouts() -> Vec<(u16, Layout)> {
    vec![
        (2, |p| p.to_vec()),                                                    // NS
        (3, |p| p.to_vec()),                                                    // MD
        (4, |p| p.to_vec()),                                                    // MF
        (5, |p| p.to_vec()),                                                    // CNAME
        (7, |p| p.to_vec()),                                                    // MB
        (8, |p| p.to_vec()),                                                    // MG
        (9, |p| p.to_vec()),                                                    // MR
        (12, |p| p.to_vec()),                                                   // PTR
        (39, |p| p.to_vec()),                                                   // DNAME
        (6, |p| [&p[..], &p, &[0; 20]].concat()),                               // SOA
        (14, |p| [p, p].concat()),                                              // MINFO
        (17, |p| [p, p].concat()),                                              // RP
        (58, |p| [p, p].concat()),                                              // TALINK
        (15, |p| [&[0, 10][..], &p].concat()),                                  // MX
        (18, |p| [&[0, 1][..], &p].concat()),                                   // AFSDB
        (21, |p| [&[0, 1][..], &p].concat()),                                   // RT
        (36, |p| [&[0, 1][..], &p].concat()),                                   // KX
        (107, |p| [&[0, 1][..], &p].concat()),                                  // LP
        (26, |p| [&[0, 1][..], &p, &p].concat()),                               // PX
        (33, |p| [&[0, 1, 0, 2, 0, 53][..], &p].concat()),                      // SRV
        (35, |p| [&[0, 1, 0, 2, 1, b'u', 0, 0][..], &p].concat()),              // NAPTR
        (38, |p| [&[64][..], &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 1], &p].concat()),  // A6
        (24, |p| [&[0; 18][..], &p, &[1, 2, 3, 4]].concat()),                   // SIG
        (46, |p| [&[0; 18][..], &p, &[1, 2, 3, 4]].concat()),                   // RRSIG
        (30, |p| [&p[..], &[0x40]].concat()),                                   // NXT
        (47, |p| [&p[..], &[0, 1, 0x40]].concat()),                             // NSEC
        (249, |p| [&p[..], &[0; 16]].concat()),                                 // TKEY
        (250, |p| [&p[..], &[0; 16]].concat()),                                 // TSIG
        (45, |p| [&[10, 3, 2][..], &p, &[1, 2, 3, 4]].concat()), // IPSECKEY, gateway a name
        (55, |p| [&[2, 2, 0, 2, 0xaa, 0xbb, 0xcc, 0xdd][..], &p, &p].concat()), // HIP
        (64, |p| [&[0, 1][..], &p, &[0, 1, 0, 3, 2, b'h', b'2']].concat()), // SVCB
        (65, |p| [&[0, 1][..], &p].concat()),                    // HTTPS
        (260, |p| [&[10, 3][..], &p].concat()),                  // AMTRELAY, relay a name
    ]
}

#[test]
fn every_type_with_names_in_its_data_has_them_read() {
    for (rtype, data) in layouts() {
        let kind = RecordType::from(rtype);
        let good = reply(&[(&QUESTION, rtype, &data(EXAMPLE))]);
        assert!(relayed(good), "{kind}: pointers to the question's labels");
        let bad = reply(&[(&QUESTION, rtype, &data([0xc0, 2]))]);
        assert!(!relayed(bad), "{kind}: pointers into the header");
    }
    // Names of those types are targets for later pointers.
    for (rtype, data) in layouts() {
        let first = data(EXAMPLE);
        let name_at = first.iter().position(|&o| o == 0xc0).unwrap();
        let target = [&first[..name_at], b"\x01n", &first[name_at..]].concat();
        let later = [0xc0, (FIRST_DATA + name_at) as u8];
        let b = reply(&[(&QUESTION, rtype, &target), (&later, 1, &[192, 0, 2, 1])]);
        assert!(relayed(b), "{}: a pointer to its name", RecordType::from(rtype));
    }
    // Without a name: an IPSECKEY whose gateway is an address, an AMTRELAY likewise.
    assert!(relayed(reply(&[(&QUESTION, 45, &[10, 1, 2, 192, 0, 2, 1, 9, 9])])));
    assert!(relayed(reply(&[(&QUESTION, 260, &[10, 1, 192, 0, 2, 1])])));
    assert!(relayed(reply(&[(
        &QUESTION,
        38,
        &[0, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    )])));
}

#[test]
fn record_data_must_be_what_its_type_says() {
    // After the names, nothing more (or the SOA's five numbers exactly) where the type says so.
    for rtype in [2, 5, 12, 39, 14, 15, 26, 33, 35, 260] {
        let (_, data) = layouts().into_iter().find(|(t, _)| *t == rtype).unwrap();
        let longer = [data(EXAMPLE), vec![0]].concat();
        assert!(!relayed(reply(&[(&QUESTION, rtype, &longer)])), "{rtype}: an octet too many");
    }
    let soa = [&EXAMPLE[..], &EXAMPLE, &[0; 19]].concat();
    assert!(!relayed(reply(&[(&QUESTION, 6, &soa)])), "an SOA short of an octet");
    // Fields before a name that the data does not hold.
    assert!(!relayed(reply(&[(&QUESTION, 15, &[0])])), "an MX of one octet");
    assert!(!relayed(reply(&[(&QUESTION, 46, &[0; 17])])), "an RRSIG cut short");
    assert!(!relayed(reply(&[(&QUESTION, 38, &[129])])), "an A6 prefix over 128 bits");
    // A name that runs past its record's data into the next record.
    let b = reply(&[(&QUESTION, 2, b"\x03www"), (&QUESTION, 1, &[192, 0, 2, 1])]);
    assert!(!relayed(b), "a name past the end of its data");
}
