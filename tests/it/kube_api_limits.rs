//! `apiserver_qps`, `apiserver_burst` and `apiserver_max_inflight`, seen from the API server's
//! side: when the real client's requests arrive and how many wait at once.

use std::time::Duration;

use hickory_proto::op::ResponseCode;

use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES, corefile, eventually, until};

/// A list and a watch for each of Services, EndpointSlices and Namespaces.
const START_UP_REQUESTS: usize = 6;

async fn api_with_a_service() -> std::sync::Arc<FakeApi> {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.3.1"));
    api
}

/// At 4 requests a second with no burst, the start-up's lists and watches arrive at least a
/// quarter second apart (200 ms allows for the loopback's jitter; unlimited, the three lists
/// arrive together), and the index still syncs.
#[tokio::test(flavor = "multi_thread")]
async fn apiserver_qps_and_burst_space_the_requests() {
    let api = api_with_a_service().await;
    let s = TestServer::start(&corefile(&api, "  apiserver_qps 4\n  apiserver_burst 1\n")).await;
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    eventually("every start-up request", || api.arrivals().len() >= START_UP_REQUESTS).await;
    let arrivals = api.arrivals();
    for pair in arrivals[..START_UP_REQUESTS].windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= Duration::from_millis(200),
            "{} came {gap:?} after {}: faster than 4 a second",
            pair[1].1,
            pair[0].1
        );
    }
    s.stop().await;
    api.stop();
}

/// With every answer held back 300 ms, `apiserver_max_inflight 1` lets one request wait at a
/// time; without it the three lists wait together.
#[tokio::test(flavor = "multi_thread")]
async fn apiserver_max_inflight_caps_the_requests_waiting_at_once() {
    let api = api_with_a_service().await;
    api.set_delay(Duration::from_millis(300));
    let s = TestServer::start(&corefile(&api, "  apiserver_max_inflight 1\n")).await;
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    eventually("every start-up request", || api.arrivals().len() >= START_UP_REQUESTS).await;
    assert_eq!(api.most_in_flight(), 1, "requests: {:?}", api.arrivals());
    s.stop().await;
    api.stop();

    let unlimited = api_with_a_service().await;
    unlimited.set_delay(Duration::from_millis(300));
    let s = TestServer::start(&corefile(&unlimited, "")).await;
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    assert!(unlimited.most_in_flight() > 1, "the control: lists wait together without a cap");
    s.stop().await;
    unlimited.stop();
}
