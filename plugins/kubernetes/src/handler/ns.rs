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
use crate::index::ReverseTarget;
use crate::objects::Kind;

impl Lookup<'_> {
    /// Each name server's name and one of its addresses, in the order CoreDNS gives them.
    pub(super) fn ns_addrs(
        &self,
        external: bool,
        headless: bool,
        zone: &Name,
    ) -> Vec<(Name, IpAddr)> {
        let mut out = Vec::new();
        let mut found_endpoint = false;
        for local in self.local_ips {
            for target in self.index.reverse(*local) {
                let ReverseTarget::Endpoint { slice, endpoint } = target else { continue };
                let ready = slice.endpoints.get(*endpoint as usize).is_some_and(|e| e.ready);
                if !ready {
                    continue;
                }
                found_endpoint = true;
                let Some(svc) = self.index.service(&slice.namespace, &slice.service) else {
                    continue;
                };
                let left = if external {
                    format!("{}.{}", svc.name, svc.namespace)
                } else {
                    format!("{}.{}.svc", svc.name, svc.namespace)
                };
                let Some(svc_name) = self.name(&left, zone) else { continue };
                let endpoints_named = if external { headless } else { true };
                if endpoints_named && svc.kind == Kind::Headless {
                    for e in slice.endpoints.iter().filter(|e| e.ready) {
                        let label = endpoint_name(e, self.o.endpoint_pod_names);
                        if let Some(name) = self.name(&label, &svc_name) {
                            out.push((name, e.ip));
                        }
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
            let default = self.name("ns.dns", zone).unwrap_or_else(Name::root);
            out.extend(self.local_ips.iter().map(|ip| (default.clone(), *ip)));
        }
        out
    }
}
