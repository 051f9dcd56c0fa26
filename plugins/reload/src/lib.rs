//! *reload*: checks the Corefile every interval and moves to it when it changed.
//!
//! * [`parse`] reads `reload [INTERVAL] [JITTER]` (defaults 30s and 15s; at least 2s and, unless
//!   0, 1s; the jitter is cut to half the interval) and picks this load's period: the interval
//!   plus a random offset within ±jitter/2, as CoreDNS does.
//! * [`setup`] leaves the period in the configuration's shared state ([`Period`]); the server
//!   runs the checks, since a reload replaces the configuration this plugin belongs to.
//! * [`RELOAD_FAILED`] and [`VERSION_INFO`] are CoreDNS's reload metrics.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use plugin_api::pkg::duration::{format_go_duration, parse_go_duration};
use plugin_api::pkg::metrics::register;
use plugin_api::{ConfigError, Controller, Plugin};
use prometheus::{IntCounter, IntGaugeVec, Opts};

/// The directive's name.
pub const NAME: &str = "reload";

const MIN_INTERVAL: Duration = Duration::from_secs(2);
const MIN_JITTER: Duration = Duration::from_secs(1);

/// The period this configuration asks for, once `reload` is set up.
#[derive(Default)]
pub struct Period(pub Mutex<Option<Duration>>);

/// `coredns_reload_failed_total`.
pub static RELOAD_FAILED: LazyLock<IntCounter> = LazyLock::new(|| {
    let opts = Opts::new("failed_total", "Counter of the number of failed reload attempts.")
        .namespace("coredns")
        .subsystem("reload");
    register(IntCounter::with_opts(opts).expect("valid metric"))
});

/// `coredns_reload_version_info{hash="sha512",value}`.
pub static VERSION_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "version_info",
        "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
    )
    .namespace("coredns")
    .subsystem("reload");
    register(IntGaugeVec::new(opts, &["hash", "value"]).expect("valid metric"))
});

/// Reads the directive and returns the period, jitter applied with `random` (a value in
/// `[0, 1)`).
pub fn parse(c: &mut Controller, random: f64) -> Result<Duration, ConfigError> {
    c.next();
    let args = c.remaining_args();
    if args.len() > 2 {
        return Err(c.arg_err());
    }
    let mut interval = Duration::from_secs(30);
    if let Some(i) = args.first() {
        interval = parse_go_duration(i).map_err(|e| c.err(e))?;
    }
    if interval < MIN_INTERVAL {
        return Err(c.err(format!(
            "interval value must be greater or equal to {}",
            format_go_duration(MIN_INTERVAL)
        )));
    }
    let mut jitter = Duration::from_secs(15);
    if let Some(j) = args.get(1) {
        jitter = parse_go_duration(j).map_err(|e| c.err(e))?;
    }
    if !jitter.is_zero() && jitter < MIN_JITTER {
        return Err(c.err(format!(
            "jitter value must be 0 or greater or equal to {}",
            format_go_duration(MIN_JITTER)
        )));
    }
    jitter = jitter.min(interval / 2);
    // An offset in [-jitter/2, +jitter/2).
    let offset = jitter.as_secs_f64() * (random - 0.5);
    Ok(Duration::from_secs_f64(
        (interval.as_secs_f64() + offset).max(MIN_INTERVAL.as_secs_f64() / 2.0),
    ))
}

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
