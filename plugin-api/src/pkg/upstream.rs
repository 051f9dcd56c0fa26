//! Looking a name up through the server block's own chain, as CoreDNS's `pkg/upstream` does:
//! *kubernetes* uses it to resolve the target of an ExternalName Service, so that a client gets
//! the CNAME and the target's addresses in one reply, from whatever the block does with that name
//! (*hosts*, *cache*, *forward*, another zone of *kubernetes*).
//!
//! The chain holds the plugin that holds the [`Upstream`], so the `Upstream` keeps only a weak
//! reference: a replaced configuration is freed as soon as the server lets go of it.

use std::sync::{Arc, OnceLock, Weak};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

use crate::{Controller, Ctx, Next, Plugin, Request, Serve};

/// How many lookups may nest (a CNAME whose target is again a CNAME served through the chain):
/// enough for any sane chain, and a bound on a CNAME loop between Services.
pub const MAX_DEPTH: u8 = 8;

/// A handle on the block's chain for nested lookups.
#[derive(Default)]
pub struct Upstream {
    chain: OnceLock<Weak<[Arc<dyn Plugin>]>>,
}

impl Upstream {
    /// An `Upstream` for the block being set up; it works once the server has started.
    pub fn new(c: &mut Controller) -> Arc<Self> {
        let upstream = Arc::new(Self::default());
        let (block, fill) = (c.block_chain(), upstream.clone());
        c.on_startup(Box::pin(async move {
            if let Some(chain) = block.get() {
                let _ = fill.chain.set(Arc::downgrade(chain));
            }
            Ok(())
        }));
        upstream
    }

    /// Serves a query for `name` and `qtype` through the block's chain, from the client of
    /// `req` and one level deeper than `ctx`. `None` when the chain is not there (not started,
    /// or already replaced) or the nesting limit is reached.
    pub fn lookup(&self, ctx: &Ctx, req: &Request, name: Name, qtype: RecordType) -> Option<Serve> {
        if ctx.depth >= MAX_DEPTH {
            return None;
        }
        let chain: Arc<[Arc<dyn Plugin>]> = self.chain.get()?.upgrade()?;
        let mut msg = Message::query();
        msg.metadata.id = req.id();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(name, qtype));
        let mut inner = Request::new(msg, req.src(), req.local(), req.proto(), 0);
        // CoreDNS looks the name up with the query's context, its metadata included.
        inner.meta_mut().copy_from(req.meta());
        let inner = Arc::new(inner);
        let ctx = Ctx { depth: ctx.depth + 1, ..ctx.clone() };
        Some(Next::new("", &chain, 0).run(&ctx, &inner))
    }
}
