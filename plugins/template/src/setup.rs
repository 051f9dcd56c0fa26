//! Reading the directive, with CoreDNS 1.14.7's words for every error:
//!
//! ```text
//! template CLASS TYPE [ZONE...] {
//!     match REGEX...
//!     answer RR
//!     additional RR
//!     authority RR
//!     rcode CODE
//!     ederror EXTENDED_ERROR_CODE [EXTRA_REASON]
//!     fallthrough [FALLTHROUGH-ZONE...]
//!     upstream
//! }
//! ```

use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::pkg::{names, pattern};
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{DNSClass, RecordType};
use plugin_api::{ConfigError, Controller};
use regex::Regex;

use crate::gotemplate::Template;
use crate::gotemplate::funcs::parse_uint;

/// The longest regex accepted, as CoreDNS limits it (compiling a huge pattern costs memory).
pub const MAX_REGEX_LEN: usize = 10_000;

/// One `template` directive.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `None` for ANY.
    pub class: Option<DNSClass>,
    /// `None` for ANY.
    pub qtype: Option<RecordType>,
    /// The class and type as written, upper-cased (`.Class`/`.Type` for an ANY query).
    pub class_name: String,
    pub type_name: String,
    pub zones: Vec<String>,
    /// Tried in order; the first that matches wins. `.*` when none is given.
    pub regexes: Vec<Regex>,
    pub answer: Vec<Template>,
    pub additional: Vec<Template>,
    pub authority: Vec<Template>,
    pub rcode: ResponseCode,
    /// RFC 8914 info code and extra text.
    pub ederror: Option<(u16, String)>,
    pub fall: Fall,
}

/// Reads every `template` directive of the block, in order.
pub fn parse(c: &mut Controller) -> Result<Vec<Rule>, ConfigError> {
    let everything = pattern::compile(".*").map_err(|e| c.err(e.to_string()))?;
    let mut rules = Vec::new();
    while c.next() {
        if !c.next_arg() {
            return Err(c.arg_err());
        }
        let class_name = c.val().to_owned();
        let Some(class) = class_by_name(&class_name) else {
            return Err(c.err(format!("invalid query class {class_name}")));
        };
        if !c.next_arg() {
            return Err(c.arg_err());
        }
        let type_name = c.val().to_owned();
        let Some(qtype) = type_by_name(&type_name) else {
            // CoreDNS's words, "class" and all.
            return Err(c.err(format!("invalid RR class {type_name}")));
        };
        let args = c.remaining_args();
        let zones = origins_from_args_or_block(&args, c.zones());
        let mut rule = Rule {
            class,
            qtype,
            class_name,
            type_name,
            zones,
            regexes: Vec::new(),
            answer: Vec::new(),
            additional: Vec::new(),
            authority: Vec::new(),
            rcode: ResponseCode::NoError,
            ederror: None,
            fall: Fall::default(),
        };
        while c.next_block() {
            let section = c.val().to_owned();
            match section.as_str() {
                "match" => {
                    let args = c.remaining_args();
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    for pattern in args {
                        if pattern.len() > MAX_REGEX_LEN {
                            return Err(c.err(format!(
                                "regex pattern too long: {} > {MAX_REGEX_LEN}",
                                pattern.len()
                            )));
                        }
                        let regex = pattern::compile(&pattern).map_err(|e| {
                            c.err(format!("could not parse regex: {pattern}, {}", one_line(&e)))
                        })?;
                        rule.regexes.push(regex);
                    }
                }
                "answer" | "additional" | "authority" => {
                    let args = c.remaining_args();
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    for text in &args {
                        let template = Template::parse(&section, text).map_err(|e| {
                            c.err(format!("could not compile template: {}, {e}", c.val()))
                        })?;
                        match section.as_str() {
                            "answer" => rule.answer.push(template),
                            "additional" => rule.additional.push(template),
                            _ => rule.authority.push(template),
                        }
                    }
                }
                "rcode" => {
                    if !c.next_arg() {
                        return Err(c.arg_err());
                    }
                    rule.rcode = names::rcode_by_name(c.val())
                        .ok_or_else(|| c.err(format!("unknown rcode {}", c.val())))?;
                }
                "ederror" => {
                    let args = c.remaining_args();
                    if args.is_empty() || args.len() > 2 {
                        return Err(c.arg_err());
                    }
                    // CoreDNS's `strconv.ParseUint(args[0], 10, 16)`, which parseInt is too.
                    let code = parse_uint(&args[0], 10, 16).map_err(|e| {
                        c.err(format!("error parsing extended DNS error code {}, {e}", c.val()))
                    })?;
                    rule.ederror = Some((code as u16, args.get(1).cloned().unwrap_or_default()));
                }
                "fallthrough" => rule.fall = Fall::from_args(&c.remaining_args()),
                // Accepted and ignored: CoreDNS always looks CNAME targets up ("remove soon").
                "upstream" => {
                    c.remaining_args();
                }
                _ => return Err(c.arg_err()),
            }
        }
        if rule.regexes.is_empty() {
            rule.regexes.push(everything.clone());
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// The regex crate's errors span lines (a caret under the pattern); a Corefile error is one.
fn one_line(e: &regex::Error) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// miekg/dns's `StringToClass`, with `ANY` as `None`.
fn class_by_name(name: &str) -> Option<Option<DNSClass>> {
    match names::class_by_name(name)? {
        DNSClass::ANY => Some(None),
        class => Some(Some(class)),
    }
}

/// miekg/dns's `StringToType` (upper-case names only, as there), with `ANY` as `None`.
fn type_by_name(name: &str) -> Option<Option<RecordType>> {
    match names::type_by_name(name)? {
        RecordType::ANY => Some(None),
        qtype => Some(Some(qtype)),
    }
}
