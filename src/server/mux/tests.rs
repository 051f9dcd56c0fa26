//! The dispatcher in-process, with plugins made for the purpose: one that panics, one that
//! answers large, one that waits, one that declines. Packets go in and come out as bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use plugin_api::pkg::zone::Transport;
use plugin_api::{Chain, Ctx, Next, Plugin, Proto, Reply, Request, Serve};

use super::*;
use crate::config::{Block, Listener};

/// What a test plugin does.
#[derive(Clone, Copy)]
enum Act {
    Panic,
    PanicLater,
    Answer(usize),
    AnswerLater(usize),
    Decline(ResponseCode),
    Drop,
    PassOn,
    /// That many messages of one record each, as a zone transfer sends them.
    Stream(usize),
}

struct TestPlugin(Act);

fn answer(req: &Request, records: usize) -> Reply {
    let mut m = req.reply();
    m.metadata.authoritative = true;
    for i in 0..records {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i as u32);
        m.add_answer(Record::from_rdata(req.qname(), 30, RData::A(A(ip))));
    }
    Reply::message(m, "test")
}

impl Plugin for TestPlugin {
    fn name(&self) -> &'static str {
        "test"
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        match self.0 {
            Act::Panic => panic!("test plugin panics"),
            Act::PanicLater => Serve::pending(async { panic!("test plugin panics later") }),
            Act::Answer(n) => Serve::Ready(Ok(answer(req, n))),
            Act::AnswerLater(n) => {
                let req = req.clone();
                Serve::pending(async move {
                    tokio::task::yield_now().await;
                    Ok(answer(&req, n))
                })
            }
            Act::Decline(rcode) => Serve::Ready(Ok(Reply::Rcode(rcode))),
            Act::Drop => Serve::Ready(Ok(Reply::Drop)),
            Act::PassOn => next.run(ctx, req),
            Act::Stream(n) => {
                let msgs = (0..n)
                    .filter_map(|_| answer(req, 1).into_message().ok().map(|(m, _)| m))
                    .collect();
                Serve::Ready(Ok(Reply::Stream { msgs, by: "test" }))
            }
        }
    }
}

fn mux(zones: &[(&str, Vec<Act>)]) -> Mux {
    mux_with_debug(zones, false)
}

fn mux_with_debug(zones: &[(&str, Vec<Act>)], debug: bool) -> Mux {
    let zones = zones
        .iter()
        .map(|(zone, acts)| {
            let chain: Chain =
                acts.iter().map(|a| Arc::new(TestPlugin(*a)) as Arc<dyn Plugin>).collect();
            let block = Block {
                zones: vec![zone.to_string()],
                chain,
                directives: vec!["test"],
                metadata: None,
            };
            (zone.to_string(), Arc::new(block))
        })
        .collect();
    Mux::new(&Listener {
        transport: Transport::Dns,
        port: 53,
        host: None,
        zones,
        sockets: 1,
        tcp: Default::default(),
        debug,
        shed: false,
    })
}

const SRC: &str = "10.0.0.9:5353";
const LOCAL: &str = "10.0.0.1:53";

fn packet(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 77;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// Serves a packet, waiting if needed; `None` if nothing is sent.
async fn serve(mux: &Mux, packet: &[u8], proto: Proto) -> Option<Message> {
    let mut out = Vec::new();
    let src: SocketAddr = SRC.parse().unwrap();
    let bytes = match mux.serve_packet(
        packet,
        src,
        LOCAL.parse().unwrap(),
        proto,
        Instant::now(),
        &mut out,
    ) {
        Outcome::Send => out,
        Outcome::Drop | Outcome::SendFrames => return None,
        Outcome::Wait(fut) => fut.await?,
    };
    Some(Message::from_vec(&bytes).expect("reply decodes"))
}

#[test]
fn a_stream_is_framed_message_by_message_over_tcp_and_cut_to_its_first_over_udp() {
    let m = mux(&[(".", vec![Act::Stream(3)])]);
    let packet = packet("example.org.", RecordType::AXFR, None);
    let (src, local) = (SRC.parse().unwrap(), LOCAL.parse().unwrap());
    let mut out = Vec::new();
    let outcome = m.serve_packet(&packet, src, local, Proto::Tcp, Instant::now(), &mut out);
    assert!(matches!(outcome, Outcome::SendFrames));
    let mut frames = Vec::new();
    let mut rest = out.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        frames.push(Message::from_vec(&tail[..len]).expect("a frame decodes"));
        rest = &tail[len..];
    }
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f.answers.len() == 1 && f.metadata.authoritative));
    let outcome = m.serve_packet(&packet, src, local, Proto::Udp, Instant::now(), &mut out);
    assert!(matches!(outcome, Outcome::Send));
    assert_eq!(Message::from_vec(&out).unwrap().answers.len(), 1);
}

async fn rcode(mux: &Mux, name: &str, qtype: RecordType) -> ResponseCode {
    serve(mux, &packet(name, qtype, None), Proto::Udp).await.unwrap().metadata.response_code
}

#[tokio::test]
async fn a_panicking_plugin_is_answered_servfail_and_counted() {
    let m = mux(&[(".", vec![Act::Panic])]);
    let panics = &plugin_api::server::metrics::PANICS;
    let before = panics.get();
    assert_eq!(rcode(&m, "x.test.", RecordType::A).await, ResponseCode::ServFail);
    let m = mux(&[(".", vec![Act::PanicLater])]);
    assert_eq!(rcode(&m, "x.test.", RecordType::A).await, ResponseCode::ServFail);
    assert!(panics.get() >= before + 2);
}

/// The panics *debug* would have ended the process with (this test binary's action).
static FATAL: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[tokio::test]
async fn under_debug_a_panic_is_fatal_not_servfail() {
    set_fatal_panic(|message| FATAL.lock().unwrap().push(message.to_owned()));
    let m = mux_with_debug(&[(".", vec![Act::Panic])], true);
    assert_eq!(serve(&m, &packet("x.test.", RecordType::A, None), Proto::Udp).await, None);
    let m = mux_with_debug(&[(".", vec![Act::PanicLater])], true);
    assert_eq!(serve(&m, &packet("x.test.", RecordType::A, None), Proto::Tcp).await, None);
    let fatal = FATAL.lock().unwrap().clone();
    assert_eq!(fatal, ["test plugin panics", "test plugin panics later"]);
}

#[tokio::test]
async fn the_end_of_the_chain_is_servfail() {
    let m = mux(&[(".", vec![Act::PassOn])]);
    assert_eq!(rcode(&m, "x.test.", RecordType::A).await, ResponseCode::ServFail);
}

#[tokio::test]
async fn declines_and_drops() {
    let m = mux(&[
        ("a.test.", vec![Act::Decline(ResponseCode::Refused)]),
        ("b.test.", vec![Act::Drop]),
    ]);
    let reply =
        serve(&m, &packet("x.a.test.", RecordType::A, Some(1400)), Proto::Udp).await.unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert_eq!(reply.metadata.id, 77);
    assert_eq!(reply.edns.map(|e| e.max_payload()), Some(1400), "OPT echoed on error replies");
    assert!(serve(&m, &packet("x.b.test.", RecordType::A, None), Proto::Udp).await.is_none());
}

#[tokio::test]
async fn waiting_plugins_answer_later() {
    let m = mux(&[(".", vec![Act::PassOn, Act::AnswerLater(2)])]);
    let reply = serve(&m, &packet("x.test.", RecordType::A, None), Proto::Udp).await.unwrap();
    assert_eq!(reply.answers.len(), 2);
}

#[tokio::test]
async fn large_replies_are_truncated_to_the_clients_buffer() {
    let m = mux(&[(".", vec![Act::Answer(100)])]);
    // 100 A records are about 1.6 KB. Without EDNS: 512 octets, TC set, a prefix of the answers.
    let p = packet("many.test.", RecordType::A, None);
    let small = serve(&m, &p, Proto::Udp).await.unwrap();
    assert!(small.metadata.truncation);
    assert!(!small.answers.is_empty() && small.answers.len() < 100);
    assert!(small.to_vec().unwrap().len() <= 512);
    // With a 1232 buffer more fit, and the OPT record is still there.
    let p = packet("many.test.", RecordType::A, Some(1232));
    let mid = serve(&m, &p, Proto::Udp).await.unwrap();
    assert!(mid.metadata.truncation);
    assert!(mid.answers.len() > small.answers.len());
    assert!(mid.edns.is_some(), "room is kept for the OPT record");
    assert!(mid.to_vec().unwrap().len() <= 1232);
    // With a 4096 buffer, or over TCP, everything fits.
    for (proto, edns) in [(Proto::Udp, Some(4096)), (Proto::Tcp, None)] {
        let full = serve(&m, &packet("many.test.", RecordType::A, edns), proto).await.unwrap();
        assert!(!full.metadata.truncation);
        assert_eq!(full.answers.len(), 100);
    }
}

#[tokio::test]
async fn tcp_replies_over_64k_are_truncated_too() {
    let m = mux(&[(".", vec![Act::Answer(5000)])]);
    let reply = serve(&m, &packet("huge.test.", RecordType::A, None), Proto::Tcp).await.unwrap();
    assert!(reply.metadata.truncation);
    assert!(reply.to_vec().unwrap().len() <= 65535);
}

#[tokio::test]
async fn ds_goes_to_the_parent_zone() {
    let m = mux(&[
        ("example.org.", vec![Act::Decline(ResponseCode::NXDomain)]),
        ("org.", vec![Act::Answer(1)]),
    ]);
    assert_eq!(rcode(&m, "example.org.", RecordType::DS).await, ResponseCode::NoError);
    assert_eq!(rcode(&m, "example.org.", RecordType::A).await, ResponseCode::NXDomain);
    // Without a parent here, the zone itself answers its DS.
    let m = mux(&[("example.org.", vec![Act::Answer(1)])]);
    assert_eq!(rcode(&m, "example.org.", RecordType::DS).await, ResponseCode::NoError);
}

#[tokio::test]
async fn root_fallback_and_refused() {
    let m = mux(&[(".", vec![Act::Answer(1)]), ("example.org.", vec![])]);
    assert_eq!(rcode(&m, "a.example.com.", RecordType::A).await, ResponseCode::NoError);
    assert_eq!(rcode(&m, "a.example.org.", RecordType::A).await, ResponseCode::Refused);
    let m = mux(&[(".", vec![])]);
    assert_eq!(rcode(&m, "a.example.com.", RecordType::A).await, ResponseCode::Refused);
    assert_eq!(rcode(&m, ".", RecordType::NS).await, ResponseCode::Refused);
}

/// The tokio loop serves where the batched one does not (off Linux); it is checked here so
/// that it keeps working although Linux servers never run it.
#[tokio::test]
async fn the_tokio_udp_loop_answers_now_and_later() {
    use arc_swap::ArcSwap;
    use tokio::net::UdpSocket;

    let m = mux(&[("now.", vec![Act::Answer(1)]), ("later.", vec![Act::AnswerLater(2)])]);
    let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = server.local_addr().unwrap();
    let in_flight = crate::server::InFlight::default();
    let task = tokio::spawn(crate::server::udp::serve(
        server,
        Arc::new(ArcSwap::from_pointee(m)),
        in_flight.clone(),
    ));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (name, answers) in [("a.now.", 1), ("b.later.", 2)] {
        client.send_to(&packet(name, RecordType::A, None), addr).await.unwrap();
        let mut buf = vec![0u8; 512];
        let len = tokio::time::timeout(std::time::Duration::from_secs(5), client.recv(&mut buf))
            .await
            .expect("a reply")
            .unwrap();
        let reply = Message::from_vec(&buf[..len]).unwrap();
        assert_eq!(reply.metadata.id, 77);
        assert_eq!(reply.answers.len(), answers, "{name}");
    }
    task.abort();
}

/// The UDP loop dates a whole batch with one clock reading; the duration the metrics report
/// must count from that moment, not from when the mux got round to the query.
#[test]
fn a_querys_duration_counts_from_when_it_arrived() {
    // A port of its own, so that no other test's queries land in this `server` label.
    let block = Block {
        zones: vec![".".into()],
        chain: vec![Arc::new(TestPlugin(Act::Answer(1))) as Arc<dyn Plugin>].into(),
        directives: vec!["prometheus", "test"],
        metadata: None,
    };
    let zones = [(".".to_string(), Arc::new(block))].into_iter().collect();
    let m = Mux::new(&Listener {
        transport: Transport::Dns,
        port: 5391,
        host: None,
        zones,
        sockets: 1,
        tcp: Default::default(),
        debug: false,
        shed: false,
    });
    let arrived = Instant::now() - std::time::Duration::from_secs(3);
    let mut out = Vec::new();
    let outcome = m.serve_packet(
        &packet("x.test.", RecordType::A, None),
        SRC.parse().unwrap(),
        LOCAL.parse().unwrap(),
        Proto::Udp,
        arrived,
        &mut out,
    );
    assert!(matches!(outcome, Outcome::Send));

    let families = plugin_api::pkg::metrics::registry().gather();
    let duration = families
        .iter()
        .find(|f| f.name() == "coredns_dns_request_duration_seconds")
        .expect("the duration histogram is registered");
    let ours = duration
        .get_metric()
        .iter()
        .find(|m| m.get_label().iter().any(|l| l.value() == "dns://:5391"))
        .expect("the query was counted under its server")
        .get_histogram();
    assert_eq!(ours.get_sample_count(), 1);
    assert!(ours.get_sample_sum() >= 3.0, "took {} s", ours.get_sample_sum());
    assert!(ours.get_sample_sum() < 60.0, "took {} s", ours.get_sample_sum());
}
