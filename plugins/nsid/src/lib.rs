//! *nsid*: tells a client that asks which server answered (RFC 5001).
//!
//! * [`setup`] reads `nsid [DATA...]`: the identifier is the arguments joined by spaces, or the
//!   host's name (`localhost` if it cannot be read), as in CoreDNS.
//! * [`Nsid`] is the handler. A query whose EDNS carries the NSID option gets a reply whose EDNS
//!   carries the identifier; a reply without EDNS gets it (the query had it), as CoreDNS's
//!   response writer does. Other queries pass untouched and cost one look at the query's EDNS.
//!   A reply in wire form is decoded to add the option: only for queries that ask.

use std::sync::Arc;

use plugin_api::proto::op::Edns;
use plugin_api::proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve, ServeResult};

/// The directive's name.
pub const NAME: &str = "nsid";

/// Reads `nsid [DATA...]` and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let mut data = None;
    while c.next() {
        let args = c.remaining_args();
        if !args.is_empty() {
            data = Some(args.join(" "));
        }
    }
    let payload = NSIDPayload::new(data.unwrap_or_else(plugin_api::pkg::host::name).into_bytes())
        .map_err(|e| ConfigError::new(format!("nsid: {e}")).in_plugin(NAME))?;
    Ok(Some(Arc::new(Nsid { payload })))
}

/// The *nsid* handler.
#[derive(Debug)]
pub struct Nsid {
    payload: NSIDPayload,
}

impl Plugin for Nsid {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let asked = req.edns().is_some_and(|e| e.options().get(EdnsCode::NSID).is_some());
        if !asked {
            return next.run(ctx, req);
        }
        let payload = self.payload.clone();
        let max_payload = req.edns().map_or(512, Edns::max_payload);
        next.run(ctx, req).map(move |result| with_nsid(result, payload, max_payload))
    }
}

/// The reply with the identifier in its EDNS, replacing any NSID option a later plugin set.
fn with_nsid(result: ServeResult, payload: NSIDPayload, max_payload: u16) -> ServeResult {
    Ok(result?.change(|msg| {
        let edns = msg.edns.get_or_insert_with(|| {
            let mut edns = Edns::new();
            edns.set_max_payload(max_payload);
            edns
        });
        edns.options_mut().remove(EdnsCode::NSID);
        edns.options_mut().insert(EdnsOption::NSID(payload));
    }))
}

#[cfg(test)]
mod tests;
