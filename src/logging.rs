//! Log lines in CoreDNS's shape: `[INFO] message`, `[WARNING] …`, `[ERROR] …`, on standard
//! output, with no timestamp (CoreDNS's Go logger runs with flags 0; Kubernetes adds its own).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats each event as `[LEVEL] message`.
pub struct CorednsFormat;

impl<S, N> FormatEvent<S, N> for CorednsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "[{}] ", level_word(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// CoreDNS's word for a level.
pub fn level_word(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// Sends log lines to standard output at INFO and above. Safe to call more than once.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_writer(std::io::stdout)
        .event_format(CorednsFormat)
        .try_init();
}
