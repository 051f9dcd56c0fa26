//! The record table against an index filled directly, one `Case` table per kind of name.

use std::sync::Arc;

use arc_swap::ArcSwap;
use plugin_api::Controller;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::rdata::SRV;
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::test_util::{self, Case, assert_case, reply_message, rr};

use crate::handler::Kubernetes;
use crate::index::Index;
use crate::objects::{Endpoint, Kind, Port, Service, Slice};
use crate::setup;

fn port(name: &str, protocol: &str, port: u16) -> Port {
    Port { name: name.into(), protocol: protocol.to_string().into(), port }
}

fn svc(ns: &str, name: &str, kind: Kind, ports: Vec<Port>) -> Service {
    Service { name: name.into(), namespace: ns.into(), kind, ports, external: Box::default() }
}

fn ep(ip: &str, hostname: Option<&str>, ready: bool) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap(),
        hostname: hostname.map(Into::into),
        pod: Some(format!("pod-{ip}").into()),
        ready,
        zone: 0,
    }
}

fn ips(list: &[&str]) -> Kind {
    Kind::ClusterIp(list.iter().map(|i| i.parse().unwrap()).collect())
}

/// A small cluster: a ClusterIP service, a dual-stack one, a headless one with a StatefulSet
/// pod, an ExternalName, a headless one without ready endpoints.
fn index() -> Index {
    let services = vec![
        svc("default", "kubernetes", ips(&["10.96.0.1"]), vec![port("https", "tcp", 443)]),
        svc("default", "dual", ips(&["10.96.0.20", "fd00::20"]), vec![port("http", "tcp", 80)]),
        svc("default", "nginx", Kind::Headless, vec![port("web", "tcp", 80)]),
        svc("default", "ext", Kind::ExternalName("www.example.com.".into()), vec![]),
        svc("default", "empty", Kind::Headless, vec![]),
        svc("kube-system", "kube-dns", ips(&["10.96.0.10"]), vec![port("dns", "udp", 53)]),
    ];
    let slices = vec![
        Slice {
            name: "nginx-1".into(),
            namespace: "default".into(),
            service: "nginx".into(),
            endpoints: vec![
                ep("10.244.1.5", Some("web-0"), true),
                ep("10.244.1.6", None, true),
                ep("10.244.1.7", None, false),
            ],
            ports: vec![port("web", "tcp", 80)],
            cluster: None,
            zones: Box::default(),
        },
        Slice {
            name: "empty-1".into(),
            namespace: "default".into(),
            service: "empty".into(),
            endpoints: vec![ep("10.244.2.1", None, false)],
            ports: vec![],
            cluster: None,
            zones: Box::default(),
        },
        // The server's own Pod, behind kube-dns: the NS answer names kube-dns.
        Slice {
            name: "kube-dns-1".into(),
            namespace: "kube-system".into(),
            service: "kube-dns".into(),
            endpoints: vec![ep(SERVER_POD, None, true)],
            ports: vec![port("dns", "udp", 53)],
            cluster: None,
            zones: Box::default(),
        },
        Slice {
            name: "kubernetes-1".into(),
            namespace: "default".into(),
            service: "kubernetes".into(),
            endpoints: vec![ep("172.18.0.2", None, true)],
            ports: vec![port("https", "tcp", 6443)],
            cluster: None,
            zones: Box::default(),
        },
    ];
    let pods = vec![crate::objects::Pod {
        namespace: "default".into(),
        name: "client".into(),
        ip: "10.244.3.3".parse().unwrap(),
        labels: Arc::default(),
    }];
    let services = services.into_iter().map(Arc::new).collect();
    let slices = slices.into_iter().map(Arc::new).collect();
    Index::build(services, slices, pods, vec!["empty-ns".into()], 1_700_000_000)
}

fn plugin(corefile: &str, index: Index) -> Arc<dyn plugin_api::Plugin> {
    plugin_with(corefile, index, true)
}

/// The address of the Pod the tests' server runs in.
pub(crate) const SERVER_POD: &str = "10.244.0.53";

pub(crate) fn plugin_with(
    corefile: &str,
    index: Index,
    fast_path: bool,
) -> Arc<dyn plugin_api::Plugin> {
    let mut c = Controller::from_text(corefile);
    let o = setup::parse(&mut c).unwrap();
    Arc::new(Kubernetes {
        o: Arc::new(o),
        index: Arc::new(ArcSwap::from_pointee(index)),
        upstream: Arc::default(),
        fast_path,
        local_ips: Arc::new(vec![SERVER_POD.parse().unwrap()].into()),
    })
}

const COREFILE: &str =
    "kubernetes cluster.local in-addr.arpa ip6.arpa {\n pods insecure\n ttl 30\n}";

fn soa() -> Record {
    rr(
        "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 30",
    )
}

/// Runs every case through the wire-form fast path and through the general path alone.
fn run(cases: &[Case], corefile: &str, index_fn: fn() -> Index) {
    for fast_path in [true, false] {
        let p = plugin_with(corefile, index_fn(), fast_path);
        for case in cases {
            let msg = reply_message(test_util::serve(vec![p.clone()], case.request()));
            assert!(msg.metadata.authoritative, "{} {} fast {fast_path}", case.qname, case.qtype);
            assert_case(case, &msg);
        }
    }
}

#[test]
fn services() {
    let nx =
        |q: &'static str, t| Case { ns: vec![soa()], ..Case::new(q, t, ResponseCode::NXDomain) };
    let nodata =
        |q: &'static str, t| Case { ns: vec![soa()], ..Case::new(q, t, ResponseCode::NoError) };
    let cases = vec![
        Case {
            answer: vec![rr("kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1")],
            ..Case::new(
                "kubernetes.default.svc.cluster.local.",
                RecordType::A,
                ResponseCode::NoError,
            )
        },
        // The owner keeps the query's case.
        Case {
            answer: vec![rr("KUBERNETES.Default.svc.Cluster.Local. 30 IN A 10.96.0.1")],
            ..Case::new(
                "KUBERNETES.Default.svc.Cluster.Local.",
                RecordType::A,
                ResponseCode::NoError,
            )
        },
        nodata("kubernetes.default.svc.cluster.local.", RecordType::AAAA),
        nodata("kubernetes.default.svc.cluster.local.", RecordType::TXT),
        nodata("kubernetes.default.svc.cluster.local.", RecordType::MX),
        Case {
            answer: vec![rr("dual.default.svc.cluster.local. 30 IN AAAA fd00::20")],
            ..Case::new("dual.default.svc.cluster.local.", RecordType::AAAA, ResponseCode::NoError)
        },
        // Headless: every ready address.
        Case {
            answer: vec![
                rr("nginx.default.svc.cluster.local. 30 IN A 10.244.1.5"),
                rr("nginx.default.svc.cluster.local. 30 IN A 10.244.1.6"),
            ],
            ..Case::new("nginx.default.svc.cluster.local.", RecordType::A, ResponseCode::NoError)
        },
        // Endpoint names: hostname, dashed address; also on a ClusterIP service.
        Case {
            answer: vec![rr("web-0.nginx.default.svc.cluster.local. 30 IN A 10.244.1.5")],
            ..Case::new(
                "web-0.nginx.default.svc.cluster.local.",
                RecordType::A,
                ResponseCode::NoError,
            )
        },
        Case {
            answer: vec![rr("10-244-1-6.nginx.default.svc.cluster.local. 30 IN A 10.244.1.6")],
            ..Case::new(
                "10-244-1-6.nginx.default.svc.cluster.local.",
                RecordType::A,
                ResponseCode::NoError,
            )
        },
        Case {
            answer: vec![rr("172-18-0-2.kubernetes.default.svc.cluster.local. 30 IN A 172.18.0.2")],
            ..Case::new(
                "172-18-0-2.kubernetes.default.svc.cluster.local.",
                RecordType::A,
                ResponseCode::NoError,
            )
        },
        nx("10-244-1-7.nginx.default.svc.cluster.local.", RecordType::A),
        nx("empty.default.svc.cluster.local.", RecordType::A),
        // ExternalName.
        Case {
            answer: vec![rr("ext.default.svc.cluster.local. 30 IN CNAME www.example.com.")],
            ..Case::new("ext.default.svc.cluster.local.", RecordType::A, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr("ext.default.svc.cluster.local. 30 IN CNAME www.example.com.")],
            ..Case::new("ext.default.svc.cluster.local.", RecordType::CNAME, ResponseCode::NoError)
        },
        nodata("ext.default.svc.cluster.local.", RecordType::SRV),
        nx("_http._tcp.ext.default.svc.cluster.local.", RecordType::SRV),
        // Names that cannot exist, and names that exist without records.
        nx("nosuch.default.svc.cluster.local.", RecordType::A),
        // A missing Service is NXDOMAIN whatever the type and the labels before it.
        nx("nosuch.default.svc.cluster.local.", RecordType::MX),
        nx("nosuch.default.svc.cluster.local.", RecordType::SRV),
        nx("web-0.nosuch.default.svc.cluster.local.", RecordType::A),
        nx("_http._tcp.nosuch.default.svc.cluster.local.", RecordType::SRV),
        nx("foo.nonexistent.svc.cluster.local.", RecordType::A),
        nx("foo.cluster.local.", RecordType::A),
        nx("*.default.svc.cluster.local.", RecordType::A),
        nodata("default.svc.cluster.local.", RecordType::A),
        nodata("empty-ns.svc.cluster.local.", RecordType::A),
        nodata("svc.cluster.local.", RecordType::A),
        nodata("cluster.local.", RecordType::A),
        Case {
            answer: vec![rr("dns-version.cluster.local. 28800 IN TXT \"1.1.0\"")],
            ..Case::new("dns-version.cluster.local.", RecordType::TXT, ResponseCode::NoError)
        },
        Case {
            answer: vec![soa()],
            ..Case::new("cluster.local.", RecordType::SOA, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr("cluster.local. 30 IN NS kube-dns.kube-system.svc.cluster.local.")],
            extra: vec![rr("kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10")],
            ..Case::new("cluster.local.", RecordType::NS, ResponseCode::NoError)
        },
    ];
    run(&cases, COREFILE, index);
}

#[test]
fn srv_records() {
    let cases = vec![
        Case {
            answer: vec![rr(
                "_https._tcp.kubernetes.default.svc.cluster.local. 30 IN SRV 0 100 443 kubernetes.default.svc.cluster.local.",
            )],
            extra: vec![rr("kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1")],
            ..Case::new(
                "_https._tcp.kubernetes.default.svc.cluster.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        // Labels without underscores, and no port labels at all.
        Case {
            answer: vec![rr(
                "https.tcp.kubernetes.default.svc.cluster.local. 30 IN SRV 0 100 443 kubernetes.default.svc.cluster.local.",
            )],
            extra: vec![rr("kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1")],
            ..Case::new(
                "https.tcp.kubernetes.default.svc.cluster.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        // The query's case: kept in the owner and in the zone part of the target, as CoreDNS
        // keeps it in state.Zone. (Built by hand: the rdata parser behind `rr` lower-cases.)
        Case {
            answer: vec![Record::from_rdata(
                Name::from_ascii("_HTTPS._tcp.Kubernetes.default.svc.Cluster.Local.").unwrap(),
                30,
                RData::SRV(SRV::new(
                    0,
                    100,
                    443,
                    Name::from_ascii("kubernetes.default.svc.Cluster.Local.").unwrap(),
                )),
            )],
            extra: vec![rr("kubernetes.default.svc.Cluster.Local. 30 IN A 10.96.0.1")],
            ..Case::new(
                "_HTTPS._tcp.Kubernetes.default.svc.Cluster.Local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        // Headless: one per ready endpoint, weight 100/2, targets the endpoint names.
        Case {
            answer: vec![
                rr(
                    "_web._tcp.nginx.default.svc.cluster.local. 30 IN SRV 0 50 80 web-0.nginx.default.svc.cluster.local.",
                ),
                rr(
                    "_web._tcp.nginx.default.svc.cluster.local. 30 IN SRV 0 50 80 10-244-1-6.nginx.default.svc.cluster.local.",
                ),
            ],
            extra: vec![
                rr("web-0.nginx.default.svc.cluster.local. 30 IN A 10.244.1.5"),
                rr("10-244-1-6.nginx.default.svc.cluster.local. 30 IN A 10.244.1.6"),
            ],
            ..Case::new(
                "_web._tcp.nginx.default.svc.cluster.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        // Dual-stack ClusterIP, one port: one SRV, weight 50, both addresses as extra.
        Case {
            answer: vec![rr(
                "dual.default.svc.cluster.local. 30 IN SRV 0 50 80 dual.default.svc.cluster.local.",
            )],
            extra: vec![
                rr("dual.default.svc.cluster.local. 30 IN A 10.96.0.20"),
                rr("dual.default.svc.cluster.local. 30 IN AAAA fd00::20"),
            ],
            ..Case::new("dual.default.svc.cluster.local.", RecordType::SRV, ResponseCode::NoError)
        },
        Case {
            ns: vec![soa()],
            ..Case::new(
                "_nope._tcp.kubernetes.default.svc.cluster.local.",
                RecordType::SRV,
                ResponseCode::NXDomain,
            )
        },
    ];
    run(&cases, COREFILE, index);
}

#[test]
fn reverse_and_pods() {
    let cases = vec![
        Case {
            answer: vec![rr(
                "1.0.96.10.in-addr.arpa. 30 IN PTR kubernetes.default.svc.cluster.local.",
            )],
            ..Case::new("1.0.96.10.in-addr.arpa.", RecordType::PTR, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr(
                "5.1.244.10.in-addr.arpa. 30 IN PTR web-0.nginx.default.svc.cluster.local.",
            )],
            ..Case::new("5.1.244.10.in-addr.arpa.", RecordType::PTR, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr("1-2-3-4.default.pod.cluster.local. 30 IN A 1.2.3.4")],
            ..Case::new("1-2-3-4.default.pod.cluster.local.", RecordType::A, ResponseCode::NoError)
        },
        Case {
            answer: vec![rr("fd00--1.default.pod.cluster.local. 30 IN AAAA fd00::1")],
            ..Case::new(
                "fd00--1.default.pod.cluster.local.",
                RecordType::AAAA,
                ResponseCode::NoError,
            )
        },
    ];
    run(&cases, COREFILE, index);
    let p = plugin(COREFILE, index());
    for (q, t) in [
        ("1-2-3-4.nons.pod.cluster.local.", RecordType::A),
        ("8.8.8.8.in-addr.arpa.", RecordType::PTR),
    ] {
        let msg = reply_message(test_util::serve(vec![p.clone()], test_util::request(q, t)));
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{q}");
    }
    // verified: only real pod addresses; disabled: none.
    let verified = "kubernetes cluster.local {\n pods verified\n}";
    let p = plugin(verified, index());
    let rcode = |p: &Arc<dyn plugin_api::Plugin>, q| {
        reply_message(test_util::serve(vec![p.clone()], test_util::request(q, RecordType::A)))
            .metadata
            .response_code
    };
    assert_eq!(rcode(&p, "10-244-3-3.default.pod.cluster.local."), ResponseCode::NoError);
    assert_eq!(rcode(&p, "1-2-3-4.default.pod.cluster.local."), ResponseCode::NXDomain);
    let p = plugin("kubernetes cluster.local", index());
    assert_eq!(rcode(&p, "1-2-3-4.default.pod.cluster.local."), ResponseCode::NXDomain);
}

#[test]
fn options_change_answers() {
    let rcode = |corefile: &str, q: &str, t| {
        let p = plugin(corefile, index());
        test_util::serve(vec![p], test_util::request(q, t))
    };
    // fallthrough only for the listed zones, only for NXDOMAIN.
    let f = "kubernetes cluster.local in-addr.arpa {\n fallthrough in-addr.arpa\n}";
    assert!(rcode(f, "8.8.8.8.in-addr.arpa.", RecordType::PTR).is_err(), "passed on");
    let not_passed_on = reply_message(rcode(f, "nosuch.default.svc.cluster.local.", RecordType::A));
    assert_eq!(not_passed_on.metadata.response_code, ResponseCode::NXDomain, "answered here");
    // noendpoints: headless names are gone.
    let msg = reply_message(rcode(
        "kubernetes cluster.local {\n noendpoints\n}",
        "nginx.default.svc.cluster.local.",
        RecordType::A,
    ));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    // ignore empty_service.
    let svcs = || {
        Index::build(
            vec![Arc::new(svc(
                "default",
                "idle",
                ips(&["10.96.0.50"]),
                vec![port("http", "tcp", 80)],
            ))],
            vec![],
            vec![],
            vec![],
            1,
        )
    };
    let p = plugin("kubernetes cluster.local {\n ignore empty_service\n}", svcs());
    let msg = reply_message(test_util::serve(
        vec![p],
        test_util::request("idle.default.svc.cluster.local.", RecordType::A),
    ));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    // namespaces: others are not served.
    let msg = reply_message(rcode(
        "kubernetes cluster.local {\n namespaces kube-system\n}",
        "kubernetes.default.svc.cluster.local.",
        RecordType::A,
    ));
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    // endpoint_pod_names.
    let msg = reply_message(rcode(
        "kubernetes cluster.local {\n endpoint_pod_names\n}",
        "pod-10.244.1.6.nginx.default.svc.cluster.local.",
        RecordType::A,
    ));
    assert_eq!(
        msg.metadata.response_code,
        ResponseCode::NXDomain,
        "a pod name with dots is not one label"
    );
}

#[test]
fn before_sync_denials_are_servfail_and_not_ready() {
    let p = plugin(COREFILE, Index::unsynced());
    assert_eq!(p.ready(), Some(false));
    let msg = reply_message(test_util::serve(
        vec![p],
        test_util::request("nosuch.default.svc.cluster.local.", RecordType::A),
    ));
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(msg.authorities.len(), 1, "with the SOA");
}

#[test]
fn setup_errors() {
    let rows = [
        (
            "kubernetes in-addr.arpa",
            "Testfile:1 - Error during parsing: non-reverse zone name must be used",
        ),
        (
            "kubernetes cluster.local {\n pods sometimes\n}",
            "Testfile:2 - Error during parsing: wrong value for pods: sometimes,  must be one of: disabled, verified, insecure",
        ),
        (
            "kubernetes cluster.local {\n ttl 4000\n}",
            "Testfile:2 - Error during parsing: ttl must be in range [0, 3600]: 4000",
        ),
        (
            "kubernetes cluster.local {\n ignore something\n}",
            "Testfile:2 - Error during parsing: unable to parse ignore value: 'something'",
        ),
        (
            "kubernetes cluster.local {\n upstream\n}",
            "Testfile:2 - Error during parsing: unknown property 'upstream'",
        ),
        (
            "kubernetes cluster.local {\n namespace_labels env in prod\n}",
            "Testfile:2 - Error during parsing: unable to parse label selector value: 'env in prod': expected a parenthesised list of values in \"env in prod\"",
        ),
        (
            "kubernetes cluster.local {\n tls a b\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'b'",
        ),
        (
            "kubernetes cluster.local {\n apiserver_qps -1\n}",
            "Testfile:2 - Error during parsing: apiserver_qps must be >= 0",
        ),
        (
            "kubernetes cluster.local {\n apiserver_qps fast\n}",
            "Testfile:2 - Error during parsing: invalid apiserver_qps \"fast\": strconv.ParseFloat: parsing \"fast\": invalid syntax",
        ),
        (
            "kubernetes cluster.local {\n apiserver_burst 2.5\n}",
            "Testfile:2 - Error during parsing: invalid apiserver_burst \"2.5\": strconv.Atoi: parsing \"2.5\": invalid syntax",
        ),
        (
            "kubernetes cluster.local {\n apiserver_max_inflight -3\n}",
            "Testfile:2 - Error during parsing: apiserver_max_inflight must be >= 0",
        ),
        (
            "kubernetes cluster.local {\n apiserver_burst\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'apiserver_burst'",
        ),
        (
            "kubernetes cluster.local {\n namespaces a\n namespace_labels env=prod\n}",
            "Testfile:4 - Error during parsing: namespaces and namespace_labels cannot both be set",
        ),
        (
            "kubernetes cluster.local {\n zonal\n noendpoints\n}",
            "Testfile:4 - Error during parsing: zonal requires the endpoint cache; remove noendpoints",
        ),
        (
            "kubernetes cluster.local {\n zonal us-west-2a\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'us-west-2a'",
        ),
        (
            "kubernetes cluster.local {\n multicluster clusterset.local\n}",
            "Testfile:3 - Error during parsing: is not authoritative for the multicluster zone clusterset.local. (authoritative zones: [cluster.local.])",
        ),
    ];
    for (input, want) in rows {
        assert_eq!(
            setup::parse(&mut Controller::from_text(input)).unwrap_err().to_string(),
            want,
            "{input}"
        );
    }
}

#[test]
fn apiserver_limits_and_multicluster_zones_are_read() {
    let parse = |text: &str| setup::parse(&mut Controller::from_text(text)).unwrap();
    let o = parse("kubernetes cluster.local {\n apiserver_qps 20.5\n apiserver_max_inflight 3\n}");
    assert_eq!(o.api_limits.rate(), Some((20.5, 10)), "burst: client-go's default");
    assert_eq!(o.api_limits.max_inflight, Some(3));
    let o = parse("kubernetes cluster.local {\n apiserver_burst 50\n}");
    assert_eq!(o.api_limits.rate(), Some((5.0, 50)), "rate: client-go's default");
    let o = parse("kubernetes cluster.local {\n apiserver_qps 0\n apiserver_max_inflight 0\n}");
    assert_eq!((o.api_limits.rate(), o.api_limits.max_inflight), (None, None), "0: no limit");
    let o = parse("kubernetes cluster.local ClusterSet.Local {\n multicluster clusterset.local\n}");
    assert_eq!(o.multicluster, ["clusterset.local."]);
    assert!(o.is_multicluster("clusterset.local.") && !o.is_multicluster("cluster.local."));
    let o = parse("kubernetes cluster.local clusterset.local {\n multicluster\n}");
    assert!(o.multicluster.is_empty(), "no zones given: none, as in CoreDNS");
}

#[test]
fn manifests_are_reduced_and_bad_objects_skipped() {
    let dir = test_util::ScratchDir::new("k8s-manifests");
    dir.write(
        "a.yaml",
        "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: broken}
spec:
  clusterIP: 999.1.1.1
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: listed, namespace: shop}
  spec: {clusterIP: 10.96.5.5, ports: [{port: 443}]}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: x, namespace: other}
",
    );
    dir.write("b.yml", "not: [valid");
    let files = plugin_api::pkg::manifests::files(&[dir.path().display().to_string()]);
    assert_eq!(files.len(), 2);
    let loaded = crate::manifests::load(&files, &Default::default());
    let names: Vec<&str> = loaded.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["listed", "web"], "addressed ones first, then those given an address");
    assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    assert!(loaded.problems.iter().any(|p| p.contains("a.yaml#2") && p.contains("999.1.1.1")));
    assert!(loaded.namespaces.contains(&"other".to_string()), "a namespace an object names exists");
    let web = &loaded.services[1];
    let Kind::ClusterIp(addr) = &web.kind else { panic!() };
    let again = crate::manifests::load(&files, &Default::default());
    assert_eq!(
        again.services[1].kind,
        Kind::ClusterIp(addr.clone()),
        "the same address every time"
    );
}

#[test]
fn manifests_honour_label_selectors() {
    let dir = test_util::ScratchDir::new("k8s-labels");
    dir.write(
        "objects.yaml",
        "\
apiVersion: v1
kind: Namespace
metadata: {name: shown, labels: {team: dns}}
---
apiVersion: v1
kind: Namespace
metadata: {name: hidden}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shown, labels: {app: web}}
spec: {clusterIP: 10.96.6.1}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shown, labels: {app: db}}
spec: {clusterIP: 10.96.6.2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: hidden, labels: {app: web}}
spec: {clusterIP: 10.96.6.3}
",
    );
    let files = plugin_api::pkg::manifests::files(&[dir.path().display().to_string()]);
    let filter = crate::selector::Filter {
        labels: Some(crate::selector::Selector::parse("app in (web)").unwrap()),
        namespace_labels: Some(crate::selector::Selector::parse("team=dns").unwrap()),
    };
    let loaded = crate::manifests::load(&files, &filter);
    assert_eq!(loaded.namespaces, ["shown"]);
    let index = loaded.into_index(1, &filter);
    assert!(index.service("shown", "web").is_some());
    assert!(index.service("shown", "db").is_none(), "labels leaves db out");
    assert!(index.service("hidden", "web").is_none(), "namespace_labels leaves hidden out");
    assert!(!index.has_namespace("hidden"));
}

#[test]
fn a_manifest_file_with_thousands_of_documents_loads_whole() {
    // The YAML parser's default budget stops at 1 024 documents and 250 000 nodes: a file of
    // 3 000 Services (as `kubectl get svc -A -o yaml` prints for a large cluster) was refused.
    let text: String = (0..3000)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: default}}\n\
                 spec: {{clusterIP: 10.96.{}.{}, ports: [{{name: http, port: 80}}]}}\n",
                i >> 8,
                i & 255
            )
        })
        .collect();
    let loaded =
        crate::manifests::load_texts(&[("big.yaml".to_string(), text)], &Default::default());
    assert_eq!(loaded.problems, Vec::<String>::new());
    assert_eq!(loaded.services.len(), 3000);
}

#[test]
fn an_alias_bomb_in_a_manifest_is_still_refused() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 { "a".to_string() } else { format!("b{}", i - 1) };
        text.push_str(&format!("b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let loaded =
        crate::manifests::load_texts(&[("bomb.yaml".to_string(), text)], &Default::default());
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    assert!(loaded.problems[0].starts_with("bomb.yaml: "), "{}", loaded.problems[0]);
}
mod autopath;
mod metadata;
mod multicluster;
mod ns;
mod zonal;
