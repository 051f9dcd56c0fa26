//! docker/monitoring/: the Prometheus alerting rules pass `promtool check rules` and their unit
//! tests (`promtool test rules`), and every `coredns_*` series the rules and the Grafana
//! dashboard query is one ferrodns exports, shown on the /metrics of a server with every
//! plugin that counts something on and each made to count; `promtool check metrics` passes on
//! that output. promtool is Debian's (package prometheus, which .ci/run installs).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::fake_api::{FakeApi, SLICES, namespace, service, triggered_slice};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES, until};
use crate::upstream::{Behaviour, Upstream};

fn monitoring(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docker/monitoring").join(file)
}

/// Runs promtool with `args` (and `stdin`), returning its exit status and output.
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(monitoring(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (.ci/run installs Debian's prometheus)");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_alerting_rules_check_and_their_unit_tests_pass() {
    let (ok, out) = promtool(&["check", "rules", "ferrodns-alerts.yaml"], None);
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("SUCCESS: 10 rules found"), "{out}");
    let (ok, out) = promtool(&["test", "rules", "ferrodns-alerts.test.yaml"], None);
    assert!(ok, "promtool test rules:\n{out}");
}

/// The `coredns_*` series named in PromQL: the rules' `expr`s and the dashboard's targets.
fn queried_series() -> BTreeSet<String> {
    let rules = std::fs::read_to_string(monitoring("ferrodns-alerts.yaml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(monitoring("ferrodns-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut exprs: Vec<String> = Vec::new();
    let mut in_expr = false;
    for line in rules.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("expr:") {
            exprs.push(rest.to_string());
            in_expr = rest.trim() == "|";
        } else if in_expr && line.starts_with("            ") {
            exprs.push(line.to_string());
        } else {
            in_expr = false;
        }
    }
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 12, "the dashboard has its panels");
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("an expr").to_string());
        }
    }
    let mut names = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("coredns_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

/// Every plugin that exports metrics, each made to count: queries, cache hits, a forwarded
/// query, a dead upstream's failed health checks, a Kubernetes API in sync and an endpoint
/// change, a rate-limited and an ACL-blocked client, a reload.
#[tokio::test(flavor = "multi_thread")]
async fn every_series_the_dashboard_and_the_alerts_query_is_exported() {
    let names = queried_series();
    for must in [
        "coredns_dns_requests_total",
        "coredns_proxy_request_duration_seconds_bucket",
        "coredns_kubernetes_dns_programming_duration_seconds_bucket",
        "coredns_panics_total",
    ] {
        assert!(names.contains(must), "{must} is queried: {names:?}");
    }

    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.0.20"));
    api.apply(SERVICES, service("default", "peers", "None"));
    let up = Upstream::start(Behaviour::Answer(std::net::Ipv4Addr::new(192, 0, 2, 9), 60)).await;
    // Nothing listens there: exchanges are refused and the health checks fail.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = TestServer::start(&format!(
        "limited.test:0 {{\n prometheus localhost:0\n ratelimit 1 {{\n  burst 1\n }}\n whoami\n}}\n\
         blocked.test:0 {{\n prometheus localhost:0\n acl {{\n  drop type AAAA net 0.0.0.0/0 ::/0\n  block net 0.0.0.0/0 ::/0\n }}\n whoami\n}}\n\
         cluster.local:0 {{\n prometheus localhost:0\n kubernetes cluster.local {{\n  endpoint http://{}\n }}\n}}\n\
         dead.test:0 {{\n prometheus localhost:0\n forward . {dead} {{\n  health_check 100ms\n  max_fails 1\n }}\n}}\n\
         .:0 {{\n prometheus localhost:0\n reload\n cache 30\n forward . {}\n}}\n",
        api.addr, up.addr
    ))
    .await;
    // One query a second: the second and third are dropped, their replies never come.
    for _ in 0..3 {
        let q = query("a.limited.test.", RecordType::A);
        let _ = tokio::time::timeout(Duration::from_millis(300), udp_exchange(s.addr, &q)).await;
    }
    assert_eq!(
        s.udp("a.blocked.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::Refused
    );
    let q = query("a.blocked.test.", RecordType::AAAA);
    let dropped = tokio::time::timeout(Duration::from_millis(300), udp_exchange(s.addr, &q)).await;
    assert!(dropped.is_err(), "acl drops AAAA queries: no reply");
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    // An endpoint change of a headless Service, stamped by the endpoint controller.
    let triggered = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    api.apply(SLICES, triggered_slice("default", "peers", "peers-abc", "10.244.0.7", triggered));
    until(&s, "peers.default.svc.cluster.local.", ResponseCode::NoError).await;
    for _ in 0..2 {
        assert_eq!(
            s.udp("www.example.", RecordType::A).await.metadata.response_code,
            ResponseCode::NoError
        );
    }
    assert_eq!(
        s.udp("x.dead.test.", RecordType::A).await.metadata.response_code,
        ResponseCode::ServFail
    );

    let metrics = s.instance.http_addr("localhost:0").expect("the metrics listener");
    let mut missing = Vec::new();
    let mut text = String::new();
    // The dead upstream's health checks run every 100 ms after the failed exchange.
    for _ in 0..50 {
        text = http_get(metrics, "/metrics").await.1;
        missing = names.iter().filter(|n| !exported(&text, n)).cloned().collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics:\n{out}");
    s.stop().await;
    api.stop();
}

/// Whether the exposition has a sample of `name` (a family's own name, or a histogram's
/// `_bucket`, `_count` or `_sum`).
fn exported(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}
