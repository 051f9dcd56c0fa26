//! `multicluster` zones: ServiceImports and their multicluster EndpointSlices, against an index
//! filled directly; the local cluster's zone beside it keeps its own Services.

use std::sync::Arc;

use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{Record, RecordType};
use plugin_api::test_util::{Case, rr};

use super::{ep, ips, port, run, svc};
use crate::index::Index;
use crate::objects::{Kind, Slice};
use crate::store::{Object, Store};

const COREFILE: &str = "kubernetes cluster.local clusterset.local in-addr.arpa {\n multicluster clusterset.local\n ttl 30\n}";

fn clusterset_slice(
    name: &str,
    service: &str,
    cluster: Option<&str>,
    eps: Vec<crate::objects::Endpoint>,
) -> Object {
    Object::ClustersetSlice(Arc::new(Slice {
        name: name.into(),
        namespace: "default".into(),
        service: service.into(),
        endpoints: eps,
        ports: vec![port("postgres", "tcp", 5432)],
        cluster: cluster.map(Into::into),
        zones: Box::default(),
    }))
}

/// `web` is a local Service and a ClusterSetIP import with another address; `db` a headless
/// import with endpoints in clusters `east` and `west` (one not ready) and one slice that names
/// no cluster; `local-only` is not imported.
fn index() -> Index {
    let http = || vec![port("http", "tcp", 80)];
    let objects = vec![
        Object::Service(Arc::new(svc("default", "web", ips(&["10.96.0.50"]), http()))),
        Object::Service(Arc::new(svc("default", "local-only", ips(&["10.96.0.51"]), http()))),
        Object::Import(Arc::new(svc("default", "web", ips(&["10.100.0.1"]), http()))),
        Object::Import(Arc::new(svc("default", "db", Kind::Headless, vec![]))),
        clusterset_slice(
            "db-east",
            "db",
            Some("east"),
            vec![ep("10.1.0.1", Some("db-0"), true), ep("10.1.0.2", None, false)],
        ),
        clusterset_slice("db-west", "db", Some("west"), vec![ep("10.2.0.1", None, true)]),
        Object::Namespace("default".into()),
    ];
    Store::with(false, objects).snapshot(1_700_000_000, true)
}

/// An A query of `q` answered with exactly `answers`.
fn a(q: &'static str, answers: &[&str]) -> Case {
    Case {
        answer: answers.iter().map(|r| rr(r)).collect(),
        ..Case::new(q, RecordType::A, ResponseCode::NoError)
    }
}

fn soa() -> Record {
    rr(
        "clusterset.local. 30 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1700000000 7200 1800 86400 30",
    )
}

#[test]
fn imports_answer_in_the_clusterset_zone_and_services_in_the_local_one() {
    let nx =
        |q: &'static str, t| Case { ns: vec![soa()], ..Case::new(q, t, ResponseCode::NXDomain) };
    let cases = vec![
        a(
            "web.default.svc.clusterset.local.",
            &["web.default.svc.clusterset.local. 30 IN A 10.100.0.1"],
        ),
        a("web.default.svc.cluster.local.", &["web.default.svc.cluster.local. 30 IN A 10.96.0.50"]),
        nx("local-only.default.svc.clusterset.local.", RecordType::A),
        nx("web.nosuch.svc.clusterset.local.", RecordType::A),
        Case {
            ns: vec![super::soa()],
            ..Case::new("db.default.svc.cluster.local.", RecordType::A, ResponseCode::NXDomain)
        },
        // Headless: the ready endpoints of every cluster.
        a(
            "db.default.svc.clusterset.local.",
            &[
                "db.default.svc.clusterset.local. 30 IN A 10.1.0.1",
                "db.default.svc.clusterset.local. 30 IN A 10.2.0.1",
            ],
        ),
        // An endpoint is named within its cluster.
        a(
            "db-0.east.db.default.svc.clusterset.local.",
            &["db-0.east.db.default.svc.clusterset.local. 30 IN A 10.1.0.1"],
        ),
        a(
            "10-2-0-1.west.db.default.svc.clusterset.local.",
            &["10-2-0-1.west.db.default.svc.clusterset.local. 30 IN A 10.2.0.1"],
        ),
        nx("db-0.west.db.default.svc.clusterset.local.", RecordType::A),
        nx("10-1-0-2.east.db.default.svc.clusterset.local.", RecordType::A),
        nx("db-0.db.default.svc.clusterset.local.", RecordType::A),
        Case {
            answer: vec![
                rr(
                    "_postgres._tcp.db.default.svc.clusterset.local. 30 IN SRV 0 50 5432 db-0.east.db.default.svc.clusterset.local.",
                ),
                rr(
                    "_postgres._tcp.db.default.svc.clusterset.local. 30 IN SRV 0 50 5432 10-2-0-1.west.db.default.svc.clusterset.local.",
                ),
            ],
            extra: vec![
                rr("db-0.east.db.default.svc.clusterset.local. 30 IN A 10.1.0.1"),
                rr("10-2-0-1.west.db.default.svc.clusterset.local. 30 IN A 10.2.0.1"),
            ],
            ..Case::new(
                "_postgres._tcp.db.default.svc.clusterset.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        Case {
            answer: vec![rr(
                "_http._tcp.web.default.svc.clusterset.local. 30 IN SRV 0 100 80 web.default.svc.clusterset.local.",
            )],
            extra: vec![rr("web.default.svc.clusterset.local. 30 IN A 10.100.0.1")],
            ..Case::new(
                "_http._tcp.web.default.svc.clusterset.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
        Case {
            answer: vec![soa()],
            ..Case::new("clusterset.local.", RecordType::SOA, ResponseCode::NoError)
        },
        // Reverse names are the local cluster's: no PTR for imported endpoints.
        Case {
            ns: vec![rr(
                "in-addr.arpa. 30 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. 1700000000 7200 1800 86400 30",
            )],
            ..Case::new("1.0.1.10.in-addr.arpa.", RecordType::PTR, ResponseCode::NXDomain)
        },
    ];
    run(&cases, COREFILE, index);
}

#[test]
fn without_multicluster_the_zone_serves_local_services() {
    let corefile = "kubernetes cluster.local clusterset.local {\n ttl 30\n}";
    let cases = vec![Case {
        answer: vec![rr("web.default.svc.clusterset.local. 30 IN A 10.96.0.50")],
        ..Case::new("web.default.svc.clusterset.local.", RecordType::A, ResponseCode::NoError)
    }];
    run(&cases, corefile, index);
}

/// corefile-examples/multicluster/: its manifests, read as the example serves them.
fn example_index() -> Index {
    let file =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../corefile-examples/multicluster/manifests.yaml");
    let loaded = crate::manifests::load(&[file.into()], &Default::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    loaded.into_index(1_700_000_000, &Default::default())
}

#[test]
fn the_multicluster_example_answers_as_its_comments_say() {
    let corefile = "kubernetes cluster.local clusterset.local {\n multicluster clusterset.local\n}";
    let cases = vec![
        a(
            "checkout.shop.svc.cluster.local.",
            &["checkout.shop.svc.cluster.local. 5 IN A 10.96.40.10"],
        ),
        a(
            "checkout.shop.svc.clusterset.local.",
            &["checkout.shop.svc.clusterset.local. 5 IN A 10.112.0.10"],
        ),
        a(
            "orders-db.shop.svc.clusterset.local.",
            &[
                "orders-db.shop.svc.clusterset.local. 5 IN A 10.8.1.5",
                "orders-db.shop.svc.clusterset.local. 5 IN A 10.9.2.7",
            ],
        ),
        a(
            "orders-db-0.west.orders-db.shop.svc.clusterset.local.",
            &["orders-db-0.west.orders-db.shop.svc.clusterset.local. 5 IN A 10.9.2.7"],
        ),
        Case {
            answer: vec![
                rr(
                    "_postgres._tcp.orders-db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 orders-db-0.east.orders-db.shop.svc.clusterset.local.",
                ),
                rr(
                    "_postgres._tcp.orders-db.shop.svc.clusterset.local. 5 IN SRV 0 50 5432 orders-db-0.west.orders-db.shop.svc.clusterset.local.",
                ),
            ],
            extra: vec![
                rr("orders-db-0.east.orders-db.shop.svc.clusterset.local. 5 IN A 10.8.1.5"),
                rr("orders-db-0.west.orders-db.shop.svc.clusterset.local. 5 IN A 10.9.2.7"),
            ],
            ..Case::new(
                "_postgres._tcp.orders-db.shop.svc.clusterset.local.",
                RecordType::SRV,
                ResponseCode::NoError,
            )
        },
    ];
    run(&cases, corefile, example_index);
}
