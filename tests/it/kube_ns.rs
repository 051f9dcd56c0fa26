//! The apex NS answer over sockets, through the real kube client, on a node the test makes (a
//! network namespace whose one non-loopback address is the server Pod's, 10.244.0.53): the
//! cluster's DNS Service whose EndpointSlice holds that address is named, with its cluster IP
//! as glue; once the slice no longer holds it, `ns.dns.cluster.local` with the Pod's address.

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::fake_api::{FakeApi, labelled, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES};
use crate::netns;

const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";

fn dns_slice(address: &str) -> Value {
    let object = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "dns-default-1", "namespace": "openshift-dns"}, "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
        "ports": [{"name": "dns", "protocol": "UDP", "port": 5353}]});
    labelled(object, &[("kubernetes.io/service-name", "dns-default")])
}

fn lines(s: &[hickory_proto::rr::Record]) -> Vec<String> {
    s.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data)).collect()
}

#[test]
fn the_ns_answer_names_the_service_of_the_servers_pod() {
    netns::on_node("eth0", &["10.244.0.53"], || async {
        let api = FakeApi::start().await;
        api.apply(NAMESPACES, namespace("openshift-dns"));
        api.apply(SERVICES, service("openshift-dns", "dns-default", "172.30.0.10"));
        api.apply(SLICES, dns_slice("10.244.0.53"));
        let s = TestServer::start(&format!(
            ".:0 {{\n kubernetes cluster.local {{\n  endpoint http://{}\n }}\n}}",
            api.addr
        ))
        .await;
        let ns = s.udp("cluster.local.", RecordType::NS).await;
        assert_eq!(
            lines(&ns.answers),
            ["cluster.local. NS dns-default.openshift-dns.svc.cluster.local."]
        );
        assert_eq!(
            lines(&ns.additionals),
            ["dns-default.openshift-dns.svc.cluster.local. A 172.30.0.10"]
        );

        // The Pod moved: no slice holds the server's address any more.
        api.apply(SLICES, dns_slice("10.244.7.7"));
        wait_until("the NS answer follows the slice", || async {
            let ns = s.udp("cluster.local.", RecordType::NS).await;
            lines(&ns.answers) == ["cluster.local. NS ns.dns.cluster.local."]
        })
        .await;
        let ns = s.udp("cluster.local.", RecordType::NS).await;
        assert_eq!(lines(&ns.additionals), ["ns.dns.cluster.local. A 10.244.0.53"]);
        let a = s.udp("ns.dns.cluster.local.", RecordType::A).await;
        assert_eq!(lines(&a.answers), ["ns.dns.cluster.local. A 10.244.0.53"]);
        s.stop().await;
    });
}
