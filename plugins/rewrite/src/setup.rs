//! Reading the directive: `rewrite [continue|stop] FIELD ARGS...`, or the same words spread
//! over a block (`rewrite stop { name regex A B; answer name C D }`), one rule per directive,
//! with CoreDNS 1.14.7's rules and words. Errors carry the Corefile line.

use plugin_api::pkg::zone::normalize;
use plugin_api::pkg::{names, pattern};
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{DNSClass, RecordType};
use plugin_api::{ConfigError, Controller};
use regex::Regex;

use crate::names::{CnameRule, Matcher, ResponseRule, StringRewriter, groups_used};

/// The longest regex accepted, as CoreDNS limits it.
pub const MAX_REGEX_LEN: usize = 10_000;

/// What happens after a rule that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No later rule is tried (the default).
    Stop,
    /// The next rule is tried on the rewritten query.
    Continue,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub mode: Mode,
    pub action: Action,
}

/// What a rule rewrites.
#[derive(Debug, Clone)]
pub enum Action {
    Name(NameRule),
    Type {
        from: RecordType,
        to: RecordType,
    },
    Class {
        from: DNSClass,
        to: DNSClass,
    },
    /// A rule that leaves the question alone and rewrites the reply of the names it matches
    /// (`ttl`, `rcode`).
    Reply {
        matcher: Matcher,
        rule: ResponseRule,
    },
    /// A `cname` rule: every query takes it; it rewrites the reply's CNAME targets.
    Cname(CnameRule),
    /// An `edns0` rule: an option of the query's OPT.
    Edns0(crate::edns0::Edns0Rule),
}

/// A `type` or `class` rule's work: `value` becomes `to` if it is `from`. True if it was.
pub fn exchange<T: PartialEq>(value: &mut T, from: T, to: T) -> bool {
    let hit = *value == from;
    if hit {
        *value = to;
    }
    hit
}

/// A `name` rule.
#[derive(Debug, Clone)]
pub struct NameRule {
    pub matcher: Matcher,
    /// The new name (with `{N}` groups for a regex).
    pub to: String,
    /// Whether the reply is mapped back from the rewritten name to the asked one: always for
    /// `exact`, with `answer auto` for prefix, substring and regex (a suffix rule's `auto`
    /// is a static suffix exchange in `responses`).
    pub auto: bool,
    /// The reply rewrites that do not depend on the query.
    pub responses: Vec<ResponseRule>,
}

impl NameRule {
    /// The reply rules this rule adds when it renamed `before` to `new`: the way back for
    /// `answer auto` (owners, then values), then its own answer rules, in the order the
    /// reverter applies them last to first.
    pub fn reply_rules(&self, new: &str, before: &str, out: &mut Vec<ResponseRule>) {
        if self.auto {
            let back =
                || StringRewriter::Remap { orig: new.to_owned(), replacement: before.to_owned() };
            out.extend([ResponseRule::Name(back()), ResponseRule::Value(back())]);
        }
        out.extend(self.responses.iter().cloned());
    }
}

/// Reads every `rewrite` directive of the block, in order.
pub fn parse(c: &mut Controller) -> Result<Vec<Rule>, ConfigError> {
    let mut rules = Vec::new();
    while c.next() {
        let mut args = c.remaining_args();
        if args.len() < 2 {
            // The block form: its words, in order, complete the rule.
            while c.next_block() {
                args.push(c.val().to_owned());
            }
        }
        rules.push(rule(&args).map_err(|e| c.err(e))?);
    }
    Ok(rules)
}

/// One rule from its words (CoreDNS's `newRule`).
pub fn rule(args: &[String]) -> Result<Rule, String> {
    let Some(first) = args.first() else {
        return Err("no rule type specified for rewrite".into());
    };
    let first = first.to_ascii_lowercase();
    let (mode, rest) = match first.as_str() {
        "continue" | "stop" => {
            let mode = if first == "stop" { Mode::Stop } else { Mode::Continue };
            if args.len() < 2 {
                return Err(format!("{first} rule must begin with a rule type"));
            }
            (mode, &args[1..])
        }
        _ => (Mode::Stop, args),
    };
    let kind = rest[0].to_ascii_lowercase();
    let operands = &rest[1..];
    let action = match kind.as_str() {
        "answer" => return Err("response rewrites must begin with a name rule".into()),
        "name" => Action::Name(name_rule(operands)?),
        "type" | "class" if operands.len() != 2 => {
            return Err(format!("{kind} rules must have exactly two arguments"));
        }
        "type" => {
            let parse = |t: &String| {
                let upper = t.to_ascii_uppercase();
                names::type_by_name(&upper).ok_or_else(|| format!("invalid type {upper:?}"))
            };
            Action::Type { from: parse(&operands[0])?, to: parse(&operands[1])? }
        }
        "class" => {
            let parse = |t: &String| {
                let upper = t.to_ascii_uppercase();
                names::class_by_name(&upper).ok_or_else(|| format!("invalid class {upper:?}"))
            };
            Action::Class { from: parse(&operands[0])?, to: parse(&operands[1])? }
        }
        "ttl" => ttl_rule(operands)?,
        "rcode" => rcode_rule(operands)?,
        "cname" => Action::Cname(cname_rule(operands)?),
        "edns0" => Action::Edns0(crate::edns0::parse(operands)?),
        _ => return Err(format!("invalid rule type {:?}", args[0])),
    };
    Ok(Rule { mode, action })
}

/// A regex for a rule, with CoreDNS's checks and words.
fn checked_regex(from: &str, to: &str) -> Result<Regex, String> {
    if from.len() > MAX_REGEX_LEN {
        return Err(format!("regex pattern too long: {} > {MAX_REGEX_LEN}", from.len()));
    }
    let regex =
        pattern::compile(from).map_err(|_| format!("invalid regex matching pattern: {from}"))?;
    if groups_used(to) > regex.captures_len() - 1 {
        return Err(format!(
            "the rewrite regex pattern ({to}) uses more subexpressions than its corresponding matching regex pattern ({from})"
        ));
    }
    Ok(regex)
}

/// `cname [exact|prefix|suffix|substring|regex] FROM TO` (CoreDNS's `newCNAMERule`): FROM and
/// TO lower-cased, and for `exact` normalised to fully qualified names.
fn cname_rule(args: &[String]) -> Result<CnameRule, String> {
    let (kind, from, to) = match args {
        [kind, from, to] => {
            (kind.to_ascii_lowercase(), from.to_ascii_lowercase(), to.to_ascii_lowercase())
        }
        [from, to] => ("exact".to_owned(), from.to_ascii_lowercase(), to.to_ascii_lowercase()),
        _ => return Err(format!("too few ({}) arguments for a cname rule", args.len())),
    };
    let matcher = match kind.as_str() {
        "exact" => {
            return Ok(CnameRule { matcher: Matcher::Exact(normalize(&from)), to: normalize(&to) });
        }
        "prefix" => Matcher::Prefix(from),
        "suffix" => Matcher::Suffix(from),
        "substring" => Matcher::Substring(from),
        "regex" => {
            if from.len() > MAX_REGEX_LEN {
                return Err(format!(
                    "regex pattern too long in a cname rule: {} > {MAX_REGEX_LEN}",
                    from.len()
                ));
            }
            let regex = pattern::compile(&from)
                .map_err(|e| format!("invalid cname rewrite regex pattern: {e}"))?;
            Matcher::Regex(regex)
        }
        other => return Err(format!("unknown cname rewrite type: {other}")),
    };
    Ok(CnameRule { matcher, to })
}

/// The name a `ttl` or `rcode` rule matches: `[exact|prefix|suffix|substring|regex] NAME`.
fn reply_matcher(field: &str, kind: Option<&str>, name: &str) -> Result<Matcher, String> {
    Ok(match kind.map(str::to_ascii_lowercase).as_deref() {
        None | Some("exact") => Matcher::Exact(normalize(name)),
        Some("prefix") => Matcher::Prefix(normalize(name)),
        Some("suffix") => Matcher::Suffix(normalize(name)),
        Some("substring") => Matcher::Substring(normalize(name)),
        Some("regex") => {
            if name.len() > MAX_REGEX_LEN {
                return Err(format!(
                    "regex pattern too long in a {field} rule: {} > {MAX_REGEX_LEN}",
                    name.len()
                ));
            }
            let regex = pattern::compile(name)
                .map_err(|_| format!("invalid regex pattern in a {field} rule: {name}"))?;
            Matcher::Regex(regex)
        }
        Some(_) => {
            return Err(format!(
                "{field} rule supports only exact, prefix, suffix, substring, and regex name matching"
            ));
        }
    })
}

/// `ttl [TYPE] NAME SECONDS|MIN-MAX` (CoreDNS's `newTTLRule`).
fn ttl_rule(args: &[String]) -> Result<Action, String> {
    if args.len() < 2 {
        return Err(format!("too few ({}) arguments for a ttl rule", args.len()));
    }
    if args.len() > 3 {
        // CoreDNS's words.
        return Err("many few arguments for a ttl rule".into());
    }
    let value = &args[args.len() - 1];
    let (min, max) =
        ttl_range(value).ok_or_else(|| format!("invalid TTL '{value}' for a ttl rule"))?;
    let matcher = match args {
        [name, _] => reply_matcher("ttl", None, name)?,
        [kind, name, _] => reply_matcher("ttl", Some(kind), name)?,
        _ => unreachable!("two or three arguments"),
    };
    Ok(Action::Reply { matcher, rule: ResponseRule::Ttl { min, max } })
}

/// `SECONDS`, `MIN-MAX`, `MIN-` or `-MAX` (CoreDNS's `isValidTTL`).
fn ttl_range(v: &str) -> Option<(u32, u32)> {
    let seconds = |s: &str| s.parse::<u32>().ok();
    match v.split('-').collect::<Vec<_>>().as_slice() {
        [one] => seconds(one).map(|n| (n, n)),
        ["", ""] => None,
        [min, max] => {
            let min = if min.is_empty() { 0 } else { seconds(min)? };
            let max = if max.is_empty() { 2_147_483_647 } else { seconds(max)? };
            (min <= max).then_some((min, max))
        }
        _ => None,
    }
}

/// `rcode [TYPE] NAME FROM TO` (CoreDNS's `newRCodeRule`).
fn rcode_rule(args: &[String]) -> Result<Action, String> {
    if args.len() < 3 {
        return Err(format!("too few ({}) arguments for a rcode rule", args.len()));
    }
    if args.len() > 4 {
        return Err("many few arguments for a rcode rule".into());
    }
    let (old, new) = (&args[args.len() - 2], &args[args.len() - 1]);
    let from =
        rcode(old).ok_or_else(|| format!("invalid matching RCODE '{old}' for a rcode rule"))?;
    let to =
        rcode(new).ok_or_else(|| format!("invalid replacement RCODE '{new}' for a rcode rule"))?;
    let matcher = match args {
        [name, _, _] => reply_matcher("rcode", None, name)?,
        [kind, name, _, _] => reply_matcher("rcode", Some(kind), name)?,
        _ => unreachable!("three or four arguments"),
    };
    Ok(Action::Reply { matcher, rule: ResponseRule::Rcode { from, to } })
}

/// An rcode by number (0 to 23) or by miekg/dns's name (CoreDNS's `isValidRCode`).
fn rcode(v: &str) -> Option<ResponseCode> {
    if let Ok(n) = v.parse::<u16>() {
        return (n <= 23).then(|| <ResponseCode as From<u16>>::from(n));
    }
    names::rcode_by_name(&v.to_ascii_uppercase())
}

/// `name [exact|prefix|suffix|substring|regex] FROM TO [answer ...]`.
fn name_rule(args: &[String]) -> Result<NameRule, String> {
    if args.len() < 2 {
        return Err("too few arguments for a name rule".into());
    }
    let (kind, from, to) = if args.len() == 2 {
        ("exact".to_owned(), normalize(&args[0]), normalize(&args[1]))
    } else {
        let kind = args[0].to_ascii_lowercase();
        if kind == "regex" {
            (kind, args[1].clone(), args[2].clone())
        } else {
            (kind, normalize(&args[1]), normalize(&args[2]))
        }
    };
    let (auto, mut responses) =
        if args.len() > 3 { answer_rules(&kind, &args[3..])? } else { (false, Vec::new()) };
    let (matcher, to, auto) = match kind.as_str() {
        "exact" => (Matcher::Exact(from), to, true),
        "prefix" => (Matcher::Prefix(from), to, auto),
        "substring" => (Matcher::Substring(from), to, auto),
        "suffix" => {
            if auto {
                // The reverse exchange of suffixes, ahead of any explicit answer rules.
                let back =
                    || StringRewriter::Suffix { suffix: to.clone(), replacement: from.clone() };
                responses.splice(0..0, [ResponseRule::Name(back()), ResponseRule::Value(back())]);
            }
            (Matcher::Suffix(from), to, false)
        }
        "regex" => {
            let regex = checked_regex(&from, &to)?;
            (Matcher::Regex(regex), normalize(&to), auto)
        }
        other => {
            return Err(format!(
                "name rule supports only exact, prefix, suffix, substring, and regex name matching, received: {other}"
            ));
        }
    };
    Ok(NameRule { matcher, to, auto, responses })
}

/// `answer auto`, `answer name FROM TO`, `answer value FROM TO`, in any number.
fn answer_rules(kind: &str, args: &[String]) -> Result<(bool, Vec<ResponseRule>), String> {
    if args.len() < 2 {
        return Err(format!("invalid arguments for {kind} rule"));
    }
    let (mut auto, mut rules, mut name_rules) = (false, Vec::new(), 0);
    let mut at = 0;
    let mut last: Option<&str> = None;
    while at < args.len() {
        if last.is_none() && args[at] != "answer" {
            return Err(format!(
                "exceeded the number of arguments for a non-answer rule argument for {kind} rule"
            ));
        }
        if args[at] == "answer" {
            at += 1;
        }
        let Some(what) = args.get(at) else {
            return Err(format!("type missing for answer rule for {kind} rule"));
        };
        last = Some(what);
        at += 1;
        match what.as_str() {
            "auto" => auto = true,
            "name" | "value" => {
                let (Some(from), Some(to)) = (args.get(at), args.get(at + 1)) else {
                    return Err(format!(
                        "{what} answer rule for {kind} rule: 2 arguments required"
                    ));
                };
                let regex = checked_regex(from, to)
                    .map_err(|e| format!("{what} answer rule for {kind} rule: {e}"))?;
                let rewriter = StringRewriter::Regex(regex, normalize(to));
                if what == "name" {
                    rules.push(ResponseRule::Name(rewriter));
                    name_rules += 1;
                } else {
                    rules.push(ResponseRule::Value(rewriter));
                }
                at += 2;
            }
            other => return Err(format!("invalid type {other:?} for answer rule for {kind} rule")),
        }
    }
    if auto && name_rules > 0 {
        // CoreDNS's spelling.
        return Err(
            "auto name answer rule cannot be combined with explicit name anwer rules".into()
        );
    }
    Ok((auto, rules))
}
