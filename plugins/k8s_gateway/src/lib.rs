//! *k8s_gateway* (the external plugin k8s-gateway/k8s_gateway, built in here): the host names
//! of a cluster's Ingresses, Gateway API routes, LoadBalancer Services and external-dns
//! DNSEndpoints, answered with the addresses that reach them, so one server answers both the
//! cluster's own names and the names it publishes.
//!
//! * [`setup::parse`] reads `k8s_gateway [ZONES...] { options }` in k8s_gateway's syntax and
//!   words, plus `manifests PATH...`.
//! * [`types`]: slim Gateway, route and DNSEndpoint types (k8s-openapi has none of them).
//! * [`objects`]: each object reduced to the host names it claims and their [`objects::Targets`].
//! * [`index`]: the objects held, and the per-resource host name tables queries read.
//! * [`watch`]: the plugin's own API connection (as k8s_gateway has its own), on a thread of
//!   its own; a CRD that is not installed is not watched until it is.
//! * [`manifests`]: the objects from files instead, read again when they change.
//! * [`answer`]: A, AAAA, TXT, SOA, NS and CNAME answers, the apex and `APEX.ZONE`.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use plugin_api::pkg::manifests as files;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::pkg::zone::longest_match;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};
use tokio::sync::Notify;

pub mod answer;
pub mod index;
pub mod manifests;
pub mod objects;
pub mod setup;
pub mod types;
pub mod watch;

use index::Index;
use setup::Options;

/// The directive's name.
pub const NAME: &str = "k8s_gateway";

/// How long a starting server waits for the first lists before it answers anyway (with
/// SERVFAIL in the zones until they come), so a reload does not open a gap.
const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let o = Arc::new(setup::parse(c)?);
    let index = Arc::new(ArcSwap::from_pointee(Index::default()));
    if o.manifests.is_empty() {
        let stop = Arc::new(Notify::new());
        let (opts, target, stopping) = (o.clone(), index.clone(), stop.clone());
        c.on_startup(Box::pin(async move {
            let started = watch::spawn(opts, target.clone(), stopping)
                .map_err(|e| format!("plugin/k8s_gateway: cannot start the watch thread: {e}"))?;
            match started.await {
                Ok(Ok(())) => {
                    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
                    while !target.load().synced && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!("plugin/k8s_gateway: cannot connect to the Kubernetes API: {e}")
                }
                Err(_) => tracing::error!("plugin/k8s_gateway: the watch thread ended"),
            }
            Ok(())
        }));
        c.on_shutdown(Box::pin(async move {
            stop.notify_one();
            Ok(())
        }));
    } else {
        let (target, opts) = (index.clone(), o.clone());
        files::load_and_watch(c, &o.manifests, move |found| {
            target.store(Arc::new(load(&found, &opts)));
        })?;
    }
    let hostmaster = format!("hostmaster.{}", o.apex);
    Ok(Some(Arc::new(K8sGateway { o, index, hostmaster, upstream: Upstream::new(c) })))
}

/// Reads the manifest files, logging what had to be skipped.
fn load(found: &[std::path::PathBuf], o: &Options) -> Index {
    let (index, problems) = manifests::load(found, o);
    for p in problems {
        tracing::warn!("plugin/k8s_gateway: skipping {p}");
    }
    // The parsed YAML (every document of the folder, Services included) is gone: give its
    // memory back, as *kubernetes* does after its load.
    plugin_api::pkg::trim::Trimmer::default().after_publish(true);
    tracing::info!(
        "plugin/k8s_gateway: loaded {} host names from {} manifest files",
        index.names(),
        found.len()
    );
    index
}

/// The handler.
pub struct K8sGateway {
    o: Arc<Options>,
    index: Arc<ArcSwap<Index>>,
    /// The SOA's mailbox labels, `hostmaster.APEX`.
    hostmaster: String,
    /// The block's chain, to follow a load balancer's host name through.
    upstream: Arc<Upstream>,
}

impl Plugin for K8sGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        match longest_match(&self.o.zones, req.name()) {
            Some(zone) => answer::serve(self, zone, ctx, req, next),
            None => next.run(ctx, req),
        }
    }

    /// Ready once every watched kind has listed (k8s_gateway has no readiness; a server whose
    /// zones would answer SERVFAIL should not take traffic).
    fn ready(&self) -> Option<bool> {
        Some(self.index.load().synced)
    }
}

#[cfg(test)]
mod tests;
