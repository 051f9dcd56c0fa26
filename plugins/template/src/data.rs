//! The values a template sees, CoreDNS's `templateData`: `.Zone`, `.Name` (lower-cased),
//! `.Regex`, `.Match` (the whole match, then each group), `.Group` (groups by number and by
//! name), `.Class`, `.Type`, `.Message`, `.Question`, `.Remote`, and the method `.Meta`.

use std::sync::Arc;

use plugin_api::Request;
use plugin_api::proto::rr::{DNSClass, RecordType};
use regex::Regex;

use crate::gotemplate::value::{Method, Value, map};

/// miekg/dns's `ClassToString`: the empty string for a class it has no name for.
pub fn class_str(class: DNSClass) -> &'static str {
    match class {
        DNSClass::Unknown(2) => "CS",
        DNSClass::Unknown(_) | DNSClass::OPT(_) => "",
        c => c.into(),
    }
}

/// miekg/dns's `TypeToString`: the empty string for a type it has no name for.
pub fn type_str(qtype: RecordType) -> &'static str {
    match qtype {
        RecordType::Unknown(_) => "",
        t => t.into(),
    }
}

/// The data for a query that `regex` (`None`: the default `.*`) matched in `zone`.
pub fn build(req: &Request, zone: &str, regex: Option<&Regex>, class: &str, qtype: &str) -> Value {
    let name = req.name();
    let captures = regex.and_then(|r| r.captures(name).map(|caps| (r, caps)));
    let (pattern, matches, named) = match &captures {
        Some((regex, caps)) => {
            let all = caps.iter().map(|m| m.map_or("", |m| m.as_str()).to_owned()).collect();
            (regex.as_str(), all, named(regex, caps))
        }
        None => (".*", vec![name.to_owned()], Vec::new()),
    };
    with_matches(req, zone, pattern, matches, named, class, qtype)
}

fn named(regex: &Regex, caps: &regex::Captures<'_>) -> Vec<(String, String)> {
    let names = regex.capture_names().enumerate();
    names
        .filter_map(|(i, n)| {
            let m = caps.get(i).map_or("", |m| m.as_str());
            n.map(|n| (n.to_owned(), m.to_owned()))
        })
        .collect()
}

fn with_matches(
    req: &Request,
    zone: &str,
    regex: &str,
    matches: Vec<String>,
    named: Vec<(String, String)>,
    class: &str,
    qtype: &str,
) -> Value {
    // By number first, then by name, so a group named "1" loses to nothing: Go assigns names
    // last, and so does `map` with later duplicates winning.
    let numbered = matches.iter().enumerate().map(|(i, m)| (i.to_string(), m.clone()));
    let group = map(numbered.chain(named));
    let question = question(req);
    // The query's metadata (*metadata*), copied only when there is some; an unset name reads
    // as "".
    let values: Vec<(String, String)> =
        req.meta().iter().map(|(l, v)| (l.to_owned(), v.to_owned())).collect();
    let meta: Method = Arc::new(move |args: &[Value]| match args {
        [Value::Str(name)] => {
            let value = values.iter().find(|(l, _)| l == name).map(|(_, v)| v.clone());
            Ok(Value::Str(value.unwrap_or_default()))
        }
        [other] => Err(format!("wrong type for value; expected string; got {}", other.kind())),
        _ => Err(format!("wrong number of args for Meta: want 1 got {}", args.len())),
    });
    Value::Struct(
        "*template.templateData",
        vec![
            ("Zone", Value::Str(zone.to_owned())),
            ("Name", Value::Str(req.name().to_owned())),
            ("Regex", Value::Str(regex.to_owned())),
            ("Match", Value::List(matches.into_iter().map(Value::Str).collect())),
            ("Group", group),
            ("Class", Value::Str(class.to_owned())),
            ("Type", Value::Str(qtype.to_owned())),
            ("Message", message(req, question.clone())),
            ("Question", question),
            ("Remote", Value::Str(req.ip().to_string())),
            ("Meta", Value::Method(meta)),
        ],
    )
}

/// `*dns.Question`: the name as asked (case kept), type and class as numbers.
fn question(req: &Request) -> Value {
    Value::Struct(
        "*dns.Question",
        vec![
            ("Name", Value::Str(req.qname().to_string())),
            ("Qtype", Value::Uint(u64::from(u16::from(req.qtype())))),
            ("Qclass", Value::Uint(u64::from(u16::from(req.qclass())))),
        ],
    )
}

/// `*dns.Msg`: the header fields (miekg/dns's `MsgHdr`, promoted) and the question.
fn message(req: &Request, question: Value) -> Value {
    let h = req.metadata();
    let flag = Value::Bool;
    Value::Struct(
        "*dns.Msg",
        vec![
            ("Id", Value::Uint(u64::from(h.id))),
            ("Response", flag(false)),
            ("Opcode", Value::Int(i64::from(u8::from(h.op_code)))),
            ("Authoritative", flag(h.authoritative)),
            ("Truncated", flag(h.truncation)),
            ("RecursionDesired", flag(h.recursion_desired)),
            ("RecursionAvailable", flag(h.recursion_available)),
            ("AuthenticatedData", flag(h.authentic_data)),
            ("CheckingDisabled", flag(h.checking_disabled)),
            ("Rcode", Value::Int(i64::from(u16::from(h.response_code)))),
            ("Question", Value::List(vec![question])),
        ],
    )
}
