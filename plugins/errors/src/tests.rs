use std::sync::Arc;

use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Form};
use plugin_api::{Controller, PluginError, Reply};

use super::*;
use crate::setup::MAX_REGEXP_LEN;

fn patterns(input: &str) -> Result<Vec<Arc<Pattern>>, String> {
    parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    assert!(patterns("errors").unwrap().is_empty());
    assert!(patterns("errors stdout").unwrap().is_empty());
    assert!(patterns("errors {\n stacktrace\n}").unwrap().is_empty());
    let p =
        patterns("errors {\n consolidate 5m \".* i/o timeout$\" warning show_first\n}").unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].period, Duration::from_secs(300));
    assert_eq!(p[0].level, Level::Warning);
    assert!(p[0].show_first);
    let p = patterns("errors {\n consolidate 30s ^a\n consolidate 1m ^b info\n}").unwrap();
    assert_eq!((p[0].level, p[1].level), (Level::Error, Level::Info));
}

#[test]
fn setup_errors() {
    let rows = [
        ("errors file.log", "Testfile:1 - Error during parsing: invalid log file: file.log"),
        (
            "errors a b",
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'b'",
        ),
        (
            "errors {\n nope\n}",
            "Testfile:2 - Syntax error: Unexpected token 'nope', expecting 'Unknown field nope'",
        ),
        (
            "errors {\n consolidate 1m\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '1m'",
        ),
        (
            "errors {\n consolidate xx .*\n}",
            "Testfile:2 - Error during parsing: time: invalid duration \"xx\"",
        ),
        (
            "errors {\n consolidate 1m .* error info\n}",
            "Testfile:2 - Error during parsing: multiple log levels specified in consolidate",
        ),
        (
            "errors {\n consolidate 1m .* show_first info\n}",
            "Testfile:2 - Error during parsing: log level must come before show_first in consolidate",
        ),
        (
            "errors {\n consolidate 1m .* loud\n}",
            "Testfile:2 - Error during parsing: unknown option in consolidate: loud",
        ),
    ];
    for (input, want) in rows {
        assert_eq!(patterns(input).unwrap_err(), want, "{input}");
    }
    let long = format!("errors {{\n consolidate 1m {}\n}}", "a".repeat(MAX_REGEXP_LEN + 1));
    assert!(patterns(&long).unwrap_err().ends_with("regex pattern too long: 10001 > 10000"));
    assert!(
        patterns("errors {\n consolidate 1m (\n}").unwrap_err().contains("error parsing regexp")
    );
}

fn errors(input: &str) -> Errors {
    Errors { patterns: patterns(input).unwrap(), stopped: Arc::default() }
}

#[test]
fn lines_in_coredns_shape() {
    let e = errors("errors");
    let req = test_util::request("Example.ORG.", RecordType::AAAA);
    let err = PluginError::servfail("read udp 10.0.0.1:53: i/o timeout");
    assert_eq!(
        e.line(&req, &err),
        Some((Level::Error, "2 example.org. AAAA: read udp 10.0.0.1:53: i/o timeout".to_string()))
    );
    let refused = PluginError::new(ResponseCode::Refused, "plugin/forward: too many queries");
    assert_eq!(
        e.line(&req, &refused).unwrap().1,
        "5 example.org. AAAA: plugin/forward: too many queries"
    );
}

#[tokio::test]
async fn consolidation_absorbs_matching_errors() {
    let e = errors("errors {\n consolidate 1h timeout$ warning\n}");
    let req = test_util::request("a.test.", RecordType::A);
    let timeout = PluginError::servfail("read: i/o timeout");
    for _ in 0..5 {
        assert_eq!(e.line(&req, &timeout), None, "absorbed");
    }
    assert_eq!(e.patterns[0].count.load(Ordering::Acquire), 5);
    // Other errors are still logged one by one.
    assert!(e.line(&req, &PluginError::servfail("no healthy proxies")).is_some());
    // show_first lets the first one through, then absorbs.
    let f = errors("errors {\n consolidate 1h timeout$ show_first\n}");
    assert!(f.line(&req, &timeout).is_some());
    assert_eq!(f.line(&req, &timeout), None);
}

/// The line that ends a period: CoreDNS's words, the count, the pattern and the period in Go's
/// form; then a new period starts from nothing.
#[tokio::test]
async fn a_period_ends_with_one_summary_line() {
    let e = errors("errors {\n consolidate 90s timeout$ warning\n}");
    let req = test_util::request("a.test.", RecordType::A);
    let timeout = PluginError::servfail("read: i/o timeout");
    for _ in 0..5 {
        e.line(&req, &timeout);
    }
    let p = &e.patterns[0];
    assert_eq!(p.level, Level::Warning);
    assert_eq!(p.summary().as_deref(), Some("5 errors like 'timeout$' occurred in last 1m30s"));
    assert_eq!(p.summary(), None, "a period without errors says nothing");
    // With show_first, a lone error was logged already: no summary; two make one.
    let f = errors("errors {\n consolidate 1h timeout$ show_first\n}");
    f.line(&req, &timeout);
    assert_eq!(f.patterns[0].summary(), None);
    f.line(&req, &timeout);
    f.line(&req, &timeout);
    let line = f.patterns[0].summary();
    assert_eq!(line.as_deref(), Some("2 errors like 'timeout$' occurred in last 1h0m0s"));
}

/// A reply in either form comes back as the next plugin wrote it; an error comes back too.
#[test]
fn passes_replies_through() {
    let plugin = setup(&mut Controller::from_text("errors")).unwrap().unwrap();
    for form in Form::BOTH {
        let req = test_util::request("a.test.", RecordType::A);
        let result = test_util::serve_before(plugin.clone(), test_util::empty_answer, form, req);
        assert_eq!(matches!(result, Ok(Reply::Wire { .. })), form == Form::Wire, "{form:?}");
        let msg = test_util::reply_message(result);
        assert!(msg.metadata.authoritative, "the next plugin's reply ({form:?})");
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    }
    let result = test_util::serve(vec![plugin], test_util::request("a.test.", RecordType::A));
    assert_eq!(result.unwrap_err().to_string(), "plugin/errors: no next plugin found");
}
