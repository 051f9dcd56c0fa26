//! What the plugin answers for *k8s_external* (CoreDNS's `External`, `ExternalAddress`,
//! `ExternalSerial`): a Service's external addresses (`spec.externalIPs` and its load
//! balancer's ingress) as `SVC.NS.ZONE`, and with `headless` a headless Service's endpoints.
//!
//! A PTR query walks the Services for the address: such queries are rare and only in a block
//! that uses *k8s_external*, so the index keeps no reverse map of external addresses.

use std::net::IpAddr;

use plugin_api::Request;
use plugin_api::pkg::external::{ExternalAnswer, ExternalRecord, ExternalSource};
use plugin_api::pkg::zone::split_dots;
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::RecordType;

use super::names::endpoint_name;
use super::ns::server_addrs;
use super::{Kubernetes, port_matches, ports_or_placeholder};
use crate::objects::Kind;

fn answer(records: Vec<ExternalRecord>, rcode: ResponseCode) -> ExternalAnswer {
    ExternalAnswer { records, rcode }
}

impl ExternalSource for Kubernetes {
    fn external(&self, req: &Request, zone: &str, headless: bool) -> ExternalAnswer {
        let index = self.index.load();
        if req.qtype() == RecordType::PTR
            && let Some(ip) = req.reverse_addr()
        {
            let records: Vec<ExternalRecord> = index
                .services()
                .filter(|s| self.o.namespace_listed(&s.namespace))
                .filter(|s| s.external.iter().any(|x| x.parse::<IpAddr>() == Ok(ip)))
                .map(|s| {
                    let target = format!("{}.{}", s.name, s.namespace);
                    ExternalRecord { host: target.clone(), port: None, target }
                })
                .collect();
            let rcode =
                if records.is_empty() { ResponseCode::NXDomain } else { ResponseCode::NoError };
            return answer(records, rcode);
        }
        let name = req.name();
        let base = name.strip_suffix(zone).unwrap_or_default().trim_end_matches('.');
        let labels: Vec<&str> =
            if base.is_empty() { Vec::new() } else { split_dots(base).collect() };
        let Some((namespace, rest)) = labels.split_last() else {
            return answer(Vec::new(), ResponseCode::ServFail);
        };
        if !(index.has_namespace(namespace) && self.o.namespace_listed(namespace)) {
            return answer(Vec::new(), ResponseCode::NXDomain);
        }
        let Some((service, rest)) = rest.split_last() else {
            return answer(Vec::new(), ResponseCode::NoError);
        };
        let (endpoint, port, protocol) = match rest {
            [] => ("", "", ""),
            [endpoint] => (endpoint.strip_prefix('_').unwrap_or(endpoint), "", ""),
            [port, protocol] => (
                "",
                port.strip_prefix('_').unwrap_or(port),
                protocol.strip_prefix('_').unwrap_or(protocol),
            ),
            _ => return answer(Vec::new(), ResponseCode::NXDomain),
        };
        let mut records = Vec::new();
        let mut rcode = ResponseCode::NXDomain;
        if let Some(svc) = index.service(namespace, service) {
            if headless
                && svc.external.is_empty()
                && (svc.kind == Kind::Headless || !endpoint.is_empty())
            {
                for slice in index.slices(namespace, service) {
                    for e in slice.endpoints.iter().filter(|e| e.ready) {
                        let hostname = endpoint_name(e, self.o.endpoint_pod_names);
                        if !endpoint.is_empty() && !endpoint.eq_ignore_ascii_case(&hostname) {
                            continue;
                        }
                        for p in ports_or_placeholder(&slice.ports) {
                            if !port_matches(port, protocol, p) {
                                continue;
                            }
                            rcode = ResponseCode::NoError;
                            records.push(ExternalRecord {
                                host: e.ip.to_string(),
                                port: (p.port != 0).then_some(p.port),
                                target: format!("{hostname}.{}.{}", svc.name, svc.namespace),
                            });
                        }
                    }
                }
            } else {
                for host in svc.external.iter() {
                    for p in ports_or_placeholder(&svc.ports) {
                        if !port_matches(port, protocol, p) {
                            continue;
                        }
                        rcode = ResponseCode::NoError;
                        records.push(ExternalRecord {
                            host: host.to_string(),
                            port: (p.port != 0).then_some(p.port),
                            target: format!("{}.{}", svc.name, svc.namespace),
                        });
                    }
                }
            }
        }
        if req.qtype() == RecordType::PTR {
            // A reverse name that is no address: only whether it exists.
            records.clear();
        }
        answer(records, rcode)
    }

    fn for_each_external_host(
        &self,
        req: &Request,
        zone: &str,
        headless: bool,
        each: &mut dyn FnMut(&str),
    ) -> Option<bool> {
        if req.qtype() == RecordType::PTR {
            return None;
        }
        let base = req.name().strip_suffix(zone)?.strip_suffix('.')?;
        let (service, namespace) = base.split_once('.')?;
        if namespace.contains('.') {
            return None;
        }
        let index = self.index.load();
        if !(self.o.namespace_listed(namespace) && index.has_namespace(namespace)) {
            return None;
        }
        let svc = index.service(namespace, service)?;
        if headless && svc.external.is_empty() && svc.kind == Kind::Headless {
            return None;
        }
        // Every host stands once per port in `external`'s records, which the answer dedupes:
        // once each here.
        svc.external.iter().for_each(|host| each(host));
        Some(!svc.external.is_empty())
    }

    fn external_addresses(&self, headless: bool) -> Vec<IpAddr> {
        let index = self.index.load();
        let local = self.local_ips.get().map_or(&[][..], Vec::as_slice);
        server_addrs(&index, &self.o, local, true, headless).into_iter().map(|(_, ip)| ip).collect()
    }

    fn external_serial(&self) -> u32 {
        self.index.load().serial
    }

    fn external_ttl(&self) -> u32 {
        self.o.ttl
    }
}
