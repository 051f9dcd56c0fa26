//! *loadbalance*: reorders the address records of successful replies, so that clients that
//! take the first address spread over all of them.
//!
//! * [`setup::parse`] reads `loadbalance [round_robin | weighted FILE { reload DURATION }] { prefer
//!   CIDR... }`.
//! * [`shuffle`]: round robin (a random order per reply) and `prefer` (addresses in the given
//!   subnets first). [`weighted`]: a weighted random first address from a weight file.
//! * [`LoadBalance`] is the handler: it sits early in the chain and reorders what everything
//!   after it answered, cache hits included. Replies other than NOERROR, and zone transfers,
//!   are left alone.

pub mod setup;
pub mod shuffle;
pub mod weighted;

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use plugin_api::corefile::dispenser::parse_error;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};
use setup::{Options, Policy, parse};

/// The directive's name.
pub const NAME: &str = "loadbalance";

/// Sets up the handler; a weight file is read at start-up and checked every `reload`.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    // Errors found after parsing point at the directive, not at the end of its block.
    let (source, line) =
        c.tokens().first().map_or(("".into(), 0), |t| (t.file.to_string(), t.line));
    let options = parse(c)?;
    let weights: Arc<ArcSwap<weighted::Weights>> = Arc::default();
    if let Policy::Weighted { file, reload } = &options.policy {
        let (file, reload) = (file.clone(), *reload);
        let w = weights.clone();
        let mut last = None;
        // The first read happens at setup: a broken file without reload is an error at once.
        match load_weights(&file, &mut last) {
            Ok(Some(new)) => w.store(Arc::new(new)),
            Ok(None) => {}
            Err(e) if reload.is_zero() => return Err(parse_error(&source, line, &e)),
            Err(e) => tracing::warn!(
                "plugin/loadbalance: Failed to open weight file:{e}. Will try again in {}",
                plugin_api::pkg::duration::format_go_duration(reload)
            ),
        }
        if !reload.is_zero() {
            c.background(async move {
                let mut tick = tokio::time::interval(reload);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match load_weights(&file, &mut last) {
                        Ok(Some(new)) => w.store(Arc::new(new)),
                        Ok(None) => {}
                        Err(e) => tracing::error!("plugin/loadbalance: {e}"),
                    }
                }
            });
        }
    }
    Ok(Some(Arc::new(LoadBalance { inner: Arc::new(Inner { options, weights }) })))
}

/// Reads the weight file; `Ok(None)` if its content is what was read last time.
fn load_weights(
    file: &PathBuf,
    last: &mut Option<Vec<u8>>,
) -> Result<Option<weighted::Weights>, String> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| format!("weight file open error: {name}: {e}"))?;
    if last.as_deref() == Some(bytes.as_slice()) {
        return Ok(None);
    }
    let weights = weighted::parse(&String::from_utf8_lossy(&bytes), &name)?;
    *last = Some(bytes);
    tracing::info!("plugin/loadbalance: Successfully reloaded weight file {name}");
    Ok(Some(weights))
}

struct Inner {
    options: Options,
    weights: Arc<ArcSwap<weighted::Weights>>,
}

impl Inner {
    fn reorder(&self, msg: &mut Message) {
        if msg.metadata.response_code != ResponseCode::NoError {
            return;
        }
        let qtype = msg.queries.first().map(|q| q.query_type());
        if matches!(qtype, Some(RecordType::AXFR | RecordType::IXFR)) {
            return;
        }
        match &self.options.policy {
            Policy::RoundRobin => {
                shuffle::round_robin(&mut msg.answers);
                shuffle::round_robin(&mut msg.authorities);
                shuffle::round_robin(&mut msg.additionals);
            }
            Policy::Weighted { .. } => {
                if matches!(qtype, Some(RecordType::A | RecordType::AAAA | RecordType::SRV)) {
                    let weights = self.weights.load();
                    weighted::apply(&mut msg.answers, &weights);
                    weighted::apply(&mut msg.additionals, &weights);
                }
            }
        }
        if !self.options.prefer.is_empty() {
            shuffle::prefer(&mut msg.answers, &self.options.prefer);
            shuffle::prefer(&mut msg.additionals, &self.options.prefer);
        }
    }
}

/// The *loadbalance* handler.
pub struct LoadBalance {
    inner: Arc<Inner>,
}

impl Plugin for LoadBalance {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req).map_with(&self.inner, req, |inner, _, result| reorder(inner, result))
    }
}

fn reorder(inner: &Inner, result: plugin_api::ServeResult) -> plugin_api::ServeResult {
    match result {
        Ok(Reply::Message { mut msg, by }) => {
            inner.reorder(&mut msg);
            Ok(Reply::Message { msg, by })
        }
        // A cache hit in wire form: round robin swaps the addresses in place when the sections
        // allow it (the common case: addresses of one name, maybe after CNAMEs); anything else
        // is decoded and reordered as a message.
        Ok(Reply::Wire { mut wire, by }) => {
            let plain_round_robin =
                inner.options.policy == Policy::RoundRobin && inner.options.prefer.is_empty();
            if wire.rcode() != ResponseCode::NoError
                || (plain_round_robin && wire.shuffle_addresses(shuffle::random_below))
            {
                return Ok(Reply::Wire { wire, by });
            }
            match wire.decode() {
                Some(mut msg) => {
                    inner.reorder(&mut msg);
                    Ok(Reply::Message { msg, by })
                }
                None => Ok(Reply::Wire { wire, by }),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
