//! The apex NS answer and `ns.dns.ZONE`, as CoreDNS 1.14.7's `nsAddrs` gives them: the Services
//! whose endpoints hold one of the server's addresses, or `ns.dns.ZONE` with those addresses.

use std::sync::Arc;

use arc_swap::ArcSwap;
use plugin_api::Controller;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Case, assert_case, reply_message, rr};

use super::{ep, ips, port, svc};
use crate::handler::Kubernetes;
use crate::index::Index;
use crate::objects::{Kind, Slice};
use crate::setup;

const COREFILE: &str = "kubernetes cluster.local {\n ttl 30\n}";

fn slice(ns: &str, service: &str, ips: &[&str]) -> Slice {
    Slice {
        name: format!("{service}-1").into(),
        namespace: ns.into(),
        service: service.into(),
        endpoints: ips.iter().map(|ip| ep(ip, None, true)).collect(),
        ports: vec![port("dns", "udp", 53)],
        cluster: None,
        zones: Box::default(),
    }
}

/// A cluster whose DNS Pods (10.244.0.53 and .54) are behind `dns-default` and
/// `dns-metrics`, and whose `resolver` headless Service has 10.244.9.9.
fn index() -> Index {
    let services = vec![
        svc("openshift-dns", "dns-default", ips(&["172.30.0.10"]), vec![port("dns", "udp", 53)]),
        svc("openshift-dns", "dns-metrics", ips(&["172.30.0.11"]), vec![port("dns", "udp", 53)]),
        svc("infra", "resolver", Kind::Headless, vec![port("dns", "udp", 53)]),
    ];
    let slices = vec![
        slice("openshift-dns", "dns-default", &["10.244.0.53", "10.244.0.54"]),
        slice("openshift-dns", "dns-metrics", &["10.244.0.53"]),
        slice("infra", "resolver", &["10.244.9.9"]),
    ];
    let services = services.into_iter().map(Arc::new).collect();
    let slices = slices.into_iter().map(Arc::new).collect();
    Index::build(services, slices, vec![], vec![], 1_700_000_000)
}

fn on(local: &[&str]) -> Arc<dyn plugin_api::Plugin> {
    let o = setup::parse(&mut Controller::from_text(COREFILE)).unwrap();
    let local: Vec<std::net::IpAddr> = local.iter().map(|ip| ip.parse().unwrap()).collect();
    Arc::new(Kubernetes {
        o: Arc::new(o),
        index: Arc::new(ArcSwap::from_pointee(index())),
        upstream: Arc::default(),
        fast_path: true,
        local_ips: Arc::new(local.into()),
    })
}

fn check(p: &Arc<dyn plugin_api::Plugin>, case: &Case) {
    let msg = reply_message(test_util::serve(vec![p.clone()], case.request()));
    assert_case(case, &msg);
}

#[test]
fn the_services_of_the_servers_own_pod() {
    let p = on(&["10.244.0.53"]);
    check(
        &p,
        &Case {
            answer: vec![
                rr("cluster.local. 30 IN NS dns-default.openshift-dns.svc.cluster.local."),
                rr("cluster.local. 30 IN NS dns-metrics.openshift-dns.svc.cluster.local."),
            ],
            extra: vec![
                rr("dns-default.openshift-dns.svc.cluster.local. 30 IN A 172.30.0.10"),
                rr("dns-metrics.openshift-dns.svc.cluster.local. 30 IN A 172.30.0.11"),
            ],
            ..Case::new("cluster.local.", RecordType::NS, ResponseCode::NoError)
        },
    );
    // ns.dns.ZONE answers the same addresses.
    check(
        &p,
        &Case {
            answer: vec![
                rr("ns.dns.cluster.local. 30 IN A 172.30.0.10"),
                rr("ns.dns.cluster.local. 30 IN A 172.30.0.11"),
            ],
            ..Case::new("ns.dns.cluster.local.", RecordType::A, ResponseCode::NoError)
        },
    );
}

#[test]
fn a_headless_service_names_its_endpoints() {
    let p = on(&["10.244.9.9"]);
    check(
        &p,
        &Case {
            answer: vec![rr(
                "cluster.local. 30 IN NS 10-244-9-9.resolver.infra.svc.cluster.local.",
            )],
            extra: vec![rr("10-244-9-9.resolver.infra.svc.cluster.local. 30 IN A 10.244.9.9")],
            ..Case::new("cluster.local.", RecordType::NS, ResponseCode::NoError)
        },
    );
}

#[test]
fn outside_the_cluster_ns_dns_with_the_servers_addresses() {
    let p = on(&["192.0.2.10", "2001:db8::10"]);
    check(
        &p,
        &Case {
            answer: vec![rr("cluster.local. 30 IN NS ns.dns.cluster.local.")],
            extra: vec![
                rr("ns.dns.cluster.local. 30 IN A 192.0.2.10"),
                rr("ns.dns.cluster.local. 30 IN AAAA 2001:db8::10"),
            ],
            ..Case::new("cluster.local.", RecordType::NS, ResponseCode::NoError)
        },
    );
    check(
        &p,
        &Case {
            answer: vec![rr("ns.dns.cluster.local. 30 IN AAAA 2001:db8::10")],
            ..Case::new("ns.dns.cluster.local.", RecordType::AAAA, ResponseCode::NoError)
        },
    );
}
