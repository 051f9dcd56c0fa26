//! The node-local DNS caches of corefile-examples/distros/ (NodeLocal DNSCache as Kubernetes,
//! RKE2 and Kubespray ship it, and AKS LocalDNS), served as shipped by the real binary on a node
//! the test makes: a network namespace whose dummy interface holds the cache's addresses
//! ([`crate::netns`]), so that their `bind` lines, ports 53, 8080, 8181, 9253 and 9254 and all,
//! work unchanged. Behind the cache runs the cluster's own DNS: the kubeadm Corefile on the real
//! binary against a test API server ([`crate::distros::start`]), whose Service `web.default` is
//! at 10.96.0.50, and whose test upstream answers every outside name 192.0.2.99.
//!
//! The one change to each Corefile is where its `forward` lines go, as kube-proxy would take
//! them: to the cluster DNS for the Service address the cache forwards the cluster's zones to,
//! to the test upstream for any other target (the node's resolvers, Azure DNS, public ones).
//! Needs root, as CI and this repository's machine have.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use tokio::net::{TcpStream, UdpSocket};

use crate::binary::{Running, Scratch};
use crate::distros::{Started, distro, start};
use crate::harness::{http_get, metric, parse_exposition, query, read_frame, write_frame};
use crate::netns;

/// A node-local cache, running, and the cluster DNS behind it.
struct NodeCache {
    process: Running,
    cluster: Started,
    _dir: Scratch,
}

/// Starts `file` (under corefile-examples/distros) with its `forward` lines for `cluster_ip`
/// pointed at a running cluster DNS and the others at the test upstream, with `mounts` (a file
/// beside the Corefile, and where the distribution mounts it) in place, and waits for the
/// start-up line `ready_line`.
async fn start_cache(
    file: &str,
    cluster_ip: &str,
    mounts: &[(&str, &str)],
    ready_line: &str,
) -> NodeCache {
    let cluster = start("kubeadm").await;
    let shipped = std::fs::read_to_string(distro(file)).unwrap();
    let text = point_forwards(&shipped, cluster_ip, cluster.dns, cluster.upstream.addr);
    let dir = Scratch::new(&format!("node-cache-{}", file.replace('/', "-")));
    let conf = dir.write("Corefile", &text);
    let mut setup = String::from("true");
    for (name, target) in mounts {
        let source = distro(Path::new(file).parent().unwrap().to_str().unwrap()).join(name);
        let parent = Path::new(target).parent().unwrap().display().to_string();
        setup.push_str(&format!(
            " && mkdir -p {parent} && mount -t tmpfs none {parent} && cp {} {target}",
            source.display()
        ));
    }
    let args = ["-conf", conf.to_str().unwrap()];
    let mut process = Running::spawn_in_mount_namespace(&setup, &args, dir.path(), &[], &[]);
    process.wait_line(|l| l == ready_line);
    NodeCache { process, cluster, _dir: dir }
}

/// `forward FROM TO... [{]` lines: to `cluster` if a target is `cluster_ip`, else to `world`.
fn point_forwards(text: &str, cluster_ip: &str, cluster: SocketAddr, world: SocketAddr) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let words: Vec<&str> = body.split_whitespace().collect();
        if words.first() == Some(&"forward") && words.len() >= 3 {
            let to = if words[2..].contains(&cluster_ip) { cluster } else { world };
            let block = if words.last() == Some(&"{") { " {" } else { "" };
            out.push_str(&format!("{indent}forward {} {to}{block}\n", words[1]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn at(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(addr.parse::<IpAddr>().unwrap(), port)
}

/// Asks `msg` over UDP from an unbound socket; `None` if nothing comes back within 2 s.
async fn udp(addr: SocketAddr, msg: &Message) -> Option<Message> {
    let sock = UdpSocket::bind("0.0.0.0:0").await.expect("bind client");
    sock.send_to(&msg.to_vec().unwrap(), addr).await.ok()?;
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(Message::from_vec(&buf[..n]).expect("reply decodes")),
        _ => None,
    }
}

/// The reply's rcode and answer data for `name`/`qtype` asked at `addr` over UDP.
async fn ask(addr: SocketAddr, name: &str, qtype: RecordType) -> (ResponseCode, Vec<String>) {
    let reply = udp(addr, &query(name, qtype)).await.unwrap_or_else(|| panic!("{addr}: {name}"));
    (reply.metadata.response_code, reply.answers.iter().map(|r| r.data.to_string()).collect())
}

fn ok(answers: &[&str]) -> (ResponseCode, Vec<String>) {
    (ResponseCode::NoError, answers.iter().map(ToString::to_string).collect())
}

/// The cluster's Service and an outside name, at each of `addrs` on port 53, over UDP and TCP;
/// and nothing on loopback's port 53, where no block binds.
async fn serves_the_node(cache: &mut NodeCache, addrs: &[&str]) {
    let web = "web.default.svc.cluster.local.";
    for addr in addrs.iter().map(|a| at(a, 53)) {
        let got = ask(addr, web, RecordType::A).await;
        let log = [cache.process.drain(), cache.cluster.process.drain()].concat();
        assert_eq!(
            got,
            ok(&["10.96.0.50"]),
            "{addr}; the cache's log, then the cluster's: {log:?}"
        );
        let outside = ask(addr, "www.example.org.", RecordType::A).await;
        assert_eq!(outside, ok(&["192.0.2.99"]), "{addr}");
        let mut stream = TcpStream::connect(addr).await.expect("TCP");
        write_frame(&mut stream, &query(web, RecordType::A).to_vec().unwrap()).await;
        let reply = Message::from_vec(&read_frame(&mut stream).await.expect("TCP reply")).unwrap();
        assert_eq!(reply.answers.len(), 1, "{addr} over TCP: {reply:?}");
    }
    assert!(udp(at("127.0.0.1", 53), &query(web, RecordType::A)).await.is_none());
    // Each answer went through the cluster DNS, which the cache reached.
    assert!(cache.cluster.upstream.client_queries() > 0, "outside names went the whole way");
}

/// The Service's reverse name at each of `addrs`: its in-addr.arpa block forwards to the
/// cluster DNS.
async fn answers_reverse_names(addrs: &[&str]) {
    for addr in addrs.iter().map(|a| at(a, 53)) {
        let reverse = ask(addr, "50.0.96.10.in-addr.arpa.", RecordType::PTR).await;
        assert_eq!(reverse, ok(&["web.default.svc.cluster.local."]), "{addr}");
    }
}

/// `coredns_dns_requests_total` of `server` (`dns://169.254.20.10:53`), scraped from `metrics`.
async fn requests_of(metrics: SocketAddr, server: &str) -> f64 {
    let (status, body) = http_get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let of = |zone: &str| {
        let want =
            [("server", server), ("zone", zone), ("proto", "udp"), ("family", "1"), ("type", "A")];
        metric(&samples, "coredns_dns_requests_total", &want).unwrap_or(0.0)
    };
    of("cluster.local.") + of(".")
}

async fn stop(mut cache: NodeCache) {
    cache.process.signal("TERM");
    assert_eq!(cache.process.wait_exit(), 0);
    cache.cluster.process.signal("QUIT");
    assert_eq!(cache.cluster.process.wait_exit(), 0);
}

#[test]
fn nodelocal_dns_cache() {
    netns::on_node("nodelocaldns", &["169.254.20.10", "10.96.0.10"], || async {
        let ready = "cluster.local.:53 on 169.254.20.10";
        let mut cache = start_cache("nodelocaldns/Corefile", "10.96.0.11", &[], ready).await;
        serves_the_node(&mut cache, &["169.254.20.10", "10.96.0.10"]).await;
        answers_reverse_names(&["169.254.20.10", "10.96.0.10"]).await;
        let (status, _) = http_get(at("169.254.20.10", 8080), "/health").await;
        assert_eq!(status, 200, "health on the link-local address");
        // Each address is a listener of its own in the metrics, as in CoreDNS.
        let metrics = at("127.0.0.1", 9253);
        assert!(requests_of(metrics, "dns://169.254.20.10:53").await >= 2.0);
        assert!(requests_of(metrics, "dns://10.96.0.10:53").await >= 2.0);
        stop(cache).await;
    });
}

#[test]
fn rke2_node_local_cache() {
    netns::on_node("nodelocaldns", &["169.254.20.10", "10.43.0.10"], || async {
        let ready = "cluster.local.:53 on 10.43.0.10";
        let mut cache = start_cache("rke2/Corefile-nodelocal", "10.43.0.11", &[], ready).await;
        serves_the_node(&mut cache, &["169.254.20.10", "10.43.0.10"]).await;
        answers_reverse_names(&["169.254.20.10", "10.43.0.10"]).await;
        stop(cache).await;
    });
}

#[test]
fn kubespray_node_local_cache() {
    netns::on_node("nodelocaldns", &["169.254.25.10"], || async {
        let ready = "cluster.local.:53 on 169.254.25.10";
        let hosts = [("hosts", "/etc/coredns/hosts")];
        let mut cache =
            start_cache("kubespray/Corefile-nodelocal", "10.233.0.3", &hosts, ready).await;
        serves_the_node(&mut cache, &["169.254.25.10"]).await;
        answers_reverse_names(&["169.254.25.10"]).await;
        // dns_etchosts, in the external zone's block, ahead of its forward.
        let api = ask(at("169.254.25.10", 53), "api.example.com.", RecordType::A).await;
        assert_eq!(api, ok(&["192.168.0.100"]));
        // The external zone on its own port.
        let io = ask(at("169.254.25.10", 1053), "www.example.io.", RecordType::A).await;
        assert_eq!(io, ok(&["192.0.2.99"]));
        let (status, _) = http_get(at("169.254.25.10", 9254), "/health").await;
        assert_eq!(status, 200);
        stop(cache).await;
    });
}

/// The NSID a reply carries, asked for with an empty NSID option.
async fn nsid_at(addr: SocketAddr, name: &str) -> Option<String> {
    let mut q = query(name, RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut().insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
    q.set_edns(edns);
    let reply = udp(addr, &q).await?;
    match reply.edns.as_ref()?.options().get(EdnsCode::NSID)? {
        EdnsOption::NSID(payload) => Some(String::from_utf8_lossy(payload.as_ref()).into_owned()),
        _ => None,
    }
}

#[test]
fn aks_local_dns() {
    netns::on_node("localdns", &["169.254.10.10", "169.254.10.11"], || async {
        let ready = "health-check.localdns.local.:53 on 169.254.10.11";
        let hosts = [("hosts", "/etc/localdns/hosts")];
        let mut cache = start_cache("aks-localdns/Corefile", "10.0.0.10", &hosts, ready).await;
        // 169.254.10.10 takes the node's queries: outside names to Azure DNS, the cluster's to
        // CoreDNS. 169.254.10.11 takes the Pods': everything to CoreDNS, which forwards the
        // outside names itself.
        serves_the_node(&mut cache, &["169.254.10.10", "169.254.10.11"]).await;
        // Only the Pods' listener sends reverse names to CoreDNS; the node's sends them to
        // Azure DNS.
        answers_reverse_names(&["169.254.10.11"]).await;
        for (addr, id) in [("169.254.10.10", "localdns"), ("169.254.10.11", "localdns-pod")] {
            let addr = at(addr, 53);
            let probe = udp(addr, &query("health-check.localdns.local.", RecordType::A)).await;
            let probe = probe.expect("the health check name is answered");
            assert_eq!(probe.additionals.len(), 2, "whoami at {addr}: {probe:?}");
            assert_eq!(nsid_at(addr, "www.example.org.").await.as_deref(), Some(id), "{addr}");
            let mcr = ask(addr, "mcr.microsoft.com.", RecordType::A).await;
            assert_eq!(mcr, ok(&["20.61.99.68"]), "/etc/localdns/hosts at {addr}");
            let expansion = ask(addr, "a.b.c.d.internal.cloudapp.net.", RecordType::A).await;
            assert_eq!(expansion.0, ResponseCode::NXDomain, "template at {addr}");
            let (status, _) = http_get(SocketAddr::new(addr.ip(), 8181), "/ready").await;
            assert_eq!(status, 200, "ready at {addr}");
        }
        stop(cache).await;
    });
}
