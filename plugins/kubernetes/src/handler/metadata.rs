//! What the plugin publishes for *metadata* (CoreDNS's `Kubernetes.Metadata`): the client's pod
//! (with `pods verified`) and what a name in the plugin's zones asks for.
//!
//! One deliberate difference: CoreDNS reads a name's multicluster form against the zone of a
//! request it builds without one, so it never publishes `kubernetes/cluster` and reads
//! `ENDPOINT.CLUSTER.SVC…` as a port and a protocol; here a name in a `multicluster` zone is
//! read as the plugin answers it.

use plugin_api::pkg::zone::{longest_match, split_dots};
use plugin_api::{Meta, Request};

use super::Kubernetes;
use super::names::{Grammar, MAX_FIXED_LABELS, parse_labels, split_labels};
use crate::setup::PodMode;

/// CoreDNS's `errInvalidRequest`, the value of `kubernetes/parse-error`.
const INVALID: &str = "invalid query name";

impl Kubernetes {
    /// Publishes `req`'s labels into `meta`.
    pub(super) fn publish_metadata(&self, req: &Request, meta: &mut Meta) {
        if self.o.pods == PodMode::Verified {
            let index = self.index.load();
            if let Some(pod) = index.pod_with_ip(req.src().ip()) {
                meta.set("kubernetes/client-namespace", &pod.namespace);
                meta.set("kubernetes/client-pod-name", &pod.name);
                for (key, value) in pod.labels.iter() {
                    meta.set(&format!("kubernetes/client-label/{key}"), value);
                }
            }
        }
        let name = req.name();
        let Some(zone) = longest_match(&self.o.zones, name) else { return };
        let base = name[..name.len() - zone.len()].trim_end_matches('.');
        // On the stack, as `serve` splits it: publishing allocates nothing once the request's
        // metadata slots are warm.
        let mut fixed = [""; MAX_FIXED_LABELS];
        let spilled: Vec<&str>;
        let labels: &[&str] = match split_labels(base, &mut fixed) {
            Some(n) => &fixed[..n],
            None => {
                spilled = split_dots(base).collect();
                &spilled
            }
        };
        let multicluster = self.o.is_multicluster(zone);
        let grammar = Grammar { multicluster, zonal: self.o.zonal };
        let Some(p) = parse_labels(labels, grammar) else {
            meta.set("kubernetes/parse-error", INVALID);
            return;
        };
        meta.set("kubernetes/port-name", p.port);
        meta.set("kubernetes/protocol", p.protocol);
        meta.set("kubernetes/endpoint", p.endpoint);
        if multicluster {
            meta.set("kubernetes/cluster", p.cluster);
        }
        if self.o.zonal {
            meta.set("kubernetes/zone", p.zone.as_ref().map_or("", |(zone, _)| zone.as_str()));
        }
        meta.set("kubernetes/service", p.service);
        meta.set("kubernetes/namespace", p.namespace);
        // The zone's apex, `svc.` and `pod.` ask for nothing: CoreDNS leaves the kind empty.
        let kind = if labels.len() <= 1 { "" } else { p.pod_or_svc };
        meta.set("kubernetes/kind", kind);
    }
}
