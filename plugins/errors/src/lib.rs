//! *errors*: logs every error the rest of the chain returns, as
//! `[ERROR] plugin/errors: RCODE NAME TYPE: ERROR`, and folds repeated ones into one line.
//!
//! * [`setup::parse`] reads `errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL]
//!   [show_first] }`.
//! * [`Errors`] is the handler. An error matching a `consolidate` pattern is counted instead of
//!   logged; when the pattern's period ends, one line says `N errors like 'REGEXP' occurred in
//!   last DURATION` at the pattern's level. With `show_first`, the first error of a period is
//!   logged at once and the summary only appears when more followed.

pub mod setup;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use plugin_api::pkg::duration::format_go_duration;
use plugin_api::pkg::names::type_name;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Request, Serve};
use regex::Regex;
use setup::parse;

/// The directive's name.
pub const NAME: &str = "errors";

/// The level a consolidated summary is logged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `[ERROR]`
    Error,
    /// `[WARNING]`
    Warning,
    /// `[INFO]`
    Info,
    /// `[DEBUG]`
    Debug,
}

impl Level {
    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "error" => Self::Error,
            "warning" => Self::Warning,
            "info" => Self::Info,
            "debug" => Self::Debug,
            _ => return None,
        })
    }

    fn log(self, line: &str) {
        match self {
            Self::Error => tracing::error!("plugin/errors: {line}"),
            Self::Warning => tracing::warn!("plugin/errors: {line}"),
            Self::Info => tracing::info!("plugin/errors: {line}"),
            Self::Debug => tracing::debug!("plugin/errors: {line}"),
        }
    }
}

/// One `consolidate` line.
#[derive(Debug)]
pub struct Pattern {
    /// How long errors are gathered before the summary.
    pub period: Duration,
    /// What an error's text must match.
    pub regex: Regex,
    /// The summary's level.
    pub level: Level,
    /// Log the first error of a period at once.
    pub show_first: bool,
    /// Errors seen in the current period.
    count: AtomicU32,
}

impl Pattern {
    /// Counts an error; true if it was absorbed (not to be logged on its own). The first error
    /// of a period starts the timer that writes the summary.
    fn absorb(self: &Arc<Self>, stopped: &Arc<AtomicBool>) -> bool {
        if stopped.load(Ordering::Acquire) {
            return false;
        }
        if self.count.fetch_add(1, Ordering::AcqRel) == 0 {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let pattern = self.clone();
                    rt.spawn(async move {
                        tokio::time::sleep(pattern.period).await;
                        pattern.summarize();
                    });
                }
                // No timer without a runtime (unit tests): summarize at once instead.
                Err(_) => self.summarize(),
            }
            return !self.show_first;
        }
        true
    }

    /// Writes the summary of the period that ends and starts a new one.
    fn summarize(&self) {
        if let Some(line) = self.summary() {
            self.level.log(&line);
        }
    }

    /// Ends the period: the summary line of the errors it absorbed, if there is one to write
    /// (none for no errors, nor for a lone error `show_first` already logged).
    fn summary(&self) -> Option<String> {
        let n = self.count.swap(0, Ordering::AcqRel);
        (n > 1 || (n == 1 && !self.show_first)).then(|| {
            let period = format_go_duration(self.period);
            format!("{n} errors like '{}' occurred in last {period}", self.regex.as_str())
        })
    }
}

/// Sets up the handler; on shutdown, pending summaries are written at once.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let errors = Arc::new(Errors { patterns: parse(c)?, stopped: Arc::default() });
    let stopping = errors.clone();
    c.on_shutdown(Box::pin(async move {
        stopping.stopped.store(true, Ordering::Release);
        for p in &stopping.patterns {
            p.summarize();
        }
        Ok(())
    }));
    Ok(Some(Arc::new(Handler(errors))))
}

/// What the *errors* handler knows: the consolidation patterns.
pub struct Errors {
    patterns: Vec<Arc<Pattern>>,
    stopped: Arc<AtomicBool>,
}

/// The *errors* handler, sharing its [`Errors`] with the replies it waits for.
pub struct Handler(Arc<Errors>);

impl Errors {
    /// The line for `err` on `req`, or `None` if a pattern absorbed it; and the level to use.
    pub fn line(&self, req: &Request, err: &PluginError) -> Option<(Level, String)> {
        let text = err.message();
        let mut level = Level::Error;
        if let Some(p) = self.patterns.iter().find(|p| p.regex.is_match(text)) {
            if p.absorb(&self.stopped) {
                return None;
            }
            level = p.level;
        }
        let rcode = u16::from(err.rcode());
        Some((level, format!("{rcode} {} {}: {text}", req.name(), type_name(req.qtype()))))
    }
}

impl Plugin for Handler {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req).map_with(&self.0, req, |errors, req, result| {
            if let Err(e) = &result
                && let Some((level, line)) = errors.line(req, e)
            {
                level.log(&line);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests;
