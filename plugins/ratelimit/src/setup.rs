//! Reading `ratelimit [RATE] { ... }`.
//!
//! The bare form `ratelimit RATE { whitelist IP... }` is the syntax of the most used external
//! CoreDNS rate-limit plugin, so a Corefile written for a CoreDNS built with it loads as it is.

use std::net::IpAddr;

use plugin_api::pkg::zone::{host_cidr, parse_cidr};
use plugin_api::{ConfigError, Controller};

/// What happens to a query over its client's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No reply: the client's resolver waits out its timeout, which slows a flooding client
    /// down instead of inviting it to retry at once.
    Drop,
    /// A REFUSED reply.
    Refuse,
}

impl Action {
    /// What the log line says is done.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Drop => "dropping",
            Self::Refuse => "refusing",
        }
    }
}

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Queries per second each client may ask on average.
    pub rate: u32,
    /// Queries a client may ask at once after being quiet.
    pub burst: u32,
    /// Sources never limited.
    pub exempt: Vec<(IpAddr, u8)>,
    /// What is done over the rate.
    pub action: Action,
    /// Leading bits of an IPv4 source that make a client (32: each address).
    pub ipv4_prefix: u8,
    /// Leading bits of an IPv6 source that make a client (128: each address).
    pub ipv6_prefix: u8,
    /// About how many clients can be told apart at once; the table never grows beyond it.
    pub clients: usize,
}

/// The default rate: generous for one pod (a lookup with `ndots:5` can cost ten queries).
pub const DEFAULT_RATE: u32 = 1000;
/// The fastest rate that can be set: the table counts in microseconds.
pub const MAX_RATE: u32 = 1_000_000;
/// The default number of clients told apart.
pub const DEFAULT_CLIENTS: usize = 65_536;
/// The most clients told apart (a 256 MiB table).
pub const MAX_CLIENTS: usize = 1 << 24;

fn number<T: std::str::FromStr + PartialOrd>(
    c: &Controller,
    text: &str,
    what: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match text.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(c.err(format!("invalid {what} {text:?}"))),
    }
}

/// Reads the directive (once per server block).
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options {
        rate: DEFAULT_RATE,
        burst: 0,
        exempt: Vec::new(),
        action: Action::Drop,
        ipv4_prefix: 32,
        ipv6_prefix: 128,
        clients: DEFAULT_CLIENTS,
    };
    while c.next() {
        let args = c.remaining_args();
        match args.as_slice() {
            [] => {}
            [rate] => o.rate = number(c, rate, "rate", 1, MAX_RATE)?,
            _ => return Err(c.arg_err()),
        }
        while c.next_block() {
            let option = c.val().to_string();
            let args = c.remaining_args();
            let one = |c: &Controller| match args.as_slice() {
                [value] => Ok(value.clone()),
                _ => Err(c.arg_err()),
            };
            match option.as_str() {
                "burst" => o.burst = number(c, &one(c)?, "burst", 1, u32::MAX)?,
                "ipv4_prefix" => o.ipv4_prefix = number(c, &one(c)?, "ipv4_prefix", 0, 32)?,
                "ipv6_prefix" => o.ipv6_prefix = number(c, &one(c)?, "ipv6_prefix", 0, 128)?,
                "clients" => o.clients = number(c, &one(c)?, "clients", 1, MAX_CLIENTS)?,
                "action" => {
                    o.action = match one(c)?.as_str() {
                        "drop" => Action::Drop,
                        "refuse" => Action::Refuse,
                        other => {
                            return Err(c.err(format!(
                                "unknown action {other:?}; expect 'drop' or 'refuse'"
                            )));
                        }
                    }
                }
                "exempt" | "whitelist" => {
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    for a in &args {
                        o.exempt.push(source(c, a)?);
                    }
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    if o.burst == 0 {
        o.burst = o.rate;
    }
    Ok(o)
}

/// An address (a /32 or /128) or a network.
fn source(c: &Controller, text: &str) -> Result<(IpAddr, u8), ConfigError> {
    parse_cidr(&host_cidr(text))
        .ok_or_else(|| c.err(format!("not an address or a network: {text:?}")))
}
