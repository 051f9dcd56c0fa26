//! *transfer* over real sockets: AXFR of corefile-examples/file's zone to an allowed client,
//! IXFR answered in full or with the SOA alone, REFUSED over UDP and for addresses not listed,
//! and Knot (Debian's package, started here) as a secondary that pulls the zone from ferrodns
//! and serves it.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::binary::Scratch;
use crate::harness::*;

const ZONE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/file/db.example.org");

/// The records of the zone file, as the zone file reader gives them, as sorted text.
fn zone_records() -> Vec<String> {
    let text = std::fs::read_to_string(ZONE).unwrap();
    let origin = Name::from_ascii("example.org.").unwrap();
    let records = plugin_api::pkg::zonefile::reader::parse(&text, ZONE, &origin).unwrap();
    let mut v: Vec<String> = records.iter().map(ToString::to_string).collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn axfr_and_ixfr_to_allowed_clients_only() {
    let s = TestServer::start(&format!(
        "example.org:0 {{\n transfer {{\n  to 127.0.0.1\n }}\n file {ZONE}\n}}"
    ))
    .await;
    let axfr = s.tcp("example.org.", RecordType::AXFR).await;
    assert_eq!(axfr.metadata.response_code, ResponseCode::NoError);
    assert!(axfr.metadata.authoritative);
    let (first, last) = (&axfr.answers[0], &axfr.answers[axfr.answers.len() - 1]);
    assert_eq!((first.record_type(), last.record_type()), (RecordType::SOA, RecordType::SOA));
    let mut got: Vec<String> =
        axfr.answers[..axfr.answers.len() - 1].iter().map(ToString::to_string).collect();
    got.sort();
    assert_eq!(got, zone_records(), "every record once, the SOA first and last");

    // IXFR from an older serial: the whole zone; from the current one: the SOA alone.
    let RData::SOA(soa) = &first.data else { panic!() };
    let ixfr = |serial: u32| {
        let mut q = query("example.org.", RecordType::IXFR);
        let mut theirs: SOA = soa.clone();
        theirs.serial = serial;
        q.add_authority(Record::from_rdata(first.name.clone(), 0, RData::SOA(theirs)));
        q
    };
    let older = tcp_exchange(s.addr, &ixfr(soa.serial - 1)).await.unwrap();
    assert_eq!(older.answers.len(), axfr.answers.len());
    let current = tcp_exchange(s.addr, &ixfr(soa.serial)).await.unwrap();
    assert_eq!(current.answers.len(), 1);
    assert_eq!(current.answers[0].record_type(), RecordType::SOA);

    // Over UDP, REFUSED.
    let udp = s.udp("example.org.", RecordType::AXFR).await;
    assert_eq!(udp.metadata.response_code, ResponseCode::Refused);
    s.stop().await;

    // A server that allows only 192.0.2.1 refuses this client, and still answers queries.
    let other = TestServer::start(&format!(
        "example.org:0 {{\n transfer {{\n  to 192.0.2.1\n }}\n file {ZONE}\n}}"
    ))
    .await;
    let refused = other.tcp("example.org.", RecordType::AXFR).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(refused.answers.is_empty());
    assert_eq!(other.tcp("www.example.org.", RecordType::A).await.answers.len(), 1);
    other.stop().await;
}

struct Knot(Child);

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Knot, in `dir`, as a secondary of `zone` transferred from `primary`; and where it answers.
fn knot_secondary(dir: &Scratch, zone: &str, primary: SocketAddr) -> (Knot, SocketAddr) {
    let port = free_port();
    let d = dir.path().display();
    let conf = dir.write(
        "knot.conf",
        &format!(
            "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{d}\"\n  background-workers: 1\nlog:\n  - target: stderr\n    any: error\ndatabase:\n  storage: \"{d}\"\nremote:\n  - id: primary\n    address: {}@{}\nzone:\n  - domain: {zone}\n    master: primary\n    file: \"{d}/{zone}.zone\"\n    zonefile-load: none\n",
            primary.ip(),
            primary.port()
        ),
    );
    let knot = Knot(
        Command::new("knotd")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("knotd is installed (.ci/run installs Debian's knot)"),
    );
    (knot, format!("127.0.0.1:{port}").parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn knot_as_a_secondary_pulls_the_zone_and_serves_it() {
    let s = TestServer::start(&format!(
        "example.org:0 {{\n transfer {{\n  to *\n }}\n file {ZONE}\n}}"
    ))
    .await;
    let dir = Scratch::new("knot-secondary");
    let (knot, at) = knot_secondary(&dir, "example.org", s.addr);
    wait_until("Knot serves www.example.org from its transfer", || async {
        udp_exchange(at, &query("www.example.org.", RecordType::A))
            .await
            .is_some_and(|m| m.answers.iter().any(|r| r.data.to_string() == "192.0.2.80"))
    })
    .await;
    let soa = udp_exchange(at, &query("example.org.", RecordType::SOA)).await.unwrap();
    assert_eq!(soa.answers[0].to_string().split_whitespace().nth(6), Some("2024010101"));
    drop(knot);
    s.stop().await;
}

/// Every message of a transfer of `zone` from `addr`, read until the closing SOA.
async fn axfr_messages(addr: SocketAddr, zone: &str) -> Vec<hickory_proto::op::Message> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let bytes = query(zone, RecordType::AXFR).to_vec().unwrap();
    stream.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut msgs = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.unwrap();
        let m = hickory_proto::op::Message::from_vec(&buf).unwrap();
        soas += m.answers.iter().filter(|r| r.record_type() == RecordType::SOA).count();
        msgs.push(m);
    }
    msgs
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_larger_than_one_message_goes_out_in_several() {
    const HOSTS: usize = 20_000;
    let dir = Scratch::new("transfer-big");
    let mut text = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster 7 7200 1800 86400 300\n@ NS ns\nns A 127.0.0.1\n",
    );
    for i in 0..HOSTS {
        text.push_str(&format!("h{i} A 10.{}.{}.{}\n", (i >> 16) & 255, (i >> 8) & 255, i & 255));
    }
    let zone = dir.write("db.big.test", &text);
    let s = TestServer::start(&format!(
        "big.test:0 {{\n transfer {{\n  to *\n }}\n file {}\n}}",
        zone.display()
    ))
    .await;
    let msgs = axfr_messages(s.addr, "big.test.").await;
    assert!(msgs.len() > 1, "{} messages", msgs.len());
    assert!(msgs.iter().all(|m| m.metadata.id == 0xbeef && m.metadata.authoritative));
    let records: usize = msgs.iter().map(|m| m.answers.len()).sum();
    assert_eq!(records, HOSTS + 3 + 1, "every record, the SOA twice");
    // Knot transfers it all and answers its last name.
    let knot_dir = Scratch::new("knot-big");
    let (knot, at) = knot_secondary(&knot_dir, "big.test", s.addr);
    let last = format!("h{}.big.test.", HOSTS - 1);
    wait_until("Knot answers the zone's last name", || async {
        udp_exchange(at, &query(&last, RecordType::A)).await.is_some_and(|m| m.answers.len() == 1)
    })
    .await;
    drop(knot);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secondaries_are_notified_at_start_and_when_the_zone_changes() {
    use hickory_proto::op::OpCode;
    let (at, mut seen) = notify_listener().await;
    let dir = Scratch::new("transfer-notify");
    let zone = |serial: u32| {
        format!(
            "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n"
        )
    };
    let path = dir.write("db.example.org", &zone(1));
    // *transfer* covers the whole block (`.`), *file* one zone in it: the zone's NOTIFYs go to
    // the `to` of the transfer line whose zones hold it most closely, as CoreDNS's do.
    let s = TestServer::start(&format!(
        ".:0 {{\n transfer {{\n  to {at}\n }}\n file {} example.org {{\n  reload 100ms\n }}\n}}",
        path.display()
    ))
    .await;
    // Each NOTIFY is awaited under a generous bound, so a missing one fails rather than hangs.
    let bound = std::time::Duration::from_secs(30);
    let (first, _) =
        tokio::time::timeout(bound, seen.recv()).await.expect("a NOTIFY at start").unwrap();
    assert_eq!(first.metadata.op_code, OpCode::Notify);
    assert!(first.metadata.authoritative);
    assert_eq!(first.queries[0].name().to_ascii(), "example.org.");
    assert_eq!(first.queries[0].query_type(), RecordType::SOA);
    dir.write("db.example.org", &zone(2));
    let (after, _) =
        tokio::time::timeout(bound, seen.recv()).await.expect("a NOTIFY after the reload").unwrap();
    assert_eq!(after.metadata.op_code, OpCode::Notify);
    // Answered: each change is sent once, not retried.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(seen.try_recv().is_err(), "no NOTIFY sent again once answered");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_zone_transfers_as_kubernetes_serves_it() {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    let s = TestServer::start(&format!(
        "cluster.local:0 {{\n transfer {{\n  to *\n }}\n kubernetes cluster.local {{\n  manifests {manifests}\n }}\n}}"
    ))
    .await;
    let msgs = axfr_messages(s.addr, "cluster.local.").await;
    let records: Vec<&Record> = msgs.iter().flat_map(|m| &m.answers).collect();
    let (first, last) = (records[0], records[records.len() - 1]);
    assert_eq!((first.record_type(), last.record_type()), (RecordType::SOA, RecordType::SOA));
    assert_eq!(first.name.to_ascii(), "cluster.local.");
    let lines: Vec<String> = records.iter().map(ToString::to_string).collect();
    let has = |owner: &str, rtype: &str, data_part: &str| {
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f[0] == owner && f[3] == rtype && l.contains(data_part)
        })
    };
    // Each answer the zone gives a query is in the transfer too.
    let a = s.udp("nginx-service.default.svc.cluster.local.", RecordType::A).await;
    let ip = a.answers[0].data.to_string();
    assert!(has("nginx-service.default.svc.cluster.local.", "A", &ip), "{lines:#?}");
    assert!(has("my-database.default.svc.cluster.local.", "CNAME", "db.example.com."));
    assert!(has(
        "_name-of-service-port._tcp.nginx-service.default.svc.cluster.local.",
        "SRV",
        "nginx-service.default.svc.cluster.local."
    ));
    assert!(has("kube-dns.kube-system.svc.cluster.local.", "A", "10.96.0.10"));
    s.stop().await;
}

/// A secondary on a loopback port that answers every NOTIFY and hands it on with its sender.
async fn notify_listener()
-> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<(hickory_proto::op::Message, SocketAddr)>) {
    use hickory_proto::op::MessageType;
    let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let at = secondary.local_addr().unwrap();
    let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = secondary.recv_from(&mut buf).await {
            let Ok(m) = hickory_proto::op::Message::from_vec(&buf[..n]) else { continue };
            let mut reply = m.clone();
            reply.metadata.message_type = MessageType::Response;
            let _ = secondary.send_to(&reply.to_vec().unwrap(), from).await;
            let _ = seen_tx.send((m, from));
        }
    });
    (at, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_auto_loads_is_notified_from_the_source_address() {
    let (at, mut seen) = notify_listener().await;
    let dir = Scratch::new("transfer-auto-notify");
    let s = TestServer::start(&format!(
        "example.org:0 {{\n transfer {{\n  to {at}\n  source 127.0.0.2\n }}\n auto {{\n  directory {}\n  reload 100ms\n }}\n}}",
        dir.path().display()
    ))
    .await;
    // No zone yet: nothing to announce. A file appears; its zone is loaded and announced.
    dir.write(
        "db.example.org",
        "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster 3 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n",
    );
    let bound = std::time::Duration::from_secs(30);
    let (notify, from) =
        tokio::time::timeout(bound, seen.recv()).await.expect("a NOTIFY for the new zone").unwrap();
    assert_eq!(notify.metadata.op_code, hickory_proto::op::OpCode::Notify);
    assert_eq!(notify.queries[0].name().to_ascii(), "example.org.");
    assert_eq!(from.ip().to_string(), "127.0.0.2", "sent from the source address");
    s.stop().await;
}
