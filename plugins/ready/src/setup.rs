//! Reading the directive: `ready [ADDRESS] { monitor until-ready|continuously }`.

use plugin_api::{ConfigError, Controller};

/// Where `/ready` is served when the Corefile names no address.
pub const DEFAULT_ADDR: &str = ":8181";

/// How often plugins are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// A plugin that was ready once is not asked again (the default).
    UntilReady,
    /// Every request asks every plugin.
    Continuously,
}

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The listen address.
    pub addr: String,
    /// The monitoring mode.
    pub monitor: Monitor,
}

/// Reads `ready [ADDRESS] { monitor until-ready|continuously }`.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut options = Options { addr: DEFAULT_ADDR.into(), monitor: Monitor::UntilReady };
    while c.next() {
        plugin_api::pkg::http::listen_addr_arg(c, &mut options.addr)?;
        while c.next_block() {
            match c.val() {
                "monitor" => {
                    let args = c.remaining_args();
                    let [mode] = args.as_slice() else { return Err(c.arg_err()) };
                    options.monitor = match mode.as_str() {
                        "until-ready" => Monitor::UntilReady,
                        "continuously" => Monitor::Continuously,
                        other => {
                            return Err(c.err(format!("monitor type '{other}' not supported")));
                        }
                    };
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(options)
}
