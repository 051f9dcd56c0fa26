//! *any*, *minimal* and *nsid* over real sockets, where the server fits every reply to the
//! client after them: it sets the OPT record (the client's buffer, its DO bit, the options it
//! echoes), which must keep what these plugins put in or took out.

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{RData, RecordType};

use crate::harness::*;

/// `name`/`qtype` with an EDNS record of buffer 1232, asking for the NSID if `nsid`.
fn with_edns(name: &str, qtype: RecordType, nsid: bool) -> Message {
    let mut q = query(name, qtype);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if nsid {
        edns.options_mut().insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
    }
    q.set_edns(edns);
    q
}

fn nsid_of(reply: &Message) -> Option<Vec<u8>> {
    match reply.edns.as_ref()?.options().get(EdnsCode::NSID)? {
        EdnsOption::NSID(payload) => Some(payload.as_ref().to_vec()),
        _ => None,
    }
}

async fn both(s: &TestServer, q: &Message) -> [Message; 2] {
    let udp = udp_exchange(s.addr, q).await.expect("a UDP reply");
    let tcp = tcp_exchange(s.addr, q).await.expect("a TCP reply");
    [udp, tcp]
}

#[tokio::test(flavor = "multi_thread")]
async fn nsid_survives_the_servers_opt() {
    let s = TestServer::start(".:0 {\n nsid ferro-test-1\n whoami\n}").await;
    for reply in both(&s, &with_edns("a.example.", RecordType::A, true)).await {
        assert_eq!(nsid_of(&reply).as_deref(), Some(&b"ferro-test-1"[..]));
        assert_eq!(reply.edns.as_ref().unwrap().max_payload(), 1232, "the server's buffer");
        assert_eq!(reply.additionals.len(), 2, "whoami's records, no second OPT");
    }
    // Not asked: not given.
    for reply in both(&s, &with_edns("a.example.", RecordType::A, false)).await {
        assert!(reply.edns.is_some() && nsid_of(&reply).is_none());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn minimal_leaves_only_the_opt_in_additional() {
    let s = TestServer::start(".:0 {\n minimal\n whoami\n}").await;
    for reply in both(&s, &with_edns("a.example.", RecordType::A, false)).await {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.additionals.is_empty(), "whoami's records gone: {reply:?}");
        assert!(reply.edns.is_some(), "the OPT the server adds stays");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn any_answers_hinfo_with_the_clients_opt() {
    let s = TestServer::start(".:0 {\n any\n whoami\n}").await;
    for reply in both(&s, &with_edns("Any.Example.", RecordType::ANY, false)).await {
        assert_eq!(reply.answers.len(), 1);
        let record = &reply.answers[0];
        assert_eq!((record.name.to_ascii().as_str(), record.ttl), ("Any.Example.", 8482));
        assert!(matches!(&record.data, RData::HINFO(h)
            if &*h.cpu == b"ANY obsoleted" && &*h.os == b"See RFC 8482"));
        assert!(reply.edns.is_some());
        assert!(!reply.metadata.authoritative);
    }
    // Other types are the next plugin's.
    let a = s.udp("a.example.", RecordType::A).await;
    assert_eq!(a.additionals.len(), 2, "whoami answered");
    s.stop().await;
}
