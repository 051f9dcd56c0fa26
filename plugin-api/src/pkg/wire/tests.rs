use std::collections::HashSet;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::Proto;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn reply(qname: &str, answers: Vec<Record>) -> Message {
    let mut m = Message::response(1, OpCode::Query);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_available = true;
    m.metadata.authentic_data = true;
    m.add_query(Query::query(name(qname), RecordType::A));
    m.answers = answers;
    m.edns = Some(Edns::new());
    m
}

fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(ip.into())))
}

fn request(qname: &str, id: u16, rd: bool, cd: bool, dnssec_ok: bool) -> Request {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = rd;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(name(qname), RecordType::A));
    if dnssec_ok {
        let mut e = Edns::new();
        e.set_dnssec_ok(true);
        m.set_edns(e);
    }
    let len = m.to_vec().unwrap().len();
    Request::new(
        m,
        "10.0.0.2:5300".parse().unwrap(),
        "10.0.0.1:53".parse().unwrap(),
        Proto::Udp,
        len,
    )
}

#[test]
fn a_stored_reply_is_patched_for_each_query() {
    let stored = Stored::new(&mut reply(
        "www.example.org.",
        vec![
            Record::from_rdata(
                name("www.example.org."),
                300,
                RData::CNAME(CNAME(name("web.example.org."))),
            ),
            a("web.example.org.", 300, [192, 0, 2, 1]),
            a("web.example.org.", 300, [192, 0, 2, 2]),
        ],
    ))
    .unwrap();
    assert_eq!(stored.ttls().count(), 3, "one TTL per record, the OPT left out");

    let req = request("WWW.Example.ORG.", 0xabcd, true, true, false);
    let wire = stored.reply_to(&req, 42);
    let m = wire.decode().expect("decodes");
    assert_eq!(m.metadata.id, 0xabcd);
    assert!(
        m.metadata.authoritative && m.metadata.recursion_desired && m.metadata.checking_disabled
    );
    assert!(!m.metadata.authentic_data, "AD cleared: neither DO nor AD in the query");
    assert!(m.edns.is_none());
    assert_eq!(m.queries[0].name().to_ascii(), "WWW.Example.ORG.", "the query's case");
    assert!(m.answers.iter().all(|r| r.ttl == 42));
    assert_eq!(m.answers.len(), 3);
    assert_eq!(wire.rcode(), ResponseCode::NoError);

    // DO in the query keeps AD; RD and CD follow the query.
    let m =
        stored.reply_to(&request("www.example.org.", 7, false, false, true), 1).decode().unwrap();
    assert!(
        m.metadata.authentic_data && !m.metadata.recursion_desired && !m.metadata.checking_disabled
    );
}

#[test]
fn address_records_are_shuffled_in_place() {
    let ips: Vec<[u8; 4]> = (1..=8).map(|i| [10, 0, 0, i]).collect();
    let answers = ips.iter().map(|ip| a("many.example.org.", 60, *ip)).collect();
    let stored = Stored::new(&mut reply("many.example.org.", answers)).unwrap();
    let req = request("many.example.org.", 1, true, false, false);
    let mut orders = HashSet::new();
    let mut seed = 0x9e37_79b9_u64;
    for _ in 0..50 {
        let mut wire = stored.reply_to(&req, 60);
        let rng = |limit: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed as usize) % limit
        };
        assert!(wire.shuffle_addresses(rng));
        let m = wire.decode().unwrap();
        let got: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        let mut sorted = got.clone();
        sorted.sort();
        let mut want: Vec<String> =
            ips.iter().map(|ip| format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])).collect();
        want.sort();
        assert_eq!(sorted, want, "the same addresses, none lost or duplicated");
        assert!(m.answers.iter().all(|r| r.name.to_ascii() == "many.example.org." && r.ttl == 60));
        orders.insert(got);
    }
    assert!(orders.len() > 10, "orders vary: {}", orders.len());
}

#[test]
fn mixed_sections_are_left_to_the_decoder() {
    let req = request("mix.example.org.", 1, true, false, false);
    let mixed = [
        // A then AAAA: not one run.
        vec![
            a("mix.example.org.", 60, [10, 0, 0, 1]),
            Record::from_rdata(
                name("mix.example.org."),
                60,
                RData::AAAA(AAAA("fd00::1".parse().unwrap())),
            ),
        ],
        // Two owners.
        vec![a("mix.example.org.", 60, [10, 0, 0, 1]), a("other.example.org.", 60, [10, 0, 0, 2])],
        // Different TTLs (a stored reply patches them equal, but the walker does not assume so).
        vec![a("mix.example.org.", 60, [10, 0, 0, 1]), a("mix.example.org.", 61, [10, 0, 0, 2])],
        // An MX after addresses.
        vec![
            a("mix.example.org.", 60, [10, 0, 0, 1]),
            Record::from_rdata(
                name("mix.example.org."),
                60,
                RData::MX(MX::new(1, name("mx.example.org."))),
            ),
        ],
    ];
    for answers in mixed {
        let m = reply("mix.example.org.", answers);
        let mut wire = WireReply::new(m.to_vec().unwrap()).unwrap();
        let before = wire.clone();
        assert!(!wire.shuffle_addresses(|_| 0), "{:?}", before.decode().unwrap().answers);
        assert_eq!(wire, before, "nothing changed");
    }
    // A single address, or none, is trivially fine.
    let one =
        Stored::new(&mut reply("one.example.org.", vec![a("one.example.org.", 5, [1, 2, 3, 4])]))
            .unwrap();
    assert!(one.reply_to(&req, 5).shuffle_addresses(|_| 0));
}

#[test]
fn broken_bytes_are_not_walked() {
    assert!(WireReply::new(vec![0; 5]).is_none());
    // A header claiming an answer that is not there.
    let mut header = vec![0u8; 12];
    header[7] = 1;
    let mut wire = WireReply::new(header.clone()).unwrap();
    assert!(!wire.shuffle_addresses(|_| 0));
    assert!(ttl_offsets(&header).is_none());
    // A label type that is neither a label nor a pointer.
    assert_eq!(skip_name(&[0x40, 1, 0], 0), None);
    assert_eq!(skip_name(&[0xc0], 0), None);
    assert_eq!(skip_name(&[3, b'a', b'b', b'c', 0], 0), Some(5));
}

/// Found by the `reply` fuzz target: an owner name pointing into the header decoded as one name
/// from the upstream's bytes and as another once the client's id and flags were written there.
#[test]
fn compression_pointers_point_back_past_the_header() {
    let mut b = vec![0u8; HEADER];
    b.extend_from_slice(&[1, b'a', 0]); // a name at 12
    b.extend_from_slice(&[0xc0, 12]); // 15: back to it
    b.extend_from_slice(&[0xc0, 5]); // 17: into the header
    b.extend_from_slice(&[0xc0, 19]); // 19: to itself
    b.extend_from_slice(&[0xc0, 30]); // 21: forward
    assert_eq!(skip_name(&b, 15), Some(17));
    assert_eq!(skip_name(&b, 17), None);
    assert_eq!(skip_name(&b, 19), None);
    assert_eq!(skip_name(&b, 21), None);
}

/// *minimal*'s question: does anything but OPT follow the answers?
#[test]
fn records_beyond_the_answers_are_found_in_place() {
    let wire = |m: &Message| WireReply::new(m.to_vec().unwrap()).unwrap();
    let answer_only = reply("a.example.", vec![a("a.example.", 5, [1, 2, 3, 4])]);
    assert_eq!(wire(&answer_only).has_records_beyond_answers(), Some(false), "OPT alone");
    let mut glue = answer_only.clone();
    glue.additionals = vec![a("ns.example.", 5, [5, 6, 7, 8])];
    assert_eq!(wire(&glue).has_records_beyond_answers(), Some(true));
    let mut authority = answer_only.clone();
    authority.authorities = vec![a("ns.example.", 5, [5, 6, 7, 8])];
    assert_eq!(wire(&authority).has_records_beyond_answers(), Some(true));
    // A header that promises an answer and an additional record, then ends.
    let mut header = vec![0u8; 12];
    header[7] = 1;
    header[11] = 1;
    assert_eq!(WireReply::new(header).unwrap().has_records_beyond_answers(), None);
}

#[test]
fn answer_types_are_found_in_place() {
    let wire = |m: &Message| WireReply::new(m.to_vec().unwrap()).unwrap();
    let v4 = reply("a.example.", vec![a("a.example.", 5, [1, 2, 3, 4])]);
    assert_eq!(wire(&v4).answers_have(RecordType::A), Some(true));
    assert_eq!(wire(&v4).answers_have(RecordType::AAAA), Some(false));
    let mixed = reply(
        "a.example.",
        vec![a("a.example.", 5, [1, 2, 3, 4]), aaaa("a.example.", 5, "fd00::1")],
    );
    assert_eq!(wire(&mixed).answers_have(RecordType::AAAA), Some(true));
    // An AAAA in the additional section is no answer.
    let mut glue = v4.clone();
    glue.additionals = vec![aaaa("ns.example.", 5, "fd00::2")];
    assert_eq!(wire(&glue).answers_have(RecordType::AAAA), Some(false));
    // A header that promises an answer, then ends.
    let mut header = vec![0u8; 12];
    header[7] = 1;
    assert_eq!(WireReply::new(header).unwrap().answers_have(RecordType::A), None);
}

/// What the encoder writes for the same reply, the reference `ReplyWriter` must match.
fn encoded_answer(req: &Request, answers: Vec<Record>) -> Message {
    let mut m = req.reply();
    m.metadata.authoritative = true;
    m.answers = answers;
    Message::from_vec(&m.to_vec().unwrap()).unwrap()
}

fn aaaa(owner: &str, ttl: u32, ip: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(ip.parse().unwrap())))
}

#[test]
fn an_address_answer_is_the_bytes_the_encoder_writes() {
    for (rd, cd) in [(true, false), (false, true)] {
        let req = request("web.example.org.", 0x1234, rd, cd, false);
        let mut w = ReplyWriter::new(&req).unwrap();
        w.a(30, [192, 0, 2, 1].into());
        w.a(30, [192, 0, 2, 2].into());
        let expected = encoded_answer(
            &req,
            vec![
                a("web.example.org.", 30, [192, 0, 2, 1]),
                a("web.example.org.", 30, [192, 0, 2, 2]),
            ],
        );
        let wire = w.finish();
        // Lower case: the owner is a pointer to the question, as the encoder compresses it.
        assert_eq!(wire.as_bytes(), expected.to_vec().unwrap().as_slice());
        assert_eq!(wire.decode().unwrap(), expected);
    }
}

#[test]
fn an_address_answer_keeps_the_question_case_and_owns_records_in_lower_case() {
    let req = request("Web.EXAMPLE.org.", 7, true, false, false);
    let mut w = ReplyWriter::new(&req).unwrap();
    w.aaaa(5, "2001:db8::1".parse().unwrap());
    w.aaaa(5, "2001:db8::2".parse().unwrap());
    let got = w.finish().decode().unwrap();
    assert_eq!(got.queries[0].name().to_ascii(), "Web.EXAMPLE.org.");
    assert_eq!(
        got.answers,
        vec![
            aaaa("web.example.org.", 5, "2001:db8::1"),
            aaaa("web.example.org.", 5, "2001:db8::2")
        ]
    );
    for r in &got.answers {
        assert_eq!(r.name.to_ascii(), "web.example.org.");
    }
    assert!(got.metadata.authoritative && got.metadata.recursion_desired);

    // Owned as asked: the question's spelling, by a pointer to it.
    let mut w = ReplyWriter::new(&req).unwrap().owned_as_asked();
    w.a(5, [192, 0, 2, 9].into());
    let got = w.finish().decode().unwrap();
    assert_eq!(got.answers[0].name.to_ascii(), "Web.EXAMPLE.org.");
}

#[test]
fn an_address_answer_without_records_is_an_empty_noerror() {
    let req = request("a.b.", 9, false, false, true);
    let got = ReplyWriter::new(&req).unwrap().finish();
    assert_eq!(got.rcode(), ResponseCode::NoError);
    assert_eq!(got.decode().unwrap(), encoded_answer(&req, vec![]));
}

/// The SOA *kubernetes* writes, for a zone of the last `zone_labels` labels of the question.
fn cluster_soa(zone_labels: usize, serial: u32) -> ZoneSoa<'static> {
    ZoneSoa {
        zone_labels,
        ttl: 5,
        names: SoaNames::UnderZone { mname: "ns.dns", rname: "hostmaster" },
        serial,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5,
    }
}

fn soa_record(owner: &str, ttl: u32, mname: &str, rname: &str, serial: u32) -> Record {
    use hickory_proto::rr::rdata::SOA;
    let soa = SOA::new(name(mname), name(rname), serial, 7200, 1800, 86400, 5);
    Record::from_rdata(name(owner), ttl, RData::SOA(soa))
}

#[test]
fn a_negative_reply_carries_the_zone_soa_in_the_clients_spelling() {
    let req = request("Nope.Default.svc.Cluster.Local.", 3, true, false, false);
    let mut w = ReplyWriter::new(&req).unwrap();
    w.rcode(ResponseCode::NXDomain);
    w.soa(&cluster_soa(2, 42));
    let got = w.finish();
    assert_eq!(got.rcode(), ResponseCode::NXDomain);
    let mut expected = req.reply();
    expected.metadata.authoritative = true;
    expected.metadata.response_code = ResponseCode::NXDomain;
    expected.authorities = vec![soa_record(
        "Cluster.Local.",
        5,
        "ns.dns.Cluster.Local.",
        "hostmaster.Cluster.Local.",
        42,
    )];
    let decoded = got.decode().unwrap();
    assert_eq!(decoded, Message::from_vec(&expected.to_vec().unwrap()).unwrap());
    assert_eq!(decoded.authorities[0].name.to_ascii(), "Cluster.Local.");
}

#[test]
fn an_soa_for_the_root_zone_and_for_a_zone_longer_than_the_name() {
    let req = request("a.b.", 3, false, false, false);
    let soa = |zone_labels| cluster_soa(zone_labels, 1);
    let mut w = ReplyWriter::new(&req).unwrap();
    w.soa(&soa(0));
    let got = w.finish().decode().unwrap();
    assert_eq!(got.authorities[0].name, Name::root());
    let mut w = ReplyWriter::new(&req).unwrap();
    w.soa(&soa(3));
    assert!(w.finish().decode().unwrap().authorities.is_empty());
}

#[test]
fn srv_answers_carry_their_targets_in_full_and_addresses_in_additional() {
    use hickory_proto::rr::rdata::SRV;
    let mut m = Message::query();
    m.metadata.id = 11;
    m.add_query(Query::query(name("_http._tcp.Web.default.svc.Cluster.Local."), RecordType::SRV));
    let req = Request::new(
        m,
        "10.0.0.2:5300".parse().unwrap(),
        "10.0.0.1:53".parse().unwrap(),
        Proto::Udp,
        60,
    );
    let mut w = ReplyWriter::new(&req).unwrap().owned_as_asked();
    let target = w.srv(5, (0, 50, 80), &["web", "default", "svc"], 2).unwrap();
    w.srv(5, (0, 50, 8080), &["web", "default", "svc"], 2).unwrap();
    w.additional_address(target, 5, "10.96.0.7".parse().unwrap());
    w.additional_address(target, 5, "fd00::7".parse().unwrap());
    let wire = w.finish();

    let owner = "_http._tcp.Web.default.svc.Cluster.Local.";
    let t = name("web.default.svc.Cluster.Local.");
    let mut expected = req.reply();
    expected.metadata.authoritative = true;
    expected.answers = vec![
        Record::from_rdata(name(owner), 5, RData::SRV(SRV::new(0, 50, 80, t.clone()))),
        Record::from_rdata(name(owner), 5, RData::SRV(SRV::new(0, 50, 8080, t.clone()))),
    ];
    expected.additionals = vec![
        Record::from_rdata(t.clone(), 5, RData::A(A([10, 96, 0, 7].into()))),
        Record::from_rdata(t.clone(), 5, RData::AAAA(AAAA("fd00::7".parse().unwrap()))),
    ];
    let decoded = wire.decode().unwrap();
    assert_eq!(decoded, Message::from_vec(&expected.to_vec().unwrap()).unwrap());
    assert_eq!(decoded.answers[0].name.to_ascii(), owner);
    // The target is written in full: no compression pointer inside the SRV's RDATA.
    let rdata_start = wire.as_bytes().windows(4).position(|w| w == [0, 0, 0, 50]).unwrap() + 6;
    assert_eq!(wire.as_bytes()[rdata_start], 3, "the target starts with the label 'web'");
    assert!(wire.as_bytes()[rdata_start..rdata_start + 30].iter().all(|&b| b & 0xc0 != 0xc0));
}

#[test]
fn ptr_answers_point_at_the_names_given() {
    use hickory_proto::rr::rdata::PTR;
    let mut m = Message::query();
    m.add_query(Query::query(name("7.0.96.10.in-addr.arpa."), RecordType::PTR));
    let req = Request::new(
        m,
        "10.0.0.2:5300".parse().unwrap(),
        "10.0.0.1:53".parse().unwrap(),
        Proto::Udp,
        40,
    );
    let mut w = ReplyWriter::new(&req).unwrap().owned_as_asked();
    w.ptr(5, ["web", "default", "svc", "cluster", "local"]);
    let mut expected = req.reply();
    expected.metadata.authoritative = true;
    expected.answers = vec![Record::from_rdata(
        name("7.0.96.10.in-addr.arpa."),
        5,
        RData::PTR(PTR(name("web.default.svc.cluster.local."))),
    )];
    assert_eq!(
        w.finish().decode().unwrap(),
        Message::from_vec(&expected.to_vec().unwrap()).unwrap()
    );
}

#[test]
fn facts_read_in_place_match_those_of_the_decoded_message() {
    use crate::pkg::response::Facts;
    let req = request("Nope.Default.svc.Cluster.Local.", 3, true, true, false);
    let mut negative = ReplyWriter::new(&req).unwrap();
    negative.rcode(ResponseCode::NXDomain);
    negative.soa(&cluster_soa(2, 1));
    let mut positive = ReplyWriter::new(&req).unwrap();
    positive.a(5, [10, 0, 0, 1].into());
    let stored =
        Stored::new(&mut reply("www.example.org.", vec![a("www.example.org.", 9, [1, 2, 3, 4])]))
            .unwrap()
            .reply_to(&req, 9);
    for wire in [negative.finish(), positive.finish(), stored] {
        let facts = wire.facts().expect("our own bytes can be walked");
        assert_eq!(facts, Facts::of(&wire.decode().unwrap()));
    }
    let mut truncated = request("a.b.", 1, false, false, false).reply();
    truncated.metadata.truncation = true;
    let cut = WireReply::new(truncated.to_vec().unwrap()[..12].to_vec()).unwrap();
    assert!(cut.facts().is_none(), "a header promising a question that is not there");
}

/// An SOA of absolute names, not under the zone (as *local* writes), for a zone of
/// `zone_labels` labels.
fn absolute_soa(zone_labels: usize) -> ZoneSoa<'static> {
    let names = SoaNames::Absolute { mname: "localhost.", rname: "root.localhost." };
    let (serial, refresh, retry, expire, minimum) = (1, 0, 0, 0, 604800);
    ZoneSoa { zone_labels, ttl: 604800, names, serial, refresh, retry, expire, minimum }
}

fn absolute_soa_record(owner: &str) -> Record {
    use hickory_proto::rr::rdata::SOA;
    let soa = SOA::new(name("localhost."), name("root.localhost."), 1, 0, 0, 0, 604800);
    Record::from_rdata(name(owner), 604800, RData::SOA(soa))
}

/// A non-authoritative reply with an SOA of absolute names in either section and an NS answer,
/// owned by the zone as the client spelt it: the bytes the encoder writes for the same records.
#[test]
fn absolute_soa_and_ns_records_owned_by_the_zone_as_asked() {
    use hickory_proto::rr::rdata::NS;
    let req = request("2.0.0.127.In-Addr.Arpa.", 5, true, false, false);
    let mut w = ReplyWriter::new(&req).unwrap().owned_as_asked().not_authoritative();
    w.rcode(ResponseCode::NXDomain);
    w.soa(&absolute_soa(3));
    let mut expected = req.reply();
    expected.metadata.response_code = ResponseCode::NXDomain;
    expected.authorities = vec![absolute_soa_record("127.In-Addr.Arpa.")];
    let got = w.finish().decode().unwrap();
    assert!(!got.metadata.authoritative);
    assert_eq!(got, Message::from_vec(&expected.to_vec().unwrap()).unwrap());
    assert_eq!(got.authorities[0].name.to_ascii(), "127.In-Addr.Arpa.");

    let req = request("LocalHost.", 6, true, false, false);
    let mut w = ReplyWriter::new(&req).unwrap().owned_as_asked().not_authoritative();
    w.soa_in(Section::Answer, &absolute_soa(1));
    w.ns(1, 604800, "localhost.");
    let mut expected = req.reply();
    expected.answers = vec![
        absolute_soa_record("LocalHost."),
        Record::from_rdata(name("LocalHost."), 604800, RData::NS(NS(name("localhost.")))),
    ];
    let got = w.finish().decode().unwrap();
    assert_eq!(got, Message::from_vec(&expected.to_vec().unwrap()).unwrap());
    // A zone longer than the name writes nothing.
    let mut w = ReplyWriter::new(&req).unwrap();
    w.soa(&absolute_soa(2));
    w.ns(2, 1, "localhost.");
    let got = w.finish().decode().unwrap();
    assert!(got.answers.is_empty() && got.authorities.is_empty());
}

/// An answer after the additional section has started would break the counts in the header.
/// A debug build flags the mistake (every test run is one); a release build ignores the record
/// and keeps the reply whole. This test runs in both: the attribute says what each must do.
#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "after a later section"))]
fn a_record_for_an_earlier_section_is_refused() {
    let req = request("a.test.", 12, true, false, false);
    let mut w = ReplyWriter::new(&req).unwrap();
    w.a(5, [10, 0, 0, 1].into());
    w.soa(&cluster_soa(1, 1));
    w.a(5, [10, 0, 0, 2].into());
    let got = w.finish().decode().unwrap();
    assert_eq!(got.answers, [a("a.test.", 5, [10, 0, 0, 1])]);
    assert_eq!(got.authorities.len(), 1);
}

#[test]
fn an_upstream_reply_is_relayed_without_its_opt() {
    use hickory_proto::rr::rdata::SOA;
    // An upstream's NXDOMAIN, compressed, with its OPT last.
    let mut m = reply("Www.Example.org.", vec![]);
    m.metadata.response_code = ResponseCode::NXDomain;
    let soa = SOA::new(name("ns.example.org."), name("h.example.org."), 1, 2, 3, 4, 120);
    m.authorities.push(Record::from_rdata(name("example.org."), 900, RData::SOA(soa)));
    m.additionals.push(a("ns.example.org.", 60, [192, 0, 2, 9]));
    let bytes = m.to_vec().unwrap();
    let wire = WireReply::from_upstream(bytes).unwrap();
    let back = wire.decode().unwrap();
    assert!(back.edns.is_none(), "the OPT is taken off");
    assert_eq!(back.additionals.len(), 1);
    assert_eq!((back.authorities.len(), wire.rcode()), (1, m.metadata.response_code));
    assert_eq!(wire.answer_count(), 0);
    // What cache reads in place: both TTLs and the SOA's minimum.
    let mut ttls = vec![7];
    let r = wire.records(&mut ttls).unwrap();
    assert_eq!((ttls.len(), r.min_ttl, r.soa_minimum), (2, Some(60), Some(120)));
    let mut patched = wire.clone();
    patched.set_ttls(&ttls, 30);
    let p = patched.decode().unwrap();
    assert!(p.authorities.iter().chain(&p.additionals).all(|r| r.ttl == 30));
    // It answers the question whatever the letter case; readdressed, it takes the client's.
    let req = request("www.EXAMPLE.org.", 77, true, false, false);
    assert!(wire.answers(&req));
    assert!(!wire.answers(&request("other.example.org.", 77, true, false, false)));
    let mut mine = wire.clone();
    mine.readdress(&req);
    let d = mine.decode().unwrap();
    assert_eq!(d.metadata.id, 77);
    assert_eq!(d.queries[0].name().to_ascii(), "www.EXAMPLE.org.");
    // Without an OPT, as it came.
    let mut plain = reply("example.org.", vec![a("example.org.", 5, [192, 0, 2, 1])]);
    plain.edns = None;
    let bytes = plain.to_vec().unwrap();
    assert_eq!(WireReply::from_upstream(bytes.clone()).unwrap().as_bytes(), &bytes[..]);
}

#[test]
fn unusual_upstream_replies_are_left_to_the_decoder() {
    let base = reply("example.org.", vec![a("example.org.", 5, [192, 0, 2, 1])]);
    // An extended rcode (BADVERS lives in the OPT).
    let mut ext = base.clone();
    ext.metadata.response_code = ResponseCode::BADVERS;
    assert!(WireReply::from_upstream(ext.to_vec().unwrap()).is_err());
    // An OPT that is not the last record.
    let mut bytes = base.to_vec().unwrap();
    let extra = a("x.example.org.", 5, [192, 0, 2, 2]);
    let mut tail = Message::new(0, MessageType::Response, OpCode::Query);
    tail.additionals.push(extra);
    let tail = tail.to_vec().unwrap();
    bytes.extend_from_slice(&tail[12..]);
    let count = u16::from_be_bytes([bytes[10], bytes[11]]) + 1;
    bytes[10..12].copy_from_slice(&count.to_be_bytes());
    assert!(WireReply::from_upstream(bytes).is_err());
    // Options in the OPT (an upstream's EDE, NSID, cookie) are kept by decoding.
    let mut with_option = base.clone();
    if let Some(e) = with_option.edns.as_mut() {
        e.options_mut()
            .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(3, b"ns1".to_vec()));
    }
    assert!(WireReply::from_upstream(with_option.to_vec().unwrap()).is_err());
    // Cut short, or with bytes after the last record.
    let whole = base.to_vec().unwrap();
    assert!(WireReply::from_upstream(whole[..whole.len() - 3].to_vec()).is_err());
    assert!(WireReply::from_upstream([&whole[..], &[0, 0]].concat()).is_err());
    assert!(WireReply::from_upstream(vec![0; 5]).is_err());
}

/// An OPT record is only ever the last record of the additional section (RFC 6891 §6.1.1);
/// one in the authority section, as the only record, once passed the walk and had the
/// additional count, 0, decremented.
#[test]
fn an_opt_outside_the_additional_section_is_not_taken_off() {
    let mut bytes = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 1, 0, 0];
    bytes.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
    // The authority section's one record: root owner, OPT, payload size 1232, no options.
    bytes.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let bytes = WireReply::from_upstream(bytes).expect_err("left to the decoder");
    assert_eq!(&bytes[8..12], &[0, 1, 0, 0], "counts untouched");
}
