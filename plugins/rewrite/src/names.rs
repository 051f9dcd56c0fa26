//! Rewriting names as strings, the way CoreDNS's rewrite plugin does: the question's name on the
//! way in ([`Matcher`]), and the names and values of the reply's records on the way out
//! ([`StringRewriter`], [`ResponseRule`]).
//!
//! Names here are presentation strings, fully qualified. The query side works on the lower-cased
//! name; the reply side on the records' names as written.

use std::borrow::Cow;

use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::rdata::{CNAME, NS, PTR};
use plugin_api::proto::rr::{Name, RData, Record};
use regex::Regex;

/// How a `name` rule matches the question's name, and what it makes of it.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Substring(String),
    Regex(Regex),
}

impl Matcher {
    /// True if `name` matches (the `ttl` and `rcode` rules, which rewrite no name).
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(from) => name == from,
            Self::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => name.ends_with(suffix.as_str()),
            Self::Substring(part) => name.contains(part.as_str()),
            Self::Regex(regex) => regex.is_match(name),
        }
    }

    /// The rewritten name, if `name` matches.
    pub fn rewrite(&self, name: &str, to: &str) -> Option<String> {
        match self {
            Self::Exact(from) => (name == from).then(|| to.to_owned()),
            Self::Prefix(prefix) => {
                name.strip_prefix(prefix.as_str()).map(|rest| format!("{to}{rest}"))
            }
            Self::Suffix(suffix) => {
                name.strip_suffix(suffix.as_str()).map(|rest| format!("{rest}{to}"))
            }
            Self::Substring(part) => {
                name.contains(part.as_str()).then(|| name.replace(part.as_str(), to))
            }
            // `is_match` first: a name that does not match costs no allocation.
            Self::Regex(regex) => {
                if !regex.is_match(name) {
                    return None;
                }
                regex.captures(name).map(|groups| expand(&groups, to))
            }
        }
    }
}

impl Matcher {
    /// [`Matcher::rewrite`] into `out` rather than a new string: `Some(true)` if `name` matched
    /// and the new name fits, `Some(false)` if it did not match, `None` if this cannot be done
    /// without allocating (a regex) or the new name does not fit (it is then no valid name).
    pub fn rewrite_into(&self, name: &str, to: &str, out: &mut TextBuf) -> Option<bool> {
        out.clear();
        let written = match self {
            Self::Exact(from) => name == from && out.push(to),
            Self::Prefix(prefix) => match name.strip_prefix(prefix.as_str()) {
                Some(rest) => out.push(to) && out.push(rest),
                None => return Some(false),
            },
            Self::Suffix(suffix) => match name.strip_suffix(suffix.as_str()) {
                Some(rest) => out.push(rest) && out.push(to),
                None => return Some(false),
            },
            Self::Substring(part) if !part.is_empty() && name.contains(part.as_str()) => {
                let mut pieces = name.split(part.as_str());
                let first = pieces.next().is_some_and(|p| out.push(p));
                first && pieces.all(|p| out.push(to) && out.push(p))
            }
            Self::Substring(_) => return Some(false),
            Self::Regex(_) => return None,
        };
        match self {
            Self::Exact(from) if name != from => Some(false),
            _ => written.then_some(true),
        }
    }
}

/// A name built without allocating: room for the longest name in presentation form.
pub struct TextBuf {
    buf: [u8; 256],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        Self { buf: [0; 256], len: 0 }
    }
}

impl TextBuf {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `s`; false if it does not fit.
    pub fn push(&mut self, s: &str) -> bool {
        let Some(room) = self.buf.get_mut(self.len..self.len + s.len()) else { return false };
        room.copy_from_slice(s.as_bytes());
        self.len += s.len();
        true
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only whole `str`s are pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// `to` with `{N}` replaced by group N of the match, for every group the match has (CoreDNS's
/// syntax, not the regex crate's `$N`).
pub fn expand(groups: &regex::Captures<'_>, to: &str) -> String {
    let mut out = to.to_owned();
    for (i, group) in groups.iter().enumerate() {
        let value = group.map_or("", |m| m.as_str());
        out = out.replace(&format!("{{{i}}}"), value);
    }
    out
}

/// How many of `{0}` to `{100}` a replacement uses (CoreDNS counts them to check the pattern
/// has that many groups).
pub fn groups_used(to: &str) -> usize {
    (0..=100).filter(|i| to.contains(&format!("{{{i}}}"))).count()
}

/// A rewrite of one string into another.
#[derive(Debug, Clone)]
pub enum StringRewriter {
    /// A regex and its replacement with `{N}` groups; a string it does not match is kept.
    Regex(Regex, String),
    /// `orig` becomes `replacement`, and so does the `orig` suffix of a name under it (the
    /// reverse of an exact, prefix, substring or regex rule's rewrite, for `answer auto`).
    Remap { orig: String, replacement: String },
    /// A suffix exchanged for another (a suffix rule's `answer auto`).
    Suffix { suffix: String, replacement: String },
}

impl StringRewriter {
    pub fn rewrite<'a>(&self, src: &'a str) -> Cow<'a, str> {
        match self {
            Self::Regex(regex, to) => match regex.captures(src) {
                Some(groups) => Cow::Owned(expand(&groups, to)),
                None => Cow::Borrowed(src),
            },
            Self::Remap { orig, replacement } => {
                if src == orig {
                    return Cow::Owned(replacement.clone());
                }
                match src.strip_suffix(orig.as_str()) {
                    Some(head) if head.ends_with('.') => Cow::Owned(format!("{head}{replacement}")),
                    _ => Cow::Borrowed(src),
                }
            }
            Self::Suffix { suffix, replacement } => match src.strip_suffix(suffix.as_str()) {
                Some(head) => Cow::Owned(format!("{head}{replacement}")),
                None => Cow::Borrowed(src),
            },
        }
    }
}

impl StringRewriter {
    /// True if rewriting `before` gives `after`, letter case aside (a wire reply's names keep the
    /// client's spelling); `None` for a regex, which this does not check. Names are bytes of
    /// presentation form, as a wire reply is read.
    pub fn maps(&self, before: &[u8], after: &[u8]) -> Option<bool> {
        Some(match self {
            Self::Regex(..) => return None,
            Self::Remap { orig, replacement } => remap_maps(orig, replacement, before, after),
            Self::Suffix { suffix, replacement } => match before.strip_suffix(suffix.as_bytes()) {
                Some(head) => joined(after, head, replacement.as_bytes()),
                None => before.eq_ignore_ascii_case(after),
            },
        })
    }
}

/// [`StringRewriter::maps`] for a `Remap` whose strings are borrowed.
pub fn remap_maps(orig: &str, replacement: &str, before: &[u8], after: &[u8]) -> bool {
    if before == orig.as_bytes() {
        return after.eq_ignore_ascii_case(replacement.as_bytes());
    }
    match before.strip_suffix(orig.as_bytes()) {
        Some(head) if head.ends_with(b".") => joined(after, head, replacement.as_bytes()),
        _ => before.eq_ignore_ascii_case(after),
    }
}

/// True if `name` is `head` then `tail`, letter case aside.
fn joined(name: &[u8], head: &[u8], tail: &[u8]) -> bool {
    let same = |a: &[u8], b: &[u8]| a == b || a.eq_ignore_ascii_case(b);
    name.len() == head.len() + tail.len()
        && same(&name[..head.len()], head)
        && same(&name[head.len()..], tail)
}

/// What a rule does to the reply.
#[derive(Debug, Clone)]
pub enum ResponseRule {
    /// Rewrites each record's owner name.
    Name(StringRewriter),
    /// Rewrites the name a record points at: SRV, MX, CNAME, NS, NAPTR's replacement, SOA's
    /// MNAME and PTR, as CoreDNS's `getRecordValueForRewrite` lists them (hickory has no DNAME).
    Value(StringRewriter),
    /// Brings each record's TTL into `min..=max` (a `ttl` rule).
    Ttl { min: u32, max: u32 },
    /// Changes the reply's rcode `from` to `to` (an `rcode` rule).
    Rcode { from: ResponseCode, to: ResponseCode },
}

impl ResponseRule {
    /// Applies the rule to one record (the rcode rule does nothing here: see [`Self::apply_to_rcode`]).
    pub fn apply(&self, record: &mut Record) {
        match self {
            Self::Ttl { min, max } => record.ttl = record.ttl.clamp(*min, *max),
            Self::Rcode { .. } => {}
            Self::Name(rewriter) => {
                if let Some(name) = rewrite_name(rewriter, &record.name) {
                    record.name = name;
                }
            }
            Self::Value(rewriter) => {
                if let Some(target) = value_of(&mut record.data)
                    && let Some(name) = rewrite_name(rewriter, target)
                {
                    *target = name;
                }
            }
        }
    }
}

impl ResponseRule {
    /// Applies an rcode rule to the reply's rcode.
    pub fn apply_to_rcode(&self, rcode: &mut ResponseCode) {
        if let Self::Rcode { from, to } = self
            && rcode == from
        {
            *rcode = *to;
        }
    }
}

/// `name` rewritten, if that changes it and gives a valid name.
fn rewrite_name(rewriter: &StringRewriter, name: &Name) -> Option<Name> {
    let text = name.to_string();
    match rewriter.rewrite(&text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(new) if new == text => None,
        Cow::Owned(new) => Name::from_ascii(&new).ok().map(|mut n| {
            n.set_fqdn(true);
            n
        }),
    }
}

/// The name a record's data points at, for the types CoreDNS rewrites.
fn value_of(data: &mut RData) -> Option<&mut Name> {
    match data {
        RData::SRV(srv) => Some(&mut srv.target),
        RData::MX(mx) => Some(&mut mx.exchange),
        RData::CNAME(CNAME(target)) | RData::NS(NS(target)) | RData::PTR(PTR(target)) => {
            Some(target)
        }
        RData::NAPTR(naptr) => Some(&mut naptr.replacement),
        RData::SOA(soa) => Some(&mut soa.mname),
        _ => None,
    }
}

/// A `cname` rule: the target of a CNAME in the reply that it matches is replaced, and what the
/// new target resolves to (looked up through the block) replaces the records after it
/// (CoreDNS's `cnameTargetRule`).
#[derive(Debug, Clone)]
pub struct CnameRule {
    pub matcher: Matcher,
    pub to: String,
}

impl CnameRule {
    /// The new target for `target`, if the rule matches it (`getFromAndToTarget`). An exact rule
    /// matches its FROM only.
    pub fn new_target(&self, target: &str) -> Option<String> {
        match &self.matcher {
            Matcher::Exact(from) => (target == from).then(|| self.to.clone()),
            other => other.rewrite(target, &self.to),
        }
    }
}
