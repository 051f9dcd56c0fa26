//! *auto* over real sockets: a zone file dropped into the directory is served at the next
//! scan, a higher serial is read again, and a removed file's zone goes away (its names then go
//! on to the next plugin, *whoami* here).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::Scratch;
use crate::harness::*;

fn zone_text(origin: &str, serial: u32, ip: &str) -> String {
    format!(
        "$ORIGIN {origin}\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A {ip}\n"
    )
}

async fn www(s: &TestServer, zone: &str) -> (ResponseCode, bool, Vec<String>) {
    let m = s.udp(&format!("www.{zone}"), RecordType::A).await;
    let answers = m.answers.iter().map(|r| r.data.to_string()).collect();
    (m.metadata.response_code, m.metadata.authoritative, answers)
}

#[tokio::test(flavor = "multi_thread")]
async fn zones_follow_the_files_of_the_directory() {
    let dir = Scratch::new("auto");
    dir.write("db.one.example.org", &zone_text("one.example.org.", 1, "192.0.2.1"));
    let s = TestServer::start(&format!(
        "example.org:0 {{\n auto {{\n  directory {} db\\.(.*) {{1}}\n  reload 100ms\n }}\n whoami\n}}",
        dir.path().display()
    ))
    .await;
    assert_eq!(
        www(&s, "one.example.org.").await,
        (ResponseCode::NoError, true, vec!["192.0.2.1".into()])
    );
    let nx = s.udp("nope.one.example.org.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

    dir.write("db.two.example.org", &zone_text("two.example.org.", 1, "192.0.2.2"));
    wait_until("the new zone is served", || async {
        www(&s, "two.example.org.").await.2 == ["192.0.2.2"]
    })
    .await;
    dir.write("db.one.example.org", &zone_text("one.example.org.", 2, "192.0.2.11"));
    wait_until("the higher serial is served", || async {
        www(&s, "one.example.org.").await.2 == ["192.0.2.11"]
    })
    .await;
    std::fs::remove_file(dir.join("db.two.example.org")).unwrap();
    // Gone: the name is no zone's, so whoami (next in the chain) answers it, with the client's
    // address and port as additional records and no answer.
    wait_until("the removed zone is gone", || async {
        let m = s.udp("www.two.example.org.", RecordType::A).await;
        m.answers.is_empty() && m.additionals.iter().any(|r| r.record_type() == RecordType::SRV)
    })
    .await;
    s.stop().await;
}
