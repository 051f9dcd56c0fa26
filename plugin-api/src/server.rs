//! **Server only.** The hooks through which the server drives the per-query machinery it shares
//! with plugins. A plugin must never call anything here: each item assumes it is called by the
//! server's receive loops, at the point they document, and calling one from a plugin would
//! corrupt another query's state or the process's output.
//!
//! * [`decode`](mod@decode): which packets are queries, and [`read_query`], which reads one into the
//!   thread's reused [`crate::Request`].
//! * [`recycle_buffer`]: a sent reply's buffer handed back for the next wire reply.
//! * [`set_log_writer`] and [`log_batch`]: where per-query log lines go, and gathering a
//!   batch's lines into one write.
//! * [`set_shutting_down`]: the stop has begun (`/ready` answers 503 from then on).
//! * [`metrics`]: the `coredns_dns_*` families the server counts every query in.

pub mod decode;
pub mod metrics;

pub use decode::{Accepted, Decoded, decode, read_query};

/// Gives a buffer whose reply went out back to this thread, for the next wire reply to write
/// into; called when the server puts a `WireReply`'s bytes in place of the ones it sent before.
/// With it, a query answered from memory allocates no reply buffer.
pub fn recycle_buffer(buf: Vec<u8>) {
    crate::pkg::wire::recycle_buffer(buf);
}

/// An empty buffer with room for `capacity` octets, this thread's spare if it has one (the one
/// [`recycle_buffer`] gave back): a reply written after a wait (a cache miss, on a runtime
/// thread) allocates none either.
pub fn reply_buffer(capacity: usize) -> Vec<u8> {
    crate::pkg::wire::reply_buffer(capacity)
}

/// Takes one complete log line, newline included.
pub type LogWriter = fn(Vec<u8>);

/// Registers the process's writer for per-query log lines; the first registration wins. Until
/// one is registered (in tests), lines go to `tracing`.
pub fn set_log_writer(writer: LogWriter) {
    crate::pkg::output::set_writer(writer);
}

/// Runs `f`, a batch of queries served on this thread, gathering the log lines written meanwhile
/// and handing them to the writer together when it ends: one allocation and one channel message
/// per batch instead of per query.
pub fn log_batch<R>(f: impl FnOnce() -> R) -> R {
    crate::pkg::output::batch(f)
}

/// Marks that a stop has begun (on SIGTERM and SIGINT), before the shutdown hooks run.
pub fn set_shutting_down() {
    crate::pkg::http::set_shutting_down();
}
