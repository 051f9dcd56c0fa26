//! The deployment manifests in docker/ parse into the Kubernetes API types, say what CoreDNS's
//! say, and carry a Corefile ferrodns loads.

use std::path::PathBuf;

use ferrodns::config::{self, Source};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::Value;

fn documents() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docker/manifests");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let values: Vec<Value> =
            serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        docs.extend(values.into_iter().filter(|v| !v.is_null()));
    }
    docs
}

fn of_kind<T: k8s_openapi::serde::de::DeserializeOwned>(docs: &[Value], kind: &str) -> Vec<T> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| serde_json::from_value(d.clone()).unwrap_or_else(|e| panic!("{kind}: {e}")))
        .collect()
}

#[test]
fn every_manifest_is_a_valid_object() {
    let docs = documents();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for want in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(&want), "{want} missing: {kinds:?}");
    }
    assert_eq!(of_kind::<ServiceAccount>(&docs, "ServiceAccount").len(), 1);
    let binding = &of_kind::<ClusterRoleBinding>(&docs, "ClusterRoleBinding")[0];
    assert_eq!(binding.role_ref.name, "system:coredns");
    let role = &of_kind::<ClusterRole>(&docs, "ClusterRole")[0];
    let rules = role.rules.as_ref().unwrap();
    let grants = |group: &str, resource: &str| {
        rules.iter().any(|r| {
            r.api_groups.as_ref().is_some_and(|g| g.iter().any(|x| x == group))
                && r.resources.as_ref().is_some_and(|rs| rs.iter().any(|x| x == resource))
                && r.verbs.contains(&"list".to_string())
                && r.verbs.contains(&"watch".to_string())
        })
    };
    for (group, resource) in
        [("", "services"), ("", "pods"), ("", "namespaces"), ("discovery.k8s.io", "endpointslices")]
    {
        assert!(grants(group, resource), "list/watch {resource}");
    }
}

#[test]
fn the_deployment_matches_coredns_contract() {
    let docs = documents();
    let d = &of_kind::<Deployment>(&docs, "Deployment")[0];
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let c = &pod.containers[0];
    assert_eq!(
        c.args.as_ref().unwrap(),
        &["-conf".to_string(), "/etc/coredns/Corefile".to_string()]
    );
    let ports: Vec<(i32, String)> = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.container_port, p.protocol.clone().unwrap()))
        .collect();
    for want in [(53, "UDP"), (53, "TCP"), (9153, "TCP"), (8080, "TCP"), (8181, "TCP")] {
        assert!(ports.contains(&(want.0, want.1.to_string())), "port {want:?}");
    }
    let live = c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(live.path.as_deref(), Some("/health"));
    let ready = c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(ready.path.as_deref(), Some("/ready"));
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(pod.service_account_name.as_deref(), Some("coredns"));
    assert_eq!(pod.dns_policy.as_deref(), Some("Default"));
    let svc = &of_kind::<Service>(&docs, "Service")[0];
    assert_eq!(svc.metadata.name.as_deref(), Some("kube-dns"));
    assert_eq!(svc.spec.as_ref().unwrap().selector.as_ref().unwrap()["k8s-app"], "kube-dns");
}

#[test]
fn the_configmap_corefile_loads() {
    let docs = documents();
    let cm = &of_kind::<ConfigMap>(&docs, "ConfigMap")[0];
    let corefile = &cm.data.as_ref().unwrap()["Corefile"];
    let source = Source {
        filename: "Corefile".into(),
        text: corefile.clone(),
        path: None,
        dns_port: "53".into(),
    };
    let config = config::load(&source, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let block = &config.listeners[0].zones[0].1;
    assert_eq!(
        block.directives,
        vec![
            "reload",
            "ready",
            "health",
            "prometheus",
            "errors",
            "loadbalance",
            "cache",
            "kubernetes",
            "loop",
            "forward"
        ]
    );
}
