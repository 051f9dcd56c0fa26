//! `plugin-api`: everything a ferrodns plugin may touch, and nothing else.
//!
//! The server depends on every plugin and every plugin depends only on this crate, so this is
//! the contract between them. Keep it small and stable: a change here ripples to every plugin.
//!
//! The crate root is what a plugin author must learn:
//!
//! * [`Plugin`], [`Next`], [`Serve`], [`Reply`], [`Ctx`] ([`plugin`]): how a query is served,
//!   documented as a contract in the [`plugin`] module.
//! * [`Request`] ([`request`]): the query being served and where it came from, and its
//!   [`Meta`]data ([`metadata`]): labels plugins publish for the others before the chain runs.
//! * [`Controller`] and [`Dispenser`] ([`controller`], [`corefile`]): what a directive's setup
//!   reads its options from, and what it registers (HTTP routes, hooks, background tasks).
//! * [`PluginError`] and [`ConfigError`] ([`error`]): failures while serving and while reading
//!   the Corefile, worded as CoreDNS words them.
//!
//! Beyond it:
//!
//! * [`pkg`]: shared helpers (zones, `fallthrough`, durations, wire replies, metrics, log
//!   lines, nested lookups), CoreDNS's `plugin/pkg/*`.
//! * [`corefile`]: the Corefile lexer and parser, which the server reads the file with.
//! * [`server`]: **server only**, the hooks the receive loops call; never from a plugin.
//! * `test_util` (feature `test-util`): fixed test addresses, a next plugin answering in both
//!   reply forms, `Case` tables, record builders, a scratch folder for files a plugin reads.

#![deny(missing_docs)]

pub mod controller;
pub mod corefile;
pub mod error;
pub mod metadata;
pub mod pkg;
pub mod plugin;
pub mod request;
pub mod server;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use controller::{BlockChain, BoundAddrs, Controller, Hook, PerBlock, SetupFn, Shared};
pub use corefile::Dispenser;
pub use error::{ConfigError, PluginError};
pub use metadata::Meta;
pub use plugin::{BoxServe, Chain, Ctx, Next, OwnedNext, Plugin, Reply, Serve, ServeResult};
pub use request::{Proto, Request};

/// The wire codec plugins build replies with, re-exported so every crate uses the same version.
pub use hickory_proto as proto;

/// The CoreDNS release whose behaviour and directive table ferrodns follows: `-version`, the
/// banner, `coredns_build_info` and *chaos*'s default version report it, so that tooling written
/// for CoreDNS keeps working.
pub const COREDNS_VERSION: &str = "1.14.7";
