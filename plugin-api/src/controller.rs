//! [`Controller`]: what a directive's setup function is handed for one server block.
//!
//! It is a [`Dispenser`] over every occurrence of the directive in the block (it derefs to one),
//! plus the facts about the block a plugin needs while it reads its options: the block's zones,
//! and hooks to run when the server starts and stops.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::corefile::Dispenser;
use crate::{ConfigError, Plugin};

/// A directive's setup: reads its tokens from the controller and returns the plugin to put in
/// the block's chain, or `None` for a directive that only configures the server (like `health`
/// or `reload`). Errors carry file:line; the server adds the `plugin/<name>: ` prefix.
pub type SetupFn = fn(&mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError>;

/// A hook run once the servers are up, or when they stop.
pub type Hook = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// The setup context of one directive in one server block.
pub struct Controller {
    dispenser: Dispenser,
    zones: Vec<String>,
    block_index: usize,
    on_startup: Vec<Hook>,
    on_shutdown: Vec<Hook>,
}

impl Controller {
    /// A controller over `dispenser` for server block number `block_index`, whose keys name
    /// `zones` (normalised: lower-case, fully qualified).
    pub fn new(dispenser: Dispenser, zones: Vec<String>, block_index: usize) -> Self {
        Self { dispenser, zones, block_index, on_startup: Vec::new(), on_shutdown: Vec::new() }
    }

    /// A controller over the tokens of `input`, for the zone `.`, named `Testfile` in errors,
    /// the way CoreDNS's `caddy.NewTestController` is used in setup tests.
    pub fn from_text(input: &str) -> Self {
        Self::new(Dispenser::from_text(input), vec![".".to_string()], 0)
    }

    /// The zones of the server block, in key order, normalised.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// The index of the server block in the Corefile, counting from 0.
    pub fn block_index(&self) -> usize {
        self.block_index
    }

    /// Runs `hook` once every server has started; an error stops the start-up.
    pub fn on_startup(&mut self, hook: Hook) {
        self.on_startup.push(hook);
    }

    /// Runs `hook` when the server stops (or, on reload, when this configuration is replaced).
    pub fn on_shutdown(&mut self, hook: Hook) {
        self.on_shutdown.push(hook);
    }

    /// Takes the hooks registered so far: (startup, shutdown).
    pub fn take_hooks(&mut self) -> (Vec<Hook>, Vec<Hook>) {
        (std::mem::take(&mut self.on_startup), std::mem::take(&mut self.on_shutdown))
    }

    /// The error CoreDNS gives when a once-per-block plugin appears again.
    pub fn once_err(&self) -> ConfigError {
        self.dispenser.err("this plugin can only be used once per Server Block")
    }
}

impl Deref for Controller {
    type Target = Dispenser;
    fn deref(&self) -> &Dispenser {
        &self.dispenser
    }
}

impl DerefMut for Controller {
    fn deref_mut(&mut self) -> &mut Dispenser {
        &mut self.dispenser
    }
}
