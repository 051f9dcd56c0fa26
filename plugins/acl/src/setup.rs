//! Reading `acl [ZONES...] { ACTION [type QTYPE...|*] [net SOURCE...|*] ... }`, with CoreDNS's
//! error words.

use std::net::IpAddr;
use std::str::FromStr;

use plugin_api::pkg::zone::{host_cidr, origins_from_args_or_block, parse_cidr};
use plugin_api::proto::rr::RecordType;
use plugin_api::{ConfigError, Controller};

/// What a matching policy does with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop checking and pass the query on.
    Allow,
    /// REFUSED with EDE 15 (Blocked).
    Block,
    /// NOERROR with nothing in it and EDE 17 (Filtered).
    Filter,
    /// No reply at all.
    Drop,
}

/// One line of a block: an action for some query types from some sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The action.
    pub action: Action,
    /// The types it applies to; `None` for every type (`type *` or no `type` section).
    pub types: Option<Vec<RecordType>>,
    /// The sources it applies to; `None` for every address (`net *` or no `net` section).
    pub nets: Option<Vec<(IpAddr, u8)>>,
}

impl Policy {
    /// True if the policy covers a query of `qtype` from `ip`.
    pub fn matches(&self, ip: IpAddr, qtype: RecordType) -> bool {
        let type_ok = self.types.as_ref().is_none_or(|t| t.contains(&qtype));
        type_ok
            && self.nets.as_ref().is_none_or(|nets| {
                nets.iter().any(|n| plugin_api::pkg::zone::cidr_contains(*n, ip))
            })
    }
}

/// One `acl` directive: the zones it guards and its policies, first match wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Normalised zones.
    pub zones: Vec<String>,
    /// Policies in file order.
    pub policies: Vec<Policy>,
}

/// Reads every `acl` directive of the block.
pub fn parse(c: &mut Controller) -> Result<Vec<Rule>, ConfigError> {
    let mut rules = Vec::new();
    while c.next() {
        let args = c.remaining_args();
        let zones = origins_from_args_or_block(&args, c.zones());
        let mut policies = Vec::new();
        while c.next_block() {
            policies.push(parse_policy(c)?);
        }
        rules.push(Rule { zones, policies });
    }
    Ok(rules)
}

fn is_section(token: &str) -> bool {
    token.eq_ignore_ascii_case("type") || token.eq_ignore_ascii_case("net")
}

/// Reads one `ACTION [type ...] [net ...]` line; the action is the loaded token.
fn parse_policy(c: &mut Controller) -> Result<Policy, ConfigError> {
    let action = match c.val().to_ascii_lowercase().as_str() {
        "allow" => Action::Allow,
        "block" => Action::Block,
        "filter" => Action::Filter,
        "drop" => Action::Drop,
        _ => {
            let msg = format!(
                "unexpected token {:?}; expect 'allow', 'block', 'filter' or 'drop'",
                c.val()
            );
            return Err(c.err(msg));
        }
    };
    // A missing section and `*` both mean "all"; `*` stays "all" whatever follows it.
    let (mut types, mut nets) = (Some(Vec::new()), Some(Vec::new()));
    let (mut has_types, mut has_nets) = (false, false);
    let rest = c.remaining_args();
    let mut tokens = rest.as_slice();
    while let Some((section, after)) = tokens.split_first() {
        if !is_section(section) {
            return Err(c.err(format!("unexpected token {section:?}; expect 'type | net'")));
        }
        let section = section.to_ascii_lowercase();
        let end = after.iter().position(|t| is_section(t)).unwrap_or(after.len());
        let (values, next) = after.split_at(end);
        tokens = next;
        if values.is_empty() {
            return Err(c.err(format!("no token specified in {section:?} section")));
        }
        if section == "type" {
            has_types = true;
            add_types(c, values, &mut types)?;
        } else {
            has_nets = true;
            add_nets(c, values, &mut nets)?;
        }
    }
    Ok(Policy {
        action,
        types: if has_types { types } else { None },
        nets: if has_nets { nets } else { None },
    })
}

/// `*` means every type and ends the list, as in CoreDNS, where later tokens are not read.
fn add_types(
    c: &Controller,
    values: &[String],
    types: &mut Option<Vec<RecordType>>,
) -> Result<(), ConfigError> {
    for v in values {
        if v == "*" {
            *types = None;
            return Ok(());
        }
        // miekg/dns's type table is keyed by upper-case mnemonics only.
        let known = v.bytes().all(|b| !b.is_ascii_lowercase());
        match RecordType::from_str(v) {
            Ok(t) if known && !matches!(t, RecordType::Unknown(_)) => {
                if let Some(list) = types {
                    list.push(t);
                }
            }
            _ => return Err(c.err(format!("unexpected token {v:?}; expect legal QTYPE"))),
        }
    }
    Ok(())
}

/// `*` means every address and ends the list; a bare address is a /32 or /128.
fn add_nets(
    c: &Controller,
    values: &[String],
    nets: &mut Option<Vec<(IpAddr, u8)>>,
) -> Result<(), ConfigError> {
    for v in values {
        if v == "*" {
            *nets = None;
            return Ok(());
        }
        let cidr = host_cidr(v);
        let Some(net) = parse_cidr(&cidr) else {
            return Err(c.err(format!("illegal CIDR notation {cidr:?}")));
        };
        if let Some(list) = nets {
            list.push(net);
        }
    }
    Ok(())
}
