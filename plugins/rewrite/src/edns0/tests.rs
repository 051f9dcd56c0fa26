//! CoreDNS 1.14.7's edns0 tables, ported from plugin/rewrite/rewrite_test.go: `TestNewRule`'s
//! edns0 rows, `TestRewriteEDNS0Local`, `TestEdns0MultiRule`, `TestRewriteEDNS0LocalVariable`,
//! `TestRewriteEDNS0Subnet`, `TestRewriteEDNS0Revert`, `TestRewriteEDNS0Unset` and
//! `TestRewriteEDNS0RevertDoesNotLeakThroughScrubWriter`; from edns0_test.go
//! (`TestEdns0LocalSetRevertNoLeak`, `TestEdns0LocalSetRevertRestoresPreexisting`) and
//! reverter_test.go (`TestEDNS0ResponseReverterNoOPT`).
//!
//! CoreDNS's tables answer with `msgPrinter`, which writes the rewritten query back as the
//! reply, and read that reply's OPT after the reverter. [`Mirror`] does the same here: its
//! reply carries the OPT it was asked with, and the tables read the reply's OPT once *rewrite*
//! has reverted it. Tables run without CoreDNS's `NoRevertPolicy` have no `revert` rules, so
//! the two policies read the same.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use plugin_api::proto::op::{Edns, Message};
use plugin_api::proto::rr::RecordType;
use plugin_api::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption, NSIDPayload};
use plugin_api::{Controller, Ctx, Next, Plugin, Proto, Reply, Request, Serve, test_util};

use super::*;
use crate::setup::{self, Action};

/// The next plugin: replies with the OPT it was asked with (`msgPrinter`), or with none, and
/// keeps that OPT.
#[derive(Default)]
struct Mirror {
    without_opt: bool,
    seen: Mutex<Option<Option<Edns>>>,
}

impl Plugin for Mirror {
    fn name(&self) -> &'static str {
        "mirror"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        *self.seen.lock().unwrap() = Some(req.edns().cloned());
        let mut msg = req.reply();
        if !self.without_opt {
            msg.edns = req.edns().cloned();
        }
        Serve::Ready(Ok(Reply::message(msg, "mirror")))
    }
}

type Options = Vec<(u16, EdnsOption)>;

fn local(code: u16, data: &[u8]) -> (u16, EdnsOption) {
    (code, EdnsOption::Unknown(code, data.to_vec()))
}

fn nsid() -> (u16, EdnsOption) {
    (3, EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()))
}

fn subnet(addr: &str, bits: u8) -> (u16, EdnsOption) {
    (8, EdnsOption::Subnet(ClientSubnet::new(addr.parse().unwrap(), bits, 0)))
}

fn options(edns: &Edns) -> Options {
    edns.options().options.iter().map(|(c, o)| (u16::from(*c), o.clone())).collect()
}

/// A query for example.com. A from `src`; with an OPT (4096, DO set, as CoreDNS's tables make
/// it) carrying `from` if given.
fn query(from: Option<Options>, src: SocketAddr) -> Request {
    let mut msg = Message::query();
    msg.add_query(plugin_api::proto::op::Query::query(
        "example.com.".parse().unwrap(),
        RecordType::A,
    ));
    if let Some(from) = from {
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        edns.set_dnssec_ok(true);
        edns.options_mut().options.extend(from.into_iter().map(|(c, o)| (EdnsCode::from(c), o)));
        msg.edns = Some(edns);
    }
    Request::new(msg, src, test_util::SERVER.parse().unwrap(), Proto::Udp, 0)
}

/// Serves `query` through `rewrite` directives made of `rules` (each the words after
/// `rewrite`): the OPT the next plugin saw, and the reply's.
fn run_with(rules: &[&str], query: Request, without_opt: bool) -> (Option<Edns>, Option<Edns>) {
    let corefile: String = rules.iter().map(|r| format!("rewrite {r}\n")).collect();
    let plugin = crate::setup(&mut Controller::from_text(&corefile)).unwrap().unwrap();
    let mirror = Arc::new(Mirror { without_opt, ..Default::default() });
    let result = test_util::serve(vec![plugin, mirror.clone()], query);
    let reply = test_util::reply_message(result);
    let seen = mirror.seen.lock().unwrap().clone().expect("the next plugin was asked");
    (seen, reply.edns)
}

fn run(rules: &[&str], from: Option<Options>) -> (Option<Edns>, Option<Edns>) {
    run_with(rules, query(from, test_util::CLIENT.parse().unwrap()), false)
}

/// The reply's options, failing if it has no OPT.
fn reply_options(rules: &[&str], from: Option<Options>) -> Options {
    let (_, reply) = run(rules, from);
    options(&reply.unwrap_or_else(|| panic!("{rules:?}: the reply has no OPT")))
}

#[test]
fn new_rule_edns0_rows() {
    // TestNewRule's edns0 rows: the words and whether they are refused.
    let cases: &[(&str, bool)] = &[
        ("edns0", true),
        ("edns0 unknown-rule-type set", true),
        ("edns0 unknown-rule-type unset", true),
        ("edns0 local", true),
        ("edns0 local set", true),
        ("edns0 local set 0xffee", true),
        ("edns0 local set invalid-uint abcdefg", true),
        ("edns0 local set 65518 abcdefg", false),
        ("edns0 local set 0xffee abcdefg", false),
        ("edns0 local set 0xffee abcdefg revert", false),
        ("edns0 local append 0xffee abcdefg", false),
        ("edns0 local append 0xffee abcdefg revert", false),
        ("edns0 local replace 0xffee abcdefg", false),
        ("edns0 local replace 0xffee abcdefg revert", false),
        ("edns0 local unset 0xffee", false),
        ("edns0 local unset 0xffee abcdefg", true),
        ("edns0 local unset 0xffee revert", true),
        ("edns0 local foo 0xffee abcdefg", true),
        ("edns0 local set 0xffee 0xabcdefg", true),
        ("edns0 nsid set junk", true),
        ("edns0 nsid set", false),
        ("edns0 nsid set revert", false),
        ("edns0 nsid append", false),
        ("edns0 nsid append revert", false),
        ("edns0 nsid replace", false),
        ("edns0 nsid replace revert", false),
        ("edns0 nsid unset", false),
        ("edns0 nsid unset revert", true),
        ("edns0 nsid foo", true),
        ("edns0 local set invalid-uint {qname}", true),
        ("edns0 local set 0xffee {dummy}", true),
        ("edns0 local append 0xffee {dummy}", true),
        ("edns0 local replace 0xffee {dummy}", true),
        ("edns0 subnet set -1 56", true),
        ("edns0 subnet set 24 -56", true),
        ("edns0 subnet set 33 56", true),
        ("edns0 subnet set 24 129", true),
        ("edns0 subnet set 24 56", false),
        ("edns0 subnet set 24 56 revert", false),
        ("edns0 subnet append 24 56", false),
        ("edns0 subnet append 24 56 72", true),
        ("edns0 subnet append 24 56 revert", false),
        ("edns0 subnet replace 24 56", false),
        ("edns0 subnet replace 24 56 revert", false),
        ("edns0 subnet unset", false),
        ("edns0 subnet unset 24 56", true),
        ("edns0 subnet unset revert", true),
        ("unknown-action edns0 local set 0xffee abcedef", true),
        ("stop edns0 local set 0xffee abcdefg", false),
        ("continue edns0 local set 0xffee abcdefg", false),
        ("unknown-action edns0 nsid set", true),
        ("stop edns0 nsid set", false),
        ("continue edns0 nsid set", false),
        ("unknown-action edns0 local set 0xffee {qname}", true),
        ("unknown-action edns0 subnet set 24 64", true),
        ("stop edns0 subnet set 24 56", false),
        ("stop edns0 subnet append 24 56", false),
        ("stop edns0 subnet replace 24 56", false),
        ("stop edns0 subnet unset", false),
        ("continue edns0 subnet set 24 56", false),
        ("continue edns0 subnet unset", false),
    ];
    for (words, fails) in cases {
        let args: Vec<String> = words.split(' ').map(str::to_owned).collect();
        match setup::rule(&args) {
            Ok(rule) => {
                assert!(!fails, "{words}: accepted");
                assert!(matches!(rule.action, Action::Edns0(_)), "{words}: {rule:?}");
            }
            Err(e) => assert!(*fails, "{words}: {e}"),
        }
    }
    // Every variable, with each action and mode.
    let variables = [
        "{qname}",
        "{qtype}",
        "{client_ip}",
        "{client_port}",
        "{protocol}",
        "{server_ip}",
        "{server_port}",
    ];
    for mode in ["", "stop ", "continue "] {
        for action in ["set", "append", "replace"] {
            for variable in variables {
                for revert in ["", " revert"] {
                    let words = format!("{mode}edns0 local {action} 0xffee {variable}{revert}");
                    let args: Vec<String> = words.split(' ').map(str::to_owned).collect();
                    let rule = setup::rule(&args).unwrap_or_else(|e| panic!("{words}: {e}"));
                    let Action::Edns0(rule) = rule.action else { panic!("{words}") };
                    assert!(matches!(
                        rule.option,
                        OptionRule::Local { data: LocalData::Variable(_), .. }
                    ));
                }
            }
        }
    }
}

#[test]
fn errors_use_coredns_words() {
    let err = |words: &str| {
        let args: Vec<String> = words.split(' ').map(str::to_owned).collect();
        setup::rule(&args).unwrap_err()
    };
    assert_eq!(err("edns0 local"), "too few arguments for an EDNS0 rule");
    assert_eq!(err("edns0 local foo 1 2"), "invalid action: \"foo\"");
    assert_eq!(err("edns0 local set 1"), "EDNS0 local rules require three or four args");
    assert_eq!(err("edns0 nsid set junk"), "EDNS0 NSID rules can accept no more than one arg");
    assert_eq!(err("edns0 subnet set 24"), "EDNS0 subnet rules require three or four args");
    assert_eq!(err("edns0 subnet set 33 56"), "invalid IPv4 bit mask length 33");
    assert_eq!(err("edns0 subnet set 24 129"), "invalid IPv6 bit mask length 129");
    assert_eq!(err("edns0 local unset"), "local unset action requires exactly two arguments");
    assert_eq!(err("edns0 nsid unset x"), "nsid unset action requires exactly one argument");
    assert_eq!(err("edns0 subnet unset x"), "subnet unset action requires exactly one argument");
    assert_eq!(err("edns0 foo set"), "invalid rule type \"foo\"");
    assert_eq!(err("edns0 local set 0xffee {dummy}"), "unsupported variable name \"{dummy}\"");
    assert_eq!(err("edns0 local set bad 1"), "strconv.ParseUint: parsing \"bad\": invalid syntax");
    assert_eq!(
        err("edns0 local set 65536 1"),
        "strconv.ParseUint: parsing \"65536\": value out of range"
    );
    assert_eq!(err("edns0 local set 1 0xabc"), "encoding/hex: odd length hex string");
    assert_eq!(err("edns0 local set 1 0xzz"), "encoding/hex: invalid byte: U+007A 'z'");
    // Go's base prefixes: 0x, 0o, 0b, and a leading 0 for octal. (Codes are registered
    // process-wide, so these stay clear of the ones other tests read.)
    let same = ["0x7f10", "0o77420", "077420", "0b111111100010000", "32528"];
    for code in same {
        let want = 32528;
        let args: Vec<String> =
            format!("edns0 local set {code} a").split(' ').map(Into::into).collect();
        let Action::Edns0(rule) = setup::rule(&args).unwrap().action else { panic!() };
        assert_eq!(rule.code(), want, "{code}");
    }
}

#[test]
fn rewrite_edns0_local() {
    // TestRewriteEDNS0Local: a query without an OPT; the rule; the options asked with.
    let cases: &[(&str, Options)] = &[
        ("local set 0xffee 0xabcdef", vec![local(0xffee, &[0xab, 0xcd, 0xef])]),
        ("local append 0xffee abcdefghijklmnop", vec![local(0xffee, b"abcdefghijklmnop")]),
        // Nothing to replace: the query still gets an empty OPT.
        ("local replace 0xffee abcdefghijklmnop", vec![]),
        ("nsid set", vec![nsid()]),
        ("nsid append", vec![nsid()]),
        ("nsid replace", vec![]),
    ];
    for (rule, want) in cases {
        let (seen, _) = run(&[&format!("edns0 {rule}")], None);
        let seen = seen.unwrap_or_else(|| panic!("{rule}: no OPT asked with"));
        assert_eq!(options(&seen), *want, "{rule}");
        assert_eq!(seen.max_payload(), 4096, "{rule}: CoreDNS's SetEdns0(4096, false)");
        assert!(!seen.flags().dnssec_ok, "{rule}");
    }
}

#[test]
fn edns0_multi_rule() {
    // TestEdns0MultiRule: two `stop` rules, the query's options, the reply's options.
    let foobar = || vec![local(0xffee, b"foobar")];
    let zero_subnet = || vec![subnet("0.0.0.0", 0)];
    let cases: Vec<([&str; 2], Option<Options>, Options)> = vec![
        (
            ["local replace 0xffee abcdef", "local set 0xffee fedcba"],
            None,
            vec![local(0xffee, b"fedcba")],
        ),
        (
            ["local replace 0xffee abcdef", "local set 0xffee fedcba"],
            Some(foobar()),
            vec![local(0xffee, b"abcdef")],
        ),
        (["local replace 0xffee abcdef revert", "local set 0xffee fedcba revert"], None, vec![]),
        (
            ["local replace 0xffee abcdef revert", "local set 0xffee fedcba revert"],
            Some(foobar()),
            foobar(),
        ),
        (
            ["local replace 0xffee {qname}", "local set 0xffee {qtype}"],
            None,
            vec![local(0xffee, &[0, 1])],
        ),
        (
            ["local replace 0xffee {qname}", "local set 0xffee {qtype}"],
            Some(foobar()),
            vec![local(0xffee, b"example.com.")],
        ),
        (["local replace 0xffee {qname} revert", "local set 0xffee {qtype} revert"], None, vec![]),
        (
            ["local replace 0xffee {qname} revert", "local set 0xffee {qtype} revert"],
            Some(foobar()),
            foobar(),
        ),
        (["nsid replace", "nsid set"], None, vec![nsid()]),
        (["nsid replace", "nsid set"], Some(foobar()), vec![local(0xffee, b"foobar"), nsid()]),
        (["nsid replace", "nsid set"], Some(vec![nsid()]), vec![nsid()]),
        (["nsid replace revert", "nsid set revert"], None, vec![]),
        (["nsid replace revert", "nsid set revert"], Some(foobar()), foobar()),
        (["nsid replace revert", "nsid set revert"], Some(vec![nsid()]), vec![nsid()]),
        (["subnet replace 32 56", "subnet set 0 56"], None, zero_subnet()),
        (
            ["subnet replace 32 56", "subnet set 0 56"],
            Some(zero_subnet()),
            vec![subnet("10.240.0.1", 32)],
        ),
        (["subnet replace 32 56 revert", "subnet set 0 56 revert"], None, vec![]),
        (
            ["subnet replace 32 56 revert", "subnet set 0 56 revert"],
            Some(zero_subnet()),
            zero_subnet(),
        ),
    ];
    for (rules, from, want) in cases {
        let rules = rules.map(|r| format!("stop edns0 {r}"));
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        assert_eq!(reply_options(&rules, from.clone()), want, "{rules:?} on {from:?}");
    }
}

#[test]
fn rewrite_edns0_local_variable() {
    // TestRewriteEDNS0LocalVariable: the client is 10.240.0.1:40212, the server 127.0.0.1:53.
    let cases: &[(&str, &[u8])] = &[
        ("{qname}", b"example.com."),
        ("{qtype}", &[0x00, 0x01]),
        ("{client_ip}", &[0x0a, 0xf0, 0x00, 0x01]),
        ("{client_port}", &[0x9d, 0x14]),
        ("{protocol}", b"udp"),
        ("{server_port}", &[0x00, 0x35]),
        ("{server_ip}", &[0x7f, 0x00, 0x00, 0x01]),
    ];
    for (variable, want) in cases {
        let got = reply_options(&[&format!("edns0 local set 0xffee {variable}")], None);
        assert_eq!(got, vec![local(0xffee, want)], "{variable}");
    }
    // The table's metadata rows: a label the query's metadata has is its value; one it lacks
    // (or holds empty) leaves the rule doing nothing, and the query gets no OPT at all.
    let with_meta = || {
        let mut req = query(None, test_util::CLIENT.parse().unwrap());
        req.meta_mut().set("test/label", "my-value");
        req.meta_mut().set("test/empty", "");
        req
    };
    let (seen, _) = run_with(&["edns0 local set 0xffee {test/label}"], with_meta(), false);
    assert_eq!(options(&seen.unwrap()), vec![local(0xffee, b"my-value")]);
    for missing in ["{test/does-not-exist}", "{test/empty}"] {
        let rule = format!("edns0 local set 0xffee {missing}");
        let (seen, reply) = run_with(&[&rule], with_meta(), false);
        assert!(seen.is_none() && reply.is_none(), "{missing}");
    }
    // {qname} is the name as the rules before left it, in the client's case until then.
    let mut mixed = query(None, test_util::CLIENT.parse().unwrap()).to_message();
    mixed.queries[0].set_name(plugin_api::proto::rr::Name::from_ascii("Example.COM.").unwrap());
    let req = Request::new(
        mixed,
        test_util::CLIENT.parse().unwrap(),
        test_util::SERVER.parse().unwrap(),
        Proto::Tcp,
        0,
    );
    let (seen, _) = run_with(&["edns0 local set 0xffee {qname}"], req.clone(), false);
    assert_eq!(options(&seen.unwrap()), vec![local(0xffee, b"Example.COM.")]);
    let (seen, _) = run_with(&["edns0 local set 0xffee {protocol}"], req.clone(), false);
    assert_eq!(options(&seen.unwrap()), vec![local(0xffee, b"tcp")]);
    let chained = ["continue name example.com other.example", "edns0 local set 0xffee {qname}"];
    let (seen, _) = run_with(&chained, req, false);
    assert_eq!(options(&seen.unwrap()), vec![local(0xffee, b"other.example.")]);
}

#[test]
fn rewrite_edns0_subnet() {
    // TestRewriteEDNS0Subnet: the client is 10.240.0.1, or fe80::42:ff:feca:4c65
    // (test.ResponseWriter6).
    let v6: SocketAddr = "[fe80::42:ff:feca:4c65]:40212".parse().unwrap();
    let v4: SocketAddr = test_util::CLIENT.parse().unwrap();
    let cases: &[(SocketAddr, &str, (u16, EdnsOption))] = &[
        (v4, "24 56", subnet("10.240.0.0", 24)),
        (v4, "32 56", subnet("10.240.0.1", 32)),
        (v4, "0 56", subnet("0.0.0.0", 0)),
        (v6, "24 56", subnet("fe80::", 56)),
        (v6, "24 128", subnet("fe80::42:ff:feca:4c65", 128)),
        (v6, "24 0", subnet("::", 0)),
    ];
    for (src, bits, want) in cases {
        let (seen, _) = run_with(&[&format!("edns0 subnet set {bits}")], query(None, *src), false);
        assert_eq!(options(&seen.unwrap()), vec![want.clone()], "{src} {bits}");
    }
    // A prefix that ends inside an octet clears the octet's low bits.
    let (seen, _) = run_with(&["edns0 subnet set 20 56"], query(None, v4), false);
    assert_eq!(options(&seen.unwrap()), vec![subnet("10.240.0.0", 20)]);
    let (seen, _) = run_with(&["edns0 subnet set 12 56"], query(None, v4), false);
    assert_eq!(options(&seen.unwrap()), vec![subnet("10.240.0.0", 12)]);
    let (seen, _) = run_with(&["edns0 subnet set 11 56"], query(None, v4), false);
    assert_eq!(options(&seen.unwrap()), vec![subnet("10.224.0.0", 11)]);
}

#[test]
fn rewrite_edns0_revert() {
    // TestRewriteEDNS0Revert, on a query without options: the reply's options. (The Go table
    // adds its `fromOpts` to the reply after serving; they are left out here.)
    let cases: &[&str] = &[
        "local set 0xffee 0xabcdef revert",
        "local append 0xffee abcdefghijklmnop revert",
        "local replace 0xffee abcdefghijklmnop revert",
        "nsid set revert",
        "nsid append revert",
        "nsid replace",
        "local set 0xffee 0xabcd revert",
        "local replace 0xffee abcdefghijklmnop",
    ];
    for rule in cases {
        assert_eq!(reply_options(&[&format!("edns0 {rule}")], None), vec![], "{rule}");
        // The next plugin was still asked with the option.
        let (seen, _) = run(&[&format!("edns0 {rule}")], None);
        let adds = rule.contains(" set ") || rule.contains(" append ");
        assert_eq!(options(&seen.unwrap()).len(), usize::from(adds), "{rule}");
    }
    // The README's example: only the later rule reverts, so the reply keeps the earlier value.
    let rules = ["continue edns0 local set 0xffee abcd", "edns0 local replace 0xffee bcde revert"];
    assert_eq!(reply_options(&rules, Some(vec![])), vec![local(0xffee, b"abcd")]);
    let (seen, _) = run(&rules, Some(vec![]));
    assert_eq!(options(&seen.unwrap()), vec![local(0xffee, b"bcde")]);
}

#[test]
fn rewrite_edns0_unset() {
    // TestRewriteEDNS0Unset: the query's options, the rule, the reply's options.
    let foobar_nsid = || vec![local(0xffee, b"foobar"), nsid()];
    let cases: Vec<(Options, &str, Options)> = vec![
        (vec![], "local unset 0xffee", vec![]),
        (vec![local(0xffee, &[0xab, 0xcd, 0xef])], "local unset 0xffee", vec![]),
        (
            vec![local(0xffee, &[0xab, 0xcd, 0xef])],
            "local unset 0xffed",
            vec![local(0xffee, &[0xab, 0xcd, 0xef])],
        ),
        (vec![nsid()], "nsid unset", vec![]),
        (vec![], "nsid unset", vec![]),
        (vec![subnet("0.0.0.0", 0)], "subnet unset", vec![]),
        (vec![], "subnet unset", vec![]),
        (foobar_nsid(), "nsid unset", vec![local(0xffee, b"foobar")]),
        (foobar_nsid(), "local unset 0xffee", vec![nsid()]),
        (foobar_nsid(), "subnet unset", foobar_nsid()),
    ];
    for (from, rule, want) in cases {
        assert_eq!(
            reply_options(&[&format!("edns0 {rule}")], Some(from.clone())),
            want,
            "{rule} on {from:?}"
        );
    }
}

#[test]
fn revert_does_not_leak_into_an_echoed_opt() {
    // TestRewriteEDNS0RevertDoesNotLeakThroughScrubWriter: the next plugin writes a reply
    // without an OPT, so the reply echoes the query's; the set option is reverted, the
    // client's cookie kept.
    let cookie = (10, EdnsOption::Unknown(10, b"abcdef0123456789".to_vec()));
    let req = query(Some(vec![cookie.clone()]), test_util::CLIENT.parse().unwrap());
    let (seen, reply) = run_with(&["edns0 local set 0xffee 0xabcdef revert"], req.clone(), true);
    assert_eq!(options(&seen.unwrap()), vec![cookie.clone(), local(0xffee, &[0xab, 0xcd, 0xef])]);
    assert_eq!(options(&reply.unwrap()), vec![cookie.clone()]);
    // Without revert the rewritten option is echoed, its code being supported now; the
    // subnet option, which CoreDNS never echoes, is not.
    let rules = ["continue edns0 local set 0xffee 0xabcdef", "edns0 subnet set 24 56"];
    let (_, reply) = run_with(&rules, req, true);
    assert_eq!(options(&reply.unwrap()), vec![cookie, local(0xffee, &[0xab, 0xcd, 0xef])]);
    // A client that sent no OPT gets none, whatever the rules gave the query.
    let (seen, reply) = run_with(&rules, query(None, test_util::CLIENT.parse().unwrap()), true);
    assert!(seen.is_some() && reply.is_none());
}

/// The next plugin of edns0_test.go and reverter_test.go: a reply with one A record and no
/// OPT, so that the reply's OPT, if any, is the echo of the query's.
struct NoOptAnswer;

impl Plugin for NoOptAnswer {
    fn name(&self) -> &'static str {
        "no-opt"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        let mut msg = req.reply();
        let owner = plugin_api::proto::rr::Name::from_ascii("example.com.").unwrap();
        let a = plugin_api::proto::rr::RData::A("127.0.0.1".parse().unwrap());
        msg.answers.push(plugin_api::proto::rr::Record::from_rdata(owner, 60, a));
        Serve::Ready(Ok(Reply::message(msg, "no-opt")))
    }
}

fn with_answer(rule: &str, query: Request) -> Message {
    let plugin =
        crate::setup(&mut Controller::from_text(&format!("rewrite {rule}"))).unwrap().unwrap();
    test_util::reply_message(test_util::serve(vec![plugin, Arc::new(NoOptAnswer)], query))
}

#[test]
fn revert_with_a_record_in_the_reply() {
    let rule = "edns0 local set 0xffee 0xabcdef revert";
    let client = || test_util::CLIENT.parse().unwrap();
    // edns0_test.go TestEdns0LocalSetRevertNoLeak: the query had an OPT, the reply none; the
    // set option does not show in what the client gets.
    let reply = with_answer(rule, query(Some(vec![]), client()));
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(options(reply.edns.as_ref().unwrap()), vec![]);
    // TestEdns0LocalSetRevertRestoresPreexisting: the client's own value comes back.
    let reply = with_answer(rule, query(Some(vec![local(0xffee, &[0x11, 0x11, 0x11])]), client()));
    assert_eq!(options(reply.edns.as_ref().unwrap()), vec![local(0xffee, &[0x11, 0x11, 0x11])]);
    // reverter_test.go TestEDNS0ResponseReverterNoOPT, `local_set_revert`: a query without
    // an OPT gets a reply without one, NOERROR with its answer. (Its `local_replace_revert`
    // case reads the reverter alone, before CoreDNS's scrub writer echoes the query's OPT;
    // here *rewrite* does that echo, and the case above reads its result.)
    let reply = with_answer(rule, query(None, client()));
    assert_eq!(reply.metadata.response_code, plugin_api::proto::op::ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1);
    assert!(reply.edns.is_none());
}
