//! *header*: sets or clears the AA, RA and RD flags of queries, for the plugins after it, and
//! of replies, for the client (CoreDNS 1.14.7's `plugin/header`).
//!
//! * [`setup`] reads `header { query|response set|clear FLAGS... }`, with CoreDNS's words.
//! * [`Header`] applies the query rules to a copy of the query (this thread's spare request,
//!   `pkg::spare`), since the query is shared, and the reply rules to the reply: in place in
//!   wire form, or to the message. Rules apply in order, the last one winning. A reply the
//!   later plugins did not write (a bare rcode, an error) is written by the server, without
//!   the rules, as CoreDNS's is.

use std::cell::RefCell;
use std::sync::Arc;

use plugin_api::pkg::spare;
use plugin_api::proto::op::Metadata;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve, ServeResult};

/// The directive's name.
pub const NAME: &str = "header";

thread_local! {
    /// The copy of the query the last query on this thread was passed on as.
    static SPARE: spare::Slot = const { RefCell::new(None) };
}

/// A header flag *header* can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `aa`: authoritative answer.
    Authoritative,
    /// `ra`: recursion available.
    RecursionAvailable,
    /// `rd`: recursion desired.
    RecursionDesired,
}

/// One flag set (`true`) or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub flag: Flag,
    pub state: bool,
}

impl Rule {
    fn apply(self, m: &mut Metadata) {
        match self.flag {
            Flag::Authoritative => m.authoritative = self.state,
            Flag::RecursionAvailable => m.recursion_available = self.state,
            Flag::RecursionDesired => m.recursion_desired = self.state,
        }
    }

    /// The flag's bit in a header's third (`0`) or fourth (`1`) octet.
    fn bit(self) -> (usize, u8) {
        match self.flag {
            Flag::Authoritative => (2, 0x04),
            Flag::RecursionDesired => (2, 0x01),
            Flag::RecursionAvailable => (3, 0x80),
        }
    }
}

/// Reads the block and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let (query, response) = parse(c).map_err(|e| e.in_plugin(NAME))?;
    Ok(Some(Arc::new(Header { query, response })))
}

/// The query and response rules (CoreDNS's `parse`): the first `header` directive with rules
/// is read; one without any, or none at all, is an argument error.
fn parse(c: &mut Controller) -> Result<(Vec<Rule>, Vec<Rule>), ConfigError> {
    while c.next() {
        let (mut query, mut response) = (Vec::new(), Vec::new());
        while c.next_block() {
            let selector = c.val().to_ascii_lowercase();
            if selector != "query" && selector != "response" {
                return Err(c.err(format!(
                    "setting up rule: invalid selector={selector} should be query or response"
                )));
            }
            let action = if c.next_arg() { c.val().to_owned() } else { String::new() };
            let rules = rules(&action, &c.remaining_args())
                .map_err(|e| c.err(format!("setting up rule: {e}")))?;
            if selector == "response" { &mut response } else { &mut query }.extend(rules);
        }
        if !query.is_empty() || !response.is_empty() {
            return Ok((query, response));
        }
    }
    Err(c.arg_err())
}

/// One line's rules (CoreDNS's `newRules`).
fn rules(action: &str, flags: &[String]) -> Result<Vec<Rule>, String> {
    if action.is_empty() {
        return Err("no flag action provided".into());
    }
    if flags.is_empty() {
        return Err("invalid length for flags, at least one should be provided".into());
    }
    let state = match action.to_ascii_lowercase().as_str() {
        "set" => true,
        "clear" => false,
        other => return Err(format!("unknown flag action={other}, should be set or clear")),
    };
    flags
        .iter()
        .map(|f| {
            let flag = match f.to_ascii_lowercase().as_str() {
                "aa" => Flag::Authoritative,
                "ra" => Flag::RecursionAvailable,
                "rd" => Flag::RecursionDesired,
                other => return Err(format!("unknown/unsupported flag={other}")),
            };
            Ok(Rule { flag, state })
        })
        .collect()
}

/// The *header* handler.
#[derive(Debug)]
pub struct Header {
    query: Vec<Rule>,
    response: Vec<Rule>,
}

/// `rules` applied, in order, to a reply the later plugins wrote: in place in wire form.
fn apply_to_reply(rules: &[Rule], result: &mut ServeResult) {
    match result {
        Ok(Reply::Wire { wire, .. }) => wire.patch_header(|header| {
            for rule in rules {
                let (at, bit) = rule.bit();
                header[at] = if rule.state { header[at] | bit } else { header[at] & !bit };
            }
        }),
        Ok(Reply::Message { msg, .. }) => {
            rules.iter().for_each(|rule| rule.apply(&mut msg.metadata))
        }
        Ok(Reply::Stream { msgs, .. }) => {
            for msg in msgs {
                rules.iter().for_each(|rule| rule.apply(&mut msg.metadata));
            }
        }
        Ok(Reply::Rcode(_) | Reply::Drop) | Err(_) => {}
    }
}

impl Plugin for Header {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let mut served = if self.query.is_empty() {
            next.run(ctx, req)
        } else {
            let mut copy = spare::take(&SPARE, req);
            let Some(asked) = Arc::get_mut(&mut copy) else { return next.run(ctx, req) };
            if !req.copy_into(asked) {
                return next.run(ctx, req);
            }
            self.query.iter().for_each(|rule| rule.apply(asked.metadata_mut()));
            let served = next.run(ctx, &copy);
            spare::keep(&SPARE, copy);
            served
        };
        if self.response.is_empty() {
            return served;
        }
        if let Serve::Ready(result) = &mut served {
            apply_to_reply(&self.response, result);
            return served;
        }
        let rules = self.response.clone();
        served.map(move |mut result| {
            apply_to_reply(&rules, &mut result);
            result
        })
    }
}

#[cfg(test)]
mod tests;
