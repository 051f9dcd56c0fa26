//! The commonest rewrites without allocating: one `name` rule (exact, prefix, suffix or
//! substring, mapped back with `answer auto` or not), with `type`, `class`, `ttl` and `rcode`
//! rules beside it, answered by a plugin that writes wire form (*hosts*, *kubernetes*, *cache*).
//!
//! * [`plan`] runs the rules as [`Rewrite`](crate::Rewrite) does, into stack buffers, and
//!   says whether the query is untouched, fits this path, or needs the general one (a regex,
//!   a second name rule, `cname` and `edns0` rules, more than four reply rules).
//! * The rewritten request is this thread's spare one, refilled with
//!   `Request::rewritten_into`: a query costs no new request while no later plugin keeps the
//!   last one.
//! * A wire reply gets the client's question back in place (`WireReply::restore_question`)
//!   when every name pointing into the question reads as the response rules would rewrite it,
//!   and its TTLs and rcode patched. A name of another length, a name the rules would rewrite
//!   that does not point into the question, a message reply: the general path decodes the
//!   reply and rewrites it as a message, with the same result.

use std::cell::RefCell;
use std::sync::Arc;

use plugin_api::pkg::wire::NameRole;
use plugin_api::proto::rr::{DNSClass, RecordType};
use plugin_api::{Ctx, Next, Reply, Request, Serve, ServeResult};

use crate::edns0::EdnsWork;
use crate::names::{ResponseRule, StringRewriter, TextBuf, remap_maps};
use crate::setup::{Action, Mode, NameRule, Rule};

/// The most `ttl` and `rcode` rules one query takes on this path.
const MAX_REPLY_RULES: usize = 4;

thread_local! {
    /// The request the last rewritten query on this thread was asked as, for the next.
    static SPARE: RefCell<Option<Arc<Request>>> = const { RefCell::new(None) };
}

/// What the rules make of a query.
// The plan lives on the stack for one query: boxing its name buffer would allocate.
#[allow(clippy::large_enum_variant)]
pub enum Plan<'a> {
    /// No rule matched.
    Untouched,
    /// This path.
    Fast(Fast<'a>),
    /// The general path.
    General,
}

/// A query's rewrite on this path.
pub struct Fast<'a> {
    /// The name rule that renamed the question, if one did; the new name is in `name`.
    renamed: Option<&'a NameRule>,
    name: TextBuf,
    qtype: RecordType,
    qclass: DNSClass,
    /// The `ttl` and `rcode` rules that matched, in order.
    replies: [Option<&'a ResponseRule>; MAX_REPLY_RULES],
}

/// Runs the rules on `req`'s question.
pub fn plan<'a>(rules: &'a [Rule], req: &Request) -> Plan<'a> {
    let mut fast = Fast {
        renamed: None,
        name: TextBuf::default(),
        qtype: req.qtype(),
        qclass: req.qclass(),
        replies: [None; MAX_REPLY_RULES],
    };
    let mut replies = 0;
    let mut changed = false;
    for rule in rules {
        let current = if fast.renamed.is_some() { fast.name.as_str() } else { req.name() };
        let matched = match &rule.action {
            Action::Name(name_rule) => {
                if fast.renamed.is_some() {
                    if name_rule.matcher.matches(current) {
                        return Plan::General;
                    }
                    false
                } else {
                    let responses_fit = name_rule.responses.iter().all(|r| match r {
                        ResponseRule::Name(w) | ResponseRule::Value(w) => {
                            matches!(w, StringRewriter::Suffix { .. })
                        }
                        _ => true,
                    });
                    let mut name = TextBuf::default();
                    match name_rule.matcher.rewrite_into(current, &name_rule.to, &mut name) {
                        Some(false) => false,
                        Some(true) if responses_fit => {
                            fast.name = name;
                            fast.renamed = Some(name_rule);
                            true
                        }
                        _ => return Plan::General,
                    }
                }
            }
            Action::Type { from, to } => {
                let hit = fast.qtype == *from;
                if hit {
                    fast.qtype = *to;
                }
                hit
            }
            Action::Class { from, to } => {
                let hit = fast.qclass == *from;
                if hit {
                    fast.qclass = *to;
                }
                hit
            }
            Action::Reply { matcher, rule } => {
                let hit = matcher.matches(current);
                if hit {
                    let Some(slot) = fast.replies.get_mut(replies) else { return Plan::General };
                    *slot = Some(rule);
                    replies += 1;
                }
                hit
            }
            Action::Cname(_) | Action::Edns0(_) => return Plan::General,
        };
        changed |= matched;
        if matched && rule.mode == Mode::Stop {
            break;
        }
    }
    if changed { Plan::Fast(fast) } else { Plan::Untouched }
}

impl Fast<'_> {
    /// Serves the query as rewritten. A new name that is no valid name goes to the general
    /// path, which refuses it as CoreDNS does.
    pub fn serve(self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Option<Serve> {
        let mut wire = [0u8; 256];
        let asked = match self.renamed {
            Some(_) => {
                let len = to_wire(self.name.as_str(), &mut wire)?;
                let mut spare = take_spare(req);
                let request = Arc::get_mut(&mut spare)?;
                if !req.rewritten_into(request, &wire[..len], self.qtype, self.qclass) {
                    return None;
                }
                spare
            }
            None if self.qtype == req.qtype() && self.qclass == req.qclass() => req.clone(),
            None => {
                let mut spare = take_spare(req);
                let request = Arc::get_mut(&mut spare)?;
                if !req.rewritten_into(request, req.qname_wire(), self.qtype, self.qclass) {
                    return None;
                }
                spare
            }
        };
        let served = next.run(ctx, &asked);
        if !Arc::ptr_eq(&asked, req) {
            SPARE.with_borrow_mut(|spare| *spare = Some(asked));
        }
        if !self.rewrites_reply() {
            // As in CoreDNS, the reply then keeps the rewritten question.
            return Some(served);
        }
        Some(match served {
            Serve::Ready(result) => Serve::Ready(self.finish(result, req)),
            pending => {
                let (original, responses) = (req.clone(), self.responses(req));
                pending.map(move |result| {
                    crate::revert(result, &original, &responses, &EdnsWork::default())
                })
            }
        })
    }

    /// True if the reply is rewritten: any response rule, so the question is put back too.
    fn rewrites_reply(&self) -> bool {
        self.replies[0].is_some()
            || self.renamed.is_some_and(|rule| rule.auto || !rule.responses.is_empty())
    }

    /// The reply to the client: a wire reply patched in place if it can be, else the general
    /// path's rewriting.
    fn finish(&self, result: ServeResult, req: &Request) -> ServeResult {
        match result {
            Ok(Reply::Wire { mut wire, by }) => {
                if self.patch(&mut wire, req) {
                    return Ok(Reply::Wire { wire, by });
                }
                let responses = self.responses(req);
                crate::revert(Ok(Reply::Wire { wire, by }), req, &responses, &EdnsWork::default())
            }
            other => crate::revert(other, req, &self.responses(req), &EdnsWork::default()),
        }
    }

    /// Rewrites a wire reply in place; false if it must be decoded. TTLs are clamped first
    /// (clamping twice is clamping once); the question, checked whole, and the rcode last.
    fn patch(&self, wire: &mut plugin_api::pkg::wire::WireReply, req: &Request) -> bool {
        let mut rcode = wire.rcode();
        let mut ttls: Option<(u32, u32)> = None;
        for rule in self.replies.iter().rev().flatten() {
            match rule {
                ResponseRule::Ttl { min, max } => {
                    // Clamps applied in turn make one clamp, to the ends of the one before
                    // clamped by this one.
                    let (lo, hi) = ttls.unwrap_or((0, u32::MAX));
                    ttls = Some((lo.clamp(*min, *max), hi.clamp(*min, *max)));
                }
                other => other.apply_to_rcode(&mut rcode),
            }
        }
        if u16::from(rcode) > 15 {
            return false;
        }
        if let Some((min, max)) = ttls
            && !wire.clamp_ttls(min, max)
        {
            return false;
        }
        let same_question =
            self.renamed.is_none() && self.qtype == req.qtype() && self.qclass == req.qclass();
        if !same_question {
            let (owner, value) = self.back(req);
            let question = (req.qname_wire(), req.qtype(), req.qclass());
            let restored = wire.restore_question(question, |role, before, after| {
                let rewriter = match role {
                    NameRole::Owner => owner,
                    NameRole::Target => value,
                    NameRole::Other => None,
                };
                match rewriter {
                    None => before.eq_ignore_ascii_case(after),
                    Some(Back::Remap { orig, replacement }) => {
                        remap_maps(orig, replacement, before, after)
                    }
                    Some(Back::Static(w)) => w.maps(before, after).unwrap_or(false),
                }
            });
            if !restored {
                return false;
            }
        }
        wire.set_rcode(rcode)
    }

    /// The rewriters of owners and of values: the name rule's reverse mapping (`answer auto`)
    /// or its suffix exchange. `plan` lets through at most one of each.
    fn back<'b>(&'b self, req: &'b Request) -> (Option<Back<'b>>, Option<Back<'b>>) {
        let Some(rule) = self.renamed else { return (None, None) };
        let (mut owner, mut value) = (None, None);
        if rule.auto {
            let (orig, replacement) = (self.name.as_str(), req.name());
            owner = Some(Back::Remap { orig, replacement });
            value = owner;
        }
        for response in &rule.responses {
            match response {
                ResponseRule::Name(w) => owner = Some(Back::Static(w)),
                ResponseRule::Value(w) => value = Some(Back::Static(w)),
                _ => {}
            }
        }
        (owner, value)
    }

    /// The response rules as the general path builds them, for replies this path cannot patch.
    fn responses(&self, req: &Request) -> Vec<ResponseRule> {
        let mut out = Vec::new();
        if let Some(rule) = self.renamed {
            if rule.auto {
                let back = || StringRewriter::Remap {
                    orig: self.name.as_str().to_owned(),
                    replacement: req.name().to_owned(),
                };
                out.extend([ResponseRule::Name(back()), ResponseRule::Value(back())]);
            }
            out.extend(rule.responses.iter().cloned());
        }
        out.extend(self.replies.iter().flatten().map(|r| (*r).clone()));
        out
    }
}

/// A reverse rewriter, borrowed.
#[derive(Clone, Copy)]
enum Back<'a> {
    Remap { orig: &'a str, replacement: &'a str },
    Static(&'a StringRewriter),
}

/// This thread's spare request if no one else holds it, else a new one (a copy of `req`).
fn take_spare(req: &Request) -> Arc<Request> {
    match SPARE.with_borrow_mut(Option::take) {
        Some(spare) if Arc::strong_count(&spare) == 1 && Arc::weak_count(&spare) == 0 => spare,
        _ => Arc::new(req.clone()),
    }
}

/// `name` (lower-case presentation form, fully qualified) in wire form into `out`: its length,
/// or `None` if it is not a plain valid name (escapes, an empty label, a label over 63 octets,
/// over 255 octets in all), which the general path then reads or refuses.
fn to_wire(name: &str, out: &mut [u8; 256]) -> Option<usize> {
    if name == "." {
        out[0] = 0;
        return Some(1);
    }
    let labels = name.strip_suffix('.')?;
    let mut at = 0;
    for label in labels.split('.') {
        let bytes = label.as_bytes();
        let plain = bytes.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'));
        if bytes.is_empty() || bytes.len() > 63 || !plain {
            return None;
        }
        *out.get_mut(at)? = bytes.len() as u8;
        out.get_mut(at + 1..at + 1 + bytes.len())?.copy_from_slice(bytes);
        at += 1 + bytes.len();
    }
    *out.get_mut(at)? = 0;
    (at < 255).then_some(at + 1)
}

#[cfg(test)]
mod tests;
