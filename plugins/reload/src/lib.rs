//! *reload*: checks the Corefile every interval and moves to it when it changed.
//!
//! * [`setup::parse`] reads `reload [INTERVAL] [JITTER]` (defaults 30s and 15s; at least 2s and, unless
//!   0, 1s; the jitter is cut to half the interval) and picks this load's period: the interval
//!   plus a random offset within ±jitter/2, as CoreDNS does.
//! * [`setup()`] leaves the period in the configuration's shared state ([`Period`]); the server
//!   runs the checks, since a reload replaces the configuration this plugin belongs to.
//! * [`RELOAD_FAILED`] and [`VERSION_INFO`] are CoreDNS's reload metrics.

pub mod metrics;
pub mod setup;

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use metrics::{RELOAD_FAILED, VERSION_INFO};
use plugin_api::{ConfigError, Controller, Plugin};
use setup::parse;

/// The directive's name.
pub const NAME: &str = "reload";

/// The period this configuration asks for, once `reload` is set up.
#[derive(Default)]
pub struct Period(pub Mutex<Option<Duration>>);

/// Sets up reloading: the period goes to the server through the shared state.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let period = parse(c, plugin_api::pkg::random::unit())?;
    LazyLock::force(&RELOAD_FAILED);
    LazyLock::force(&VERSION_INFO);
    *c.shared::<Period>().0.lock().unwrap_or_else(|e| e.into_inner()) = Some(period);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(input: &str, random: f64) -> Result<Duration, String> {
        parse(&mut Controller::from_text(input), random).map_err(|e| e.to_string())
    }

    #[test]
    fn periods() {
        assert_eq!(period("reload", 0.5).unwrap(), Duration::from_secs(30));
        assert_eq!(period("reload", 0.0).unwrap(), Duration::from_secs_f64(22.5));
        assert_eq!(period("reload 10s", 0.5).unwrap(), Duration::from_secs(10));
        // Jitter above half the interval is cut to half.
        assert_eq!(period("reload 10s 30s", 0.0).unwrap(), Duration::from_secs_f64(7.5));
        assert_eq!(period("reload 2s 0", 0.9).unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn errors() {
        let rows = [
            (
                "reload 1s",
                "Testfile:1 - Error during parsing: interval value must be greater or equal to 2s",
            ),
            (
                "reload 10s 500ms",
                "Testfile:1 - Error during parsing: jitter value must be 0 or greater or equal to 1s",
            ),
            (
                "reload 10s 1s 1s",
                "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '1s'",
            ),
            ("reload soon", "Testfile:1 - Error during parsing: time: invalid duration \"soon\""),
        ];
        for (input, want) in rows {
            assert_eq!(period(input, 0.5).unwrap_err(), want, "{input}");
        }
    }
}
