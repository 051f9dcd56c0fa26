//! `edns0` rules: options set, appended, replaced or removed in the query's OPT record before
//! the plugins after *rewrite* see it (CoreDNS's `edns0.go`), and their `revert`.
//!
//! The rules follow CoreDNS 1.14.7's code where it and its README differ:
//!
//! * `append` of a `local` or `nsid` option adds one even when the query has one already; of a
//!   `subnet` option, or of a `local` option with a variable, it does nothing then.
//! * A query without an OPT gets one (4096 octets, DO clear) as soon as a rule looks at it,
//!   even if the rule then does nothing, except for a variable rule whose value is unknown.
//! * A `local` rule matches an option of its code unless miekg/dns reads that code as an option
//!   of its own type (NSID, subnet, cookie, ...), which CoreDNS's type switch then skips.
//!
//! What `revert` undoes is kept as [`Undo`]s. They are applied to the reply's own OPT, and to
//! the query's options a reply without an OPT echoes (see `pkg::edns`), so that the client sees
//! its own option, or none, rather than the rewritten one.

use std::net::IpAddr;

use plugin_api::Request;
use plugin_api::pkg::edns::set_supported_option;
use plugin_api::pkg::strconv::parse_uint;
use plugin_api::proto::op::Edns;
use plugin_api::proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption, NSIDPayload};

/// The NSID option's code.
const NSID: u16 = 3;
/// The client subnet option's code.
const SUBNET: u16 = 8;

/// Codes miekg/dns reads into a type of their own rather than `EDNS0_LOCAL`: a `local` rule
/// never matches an option of one of these.
const TYPED_CODES: [u16; 12] = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 15];

/// One `edns0` rule.
#[derive(Debug, Clone)]
pub struct Edns0Rule {
    pub option: OptionRule,
    pub action: EditAction,
    pub revert: bool,
}

/// Which option the rule edits.
#[derive(Debug, Clone)]
pub enum OptionRule {
    /// `local CODE DATA`: an option of any code, with fixed bytes or a variable's value.
    Local { code: u16, data: LocalData },
    /// `nsid`: an empty NSID option, asking the next server for its identity.
    Nsid,
    /// `subnet V4BITS V6BITS`: the client's address cut to a prefix (RFC 7871).
    Subnet { v4_bits: u8, v6_bits: u8 },
}

/// A `local` option's value.
#[derive(Debug, Clone)]
pub enum LocalData {
    Bytes(Vec<u8>),
    Variable(Variable),
}

/// The variables a `local` rule's data may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variable {
    QName,
    QType,
    ClientIp,
    ClientPort,
    Protocol,
    ServerIp,
    ServerPort,
    /// `{plugin/label}`: a metadata label (*metadata*); unset or empty, the rule does nothing,
    /// as in CoreDNS.
    Metadata(String),
}

/// The edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditAction {
    /// Replace the option if there is one, else add it.
    Set,
    /// Add the option.
    Append,
    /// Replace the option if there is one.
    Replace,
    /// Remove every option of the code.
    Unset,
}

/// One step of `revert`, applied to an OPT on the way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Remove the first option with this code (the rule added it).
    Remove(u16),
    /// Put this option back in place of the first one with its code (the rule changed it).
    Restore(u16, EdnsOption),
}

impl Undo {
    /// Applies the step to `edns`'s options.
    pub fn apply(&self, edns: &mut Edns) {
        let options = &mut edns.options_mut().options;
        match self {
            Self::Remove(code) => {
                if let Some(at) = options.iter().position(|(c, _)| u16::from(*c) == *code) {
                    options.remove(at);
                }
            }
            Self::Restore(code, old) => {
                if let Some(slot) = options.iter_mut().find(|(c, _)| u16::from(*c) == *code) {
                    slot.1 = old.clone();
                }
            }
        }
    }
}

/// The question as the rules before this one left it, for the variables.
pub struct Asked<'a> {
    pub name: &'a str,
    pub qtype: u16,
}

impl Edns0Rule {
    /// Applies the rule to `edns`, the query's OPT as earlier rules left it (`None` until one
    /// looked: it is then copied from the query, or made if the query has none). True if
    /// the rule did its edit (CoreDNS's `RewriteDone`); what `revert` needs is added to `undo`.
    pub fn apply(
        &self,
        req: &Request,
        asked: &Asked<'_>,
        edns: &mut Option<Edns>,
        undo: &mut Vec<Undo>,
    ) -> bool {
        // A variable without a value ends the rule before the OPT is looked at.
        let data = match &self.option {
            OptionRule::Local { data: LocalData::Variable(v), .. } => match value(v, req, asked) {
                Some(bytes) => Some(bytes),
                None => return false,
            },
            OptionRule::Local { data: LocalData::Bytes(bytes), .. } => Some(bytes.clone()),
            _ => None,
        };
        // The query's own OPT, or a new one (CoreDNS's `setupEdns0Opt`).
        let edns = edns.get_or_insert_with(|| {
            req.edns().cloned().unwrap_or_else(|| {
                let mut e = Edns::new();
                e.set_max_payload(4096);
                e
            })
        });
        let code = self.code();
        let options = &mut edns.options_mut().options;
        if self.action == EditAction::Unset {
            options.retain(|(c, _)| u16::from(*c) != code);
            return true;
        }
        let new_option = || match &self.option {
            OptionRule::Local { code, .. } => {
                Some(EdnsOption::Unknown(*code, data.clone().unwrap_or_default()))
            }
            OptionRule::Nsid => NSIDPayload::new(Vec::new()).ok().map(EdnsOption::NSID),
            OptionRule::Subnet { v4_bits, v6_bits } => Some(subnet(req.ip(), *v4_bits, *v6_bits)),
        };
        let found = options.iter_mut().find(|(c, o)| self.matches(u16::from(*c), o));
        if let Some((_, existing)) = found {
            match self.action {
                EditAction::Replace | EditAction::Set => {
                    let Some(new) = new_option() else { return false };
                    let old = std::mem::replace(existing, new);
                    if self.revert {
                        undo.push(Undo::Restore(code, old));
                    }
                    return true;
                }
                // CoreDNS's local and nsid rules go on to add a second option; the others stop.
                _ if matches!(
                    self.option,
                    OptionRule::Subnet { .. }
                        | OptionRule::Local { data: LocalData::Variable(_), .. }
                ) =>
                {
                    return false;
                }
                _ => {}
            }
        }
        if matches!(self.action, EditAction::Append | EditAction::Set) {
            let Some(new) = new_option() else { return false };
            options.push((EdnsCode::from(code), new));
            if self.revert {
                undo.push(Undo::Remove(code));
            }
            return true;
        }
        false
    }

    /// The option code the rule edits.
    pub fn code(&self) -> u16 {
        match self.option {
            OptionRule::Local { code, .. } => code,
            OptionRule::Nsid => NSID,
            OptionRule::Subnet { .. } => SUBNET,
        }
    }

    /// True if an option of `code`, read as `option`, is the one the rule edits.
    fn matches(&self, code: u16, option: &EdnsOption) -> bool {
        match self.option {
            OptionRule::Local { code: want, .. } => {
                code == want
                    && !TYPED_CODES.contains(&code)
                    && matches!(option, EdnsOption::Unknown(..))
            }
            OptionRule::Nsid => matches!(option, EdnsOption::NSID(_)),
            OptionRule::Subnet { .. } => matches!(option, EdnsOption::Subnet(_)),
        }
    }
}

/// The client's address cut to the rule's prefix length for its family, scope 0.
fn subnet(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> EdnsOption {
    let (masked, bits) = match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4_bits)).unwrap_or(0);
            (IpAddr::from((u32::from(v4) & mask).to_be_bytes()), v4_bits)
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(v6_bits)).unwrap_or(0);
            (IpAddr::from((u128::from(v6) & mask).to_be_bytes()), v6_bits)
        }
    };
    EdnsOption::Subnet(ClientSubnet::new(masked, bits, 0))
}

/// A variable's value in wire form (CoreDNS's `ruleData`); `None` if it has none.
fn value(variable: &Variable, req: &Request, asked: &Asked<'_>) -> Option<Vec<u8>> {
    let ip = |addr: IpAddr| match addr {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    Some(match variable {
        Variable::QName => asked.name.as_bytes().to_vec(),
        Variable::QType => asked.qtype.to_be_bytes().to_vec(),
        Variable::ClientIp => ip(req.ip()),
        Variable::ClientPort => req.port().to_be_bytes().to_vec(),
        Variable::Protocol => req.proto().as_str().as_bytes().to_vec(),
        Variable::ServerIp => ip(req.local().ip().to_canonical()),
        Variable::ServerPort => req.local().port().to_be_bytes().to_vec(),
        Variable::Metadata(label) => {
            req.meta().get(label).filter(|v| !v.is_empty())?.as_bytes().to_vec()
        }
    })
}

/// Reads `edns0 local|nsid|subnet ACTION ARGS... [revert]` (CoreDNS's `newEdns0Rule`), with
/// its words.
pub fn parse(args: &[String]) -> Result<Edns0Rule, String> {
    if args.len() < 2 {
        return Err("too few arguments for an EDNS0 rule".into());
    }
    let kind = args[0].to_ascii_lowercase();
    let action = match args[1].to_ascii_lowercase().as_str() {
        "set" => EditAction::Set,
        "append" => EditAction::Append,
        "replace" => EditAction::Replace,
        "unset" => return parse_unset(&kind, args),
        other => return Err(format!("invalid action: {other:?}")),
    };
    let (args, revert) = match args.split_last() {
        Some((last, rest)) if last == "revert" => (rest, true),
        _ => (args, false),
    };
    let option = match kind.as_str() {
        "local" => {
            let [_, _, code, data] = args else {
                return Err("EDNS0 local rules require three or four args".into());
            };
            let code = parse_code(code)?;
            let data = if data.starts_with('{') && data.ends_with('}') {
                LocalData::Variable(variable(data)?)
            } else {
                LocalData::Bytes(local_bytes(data)?)
            };
            set_supported_option(code);
            OptionRule::Local { code, data }
        }
        "nsid" => {
            if args.len() != 2 {
                return Err("EDNS0 NSID rules can accept no more than one arg".into());
            }
            OptionRule::Nsid
        }
        "subnet" => {
            let [_, _, v4, v6] = args else {
                return Err("EDNS0 subnet rules require three or four args".into());
            };
            let v4_bits = mask_len(v4, 32, "IPv4")?;
            let v6_bits = mask_len(v6, 128, "IPv6")?;
            OptionRule::Subnet { v4_bits, v6_bits }
        }
        _ => return Err(format!("invalid rule type {kind:?}")),
    };
    Ok(Edns0Rule { option, action, revert })
}

/// `unset`, which takes no data and no `revert` (CoreDNS's `newEdns0UnsetRule`).
fn parse_unset(kind: &str, args: &[String]) -> Result<Edns0Rule, String> {
    let option = match kind {
        "local" => {
            let [_, _, code] = args else {
                return Err("local unset action requires exactly two arguments".into());
            };
            let code = parse_code(code)?;
            set_supported_option(code);
            OptionRule::Local { code, data: LocalData::Bytes(Vec::new()) }
        }
        "nsid" if args.len() != 2 => {
            return Err("nsid unset action requires exactly one argument".into());
        }
        "nsid" => OptionRule::Nsid,
        "subnet" if args.len() != 2 => {
            return Err("subnet unset action requires exactly one argument".into());
        }
        "subnet" => OptionRule::Subnet { v4_bits: 0, v6_bits: 0 },
        _ => return Err(format!("invalid rule type {kind:?}")),
    };
    Ok(Edns0Rule { option, action: EditAction::Unset, revert: false })
}

/// An option code, as CoreDNS reads it: `strconv.ParseUint(s, 0, 16)`.
fn parse_code(text: &str) -> Result<u16, String> {
    parse_uint(text, 0, 16).map(|n| n as u16)
}

/// A prefix length of at most `max` bits, read as CoreDNS reads it (`ParseUint(s, 0, 16)`).
fn mask_len(text: &str, max: u64, family: &str) -> Result<u8, String> {
    let n = parse_uint(text, 0, 16)?;
    if n > max {
        return Err(format!("invalid {family} bit mask length {n}"));
    }
    Ok(n as u8)
}

/// A local option's fixed data: hex after `0x`, else the text's bytes.
fn local_bytes(data: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = data.strip_prefix("0x") else {
        return Ok(data.as_bytes().to_vec());
    };
    if hex.len() % 2 == 1 {
        return Err("encoding/hex: odd length hex string".into());
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => {
                let bad = if digit(pair[0]).is_none() { pair[0] } else { pair[1] };
                Err(format!("encoding/hex: invalid byte: U+{bad:04X} {:?}", bad as char))
            }
        })
        .collect()
}

/// A `{variable}` (CoreDNS's `isValidVariable`): one of the fixed names, or a metadata label
/// (`plugin/name`, letters, digits, `-`, `_`, `/`; CoreDNS's `metadata.IsLabel`).
fn variable(text: &str) -> Result<Variable, String> {
    Ok(match text {
        "{qname}" => Variable::QName,
        "{qtype}" => Variable::QType,
        "{client_ip}" => Variable::ClientIp,
        "{client_port}" => Variable::ClientPort,
        "{protocol}" => Variable::Protocol,
        "{server_ip}" => Variable::ServerIp,
        "{server_port}" => Variable::ServerPort,
        _ if is_metadata_label(&text[1..text.len() - 1]) => {
            Variable::Metadata(text[1..text.len() - 1].to_owned())
        }
        _ => return Err(format!("unsupported variable name {text:?}")),
    })
}

/// CoreDNS's `metadata.IsLabel`: `plugin/name`, both parts non-empty, and no other slash.
fn is_metadata_label(label: &str) -> bool {
    let Some((plugin, name)) = label.split_once('/') else { return false };
    !plugin.is_empty() && !name.is_empty() && !name.contains('/')
}

/// What the rules' OPT work on one query leaves for the reply.
#[derive(Debug, Default)]
pub struct EdnsWork {
    /// The query's OPT as the rules left it; `None` if no edns0 rule looked at it.
    pub edns: Option<Edns>,
    /// The `revert` steps, in the order the rules took them.
    pub undo: Vec<Undo>,
}

impl EdnsWork {
    /// True if an edns0 rule looked at the query's OPT.
    pub fn touched(&self) -> bool {
        self.edns.is_some()
    }

    /// Fixes up the reply's OPT: its own OPT gets the `revert` steps, the last rule's first; a
    /// reply without one (to a client that sent EDNS) gets the options the rewritten query
    /// echoes once reverted, as CoreDNS's server writes them from the query it rewrote in
    /// place. A client without EDNS gets no OPT, whatever the rules added.
    pub fn fix_reply(&self, original: &Request, reply_edns: &mut Option<Edns>) {
        let Some(rewritten) = &self.edns else { return };
        if let Some(own) = reply_edns {
            self.undo.iter().rev().for_each(|step| step.apply(own));
            return;
        }
        if original.edns().is_none() {
            return;
        }
        let mut echoed = rewritten.clone();
        self.undo.iter().rev().for_each(|step| step.apply(&mut echoed));
        echoed
            .options_mut()
            .options
            .retain(|(code, _)| plugin_api::pkg::edns::is_supported_option(u16::from(*code)));
        *reply_edns = Some(echoed);
    }
}

#[cfg(test)]
mod tests;
