//! *debug*: a panic while serving a query ends the process with the panic's message instead of
//! being answered SERVFAIL, and debug-level lines are logged (CoreDNS 1.14.7's `plugin/debug`).
//!
//! * [`setup`] reads `debug`, which takes no arguments, and marks the block in the
//!   configuration's shared state (`PerBlock<Debug>`). The plugin adds nothing to the chain: the
//!   server reads the mark when it builds the block's listener (a listener with one debugging
//!   block stops recovering for all of them, as a CoreDNS server does) and turns debug logging
//!   on for the process, as CoreDNS's `log.D.Set` does.

use std::sync::Arc;

use plugin_api::{ConfigError, Controller, Plugin};

/// The directive's name.
pub const NAME: &str = "debug";

/// The mark a block that uses *debug* gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debug;

/// Marks the block.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    while c.next() {
        if c.next_arg() {
            return Err(c.arg_err().in_plugin(NAME));
        }
    }
    c.set_for_block(Debug);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_no_arguments() {
        // CoreDNS's debug_test.go: `debug` loads, `debug yes` does not.
        assert!(setup(&mut Controller::from_text("debug")).is_ok());
        let e = setup(&mut Controller::from_text("debug yes")).err().expect("refused").to_string();
        assert_eq!(
            e,
            "plugin/debug: Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'yes'"
        );
    }
}
