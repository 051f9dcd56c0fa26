//! [`Request`]'s accessors and the name readers, on queries built and encoded here.

use super::*;

#[test]
fn a_query_written_directly_is_the_message_encoded() {
    let src: SocketAddr = "10.0.0.9:5353".parse().unwrap();
    // (name, RD, CD, AD, EDNS as (size, DO, version), a *bufsize* cap)
    type Case = (&'static str, bool, bool, bool, Option<(u16, bool, u8)>, u16);
    let cases: [Case; 7] = [
        ("example.org.", true, false, false, None, 0),
        ("WwW.Example.ORG.", true, true, false, Some((1232, true, 0)), 0),
        ("a.b.c.d.e.f.example.", false, false, true, Some((4096, false, 0)), 0),
        ("example.org.", true, false, false, Some((4096, true, 0)), 700),
        ("example.org.", true, false, false, Some((600, false, 0)), 100),
        ("example.org.", true, true, true, Some((300, true, 1)), 0),
        (".", true, false, false, Some((1232, false, 0)), 0),
    ];
    for (name, rd, cd, ad, edns, cap) in cases {
        let mut msg = Message::query();
        msg.metadata.id = 4242;
        msg.metadata.recursion_desired = rd;
        msg.metadata.checking_disabled = cd;
        msg.metadata.authentic_data = ad;
        msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::AAAA));
        if let Some((size, dnssec_ok, version)) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(dnssec_ok);
            e.set_version(version);
            msg.edns = Some(e);
        }
        let bytes = msg.to_vec().unwrap();
        let req = Request::new(Message::from_vec(&bytes).unwrap(), src, src, Proto::Udp, 0);
        if cap > 0 {
            req.cap_payload(cap);
        }
        let mut out = vec![1, 2, 3];
        assert!(req.write_query(&mut out), "{name}");
        assert_eq!(out, req.to_message().to_vec().unwrap(), "{name} {edns:?} cap {cap}");
    }
    // EDNS options: left to the message.
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii("example.org.").unwrap(), RecordType::A));
    let mut e = Edns::new();
    e.options_mut().insert(crate::proto::rr::rdata::opt::EdnsOption::Unknown(10, vec![1; 8]));
    msg.edns = Some(e);
    let req = Request::new(msg, src, src, Proto::Udp, 0);
    assert!(!req.write_query(&mut Vec::new()));
}

#[test]
fn a_rewritten_request_asks_the_new_question_and_keeps_the_rest() {
    let mut msg = Message::query();
    msg.metadata.id = 77;
    msg.add_query(Query::query(Name::from_ascii("Old.Example.").unwrap(), RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    msg.edns = Some(edns);
    let (src, local) = ("[::ffff:10.0.0.9]:5353".parse().unwrap(), "10.0.0.1:53".parse().unwrap());
    let mut req = Request::new(msg, src, local, Proto::Tcp, 40);
    req.meta_mut().set("kubernetes/namespace", "shop");
    let mut into = Request::new(Message::query(), local, local, Proto::Udp, 0);
    into.meta_mut().set("stale/label", "from an earlier query");
    let wire = b"\x01\x34\x01\x33\x01\x32\x02\x31\x30\x07in-addr\x04ARPA\x00";
    let question = [&wire[..], &[0, 12, 0, 3]].concat();
    assert!(req.rewritten_into(&mut into, &question));
    assert_eq!(into.name(), "4.3.2.10.in-addr.arpa.");
    assert_eq!(into.qname_wire(), wire);
    assert!(!into.qname_is_lower());
    assert_eq!(into.qname().to_ascii(), "4.3.2.10.in-addr.ARPA.");
    assert_eq!((into.qtype(), into.qclass()), (RecordType::PTR, DNSClass::CH));
    assert_eq!(into.reverse_addr(), Some("10.2.3.4".parse().unwrap()));
    assert_eq!(
        (into.id(), into.src(), into.local(), into.proto()),
        (77, req.src(), local, Proto::Tcp)
    );
    assert_eq!((into.len(), into.size()), (40, u16::MAX));
    assert_eq!(into.edns().map(Edns::max_payload), Some(1232));
    assert_eq!(into.src().ip().to_string(), "10.0.0.9");
    // The metadata goes with the query, and only this query's.
    let meta: Vec<_> = into.meta().iter().collect();
    assert_eq!(meta, [("kubernetes/namespace", "shop")]);
    // A compressed name, one without its root, and one too long are refused, leaving the
    // request as it was.
    let too_long = [
        &[63u8][..],
        &[b'a'; 63],
        &[63],
        &[b'a'; 63],
        &[63],
        &[b'a'; 63],
        &[63],
        &[b'a'; 63],
        &[0],
    ]
    .concat();
    for bad in [&b"\x01a\xc0\x0c"[..], b"\x01a", &too_long] {
        let question = [bad, &[0, 1, 0, 1]].concat();
        assert!(!req.rewritten_into(&mut into, &question));
        assert_eq!(into.name(), "4.3.2.10.in-addr.arpa.");
    }
}

#[test]
fn lower_names_match_the_escaping_presentation_form() {
    // Expected forms written out: lower-cased, fully qualified, escaped as miekg/dns prints
    // names (`\.` and `\ ` for a dot and a space inside a label, `\DDD` in decimal for
    // bytes that are not printable).
    let names = [
        (".", "."),
        ("Example.ORG.", "example.org."),
        (
            "_http._tcp.Web-0.default.svc.cluster.local.",
            "_http._tcp.web-0.default.svc.cluster.local.",
        ),
        ("*.wild.test.", "*.wild.test."),
        ("a\\.b.example.", "a\\.b.example."),
        ("xn--bcher-kva.example.", "xn--bcher-kva.example."),
        ("9.8.7.6.in-addr.arpa.", "9.8.7.6.in-addr.arpa."),
    ];
    for (text, want) in names {
        let name = Name::from_ascii(text).unwrap();
        assert_eq!(lower_name(&name), want, "{text}");
    }
    for (labels, want) in [
        (vec![b"A.B".to_vec(), b"C".to_vec()], "a\\.b.c."),
        (vec![b"sp ace".to_vec()], "sp\\ ace."),
        (vec![b"a@b(c)".to_vec(), b"d;e'f".to_vec()], "a\\@b\\(c\\).d\\;e\\'f."),
        (vec![vec![255, 0, b'X']], "\\255\\000x."),
    ] {
        let raw = Name::from_labels(labels).unwrap();
        assert_eq!(lower_name(&raw), want, "{raw:?}");
    }
}

/// A question read from the query's bytes (the decoder left it out of the message) is the
/// one hickory decodes from the whole message, whether the name is plain and read byte by
/// byte or must be escaped and is read by hickory from where it starts.
#[test]
fn questions_read_from_the_wire_match_the_decoded_ones() {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::serialize::binary::BinEncodable;

    let mut names: Vec<Name> = [
        ".",
        "Example.ORG.",
        "_http._tcp.Web-0.default.svc.cluster.local.",
        "*.wild.test.",
        "a\\.b.example.",
        "9.8.7.6.in-addr.arpa.",
    ]
    .iter()
    .map(|text| Name::from_ascii(text).unwrap())
    .collect();
    names.push(Name::from_labels(vec![b"sp ace".to_vec(), b"X".to_vec()]).unwrap());
    // 255 octets on the wire, the most a name may have.
    let longest = [63, 63, 63, 61]
        .map(|n| b"AbcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[..n].to_vec());
    names.push(Name::from_labels(longest).unwrap());
    let addr = "10.0.0.1:53".parse().unwrap();
    let (mut plain, mut escaped) = (0, 0);
    for (name, qtype, qclass) in names.into_iter().flat_map(|name| {
        [(name.clone(), RecordType::A, DNSClass::IN), (name, RecordType::SRV, DNSClass::CH)]
    }) {
        let mut query = Query::query(name.clone(), qtype);
        query.set_query_class(qclass);
        let mut msg = Message::query();
        msg.add_query(query.clone());
        let wire = msg.to_bytes().unwrap();
        let decoded = Message::from_vec(&wire).unwrap();
        let by_hickory = Request::new(decoded.clone(), addr, addr, Proto::Udp, wire.len());
        let mut req = by_hickory.clone();
        *req.message_mut() = decoded;
        let len = uncompressed_question_len(&wire[12..]).expect("never compressed here");
        req.message_mut().queries.clear();
        match lower_plain_name(&wire[12..12 + len], &mut [0; MAX_TEXT]) {
            Some(_) => plain += 1,
            None => escaped += 1,
        }
        req.rebind(&wire, addr, addr, Proto::Udp, Instant::now());
        for r in [&req, &by_hickory] {
            assert_eq!(r.name(), lower_name(&name), "{name:?}");
            assert_eq!(r.qname_wire(), name.to_bytes().unwrap(), "{name:?}");
            let lower = !r.qname_wire().iter().any(u8::is_ascii_uppercase);
            assert_eq!(r.qname_is_lower(), lower, "{name:?}");
            assert_eq!((r.qtype(), r.qclass()), (qtype, qclass));
            assert_eq!(r.question(), Some(&query), "{name:?}");
            assert_eq!(r.to_message().queries, [query.clone()]);
        }
    }
    assert_eq!((plain, escaped), (10, 6), "both paths taken");
}

#[test]
fn uncompressed_questions_are_measured_and_others_refused() {
    // Truncated, compressed, an extended label type, or without room for type and class.
    for question in [
        &b"\x03abc"[..],
        b"\x03ab",
        b"\xc0\x0c\x00\x01\x00\x01",
        b"\x40abc\x00\x00\x01\x00\x01",
        b"\x01a\x00\x00\x01\x00",
        b"",
    ] {
        assert_eq!(uncompressed_question_len(question), None, "{question:?}");
    }
    assert_eq!(uncompressed_question_len(b"\x01A\x02bC\x00\x00\x01\x00\x01"), Some(6));
    assert_eq!(uncompressed_question_len(b"\x00\x00\x02\x00\x01"), Some(1));
    // Escaped names are measured too: hickory reads them from the bytes.
    assert_eq!(uncompressed_question_len(b"\x01 \x00\x00\x01\x00\x01"), Some(3));
    // 256 octets on the wire: one too many, for hickory too (the server answers FORMERR).
    let mut wire = Vec::new();
    for n in [63, 63, 63, 62] {
        wire.push(n);
        wire.extend(std::iter::repeat_n(b'a', usize::from(n)));
    }
    wire.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(wire.len(), 256 + 4);
    assert_eq!(uncompressed_question_len(&wire), None);
    assert!(Query::read(&mut BinDecoder::new(&wire)).is_err());
    wire.remove(0);
    wire[0] = 62;
    assert_eq!(uncompressed_question_len(&wire), Some(255));
}

#[test]
fn plain_names_are_lowered_in_one_pass_and_others_refused() {
    let mut text = [0; MAX_TEXT];
    assert_eq!(lower_plain_name(b"\x01A\x02bC\x00", &mut text), Some((5, false)));
    assert_eq!(&text[..5], b"a.bc.");
    assert_eq!(lower_plain_name(b"\x01a\x01-\x01_\x019\x00", &mut text), Some((8, true)));
    assert_eq!(lower_plain_name(b"\x00", &mut text), Some((1, true)));
    assert_eq!(&text[..1], b".");
    // A byte that needs escaping anywhere, in the first label or the last.
    for wire in [&b"\x01 \x01a\x00"[..], b"\x01a\x02b.\x00", b"\x02\xffa\x00", b"\x01*\x00"] {
        assert_eq!(lower_plain_name(wire, &mut text), None, "{wire:?}");
    }
}

/// The reverse address is read with the question, again for each query of a reused request,
/// and the metadata of the query before is forgotten.
#[test]
fn reverse_addresses_follow_the_question() {
    use hickory_proto::serialize::binary::BinEncodable;

    let addr = "10.0.0.1:53".parse().unwrap();
    let wire = |name: &str| {
        let mut msg = Message::query();
        msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::PTR));
        msg.to_bytes().unwrap()
    };
    let mut req = Request::new(Message::query(), addr, addr, Proto::Udp, 12);
    for (name, want) in [
        ("4.3.2.1.in-addr.arpa.", Some("1.2.3.4")),
        ("4.3.2.1.IN-ADDR.ARPA.", Some("1.2.3.4")),
        ("example.org.", None),
        ("9.0.96.10.in-addr.arpa.", Some("10.96.0.9")),
    ] {
        let bytes = wire(name);
        req.meta_mut().set("kubernetes/namespace", "of the query before");
        assert_eq!(decode_question_into(&bytes, req.message_mut()), Some(()));
        req.rebind(&bytes, addr, addr, Proto::Udp, Instant::now());
        let want: Option<IpAddr> = want.map(|a| a.parse().unwrap());
        assert_eq!(req.reverse_addr(), want, "{name}");
        assert!(req.meta().is_empty(), "a reused request starts without metadata");
    }
}

/// What the server's decoder does with a plain query: the header fields into the message,
/// the question left in the bytes.
fn decode_question_into(wire: &[u8], msg: &mut Message) -> Option<()> {
    *msg = Message::from_vec(wire).ok()?;
    msg.queries.clear();
    uncompressed_question_len(wire.get(12..)?).map(|_| ())
}

#[test]
fn a_request_without_a_question_says_so() {
    let addr = "10.0.0.1:53".parse().unwrap();
    let req = Request::new(Message::query(), addr, addr, Proto::Udp, 12);
    assert_eq!(req.question(), None);
    assert_eq!(
        (req.name(), req.qtype(), req.qclass()),
        (".", RecordType::Unknown(0), DNSClass::IN)
    );
    assert!(req.qname_wire().is_empty());
    assert!(req.to_message().queries.is_empty());
}
