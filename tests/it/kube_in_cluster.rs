//! No `kubeconfig`, no `endpoint`: the Pod's own service account, as in a cluster. The real
//! binary runs in a mount namespace of its own where /var/run/secrets/kubernetes.io/
//! serviceaccount holds a token, the CA and a namespace (the paths the client reads are fixed),
//! with `KUBERNETES_SERVICE_HOST`/`_PORT` naming an HTTPS fake API server signed by that CA.
//! Needs root, as CI and this repository's machine have; without it `unshare` fails and so does
//! the test, saying why.

use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::fake_api::{FakeApi, namespace, service};
use crate::harness::*;
use crate::kube_api::{NAMESPACES, SERVICES};
use crate::upstream::TestPki;

/// The service-account files of a Pod under `dir`/serviceaccount (the token, the test CA,
/// the namespace), and the shell commands that mount them where the client reads them, in a
/// mount namespace of the binary's own.
pub fn service_account(dir: &Scratch, ca_pem: &str) -> String {
    std::fs::create_dir_all(dir.join("serviceaccount")).unwrap();
    dir.write("serviceaccount/token", "token-of-the-test-account");
    dir.write("serviceaccount/ca.crt", ca_pem);
    dir.write("serviceaccount/namespace", "kube-system");
    format!(
        "mount -t tmpfs none /var/run && mkdir -p /var/run/secrets/kubernetes.io/serviceaccount \
         && mount --bind {} /var/run/secrets/kubernetes.io/serviceaccount",
        dir.join("serviceaccount").display()
    )
}

/// Runs the binary on `conf` as a Pod would: in a mount namespace where `setup` mounted the
/// service account (and whatever else), with `KUBERNETES_SERVICE_HOST`/`_PORT` naming `api`.
pub fn spawn_in_cluster(
    setup: &str,
    conf: &std::path::Path,
    dir: &Scratch,
    api: &FakeApi,
) -> Running {
    let port = api.addr.port().to_string();
    let home = dir.path().display().to_string();
    let env = [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", port.as_str()),
        ("HOME", home.as_str()),
    ];
    let args = ["-conf", conf.to_str().unwrap()];
    Running::spawn_in_mount_namespace(setup, &args, dir.path(), &env, &["KUBECONFIG"])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_cluster_service_account_is_used_when_nothing_else_is_configured() {
    let pki = TestPki::new("localhost");
    let api = FakeApi::start_tls(pki.server_config.clone()).await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "in-cluster", "10.96.8.8"));
    let dir = Scratch::new("kube-in-cluster");
    let setup = service_account(&dir, &pki.ca_pem);
    let conf = dir.write("Corefile", "cluster.local:0 {\n kubernetes cluster.local\n}\n");
    let mut p = spawn_in_cluster(&setup, &conf, &dir, &api);
    let addr = p.port_of("cluster.local.");
    let reply = udp_exchange(addr, &query("in-cluster.default.svc.cluster.local.", RecordType::A))
        .await
        .expect("an answer");
    let answers: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(answers, ["10.96.8.8"], "log: {:?}", p.seen);
    assert!(
        api.authorizations().iter().any(|a| a == "Bearer token-of-the-test-account"),
        "the service account's token: {:?}",
        api.authorizations()
    );
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
    api.stop();
}
