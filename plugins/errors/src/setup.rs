//! Reading the directive: `errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL]
//! [show_first] }`, with CoreDNS's messages.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::pattern;
use plugin_api::{ConfigError, Controller};

use crate::{Level, Pattern};

/// Longest `consolidate` pattern accepted.
pub const MAX_REGEXP_LEN: usize = 10_000;

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Vec<Arc<Pattern>>, ConfigError> {
    let mut patterns = Vec::new();
    while c.next() {
        let args = c.remaining_args();
        match args.as_slice() {
            [] => {}
            [out] if out == "stdout" => {}
            [out] => return Err(c.err(format!("invalid log file: {out}"))),
            _ => return Err(c.arg_err()),
        }
        while c.next_block() {
            match c.val() {
                // Panics are always logged with what is known of them; accepted for CoreDNS
                // Corefiles.
                "stacktrace" => {}
                "consolidate" => patterns.push(Arc::new(parse_consolidate(c)?)),
                other => return Err(c.syntax_err(&format!("Unknown field {other}"))),
            }
        }
    }
    Ok(patterns)
}

fn parse_consolidate(c: &mut Controller) -> Result<Pattern, ConfigError> {
    let args = c.remaining_args();
    if !(2..=4).contains(&args.len()) {
        return Err(c.arg_err());
    }
    let period = parse_go_duration(&args[0]).map_err(|e| c.err(e))?;
    if args[1].len() > MAX_REGEXP_LEN {
        return Err(c.err(format!("regex pattern too long: {} > {MAX_REGEXP_LEN}", args[1].len())));
    }
    let regex =
        pattern::compile(&args[1]).map_err(|e| c.err(format!("error parsing regexp: {e}")))?;
    let mut level = None;
    let mut show_first = false;
    for arg in &args[2..] {
        if let Some(l) = Level::from_name(arg) {
            if level.is_some() {
                return Err(c.err("multiple log levels specified in consolidate"));
            }
            if show_first {
                return Err(c.err("log level must come before show_first in consolidate"));
            }
            level = Some(l);
        } else if arg == "show_first" {
            show_first = true;
        } else {
            return Err(c.err(format!("unknown option in consolidate: {arg}")));
        }
    }
    Ok(Pattern {
        period,
        regex,
        level: level.unwrap_or(Level::Error),
        show_first,
        count: AtomicU32::new(0),
    })
}
