//! *acl* over real sockets: clients bound to different loopback addresses (127.0.0.0/8 is all
//! local on Linux) get allowed, blocked, filtered or dropped, the EDE reaches the wire, and the
//! counters are exported.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use crate::harness::*;

/// Asks from `client` (a loopback address) and returns the reply, if any comes within `wait`.
async fn ask_from(
    client: &str,
    server: SocketAddr,
    msg: &Message,
    wait: Duration,
) -> Option<Message> {
    let sock = UdpSocket::bind((client, 0)).await.expect("bind a loopback client address");
    sock.send_to(&msg.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = timeout(wait, sock.recv_from(&mut buf)).await.ok()?.ok()?;
    Some(Message::from_vec(&buf[..n]).expect("reply decodes"))
}

fn ede(msg: &Message) -> Option<u16> {
    let option = msg.edns.as_ref()?.options().get(EdnsCode::from(15))?;
    match option {
        EdnsOption::Unknown(15, data) if data.len() >= 2 => {
            Some(u16::from_be_bytes([data[0], data[1]]))
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_are_allowed_blocked_filtered_or_dropped() {
    let s = TestServer::start(
        "acl.test:0 {\n prometheus localhost:0\n acl {\n  block net 127.0.0.2\n  filter type A net 127.0.0.3\n  drop net 127.0.0.4\n }\n cache\n whoami\n}",
    )
    .await;
    let wait = Duration::from_secs(2);
    let q = query("x.acl.test.", RecordType::A);

    // Allowed first, so the answer is in the cache: acl runs before cache and still refuses.
    let allowed = ask_from("127.0.0.1", s.addr, &q, wait).await.expect("allowed reply");
    assert_eq!(allowed.metadata.response_code, ResponseCode::NoError);
    assert_eq!(allowed.additionals.len(), 2, "whoami's answer");

    let blocked = ask_from("127.0.0.2", s.addr, &q, wait).await.expect("blocked reply");
    assert_eq!(blocked.metadata.response_code, ResponseCode::Refused);
    assert_eq!(ede(&blocked), Some(15), "EDE Blocked");
    assert!(blocked.additionals.is_empty() && blocked.answers.is_empty());
    assert_eq!(blocked.metadata.id, q.metadata.id);

    // With EDNS in the query, the OPT takes the client's size and DO bit; the EDE stays.
    let blocked =
        ask_from("127.0.0.2", s.addr, &with_edns(q.clone(), 1232, 0), wait).await.unwrap();
    let opt = blocked.edns.as_ref().expect("OPT");
    assert_eq!((opt.max_payload(), opt.flags().dnssec_ok), (1232, false));
    assert_eq!(ede(&blocked), Some(15));

    let filtered = ask_from("127.0.0.3", s.addr, &q, wait).await.expect("filtered reply");
    assert_eq!(filtered.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ede(&filtered), Some(17), "EDE Filtered");
    assert!(filtered.additionals.is_empty() && filtered.answers.is_empty());
    // The filter covers type A only.
    let mx = ask_from("127.0.0.3", s.addr, &query("x.acl.test.", RecordType::MX), wait).await;
    assert_eq!(mx.expect("MX passes").additionals.len(), 2);

    let dropped = ask_from("127.0.0.4", s.addr, &q, Duration::from_millis(500)).await;
    assert!(dropped.is_none(), "dropped queries get no reply");
    // Everyone else is still answered.
    assert!(ask_from("127.0.0.1", s.addr, &q, wait).await.is_some());

    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let (status, body) = http_get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    // The label is the listener as configured (port 0 here), as CoreDNS writes it.
    let server = "dns://:0";
    let zone = [("server", server), ("zone", "acl.test."), ("view", "")];
    assert_eq!(metric(&samples, "coredns_acl_blocked_requests_total", &zone), Some(2.0));
    assert_eq!(metric(&samples, "coredns_acl_filtered_requests_total", &zone), Some(1.0));
    assert_eq!(metric(&samples, "coredns_acl_dropped_requests_total", &zone), Some(1.0));
    let allowed = [("server", server), ("view", "")];
    assert_eq!(metric(&samples, "coredns_acl_allowed_requests_total", &allowed), Some(3.0));
    let refused_by_acl = [("zone", "acl.test."), ("rcode", "REFUSED"), ("plugin", "acl")];
    assert_eq!(metric(&samples, "coredns_dns_responses_total", &refused_by_acl), Some(2.0));
    s.stop().await;
}

/// One client floods past its rate; another asking at a normal pace is answered every time,
/// and an exempt client is never limited. The flooder gets its burst and is held back; how
/// many answers it gets on top depends on how long the flood took, so the exact limit (burst
/// plus rate times time) is checked where time is the test's: ratelimit's unit tests, on a
/// clock they move.
#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_is_held_to_its_rate_and_others_are_answered() {
    let s = TestServer::start(
        "rl.test:0 {\n prometheus localhost:0\n ratelimit 100 {\n  burst 50\n  exempt 127.0.0.3\n }\n whoami\n}",
    )
    .await;
    let q = query("x.rl.test.", RecordType::A);
    let packet = q.to_vec().unwrap();
    let server = s.addr;

    let flood = tokio::spawn(async move {
        let sock = UdpSocket::bind(("127.0.0.2", 0)).await.unwrap();
        let mut answered = 0u32;
        let mut buf = vec![0u8; 512];
        for _ in 0..40 {
            // 100 queries a round, then read what came back.
            for _ in 0..100 {
                sock.send_to(&packet, server).await.unwrap();
            }
            while let Ok(Ok(_)) = timeout(Duration::from_millis(20), sock.recv_from(&mut buf)).await
            {
                answered += 1;
            }
        }
        answered
    });

    let mut normal = 0;
    for _ in 0..50 {
        let reply = ask_from("127.0.0.1", server, &q, Duration::from_secs(2)).await;
        normal +=
            usize::from(reply.is_some_and(|r| r.metadata.response_code == ResponseCode::NoError));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flooded = flood.await.unwrap();
    assert_eq!(normal, 50, "the client at a normal pace is always answered");
    assert!(flooded >= 50, "the flooder still gets its burst ({flooded})");
    assert!(flooded < 4000, "the flooder is held back ({flooded} of 4000 answered)");

    for i in 0..300 {
        let reply = ask_from("127.0.0.3", server, &q, Duration::from_secs(2)).await;
        assert!(reply.is_some(), "exempt query {i} unanswered");
    }

    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
    let labels = [("server", "dns://:0"), ("zone", "rl.test."), ("view", "")];
    let dropped = metric(&samples, "coredns_ratelimit_dropped_requests_total", &labels).unwrap();
    // Every query the server got was answered or counted; some may be lost on the way in, and
    // how many the limiter refused depends on how fast the flood went, so only that it refused
    // some is checked, never how many.
    assert!(dropped + f64::from(flooded) <= 4000.0, "dropped {dropped}");
    assert!(dropped >= 1.0, "the flood was limited: dropped {dropped}");
    s.stop().await;
}
