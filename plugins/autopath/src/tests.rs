//! CoreDNS 1.14.7's `plugin/autopath/setup_test.go` (`TestSetupAutoPath`) and
//! `autopath_test.go` (`TestAutoPath`, `TestAutoPathNoAnswer`, `TestInSearchPath`), ported, and
//! the walk through steps that have to wait.

use super::walk::{first_in_search_path, trim_zone};
use super::*;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::{Record, RecordType};
use plugin_api::test_util::{self, reply_message, rr};
use plugin_api::{Reply, ServeResult};

const RESOLV_CONF: &str =
    "nameserver 1.2.3.4\ndomain foo.com\nsearch bar.com baz.com\noptions ndots:5\n";

#[test]
fn setup_table() {
    let dir = test_util::ScratchDir::new("autopath-setup");
    let resolv = dir.write("resolv.conf", RESOLV_CONF).display().to_string();
    let parsed =
        |text: &str| setup::parse(&mut Controller::from_text(text)).map_err(|e| e.to_string());

    let plugin = |name: &str| Search::Plugin(name.into());
    let ok: Vec<(String, &str, Search)> = vec![
        ("autopath @kubernetes".into(), ".", plugin("kubernetes")),
        ("autopath example.org @kubernetes".into(), "example.org.", plugin("kubernetes")),
        ("autopath 10.0.0.0/8 @kubernetes".into(), "10.in-addr.arpa.", plugin("kubernetes")),
        (
            format!("autopath {resolv}"),
            ".",
            Search::Fixed(vec!["bar.com.".into(), "baz.com.".into(), String::new()]),
        ),
    ];
    for (text, zone, search) in ok {
        let s = parsed(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((s.zones[0].as_str(), &s.search), (zone, &search), "{text}");
    }
    let failing = [
        (
            "autopath kubernetes",
            "failed to parse \"kubernetes\": open kubernetes: no such file or directory",
        ),
        ("autopath", "no resolv-conf specified"),
        ("autopath \"\"", "failed to parse \"\": open : no such file or directory"),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part) && e.contains("plugin/autopath: "), "{text}: {e}");
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
}

#[test]
fn in_search_path() {
    let first = "default.svc.cluster.local.";
    for (name, want) in [
        ("google.com.", false),
        ("default.svc.cluster.local.", true),
        ("a.default.svc.cluster.local.", true),
        ("a.b.svc.cluster.local.", false),
        ("xdefault.svc.cluster.local.", false),
    ] {
        assert_eq!(first_in_search_path(name, first), want, "{name}");
    }
}

#[test]
fn trim_zone_as_coredns() {
    assert_eq!(trim_zone("a.B.example.org.", "example.org.").unwrap(), "a.B");
    assert_eq!(trim_zone("a.example.org.", ".").unwrap(), "a.example.org");
    assert_eq!(
        trim_zone("example.org.", "example.org.").unwrap_err(),
        "trimzone: overshot qname: example.org.for zone example.org."
    );
}

/// CoreDNS's `nextHandler`: NXDOMAIN with the SOA, or an A record of the asked name, by name;
/// any other name declines with SERVFAIL (nothing written). Names in `slow` are answered after
/// waiting, as a forwarded name is.
struct Next {
    names: &'static [(&'static str, ResponseCode)],
    slow: &'static [&'static str],
}

impl Plugin for Next {
    fn name(&self) -> &'static str {
        "next"
    }

    fn serve(&self, _ctx: &Ctx, req: &Arc<Request>, _next: plugin_api::Next<'_>) -> Serve {
        let asked = req.qname().to_ascii();
        let result: ServeResult = match self.names.iter().find(|(n, _)| *n == asked) {
            None => Ok(Reply::Rcode(ResponseCode::ServFail)),
            Some((_, rcode)) => {
                let mut m = req.reply();
                m.metadata.response_code = *rcode;
                if *rcode == ResponseCode::NXDomain {
                    m.authorities = vec![rr(
                        "example.org. 1800 IN SOA example.org. example.org. 1502165581 14400 3600 604800 14400",
                    )];
                } else {
                    m.answers = vec![rr(&format!("{asked} 3600 IN A 127.0.0.53"))];
                }
                Ok(Reply::message(m, "next"))
            }
        };
        if self.slow.contains(&asked.as_str()) {
            Serve::pending(async move { result })
        } else {
            Serve::Ready(result)
        }
    }
}

fn autopath(search: &[&str]) -> Arc<dyn Plugin> {
    Arc::new(AutoPath {
        zones: vec![".".into()],
        search: Search::Fixed(search.iter().map(ToString::to_string).collect()),
        provider: Arc::default(),
    })
}

const NAMES: &[(&str, ResponseCode)] = &[
    ("b.example.org.", ResponseCode::NXDomain),
    ("b.com.", ResponseCode::NoError),
    ("a.example.com.", ResponseCode::NoError),
];

fn answers(msg: &Message) -> Vec<Record> {
    msg.answers.clone()
}

#[test]
fn the_first_answer_on_the_path_with_a_cname_in_front() {
    for slow in [&[][..], &["b.example.org.", "b.com."][..]] {
        let chain = vec![
            autopath(&["example.org.", "example.com.", "com.", ""]),
            Arc::new(Next { names: NAMES, slow }) as Arc<dyn Plugin>,
        ];
        let msg = reply_message(test_util::serve(
            chain.clone(),
            test_util::request("b.example.org.", RecordType::A),
        ));
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "slow {slow:?}");
        assert_eq!(
            answers(&msg),
            [rr("b.example.org. 3600 IN CNAME b.com."), rr("b.com. 3600 IN A 127.0.0.53")],
            "slow {slow:?}"
        );
        assert_eq!(msg.queries[0].name().to_ascii(), "b.example.org.");
        // Not in the path: passed on untouched.
        let msg = reply_message(test_util::serve(
            chain,
            test_util::request("a.example.com.", RecordType::A),
        ));
        assert_eq!(answers(&msg), [rr("a.example.com. 3600 IN A 127.0.0.53")]);
    }
}

#[test]
fn when_no_step_answers_the_first_steps_reply_goes_back() {
    let chain = vec![
        autopath(&["example.org.", "example.com.", "com.", ""]),
        Arc::new(Next { names: NAMES, slow: &[] }) as Arc<dyn Plugin>,
    ];
    // Every step declines: nothing is written, as CoreDNS's TestAutoPathNoAnswer checks.
    let result =
        test_util::serve(chain.clone(), test_util::request("c.example.org.", RecordType::A));
    assert!(matches!(result, Ok(Reply::Rcode(ResponseCode::ServFail))), "{result:?}");
    // The first step answers NXDOMAIN and no later one answers: that NXDOMAIN comes back.
    const ONLY_NX: &[(&str, ResponseCode)] = &[("d.example.org.", ResponseCode::NXDomain)];
    let chain = vec![
        autopath(&["example.org.", "com.", ""]),
        Arc::new(Next { names: ONLY_NX, slow: &[] }) as Arc<dyn Plugin>,
    ];
    let msg =
        reply_message(test_util::serve(chain, test_util::request("d.example.org.", RecordType::A)));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(msg.authorities.len(), 1);
}

#[test]
fn the_asked_name_itself_is_answered_as_it_is() {
    const DIRECT: &[(&str, ResponseCode)] = &[("web.example.org.", ResponseCode::NoError)];
    let chain = vec![
        autopath(&["example.org.", ""]),
        Arc::new(Next { names: DIRECT, slow: &[] }) as Arc<dyn Plugin>,
    ];
    let msg = reply_message(test_util::serve(
        chain,
        test_util::request("web.example.org.", RecordType::A),
    ));
    assert_eq!(answers(&msg), [rr("web.example.org. 3600 IN A 127.0.0.53")], "no CNAME to itself");
}
