//! The server's own answers (CoreDNS `Server.ServeDNS`): zone selection, REFUSED, BADVERS,
//! classes, and whoami over both transports.

use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn whoami_over_udp_and_tcp() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    for (reply, proto) in [
        (s.udp("example.org.", RecordType::A).await, "_udp"),
        (s.tcp("example.org.", RecordType::A).await, "_tcp"),
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert!(reply.metadata.authoritative);
        assert_eq!(reply.metadata.id, 0xbeef);
        assert!(reply.answers.is_empty());
        let a = reply.additionals.iter().find(|r| r.record_type() == RecordType::A).unwrap();
        assert_eq!(a.data, RData::A("127.0.0.1".parse::<std::net::Ipv4Addr>().unwrap().into()));
        let srv = reply.additionals.iter().find(|r| r.record_type() == RecordType::SRV).unwrap();
        assert_eq!(srv.name.to_string(), format!("{proto}.example.org."));
    }
    // The owner keeps the letter case of the question.
    let reply = s.udp("WhoAmI.Example.", RecordType::A).await;
    assert_eq!(reply.additionals[0].name.to_string(), "WhoAmI.Example.");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn longest_zone_wins_and_empty_blocks_refuse() {
    // One listener, three blocks: a catch-all, a zone, and a sub-zone without plugins.
    let s = TestServer::start(
        ".:0 {\n whoami\n}\nexample.org:0 {\n whoami\n}\nlocked.example.org:0 {\n}\n",
    )
    .await;
    let rcode = |m: &hickory_proto::op::Message| m.metadata.response_code;
    assert_eq!(rcode(&s.udp("www.example.com.", RecordType::A).await), ResponseCode::NoError);
    assert_eq!(rcode(&s.udp("www.example.org.", RecordType::A).await), ResponseCode::NoError);
    // The sub-zone is the longest match; it has no plugins, so REFUSED, even though its
    // parent zones have some.
    assert_eq!(rcode(&s.udp("a.locked.example.org.", RecordType::A).await), ResponseCode::Refused);
    assert_eq!(rcode(&s.udp("LOCKED.Example.ORG.", RecordType::A).await), ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn zones_match_whole_labels_of_names_of_any_length() {
    let s = TestServer::start("example.org:0 {\n whoami\n}").await;
    let rcode = |m: &hickory_proto::op::Message| m.metadata.response_code;
    for name in ["example.org.", "a.example.org.", "a.b.c.d.e.f.g.h.i.j.k.l.example.org."] {
        assert_eq!(rcode(&s.udp(name, RecordType::A).await), ResponseCode::NoError, "{name}");
    }
    // The zone's text ends these names, but not at a label's start.
    for name in ["xexample.org.", "a.xexample.org.", "org.", "rg."] {
        assert_eq!(rcode(&s.udp(name, RecordType::A).await), ResponseCode::Refused, "{name}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ds_query_goes_to_the_parent_zone() {
    // As in CoreDNS, the root's block is not a parent here: it is only the last resort.
    let s = TestServer::start(
        ".:0 {\n hosts {\n  10.0.0.2 x.org\n }\n}\norg:0 {\n whoami\n}\n\
         example.org:0 {\n hosts {\n  10.0.0.1 example.org\n }\n}\n",
    )
    .await;
    // whoami (org's block) answers with the client's address; hosts has no DS to give.
    let ds = s.udp("example.org.", RecordType::DS).await;
    assert!(!ds.additionals.is_empty(), "answered by the parent's whoami: {ds:?}");
    let a = s.udp("example.org.", RecordType::A).await;
    assert_eq!(a.answers.len(), 1, "answered by the zone's hosts: {a:?}");
    assert!(a.additionals.is_empty());
    let ds = s.udp("org.", RecordType::DS).await;
    assert!(!ds.additionals.is_empty(), "no parent but the root: the zone's own block");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_matching_zone_is_refused() {
    let s = TestServer::start("example.org:0 {\n whoami\n}").await;
    let reply = s.udp("example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert_eq!(reply.queries.len(), 1, "the question is echoed");
    assert_eq!(
        s.udp("a.example.org.", RecordType::A).await.metadata.response_code,
        ResponseCode::NoError
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn several_keys_share_one_chain() {
    let s = TestServer::start("a.test:0 b.test:0 {\n whoami\n}").await;
    for name in ["x.a.test.", "x.b.test."] {
        assert_eq!(s.udp(name, RecordType::A).await.metadata.response_code, ResponseCode::NoError);
    }
    assert_eq!(
        s.udp("x.c.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::Refused
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cidr_keys_serve_reverse_zones() {
    let s = TestServer::start("10.0.0.0/24:0 {\n whoami\n}").await;
    let reply = s.udp("1.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    let reply = s.udp("1.1.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_classes_are_refused() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let reply = udp_exchange(s.addr, &query_class("version.bind.", RecordType::TXT, DNSClass::CH))
        .await
        .unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edns_version_above_zero_is_badvers() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let reply = udp_exchange(s.addr, &with_edns(query("example.org.", RecordType::A), 1232, 1))
        .await
        .unwrap();
    assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");
    let edns = reply.edns.expect("BADVERS carries an OPT");
    assert_eq!(edns.version(), 0);
    assert!(reply.additionals.is_empty(), "no plugin ran");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edns_is_echoed_with_the_clients_size() {
    let s = TestServer::start(".:0 {\n whoami\n}").await;
    let reply = udp_exchange(s.addr, &with_edns(query("example.org.", RecordType::A), 4000, 0))
        .await
        .unwrap();
    assert_eq!(reply.edns.expect("OPT echoed").max_payload(), 4000);
    let plain = s.udp("example.org.", RecordType::A).await;
    assert!(plain.edns.is_none(), "no OPT without one in the query");
    s.stop().await;
}
