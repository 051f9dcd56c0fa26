//! The rules as CoreDNS's acl_test.go exercises them: one table of (Corefile, client, query) →
//! outcome, and one of Corefiles that must be refused with CoreDNS's words.

use std::net::SocketAddr;

use plugin_api::corefile::dispenser::Dispenser;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Rest, request_with};
use plugin_api::{Proto, ServeResult};

use super::*;

fn controller(text: &str, zones: &[&str]) -> Controller {
    let zones = zones.iter().map(|z| z.to_string()).collect();
    Controller::new(Dispenser::from_text(text), zones, 0)
}

fn acl(text: &str, zones: &[&str]) -> Arc<dyn Plugin> {
    setup(&mut controller(text, zones)).expect("valid acl").expect("a handler")
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Blocked,
    Filtered,
    Dropped,
}

fn outcome(result: ServeResult) -> Outcome {
    let ede = |msg: &plugin_api::proto::op::Message| {
        let opt = msg.edns.as_ref()?;
        opt.options().options.iter().find_map(|(code, option)| {
            use plugin_api::proto::rr::rdata::opt::EdnsOption;
            match option {
                EdnsOption::Unknown(15, data) if u16::from(*code) == 15 => {
                    Some(u16::from_be_bytes([data[0], data[1]]))
                }
                _ => None,
            }
        })
    };
    match result.expect("no error") {
        Reply::Drop => Outcome::Dropped,
        Reply::Message { msg, by: "rest" } => {
            assert!(msg.edns.is_none());
            Outcome::Allowed
        }
        Reply::Message { msg, by: NAME } => {
            assert!(msg.answers.is_empty() && !msg.metadata.authoritative);
            assert!(msg.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
            match (msg.metadata.response_code, ede(&msg)) {
                (ResponseCode::Refused, Some(15)) => Outcome::Blocked,
                (ResponseCode::NoError, Some(17)) => Outcome::Filtered,
                other => panic!("unexpected acl reply {other:?}"),
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn ask(plugin: &Arc<dyn Plugin>, client: &str, qname: &str, qtype: RecordType) -> Outcome {
    let src: SocketAddr = format!("{client}:40000")
        .parse()
        .unwrap_or_else(|_| format!("[{client}]:40000").parse().expect("client address"));
    let req = request_with(qname, qtype, Proto::Udp, src, None);
    outcome(test_util::serve(vec![plugin.clone(), Arc::new(Rest)], req))
}

/// Corefile text, block zones, client address, query name and type, and what should happen.
type Row = (&'static str, &'static [&'static str], &'static str, &'static str, RecordType, Outcome);

#[test]
fn rules_decide_in_order() {
    use Outcome::*;
    use RecordType::{A, AAAA, MX};
    let cases: &[Row] = &[
        // No policy: everything passes.
        ("acl", &["."], "192.168.0.2", "www.example.org.", A, Allowed),
        ("acl {\n block\n}", &["."], "10.0.0.1", "a.test.", A, Blocked),
        ("acl {\n filter\n}", &["."], "10.0.0.1", "a.test.", A, Filtered),
        ("acl {\n drop\n}", &["."], "10.0.0.1", "a.test.", A, Dropped),
        // By type and by net; every combination of a match and a miss.
        ("acl {\n block type A net 192.168.0.0/16\n}", &["."], "192.168.0.2", "x.", A, Blocked),
        ("acl {\n block type A net 192.168.0.0/16\n}", &["."], "192.168.0.2", "x.", AAAA, Allowed),
        ("acl {\n block type A net 192.168.0.0/16\n}", &["."], "10.1.0.2", "x.", A, Allowed),
        ("acl {\n block type A AAAA\n}", &["."], "10.1.0.2", "x.", AAAA, Blocked),
        ("acl {\n block type *\n}", &["."], "10.1.0.2", "x.", MX, Blocked),
        ("acl {\n block net *\n}", &["."], "2001:db8::1", "x.", MX, Blocked),
        ("acl {\n block net 2001:db8::/32\n}", &["."], "2001:db8::1", "x.", A, Blocked),
        ("acl {\n block net 2001:db8::/32\n}", &["."], "10.0.0.1", "x.", A, Allowed),
        ("acl {\n block net 10.0.0.1\n}", &["."], "10.0.0.1", "x.", A, Blocked),
        ("acl {\n block net 10.0.0.1\n}", &["."], "10.0.0.2", "x.", A, Allowed),
        // First match wins: an allow before a block lets its subnet through.
        (
            "acl {\n allow net 192.168.1.0/24\n block net 192.168.0.0/16\n}",
            &["."],
            "192.168.1.9",
            "x.",
            A,
            Allowed,
        ),
        (
            "acl {\n allow net 192.168.1.0/24\n block net 192.168.0.0/16\n}",
            &["."],
            "192.168.2.9",
            "x.",
            A,
            Blocked,
        ),
        // Allow-list: only the listed subnet gets through.
        ("acl {\n allow net 10.0.0.0/8\n block\n}", &["."], "10.9.9.9", "x.", A, Allowed),
        ("acl {\n allow net 10.0.0.0/8\n block\n}", &["."], "172.16.0.1", "x.", A, Blocked),
        // Zones: only names under the rule's zones are checked.
        (
            "acl a.example.org {\n block net 192.168.1.0/24\n}",
            &["example.org."],
            "192.168.1.1",
            "a.example.org.",
            A,
            Blocked,
        ),
        (
            "acl a.example.org {\n block net 192.168.1.0/24\n}",
            &["example.org."],
            "192.168.1.1",
            "b.example.org.",
            A,
            Allowed,
        ),
        // Several acl lines: an allow in the first ends checking before the second's block.
        ("acl {\n allow type A\n}\nacl {\n block\n}", &["."], "10.0.0.1", "x.", A, Allowed),
        ("acl {\n allow type A\n}\nacl {\n block\n}", &["."], "10.0.0.1", "x.", MX, Blocked),
        // An IPv4-mapped IPv6 source counts as its IPv4 address.
        ("acl {\n block net 10.0.0.0/8\n}", &["."], "::ffff:10.0.0.1", "x.", A, Blocked),
        // `*` stays "all" even when more of the section follows.
        ("acl {\n block type * A net 10.0.0.0/8\n}", &["."], "10.0.0.1", "x.", MX, Blocked),
    ];
    for (text, zones, client, qname, qtype, want) in cases {
        let plugin = acl(text, zones);
        assert_eq!(&ask(&plugin, client, qname, *qtype), want, "{text:?} {client} {qname} {qtype}");
    }
}

#[test]
fn bad_configs_are_refused_with_coredns_words() {
    let cases = [
        (
            "acl {\n blck\n}",
            "unexpected token \"blck\"; expect 'allow', 'block', 'filter' or 'drop'",
        ),
        ("acl {\n block net\n}", "no token specified in \"net\" section"),
        ("acl {\n block type\n}", "no token specified in \"type\" section"),
        ("acl {\n block from 10.0.0.0/8\n}", "unexpected token \"from\"; expect 'type | net'"),
        ("acl {\n block type FOO\n}", "unexpected token \"FOO\"; expect legal QTYPE"),
        ("acl {\n block type a\n}", "unexpected token \"a\"; expect legal QTYPE"),
        ("acl {\n block net 10.0.0.0/33\n}", "illegal CIDR notation \"10.0.0.0/33\""),
        ("acl {\n block net example.org\n}", "illegal CIDR notation \"example.org/32\""),
        ("acl {\n block net ::1:x\n}", "illegal CIDR notation \"::1:x/128\""),
    ];
    for (text, want) in cases {
        let err = match setup(&mut controller(text, &["."])) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with("Testfile:2 - Error during parsing: "), "{err}");
        assert!(err.ends_with(want), "{text:?}: got {err}, want {want}");
    }
}

#[test]
fn policies_parse_to_what_they_say() {
    let rules = parse(&mut controller(
        "acl example.org {\n allow type A AAAA net 10.0.0.0/8 ::1\n drop\n}",
        &["."],
    ))
    .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].zones, vec!["example.org.".to_string()]);
    let p = &rules[0].policies;
    assert_eq!(p[0].action, Action::Allow);
    assert_eq!(p[0].types, Some(vec![RecordType::A, RecordType::AAAA]));
    assert_eq!(
        p[0].nets,
        Some(vec![("10.0.0.0".parse().unwrap(), 8), ("::1".parse().unwrap(), 128)])
    );
    assert_eq!(p[1], Policy { action: Action::Drop, types: None, nets: None });
}

/// Counted under a server label of its own, so tests running at the same time in this process
/// (which all use `dns://:53`) cannot move these counters.
#[test]
fn counts_each_outcome_under_its_zone() {
    const SERVER: &str = "dns://:5301";
    let text =
        "acl guarded.test {\n block net 10.0.0.1\n filter net 10.0.0.2\n drop net 10.0.0.3\n}";
    let servers = vec![("guarded.test.".to_string(), SERVER.to_string())];
    let mut c = controller(text, &["guarded.test."]).with_block(servers, Default::default());
    let plugin = setup(&mut c).unwrap().unwrap();
    let read = |family: &prometheus::IntCounterVec, labels: &[&str]| {
        family.with_label_values(labels).get()
    };
    let counts = || {
        [
            read(&metrics::BLOCKED, &[SERVER, "guarded.test.", ""]),
            read(&metrics::FILTERED, &[SERVER, "guarded.test.", ""]),
            read(&metrics::DROPPED, &[SERVER, "guarded.test.", ""]),
            read(&metrics::ALLOWED, &[SERVER, ""]),
        ]
    };
    let before = counts();
    let chain: plugin_api::Chain = vec![plugin, Arc::new(Rest) as Arc<dyn Plugin>].into();
    let ctx = Ctx { server: Arc::from(SERVER), zone: Arc::from("guarded.test."), depth: 0 };
    for client in ["10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.3", "10.0.0.4"] {
        let src: SocketAddr = format!("{client}:40000").parse().unwrap();
        let req = Arc::new(request_with("x.guarded.test.", RecordType::A, Proto::Udp, src, None));
        match Next::new("", &chain, 0).run(&ctx, &req) {
            Serve::Ready(result) => drop(result.unwrap()),
            Serve::Pending(_) => panic!("acl and the rest answer at once"),
        }
    }
    let delta: Vec<u64> = counts().iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(delta, vec![1, 2, 1, 1]);
}
