//! Log lines in CoreDNS's shape: `[INFO] message`, `[WARNING] …`, `[ERROR] …`, on standard
//! output, with no timestamp (CoreDNS's Go logger runs with flags 0; Kubernetes adds its own).
//!
//! Lines reach standard output through one writer thread: each line is handed over a channel,
//! and the thread writes whatever has queued up in one system call, flushing as soon as the
//! queue is empty. A quiet server's line is written at once; a busy one (the *log* plugin at
//! a hundred thousand queries a second) writes many lines per call instead of one each, and
//! the writer pauses 2 ms between batches so that senders do not wake it for every line.
//! [`flush`] waits until everything handed over is written; the binary calls it before it
//! exits.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::Duration;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

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

/// How long the writer lets lines gather while they arrive faster than one at a time.
const BUSY_PAUSE: Duration = Duration::from_millis(2);

enum Output {
    Text(Vec<u8>),
    Flush(SyncSender<()>),
}

static SINK: OnceLock<Sender<Output>> = OnceLock::new();

fn sink() -> &'static Sender<Output> {
    SINK.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        // Without the thread (none could be started) lines are dropped; the server still serves.
        let _ = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_out(rx, io::stdout()));
        tx
    })
}

fn write_out(rx: Receiver<Output>, stdout: io::Stdout) {
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    let handle = |o: Output, out: &mut BufWriter<io::Stdout>| match o {
        Output::Text(bytes) => {
            let _ = out.write_all(&bytes);
        }
        Output::Flush(done) => {
            let _ = out.flush();
            let _ = done.send(());
        }
    };
    while let Ok(first) = rx.recv() {
        handle(first, &mut out);
        let mut batch = 1;
        while let Ok(more) = rx.try_recv() {
            handle(more, &mut out);
            batch += 1;
        }
        let _ = out.flush();
        // Busy: let lines pile up for a moment rather than be woken for each one. A sender
        // only pays for a wake-up (a futex call) while this thread waits in `recv`.
        if batch > 1 {
            std::thread::sleep(BUSY_PAUSE);
        }
    }
}

/// One formatted event (tracing writes each event with one `write_all`), through
/// [`plugin_api::pkg::output::raw`] so that it keeps its place among the query log lines of a batch.
struct ChannelWriter;

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        plugin_api::pkg::output::raw(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `text` to standard output in order with the log lines (the start-up banner).
pub fn print(text: &str) {
    write_line(text.as_bytes().to_vec());
}

/// Waits (at most a second) until every line handed over so far is written.
pub fn flush() {
    let (done, written) = mpsc::sync_channel(1);
    if sink().send(Output::Flush(done)).is_ok() {
        let _ = written.recv_timeout(Duration::from_secs(1));
    }
}

fn write_line(bytes: Vec<u8>) {
    let _ = sink().send(Output::Text(bytes));
}

/// The level filter, INFO until *debug* lowers it ([`set_debug`]).
static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

/// Sends log lines to standard output at INFO and above. Safe to call more than once.
pub fn init() {
    plugin_api::server::set_log_writer(write_line);
    let (filter, handle) = reload::Layer::new(LevelFilter::INFO);
    let lines =
        tracing_subscriber::fmt::layer().with_writer(|| ChannelWriter).event_format(CorednsFormat);
    if tracing_subscriber::registry().with(filter).with(lines).try_init().is_ok() {
        let _ = LEVEL.set(handle);
    }
}

/// Logs debug lines too, from now on: a block uses *debug* (process-wide and lasting, as
/// CoreDNS's `log.D.Set`). Changing the filter rebuilds tracing's interest cache, so until then
/// a debug call site costs what a disabled one does.
pub fn set_debug() {
    if let Some(handle) = LEVEL.get() {
        let _ = handle.modify(|level| *level = LevelFilter::DEBUG);
    }
}
