//! *secondary* over real sockets, with NSD (Debian's package) as the primary: the zone is
//! transferred in past a primary that answers garbage, answered as NSD answers it, and kept
//! answering after the primary goes away.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::binary::Scratch;
use crate::file::nsd_with;
use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_from_nsd_past_a_garbage_primary_outlives_its_primary() {
    let dir = Scratch::new("secondary");
    let (nsd, nsd_addr) = nsd_with(&dir, "  provide-xfr: 127.0.0.1 NOKEY\n").await;
    // The first primary listed answers every transfer with bytes that are not DNS.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let garbage_addr = garbage.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = garbage.accept().await {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"\x00\x04junk").await;
        }
    });
    let s = TestServer::start(&format!(
        "example.org:0 {{\n secondary {{\n  transfer from {garbage_addr} {nsd_addr}\n }}\n}}"
    ))
    .await;
    wait_until("the zone is transferred", || async {
        s.udp("www.example.org.", RecordType::A).await.answers.len() == 1
    })
    .await;
    for (name, qtype) in [
        ("www.example.org.", RecordType::A),
        ("example.org.", RecordType::MX),
        ("nothing.example.org.", RecordType::A),
        ("x.dn.example.org.", RecordType::A),
        ("www.sub.example.org.", RecordType::A),
    ] {
        let ours = s.udp(name, qtype).await;
        let theirs = udp_exchange(nsd_addr, &query(name, qtype)).await.unwrap();
        assert_eq!(ours.metadata.response_code, theirs.metadata.response_code, "{name} {qtype}");
        assert_eq!(ours.answers.len(), theirs.answers.len(), "{name} {qtype}");
    }
    drop(nsd);
    // The primary is gone: the transferred copy goes on answering until it expires.
    let after = s.udp("www.example.org.", RecordType::A).await;
    assert_eq!(after.metadata.response_code, ResponseCode::NoError);
    assert!(after.metadata.authoritative);
    assert_eq!(after.answers[0].data.to_string(), "192.0.2.80");
    s.stop().await;
}
