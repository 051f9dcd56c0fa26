//! Reading the directive: `health [ADDRESS] { lameduck DURATION }`.

use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::{ConfigError, Controller};

/// Where `/health` is served when the Corefile names no address.
pub const DEFAULT_ADDR: &str = ":8080";

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The listen address.
    pub addr: String,
    /// How long to keep serving after a stop is asked for.
    pub lameduck: Duration,
}

/// Reads `health [ADDRESS] { lameduck DURATION }`.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut options = Options { addr: DEFAULT_ADDR.into(), lameduck: Duration::ZERO };
    while c.next() {
        plugin_api::pkg::http::listen_addr_arg(c, &mut options.addr)?;
        while c.next_block() {
            match c.val() {
                "lameduck" => {
                    let args = c.remaining_args();
                    let [d] = args.as_slice() else { return Err(c.arg_err()) };
                    options.lameduck = parse_go_duration(d).map_err(|e| {
                        c.err(format!("unable to parse lameduck duration value: '{d}' : {e}"))
                    })?;
                }
                _ => return Err(c.arg_err()),
            }
        }
    }
    Ok(options)
}
