//! *log*: one line per query, in CoreDNS's common log format or one of the operator's making.
//!
//! * [`setup()`] reads `log [NAMES...] [FORMAT] { class CLASSES... }`, any number of times.
//! * [`Log`] is the handler: it passes the query on, and when the reply comes back it writes
//!   the line of the first rule whose name the query is under, if the reply's class (success,
//!   denial, error) is one the rule logs.
//! * [`format`](mod@format) cuts a format into pieces once and renders lines from them.

pub mod format;
pub mod setup;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plugin_api::pkg::zone::is_subdomain;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::serialize::binary::{BinEncodable, BinEncoder};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve, ServeResult};

use format::Outcome;
use plugin_api::pkg::response::{Facts, classify, type_of};
use setup::{Rule, parse};

/// The directive's name.
pub const NAME: &str = "log";

/// Reads every `log` line of the block.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let rules = parse(c)?;
    Ok(Some(Arc::new(Log { rules: Arc::new(rules) })))
}

/// The *log* handler.
pub struct Log {
    rules: Arc<Vec<Rule>>,
}

impl Plugin for Log {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let Some(index) = self.rules.iter().position(|r| is_subdomain(&r.name, req.name())) else {
            return next.run(ctx, req);
        };
        let start = req.received();
        // Only a query that waits takes the rules and the request along: cloning the shared Arc
        // on every query made the threads fight over its counter's cache line.
        next.run(ctx, req).map_with(&self.rules, req, move |rules, req, result| {
            write_line(&rules[index], req, &result, start);
            result
        })
    }
}

/// About the length of a common-format line, for a batch buffer's first room.
const LINE_GUESS: usize = 128;

fn write_line(rule: &Rule, req: &Request, result: &ServeResult, start: Instant) {
    let Some(outcome) = outcome(rule, req, result, start.elapsed()) else { return };
    plugin_api::pkg::output::info_line_with(LINE_GUESS, |line| {
        rule.format.render_into(req, &outcome, line);
    });
}

/// The line `rule` writes for `req` and the chain's `result`, or `None` if the reply's class is
/// not one the rule logs.
pub fn line(rule: &Rule, req: &Request, result: &ServeResult, elapsed: Duration) -> Option<String> {
    outcome(rule, req, result, elapsed).map(|outcome| rule.format.render(req, &outcome))
}

/// What the line reports about the reply, or `None` if the rule does not log its class.
fn outcome(rule: &Rule, req: &Request, result: &ServeResult, elapsed: Duration) -> Option<Outcome> {
    // The line shows the header's rcode and flags. A rule that logs every class needs no more
    // of a reply in wire form (a cache hit, a hosts or kubernetes answer) than its header;
    // sorting a reply into a class takes its sections.
    if let (true, Ok(Reply::Wire { wire, .. })) = (rule.classes.is_empty(), result) {
        let size = wire.as_bytes().len();
        return Some(Outcome { reply: wire.metadata(), size, duration: elapsed });
    }
    let (facts, size) = facts(req, result);
    if !rule.classes.is_empty() && !rule.classes.contains(&classify(type_of(facts.as_ref()))) {
        return None;
    }
    Some(Outcome { reply: facts.map(|f| f.metadata), size, duration: elapsed })
}

/// The facts of the reply the client gets, and its size.
fn facts(req: &Request, result: &ServeResult) -> (Option<Facts>, usize) {
    match result {
        Ok(Reply::Message { msg, .. }) => (Some(Facts::of(msg)), encoded_len(msg)),
        // Wire bytes are read in place, not decoded.
        Ok(Reply::Wire { wire, .. }) => {
            let facts = wire.facts().or_else(|| wire.decode().as_ref().map(Facts::of));
            (facts, wire.as_bytes().len())
        }
        // A transfer is logged by its first message, with the size of all of them.
        Ok(Reply::Stream { msgs, .. }) => {
            (msgs.first().map(Facts::of), msgs.iter().map(encoded_len).sum())
        }
        // A chain that declined or failed is logged as the bare reply the server will write.
        Ok(Reply::Rcode(rcode)) => bare(req, *rcode),
        Err(e) => bare(req, e.rcode()),
        Ok(Reply::Drop) => (None, 0),
    }
}

/// The facts and size of the error reply the server writes for `rcode`.
fn bare(req: &Request, rcode: ResponseCode) -> (Option<Facts>, usize) {
    let reply = error_reply(req, rcode);
    (Some(Facts::of(&reply)), encoded_len(&reply))
}

fn error_reply(req: &Request, rcode: ResponseCode) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = rcode;
    m
}

thread_local! {
    /// Scratch space to measure replies without allocating each time.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// The reply's size on the wire, before any truncation for the client.
fn encoded_len(msg: &Message) -> usize {
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        let mut enc = BinEncoder::new(buf);
        match msg.emit(&mut enc) {
            Ok(()) => buf.len(),
            Err(_) => 0,
        }
    })
}

#[cfg(test)]
mod tests;
