//! The search path *autopath* walks for a client (CoreDNS's `Kubernetes.AutoPath`): with
//! `pods verified`, the asking pod's namespace under the zone, then `svc.` under it, the zone,
//! the server's own search list, and the bare name.

use plugin_api::Request;
use plugin_api::pkg::zone::longest_match;

use super::Kubernetes;
use crate::setup::PodMode;

impl Kubernetes {
    /// The search path for `req`'s client; `None` outside the plugin's zones, without
    /// `pods verified`, or for a client that is no known pod.
    pub(super) fn client_search_path(&self, req: &Request) -> Option<Vec<String>> {
        let zone = longest_match(&self.o.zones, req.name())?;
        if self.o.pods != PodMode::Verified {
            return None;
        }
        let index = self.index.load();
        let pod = index.pod_with_ip(req.src().ip())?;
        let mut search = Vec::with_capacity(4 + self.o.autopath_search.len());
        if zone == "." {
            search.push(format!("{}.svc.", pod.namespace));
            search.push("svc.".to_owned());
            search.push(".".to_owned());
        } else {
            search.push(format!("{}.svc.{zone}", pod.namespace));
            search.push(format!("svc.{zone}"));
            search.push(zone.to_owned());
        }
        search.extend(self.o.autopath_search.iter().cloned());
        search.push(String::new());
        Some(search)
    }
}
