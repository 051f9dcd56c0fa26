//! The kinds k8s-openapi does not have, with the fields this plugin reads, as the API serves
//! them: the Gateway API's Gateway, HTTPRoute, TLSRoute and GRPCRoute
//! (`gateway.networking.k8s.io/v1`, the versions k8s_gateway watches) and external-dns's
//! DNSEndpoint (`externaldns.k8s.io/v1alpha1`). Every field is optional, so a malformed object
//! still decodes and is judged by what it has.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};

/// The Gateway API's group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Implements [`Resource`] for a namespaced kind of a fixed group and version.
macro_rules! resource {
    ($ty:ident, $kind:literal, $group:expr, $version:literal, $plural:literal) => {
        impl Resource for $ty {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                $kind.into()
            }

            fn group(_: &()) -> Cow<'_, str> {
                $group.into()
            }

            fn version(_: &()) -> Cow<'_, str> {
                $version.into()
            }

            fn plural(_: &()) -> Cow<'_, str> {
                $plural.into()
            }

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A Gateway: where the routes attached to it are reached.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Gateway {
    /// Name, namespace, labels.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Its class.
    #[serde(default)]
    pub spec: Option<GatewaySpec>,
    /// The addresses the controller gave it.
    #[serde(default)]
    pub status: Option<GatewayStatus>,
}

/// `spec` of a Gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The GatewayClass it belongs to.
    #[serde(default)]
    pub gateway_class_name: Option<String>,
}

/// `status` of a Gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct GatewayStatus {
    /// Its addresses.
    #[serde(default)]
    pub addresses: Vec<GatewayAddress>,
}

/// One address of a Gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct GatewayAddress {
    /// `IPAddress` (the default), `Hostname`, or an implementation's own.
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    /// The address.
    #[serde(default)]
    pub value: String,
}

/// `spec` of an HTTPRoute, TLSRoute or GRPCRoute: the fields DNS needs are the same.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The host names the route serves (may start with `*.`).
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// The Gateways it attaches to.
    #[serde(default)]
    pub parent_refs: Vec<ParentRef>,
}

/// A route's reference to its parent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ParentRef {
    /// The parent's API group (`gateway.networking.k8s.io` when absent).
    #[serde(default)]
    pub group: Option<String>,
    /// The parent's kind (`Gateway` when absent).
    #[serde(default)]
    pub kind: Option<String>,
    /// The parent's namespace (the route's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The parent's name.
    #[serde(default)]
    pub name: String,
}

/// Declares a route kind: metadata and a [`RouteSpec`].
macro_rules! route {
    ($ty:ident, $kind:literal, $plural:literal) => {
        #[doc = concat!("A ", $kind, ".")]
        #[derive(Debug, Clone, Default, Deserialize, Serialize)]
        pub struct $ty {
            /// Name, namespace, labels.
            #[serde(default)]
            pub metadata: ObjectMeta,
            /// Host names and parents.
            #[serde(default)]
            pub spec: Option<RouteSpec>,
        }
        resource!($ty, $kind, GATEWAY_GROUP, "v1", $plural);
    };
}

route!(HttpRoute, "HTTPRoute", "httproutes");
route!(TlsRoute, "TLSRoute", "tlsroutes");
route!(GrpcRoute, "GRPCRoute", "grpcroutes");
resource!(Gateway, "Gateway", GATEWAY_GROUP, "v1", "gateways");

/// An external-dns DNSEndpoint: records, as they are to be served.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DnsEndpoint {
    /// Name, namespace, labels.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The records.
    #[serde(default)]
    pub spec: Option<DnsEndpointSpec>,
}

/// `spec` of a DNSEndpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DnsEndpointSpec {
    /// One entry per name and type.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// One record set of a DNSEndpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The owner name.
    #[serde(default)]
    pub dns_name: String,
    /// `A`, `AAAA`, `TXT`, `CNAME`, ...
    #[serde(default)]
    pub record_type: String,
    /// The values.
    #[serde(default)]
    pub targets: Vec<String>,
}

resource!(DnsEndpoint, "DNSEndpoint", "externaldns.k8s.io", "v1alpha1", "dnsendpoints");
