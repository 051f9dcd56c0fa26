//! `zonal`: `TOPOZONE.pin|prefer._zone.SVC.NS.svc.ZONE` for headless Services, against an index
//! filled directly.

use std::sync::Arc;

use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{Record, RecordType};
use plugin_api::test_util::{Case, rr};

use super::{ips, port, run, soa, svc};
use crate::index::Index;
use crate::objects::{Endpoint, Kind, Slice};

fn ep(ip: &str, hostname: &str, ready: bool, zone: u16) -> Endpoint {
    Endpoint { ip: ip.parse().unwrap(), hostname: Some(hostname.into()), pod: None, ready, zone }
}

/// `db` is headless with endpoints in us-west-2a (one of them not ready), us-west-2b, the
/// dotted zone corp.example and none; `web` is a ClusterIP Service.
fn index() -> Index {
    let services = vec![
        svc("prod", "db", Kind::Headless, vec![port("postgres", "tcp", 5432)]),
        svc("prod", "web", ips(&["10.96.7.7"]), vec![port("http", "tcp", 80)]),
    ];
    let zones = ["us-west-2a", "us-west-2b", "corp.example"];
    let slice = Slice {
        name: "db-1".into(),
        namespace: "prod".into(),
        service: "db".into(),
        endpoints: vec![
            ep("10.0.1.1", "db-0", true, 1),
            ep("10.0.1.2", "db-3", false, 1),
            ep("10.0.2.1", "db-1", true, 2),
            ep("10.0.3.1", "db-2", true, 0),
            ep("10.0.4.1", "db-4", true, 3),
        ],
        ports: vec![port("postgres", "tcp", 5432)],
        cluster: None,
        zones: zones.iter().map(|z| Box::<str>::from(*z)).collect(),
    };
    let services = services.into_iter().map(Arc::new).collect();
    Index::build(services, vec![Arc::new(slice)], vec![], vec![], 1_700_000_000)
}

const COREFILE: &str = "kubernetes cluster.local {\n zonal\n ttl 30\n}";

fn answer(q: &'static str, t: RecordType, records: &[&str]) -> Case {
    Case {
        answer: records.iter().map(|r| rr(r)).collect(),
        ..Case::new(q, t, ResponseCode::NoError)
    }
}

fn negative(q: &'static str, t: RecordType, rcode: ResponseCode) -> Case {
    Case { ns: vec![soa()], ..Case::new(q, t, rcode) }
}

#[test]
fn zonal_names_select_a_headless_services_endpoints_by_zone() {
    use RecordType::{A, SRV, TXT};
    use ResponseCode::{NXDomain, NoError};
    let a = |q: &'static str, ips: &[&str]| {
        let records: Vec<Record> = ips.iter().map(|ip| rr(&format!("{q} 30 IN A {ip}"))).collect();
        Case { answer: records, ..Case::new(q, A, NoError) }
    };
    let cases = vec![
        a("us-west-2a.pin._zone.db.prod.svc.cluster.local.", &["10.0.1.1"]),
        a("US-West-2A.pin._zone.db.prod.svc.cluster.local.", &["10.0.1.1"]),
        a("corp.example.pin._zone.db.prod.svc.cluster.local.", &["10.0.4.1"]),
        a("us-west-2b.prefer._zone.db.prod.svc.cluster.local.", &["10.0.2.1"]),
        // prefer: an empty zone widens to every ready endpoint; pin: NODATA.
        a(
            "eu-north-1a.prefer._zone.db.prod.svc.cluster.local.",
            &["10.0.1.1", "10.0.2.1", "10.0.3.1", "10.0.4.1"],
        ),
        negative("eu-north-1a.pin._zone.db.prod.svc.cluster.local.", A, NoError),
        negative("us-west-2a.pin._zone.db.prod.svc.cluster.local.", TXT, NoError),
        // SRV records and their glue are filtered too.
        Case {
            extra: vec![rr("db-0.db.prod.svc.cluster.local. 30 IN A 10.0.1.1")],
            ..answer(
                "us-west-2a.pin._zone.db.prod.svc.cluster.local.",
                SRV,
                &[
                    "us-west-2a.pin._zone.db.prod.svc.cluster.local. 30 IN SRV 0 100 5432 db-0.db.prod.svc.cluster.local.",
                ],
            )
        },
        // Only headless Services that exist; only the two directives.
        negative("us-west-2a.pin._zone.web.prod.svc.cluster.local.", A, NXDomain),
        negative("us-west-2a.pin._zone.nosuch.prod.svc.cluster.local.", A, NXDomain),
        negative("us-west-2a.near._zone.db.prod.svc.cluster.local.", A, NXDomain),
        // The plain name is untouched.
        a("db.prod.svc.cluster.local.", &["10.0.1.1", "10.0.2.1", "10.0.3.1", "10.0.4.1"]),
    ];
    run(&cases, COREFILE, index);
}

#[test]
fn without_the_option_zonal_names_are_too_long() {
    let corefile = "kubernetes cluster.local {\n ttl 30\n}";
    let q = "us-west-2a.pin._zone.db.prod.svc.cluster.local.";
    run(&[negative(q, RecordType::A, ResponseCode::NXDomain)], corefile, index);
}

#[test]
fn slices_keep_their_endpoints_zones_only_for_zonal() {
    use crate::objects::{Keep, slice};
    let es: k8s_openapi::api::discovery::v1::EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.1.1"], "zone": "US-West-2a"},
            {"addresses": ["10.0.2.1"], "zone": "us-west-2b"},
            {"addresses": ["10.0.1.2"], "zone": "us-west-2a"},
            {"addresses": ["10.0.3.1"]}
        ]
    }))
    .unwrap();
    let kept = slice(&es, Keep { pod_names: false, zones: true }).unwrap();
    let zones: Vec<Option<&str>> = kept.endpoints.iter().map(|e| kept.zone_of(e)).collect();
    assert_eq!(zones, [Some("us-west-2a"), Some("us-west-2b"), Some("us-west-2a"), None]);
    assert_eq!(kept.zones.len(), 2, "each zone once per slice");
    let plain = slice(&es, Keep::default()).unwrap();
    assert!(plain.zones.is_empty() && plain.endpoints.iter().all(|e| plain.zone_of(e).is_none()));
    // The zone is a number in the padding: 50 000 endpoints cost what they cost without it.
    assert_eq!(size_of::<Endpoint>(), 56);
}
