//! What setup reads, and which replies are reordered, in both reply forms.

use std::collections::HashSet;
use std::time::Duration;

use plugin_api::test_util::{self, Form, rr};

use super::*;

fn opts(input: &str) -> Result<Options, String> {
    parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    assert_eq!(opts("loadbalance").unwrap().policy, Policy::RoundRobin);
    assert_eq!(opts("loadbalance round_robin").unwrap().policy, Policy::RoundRobin);
    assert_eq!(
        opts("loadbalance weighted /w {\n reload 10s\n}").unwrap().policy,
        Policy::Weighted { file: "/w".into(), reload: Duration::from_secs(10) }
    );
    let o = opts("loadbalance round_robin {\n prefer 10.0.0.0/8 fd00::/8\n}").unwrap();
    assert_eq!(o.prefer.len(), 2);
}

#[test]
fn setup_errors() {
    let rows = [
        (
            "loadbalance round_robin x",
            "Testfile:1 - Error during parsing: unknown property for round_robin",
        ),
        ("loadbalance weighted", "Testfile:1 - Error during parsing: missing weight file argument"),
        ("loadbalance weighted a b", "Testfile:1 - Error during parsing: unexpected argument(s)"),
        (
            "loadbalance weighted a {\n reload\n}",
            "Testfile:2 - Error during parsing: reload duration value is missing",
        ),
        (
            "loadbalance weighted a {\n reload x\n}",
            "Testfile:2 - Error during parsing: invalid reload duration 'x'",
        ),
        ("loadbalance fastest", "Testfile:1 - Error during parsing: unknown policy: fastest"),
        (
            "loadbalance {\n prefer 10.0.0.1\n}",
            "Testfile:2 - Error during parsing: invalid CIDR \"10.0.0.1\": invalid CIDR address: 10.0.0.1",
        ),
        ("loadbalance {\n nope\n}", "Testfile:2 - Error during parsing: unknown property 'nope'"),
    ];
    for (input, want) in rows {
        assert_eq!(opts(input).unwrap_err(), want, "{input}");
    }
}

#[test]
fn unreadable_weight_file_without_reload_is_a_setup_error() {
    let input = "loadbalance weighted /nonexistent/weights {\n reload 0\n}";
    let err = setup(&mut Controller::from_text(input)).err().expect("setup must fail");
    let text = err.to_string();
    assert!(
        text.starts_with("Testfile:1 - Error during parsing: weight file open error"),
        "{text}"
    );
    assert!(text.contains("/nonexistent/weights"), "{text}");
}

/// Four addresses for `a.test.`; NXDOMAIN with them for TXT, which must stay in order.
fn many(req: &Request) -> Message {
    let mut m = req.reply();
    for i in 1..=4 {
        m.add_answer(rr(&format!("a.test. 60 IN A 10.0.0.{i}")));
    }
    if req.qtype() == RecordType::TXT {
        m.metadata.response_code = ResponseCode::NXDomain;
    }
    m
}

fn first_answers(qtype: RecordType, form: Form, rounds: usize) -> HashSet<String> {
    let lb = setup(&mut Controller::from_text("loadbalance")).unwrap().unwrap();
    (0..rounds)
        .map(|_| {
            let req = test_util::request("a.test.", qtype);
            let r = test_util::serve_before(lb.clone(), many, form, req);
            test_util::reply_message(r).answers[0].data.to_string()
        })
        .collect()
}

#[test]
fn successful_replies_are_shuffled_others_are_not() {
    for form in Form::BOTH {
        let leaders = first_answers(RecordType::A, form, 200);
        assert_eq!(leaders.len(), 4, "every address leads sometimes ({form:?})");
        let leaders = first_answers(RecordType::TXT, form, 50);
        assert_eq!(leaders.len(), 1, "NXDOMAIN is left alone ({form:?})");
    }
}
