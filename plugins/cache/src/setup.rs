//! Reading `cache [TTL] [ZONES...] { ... }`.

use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

/// The largest positive TTL (CoreDNS's `MaximumDefaultTTL`).
pub const MAX_TTL: u32 = 3600;
/// The largest negative TTL.
pub const MAX_NTTL: u32 = 1800;
/// The smallest TTL.
pub const MIN_TTL: u32 = 5;
/// Capacity of each of the two caches by default.
pub const DEFAULT_CAP: usize = 10_000;

/// The cache's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Zones cached.
    pub zones: Vec<String>,
    /// Success cache capacity, maximum and minimum TTL.
    pub pcap: usize,
    /// Maximum TTL of answers.
    pub pttl: u32,
    /// Minimum TTL of answers.
    pub minpttl: u32,
    /// Denial cache capacity.
    pub ncap: usize,
    /// Maximum TTL of denials.
    pub nttl: u32,
    /// Minimum TTL of denials.
    pub minnttl: u32,
    /// How long SERVFAIL replies are kept (0: not at all).
    pub failttl: u32,
    /// Hits before an entry is prefetched (0: never).
    pub prefetch: u64,
    /// The window in which those hits must fall.
    pub prefetch_window: Duration,
    /// Prefetch when this percentage of the TTL is left.
    pub prefetch_percent: u32,
    /// Serve expired entries for up to this long (`None`: not at all).
    pub serve_stale: Option<Duration>,
    /// With serve_stale, ask upstream first and serve stale only if that fails.
    pub verify_stale: bool,
    /// Zones whose answers are not cached.
    pub disable_success: Vec<String>,
    /// Zones whose denials are not cached.
    pub disable_denial: Vec<String>,
    /// Serve the original TTL instead of the remaining one.
    pub keepttl: bool,
}

fn int(c: &Controller, s: &str) -> Result<i64, ConfigError> {
    s.parse::<i64>().map_err(|_| c.err(format!("strconv.Atoi: parsing {s:?}: invalid syntax")))
}

fn ttl_arg(c: &Controller, s: &str) -> Result<u32, ConfigError> {
    let v = int(c, s)?;
    if v <= 0 {
        return Err(c.err(format!("cache TTL can not be zero or negative: {v}")));
    }
    Ok(v.min(i64::from(u32::MAX)) as u32)
}

fn min_ttl_arg(c: &Controller, s: &str) -> Result<u32, ConfigError> {
    let v = int(c, s)?;
    if v < 0 {
        return Err(c.err(format!("cache min TTL can not be negative: {v}")));
    }
    Ok(v.min(i64::from(u32::MAX)) as u32)
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options {
        zones: c.zones().to_vec(),
        pcap: DEFAULT_CAP,
        pttl: MAX_TTL,
        minpttl: MIN_TTL,
        ncap: DEFAULT_CAP,
        nttl: MAX_NTTL,
        minnttl: MIN_TTL,
        failttl: MIN_TTL,
        prefetch: 0,
        prefetch_window: Duration::from_secs(60),
        prefetch_percent: 10,
        serve_stale: None,
        verify_stale: false,
        disable_success: Vec::new(),
        disable_denial: Vec::new(),
        keepttl: false,
    };
    while c.next() {
        let mut args = c.remaining_args();
        if let Some(first) = args.first()
            && let Ok(ttl) = first.parse::<i64>()
        {
            if ttl <= 0 {
                return Err(c.err(format!("cache TTL can not be zero or negative: {ttl}")));
            }
            o.pttl = ttl.min(i64::from(u32::MAX)) as u32;
            o.nttl = o.pttl;
            args.remove(0);
        }
        o.zones = origins_from_args_or_block(&args, c.zones());
        while c.next_block() {
            let what = c.val().to_string();
            let args = c.remaining_args();
            match what.as_str() {
                "success" | "denial" => {
                    let Some(cap) = args.first() else { return Err(c.arg_err()) };
                    let cap = int(c, cap)?.max(0) as usize;
                    let ttl = args.get(1).map(|t| ttl_arg(c, t)).transpose()?;
                    let min = args.get(2).map(|t| min_ttl_arg(c, t)).transpose()?;
                    if what == "success" {
                        o.pcap = cap;
                        o.pttl = ttl.unwrap_or(o.pttl);
                        o.minpttl = min.unwrap_or(o.minpttl);
                    } else {
                        o.ncap = cap;
                        o.nttl = ttl.unwrap_or(o.nttl);
                        o.minnttl = min.unwrap_or(o.minnttl);
                    }
                }
                "prefetch" => {
                    if args.is_empty() || args.len() > 3 {
                        return Err(c.arg_err());
                    }
                    let amount = int(c, &args[0])?;
                    if amount < 0 {
                        return Err(c.err(format!("prefetch amount should be positive: {amount}")));
                    }
                    o.prefetch = amount as u64;
                    if let Some(d) = args.get(1) {
                        o.prefetch_window = parse_go_duration(d).map_err(|e| c.err(e))?;
                    }
                    if let Some(pct) = args.get(2) {
                        let Some(num) = pct.strip_suffix('%') else {
                            let last = pct.chars().last().unwrap_or(' ');
                            return Err(c.err(format!(
                                "last character of percentage should be `%`, but is: '{last}'"
                            )));
                        };
                        let num = int(c, num)?;
                        if !(10..=90).contains(&num) {
                            return Err(
                                c.err(format!("percentage should fall in range [10, 90]: {num}"))
                            );
                        }
                        o.prefetch_percent = num as u32;
                    }
                }
                "serve_stale" => {
                    if args.len() > 2 {
                        return Err(c.arg_err());
                    }
                    let mut up_to = Duration::from_secs(3600);
                    if let Some(d) = args.first() {
                        if d.starts_with('-') {
                            return Err(c.err("invalid negative duration for serve_stale"));
                        }
                        up_to = parse_go_duration(d).map_err(|e| c.err(e))?;
                    }
                    if let Some(mode) = args.get(1) {
                        match mode.to_ascii_lowercase().as_str() {
                            "immediate" => o.verify_stale = false,
                            "verify" => o.verify_stale = true,
                            other => {
                                return Err(c.err(format!(
                                    "invalid value for serve_stale refresh mode: {other}"
                                )));
                            }
                        }
                    }
                    o.serve_stale = Some(up_to);
                }
                "servfail" => {
                    let [d] = args.as_slice() else { return Err(c.arg_err()) };
                    if d.starts_with('-') {
                        return Err(c.err("invalid negative ttl for servfail"));
                    }
                    let d = parse_go_duration(d).map_err(|e| c.err(e))?;
                    if d > Duration::from_secs(300) {
                        return Err(
                            c.err("caching SERVFAIL responses over 5 minutes is not permitted")
                        );
                    }
                    o.failttl = d.as_secs() as u32;
                }
                "disable" => {
                    let Some(kind) = args.first() else { return Err(c.arg_err()) };
                    let zones = origins_from_args_or_block(&args[1..], &o.zones);
                    match kind.as_str() {
                        "success" => o.disable_success.extend(zones),
                        "denial" => o.disable_denial.extend(zones),
                        other => {
                            return Err(c.err(format!(
                                "cache type for disable must be \"success\" or \"denial\": {other}"
                            )));
                        }
                    }
                }
                "keepttl" => {
                    if !args.is_empty() {
                        return Err(c.arg_err());
                    }
                    o.keepttl = true;
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(o)
}
