//! *shed* (CoreDNS 1.14.7's `plugin/shed`): in CoreDNS it puts one writer on each UDP socket
//! with a bounded stack of replies, drops the oldest when the socket cannot keep up, and drops
//! queries while the stack is full, so that Go's limit on waiters for one socket can never end
//! the process. ferrodns writes each socket's replies from the worker that read them, in
//! batches, and drops what a full send buffer will not take after a short wait: that bound is
//! always there. *shed* marks the block so that those drops are counted as CoreDNS counts its
//! own, in `coredns_shed_dropped_total{server, reason="response"}` ([`DROPPED`]).
//!
//! * [`setup`] reads `shed`, which takes no arguments and no block, once per block, in plain
//!   DNS blocks only, with CoreDNS's words; it adds nothing to the chain.

use std::sync::{Arc, LazyLock};

use plugin_api::pkg::metrics::register;
use plugin_api::{ConfigError, Controller, Plugin};
use prometheus::{IntCounterVec, Opts};

/// The directive's name.
pub const NAME: &str = "shed";

/// `coredns_shed_dropped_total{server, reason}`: replies dropped at the write boundary
/// (`response`). ferrodns never drops a query before the chain, so `query` stays at zero.
pub static DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("dropped_total", "Counter of queries and responses dropped by shed.")
        .namespace("coredns")
        .subsystem("shed");
    register(IntCounterVec::new(opts, &["server", "reason"]).expect("valid metric"))
});

/// The mark a block that uses *shed* gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed;

/// Marks the block (CoreDNS's `setup` and `parse`).
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    // ferrodns serves only dns:// today; the check stands for when it serves more.
    for (zone, server) in c.servers() {
        let transport = server.split_once("://").map_or("dns", |(scheme, _)| scheme);
        if transport != "dns" {
            let message = format!(
                "only plain DNS server blocks are supported; {zone:?} uses transport {transport:?}"
            );
            return Err(c.err(message).in_plugin(NAME));
        }
    }
    // Once per block: the directive table says so, and the server refuses a second.
    while c.next() {
        if !c.remaining_args().is_empty() {
            return Err(c.arg_err().in_plugin(NAME));
        }
        if c.next_block() {
            return Err(c.err("shed takes no options").in_plugin(NAME));
        }
    }
    LazyLock::force(&DROPPED);
    c.set_for_block(Shed);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_up(text: &str) -> Result<(), String> {
        setup(&mut Controller::from_text(text)).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn setup_table() {
        // CoreDNS's setup_test.go: no arguments, no options (once per block is the
        // directive table's, tested with it).
        assert_eq!(set_up("shed"), Ok(()));
        let e = set_up("shed 1").unwrap_err();
        assert!(
            e.starts_with("plugin/shed: Testfile:1 - Error during parsing: Wrong argument count"),
            "{e}"
        );
        let e = set_up("shed {\n depth 10\n}").unwrap_err();
        assert!(e.ends_with("shed takes no options"), "{e}");
    }
}
