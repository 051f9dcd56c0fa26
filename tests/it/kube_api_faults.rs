//! The API server misbehaving: refusing the service account (403), a watch stream that is not
//! JSON, and a `multicluster` zone whose ServiceImport CRD is not installed.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES, corefile, until};

/// A 403 from the API (RBAC not granted yet): nothing syncs, names in the zone are SERVFAIL and
/// `/ready` names *kubernetes*; once the API lets the client in, answers and readiness follow
/// without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_forbidden_client_is_not_ready_until_allowed() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.5.1"));
    api.set_failing(Some(403));
    let s = TestServer::start(&corefile(&api, "  startup_timeout 1s\n")).await;
    let ready = s.instance.http_addr("localhost:0").unwrap();
    let web = "web.default.svc.cluster.local.";
    assert_eq!(s.udp(web, RecordType::A).await.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(http_get(ready, "/ready").await, (503, "kubernetes".to_string()));
    assert!(api.failed_requests() > 0, "the client was refused");
    api.set_failing(None);
    until(&s, web, ResponseCode::NoError).await;
    wait_until("ready", || async { http_get(ready, "/ready").await.0 == 200 }).await;
    s.stop().await;
    api.stop();
}

/// A watch stream that carries a line that is not JSON: the watch starts again, and changes
/// made after it are answered; what was known answers throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_watch_stream_is_survived() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "steady", "10.96.5.2"));
    let s = TestServer::start(&corefile(&api, "")).await;
    let steady = "steady.default.svc.cluster.local.";
    until(&s, steady, ResponseCode::NoError).await;
    eventually("every watch open", || api.open_watches() >= 3).await;
    api.send_garbage("{\"type\": \"ADDED\", \"object\": {not json");
    api.send_garbage("\u{0}\u{1}binary");
    api.apply(SERVICES, service("default", "later", "10.96.5.3"));
    wait_until("the change after the garbage answers", || async {
        let reply = s.udp(steady, RecordType::A).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "steady keeps answering");
        let later = s.udp("later.default.svc.cluster.local.", RecordType::A).await;
        later.metadata.response_code == ResponseCode::NoError
    })
    .await;
    s.stop().await;
    api.stop();
}

/// `multicluster` on an API server without the ServiceImport CRD: the ServiceImport watch
/// gets 404. As in CoreDNS, the index never syncs: one warning names the 404; after
/// `startup_timeout` the Services that did list answer, and every name that would be NXDOMAIN
/// is SERVFAIL (CoreDNS's handler turns a name error into SERVFAIL until every informer has
/// synced). ferrodns warns once per distinct error, not at every retry; its README says so.
#[tokio::test(flavor = "multi_thread")]
async fn multicluster_without_the_crd_warns_and_serves_servfail() {
    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.5.4"));
    api.uninstall("/apis/multicluster.x-k8s.io/v1alpha1/serviceimports");
    let dir = Scratch::new("mcs-no-crd");
    let conf = dir.write(
        "Corefile",
        &format!(
            ".:0 {{\n kubernetes cluster.local clusterset.local {{\n  endpoint http://{}\n  multicluster clusterset.local\n  startup_timeout 1s\n }}\n}}\n",
            api.addr
        ),
    );
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let warning = p.wait_line(|l| l.contains("plugin/kubernetes: watching") && l.contains("404"));
    assert!(warning.starts_with("[WARNING] "), "{warning}");
    let addr = p.port_of(".");
    let rcode = |name: &'static str| async move {
        let reply = udp_exchange(addr, &query(name, RecordType::A)).await;
        reply.expect("a reply").metadata.response_code
    };
    assert_eq!(rcode("web.default.svc.cluster.local.").await, ResponseCode::NoError);
    assert_eq!(rcode("nosuch.default.svc.cluster.local.").await, ResponseCode::ServFail);
    assert_eq!(rcode("web.default.svc.clusterset.local.").await, ResponseCode::ServFail);
    // Still retrying, and still saying it once: no second warning for the same 404.
    let import_requests =
        || api.arrivals().iter().filter(|(_, what)| what.contains("serviceimports")).count();
    eventually("the client asks for ServiceImports again", || import_requests() >= 3).await;
    let repeated = p.drain().iter().filter(|l| l.contains("watching") && l.contains("404")).count();
    assert_eq!(repeated, 1, "one warning for one error: {:?}", p.seen);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
    api.stop();
}
