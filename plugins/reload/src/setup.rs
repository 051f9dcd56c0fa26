//! Reading the directive: `reload [INTERVAL] [JITTER]`.

use std::time::Duration;

use plugin_api::pkg::duration::{format_go_duration, parse_go_duration};
use plugin_api::{ConfigError, Controller};

const MIN_INTERVAL: Duration = Duration::from_secs(2);

const MIN_JITTER: Duration = Duration::from_secs(1);

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
