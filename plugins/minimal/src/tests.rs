//! What *minimal* drops and keeps, for replies written as messages and as wire bytes.

use plugin_api::proto::op::{Edns, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Answers, Form, reply_message, rr};
use plugin_whoami::Whoami;

use super::*;

fn through_minimal(build: fn(&Request) -> Message, form: Form) -> Message {
    let chain: Vec<Arc<dyn Plugin>> = vec![Arc::new(Minimal), Arc::new(Answers::new(build, form))];
    reply_message(test_util::serve(chain, test_util::request("svc.example.", RecordType::A)))
}

fn answer_with_extras(req: &Request) -> Message {
    let mut m = req.reply();
    m.answers = vec![rr("svc.example. 30 IN A 10.0.0.1")];
    m.authorities = vec![rr("example. 30 IN NS ns.example.")];
    m.additionals = vec![rr("ns.example. 30 IN A 10.0.0.53")];
    m.edns = Some(Edns::new());
    m
}

fn answer_only(req: &Request) -> Message {
    let mut m = req.reply();
    m.answers = vec![rr("svc.example. 30 IN A 10.0.0.1")];
    m.edns = Some(Edns::new());
    m
}

fn delegation(req: &Request) -> Message {
    let mut m = req.reply();
    m.authorities = vec![rr("example. 30 IN NS ns.example.")];
    m.additionals = vec![rr("ns.example. 30 IN A 10.0.0.53")];
    m
}

fn nxdomain(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = ResponseCode::NXDomain;
    m.authorities =
        vec![rr("example. 30 IN SOA ns.example. hostmaster.example. 1 7200 1800 86400 30")];
    m
}

#[test]
fn a_successful_answer_loses_its_authority_and_additional_records() {
    for form in Form::BOTH {
        let m = through_minimal(answer_with_extras, form);
        assert_eq!(m.answers, [rr("svc.example. 30 IN A 10.0.0.1")], "{form:?}");
        assert!(m.authorities.is_empty() && m.additionals.is_empty(), "{form:?}: {m:?}");
        // A wire reply never carries the OPT: the server appends the client's after minimal.
        if form == Form::Message {
            assert!(m.edns.is_some(), "EDNS stays");
        }
    }
}

#[test]
fn denials_and_delegations_pass_whole() {
    for form in Form::BOTH {
        assert_eq!(through_minimal(delegation, form).additionals.len(), 1, "{form:?}");
        let m = through_minimal(nxdomain, form);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities.len(), 1, "the SOA of a denial stays ({form:?})");
    }
}

#[test]
fn a_wire_reply_with_nothing_to_drop_is_not_decoded() {
    let chain: Vec<Arc<dyn Plugin>> =
        vec![Arc::new(Minimal), Arc::new(Answers::new(answer_only, Form::Wire))];
    let result = test_util::serve(chain, test_util::request("svc.example.", RecordType::A));
    assert!(matches!(result, Ok(Reply::Wire { .. })), "still in wire form");
}

/// An empty NOERROR is a success too, so whoami's additional records go, as in CoreDNS.
#[test]
fn whoami_behind_minimal_answers_bare() {
    let chain: Vec<Arc<dyn Plugin>> = vec![Arc::new(Minimal), Arc::new(Whoami)];
    let m = reply_message(test_util::serve(chain, test_util::request("a.test.", RecordType::A)));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.additionals.is_empty());
}

#[test]
fn setup_takes_no_arguments() {
    assert!(setup(&mut Controller::from_text("minimal")).unwrap().is_some());
    let err = setup(&mut Controller::from_text("minimal extra")).err().unwrap();
    assert!(err.to_string().contains("Wrong argument count or unexpected line ending"));
}
