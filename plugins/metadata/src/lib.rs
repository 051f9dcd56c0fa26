//! *metadata* (CoreDNS 1.14.7's `plugin/metadata`): turns on the collection of a query's
//! metadata in its block.
//!
//! * [`setup`] reads `metadata [ZONES...]` (the block's zones without arguments), with
//!   CoreDNS's words, records the zones for the server (`PerBlock<Zones>`), and adds a handler
//!   that passes every query on, as CoreDNS's does.
//! * The server, for a query in those zones, asks each plugin of the block that provides
//!   metadata ([`Plugin::provides_metadata`]) to publish it ([`Plugin::metadata`]) before the
//!   chain runs, as CoreDNS's server calls `Collect`; plugins read it from
//!   [`Request::meta`](plugin_api::Request::meta). Outside them, and in blocks without
//!   *metadata*, nothing is collected.

use std::sync::Arc;

use plugin_api::pkg::zone::{longest_match, origins_from_args_or_block};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

/// The directive's name.
pub const NAME: &str = "metadata";

/// The zones a block collects metadata for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zones(pub Vec<String>);

/// Reads the directive and records its zones.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let zones = parse(c)?;
    c.set_for_block(zones);
    Ok(Some(Arc::new(Metadata)))
}

/// CoreDNS's `metadataParse`: one line, zones as arguments, no block.
pub fn parse(c: &mut Controller) -> Result<Zones, ConfigError> {
    c.next();
    let args = c.remaining_args();
    let zones = origins_from_args_or_block(&args, c.zones());
    if c.next_block() || c.next() {
        return Err(c.arg_err().in_plugin(NAME));
    }
    Ok(Zones(zones))
}

/// Collects a block's metadata: the zones and the plugins that provide some.
pub struct Collector {
    zones: Vec<String>,
    providers: Vec<Arc<dyn Plugin>>,
}

impl Collector {
    /// The collector for `zones` over the providers among `chain`; `None` if no plugin of the
    /// chain provides metadata, so that the server skips collecting altogether.
    pub fn new(zones: Vec<String>, chain: &[Arc<dyn Plugin>]) -> Option<Self> {
        let providers: Vec<_> = chain.iter().filter(|p| p.provides_metadata()).cloned().collect();
        (!providers.is_empty()).then_some(Self { zones, providers })
    }

    /// Fills `req`'s metadata, if its name is in the zones (CoreDNS's `Collect`).
    pub fn collect(&self, req: &mut Request) {
        if longest_match(&self.zones, req.name()).is_none() {
            return;
        }
        let mut meta = std::mem::take(req.meta_mut());
        for p in &self.providers {
            p.metadata(req, &mut meta);
        }
        *req.meta_mut() = meta;
    }
}

/// The handler: it passes every query on.
struct Metadata;

impl Plugin for Metadata {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req)
    }
}

#[cfg(test)]
mod tests;
