//! CoreDNS 1.14.7's `plugin/header/setup_test.go` (`TestSetupHeader`) and `header_test.go`
//! (`TestHeaderResponseRules`, `TestHeaderQueryRules`), ported, over both reply forms.

use std::sync::Mutex;

use plugin_api::proto::op::Message;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Form};

use super::*;

#[test]
fn setup_table() {
    // TestSetupHeader: the input, whether it fails, part of the error.
    let cases: &[(&str, bool, &str)] = &[
        ("header {}", true, "Wrong argument count or unexpected line ending after"),
        ("header {\n foo\n}", true, "invalid selector=foo should be query or response"),
        (
            "header {\n response set\n}",
            true,
            "invalid length for flags, at least one should be provided",
        ),
        (
            "header {\n query foo\n}",
            true,
            "invalid length for flags, at least one should be provided",
        ),
        ("header {\n query foo rd\n}", true, "unknown flag action=foo, should be set or clear"),
        ("header {\n query set rd\n}", false, ""),
        ("header {\n response set aa\n}", false, ""),
        ("header {\n response set ra aa\n query clear rd\n}", false, ""),
        // Ours: a flag CoreDNS does not change, a line without an action, and case.
        ("header {\n response set ad\n}", true, "unknown/unsupported flag=ad"),
        ("header {\n response\n}", true, "no flag action provided"),
        ("header {\n RESPONSE SET RA\n}", false, ""),
    ];
    for (text, fails, part) in cases {
        match setup(&mut Controller::from_text(text)) {
            Ok(_) => assert!(!fails, "{text}: accepted"),
            Err(e) => {
                assert!(*fails, "{text}: {e}");
                let e = e.to_string();
                assert!(e.contains(part), "{text}: {e}");
                assert!(e.starts_with("plugin/header: Testfile:"), "{e}");
            }
        }
    }
}

/// The next plugin: writes back the query's own header flags (as the Go tests' handler writes
/// the query back), and keeps what it was asked.
#[derive(Default)]
struct Mirror {
    form: Option<Form>,
    seen: Mutex<Option<Metadata>>,
}

impl Plugin for Mirror {
    fn name(&self) -> &'static str {
        "mirror"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        *self.seen.lock().unwrap() = Some(*req.metadata());
        let mut msg = req.reply();
        let asked = req.metadata();
        msg.metadata.authoritative = asked.authoritative;
        msg.metadata.recursion_available = asked.recursion_available;
        Serve::Ready(Ok(self.form.unwrap_or(Form::Message).reply(msg, "mirror")))
    }
}

/// The reply, and the flags the next plugin was asked with, for `rules` in `form`.
fn run(rules: &str, form: Form, rd: bool) -> (Message, Metadata) {
    let plugin =
        setup(&mut Controller::from_text(&format!("header {{\n{rules}\n}}"))).unwrap().unwrap();
    let mirror = Arc::new(Mirror { form: Some(form), ..Default::default() });
    let mut req = test_util::request("example.org.", RecordType::A).to_message();
    req.metadata.recursion_desired = rd;
    let len = req.to_vec().unwrap().len();
    let req = Request::new(
        req,
        test_util::CLIENT.parse().unwrap(),
        test_util::SERVER.parse().unwrap(),
        plugin_api::Proto::Udp,
        len,
    );
    let reply = test_util::reply_message(test_util::serve(vec![plugin, mirror.clone()], req));
    let seen = mirror.seen.lock().unwrap().expect("asked");
    (reply, seen)
}

#[test]
fn response_rules() {
    // TestHeaderResponseRules: ra set, ra cleared, rd set, aa set; both reply forms.
    for form in Form::BOTH {
        let (reply, _) = run("response set ra", form, false);
        assert!(reply.metadata.recursion_available, "{form:?}");
        let (reply, _) = run("response clear ra", form, false);
        assert!(!reply.metadata.recursion_available, "{form:?}");
        let (reply, _) = run("response set rd", form, false);
        assert!(reply.metadata.recursion_desired, "{form:?}");
        let (reply, _) = run("response set aa", form, false);
        assert!(reply.metadata.authoritative, "{form:?}");
        // In order, the last winning; other header fields untouched.
        let (reply, _) = run("response set ra aa\nresponse clear rd aa", form, true);
        let m = reply.metadata;
        assert!(m.recursion_available && !m.authoritative && !m.recursion_desired, "{form:?}");
        assert_eq!(reply.queries[0].name().to_ascii(), "example.org.");
    }
}

#[test]
fn query_rules() {
    // TestHeaderQueryRules: ra set, rd set, rd cleared, aa set, as the next plugin sees them;
    // the Go handler writes the query back, so the reply shows them too.
    for form in Form::BOTH {
        let (reply, seen) = run("query set ra", form, false);
        assert!(seen.recursion_available && reply.metadata.recursion_available, "{form:?}");
        let (reply, seen) = run("query set rd", form, false);
        assert!(seen.recursion_desired && reply.metadata.recursion_desired, "{form:?}");
        let (reply, seen) = run("query clear rd", form, true);
        assert!(!seen.recursion_desired && !reply.metadata.recursion_desired, "{form:?}");
        let (_, seen) = run("query set aa", form, false);
        assert!(seen.authoritative, "{form:?}");
    }
}
