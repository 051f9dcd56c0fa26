//! *debug*: a panic while serving a query ends the process with the panic's message instead of
//! being answered SERVFAIL, and debug-level lines are logged (CoreDNS 1.14.7's `plugin/debug`).
//!
//! * [`setup`] reads `debug`, which takes no arguments, and marks the block in the
//!   configuration's shared state ([`Blocks`]). The plugin adds nothing to the chain: the
//!   server reads the mark when it builds the block's listener (a listener with one debugging
//!   block stops recovering for all of them, as a CoreDNS server does) and turns debug logging
//!   on for the process, as CoreDNS's `log.D.Set` does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use plugin_api::{ConfigError, Controller, Plugin};

/// The directive's name.
pub const NAME: &str = "debug";

/// The blocks that use *debug*, by block index.
#[derive(Default)]
pub struct Blocks(pub Mutex<HashSet<usize>>);

impl Blocks {
    /// True if block `index` uses *debug*.
    pub fn has(&self, index: usize) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(&index)
    }

    /// True if any block does.
    pub fn any(&self) -> bool {
        !self.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}

/// Marks the block.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    while c.next() {
        if c.next_arg() {
            return Err(c.arg_err().in_plugin(NAME));
        }
    }
    let blocks = c.shared::<Blocks>();
    blocks.0.lock().unwrap_or_else(|e| e.into_inner()).insert(c.block_index());
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
