//! *autopath* (CoreDNS 1.14.7's `plugin/autopath`): server-side search path completion.
//!
//! A Pod with `ndots:5` looking up `example.com` asks `example.com.NS.svc.cluster.local`,
//! `example.com.svc.cluster.local`, `example.com.cluster.local` and then `example.com`, one
//! query each. When the first of those arrives, *autopath* walks the client's search path
//! through the rest of the chain itself and answers with the first reply that is not NXDOMAIN,
//! a CNAME from the asked name to the found one in front, so the client stops there.
//!
//! * [`setup`](setup::parse) reads `autopath [ZONE...] RESOLV-CONF|@PLUGIN`: a resolv.conf's
//!   search list, or the plugin of the block that gives each client's path
//!   ([`Plugin::search_path`]; *kubernetes* with `pods verified`), found when the server starts.
//! * [`AutoPath::serve`] walks the path (`walk`); a step that has to wait (a forwarded name)
//!   goes on in a future, the others are answered in place.
//! * `coredns_autopath_success_total{server}` ([`metrics`]) counts the queries answered from a
//!   later step of the path.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, OnceLock};

use plugin_api::pkg::zone::longest_match;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

pub mod metrics;
pub mod setup;
mod walk;

use setup::Search;

/// The directive's name.
pub const NAME: &str = "autopath";

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let settings = setup::parse(c)?;
    let provider: Arc<OnceLock<Option<Arc<dyn Plugin>>>> = Arc::default();
    if let Search::Plugin(name) = &settings.search {
        // The block's chain is complete only once every directive is set up.
        let (chain, name, slot) = (c.block_chain(), name.clone(), provider.clone());
        c.on_startup(Box::pin(async move {
            let found = chain.get().and_then(|c| c.iter().find(|p| p.name() == name).cloned());
            if found.as_ref().is_some_and(|p| !p.provides_search_path()) {
                return Err(format!(
                    "plugin/autopath: {name} does not implement the AutoPather interface"
                ));
            }
            let _ = slot.set(found);
            Ok(())
        }));
    }
    LazyLock::force(&metrics::SUCCESS);
    Ok(Some(Arc::new(AutoPath { zones: settings.zones, search: settings.search, provider })))
}

/// The handler.
pub struct AutoPath {
    zones: Vec<String>,
    search: Search,
    /// With `@PLUGIN`: that plugin, once the server has started (`None` when the block has no
    /// such plugin: then nothing is autopathed, as in CoreDNS).
    provider: Arc<OnceLock<Option<Arc<dyn Plugin>>>>,
}

impl AutoPath {
    /// The search path for `req`, if it is to be walked.
    fn search_path(&self, req: &Request) -> Option<Cow<'_, [String]>> {
        let path = match &self.search {
            Search::Fixed(path) => Cow::Borrowed(path.as_slice()),
            Search::Plugin(_) => {
                let provider = self.provider.get()?.as_ref()?;
                Cow::Owned(provider.search_path(req)?)
            }
        };
        (!path.is_empty()).then_some(path)
    }
}

impl Plugin for AutoPath {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        if longest_match(&self.zones, name).is_none() {
            return next.run(ctx, req);
        }
        let Some(path) = self.search_path(req) else { return next.run(ctx, req) };
        if !walk::first_in_search_path(name, &path[0]) {
            return next.run(ctx, req);
        }
        walk::Walk::start(path.into_owned(), req).run(ctx, req, next)
    }
}

#[cfg(test)]
mod tests;
