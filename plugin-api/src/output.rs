//! Per-query log lines (the *log* plugin's), handed straight to the server's log writer.
//!
//! Every other message goes through `tracing`. A query log line is written once per query, so
//! at a hundred thousand queries a second tracing's field formatting and escaping cost more
//! than the line itself; the server registers its writer here ([`set_writer`]) and a line goes
//! to it as `[INFO] LINE` with no further formatting. Without a writer (in tests), lines go to
//! `tracing` as before.

use std::sync::OnceLock;

/// Takes one complete output line, newline included.
pub type Writer = fn(Vec<u8>);

static WRITER: OnceLock<Writer> = OnceLock::new();

/// Registers the process's writer; the first registration wins.
pub fn set_writer(writer: Writer) {
    let _ = WRITER.set(writer);
}

/// Writes `[INFO] line`.
pub fn info_line(line: &str) {
    match WRITER.get() {
        Some(write) => {
            let mut bytes = Vec::with_capacity(line.len() + 8);
            bytes.extend_from_slice(b"[INFO] ");
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            write(bytes);
        }
        None => tracing::info!("{line}"),
    }
}
