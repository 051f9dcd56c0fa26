//! *rewrite*: changes the query before the plugins after it see it, and maps their reply back,
//! as CoreDNS 1.14.7's plugin does, for its `name`, `type`, `class`, `ttl`, `rcode` and `cname`
//! rules.
//!
//! * [`setup()`] reads the directives ([`setup::parse`]) into [`setup::Rule`]s, tried in order.
//! * [`Rewrite`] is the handler. Each rule that matches changes the question (its name, type
//!   or class); `stop` (the default) ends the list there, `continue` goes on with the next rule
//!   on the rewritten question. When no rule matched, the query goes on untouched.
//! * [`names`] holds the string rewriting: the question side ([`names::Matcher`]) and the
//!   reply side ([`names::ResponseRule`]).
//!
//! When a name rule matched and asked for reply rewriting (`exact` always does; the others with
//! `answer auto`, `answer name` or `answer value`), the reply gets the client's question back and
//! its records' names and values are rewritten, the rules applied in reverse order. Otherwise
//! the reply goes out as the later plugins wrote it, the rewritten question in it, as in CoreDNS.
//!
//! `ttl` and `rcode` rules match a name the same ways and rewrite only the reply: its records'
//! TTLs into a range, its rcode from one to another.
//!
//! `cname` rules rewrite the reply's CNAME targets and look the new target up through the block
//! (`pkg::upstream`), in place of what followed it.
//!
//! `edns0` rules ([`edns0`]) edit the query's OPT record; with `revert`, the reply's OPT is
//! edited back.

pub mod edns0;
mod fast;
pub mod names;
pub mod setup;

use std::sync::Arc;

use edns0::EdnsWork;
use names::{CnameRule, ResponseRule};
use plugin_api::pkg::upstream::Upstream;
use plugin_api::proto::rr::RData;
use plugin_api::proto::rr::rdata::CNAME;
use plugin_api::proto::rr::{DNSClass, Name, RecordType};
use plugin_api::{
    ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve, ServeResult,
};
use setup::{Action, Mode, Rule};

/// The directive's name.
pub const NAME: &str = "rewrite";

/// Reads the block's `rewrite` directives and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let rules = setup::parse(c)?;
    let upstream = Upstream::new(c);
    Ok(Some(Arc::new(Rewrite { rules, upstream })))
}

/// The handler.
pub struct Rewrite {
    rules: Vec<Rule>,
    /// Lookups of rewritten CNAME targets through the block (`cname` rules).
    upstream: Arc<Upstream>,
}

/// The question as the rules have left it so far.
struct Question<'a> {
    /// `None` while the name is the one asked.
    name: Option<String>,
    asked: &'a str,
    qtype: RecordType,
    qclass: DNSClass,
}

impl Question<'_> {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.asked)
    }

    /// The name as the next plugins will see it, in the client's letter case until a rule
    /// rewrites it (CoreDNS's `QName()`, for `{qname}`).
    fn name_as_sent(&self, req: &Request) -> String {
        self.name.clone().unwrap_or_else(|| req.qname().to_string())
    }
}

impl Plugin for Rewrite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let mut fast = fast::Fast::new(req);
        match fast.plan(&self.rules, req) {
            fast::Plan::Untouched => next.run(ctx, req),
            fast::Plan::Fast => match fast.serve(ctx, req, next) {
                Some(served) => served,
                None => self.serve_general(ctx, req, next),
            },
            fast::Plan::General => self.serve_general(ctx, req, next),
        }
    }
}

impl Rewrite {
    /// Every rule, with the question and the reply as messages (see [`fast`] for the path that
    /// avoids both).
    fn serve_general(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let mut question =
            Question { name: None, asked: req.name(), qtype: req.qtype(), qclass: req.qclass() };
        let mut responses: Vec<ResponseRule> = Vec::new();
        let mut cnames: Vec<CnameRule> = Vec::new();
        let mut edns = EdnsWork::default();
        let mut changed = false;
        for rule in &self.rules {
            let matched = match &rule.action {
                Action::Name(name_rule) => {
                    let before = question.name();
                    let Some(new) = name_rule.matcher.rewrite(before, &name_rule.to) else {
                        continue;
                    };
                    if Name::from_ascii(&new).is_err() || !is_domain_name(&new) {
                        let message = format!("plugin/{NAME}: invalid name after rewrite: {new}");
                        return Serve::Ready(Err(PluginError::servfail(message)));
                    }
                    name_rule.reply_rules(&new, before, &mut responses);
                    question.name = Some(new);
                    true
                }
                Action::Type { from, to } => setup::exchange(&mut question.qtype, *from, *to),
                Action::Class { from, to } => setup::exchange(&mut question.qclass, *from, *to),
                Action::Reply { matcher, rule } => {
                    let hit = matcher.matches(question.name());
                    if hit {
                        responses.push(rule.clone());
                    }
                    hit
                }
                // Every query takes a cname rule; its work is on the reply.
                Action::Cname(rule) => {
                    cnames.push(rule.clone());
                    true
                }
                Action::Edns0(rule) => {
                    let name = question.name_as_sent(req);
                    let asked = edns0::Asked { name: &name, qtype: u16::from(question.qtype) };
                    rule.apply(req, &asked, &mut edns.edns, &mut edns.undo)
                }
            };
            changed |= matched;
            if matched && rule.mode == Mode::Stop {
                break;
            }
        }
        // An edns0 rule that did nothing may still have given the query an OPT, as CoreDNS's do.
        if !changed && !edns.touched() {
            return next.run(ctx, req);
        }
        // A ttl or rcode rule alone leaves the query as it was: no new request is needed.
        let same = question.name.is_none()
            && question.qtype == req.qtype()
            && question.qclass == req.qclass()
            && !edns.touched();
        let rewritten = if same { None } else { rebuild(req, &question, &edns) };
        let asked = rewritten.map_or_else(|| req.clone(), Arc::new);
        let served = next.run(ctx, &asked);
        if responses.is_empty() && cnames.is_empty() && !edns.touched() {
            return served;
        }
        let original = req.clone();
        if cnames.is_empty() {
            return served.map(move |result| revert(result, &original, &responses, &edns));
        }
        let (ctx, upstream) = (ctx.clone(), self.upstream.clone());
        Serve::pending(async move {
            let reply = revert(served.resolve().await, &original, &responses, &edns)?;
            Ok(follow_cnames(reply, &cnames, &ctx, &asked, &upstream).await)
        })
    }
}

/// For each `cname` rule, the last first: the first CNAME in the answer whose target it
/// matches gets the new target, the records after it are dropped, and what the new target
/// resolves to through the block takes their place, with its TC bit (CoreDNS's
/// `cnameTargetRuleWithReqState`). A lookup that fails leaves the reply as it was.
async fn follow_cnames(
    reply: Reply,
    cnames: &[CnameRule],
    ctx: &Ctx,
    asked: &Request,
    upstream: &Upstream,
) -> Reply {
    let (mut msg, by) = match reply.into_message() {
        Ok(written) => written,
        Err(other) => return other,
    };
    for rule in cnames.iter().rev() {
        let found = msg.answers.iter().enumerate().find_map(|(i, record)| match &record.data {
            RData::CNAME(CNAME(target)) => rule.new_target(&target.to_string()).map(|new| (i, new)),
            _ => None,
        });
        let Some((at, new)) = found else { continue };
        let Ok(mut target) = Name::from_ascii(&new) else { continue };
        target.set_fqdn(true);
        let Some(lookup) = upstream.lookup(ctx, asked, target.clone(), asked.qtype()) else {
            continue;
        };
        let Ok((resolved, _)) =
            lookup.resolve().await.map_err(drop).and_then(|r| r.into_message().map_err(drop))
        else {
            continue;
        };
        // The CNAMEs up to the rewritten one stay; everything else gives way to the lookup's.
        let mut answers: Vec<_> =
            msg.answers.drain(..=at).filter(|r| matches!(r.data, RData::CNAME(_))).collect();
        if let Some(last) = answers.last_mut() {
            last.data = RData::CNAME(CNAME(target));
        }
        answers.extend(resolved.answers);
        msg.answers = answers;
        msg.metadata.truncation = resolved.metadata.truncation;
    }
    Reply::message(msg, by)
}

/// The request with the rewritten question and OPT; `None` if it has no question.
fn rebuild(req: &Request, question: &Question<'_>, edns: &EdnsWork) -> Option<Request> {
    let mut msg = req.to_message();
    if let Some(rewritten) = &edns.edns {
        msg.edns = Some(rewritten.clone());
    }
    let query = msg.queries.first_mut()?;
    if let Some(name) = &question.name {
        let mut name = Name::from_ascii(name).ok()?;
        name.set_fqdn(true);
        query.set_name(name);
    }
    query.set_query_type(question.qtype);
    query.set_query_class(question.qclass);
    let mut rebuilt = Request::new(msg, req.src(), req.local(), req.proto(), req.len());
    // The metadata was collected for the query as asked, and goes on with it.
    rebuilt.meta_mut().copy_from(req.meta());
    Some(rebuilt)
}

/// The reply with the client's question back and the response rules applied to every record,
/// the last rule's first; and its OPT as the edns0 rules leave it ([`EdnsWork::fix_reply`]).
/// The question is put back only when some rule rewrites the reply, as CoreDNS's reverter is
/// only used then.
///
/// With an rcode rule, a reply the later plugins did not write (a bare rcode, an error) is
/// written here, so that the rule can change its rcode, as CoreDNS's reverter writes it. The
/// error is then not seen by *errors*.
fn revert(
    result: ServeResult,
    original: &Request,
    responses: &[ResponseRule],
    edns: &EdnsWork,
) -> ServeResult {
    let rcode_rules = responses.iter().any(|r| matches!(r, ResponseRule::Rcode { .. }));
    let bare = |rcode| {
        let mut msg = original.reply();
        msg.metadata.response_code = rcode;
        Reply::message(msg, NAME)
    };
    let reply = match result {
        Ok(Reply::Rcode(rcode)) if rcode_rules => bare(rcode),
        Err(e) if rcode_rules => bare(e.rcode()),
        Ok(reply) => reply,
        Err(e) => return Err(e),
    };
    let (mut msg, by) = match reply.into_message() {
        Ok(written) => written,
        // Nothing written (an rcode, a drop): the server answers with the client's question.
        Err(other) => return Ok(other),
    };
    edns.fix_reply(original, &mut msg.edns);
    let restore = !responses.is_empty() || !edns.undo.is_empty();
    if let Some(asked) = original.question().cloned().filter(|_| restore) {
        match msg.queries.first_mut() {
            Some(first) => *first = asked,
            None => msg.queries.push(asked),
        }
    }
    for rule in responses.iter().rev() {
        rule.apply_to_rcode(&mut msg.metadata.response_code);
    }
    let records =
        msg.authorities.iter_mut().chain(msg.answers.iter_mut()).chain(msg.additionals.iter_mut());
    for record in records {
        for rule in responses.iter().rev() {
            rule.apply(record);
        }
    }
    Ok(Reply::message(msg, by))
}

/// miekg/dns's `IsDomainName` limits: no empty label, labels of at most 63 octets, at most 255
/// octets in all.
fn is_domain_name(name: &str) -> bool {
    if name == "." {
        return true;
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    trimmed.len() < 255 && trimmed.split('.').all(|label| !label.is_empty() && label.len() <= 63)
}

#[cfg(test)]
mod tests;
