//! The server's own name servers (CoreDNS's `nsAddrs`): the Services whose endpoints hold one
//! of the server's addresses, named under the zone, with their cluster IPs (a headless one:
//! each endpoint's name and address); `ns.dns.ZONE` with the server's addresses when no
//! endpoint holds one. The apex NS answer, `ns.dns.ZONE`'s addresses and *k8s_external*'s
//! name server glue are built from it. With `external`, the names are `SVC.NS.ZONE` and the
//! addresses the Services' external ones, as *k8s_external* serves them.

use std::net::IpAddr;

use plugin_api::proto::rr::Name;

use super::Lookup;
use super::names::endpoint_name;
use crate::index::{Index, ReverseTarget};
use crate::objects::Kind;
use crate::setup::Options;

impl Lookup<'_> {
    /// Each name server's name under `zone` and one of its addresses, in CoreDNS's order.
    pub(super) fn ns_addrs(&self, zone: &Name) -> Vec<(Name, IpAddr)> {
        let found = server_addrs(self.index, self.o, self.local_ips, false, false);
        found.into_iter().filter_map(|(left, ip)| Some((self.name(&left, zone)?, ip))).collect()
    }
}

/// Each name server's name left of the zone and one of its addresses.
pub(super) fn server_addrs(
    index: &Index,
    o: &Options,
    local_ips: &[IpAddr],
    external: bool,
    headless: bool,
) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut found_endpoint = false;
    for local in local_ips {
        for target in index.reverse(*local) {
            let ReverseTarget::Endpoint { slice, endpoint } = target else { continue };
            if !slice.endpoints.get(*endpoint as usize).is_some_and(|e| e.ready) {
                continue;
            }
            found_endpoint = true;
            let Some(svc) = index.service(&slice.namespace, &slice.service) else { continue };
            let svc_name = if external {
                format!("{}.{}", svc.name, svc.namespace)
            } else {
                format!("{}.{}.svc", svc.name, svc.namespace)
            };
            let endpoints_named = !external || headless;
            if endpoints_named && svc.kind == Kind::Headless {
                for e in slice.endpoints.iter().filter(|e| e.ready) {
                    out.push((
                        format!("{}.{svc_name}", endpoint_name(e, o.endpoint_pod_names)),
                        e.ip,
                    ));
                }
            } else if external {
                let ips = svc.external.iter().filter_map(|x| x.parse::<IpAddr>().ok());
                out.extend(ips.map(|ip| (svc_name.clone(), ip)));
            } else if let Kind::ClusterIp(ips) = &svc.kind {
                out.extend(ips.iter().map(|ip| (svc_name.clone(), *ip)));
            }
        }
    }
    if !found_endpoint {
        out.extend(local_ips.iter().map(|ip| ("ns.dns".to_owned(), *ip)));
    }
    out
}
