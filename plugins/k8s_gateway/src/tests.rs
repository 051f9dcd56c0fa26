//! k8s_gateway's `gateway_test.go` cases, ported onto real objects (its tests stub the lookup
//! functions; here the objects go through the same reduction and index as the watched ones),
//! with the Gateway API, class filters, the ignore label, aliases and `setup_test.go`'s
//! options. Over sockets with the real kube client: tests/it/k8s_gateway.rs.

use std::sync::Arc;

use arc_swap::ArcSwap;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{RData, RecordType};
use plugin_api::test_util::{Case, assert_case, reply_message, rr, serve};
use plugin_api::{Controller, Plugin};

use crate::K8sGateway;
use crate::objects::Kind;
use crate::setup::{Options, parse};

/// The objects k8s_gateway's test stubs stand for, and more.
const OBJECTS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: domain, namespace: ns1}
spec:
  ingressClassName: nginx
  rules: [{host: domain.example.com}, {host: svc2.ns1.example.com}]
status: {loadBalancer: {ingress: [{ip: 192.0.0.1}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: apex, namespace: ns1}
spec: {rules: [{host: example.com}], tls: [{hosts: [secure.example.com]}]}
status: {loadBalancer: {ingress: [{ip: 192.0.0.3}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: wild, namespace: ns1}
spec: {rules: [{host: "*.wildcard.example.com"}]}
status: {loadBalancer: {ingress: [{ip: 192.0.0.6}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: specific, namespace: ns1}
spec: {rules: [{host: specific-subdomain.wildcard.example.com}]}
status: {loadBalancer: {ingress: [{ip: 192.0.0.7}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other-class, namespace: ns1}
spec: {ingressClassName: traefik, rules: [{host: traefik.example.com}]}
status: {loadBalancer: {ingress: [{ip: 192.0.0.8}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: hidden, namespace: ns1, labels: {k8s-gateway.dns/ignore: "true"}}
spec: {rules: [{host: hidden.example.com}]}
status: {loadBalancer: {ingress: [{ip: 192.0.0.9}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: cloud, namespace: ns1}
spec: {rules: [{host: cloud.example.com}]}
status: {loadBalancer: {ingress: [{hostname: lb-1.elb.example.net}]}}
---
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: 192.0.1.1}, {ip: "fd12:3456:789a:1::"}]}}
---
apiVersion: v1
kind: Service
metadata: {name: svc2, namespace: ns1}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: 192.0.1.2}]}}
---
apiVersion: v1
kind: Service
metadata: {name: svc3, namespace: ns1}
spec: {type: LoadBalancer}
---
apiVersion: v1
kind: Service
metadata: {name: svc4, namespace: ns1}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: "fd12:3456:789a:2::"}]}}
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: ns1}
spec: {type: ClusterIP, clusterIP: 10.96.0.10}
---
apiVersion: v1
kind: Service
metadata:
  name: annotated
  namespace: ns1
  annotations: {coredns.io/hostname: "Named.example.com, other.example.com"}
spec: {type: LoadBalancer, externalIPs: [192.0.1.9]}
status: {loadBalancer: {ingress: [{ip: 192.0.1.10}]}}
---
apiVersion: v1
kind: Service
metadata: {name: dns1, namespace: kube-system}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: 192.0.1.53}]}}
---
apiVersion: v1
kind: Service
metadata: {name: dns2, namespace: kube-system}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: "2001:db8::53"}]}}
---
apiVersion: externaldns.k8s.io/v1alpha1
kind: DNSEndpoint
metadata: {name: endpoint, namespace: ns1}
spec:
  endpoints:
  - {dnsName: endpoint.example.com, recordType: TXT, targets: ["Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."]}
  - {dnsName: endpoint.example.com, recordType: A, targets: [192.0.4.4]}
  - {dnsName: short.example.com, recordType: TXT, targets: ["v=spf1 -all"]}
  - {dnsName: alias.example.com, recordType: CNAME, targets: [target.example.net]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec: {gatewayClassName: istio}
status: {addresses: [{type: IPAddress, value: 192.0.2.4}, {value: "2001:db8::4"}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw2, namespace: infra}
spec: {gatewayClassName: cilium}
status: {addresses: [{type: IPAddress, value: 192.0.2.5}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: app}
spec:
  hostnames: [myservicea.gw.example.com, "*.apps.example.com"]
  parentRefs: [{name: gw, namespace: infra}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: both, namespace: infra}
spec:
  hostnames: [myserviced.gw.example.com]
  parentRefs: [{name: gw}, {name: gw2}, {name: mesh, kind: Service, group: ""}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: infra}
spec: {hostnames: [grpc.gw.example.com], parentRefs: [{name: gw2}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tls, namespace: infra}
spec: {hostnames: [tls.gw.example.com], parentRefs: [{name: missing}]}
"#;

const ZONE_SOA: &str = "example.com. 60 IN SOA dns1.kube-system.example.com. hostmaster.dns1.kube-system.example.com. 12345 7200 1800 86400 60";

fn options(config: &str) -> Options {
    parse(&mut Controller::from_text(config)).expect("valid directive")
}

/// The plugin for `config`, serving [`OBJECTS`].
fn plugin(config: &str) -> Arc<dyn Plugin> {
    let o = options(config);
    let (index, problems) = crate::manifests::load_texts(&[("t.yaml".into(), OBJECTS.into())], &o);
    assert!(problems.is_empty(), "{problems:?}");
    let upstream = plugin_api::pkg::upstream::Upstream::new(&mut Controller::from_text("x"));
    Arc::new(K8sGateway {
        hostmaster: format!("hostmaster.{}", o.apex),
        o: Arc::new(o),
        index: Arc::new(ArcSwap::from_pointee(index)),
        upstream,
    })
}

fn check(p: &Arc<dyn Plugin>, cases: &[Case]) {
    for case in cases {
        let msg = reply_message(serve(vec![p.clone()], case.request()));
        assert!(msg.metadata.authoritative, "AA for {} {}", case.qname, case.qtype);
        assert_case(case, &msg);
    }
}

fn nx(qname: &'static str, qtype: RecordType) -> Case {
    Case { ns: vec![rr(ZONE_SOA)], ..Case::new(qname, qtype, ResponseCode::NXDomain) }
}

fn nodata(qname: &'static str, qtype: RecordType) -> Case {
    Case { ns: vec![rr(ZONE_SOA)], ..Case::new(qname, qtype, ResponseCode::NoError) }
}

fn answer(qname: &'static str, qtype: RecordType, records: &[&str]) -> Case {
    Case {
        answer: records.iter().map(|r| rr(r)).collect(),
        ..Case::new(qname, qtype, ResponseCode::NoError)
    }
}

const ALL: &str = "k8s_gateway example.com {\n resources Ingress Service HTTPRoute TLSRoute GRPCRoute DNSEndpoint\n secondary dns2.kube-system\n}";

#[test]
fn k8s_gateway_cases() {
    use RecordType::*;
    let p = plugin(ALL);
    check(
        &p,
        &[
            answer("svc1.ns1.example.com.", A, &["svc1.ns1.example.com. 60 IN A 192.0.1.1"]),
            answer("domain.example.com.", A, &["domain.example.com. 60 IN A 192.0.0.1"]),
            // The Ingress comes first in `resources`: it wins over the Service.
            answer("svc2.ns1.example.com.", A, &["svc2.ns1.example.com. 60 IN A 192.0.0.1"]),
            nx("svcx.ns1.example.com.", A),
            nx("d0main.example.com.", A),
            // A LoadBalancer without addresses has no name.
            nx("svc3.ns1.example.com.", A),
            nx("svc3.ns1.example.com.", CNAME),
            answer("example.com.", A, &["example.com. 60 IN A 192.0.0.3"]),
            answer("dOmAiN.eXamPLe.cOm.", A, &["domain.example.com. 60 IN A 192.0.0.1"]),
            answer("svC1.Ns1.exAmplE.Com.", A, &["svc1.ns1.example.com. 60 IN A 192.0.1.1"]),
            nodata("svc2.ns1.example.com.", AAAA),
            answer(
                "svc4.ns1.example.com.",
                AAAA,
                &["svc4.ns1.example.com. 60 IN AAAA fd12:3456:789a:2::"],
            ),
            nodata("svc4.ns1.example.com.", A),
            answer(
                "svc1.ns1.example.com.",
                AAAA,
                &["svc1.ns1.example.com. 60 IN AAAA fd12:3456:789a:1::"],
            ),
            answer(
                "not-explicitly-defined-label.wildcard.example.com.",
                A,
                &["not-explicitly-defined-label.wildcard.example.com. 60 IN A 192.0.0.6"],
            ),
            answer(
                "specific-subdomain.wildcard.example.com.",
                A,
                &["specific-subdomain.wildcard.example.com. 60 IN A 192.0.0.7"],
            ),
            // One label only, as an Ingress wildcard covers.
            nx("a.b.wildcard.example.com.", A),
            nx("endpointx.ns1.example.com.", TXT),
            answer("short.example.com.", TXT, &["short.example.com. 60 IN TXT \"v=spf1 -all\""]),
            // A TXT-only name exists: NODATA for A, not NXDOMAIN.
            nodata("short.example.com.", A),
            answer("endpoint.example.com.", A, &["endpoint.example.com. 60 IN A 192.0.4.4"]),
            // TLS hosts count as the Ingress's names too.
            answer("secure.example.com.", A, &["secure.example.com. 60 IN A 192.0.0.3"]),
            // Annotated host names (spaces dropped, lower-cased); external IPs over the status.
            answer("named.example.com.", A, &["named.example.com. 60 IN A 192.0.1.9"]),
            answer("other.example.com.", A, &["other.example.com. 60 IN A 192.0.1.9"]),
            nx("annotated.ns1.example.com.", A),
            nx("internal.ns1.example.com.", A),
            nx("hidden.example.com.", A),
            // Routes take their Gateways' addresses; a mesh parent is not a Gateway.
            answer(
                "myservicea.gw.example.com.",
                A,
                &["myservicea.gw.example.com. 60 IN A 192.0.2.4"],
            ),
            answer(
                "myservicea.gw.example.com.",
                AAAA,
                &["myservicea.gw.example.com. 60 IN AAAA 2001:db8::4"],
            ),
            answer(
                "myserviced.gw.example.com.",
                A,
                &[
                    "myserviced.gw.example.com. 60 IN A 192.0.2.4",
                    "myserviced.gw.example.com. 60 IN A 192.0.2.5",
                ],
            ),
            answer("x.apps.example.com.", A, &["x.apps.example.com. 60 IN A 192.0.2.4"]),
            answer("grpc.gw.example.com.", A, &["grpc.gw.example.com. 60 IN A 192.0.2.5"]),
            // A route whose Gateway does not exist has no name.
            nx("tls.gw.example.com.", A),
            // The apex.
            Case {
                answer: vec![rr(ZONE_SOA)],
                ..Case::new("example.com.", SOA, ResponseCode::NoError)
            },
            nodata("domain.example.com.", SOA),
            nodata("domain.example.com.", MX),
            nodata("example.com.", MX),
            Case {
                answer: vec![
                    rr("example.com. 60 IN NS dns1.kube-system.example.com."),
                    rr("example.com. 60 IN NS dns2.kube-system.example.com."),
                ],
                extra: vec![
                    rr("dns1.kube-system.example.com. 60 IN A 192.0.1.53"),
                    rr("dns2.kube-system.example.com. 60 IN AAAA 2001:db8::53"),
                ],
                ..Case::new("example.com.", NS, ResponseCode::NoError)
            },
            nodata("domain.example.com.", NS),
            // The name server's own name, and nothing under it.
            answer(
                "dns1.kube-system.example.com.",
                A,
                &["dns1.kube-system.example.com. 60 IN A 192.0.1.53"],
            ),
            nodata("dns1.kube-system.example.com.", AAAA),
            nx("x.dns1.kube-system.example.com.", A),
            // An alias: the CNAME (nothing behind it in this chain to follow it through).
            answer(
                "cloud.example.com.",
                CNAME,
                &["cloud.example.com. 60 IN CNAME lb-1.elb.example.net."],
            ),
            answer(
                "alias.example.com.",
                TXT,
                &["alias.example.com. 60 IN CNAME target.example.net."],
            ),
        ],
    );
}

#[test]
fn a_txt_string_longer_than_255_octets_is_split_in_one_record() {
    let p = plugin(ALL);
    let req = Case::new("endpoint.example.com.", RecordType::TXT, ResponseCode::NoError).request();
    let msg = reply_message(serve(vec![p], req));
    assert_eq!(msg.answers.len(), 1);
    let RData::TXT(txt) = &msg.answers[0].data else { panic!("{msg:?}") };
    let pieces: Vec<&[u8]> = txt.txt_data.iter().map(|p| &p[..]).collect();
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0].len(), 255);
    assert!(pieces[0].ends_with(b"dolor i") && pieces[1].starts_with(b"n reprehenderit"));
}

#[test]
fn resources_order_the_lookup_and_leave_out_what_is_not_named() {
    use RecordType::*;
    let p = plugin("k8s_gateway example.com {\n resources Service Ingress\n}");
    check(
        &p,
        &[
            answer("svc2.ns1.example.com.", A, &["svc2.ns1.example.com. 60 IN A 192.0.1.2"]),
            nx("myservicea.gw.example.com.", A),
            nx("short.example.com.", TXT),
        ],
    );
}

#[test]
fn classes_select_ingresses_and_gateways() {
    use RecordType::*;
    let p = plugin(
        "k8s_gateway example.com {\n resources Ingress HTTPRoute GRPCRoute\n ingressClasses traefik\n gatewayClasses cilium\n}",
    );
    check(
        &p,
        &[
            answer("traefik.example.com.", A, &["traefik.example.com. 60 IN A 192.0.0.8"]),
            nx("domain.example.com.", A),
            nx("myservicea.gw.example.com.", A),
            answer(
                "myserviced.gw.example.com.",
                A,
                &["myserviced.gw.example.com. 60 IN A 192.0.2.5"],
            ),
            answer("grpc.gw.example.com.", A, &["grpc.gw.example.com. 60 IN A 192.0.2.5"]),
        ],
    );
}

#[test]
fn ttl_and_apex_options_change_the_answers() {
    use RecordType::*;
    let p = plugin("k8s_gateway example.com {\n ttl 30\n apex dns2.kube-system\n}");
    let soa = "example.com. 60 IN SOA dns2.kube-system.example.com. hostmaster.dns2.kube-system.example.com. 12345 7200 1800 86400 60";
    check(
        &p,
        &[
            answer("domain.example.com.", A, &["domain.example.com. 30 IN A 192.0.0.1"]),
            Case { ns: vec![rr(soa)], ..Case::new("nope.example.com.", A, ResponseCode::NXDomain) },
            answer(
                "dns2.kube-system.example.com.",
                AAAA,
                &["dns2.kube-system.example.com. 60 IN AAAA 2001:db8::53"],
            ),
        ],
    );
}

#[test]
fn fallthrough_passes_on_names_without_records_only() {
    use plugin_api::test_util::{Answers, Form, empty_answer};
    // (query, fallthrough zones, passed on) as k8s_gateway's testsFallthrough.
    let cases: [(&'static str, &str, bool); 6] = [
        ("example.com.", "", false),
        ("non-existent.example.com.", "", true),
        ("example.com.", "not-example.com", false),
        ("non-existent.example.com.", "not-example.com", false),
        ("dns1.kube-system.example.com.", "", false),
        ("domain.example.com.", "", false),
    ];
    for (qname, zones, passed) in cases {
        let p = plugin(&format!("k8s_gateway example.com {{\n fallthrough {zones}\n}}"));
        let rest = Arc::new(Answers::new(empty_answer, Form::Message));
        let result = serve(
            vec![p, rest.clone()],
            Case::new(qname, RecordType::A, ResponseCode::NoError).request(),
        );
        assert!(result.is_ok(), "{qname}");
        assert_eq!(rest.calls() == 1, passed, "{qname} with fallthrough {zones:?}");
    }
}

#[test]
fn names_outside_the_zones_are_passed_on() {
    let p = plugin("k8s_gateway example.com");
    let result =
        serve(vec![p], Case::new("example.org.", RecordType::A, ResponseCode::NoError).request());
    let e = result.expect_err("no next plugin");
    assert!(e.to_string().contains("no next plugin"), "{e}");
}

#[test]
fn until_synced_the_zone_answers_servfail_and_is_not_ready() {
    let o = options("k8s_gateway example.com");
    let upstream = plugin_api::pkg::upstream::Upstream::new(&mut Controller::from_text("x"));
    let p = K8sGateway {
        hostmaster: "hostmaster.dns1.kube-system".into(),
        o: Arc::new(o),
        index: Arc::new(ArcSwap::from_pointee(crate::index::Index::default())),
        upstream,
    };
    assert_eq!(p.ready(), Some(false));
    let p: Arc<dyn Plugin> = Arc::new(p);
    let req = Case::new("domain.example.com.", RecordType::A, ResponseCode::NoError).request();
    let e = serve(vec![p], req).expect_err("not synced");
    assert_eq!(e.rcode(), ResponseCode::ServFail);
    assert_eq!(e.to_string(), "plugin/k8s_gateway: could not sync required resources");
}

#[test]
fn setup_table() {
    let o = options("k8s_gateway");
    assert_eq!(o.zones, ["."]);
    assert_eq!(o.resources, [Kind::Ingress, Kind::Service]);
    assert_eq!((o.ttl, o.apex.as_str(), o.secondary.as_deref()), (60, "dns1.kube-system", None));
    let o = options(
        "k8s_gateway example.com example.org {\n resources Ingress Node HTTPRoute Ingress\n ttl 30\n apex exdns-1-k8s-gateway.kube-system\n secondary exdns-2-k8s-gateway.kube-system\n kubeconfig /.kube/config ctx\n ingressClasses nginx\n gatewayClasses istio cilium\n}",
    );
    assert_eq!(o.zones, ["example.com.", "example.org."]);
    assert_eq!(o.resources, [Kind::Ingress, Kind::HttpRoute]);
    assert_eq!(o.ttl, 30);
    assert_eq!(o.apex, "exdns-1-k8s-gateway.kube-system");
    assert_eq!(o.secondary.as_deref(), Some("exdns-2-k8s-gateway.kube-system"));
    assert_eq!(o.kubeconfig, Some(("/.kube/config".into(), Some("ctx".into()))));
    assert_eq!(o.ingress_classes, ["nginx"]);
    assert_eq!(o.gateway_classes, ["istio", "cilium"]);
    let failing = [
        ("k8s_gateway {\n resources\n}", "Incorrectly formatted 'resource' parameter"),
        ("k8s_gateway {\n ttl\n}", "Wrong argument count"),
        ("k8s_gateway {\n ttl -1\n}", "ttl must be in range [0, 3600]: -1"),
        ("k8s_gateway {\n ttl 3601\n}", "ttl must be in range [0, 3600]: 3601"),
        ("k8s_gateway {\n ttl five\n}", "strconv.Atoi: parsing \"five\": invalid syntax"),
        ("k8s_gateway {\n apex\n}", "Wrong argument count"),
        ("k8s_gateway {\n secondary\n}", "Wrong argument count"),
        ("k8s_gateway {\n kubeconfig\n}", "Wrong argument count"),
        ("k8s_gateway {\n ingressClasses\n}", "Incorrectly formatted 'ingressClasses' parameter"),
        ("k8s_gateway {\n gatewayClasses\n}", "Incorrectly formatted 'gatewayClasses' parameter"),
        ("k8s_gateway {\n manifests\n}", "Wrong argument count"),
        (
            "k8s_gateway {\n serviceLabelSelectors app=x\n}",
            "'serviceLabelSelectors' is not supported by ferrodns",
        ),
        ("k8s_gateway {\n bogus\n}", "Unknown property 'bogus'"),
    ];
    for (text, part) in failing {
        let e = parse(&mut Controller::from_text(text)).expect_err(text).to_string();
        assert!(e.contains(part), "{text}: {e}");
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
}

#[test]
fn broken_objects_are_problems_and_the_rest_still_serve() {
    let o = options("k8s_gateway example.com {\n resources Ingress Service\n}");
    let text = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad}\nspec: {rules: 7}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec: {type: LoadBalancer, externalIPs: [not-an-ip, 192.0.2.1]}\n";
    let (index, problems) = crate::manifests::load_texts(&[("b.yaml".into(), text.into())], &o);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("b.yaml#1: Ingress: "), "{problems:?}");
    let found = index.lookup("ok.default.example.com", "ok.default");
    assert_eq!(found.parts().flat_map(|t| &t.v4).count(), 1);
}
