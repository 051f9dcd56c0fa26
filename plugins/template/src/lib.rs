//! *template*: answers whole families of names from Go templates, as CoreDNS 1.14.7's plugin
//! does (AKS's default Corefile, OpenShift's AAAA filter, "NXDOMAIN for everything under …").
//!
//! * [`setup()`] reads the directives ([`setup::parse`]) into [`setup::Rule`]s, one per
//!   `template` line, tried in order.
//! * [`Template`] is the handler. A query outside every rule's zones goes on. Otherwise the
//!   first rule whose zone, class and type fit and one of whose regexes matches the name answers
//!   it: authoritative, with the rule's rcode and the records its templates render, or a bare
//!   SERVFAIL for `rcode SERVFAIL`. A rule whose regexes all miss answers SERVFAIL unless its
//!   `fallthrough` covers the name; then the next rule is tried, and after the last the next
//!   plugin.
//! * [`gotemplate`] is Go's text/template, the part CoreDNS users write; [`data`] builds the
//!   values a template sees (`.Name`, `.Match`, `.Group`, …); [`rr`] reads the rendered text as
//!   a record; [`metrics`] counts matches and failures.
//!
//! A CNAME answer to an A or AAAA query is followed through the server block, and the target's
//! records are added after it, as CoreDNS's upstream lookup does.
//!
//! A rule without templates or an extended error (the AAAA filter: `rcode NOERROR`, or
//! `rcode NXDOMAIN`) is answered in wire form and allocates nothing; so is the regex step when
//! the rule has no `match` line (CoreDNS's default `.*` is matched without running a regex).

pub mod data;
pub mod gotemplate;
pub mod metrics;
pub mod rr;
pub mod setup;

use std::sync::Arc;

use plugin_api::pkg::metrics::Series;
use plugin_api::pkg::response::extended_error_with_text;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::pkg::zone::longest_match;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::{DNSClass, RData, Record, RecordType};
use plugin_api::{
    ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve, ServeResult,
};
use prometheus::IntCounterVec;
use regex::Regex;

use setup::Rule;

/// The directive's name.
pub const NAME: &str = "template";

/// Reads the block's `template` directives and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let rules = setup::parse(c)?;
    let mut zones: Vec<String> = rules.iter().flat_map(|r| r.zones.iter().cloned()).collect();
    zones.sort();
    zones.dedup();
    let servers: Vec<String> = c.servers().iter().map(|(_, server)| server.clone()).collect();
    let rules = rules.into_iter().map(|rule| Compiled::new(rule, &servers)).collect();
    let upstream = Upstream::new(c);
    Ok(Some(Arc::new(Template { zones, rules, upstream })))
}

/// The handler.
pub struct Template {
    /// Every rule's zones: a query outside them all goes straight on.
    zones: Vec<String>,
    rules: Vec<Compiled>,
    upstream: Arc<Upstream>,
}

/// A rule ready to serve.
struct Compiled {
    rule: Rule,
    /// The rule's templates' sources, for the failure counters' `template` label.
    sources: [Vec<String>; 3],
    /// True when the rule has only the default `.*`: every name matches, no regex runs.
    matches_everything: bool,
    /// `matches_total` for the class and type label this rule gives most queries, by server and
    /// zone (each resolved on first use, so a query counts without a lock).
    usual: Vec<(String, String, Series<IntCounterVec>)>,
    usual_class: &'static str,
    usual_type: Option<&'static str>,
}

/// How a rule takes a query.
enum Fit<'r> {
    /// Not this rule's zone, class or type: the next rule is tried.
    Skip,
    /// This rule's zone, class and type, but no regex matched.
    Missed,
    /// Matched, in `zone`, by `regex` (`None`: the default `.*`).
    Hit { zone: &'r str, regex: Option<&'r Regex> },
}

impl Compiled {
    fn new(rule: Rule, servers: &[String]) -> Self {
        let sources = [&rule.answer, &rule.additional, &rule.authority]
            .map(|list| list.iter().map(gotemplate::Template::source).collect());
        let matches_everything = rule.regexes.len() == 1 && rule.regexes[0].as_str() == ".*";
        let usual_class = rule.class.map_or("IN", data::class_str);
        let usual_type = rule.qtype.map(data::type_str);
        let mut usual = Vec::new();
        if let Some(qtype) = usual_type {
            for server in servers {
                for zone in &rule.zones {
                    let labels = [server.as_str(), zone, "", usual_class, qtype];
                    usual.push((
                        server.clone(),
                        zone.clone(),
                        Series::new(&*metrics::MATCHES, &labels),
                    ));
                }
            }
        }
        Self { rule, sources, matches_everything, usual, usual_class, usual_type }
    }

    fn fit<'r>(&'r self, req: &Request) -> Fit<'r> {
        let rule = &self.rule;
        let name = req.name();
        let Some(zone) = longest_match(&rule.zones, name) else { return Fit::Skip };
        let (qclass, qtype) = (req.qclass(), req.qtype());
        if rule.class.is_some_and(|c| qclass != DNSClass::ANY && qclass != c) {
            return Fit::Skip;
        }
        if rule.qtype.is_some_and(|t| qtype != RecordType::ANY && qtype != t) {
            return Fit::Skip;
        }
        if self.matches_everything {
            return Fit::Hit { zone, regex: None };
        }
        match rule.regexes.iter().find(|r| r.is_match(name)) {
            Some(regex) => Fit::Hit { zone, regex: Some(regex) },
            None => Fit::Missed,
        }
    }

    /// The `class` and `type` labels and `.Class`/`.Type`: the query's, or the rule's for ANY.
    fn class_and_type(&self, req: &Request) -> (&'static str, &'static str) {
        let class = match req.qclass() {
            DNSClass::ANY => self.rule.class.map_or("ANY", data::class_str),
            c => data::class_str(c),
        };
        let qtype = match req.qtype() {
            RecordType::ANY => self.rule.qtype.map_or("ANY", data::type_str),
            t => data::type_str(t),
        };
        (class, qtype)
    }

    fn count_match(&self, ctx: &Ctx, zone: &str, class: &str, qtype: &str) {
        if class == self.usual_class && Some(qtype) == self.usual_type {
            let found = self.usual.iter().find(|(s, z, _)| **s == *ctx.server && z == zone);
            if let Some((_, _, series)) = found {
                series.get().inc();
                return;
            }
        }
        metrics::MATCHES.with_label_values(&[&ctx.server, zone, "", class, qtype]).inc();
    }

    /// True when the reply is only a header: no records, no extended error.
    fn is_bare(&self) -> bool {
        let r = &self.rule;
        r.answer.is_empty()
            && r.additional.is_empty()
            && r.authority.is_empty()
            && r.ederror.is_none()
    }
}

impl Plugin for Template {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        if longest_match(&self.zones, req.name()).is_none() {
            return next.run(ctx, req);
        }
        for compiled in &self.rules {
            let (zone, regex) = match compiled.fit(req) {
                Fit::Skip => continue,
                Fit::Missed if compiled.rule.fall.through(req.name()) => continue,
                Fit::Missed => return Serve::Ready(Ok(Reply::Rcode(ResponseCode::ServFail))),
                Fit::Hit { zone, regex } => (zone, regex),
            };
            let (class, qtype) = compiled.class_and_type(req);
            compiled.count_match(ctx, zone, class, qtype);
            let rcode = compiled.rule.rcode;
            if rcode == ResponseCode::ServFail {
                return Serve::Ready(Ok(Reply::Rcode(rcode)));
            }
            if compiled.is_bare()
                && let Some(mut reply) = ReplyWriter::new(req)
            {
                reply.rcode(rcode);
                return Serve::Ready(Ok(Reply::Wire { wire: reply.finish(), by: NAME }));
            }
            return self.answer(ctx, req, compiled, zone, regex, (class, qtype));
        }
        next.run(ctx, req)
    }
}

impl Template {
    /// Renders the rule's records into a reply.
    fn answer(
        &self,
        ctx: &Ctx,
        req: &Arc<Request>,
        compiled: &Compiled,
        zone: &str,
        regex: Option<&Regex>,
        (class, qtype): (&'static str, &'static str),
    ) -> Serve {
        let rule = &compiled.rule;
        let values = data::build(req, zone, regex, class, qtype);
        let labels = Labels { server: &ctx.server, zone, class, qtype };
        let mut msg = req.reply();
        msg.metadata.authoritative = true;
        msg.metadata.response_code = rule.rcode;
        let mut text = String::new();
        let sections = [
            ("answer", &rule.answer, &compiled.sources[0]),
            ("additional", &rule.additional, &compiled.sources[1]),
            ("authority", &rule.authority, &compiled.sources[2]),
        ];
        for (section, templates, sources) in sections {
            for (template, source) in templates.iter().zip(sources) {
                let record = match render(template, &values, &mut text) {
                    Ok(record) => record,
                    Err(failure) => {
                        return Serve::Ready(Err(failure.count(&labels, section, source)));
                    }
                };
                match section {
                    "answer" => msg.answers.push(record),
                    "additional" => msg.additionals.push(record),
                    _ => msg.authorities.push(record),
                }
            }
        }
        if let Some((code, reason)) = &rule.ederror {
            msg.edns = Some(extended_error_with_text(*code, reason));
        }
        let targets = cname_targets(&msg, req.qtype());
        if targets.is_empty() {
            return Serve::Ready(Ok(Reply::message(msg, NAME)));
        }
        self.follow(ctx, req, msg, targets)
    }

    /// Looks each CNAME target up through the server block and puts its answers right after the
    /// CNAME, as CoreDNS does; a failed lookup leaves the CNAME alone.
    fn follow(&self, ctx: &Ctx, req: &Arc<Request>, msg: Message, targets: Vec<usize>) -> Serve {
        let (ctx, req, upstream) = (ctx.clone(), req.clone(), self.upstream.clone());
        Serve::pending(async move {
            let mut msg = msg;
            let answers = std::mem::take(&mut msg.answers);
            for (i, record) in answers.into_iter().enumerate() {
                let target = match &record.data {
                    RData::CNAME(cname) if targets.contains(&i) => Some(cname.0.clone()),
                    _ => None,
                };
                msg.answers.push(record);
                let Some(target) = target else { continue };
                let Some(lookup) = upstream.lookup(&ctx, &req, target, req.qtype()) else {
                    continue;
                };
                let found = match lookup {
                    Serve::Ready(result) => result,
                    Serve::Pending(future) => future.await,
                };
                if let Some((found, _)) = found.ok().and_then(|r| r.into_message().ok()) {
                    msg.metadata.truncation = found.metadata.truncation;
                    msg.answers.extend(found.answers);
                }
            }
            ServeResult::Ok(Reply::message(msg, NAME))
        })
    }
}

/// The positions of the CNAMEs to follow: those in the answer to an A or AAAA query.
fn cname_targets(msg: &Message, qtype: RecordType) -> Vec<usize> {
    if !matches!(qtype, RecordType::A | RecordType::AAAA) {
        return Vec::new();
    }
    let cnames = msg.answers.iter().enumerate();
    cnames.filter(|(_, r)| matches!(r.data, RData::CNAME(_))).map(|(i, _)| i).collect()
}

/// The labels a failure is counted under.
struct Labels<'a> {
    server: &'a str,
    zone: &'a str,
    class: &'a str,
    qtype: &'a str,
}

/// Why a template gave no record.
enum Failure {
    /// The template failed to run.
    Template(String),
    /// It ran, but its text is not a record.
    Record(String),
}

impl Failure {
    /// Counts the failure and makes the error the query is answered with (SERVFAIL, logged by
    /// *errors*).
    fn count(self, l: &Labels<'_>, section: &str, source: &str) -> PluginError {
        let labels = [l.server, l.zone, "", l.class, l.qtype, section, source];
        let (counter, message) = match self {
            Self::Template(e) => (&metrics::TEMPLATE_FAILURES, e),
            Self::Record(e) => (&metrics::RR_FAILURES, e),
        };
        counter.with_label_values(&labels).inc();
        PluginError::servfail(format!("plugin/{NAME}: {message}"))
    }
}

fn render(
    template: &gotemplate::Template,
    values: &gotemplate::Value,
    text: &mut String,
) -> Result<Record, Failure> {
    template.execute(values, text).map_err(Failure::Template)?;
    rr::parse(text).map_err(Failure::Record)
}

#[cfg(test)]
mod tests;
