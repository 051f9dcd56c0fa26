//! `zonal` through the real client: the `zone` of each endpoint of a watched EndpointSlice
//! selects what `TOPOZONE.pin|prefer._zone.…` answers, and follows the slice's changes.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::fake_api::{FakeApi, labelled, namespace};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES, corefile, until};

const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";

fn db_slice(endpoints: &[(&str, &str)]) -> Value {
    let endpoints: Vec<Value> =
        endpoints.iter().map(|(ip, zone)| json!({"addresses": [ip], "zone": zone})).collect();
    labelled(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "db-1", "namespace": "prod"}, "addressType": "IPv4",
               "endpoints": endpoints, "ports": [{"name": "postgres", "port": 5432}]}),
        &[("kubernetes.io/service-name", "db")],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn zonal_names_follow_the_endpoints_zones() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("prod"));
    api.apply(
        SERVICES,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "prod"},
               "spec": {"clusterIP": "None", "ports": [{"name": "postgres", "port": 5432}]}}),
    );
    api.apply(SLICES, db_slice(&[("10.0.1.1", "zone-a"), ("10.0.2.1", "zone-b")]));
    let s = TestServer::start(&corefile(&api, "  zonal\n")).await;
    let addresses = |m: hickory_proto::op::Message| {
        m.answers.iter().map(|r| r.data.to_string()).collect::<Vec<_>>()
    };
    let pinned = "zone-a.pin._zone.db.prod.svc.cluster.local.";
    assert_eq!(addresses(s.udp(pinned, RecordType::A).await), ["10.0.1.1"]);

    // The endpoint moves away: the pinned name is NODATA, the preferring one widens.
    api.apply(SLICES, db_slice(&[("10.0.2.1", "zone-b"), ("10.0.2.2", "zone-b")]));
    wait_until("the change shows", || async {
        s.udp(pinned, RecordType::A).await.answers.is_empty()
    })
    .await;
    let empty = s.udp(pinned, RecordType::A).await;
    assert_eq!(empty.metadata.response_code, ResponseCode::NoError, "NODATA, not NXDOMAIN");
    let widened = s.udp("zone-a.prefer._zone.db.prod.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(widened), ["10.0.2.1", "10.0.2.2"]);
    until(&s, "zone-c.pin._zone.nosuch.prod.svc.cluster.local.", ResponseCode::NXDomain).await;
    s.stop().await;
    api.stop();
}
