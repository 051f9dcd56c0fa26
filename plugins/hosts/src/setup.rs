//! Reading the directive: `hosts [FILE [ZONES...]] { INLINE...; ttl; no_reverse; reload; fallthrough }`.

use std::path::PathBuf;
use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

/// The settings of one `hosts` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The hosts file.
    pub path: PathBuf,
    /// The zones answered for A and AAAA (PTR is answered for any reverse name).
    pub zones: Vec<String>,
    /// Lines written in the Corefile, in hosts-file syntax.
    pub inline: Vec<String>,
    /// TTL of every answer.
    pub ttl: u32,
    /// Make PTR records from the addresses.
    pub reverse: bool,
    /// How often the file is checked for changes; zero never.
    pub reload: Duration,
    /// Names passed on when unknown.
    pub fall: Fall,
    /// Pass on types other than A, AAAA and PTR (for names under `fall`).
    pub fallthrough_unsupported: bool,
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options {
        path: PathBuf::from("/etc/hosts"),
        zones: c.zones().to_vec(),
        inline: Vec::new(),
        ttl: 3600,
        reverse: true,
        reload: Duration::from_secs(5),
        fall: Fall::default(),
        fallthrough_unsupported: false,
    };
    while c.next() {
        let mut args = c.remaining_args();
        if !args.is_empty() {
            o.path = PathBuf::from(args.remove(0));
            match std::fs::metadata(&o.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(
                        c.err(format!("unable to access hosts file '{}': {e}", o.path.display()))
                    );
                }
                Err(_) => tracing::warn!("plugin/hosts: File does not exist: {}", o.path.display()),
                Ok(m) if m.is_dir() => tracing::warn!(
                    "plugin/hosts: Hosts file {:?} is a directory",
                    o.path.display().to_string()
                ),
                Ok(_) => {}
            }
        }
        o.zones = origins_from_args_or_block(&args, c.zones());
        while c.next_block() {
            match c.val() {
                "fallthrough" => o.fall = Fall::from_args(&c.remaining_args()),
                "fallthrough_unsupported" => {
                    if !c.remaining_args().is_empty() {
                        return Err(c.arg_err());
                    }
                    o.fallthrough_unsupported = true;
                }
                "no_reverse" => o.reverse = false,
                "ttl" => {
                    let args = c.remaining_args();
                    let Some(first) = args.first() else {
                        return Err(c.err("ttl needs a time in second"));
                    };
                    let ttl: i64 =
                        first.parse().map_err(|_| c.err("ttl needs a number of second"))?;
                    if !(1..=65535).contains(&ttl) {
                        return Err(c.err("ttl provided is invalid"));
                    }
                    o.ttl = ttl as u32;
                }
                "reload" => {
                    let args = c.remaining_args();
                    let [d] = args.as_slice() else {
                        return Err(c.err("reload needs a duration (zero seconds to disable)"));
                    };
                    o.reload = parse_go_duration(d).map_err(|_| {
                        if d.starts_with('-') {
                            c.err(format!("invalid negative duration for reload '{d}'"))
                        } else {
                            c.err(format!("invalid duration for reload '{d}'"))
                        }
                    })?;
                }
                other => {
                    // Anything else is an inline entry, until `fallthrough` has been seen
                    // (CoreDNS's rule).
                    if o.fall.is_empty() {
                        let mut line = vec![other.to_string()];
                        line.extend(c.remaining_args());
                        o.inline.push(line.join(" "));
                        continue;
                    }
                    return Err(c.err(format!("unknown property '{other}'")));
                }
            }
        }
    }
    if o.fallthrough_unsupported && o.fall.is_empty() {
        return Err(c.err("fallthrough_unsupported requires fallthrough"));
    }
    Ok(o)
}
