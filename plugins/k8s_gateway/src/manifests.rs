//! Serving without a cluster: Ingresses, Services, Gateways, routes and DNSEndpoints read from
//! YAML or JSON files (`manifests PATH...`), as *kubernetes* reads its kinds; the files are read
//! again when they change. Kinds not configured, and every other kind, are passed over; an
//! object that does not decode is logged with its file and place.

use std::path::PathBuf;

use k8s_openapi::api::networking::v1::Ingress;
use kube::Resource;
use plugin_api::pkg::manifests;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::index::{Index, Store};
use crate::objects::{self, Kind, Object};
use crate::setup::Options;
use crate::types::{Gateway, GrpcRoute, HttpRoute, TlsRoute};

/// The index of the objects in `files`, and the problems met (each naming its place).
pub fn load(files: &[PathBuf], o: &Options) -> (Index, Vec<String>) {
    let (texts, mut problems) = manifests::read(files);
    let (index, mut more) = load_texts(&texts, o);
    problems.append(&mut more);
    (index, problems)
}

/// [`load`] for texts already read, each with the name its problems give.
pub fn load_texts(texts: &[(String, String)], o: &Options) -> (Index, Vec<String>) {
    let (docs, mut problems) = manifests::documents(texts);
    let watched = crate::watch::kinds(o);
    let mut store = Store::default();
    for (place, doc) in docs {
        let kind_name = doc.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let Some(kind) = kind_of(&kind_name, &api_version).filter(|k| watched.contains(k)) else {
            continue;
        };
        let reduced = match kind {
            Kind::Ingress => reduce(doc, |i: &Ingress| objects::ingress(i, &o.ingress_classes)),
            Kind::Service => reduce(doc, objects::service),
            Kind::HttpRoute => reduce(doc, |r: &HttpRoute| objects::route(r, r.spec.as_ref())),
            Kind::TlsRoute => reduce(doc, |r: &TlsRoute| objects::route(r, r.spec.as_ref())),
            Kind::GrpcRoute => reduce(doc, |r: &GrpcRoute| objects::route(r, r.spec.as_ref())),
            Kind::DnsEndpoint => reduce(doc, objects::dns_endpoint),
            Kind::Gateway => reduce(doc, |g: &Gateway| objects::gateway(g, &o.gateway_classes)),
        };
        match reduced {
            Ok((key, object)) => store.put(kind, key, object),
            Err(e) => problems.push(format!("{place}: {kind_name}: {e}")),
        }
    }
    (Index::build(&o.resources, &store, true), problems)
}

/// The kind of a document, by its kind and API group (an object of another group with the same
/// kind name is not ours).
fn kind_of(kind: &str, api_version: &str) -> Option<Kind> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some(match (kind, group) {
        ("Ingress", "networking.k8s.io") => Kind::Ingress,
        ("Service", "") => Kind::Service,
        ("HTTPRoute", crate::types::GATEWAY_GROUP) => Kind::HttpRoute,
        ("TLSRoute", crate::types::GATEWAY_GROUP) => Kind::TlsRoute,
        ("GRPCRoute", crate::types::GATEWAY_GROUP) => Kind::GrpcRoute,
        ("Gateway", crate::types::GATEWAY_GROUP) => Kind::Gateway,
        ("DNSEndpoint", "externaldns.k8s.io") => Kind::DnsEndpoint,
        _ => return None,
    })
}

/// Decodes a document as `K` and reduces it. Manifests as people write them have no namespace:
/// they are in `default`.
fn reduce<K, R>(doc: Value, reduce: R) -> Result<((String, String), Object), String>
where
    K: Resource + DeserializeOwned,
    R: Fn(&K) -> Object,
{
    let mut obj: K = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    let meta = obj.meta_mut();
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some("default".into());
    }
    Ok((objects::key_of(&obj), reduce(&obj)))
}
