//! The Multi-Cluster Services API's ServiceImport (`multicluster.x-k8s.io/v1alpha1`), which
//! k8s-openapi does not have: the fields DNS reads, as the API serves them, so kube's watcher
//! can list and watch it like a built-in kind.
//!
//! An MCS implementation writes one ServiceImport per exported Service in each importing
//! cluster, and EndpointSlices labelled `multicluster.kubernetes.io/service-name` (and
//! `.../source-cluster`) for its endpoints; `multicluster` zones answer from those.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};

/// The label naming the imported Service of a multicluster EndpointSlice.
pub const SERVICE_NAME_LABEL: &str = "multicluster.kubernetes.io/service-name";
/// The label naming the cluster a multicluster EndpointSlice's endpoints are in.
pub const SOURCE_CLUSTER_LABEL: &str = "multicluster.kubernetes.io/source-cluster";

/// A ServiceImport.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ServiceImport {
    /// Name, namespace, labels.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What the import offers; absent in a malformed object.
    #[serde(default)]
    pub spec: Option<ServiceImportSpec>,
}

/// `spec` of a ServiceImport.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    /// `ClusterSetIP` or `Headless`.
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    /// The clusterset addresses (for `ClusterSetIP`).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Its ports.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
}

/// One port of a ServiceImport.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ServicePort {
    /// The port's name, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The number.
    pub port: i32,
}

impl Resource for ServiceImport {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "ServiceImport".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "multicluster.x-k8s.io".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "serviceimports".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
