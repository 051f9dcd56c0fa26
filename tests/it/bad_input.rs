//! Malformed packets over real sockets: FORMERR when the header can be read, silence when it
//! cannot or the packet is a response, and the next valid query is always answered.

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::TcpStream;

use crate::harness::*;

/// A small deterministic generator, so a failure can be replayed from its seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [id, flags, qd, an, ns, ar].iter().flat_map(|v| v.to_be_bytes()).collect()
}

async fn expect_alive(s: &TestServer) {
    let reply = s.udp("alive.example.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test(flavor = "multi_thread")]
async fn short_packets_and_responses_get_no_answer() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let quiet = Duration::from_millis(300);
    assert_eq!(udp_raw(s.addr, &[], quiet).await, None);
    assert_eq!(udp_raw(s.addr, &[1, 2, 3], quiet).await, None);
    assert_eq!(udp_raw(s.addr, &header(1, 0, 1, 0, 0, 0)[..11], quiet).await, None);
    // QR set: a response is never answered (no reflection).
    let mut resp = query("example.org.", RecordType::A).to_vec().unwrap();
    resp[2] |= 0x80;
    assert_eq!(udp_raw(s.addr, &resp, quiet).await, None);
    expect_alive(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn header_rules_give_formerr_and_notimp() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let rcode = |bytes: Vec<u8>| Message::from_vec(&bytes).unwrap().metadata.response_code;

    // No question, two questions, too many records: FORMERR (miekg/dns acceptance rules).
    for packet in [
        header(7, 0x0100, 0, 0, 0, 0),
        header(7, 0x0100, 2, 0, 0, 0),
        header(7, 0, 1, 2, 0, 0),
        header(7, 0, 1, 0, 0, 3),
    ] {
        let reply = udp_raw(s.addr, &packet, WAIT).await.expect("answered");
        assert_eq!(rcode(reply.clone()), ResponseCode::FormErr);
        assert_eq!(&reply[..2], &7u16.to_be_bytes(), "id echoed");
        assert_eq!(reply[3] & 0x0f, 1);
    }
    // An UPDATE is not implemented here.
    let mut update = query("example.org.", RecordType::SOA).to_vec().unwrap();
    update[2] = (update[2] & 0x87) | (5 << 3);
    let reply = udp_raw(s.addr, &update, WAIT).await.expect("answered");
    assert_eq!(rcode(reply.clone()), ResponseCode::NotImp);
    assert_eq!((reply[2] >> 3) & 0x0f, 5, "NOTIMP keeps the opcode");

    // A body that does not decode: FORMERR, with the question if it decoded.
    let mut cut = query("example.org.", RecordType::A).to_vec().unwrap();
    cut[11] = 1; // claims one additional record that is not there
    let reply = Message::from_vec(&udp_raw(s.addr, &cut, WAIT).await.expect("answered")).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.queries.len(), 1);
    assert_eq!(reply.queries[0].name().to_string(), "example.org.");

    let mut broken_name = header(9, 0x0100, 1, 0, 0, 0);
    broken_name.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // a pointer to itself
    let reply = udp_raw(s.addr, &broken_name, WAIT).await.expect("answered");
    assert_eq!(rcode(reply), ResponseCode::FormErr);
    expect_alive(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_and_truncated_packets_never_stop_the_server() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = XorShift(0x5eed_f00d_dead_beef);
    let valid = with_edns(query("fuzz.example.", RecordType::A), 1232, 0).to_vec().unwrap();
    for i in 0..3000 {
        let packet = match i % 4 {
            0 => {
                let len = (rng.next() % 600) as usize;
                rng.bytes(len)
            }
            1 => valid[..(rng.next() as usize % valid.len())].to_vec(),
            2 => {
                // A valid query with random bytes flipped.
                let mut p = valid.clone();
                for _ in 0..3 {
                    let at = rng.next() as usize % p.len();
                    p[at] = rng.next() as u8;
                }
                p
            }
            _ => {
                // A valid header and question followed by junk, up to a large size.
                let mut p = valid.clone();
                let len = (rng.next() % 9000) as usize;
                p.extend(rng.bytes(len));
                p
            }
        };
        sock.send_to(&packet, s.addr).await.unwrap();
        if i % 200 == 0 {
            expect_alive(&s).await;
        }
    }
    expect_alive(&s).await;

    // The same over TCP: garbage frames, then a valid query on the same connection.
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    for _ in 0..200 {
        let len = (rng.next() % 300) as usize;
        write_frame(&mut stream, &rng.bytes(len)).await;
    }
    write_frame(&mut stream, &query("after.garbage.", RecordType::A).to_vec().unwrap()).await;
    let mut answered = false;
    while let Some(frame) = read_frame(&mut stream).await {
        if let Ok(m) = Message::from_vec(&frame)
            && m.queries.first().is_some_and(|q| q.name().to_string() == "after.garbage.")
        {
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            answered = true;
            break;
        }
    }
    assert!(answered, "the valid query after the garbage was answered");
    s.stop().await;
}

/// Names that never end: compression pointers to themselves, to each other, past the end of
/// the packet, and chains of pointers whose labels add up to more than 255 octets. Each gets
/// FORMERR with its id (the header reads); none makes the server loop, and 10 000 of them in a
/// row leave it answering.
#[tokio::test(flavor = "multi_thread")]
async fn compression_pointer_loops_are_formerr() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let with_question = |id: u16, name: &[u8]| {
        let mut p = header(id, 0x0100, 1, 0, 0, 0);
        p.extend_from_slice(name);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    };
    let mut packets = vec![
        // The question's name points at itself.
        with_question(1, &[0xC0, 12]),
        // A label, then a pointer back to that label.
        with_question(2, &[3, b'a', b'b', b'c', 0xC0, 12]),
        // Two pointers pointing at each other.
        with_question(3, &[0xC0, 14, 0xC0, 12]),
        // A pointer past the end of the packet.
        with_question(4, &[0xC0, 0xFF]),
        // The reserved label types 0b01 and 0b10.
        with_question(5, &[0x40, 1, 0]),
        with_question(6, &[0x80, 1, 0]),
    ];
    // Fifty 63-octet labels after the question, each pointing back to the previous; the
    // question points at the last. Every pointer is legal, but the name they spell is far over
    // 255 octets.
    let mut q = header(7, 0x0100, 1, 0, 0, 0);
    let labels_at = 12 + 2 + 4;
    let mut relocated = Vec::new();
    let mut prev: Option<u16> = None;
    for _ in 0..50 {
        let at = labels_at + relocated.len() as u16;
        relocated.push(63);
        relocated.extend_from_slice(&[b'x'; 63]);
        match prev {
            Some(p) => relocated.extend_from_slice(&(0xC000 | p).to_be_bytes()),
            None => relocated.push(0),
        }
        prev = Some(at);
    }
    q.extend_from_slice(&(0xC000 | prev.unwrap()).to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 1]);
    q.extend_from_slice(&relocated);
    packets.push(q);
    // A looping name in an additional record (an OPT owner pointing at itself).
    let mut opt = query("ok.example.", RecordType::A).to_vec().unwrap();
    opt[11] = 1; // ARCOUNT 1
    let at = opt.len() as u16;
    opt.extend_from_slice(&(0xC000 | at).to_be_bytes());
    opt.extend_from_slice(&[0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    packets.push(opt);

    for packet in &packets {
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        let bytes = udp_raw(s.addr, packet, Duration::from_secs(2)).await.expect("a reply");
        let reply = Message::from_vec(&bytes).expect("the reply itself is well-formed");
        assert_eq!(reply.metadata.id, id);
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr, "packet {id}");
    }
    // 10 000 in bursts of 100, reading the FORMERRs back between bursts, so the kernel's
    // receive buffer (a few hundred datagrams) does not drop the check that follows.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 512];
    let mut answered = 0;
    for burst in 0..100 {
        for i in 0..100 {
            sock.send_to(&packets[(burst * 100 + i) % packets.len()], s.addr).await.unwrap();
        }
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(50), sock.recv_from(&mut buf)).await
        {
            answered += 1;
        }
    }
    assert!(answered > 5_000, "only {answered} of 10 000 answered");
    expect_alive(&s).await;
    s.stop().await;
}

/// EDNS buffer sizes at the edges: 65535 gets the whole 200-address answer in one datagram;
/// a size below 512 counts as 512 (RFC 6891), as does no EDNS, and the reply is cut with TC;
/// over TCP the whole answer comes.
#[tokio::test(flavor = "multi_thread")]
async fn edns_buffer_sizes_at_the_edges() {
    let lines: String =
        (0..200).map(|i| format!("  10.7.{}.{} big.test\n", i / 250, i % 250 + 1)).collect();
    let s = TestServer::start(&format!("big.test:0 {{\n hosts {{\n{lines} }}\n}}")).await;
    let q = || query("big.test.", RecordType::A);

    let bytes =
        udp_raw(s.addr, &with_edns(q(), 65535, 0).to_vec().unwrap(), Duration::from_secs(2))
            .await
            .expect("reply");
    let whole = Message::from_vec(&bytes).unwrap();
    assert_eq!(whole.answers.len(), 200);
    assert!(!whole.metadata.truncation && bytes.len() > 512);
    assert_eq!(whole.edns.as_ref().map(|e| e.max_payload()), Some(65535));

    for (label, packet) in
        [("EDNS 100", with_edns(q(), 100, 0).to_vec().unwrap()), ("no EDNS", q().to_vec().unwrap())]
    {
        let bytes = udp_raw(s.addr, &packet, Duration::from_secs(2)).await.expect("reply");
        let cut = Message::from_vec(&bytes).unwrap();
        assert!(bytes.len() <= 512, "{label}: {} octets", bytes.len());
        assert!(cut.metadata.truncation && cut.answers.len() < 200, "{label}");
    }
    assert_eq!(s.tcp("big.test.", RecordType::A).await.answers.len(), 200);
    s.stop().await;
}
