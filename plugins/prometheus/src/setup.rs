//! Reading the directive: `prometheus [ADDRESS]`.

use plugin_api::{ConfigError, Controller};

/// Where `/metrics` is served when the Corefile names no address.
pub const DEFAULT_ADDR: &str = "localhost:9153";

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The listen address, e.g. `:9153`.
    pub addr: String,
}

/// Reads `prometheus [ADDRESS] { runtime_metrics }`.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut addr = DEFAULT_ADDR.to_string();
    while c.next() {
        plugin_api::pkg::http::listen_addr_arg(c, &mut addr)?;
        while c.next_block() {
            match c.val() {
                // Go runtime metrics have no Rust counterpart; accepted so that Corefiles
                // written for CoreDNS load unchanged.
                "runtime_metrics" => {
                    if !c.remaining_args().is_empty() {
                        return Err(c.arg_err());
                    }
                }
                other => return Err(c.err(format!("unknown option: {other}"))),
            }
        }
    }
    Ok(Options { addr })
}
