//! What *k8s_external* asks of the plugin that knows the cluster (CoreDNS's `Externaler`,
//! implemented by *kubernetes*): the Services a name in an external zone stands for, the
//! server's own external addresses, and the zone's serial. A plugin offers it through
//! [`Plugin::external_source`](crate::Plugin::external_source).

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;

use crate::Request;

/// One thing a name in the external zone resolves to (CoreDNS's `msg.Service` there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRecord {
    /// An address, or a host name (a load balancer's) answered as a CNAME.
    pub host: String,
    /// The port, for SRV; `None` for a Service without ports.
    pub port: Option<u16>,
    /// The name SRV records point at and PTR records name, left of the zone: `SVC.NS`, or
    /// `ENDPOINT.SVC.NS` for a headless Service's endpoint.
    pub target: String,
}

/// The answer to a name under an external zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAnswer {
    /// What the name stands for; empty for NODATA or NXDOMAIN (`rcode` says which).
    pub records: Vec<ExternalRecord>,
    /// NOERROR when the name exists.
    pub rcode: ResponseCode,
}

/// The provider's side.
pub trait ExternalSource: Send + Sync {
    /// What `req`'s name means under `zone` (one of *k8s_external*'s zones); with `headless`,
    /// a headless Service without external addresses stands for its endpoints. A PTR query
    /// for an address gives the Services it is an external address of (their `target`s).
    fn external(&self, req: &Request, zone: &str, headless: bool) -> ExternalAnswer;

    /// The commonest case of [`ExternalSource::external`] without building records: for a name
    /// `SVC.NS` under `zone` (no endpoint, port or reverse name), calls `each` with every
    /// external host of the Service and says whether it has any; `None` when the name is not
    /// that case or the Service is answered otherwise (missing, headless with `headless`), for
    /// [`ExternalSource::external`] to answer.
    fn for_each_external_host(
        &self,
        req: &Request,
        zone: &str,
        headless: bool,
        each: &mut dyn FnMut(&str),
    ) -> Option<bool> {
        let _ = (req, zone, headless, each);
        None
    }

    /// The server's own external addresses: the name servers' glue at the zone's apex.
    fn external_addresses(&self, headless: bool) -> Vec<IpAddr>;

    /// The zone's SOA serial: when the cluster's Services last changed.
    fn external_serial(&self) -> u32;

    /// The TTL of SRV records (the provider's own, as CoreDNS's `msg.Service` carries it).
    fn external_ttl(&self) -> u32;
}
