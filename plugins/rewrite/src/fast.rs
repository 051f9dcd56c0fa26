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

use plugin_api::pkg::spare;
use plugin_api::pkg::wire::{AskedQuestion, NameRole, QuestionTexts, WireReply};
use plugin_api::proto::rr::{DNSClass, RecordType};
use plugin_api::{Ctx, Next, Reply, Request, Serve};

use crate::edns0::EdnsWork;
use crate::names::{ResponseRule, StringRewriter, TextBuf, remap_maps};
use crate::setup::{self, Action, Mode, NameRule, Rule};

/// The most `ttl` and `rcode` rules one query takes on this path.
const MAX_REPLY_RULES: usize = 4;

thread_local! {
    /// The request the last rewritten query on this thread was asked as, for the next.
    static SPARE: spare::Slot = const { RefCell::new(None) };
}

/// What the rules make of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// No rule matched.
    Untouched,
    /// This path: serve with [`Fast::serve`].
    Fast,
    /// The general path.
    General,
}

/// A query's rewrite on this path. It stays where it is made (its name buffer is large):
/// [`Fast::plan`] fills it in place.
pub struct Fast<'a> {
    /// The name rule that renamed the question, if one did; the new name is in `name`.
    renamed: Option<&'a NameRule>,
    name: TextBuf,
    qtype: RecordType,
    qclass: DNSClass,
    /// The `ttl` and `rcode` rules that matched, in order.
    replies: [Option<&'a ResponseRule>; MAX_REPLY_RULES],
}

impl<'a> Fast<'a> {
    /// A plan for `req` with no rule applied yet.
    pub fn new(req: &Request) -> Self {
        Self {
            renamed: None,
            name: TextBuf::default(),
            qtype: req.qtype(),
            qclass: req.qclass(),
            replies: [None; MAX_REPLY_RULES],
        }
    }

    /// Runs the rules on `req`'s question.
    pub fn plan(&mut self, rules: &'a [Rule], req: &Request) -> Plan {
        let mut replies = 0;
        let mut changed = false;
        for rule in rules {
            let matched = match &rule.action {
                Action::Name(name_rule) if self.renamed.is_some() => {
                    if name_rule.matcher.matches(self.name.as_str()) {
                        return Plan::General;
                    }
                    false
                }
                Action::Name(name_rule) => {
                    let (to, name) = (&name_rule.to, &mut self.name);
                    match name_rule.matcher.rewrite_into(req.name(), to, name) {
                        Some(false) => false,
                        Some(true) if responses_fit(name_rule) => {
                            self.renamed = Some(name_rule);
                            true
                        }
                        _ => return Plan::General,
                    }
                }
                Action::Type { from, to } => setup::exchange(&mut self.qtype, *from, *to),
                Action::Class { from, to } => setup::exchange(&mut self.qclass, *from, *to),
                Action::Reply { matcher, rule } => {
                    let current =
                        if self.renamed.is_some() { self.name.as_str() } else { req.name() };
                    let hit = matcher.matches(current);
                    if hit {
                        let Some(slot) = self.replies.get_mut(replies) else {
                            return Plan::General;
                        };
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
        if changed { Plan::Fast } else { Plan::Untouched }
    }
}

/// True if a name rule's own reply rules are ones this path checks: suffix exchanges (a suffix
/// rule's `answer auto`), not regexes.
fn responses_fit(rule: &NameRule) -> bool {
    rule.responses.iter().all(|r| match r {
        ResponseRule::Name(w) | ResponseRule::Value(w) => {
            matches!(w, StringRewriter::Suffix { .. })
        }
        _ => true,
    })
}

impl Fast<'_> {
    /// Serves the query as rewritten. A new name that is no valid name goes to the general
    /// path, which refuses it as CoreDNS does.
    pub fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Option<Serve> {
        let same =
            self.renamed.is_none() && self.qtype == req.qtype() && self.qclass == req.qclass();
        let asked = if same {
            req.clone()
        } else {
            // The question section the next plugins are asked: name, type, class.
            let mut question = [0u8; 255 + 4];
            let len = match self.renamed {
                Some(_) => to_wire(self.name.as_bytes(), &mut question)?,
                None => {
                    let name = req.qname_wire();
                    question.get_mut(..name.len())?.copy_from_slice(name);
                    name.len()
                }
            };
            question[len..len + 2].copy_from_slice(&u16::from(self.qtype).to_be_bytes());
            question[len + 2..len + 4].copy_from_slice(&u16::from(self.qclass).to_be_bytes());
            let mut spare = spare::take(&SPARE, req);
            if !req.rewritten_into(Arc::get_mut(&mut spare)?, &question[..len + 4]) {
                return None;
            }
            spare
        };
        let mut served = next.run(ctx, &asked);
        // A wire reply is patched where it lies: moving a `Serve` about costs more than the
        // patching. Without reply rules it keeps the rewritten question, as in CoreDNS.
        let patched = !self.rewrites_reply()
            || match &mut served {
                Serve::Ready(Ok(Reply::Wire { wire, .. })) => self.patch(wire, req, &asked),
                _ => false,
            };
        if !Arc::ptr_eq(&asked, req) {
            spare::keep(&SPARE, asked);
        }
        if patched {
            return Some(served);
        }
        Some(match served {
            Serve::Ready(result) => {
                Serve::Ready(crate::revert(result, req, &self.responses(req), &EdnsWork::default()))
            }
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

    /// Rewrites a wire reply in place; false if it must be decoded. TTLs are clamped first
    /// (clamping twice is clamping once); the question, checked whole, and the rcode last.
    fn patch(&self, wire: &mut WireReply, req: &Request, asked: &Request) -> bool {
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
            // The new name is lower case, so its text is the one the reply's question reads.
            let texts = self.renamed.map(|_| QuestionTexts {
                wire_now: asked.qname_wire(),
                now: asked.name().as_bytes(),
                after: req.name().as_bytes(),
            });
            let question = AskedQuestion {
                name: req.qname_wire(),
                qtype: req.qtype(),
                qclass: req.qclass(),
                texts,
            };
            let restored = wire.restore_question(&question, |role, before, after| {
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
            rule.reply_rules(self.name.as_str(), req.name(), &mut out);
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

/// `name` (lower-case presentation form, fully qualified) in wire form into `out`: its length,
/// or `None` if it is not a plain valid name (escapes, an empty label, a label over 63 octets,
/// over 255 octets in all), which the general path then reads or refuses.
fn to_wire(text: &[u8], out: &mut [u8; 255 + 4]) -> Option<usize> {
    if text == b"." {
        out[0] = 0;
        return Some(1);
    }
    if text.len() > 254 || text.last() != Some(&b'.') {
        return None;
    }
    // Each dot becomes the length of the label before it, one octet to the right.
    let mut start = 0;
    for (i, &c) in text.iter().enumerate() {
        if c == b'.' {
            let len = i - start;
            if len == 0 || len > 63 {
                return None;
            }
            out[start] = len as u8;
            start = i + 1;
        } else if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            out[i + 1] = c;
        } else {
            return None;
        }
    }
    out[text.len()] = 0;
    Some(text.len() + 1)
}

#[cfg(test)]
mod tests;
