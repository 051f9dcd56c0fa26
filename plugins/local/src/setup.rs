//! Reading the directive: `local { localhost_prefix on|off }`, with CoreDNS's messages.

use plugin_api::{ConfigError, Controller};

/// The parsed directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Whether names that start with `localhost.` (`localhost.example.org.`) are answered with
    /// the loopback addresses, as CoreDNS still does by default for older resolvers; RFC 6761
    /// only reserves the names under `localhost.`.
    pub localhost_prefix: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { localhost_prefix: true }
    }
}

/// Reads `local`, taking no arguments, and its block.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut options = Options::default();
    while c.next() {
        if !c.remaining_args().is_empty() {
            return Err(c.arg_err());
        }
        while c.next_block() {
            match c.val() {
                "localhost_prefix" => {
                    let args = c.remaining_args();
                    let [value] = args.as_slice() else { return Err(c.arg_err()) };
                    options.localhost_prefix = match value.as_str() {
                        "on" => true,
                        "off" => false,
                        other => {
                            let msg =
                                format!("localhost_prefix expects 'on' or 'off', got {other:?}");
                            return Err(c.err(msg));
                        }
                    };
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(options)
}
