//! Serving without a cluster: Kubernetes objects read from YAML files.
//!
//! Accepted: files or folders of `.yaml`/`.yml`/`.json` files, several documents per file, and
//! `List` documents (what `kubectl get svc,endpointslices,pods,namespaces -A -o yaml` prints).
//! Services, EndpointSlices, Pods and Namespaces are used, and ServiceImports with the
//! EndpointSlices labelled for them (`multicluster`); other kinds are passed over. Objects
//! as people write them work too: a Service without `clusterIP` gets a stable address from
//! 10.96.0.0/12 (derived from its namespace and name, and logged), an object without a namespace
//! is in `default`, and a namespace that an object names exists.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use plugin_api::pkg::manifests;
use serde_json::Value;

use crate::mcs::{self, ServiceImport};
use crate::objects;
use crate::selector::Filter;

/// What the files hold, reduced.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Services.
    pub services: Vec<objects::Service>,
    /// EndpointSlices.
    pub slices: Vec<objects::Slice>,
    /// Pods.
    pub pods: Vec<objects::Pod>,
    /// Namespaces.
    pub namespaces: Vec<String>,
    /// ServiceImports (for `multicluster` zones), as Services.
    pub imports: Vec<objects::Service>,
    /// EndpointSlices labelled `multicluster.kubernetes.io/service-name`.
    pub clusterset_slices: Vec<objects::Slice>,
    /// Problems, each naming its file and document.
    pub problems: Vec<String>,
}

impl Loaded {
    /// The index of what was loaded, with `filter`'s namespace rule applied.
    pub fn into_index(self, serial: u32, filter: &Filter) -> crate::index::Index {
        use crate::store::{Object, Store};
        let objects = (self.services.into_iter().map(|s| Object::Service(Arc::new(s))))
            .chain(self.slices.into_iter().map(|s| Object::Slice(Arc::new(s))))
            .chain(self.pods.into_iter().map(Object::Pod))
            .chain(self.namespaces.into_iter().map(Object::Namespace))
            .chain(self.imports.into_iter().map(|s| Object::Import(Arc::new(s))))
            .chain(
                self.clusterset_slices.into_iter().map(|s| Object::ClustersetSlice(Arc::new(s))),
            );
        Store::with(filter.strict_namespaces(), objects).snapshot(serial, true)
    }
}

/// Reads and reduces every object of the files.
pub fn load(files: &[PathBuf], filter: &Filter) -> Loaded {
    let (texts, mut problems) = manifests::read(files);
    let mut loaded = load_texts(&texts, filter);
    problems.append(&mut loaded.problems);
    loaded.problems = problems;
    loaded
}

/// Reads manifests already in memory, each named for the problems it may report: what
/// [`load`] does after reading the files (and what the fuzz target feeds).
pub fn load_texts(texts: &[(String, String)], filter: &Filter) -> Loaded {
    let (docs, problems) = manifests::documents(texts);
    let mut loaded = Loaded { problems, ..Loaded::default() };
    let mut used_ips: HashSet<IpAddr> = HashSet::new();
    let mut unaddressed = Vec::new();
    for (place, doc) in docs {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let result = match kind.as_str() {
            "Service" => serde_json::from_value::<Service>(doc)
                .map_err(|e| e.to_string())
                .and_then(|s| match objects::service(&s) {
                    _ if !filter.object(s.metadata.labels.as_ref()) => Ok(()),
                    Err(e) if e == "no clusterIP" => {
                        unaddressed.push((place.clone(), s));
                        Ok(())
                    }
                    Err(e) => Err(e),
                    Ok(svc) => {
                        if let objects::Kind::ClusterIp(ips) = &svc.kind {
                            used_ips.extend(ips.iter().copied());
                        }
                        loaded.services.push(svc);
                        Ok(())
                    }
                }),
            "EndpointSlice" => serde_json::from_value::<EndpointSlice>(doc)
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if !filter.object(s.metadata.labels.as_ref()) {
                        return Ok(());
                    }
                    // A multicluster slice serves a ServiceImport; one with both labels, both.
                    let labels = s.metadata.labels.as_ref();
                    let has = |label: &str| labels.is_some_and(|l| l.contains_key(label));
                    if has(mcs::SERVICE_NAME_LABEL) {
                        loaded.clusterset_slices.push(objects::clusterset_slice(&s, true)?);
                        if !has(objects::SERVICE_NAME_LABEL) {
                            return Ok(());
                        }
                    }
                    let keep = objects::Keep { pod_names: true, zones: true };
                    objects::slice(&s, keep).map(|s| loaded.slices.push(s))
                }),
            "ServiceImport" => serde_json::from_value::<ServiceImport>(doc)
                .map_err(|e| e.to_string())
                .and_then(|si| objects::service_import(&si).map(|s| loaded.imports.push(s))),
            "Pod" => serde_json::from_value::<Pod>(doc).map_err(|e| e.to_string()).map(|p| {
                match objects::pod(&p) {
                    Ok(pod) => loaded.pods.push(pod),
                    // A pod as written has no status yet: only its namespace counts.
                    Err(_) if filter.strict_namespaces() => {}
                    Err(_) => {
                        let ns = p.metadata.namespace.as_deref().unwrap_or("default");
                        loaded.namespaces.push(ns.to_ascii_lowercase());
                    }
                }
            }),
            "Namespace" => {
                serde_json::from_value::<Namespace>(doc).map_err(|e| e.to_string()).and_then(|n| {
                    if !filter.namespace(n.metadata.labels.as_ref()) {
                        return Ok(());
                    }
                    objects::namespace(&n).map(|n| loaded.namespaces.push(n))
                })
            }
            _ if filter.strict_namespaces() => Ok(()),
            _ => {
                if let Some(ns) = doc.pointer("/metadata/namespace").and_then(Value::as_str) {
                    loaded.namespaces.push(ns.to_ascii_lowercase());
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            loaded.problems.push(format!("{place}: {kind}: {e}"));
        }
    }
    for (place, mut s) in unaddressed {
        let ns = s.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = s.metadata.name.clone().unwrap_or_default();
        let ip = assign_ip(&ns, &name, &used_ips);
        used_ips.insert(ip);
        tracing::info!(
            "plugin/kubernetes: {place}: Service {ns}/{name} has no clusterIP; serving it at {ip}"
        );
        if let Some(spec) = s.spec.as_mut() {
            spec.cluster_ip = Some(ip.to_string());
        }
        match objects::service(&s) {
            Ok(svc) => loaded.services.push(svc),
            Err(e) => loaded.problems.push(format!("{place}: Service: {e}")),
        }
    }
    loaded
}

/// A stable address in 10.96.0.0/12 for a Service without one: derived from its namespace and
/// name, moved along if taken. 10.96.0.0 and 10.96.0.1 (the API server's) are never given.
pub fn assign_ip(namespace: &str, name: &str, used: &HashSet<IpAddr>) -> IpAddr {
    // FNV-1a: the same address for the same Service on every run and every build.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in namespace.bytes().chain([b'/']).chain(name.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let size: u32 = 1 << 20;
    let mut offset = (h % u64::from(size)) as u32;
    loop {
        if offset >= 2 {
            let ip = IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 96, 0, 0)) + offset));
            if !used.contains(&ip) {
                return ip;
            }
        }
        offset = (offset + 1) % size;
    }
}
