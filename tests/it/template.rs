//! *template* over sockets, in front of *hosts*, *kubernetes* (manifests) and *forward* to a real
//! upstream: what it answers itself, what it passes on, a CNAME it makes followed through the
//! block, the AAAA filter, a failing template, and its metrics.
//!
//! The metrics are process-wide and other tests (the README examples, the fuzz inputs) serve
//! templates too, so each test here uses zones of its own.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};

use crate::binary::Scratch;
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80, protocol: TCP}]}
";

#[tokio::test(flavor = "multi_thread")]
async fn templates_answer_and_pass_on_in_front_of_hosts_kubernetes_and_forward() {
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.44".parse().unwrap(), 60)).await;
    let dir = Scratch::new("template-chain");
    dir.write("svc.yaml", SERVICE);
    let s = TestServer::start(&format!(
        ".:0 {{
 prometheus localhost:0
 template IN A ipzone.test {{
  match ^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]ipzone[.]test[.]$
  answer \"{{{{ .Name }}}} 60 IN A {{{{ .Group.a }}}}.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}\"
  fallthrough
 }}
 template IN ANY alias.example {{
  answer \"alias.example. 30 IN CNAME web.default.svc.cluster.local.\"
 }}
 template IN ANY outside.example {{
  answer \"outside.example. 30 IN CNAME far.away.test.\"
 }}
 template ANY AAAA {{
  rcode NOERROR
 }}
 template IN ANY invalid {{
  rcode NXDOMAIN
  authority \"invalid. 60 {{{{ .Class }}}} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"
  ederror 21 \"Blocked according to RFC2606\"
 }}
 hosts {{
  10.1.1.1 listed.ipzone.test
  fallthrough
 }}
 kubernetes cluster.local {{
  manifests {}
 }}
 forward . {}
}}",
        dir.path().display(),
        upstream.addr
    ))
    .await;

    // Answered by the first template, over UDP and TCP.
    for reply in [
        s.udp("ip-10-2-3-4.ipzone.test.", RecordType::A).await,
        s.tcp("IP-10-2-3-4.ipzone.test.", RecordType::A).await,
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.metadata.authoritative);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reply.answers[0].data, RData::A("10.2.3.4".parse().unwrap()));
    }
    // Not matched, fallthrough: hosts answers it; then the upstream, for a name no one has.
    let hosts = s.udp("listed.ipzone.test.", RecordType::A).await;
    assert_eq!(answer_lines(&hosts), ["listed.ipzone.test. A 10.1.1.1"]);
    let forwarded = s.udp("nowhere.ipzone.test.", RecordType::A).await;
    assert_eq!(answer_lines(&forwarded), ["nowhere.ipzone.test. A 192.0.2.44"]);

    // A CNAME the template makes is followed through the block: to kubernetes, and out
    // through forward.
    let alias = s.udp("alias.example.", RecordType::A).await;
    assert_eq!(
        answer_lines(&alias),
        [
            "alias.example. CNAME web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. A 10.96.0.20"
        ]
    );
    let before = upstream.queries();
    let outside = s.tcp("outside.example.", RecordType::A).await;
    assert_eq!(
        answer_lines(&outside),
        ["outside.example. CNAME far.away.test.", "far.away.test. A 192.0.2.44"]
    );
    assert_eq!(upstream.queries() - before, 1, "the CNAME target went upstream once");
    // Other types than A and AAAA get the CNAME alone.
    let txt = s.udp("alias.example.", RecordType::TXT).await;
    assert_eq!(answer_lines(&txt), ["alias.example. CNAME web.default.svc.cluster.local."]);

    // The AAAA filter: NOERROR and nothing, for cluster names and outside ones alike, and the
    // upstream is never asked.
    let before = upstream.queries();
    for name in ["web.default.svc.cluster.local.", "nowhere.ipzone.test."] {
        let reply = s.udp(name, RecordType::AAAA).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(reply.answers.is_empty() && reply.authorities.is_empty(), "{name}: {reply:?}");
    }
    assert_eq!(upstream.queries(), before);

    // NXDOMAIN with an SOA and an extended error, which the client sees in its OPT.
    let asked = with_edns(query("x.invalid.", RecordType::MX), 1232, 0);
    let reply = udp_exchange(s.addr, &asked).await.expect("a reply");
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    let edns = reply.edns.as_ref().expect("OPT");
    let ede = match edns.options().get(EdnsCode::from(15)) {
        Some(EdnsOption::Unknown(15, data)) => data.clone(),
        other => panic!("no extended error: {other:?}"),
    };
    assert_eq!(&ede[..2], &21u16.to_be_bytes());
    assert_eq!(&ede[2..], b"Blocked according to RFC2606");

    // Every matched query counted, under the query's class and type.
    let samples = scrape(&s).await;
    let matched = metric(
        &samples,
        "coredns_template_matches_total",
        &[("zone", "ipzone.test."), ("class", "IN"), ("type", "A")],
    );
    assert_eq!(matched, Some(2.0), "the two ip-… queries");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_template_is_servfail_and_counted() {
    let s = TestServer::start(
        ".:0 {
 prometheus localhost:0
 errors
 template IN TXT failing.test {
  answer \"{{ .Name }} 60 IN TXT \\\"{{ index .Match 2 }}\\\"\"
 }
}",
    )
    .await;
    let reply = s.udp("a.failing.test.", RecordType::TXT).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let samples = scrape(&s).await;
    let failed = metric(
        &samples,
        "coredns_template_template_failures_total",
        &[
            ("zone", "failing.test."),
            ("class", "IN"),
            ("type", "TXT"),
            ("section", "answer"),
            ("template", "{{.Name}} 60 IN TXT \"{{index .Match 2}}\""),
        ],
    );
    assert_eq!(failed, Some(1.0));
    // The server goes on answering.
    let again = s.tcp("b.failing.test.", RecordType::TXT).await;
    assert_eq!(again.metadata.response_code, ResponseCode::ServFail);
    s.stop().await;
}
