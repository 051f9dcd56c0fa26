//! Per-query log lines (the *log* plugin's), handed straight to the server's log writer.
//!
//! Every other message goes through `tracing`. A query log line is written once per query, so
//! at a hundred thousand queries a second tracing's field formatting and escaping cost more
//! than the line itself; the server registers its writer ([`crate::server::set_log_writer`])
//! and a line goes to it as `[INFO] LINE` with no further formatting. Without a writer (in
//! tests), lines go to `tracing` as before.
//!
//! A loop that serves queries in batches wraps each batch in [`crate::server::log_batch`]: the
//! lines written meanwhile on that thread are gathered and handed over together when the batch
//! ends, one allocation and one channel message per batch instead of per query.

use std::cell::RefCell;
use std::sync::OnceLock;

/// The room a batch's buffer gets at its first line: about 32 lines of the common format.
const BATCH_ROOM: usize = 4096;

/// Takes one complete output line, newline included.
pub(crate) type Writer = fn(Vec<u8>);

static WRITER: OnceLock<Writer> = OnceLock::new();

/// Registers the process's writer; the first registration wins.
pub(crate) fn set_writer(writer: Writer) {
    let _ = WRITER.set(writer);
}

thread_local! {
    /// The lines of the batch this thread is in, if it is in one.
    static PENDING: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    /// What else runs when the batch ends ([`at_batch_end`]).
    static AT_END: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is serving a batch of queries (inside [`crate::server::log_batch`]).
pub fn in_batch() -> bool {
    PENDING.with(|p| p.borrow().is_some())
}

/// Runs `f` when the batch this thread is serving ends, as the batch's log lines are written
/// then: for output gathered per batch rather than sent per query (*dnstap*'s messages). Gives
/// `f` back when the thread is not in a batch.
pub fn at_batch_end(f: Box<dyn FnOnce()>) -> Result<(), Box<dyn FnOnce()>> {
    if !in_batch() {
        return Err(f);
    }
    AT_END.with(|a| a.borrow_mut().push(f));
    Ok(())
}

/// Writes `[INFO] line`, at the end of the current batch if there is one.
pub fn info_line(line: &str) {
    if WRITER.get().is_none() {
        tracing::info!("{line}");
        return;
    }
    emit(line.len() + 8, |bytes| {
        bytes.extend_from_slice(b"[INFO] ");
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    });
}

/// Writes `[INFO] ` and what `write_line` appends (without a newline) as one line, at the end of
/// the current batch if there is one: the line is written straight into the batch's buffer,
/// not formatted elsewhere and copied. `len` is a guess of the line's length, for a buffer's
/// first room.
pub fn info_line_with(len: usize, write_line: impl FnOnce(&mut Vec<u8>)) {
    if WRITER.get().is_none() {
        let mut line = Vec::with_capacity(len);
        write_line(&mut line);
        tracing::info!("{}", String::from_utf8_lossy(&line));
        return;
    }
    emit(len + 8, |bytes| {
        bytes.extend_from_slice(b"[INFO] ");
        write_line(bytes);
        bytes.push(b'\n');
    });
}

/// Writes `bytes` (whole lines, already formatted) through the registered writer, at the end of
/// the current batch if there is one: the server's other log output goes this way too, so that
/// the lines of one thread keep their order. Without a writer, nothing is written.
pub fn raw(bytes: &[u8]) {
    emit(bytes.len(), |out| out.extend_from_slice(bytes));
}

/// Appends what `write_into` writes to this thread's batch, or hands it to the writer now when
/// there is no batch.
fn emit(len: usize, write_into: impl FnOnce(&mut Vec<u8>)) {
    let Some(write) = WRITER.get() else { return };
    // The batch's buffer is taken out while written to, so no borrow is held meanwhile.
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(mut pending) => {
            // A batch's buffer starts empty (a batch without lines costs nothing) and gets
            // room for a batch of lines at its first, rather than doubling its way there.
            if pending.capacity() == 0 {
                pending.reserve(BATCH_ROOM.max(len));
            }
            write_into(&mut pending);
            PENDING.with(|p| *p.borrow_mut() = Some(pending));
        }
        None => {
            let mut bytes = Vec::with_capacity(len);
            write_into(&mut bytes);
            write(bytes);
        }
    }
}

/// Runs `f`, gathering the lines it writes on this thread, and writes them when it returns.
/// Nested calls join the outer batch.
pub(crate) fn batch<R>(f: impl FnOnce() -> R) -> R {
    let outer = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let outer = p.is_some();
        if !outer {
            *p = Some(Vec::new());
        }
        outer
    });
    // Written even if `f` unwinds, so no line is lost with the panic.
    struct Flush(bool);
    impl Drop for Flush {
        fn drop(&mut self) {
            if self.0 {
                return;
            }
            let lines = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
            if let (false, Some(write)) = (lines.is_empty(), WRITER.get()) {
                write(lines);
            }
            // Taken out first: a callback may itself ask for the batch's state.
            let at_end = AT_END.with(|a| std::mem::take(&mut *a.borrow_mut()));
            for f in at_end {
                f();
            }
        }
    }
    let _flush = Flush(outer);
    f()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    static WRITTEN: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

    fn record(bytes: Vec<u8>) {
        WRITTEN.lock().unwrap().push(bytes);
    }

    fn written() -> Vec<String> {
        WRITTEN.lock().unwrap().drain(..).map(|b| String::from_utf8(b).unwrap()).collect()
    }

    #[test]
    fn lines_of_a_batch_are_written_together_when_it_ends() {
        set_writer(record);
        written();
        info_line("alone");
        assert_eq!(written(), ["[INFO] alone\n"]);
        batch(|| {
            info_line("a");
            batch(|| info_line("b"));
            assert!(written().is_empty(), "nothing before the outer batch ends");
        });
        assert_eq!(written(), ["[INFO] a\n[INFO] b\n"]);
        // Other output written in a batch keeps its place among the lines.
        batch(|| {
            info_line("first");
            raw(b"[ERROR] second\n");
        });
        assert_eq!(written(), ["[INFO] first\n[ERROR] second\n"]);
        let unwound = std::panic::catch_unwind(|| {
            batch(|| {
                info_line("before the panic");
                panic!("boom");
            })
        });
        assert!(unwound.is_err());
        assert_eq!(written(), ["[INFO] before the panic\n"]);
        batch(|| {});
        assert!(written().is_empty(), "an empty batch writes nothing");
    }
}
