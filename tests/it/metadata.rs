//! *metadata* over real sockets, in the real binary: the kubernetes plugin publishes what a
//! query asks for and who asked (a client pod, with `pods verified`), and *log*, *template* and
//! *rewrite* read it. A block without *metadata* publishes nothing.

use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

/// The client: the tests query from 127.0.0.1, so the pod holding it is the client pod.
const MANIFESTS: &str = "apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.7.1, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: checkout-7d9f
  namespace: shop
  labels: {app: checkout, tier: web}
status: {podIP: 127.0.0.1}
";

fn corefile(manifests: &str, upstream: std::net::SocketAddr, metadata: bool) -> String {
    format!(
        ".:0 {{
    {}
    log . \"META {{/kubernetes/client-pod-name}} {{/kubernetes/client-namespace}} {{/kubernetes/client-label/app}} {{/kubernetes/namespace}} {{/kubernetes/service}} {{/kubernetes/kind}} {{/kubernetes/port-name}} {{/kubernetes/protocol}}\"
    template IN TXT who.example {{
        answer \"{{{{ .Name }}}} 60 IN TXT \\\"{{{{ .Meta \\\"kubernetes/client-pod-name\\\" }}}}\\\"\"
    }}
    rewrite edns0 local set 0xffee {{kubernetes/client-namespace}}
    kubernetes cluster.local {{
        pods verified
        manifests {manifests}
        fallthrough
    }}
    forward . {upstream}
}}
",
        if metadata { "metadata" } else { "" }
    )
}

async fn start(
    dir: &Scratch,
    metadata: bool,
    upstream: &Upstream,
) -> (Running, std::net::SocketAddr) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    dir.write("manifests/cluster.yaml", MANIFESTS);
    let manifests = dir.join("manifests").display().to_string();
    let conf = dir.write("Corefile", &corefile(&manifests, upstream.addr, metadata));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let addr = p.port_of(".");
    (p, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_publishes_and_log_template_and_rewrite_read() {
    let dir = Scratch::new("metadata");
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.99".parse().unwrap(), 60)).await;
    let (mut p, addr) = start(&dir, true, &upstream).await;

    let srv = query("_http._tcp.web.shop.svc.cluster.local.", RecordType::SRV);
    assert_eq!(udp_exchange(addr, &srv).await.expect("a reply").answers.len(), 1);
    let line = p.wait_line(|l| l.contains("META "));
    assert!(
        line.contains("META checkout-7d9f shop checkout shop web svc http tcp"),
        "the log line: {line}"
    );

    let who = udp_exchange(addr, &query("me.who.example.", RecordType::TXT)).await.unwrap();
    let line2 = p.wait_line(|l| l.contains("META "));
    assert_eq!(answer_lines(&who), ["me.who.example. TXT checkout-7d9f"], "{line2}");

    // rewrite sends the client's namespace upstream as an EDNS0 local option.
    let outside = udp_exchange(addr, &query("www.example.org.", RecordType::A)).await.unwrap();
    assert_eq!(outside.answers.len(), 1);
    let sent = upstream.options_asked();
    let tagged =
        sent.iter().flatten().flatten().any(|(code, data)| *code == 0xffee && data == b"shop");
    assert!(tagged, "the upstream saw the namespace: {sent:?}");
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_metadata_nothing_is_published() {
    let dir = Scratch::new("no-metadata");
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.99".parse().unwrap(), 60)).await;
    let (mut p, addr) = start(&dir, false, &upstream).await;
    let a = query("web.shop.svc.cluster.local.", RecordType::A);
    assert_eq!(udp_exchange(addr, &a).await.expect("a reply").answers.len(), 1);
    let line = p.wait_line(|l| l.contains("META "));
    assert!(line.contains("META - - - - - - - -"), "the log line: {line}");
    let who = udp_exchange(addr, &query("me.who.example.", RecordType::TXT)).await.unwrap();
    assert_eq!(answer_lines(&who), ["me.who.example. TXT "]);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}
