//! *timeouts*: the read, write and idle timeouts of a server's TCP connections, and how many
//! queries one connection may carry (CoreDNS 1.14.7's `plugin/timeouts`).
//!
//! * [`setup`] reads `timeouts { read|write|idle DURATION; maxtcpqueries MAXIMUM }` with
//!   CoreDNS's checks and words, and leaves the block's [`Settings`] in the configuration's
//!   shared state (`PerBlock<Settings>`) under its index, as *multisocket* does. The plugin adds nothing
//!   to the chain: the server reads the settings when it groups blocks into listeners, each
//!   block on a port overriding what the ones before it set, as CoreDNS's `NewServer` does.

use std::sync::Arc;
use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::{ConfigError, Controller, Plugin};

/// The directive's name.
pub const NAME: &str = "timeouts";

/// What one block sets; `None` leaves the server's default (or an earlier block's value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// For a connection's first query to arrive.
    pub read: Option<Duration>,
    /// For a reply to be written.
    pub write: Option<Duration>,
    /// For each later query to arrive.
    pub idle: Option<Duration>,
    /// Queries served on one connection before it is closed: `Some(None)` for unlimited (-1).
    pub max_tcp_queries: Option<Option<usize>>,
}

/// Records the block's settings for the server.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let settings = parse(c)?;
    c.set_for_block(settings);
    Ok(None)
}

/// CoreDNS's `parseTimeouts`.
pub fn parse(c: &mut Controller) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    while c.next() {
        if !c.remaining_args().is_empty() {
            return Err(c.arg_err().in_plugin(NAME));
        }
        let mut set = 0;
        while c.next_block() {
            let option = c.val().to_owned();
            let args = c.remaining_args();
            let [value] = args.as_slice() else { return Err(c.arg_err()) };
            if option == "maxtcpqueries" {
                let n: i64 = value.parse().map_err(|_| {
                    c.err(format!(
                        "invalid value for maxtcpqueries '{value}': strconv.Atoi: parsing {value:?}: invalid syntax"
                    ))
                })?;
                if n == 0 || n < -1 {
                    return Err(c.err(format!(
                        "maxtcpqueries provided '{n}' needs to be -1 (unlimited) or a positive integer"
                    )));
                }
                settings.max_tcp_queries = Some(usize::try_from(n).ok());
                set += 1;
                continue;
            }
            let timeout = duration(value).map_err(|e| c.err(e))?;
            if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(24 * 3600) {
                let shown = plugin_api::pkg::duration::format_go_duration(timeout);
                return Err(c.err(format!(
                    "timeout provided '{shown}' needs to be between 1 second and 24 hours"
                )));
            }
            match option.as_str() {
                "read" => settings.read = Some(timeout),
                "write" => settings.write = Some(timeout),
                "idle" => settings.idle = Some(timeout),
                _ => return Err(c.err(format!("unknown option: '{option}'"))),
            }
            set += 1;
        }
        if set == 0 {
            return Err(c.err("timeouts block with no timeouts specified").in_plugin(NAME));
        }
    }
    Ok(settings)
}

/// CoreDNS's `durations.NewDurationFromArg`: a bare integer is seconds, else Go's syntax.
fn duration(arg: &str) -> Result<Duration, String> {
    let text = if arg.parse::<i64>().is_ok() { format!("{arg}s") } else { arg.to_owned() };
    parse_go_duration(&text).map_err(|_| format!("failed to parse duration '{text}'"))
}

#[cfg(test)]
mod tests;
