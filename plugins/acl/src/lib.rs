//! *acl*: allows, blocks, filters or drops queries by the client's address and the query type.
//!
//! * [`setup::parse`] reads the directive into [`Rule`]s (zones plus ordered [`Policy`] lines).
//! * [`Acl`] is the handler. Rules are checked in order; a rule whose zones do not cover the
//!   query name is skipped; within a rule the first policy that covers the query's type and
//!   source decides. `allow` stops checking; no match anywhere also allows. `block` answers
//!   REFUSED and `filter` an empty NOERROR, both with an Extended DNS Error (15 Blocked, 17
//!   Filtered); `drop` sends nothing.
//! * [`metrics`] holds `coredns_acl_{blocked,filtered,dropped,allowed}_requests_total`.
//!
//! *acl* runs before *cache* in the chain, so a cached answer is never handed to a client the
//! list refuses (CoreDNS 1.14.2 briefly got this wrong).

pub mod metrics;
pub mod setup;

use std::sync::Arc;

use plugin_api::pkg::response::{EDE_BLOCKED, EDE_FILTERED, extended_error};
use plugin_api::pkg::zone::longest_match;
use plugin_api::proto::op::ResponseCode;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};

pub use setup::{Action, Policy, Rule, parse};

use metrics::{Counters, Denied};

/// The directive's name.
pub const NAME: &str = "acl";

/// Reads the block's `acl` directives and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let rules = parse(c)?;
    let mut zones: Vec<&str> = Vec::new();
    for z in rules.iter().flat_map(|r| &r.zones) {
        if !zones.contains(&z.as_str()) {
            zones.push(z);
        }
    }
    let counters = Counters::new(c.servers().iter().map(|(_, s)| s.as_str()), &zones);
    Ok(Some(Arc::new(Acl { rules, counters })))
}

/// The *acl* handler.
pub struct Acl {
    rules: Vec<Rule>,
    counters: Counters,
}

impl Acl {
    /// The action the rules give a query, with the zone of the rule that decided it; `None`
    /// to let it through.
    fn decide(&self, req: &Request) -> Option<(Action, &str)> {
        let ip = req.ip();
        let qtype = req.qtype();
        for rule in &self.rules {
            let Some(zone) = longest_match(&rule.zones, req.name()) else { continue };
            match rule.policies.iter().find(|p| p.matches(ip, qtype)).map(|p| p.action) {
                Some(Action::Allow) => return None,
                Some(action) => return Some((action, zone)),
                None => {}
            }
        }
        None
    }
}

impl Plugin for Acl {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let refusal = |rcode, info_code| {
            let mut msg = req.reply();
            msg.metadata.response_code = rcode;
            msg.edns = Some(extended_error(info_code));
            Serve::Ready(Ok(Reply::message(msg, NAME)))
        };
        match self.decide(req) {
            None | Some((Action::Allow, _)) => {
                self.counters.allowed(&ctx.server);
                next.run(ctx, req)
            }
            Some((Action::Block, zone)) => {
                self.counters.denied(&ctx.server, zone, Denied::Blocked);
                refusal(ResponseCode::Refused, EDE_BLOCKED)
            }
            Some((Action::Filter, zone)) => {
                self.counters.denied(&ctx.server, zone, Denied::Filtered);
                refusal(ResponseCode::NoError, EDE_FILTERED)
            }
            Some((Action::Drop, zone)) => {
                self.counters.denied(&ctx.server, zone, Denied::Dropped);
                Serve::Ready(Ok(Reply::Drop))
            }
        }
    }
}

#[cfg(test)]
mod tests;
