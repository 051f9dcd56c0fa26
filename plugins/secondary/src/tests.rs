//! CoreDNS's `secondary` setup tests, ported, and transfers from primaries that misbehave:
//! garbage, a stop halfway, silence. Against NSD over sockets: tests/it/secondary.rs.

use plugin_api::Controller;
use plugin_api::proto::rr::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Secondary, parse, xfr};

fn parsed(text: &str) -> Result<Vec<Secondary>, String> {
    parse(&mut Controller::from_text(text)).map(|(s, _)| s).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let s = parsed("secondary example.org {\n transfer from 10.0.0.1 10.0.0.2:5353\n}").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].origin, "example.org.");
    assert_eq!(s[0].from, ["10.0.0.1:53".parse().unwrap(), "10.0.0.2:5353".parse().unwrap()]);
    let (_, fall) = parse(&mut Controller::from_text(
        "secondary example.org {\n transfer from 10.0.0.1\n fallthrough\n}",
    ))
    .unwrap();
    assert!(fall.through("x.example.org."));
    let failing = [
        ("secondary example.org", "secondary zones require a transfer from property"),
        ("secondary example.org {\n transfer\n}", "Wrong argument count"),
        ("secondary example.org {\n transfer from\n}", "Wrong argument count"),
        ("secondary example.org {\n transfer to 10.0.0.1\n}", "unknown property to"),
        ("secondary example.org {\n transfer from *\n}", "can't use '*' in transfer from"),
        (
            "secondary example.org {\n transfer from example.com\n}",
            "must specify an IP address: `example.com'",
        ),
        ("secondary example.org {\n bogus\n}", "unknown property 'bogus'"),
        (
            "secondary example.org {\n transfer from 10.0.0.1\n upstream\n}",
            "unknown property 'upstream'",
        ),
        (
            "secondary example.org {\n transfer from 10.0.0.1\n catalog\n}",
            "catalog zones (RFC 9432) are not supported",
        ),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
    }
}

/// A primary that reads the query and then does `reply` with the connection.
async fn primary(reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply).await;
            // Held open: a primary that stops writing but does not close.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_garbage_or_half_transfer_is_an_error_not_a_zone() {
    let origin = Name::from_ascii("example.org.").unwrap();
    let garbage = primary(b"\x00\x05hello").await;
    let e = xfr::axfr(garbage, &origin).await.unwrap_err();
    assert!(e.contains("does not decode") || e.contains("another id"), "{e}");
    let silent = primary(b"").await;
    let step = std::time::Duration::from_millis(200);
    let e = xfr::axfr_within(silent, &origin, step).await.unwrap_err();
    assert!(e.contains("timed out"), "{e}");
}

#[tokio::test]
async fn a_primary_that_stops_halfway_times_out() {
    use plugin_api::proto::op::{Message, MessageType};
    use plugin_api::proto::rr::{RData, Record, rdata::SOA};
    // Answers the query's id with the zone's opening SOA, then sends nothing more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut q).await.unwrap();
        let query = Message::from_vec(&q).unwrap();
        let mut m = Message::query();
        m.metadata.id = query.metadata.id;
        m.metadata.message_type = MessageType::Response;
        let origin = Name::from_ascii("example.org.").unwrap();
        let soa = SOA::new(origin.clone(), origin.clone(), 1, 2, 3, 4, 5);
        m.answers.push(Record::from_rdata(origin, 60, RData::SOA(soa)));
        let bytes = m.to_vec().unwrap();
        s.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    });
    let origin = Name::from_ascii("example.org.").unwrap();
    let step = std::time::Duration::from_millis(300);
    let e = xfr::axfr_within(addr, &origin, step).await.unwrap_err();
    assert!(e.contains("transfer timed out"), "{e}");
}
