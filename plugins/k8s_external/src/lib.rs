//! *k8s_external* (CoreDNS 1.14.7's `plugin/k8s_external`): a zone of its own where each
//! Service's external addresses answer as `SVC.NS.ZONE`, for clients outside the cluster.
//!
//! * [`setup::parse`] reads the directive with CoreDNS's words; the block's *kubernetes* is
//!   found when the server starts (its [`ExternalSource`]), or the start fails as CoreDNS's
//!   does.
//! * [`answer`] serves the apex (SOA, NS with the server's own external addresses as glue),
//!   the `dns` label under it (`ns1.dns.ZONE`), and the Services' names: A, AAAA, SRV and PTR,
//!   a load balancer's host name as a CNAME followed through the block.

use std::sync::{Arc, OnceLock};

use plugin_api::pkg::external::ExternalSource;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::pkg::zone::longest_match;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

pub mod answer;
pub mod setup;

/// The directive's name.
pub const NAME: &str = "k8s_external";

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let settings = setup::parse(c).map_err(|e| e.in_plugin(NAME))?;
    let source: Arc<OnceLock<Arc<dyn Plugin>>> = Arc::default();
    let (chain, slot) = (c.block_chain(), source.clone());
    c.on_startup(Box::pin(async move {
        let found = chain.get().and_then(|c| c.iter().find(|p| p.name() == "kubernetes").cloned());
        let Some(kubernetes) = found else {
            return Err("plugin/k8s_external: kubernetes plugin not loaded".into());
        };
        if kubernetes.external_source().is_none() {
            return Err("plugin/k8s_external: kubernetes plugin does not implement the Externaler interface".into());
        }
        let _ = slot.set(kubernetes);
        Ok(())
    }));
    let upstream = Upstream::new(c);
    Ok(Some(Arc::new(External { s: settings, source, upstream })))
}

/// The handler.
pub struct External {
    s: setup::Settings,
    /// The block's *kubernetes*, once the server has started.
    source: Arc<OnceLock<Arc<dyn Plugin>>>,
    /// The block's chain, to follow a load balancer's host name through.
    upstream: Arc<Upstream>,
}

impl External {
    fn source(&self) -> Option<&dyn ExternalSource> {
        self.source.get()?.external_source()
    }
}

impl Plugin for External {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let Some(zone) = longest_match(&self.s.zones, req.name()) else {
            return next.run(ctx, req);
        };
        let Some(source) = self.source() else { return next.run(ctx, req) };
        answer::serve(self, source, zone, ctx, req, next)
    }
}

#[cfg(test)]
mod tests;
