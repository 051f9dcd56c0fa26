//! Every distribution's default Corefile in corefile-examples/distros/, served as it ships by
//! the real binary in a mount namespace of its own: the Pod's service account pointing at a
//! test API server (as tests/it/kube_in_cluster.rs sets it up), the files the distribution
//! mounts (k3s's /etc/coredns/NodeHosts and custom/) in place, and, as the only changes, ports
//! moved to free ones and `forward` sent to a test upstream ([`crate::readme::for_test`]).
//! Each is asked a cluster name and a name outside the cluster, and what is particular to it.
//! Needs root, as CI and this repository's machine have.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::binary::{Running, Scratch};
use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES};
use crate::kube_in_cluster::{service_account, spawn_in_cluster};
use crate::upstream::{Behaviour, TestPki, Upstream};

pub fn distro(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corefile-examples/distros").join(name)
}

/// A distribution's server, running, and what it was started against.
pub struct Started {
    pub process: Running,
    /// Where it answers, on loopback.
    pub dns: SocketAddr,
    _api: Arc<FakeApi>,
    /// The test upstream its `forward` lines point at: it answers every A question 192.0.2.99.
    pub upstream: Upstream,
    _dir: Scratch,
}

/// Starts distribution `name`'s Corefile against a test API server that has the Service
/// `web.default` at 10.96.0.50.
pub async fn start(name: &str) -> Started {
    let pki = TestPki::new("localhost");
    let api = FakeApi::start_tls(pki.server_config.clone()).await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.0.50"));
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.99".parse().unwrap(), 60)).await;
    let shipped = std::fs::read_to_string(distro(name).join("Corefile")).unwrap();
    let dir = Scratch::new(&format!("distro-{name}"));
    let mut setup = service_account(&dir, &pki.ca_pem);
    let conf = dir.write("Corefile", &crate::readme::for_test(&shipped, upstream.addr));
    // What the distribution mounts at /etc/coredns, in a tmpfs of the namespace's own: k3s's
    // NodeHosts (and its custom/ directory), kubespray's hosts.
    let node_hosts = distro(name).join("NodeHosts");
    let hosts = distro(name).join("hosts");
    if node_hosts.exists() || hosts.exists() {
        setup.push_str(" && mkdir -p /etc/coredns && mount -t tmpfs none /etc/coredns");
    }
    if node_hosts.exists() {
        setup.push_str(&format!(
            " && cp {} /etc/coredns/NodeHosts && mkdir /etc/coredns/custom",
            node_hosts.display()
        ));
    }
    if hosts.exists() {
        setup.push_str(&format!(" && cp {} /etc/coredns/hosts", hosts.display()));
    }
    let mut process = spawn_in_cluster(&setup, &conf, &dir, &api);
    let dns = process.port_of(".");
    Started { process, dns, _api: api, upstream, _dir: dir }
}

/// The answers' data to `qname`/`qtype`, over UDP.
pub async fn answers(dns: SocketAddr, qname: &str, qtype: RecordType) -> Vec<String> {
    let reply = udp_exchange(dns, &query(qname, qtype)).await.expect("a reply");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{qname}: {reply:?}");
    reply.answers.iter().map(|r| r.data.to_string()).collect()
}

/// The cluster's Service and a name outside the cluster, asked of a started distribution.
async fn serves_the_cluster_and_the_world(s: &mut Started) {
    let web = answers(s.dns, "web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(web, ["10.96.0.50"], "log: {:?}", s.process.drain());
    let outside = answers(s.dns, "www.example.org.", RecordType::A).await;
    assert_eq!(outside, ["192.0.2.99"], "log: {:?}", s.process.drain());
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeadm() {
    let mut s = start("kubeadm").await;
    serves_the_cluster_and_the_world(&mut s).await;
    s.process.signal("TERM");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_helm_chart() {
    let mut s = start("helm").await;
    serves_the_cluster_and_the_world(&mut s).await;
    // Its 5 s lameduck: SIGQUIT, which skips it.
    s.process.signal("QUIT");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn k3s_with_its_node_hosts() {
    let mut s = start("k3s").await;
    serves_the_cluster_and_the_world(&mut s).await;
    assert_eq!(answers(s.dns, "k3s-agent-1.", RecordType::A).await, ["10.0.10.12"]);
    s.process.signal("TERM");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn openshift_with_bufsize_and_chaos() {
    let mut s = start("openshift").await;
    serves_the_cluster_and_the_world(&mut s).await;
    // hostname.bind in class CH, from its own block on the same port.
    let mut q = Query::query(Name::from_ascii("hostname.bind.").unwrap(), RecordType::TXT);
    q.set_query_class(DNSClass::CH);
    let mut msg = Message::query();
    msg.add_query(q);
    let reply = udp_exchange(s.dns, &msg).await.expect("a reply");
    assert_eq!(reply.answers.len(), 1, "{reply:?}");
    assert_eq!(reply.answers[0].dns_class, DNSClass::CH);
    // bufsize 512: a client asking for 4096 is told 512.
    let big = with_edns(query("web.default.svc.cluster.local.", RecordType::A), 4096, 0);
    let reply = udp_exchange(s.dns, &big).await.expect("a reply");
    assert_eq!(reply.edns.as_ref().map(|e| e.max_payload()), Some(512));
    // Its 20 s lameduck would hold SIGTERM; SIGQUIT skips it.
    s.process.signal("QUIT");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn eks() {
    let mut s = start("eks").await;
    serves_the_cluster_and_the_world(&mut s).await;
    // Its 5 s lameduck: SIGQUIT, which skips it.
    s.process.signal("QUIT");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rke2() {
    let mut s = start("rke2").await;
    serves_the_cluster_and_the_world(&mut s).await;
    s.process.signal("QUIT");
    assert_eq!(s.process.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn aks_with_its_templates() {
    let mut s = start("aks").await;
    serves_the_cluster_and_the_world(&mut s).await;
    // Search-path expansions Azure DNS could only fail on are answered here, not forwarded.
    let asked = s.upstream.client_queries();
    for name in ["www.example.org.default.svc.internal.cloudapp.net.", "x.reddog.microsoft.com."] {
        let reply = udp_exchange(s.dns, &query(name, RecordType::A)).await.expect("a reply");
        assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    // A VM's own name (fewer labels) still goes to Azure DNS.
    assert_eq!(answers(s.dns, "vm1.internal.cloudapp.net.", RecordType::A).await, ["192.0.2.99"]);
    assert_eq!(s.upstream.client_queries(), asked + 1, "only the VM's name was forwarded");
    s.process.signal("QUIT");
    assert_eq!(s.process.wait_exit(), 0);
}

/// Kubespray's blocks without a port listen on 53: the test runs on a node of its own (a network
/// namespace), where 53 is free.
#[test]
fn kubespray_with_its_optional_blocks() {
    crate::netns::on_node("eth0", &["10.233.0.3"], || async {
        let mut s = start("kubespray").await;
        serves_the_cluster_and_the_world(&mut s).await;
        let port53 = SocketAddr::from(([127, 0, 0, 1], 53));
        // dns_etchosts, in the external zone's block, ahead of its forward.
        assert_eq!(answers(port53, "api.example.com.", RecordType::A).await, ["192.168.0.100"]);
        // The external zone forwards (to the test upstream); the rest of the world too.
        assert_eq!(answers(port53, "www.example.com.", RecordType::A).await, ["192.0.2.99"]);
        // rewrite_block: NAME.my.domain is the Service NAME.svc.cluster.local, named back.
        let reply = udp_exchange(s.dns, &query("web.default.my.domain.", RecordType::A))
            .await
            .expect("a reply");
        assert_eq!(answer_lines(&reply), ["web.default.my.domain. A 10.96.0.50"]);
        s.process.signal("QUIT");
        assert_eq!(s.process.wait_exit(), 0);
    });
}
