//! `apiserver_qps`, `apiserver_burst` and `apiserver_max_inflight`, seen from the API server's
//! side: when the real client's requests arrive and how many wait at once.

use std::time::Duration;

use hickory_proto::op::ResponseCode;

use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::harness::{eventually, wait_until};
use crate::kube_api::{NAMESPACES, SERVICES, corefile, until};

/// A list and a watch for each of Services, EndpointSlices and Namespaces.
const START_UP_REQUESTS: usize = 6;

async fn api_with_a_service() -> std::sync::Arc<FakeApi> {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.3.1"));
    api
}

/// At 4 requests a second with no burst, the start-up's three lists arrive at least a quarter
/// second apart (200 ms allows for the loopback's jitter; unlimited, they arrive together), and
/// the index still syncs. Watches are not rate limited (client-go's rule): the first list's
/// watch starts before the last list has gone out.
#[tokio::test(flavor = "multi_thread")]
async fn apiserver_qps_and_burst_space_the_lists_but_not_the_watches() {
    let api = api_with_a_service().await;
    let s = TestServer::start(&corefile(&api, "  apiserver_qps 4\n  apiserver_burst 1\n")).await;
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    eventually("every start-up request", || api.arrivals().len() >= START_UP_REQUESTS).await;
    let arrivals = api.arrivals();
    let is_watch = |what: &str| what.contains("watch=true");
    let lists: Vec<_> = arrivals.iter().filter(|(_, what)| !is_watch(what)).collect();
    assert_eq!(lists.len(), 3, "{arrivals:?}");
    for pair in lists.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= Duration::from_millis(200),
            "{} came {gap:?} after {}: faster than 4 a second",
            pair[1].1,
            pair[0].1
        );
    }
    let first_watch = arrivals.iter().find(|(_, what)| is_watch(what)).expect("a watch");
    assert!(first_watch.0 < lists[2].0, "a watch waited for the rate: {arrivals:?}");
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

/// client-go's request metrics, from the layer under the client: each request counted by
/// status code, method and the API server's `host:port` (`<error>` when nothing came back), and
/// the duration and rate-limiter histograms for the lists.
#[tokio::test(flavor = "multi_thread")]
async fn rest_client_metrics_count_the_requests() {
    let api = api_with_a_service().await;
    let corefile = format!(
        ".:0 {{\n prometheus localhost:0\n kubernetes cluster.local {{\n  endpoint http://{}\n  apiserver_qps 100\n }}\n}}",
        api.addr
    );
    let s = TestServer::start(&corefile).await;
    until(&s, "web.default.svc.cluster.local.", ResponseCode::NoError).await;
    eventually("every start-up request", || api.arrivals().len() >= START_UP_REQUESTS).await;
    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let host = api.addr.to_string();
    let scrape = || async { parse_exposition(&http_get(metrics, "/metrics").await.1) };
    let samples = scrape().await;
    let ok = [("code", "200"), ("method", "GET"), ("host", host.as_str())];
    let counted = metric(&samples, "coredns_kubernetes_rest_client_requests_total", &ok);
    assert!(counted >= Some(START_UP_REQUESTS as f64), "lists and watches: {counted:?}");
    let lists = [("verb", "GET"), ("host", host.as_str())];
    for histogram in ["request_duration_seconds", "rate_limiter_duration_seconds"] {
        let name = format!("coredns_kubernetes_rest_client_{histogram}_count");
        assert_eq!(metric(&samples, &name, &lists), Some(3.0), "{name}: the three lists");
    }

    // An API server that answers 500 is counted as such.
    api.set_failing(Some(500));
    let failed = [("code", "500"), ("method", "GET"), ("host", host.as_str())];
    let requests = "coredns_kubernetes_rest_client_requests_total";
    wait_until("a 500 counted", || async { metric(&scrape().await, requests, &failed).is_some() })
        .await;
    s.stop().await;
    api.stop();

    // One where nothing listens, as `<error>`.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let corefile = format!(
        ".:0 {{\n prometheus localhost:0\n kubernetes cluster.local {{\n  endpoint http://{closed}\n  startup_timeout 1s\n }}\n}}"
    );
    let s = TestServer::start(&corefile).await;
    let metrics = s.instance.http_addr("localhost:0").unwrap();
    let host = closed.to_string();
    let gone = [("code", "<error>"), ("method", "GET"), ("host", host.as_str())];
    // The watch thread's first request may come after the 1 s start-up wait on a busy machine:
    // wait for it to be counted rather than read the metrics once.
    wait_until("a refused connection counted", || async {
        let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
        let errors = metric(&samples, "coredns_kubernetes_rest_client_requests_total", &gone);
        errors > Some(0.0)
    })
    .await;
    s.stop().await;
}
