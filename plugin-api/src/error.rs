//! The two kinds of error a plugin deals in: [`ConfigError`] while its Corefile lines are read,
//! [`PluginError`] while it serves a query.

use std::borrow::Cow;
use std::fmt;

use hickory_proto::op::ResponseCode;

/// A configuration error, already worded for the operator: `Corefile:3 - Error during parsing:
/// …`, or with the plugin prefix added, `plugin/forward: Corefile:3 - …`. CoreDNS's wording is
/// kept because runbooks and searches depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// An error with exactly this text.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// Prefixes the error with `plugin/<name>: `, as CoreDNS's `plugin.Error` does. An error that
    /// already carries a prefix keeps it.
    pub fn in_plugin(self, name: &str) -> Self {
        if self.message.starts_with("plugin/") {
            return self;
        }
        Self { message: format!("plugin/{name}: {}", self.message) }
    }

    /// The text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A failure while serving a query. Nothing has been written for the client: the server answers
/// with [`PluginError::rcode`] (SERVFAIL unless the plugin said otherwise), and the *errors*
/// plugin, where configured, logs the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    rcode: ResponseCode,
    message: Cow<'static, str>,
}

impl PluginError {
    /// A failure answered with `rcode`.
    pub fn new(rcode: ResponseCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { rcode, message: message.into() }
    }

    /// A failure answered with SERVFAIL.
    pub fn servfail(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ResponseCode::ServFail, message)
    }

    /// What a plugin gets when it passes a query on and no plugin follows it:
    /// `plugin/<name>: no next plugin found`, answered SERVFAIL (CoreDNS's `NextOrFailure`).
    pub fn no_next(name: &str) -> Self {
        Self::servfail(format!("plugin/{name}: no next plugin found"))
    }

    /// The rcode the server answers with.
    pub fn rcode(&self) -> ResponseCode {
        self.rcode
    }

    /// The text, as the *errors* plugin logs it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}
