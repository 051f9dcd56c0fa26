//! Reading the directive: `loadbalance [round_robin | weighted WEIGHTFILE] { reload; prefer }`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::zone::parse_cidr;
use plugin_api::{ConfigError, Controller};

/// How the first address is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// A random order per reply.
    RoundRobin,
    /// A weighted random first address, weights from a file re-read every `reload`.
    Weighted {
        /// The weight file.
        file: PathBuf,
        /// How often it is checked; zero never.
        reload: Duration,
    },
}

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The policy.
    pub policy: Policy,
    /// Subnets whose addresses go first, in order.
    pub prefer: Vec<(IpAddr, u8)>,
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options { policy: Policy::RoundRobin, prefer: Vec::new() };
    while c.next() {
        let args = c.remaining_args();
        match args.first().map(String::as_str) {
            None => o.policy = Policy::RoundRobin,
            Some("round_robin") => {
                if args.len() > 1 {
                    return Err(c.err("unknown property for round_robin"));
                }
                o.policy = Policy::RoundRobin;
            }
            Some("weighted") => {
                let file = match args.as_slice() {
                    [_] => return Err(c.err("missing weight file argument")),
                    [_, file] => PathBuf::from(file),
                    _ => return Err(c.err("unexpected argument(s)")),
                };
                let mut reload = Duration::from_secs(30);
                while c.next_block() {
                    match c.val() {
                        "reload" => {
                            let t = c.remaining_args();
                            reload = match t.as_slice() {
                                [] => return Err(c.err("reload duration value is missing")),
                                [d] => parse_go_duration(d)
                                    .map_err(|_| c.err(format!("invalid reload duration '{d}'")))?,
                                _ => return Err(c.err("unexpected argument")),
                            };
                        }
                        other => return Err(c.err(format!("unknown property '{other}'"))),
                    }
                }
                o.policy = Policy::Weighted { file, reload };
            }
            Some(other) => return Err(c.err(format!("unknown policy: {other}"))),
        }
        while c.next_block() {
            match c.val() {
                "prefer" => {
                    for cidr in c.remaining_args() {
                        let subnet = parse_cidr(&cidr).ok_or_else(|| {
                            c.err(format!("invalid CIDR \"{cidr}\": invalid CIDR address: {cidr}"))
                        })?;
                        o.prefer.push(subnet);
                    }
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(o)
}
