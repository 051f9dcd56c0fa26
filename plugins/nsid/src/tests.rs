//! Which replies get the identifier, in both reply forms, and what setup reads.

use plugin_api::Proto;
use plugin_api::proto::op::{Message, Query};
use plugin_api::proto::rr::{Name, RecordType};
use plugin_api::test_util::{self, Answers, Form, reply_message};
use plugin_whoami::Whoami;

use super::*;

fn nsid(data: &str) -> Arc<dyn Plugin> {
    let text = format!("nsid {data}");
    setup(&mut Controller::from_text(&text)).unwrap().unwrap()
}

/// A query for `a.test.` with EDNS, and the NSID option if `ask`.
fn query(ask: bool) -> Request {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii("a.test.").unwrap(), RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if ask {
        edns.options_mut().insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
    }
    msg.set_edns(edns);
    let len = msg.to_vec().unwrap().len();
    let (src, local) = (test_util::CLIENT.parse().unwrap(), "10.0.0.1:53".parse().unwrap());
    Request::new(msg, src, local, Proto::Udp, len)
}

fn identifier(msg: &Message) -> Option<Vec<u8>> {
    match msg.edns.as_ref()?.options().get(EdnsCode::NSID)? {
        EdnsOption::NSID(payload) => Some(payload.as_ref().to_vec()),
        _ => None,
    }
}

/// An empty reply without EDNS, sent as wire bytes.
fn without_edns(req: &Request) -> Message {
    let mut msg = req.reply();
    msg.edns = None;
    msg
}

#[test]
fn a_query_that_asks_gets_the_identifier() {
    let chain = vec![nsid("ferrodns-0 east"), Arc::new(Whoami) as Arc<dyn Plugin>];
    let msg = reply_message(test_util::serve(chain, query(true)));
    assert_eq!(identifier(&msg).as_deref(), Some(&b"ferrodns-0 east"[..]));
    assert_eq!(msg.additionals.len(), 2, "whoami's answer is otherwise whole");
}

#[test]
fn a_query_that_does_not_ask_gets_none() {
    let chain = vec![nsid("x"), Arc::new(Whoami) as Arc<dyn Plugin>];
    let msg = reply_message(test_util::serve(chain, query(false)));
    assert_eq!(identifier(&msg), None);
}

#[test]
fn a_wire_reply_without_edns_gets_edns_and_the_identifier() {
    let without_edns = Answers::new(without_edns, Form::Wire);
    let chain = vec![nsid("x"), Arc::new(without_edns) as Arc<dyn Plugin>];
    let msg = reply_message(test_util::serve(chain, query(true)));
    assert_eq!(identifier(&msg).as_deref(), Some(&b"x"[..]));
    assert_eq!(msg.edns.as_ref().map(Edns::max_payload), Some(1232), "the query's size");
}

#[test]
fn without_data_the_identifier_is_the_host_name() {
    let plugin = setup(&mut Controller::from_text("nsid")).unwrap().unwrap();
    let msg = reply_message(test_util::serve(vec![plugin, Arc::new(Whoami)], query(true)));
    let name = String::from_utf8(identifier(&msg).unwrap()).unwrap();
    // The kernel's node name, as `uname -n` reports it: read another way than the plugin does.
    let uname = std::process::Command::new("uname").arg("-n").output().unwrap();
    let expected = String::from_utf8(uname.stdout).unwrap();
    assert_eq!(name, expected.trim());
    assert!(!name.is_empty());
}
