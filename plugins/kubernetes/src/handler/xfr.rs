//! The cluster zone as a zone transfer gives it (CoreDNS's `Transfer`, plugin/kubernetes/xfr.go):
//! the SOA and NS records with their glue, as the apex answers them, then for every Service (by
//! namespace and name): a ClusterIP Service's addresses, an SRV per port at its name and one per
//! named port; a headless Service's endpoint addresses at its name and at each endpoint's, and
//! the SRV of its named ports; an ExternalName Service's CNAME. Multicluster zones and reverse
//! zones are not transferred.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use plugin_api::proto::op::{Message, Query};
use plugin_api::proto::rr::rdata::{A, AAAA, CNAME, SRV};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use plugin_api::{Chain, Ctx, Next, Plugin, Proto, Request};

use super::Kubernetes;
use super::names::endpoint_name;
use crate::objects::Kind;

impl Kubernetes {
    /// Every record of `zone`, SOA first; `None` for a zone this plugin does not transfer or
    /// before the index has synced.
    pub(crate) fn zone_records(&self, zone: &str) -> Option<Vec<Record>> {
        let forward = !zone.ends_with("in-addr.arpa.") && !zone.ends_with("ip6.arpa.");
        if !forward
            || !self.o.zones.iter().any(|z| z == zone)
            || self.o.multicluster.iter().any(|z| z == zone)
        {
            return None;
        }
        let index = self.index.load();
        if !index.synced {
            return None;
        }
        let apex = Name::from_ascii(zone).ok()?;
        let soa = self.ask(&apex, RecordType::SOA)?;
        let mut out = vec![soa.answers.first()?.clone()];
        if let Some(ns) = self.ask(&apex, RecordType::NS) {
            out.extend(ns.answers);
            out.extend(ns.additionals);
        }
        let ttl = self.o.ttl;
        let mut services: Vec<_> = index
            .services()
            .filter(|s| index.service(&s.namespace, &s.name).is_some())
            .filter(|s| self.o.namespace_listed(&s.namespace))
            .collect();
        services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for svc in services {
            let Ok(owner) = Name::from_ascii(format!("{}.{}.svc.{zone}", svc.name, svc.namespace))
            else {
                continue;
            };
            let named = |port: &crate::objects::Port| {
                Name::from_ascii(format!("_{}._{}.{owner}", port.name, port.protocol)).ok()
            };
            match &svc.kind {
                Kind::ClusterIp(ips) => {
                    for ip in ips {
                        out.push(address(owner.clone(), *ip, ttl));
                    }
                    for port in &svc.ports {
                        let srv = RData::SRV(SRV::new(0, 100, port.port, owner.clone()));
                        out.push(Record::from_rdata(owner.clone(), ttl, srv.clone()));
                        if let Some(n) = (!port.name.is_empty()).then(|| named(port)).flatten() {
                            out.push(Record::from_rdata(n, ttl, srv));
                        }
                    }
                }
                Kind::Headless => {
                    for slice in index.slices(&svc.namespace, &svc.name) {
                        let ready: Vec<_> = slice.endpoints.iter().filter(|e| e.ready).collect();
                        let weight = (100 / ready.len().max(1)).max(1) as u16;
                        for e in ready {
                            out.push(address(owner.clone(), e.ip, ttl));
                            let host = endpoint_name(e, self.o.endpoint_pod_names);
                            let Ok(target) =
                                Name::from_ascii(&host).and_then(|h| h.append_domain(&owner))
                            else {
                                continue;
                            };
                            out.push(address(target.clone(), e.ip, ttl));
                            for port in slice.ports.iter().filter(|p| !p.name.is_empty()) {
                                let Some(n) = named(port) else { continue };
                                let srv = SRV::new(0, weight, port.port, target.clone());
                                out.push(Record::from_rdata(n, ttl, RData::SRV(srv)));
                            }
                        }
                    }
                }
                Kind::ExternalName(target) => {
                    if let Ok(t) = Name::from_ascii(target) {
                        out.push(Record::from_rdata(owner, ttl, RData::CNAME(CNAME(t))));
                    }
                }
            }
        }
        Some(out)
    }

    /// This plugin's own answer to `name`/`qtype`, as a client would get it.
    fn ask(&self, name: &Name, qtype: RecordType) -> Option<Message> {
        let mut msg = Message::query();
        msg.add_query(Query::query(name.clone(), qtype));
        let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 0);
        let req = Arc::new(Request::new(msg, addr, addr, Proto::Tcp, 0));
        let ctx = Ctx { server: Arc::from("transfer"), zone: Arc::from("."), depth: 0 };
        let chain: Chain = Arc::from(Vec::<Arc<dyn Plugin>>::new());
        let served = self.serve(&ctx, &req, Next::new("", &chain, 0));
        let plugin_api::Serve::Ready(Ok(reply)) = served else { return None };
        reply.into_message().ok().map(|(m, _)| m)
    }
}

fn address(owner: Name, ip: IpAddr, ttl: u32) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner, ttl, data)
}
