//! *k8s_external* over real sockets, with *kubernetes* behind it: the seed's LoadBalancer
//! (MetalLB's 192.168.1.150) from its manifests, every name form CoreDNS's `external_test.go`
//! covers, a load balancer's host name followed through the block, and a status change through
//! the real kube client.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::json;

use crate::binary::Scratch;
use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES};

const MANIFESTS: &str = "apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: testns}
spec: {type: LoadBalancer, clusterIP: 10.96.1.1, ports: [{name: http, port: 80, protocol: TCP}]}
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
---
apiVersion: v1
kind: Service
metadata: {name: svc6, namespace: testns}
spec: {clusterIP: 10.96.1.6, externalIPs: [\"1:2::5\"], ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {name: elb, namespace: testns}
spec: {type: LoadBalancer, clusterIP: 10.96.1.7, ports: [{name: http, port: 80, protocol: TCP}, {name: https, port: 443, protocol: TCP}]}
status: {loadBalancer: {ingress: [{hostname: lb-1234.elb.example.net}]}}
---
apiVersion: v1
kind: Service
metadata: {name: hdls1, namespace: testns}
spec: {clusterIP: None, ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hdls1-1, namespace: testns, labels: {kubernetes.io/service-name: hdls1}}
addressType: IPv4
endpoints: [{addresses: [1.2.3.5], hostname: endpoint-svc-0, conditions: {ready: true}}]
ports: [{name: http, port: 80, protocol: TCP}]
";

async fn server(dir: &Scratch) -> TestServer {
    dir.write("manifests.yaml", MANIFESTS);
    TestServer::start(&format!(
        ".:0 {{
    k8s_external example.com in-addr.arpa {{
        headless
    }}
    kubernetes cluster.local {{
        manifests {}
    }}
    hosts {{
        203.0.113.9 lb-1234.elb.example.net
        fallthrough
    }}
}}",
        dir.join("manifests.yaml").display()
    ))
    .await
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `name`/`qtype`: the rcode, the answers, the authority and additional records, as
/// `OWNER TTL TYPE DATA` lines.
async fn ask(
    s: &TestServer,
    name: &str,
    qtype: RecordType,
) -> (ResponseCode, Vec<String>, Vec<String>, Vec<String>) {
    let m = s.udp(name, qtype).await;
    assert!(m.metadata.authoritative, "{name} {qtype}: authoritative: {m:?}");
    let lines = |rs: &[hickory_proto::rr::Record]| {
        sorted(
            rs.iter()
                .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
                .collect(),
        )
    };
    (m.metadata.response_code, lines(&m.answers), lines(&m.authorities), lines(&m.additionals))
}

fn v(lines: &[&str]) -> Vec<String> {
    sorted(lines.iter().map(ToString::to_string).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn services_answer_under_the_external_zone() {
    let dir = Scratch::new("k8s-external");
    let s = server(&dir).await;
    use RecordType::*;
    let soa = "example.com. 5 SOA ns1.dns.example.com. hostmaster.dns.example.com.";
    let has_soa = |auth: &[String]| auth.len() == 1 && auth[0].starts_with(soa);

    // The load balancer's address, and its SRV with the address as glue.
    let (rcode, answer, _, _) = ask(&s, "svc1.testns.example.com.", A).await;
    assert_eq!(
        (rcode, answer),
        (ResponseCode::NoError, v(&["svc1.testns.example.com. 5 A 1.2.3.4"]))
    );
    for name in ["svc1.testns.example.com.", "_http._tcp.svc1.testns.example.com."] {
        let (rcode, answer, _, extra) = ask(&s, name, SRV).await;
        assert_eq!(rcode, ResponseCode::NoError, "{name}");
        assert_eq!(
            answer,
            v(&[&format!("{name} 5 SRV 0 100 80 svc1.testns.example.com.")]),
            "{name}"
        );
        assert_eq!(extra, v(&["svc1.testns.example.com. 5 A 1.2.3.4"]), "{name}");
    }
    // A port that no Service has, a Service or namespace that does not exist: NXDOMAIN.
    for name in [
        "*._not-udp-or-tcp.svc1.testns.example.com.",
        "svc0.testns.example.com.",
        "svc0.svc-nons.example.com.",
    ] {
        let (rcode, answer, auth, _) = ask(&s, name, SRV).await;
        assert_eq!((rcode, answer.len()), (ResponseCode::NXDomain, 0), "{name}");
        assert!(has_soa(&auth), "{name}: {auth:?}");
    }
    // The right name, the wrong type: NODATA.
    let (rcode, answer, auth, _) = ask(&s, "svc1.testns.example.com.", AAAA).await;
    assert_eq!((rcode, answer.len()), (ResponseCode::NoError, 0));
    assert!(has_soa(&auth));
    // spec.externalIPs, IPv6.
    let (_, answer, _, _) = ask(&s, "svc6.testns.example.com.", AAAA).await;
    assert_eq!(answer, v(&["svc6.testns.example.com. 5 AAAA 1:2::5"]));
    // A headless Service's endpoint, and the Service itself (`headless`).
    let (_, answer, _, _) = ask(&s, "endpoint-svc-0.hdls1.testns.example.com.", A).await;
    assert_eq!(answer, v(&["endpoint-svc-0.hdls1.testns.example.com. 5 A 1.2.3.5"]));
    let (_, answer, _, _) = ask(&s, "hdls1.testns.example.com.", A).await;
    assert_eq!(answer, v(&["hdls1.testns.example.com. 5 A 1.2.3.5"]));
    // A load balancer known by a host name: a CNAME, followed through the block (hosts).
    let (rcode, answer, _, _) = ask(&s, "elb.testns.example.com.", A).await;
    assert_eq!(rcode, ResponseCode::NoError);
    assert_eq!(
        answer,
        v(&[
            "elb.testns.example.com. 5 CNAME lb-1234.elb.example.net.",
            "lb-1234.elb.example.net. 3600 A 203.0.113.9"
        ])
    );
    // PTR of an external address.
    let (_, answer, _, _) = ask(&s, "4.3.2.1.in-addr.arpa.", PTR).await;
    assert_eq!(answer, v(&["4.3.2.1.in-addr.arpa. 5 PTR svc1.testns.example.com."]));
    // The apex and the name servers' label.
    let (_, answer, _, _) = ask(&s, "example.com.", SOA).await;
    assert!(has_soa(&answer), "{answer:?}");
    let (_, answer, _, extra) = ask(&s, "example.com.", NS).await;
    assert_eq!(answer, v(&["example.com. 5 NS ns1.dns.example.com."]));
    assert!(extra.iter().all(|r| r.starts_with("ns1.dns.example.com. 5 ")), "{extra:?}");
    let (rcode, answer, auth, _) = ask(&s, "dns.example.com.", A).await;
    assert_eq!((rcode, answer.len()), (ResponseCode::NoError, 0), "an empty non-terminal");
    assert!(has_soa(&auth));
    let (rcode, _, _, _) = ask(&s, "ns2.dns.example.com.", A).await;
    assert_eq!(rcode, ResponseCode::NXDomain);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancers_new_address_is_answered() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("shop"));
    let mut web = service("shop", "web", "10.96.3.3");
    web["spec"]["type"] = json!("LoadBalancer");
    api.apply(SERVICES, web.clone());
    let s = TestServer::start(&format!(
        ".:0 {{\n k8s_external example.com\n kubernetes cluster.local {{\n  endpoint http://{}\n }}\n}}",
        api.addr
    ))
    .await;
    let a = s.udp("web.shop.example.com.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NXDomain, "no address yet");
    web["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.150"}]}});
    api.apply(SERVICES, web);
    wait_until("the new address is answered", || async {
        let a = s.udp("web.shop.example.com.", RecordType::A).await;
        answer_lines(&a) == ["web.shop.example.com. A 192.168.1.150"]
    })
    .await;
    s.stop().await;
}
