//! *secondary* over real sockets, with NSD (Debian's package) as the primary: the zone is
//! transferred in past a primary that answers garbage, answered as NSD answers it, and kept
//! answering after the primary goes away.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::binary::Scratch;
use crate::file::{ZONE, nsd_serving, nsd_with};
use crate::harness::*;

/// A server with *secondary* for `zone` (without the final dot) from `primaries`, once the
/// zone is in: its `www` answers.
pub(crate) async fn transferred_from(zone: &str, primaries: &str) -> TestServer {
    let s = TestServer::start(&format!(
        "{zone}:0 {{\n secondary {{\n  transfer from {primaries}\n }}\n}}"
    ))
    .await;
    wait_until("the zone is transferred", || async {
        s.udp(&format!("www.{zone}."), RecordType::A).await.answers.len() == 1
    })
    .await;
    s
}

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
    let s = transferred_from("example.org", &format!("{garbage_addr} {nsd_addr}")).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn names_nsd_compresses_in_minfo_and_mb_data_read_the_same_when_served() {
    // NSD compresses the names in the data of RFC 1035's mail types (MINFO 14, MB 7), which
    // hickory keeps as octets: pointers into the transfer's messages, which lead elsewhere in a reply.
    let dir = Scratch::new("secondary-minfo");
    let zone = format!(
        "{ZONE}mail IN MINFO admin.example.org. errors.www.example.org.\nmail IN MB www.example.org.\n"
    );
    let (_nsd, nsd_addr) = nsd_serving(&dir, &zone, "  provide-xfr: 127.0.0.1 NOKEY\n").await;
    let s = transferred_from("example.org", &nsd_addr.to_string()).await;
    for (qtype, per_record, expected) in [
        (RecordType::Unknown(14), 2, vec!["admin.example.org.", "errors.www.example.org."]),
        (RecordType::Unknown(7), 1, vec!["www.example.org."]),
    ] {
        let query = query("mail.example.org.", qtype).to_vec().unwrap();
        let mut served = Vec::new();
        for server in [nsd_addr, s.addr] {
            let reply = udp_raw(server, &query, WAIT).await.expect("a reply");
            served.push(names_in_answers(&reply, qtype, per_record));
        }
        assert_eq!(served[0], [expected], "NSD's {qtype}");
        assert_eq!(served[1], served[0], "ours, {qtype}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notify_from_the_primary_brings_the_new_serial_at_once() {
    // ferrodns as both: a primary serving a zone file with transfer and NOTIFY, and a secondary
    // of it. The SOA's refresh is two hours, so only the NOTIFY explains a quick update.
    let dir = Scratch::new("secondary-notify");
    let zone = |serial: u32, ip: &str| {
        format!(
            "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A {ip}\n"
        )
    };
    let path = dir.write("db.example.org", &zone(1, "192.0.2.1"));
    let primary_port = free_port();
    let secondary = TestServer::start(&format!(
        "example.org:0 {{\n secondary {{\n  transfer from 127.0.0.1:{primary_port}\n }}\n}}"
    ))
    .await;
    let primary = TestServer::start(&format!(
        "example.org:{primary_port} {{\n transfer {{\n  to 127.0.0.1:{}\n }}\n file {} {{\n  reload 100ms\n }}\n}}",
        secondary.addr.port(),
        path.display()
    ))
    .await;
    wait_until("the first transfer", || async {
        www(secondary.addr, "example.org.").await.as_deref() == Some("192.0.2.1")
    })
    .await;
    dir.write("db.example.org", &zone(2, "192.0.2.2"));
    wait_until("the NOTIFYed refresh", || async {
        www(secondary.addr, "example.org.").await.as_deref() == Some("192.0.2.2")
    })
    .await;
    // A NOTIFY from anyone else is dropped unanswered.
    let mut notify = query("example.org.", RecordType::SOA);
    notify.metadata.op_code = hickory_proto::op::OpCode::Notify;
    let stranger = tokio::net::UdpSocket::bind("127.0.0.2:0").await;
    if let Ok(sock) = stranger {
        sock.send_to(&notify.to_vec().unwrap(), secondary.addr).await.unwrap();
        let mut buf = [0u8; 512];
        let got =
            tokio::time::timeout(std::time::Duration::from_millis(500), sock.recv_from(&mut buf))
                .await;
        assert!(got.is_err(), "no answer to a stranger's NOTIFY");
    }
    primary.stop().await;
    secondary.stop().await;
}

/// A catalog zone (RFC 9432) listing `members` as (ID, zone).
fn catalog_zone(serial: u32, members: &[(&str, &str)]) -> String {
    let mut z = format!(
        "$ORIGIN catalog.invalid.\n@ 0 IN SOA invalid. hostmaster.invalid. {serial} 3600 600 604800 0\n@ 0 IN NS invalid.\nversion 0 IN TXT \"2\"\n"
    );
    for (id, zone) in members {
        z.push_str(&format!("{id}.zones 0 IN PTR {zone}\n"));
    }
    z
}

/// A small member zone whose `www` is `ip`.
fn member_zone(origin: &str, ip: &str) -> String {
    format!(
        "$ORIGIN {origin}\n@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A {ip}\n"
    )
}

async fn www(addr: std::net::SocketAddr, zone: &str) -> Option<String> {
    let m = udp_exchange(addr, &query(&format!("www.{zone}"), RecordType::A)).await?;
    m.answers.first().map(|r| r.data.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_from_nsd_brings_its_allowed_members() {
    let dir = Scratch::new("secondary-catalog-nsd");
    dir.write(
        "catalog.invalid",
        &catalog_zone(1, &[("org", "example.org."), ("net", "example.net."), ("out", "out.test.")]),
    );
    dir.write("db.example.net", &member_zone("example.net.", "198.51.100.1"));
    dir.write("db.out.test", &member_zone("out.test.", "198.51.100.2"));
    let xfr = "  provide-xfr: 127.0.0.1 NOKEY\n";
    let more = ["catalog.invalid", "example.net", "out.test"]
        .iter()
        .map(|z| {
            let file = if z.contains("catalog") { z.to_string() } else { format!("db.{z}") };
            format!("zone:\n  name: {z}\n  zonefile: {file}\n{xfr}")
        })
        .collect::<String>();
    let (_nsd, nsd_addr) = nsd_with(&dir, &format!("{xfr}{more}")).await;
    // out.test is listed, but not among the member zones this catalog may add.
    let s = TestServer::start(&format!(
        ".:0 {{\n secondary catalog.invalid {{\n  transfer from {nsd_addr}\n  catalog example.org example.net\n }}\n}}"
    ))
    .await;
    wait_until("both allowed members are transferred", || async {
        www(s.addr, "example.org.").await.as_deref() == Some("192.0.2.80")
            && www(s.addr, "example.net.").await.as_deref() == Some("198.51.100.1")
    })
    .await;
    // The catalog zone itself is served too.
    let version = s.udp("version.catalog.invalid.", RecordType::TXT).await;
    assert_eq!(version.answers.len(), 1);
    assert!(version.metadata.authoritative);
    let out = s.udp("www.out.test.", RecordType::A).await;
    assert!(out.answers.is_empty(), "out.test is outside `catalog`'s member zones: {out:?}");
    assert!(!out.metadata.authoritative);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_follow_the_catalog_notified_by_its_primary() {
    // ferrodns as both: *auto* with *transfer* serving a directory (the catalog and its member
    // zones), NOTIFYing a secondary that reads the catalog.
    let dir = Scratch::new("secondary-catalog-auto");
    dir.write("db.catalog.invalid", &catalog_zone(1, &[("a", "example.com.")]));
    dir.write("db.example.com", &member_zone("example.com.", "203.0.113.1"));
    dir.write("db.example.net", &member_zone("example.net.", "203.0.113.2"));
    let primary_port = free_port();
    let secondary = TestServer::start(&format!(
        ".:0 {{\n secondary catalog.invalid {{\n  transfer from 127.0.0.1:{primary_port}\n  catalog\n }}\n}}"
    ))
    .await;
    let primary = TestServer::start(&format!(
        ".:{primary_port} {{\n transfer {{\n  to 127.0.0.1:{}\n }}\n auto {{\n  directory {}\n  reload 100ms\n }}\n}}",
        secondary.addr.port(),
        dir.path().display()
    ))
    .await;
    wait_until("the first member", || async {
        www(secondary.addr, "example.com.").await.as_deref() == Some("203.0.113.1")
    })
    .await;
    assert_eq!(www(secondary.addr, "example.net.").await, None, "not a member yet");
    // The catalog's SOA refresh is an hour: only the NOTIFY explains a quick change.
    dir.write("db.catalog.invalid", &catalog_zone(2, &[("b", "example.net.")]));
    wait_until("the catalog's change", || async {
        www(secondary.addr, "example.net.").await.as_deref() == Some("203.0.113.2")
            && www(secondary.addr, "example.com.").await.is_none()
    })
    .await;
    // A member zone's own change is NOTIFYed and transferred as any secondary zone's.
    dir.write(
        "db.example.net",
        &member_zone("example.net.", "203.0.113.3").replace(" 1 7200", " 2 7200"),
    );
    wait_until("the member's new serial", || async {
        www(secondary.addr, "example.net.").await.as_deref() == Some("203.0.113.3")
    })
    .await;
    primary.stop().await;
    secondary.stop().await;
}
