//! *minimal*: drops the authority and additional sections of successful answers, so replies
//! stay small.
//!
//! * [`setup`] reads the directive (it takes no arguments).
//! * [`Minimal`] is the handler: it passes the query down the chain and, when the reply is a
//!   success that is not a delegation (CoreDNS's `response.Typify` says `NOERROR`), sends it
//!   without its authority and additional records. Denials, errors and delegations pass as they
//!   are. EDNS stays: hickory keeps the OPT record apart from the additional section, and
//!   CoreDNS's server adds it back to the reply too.
//!
//! A reply in wire form is read in place, and decoded only when it has something to drop.

use std::sync::Arc;

use plugin_api::pkg::response::{Facts, Type, type_of};
use plugin_api::proto::op::Message;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve, ServeResult};

/// The directive's name.
pub const NAME: &str = "minimal";

/// Reads `minimal` (no arguments) and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    while c.next() {
        if c.next_arg() {
            return Err(c.arg_err());
        }
    }
    Ok(Some(Arc::new(Minimal)))
}

/// The *minimal* handler.
#[derive(Debug, Default)]
pub struct Minimal;

impl Plugin for Minimal {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req).map(minimize)
    }
}

/// The reply without what *minimal* drops.
fn minimize(result: ServeResult) -> ServeResult {
    match result {
        Ok(Reply::Message { mut msg, by }) => {
            if is_plain_success(&msg) {
                drop_extra_sections(&mut msg);
            }
            Ok(Reply::Message { msg, by })
        }
        Ok(Reply::Wire { wire, by }) => {
            // Most wire replies (an answer and OPT) have nothing to drop: one walk says so. Bytes
            // that cannot be walked are left to the decoder and the check on the message.
            let worth_decoding = wire.has_records_beyond_answers() != Some(false)
                && wire.facts().is_none_or(|f| type_of(Some(&f)) == Type::NoError);
            match worth_decoding.then(|| wire.decode()).flatten() {
                Some(mut msg) if is_plain_success(&msg) => {
                    drop_extra_sections(&mut msg);
                    Ok(Reply::Message { msg, by })
                }
                _ => Ok(Reply::Wire { wire, by }),
            }
        }
        other => other,
    }
}

fn is_plain_success(msg: &Message) -> bool {
    type_of(Some(&Facts::of(msg))) == Type::NoError
}

fn drop_extra_sections(msg: &mut Message) {
    msg.authorities.clear();
    msg.additionals.clear();
}

#[cfg(test)]
mod tests;
