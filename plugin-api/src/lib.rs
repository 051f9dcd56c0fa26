//! `plugin-api`: everything a ferrodns plugin may touch, and nothing else.
//!
//! The server depends on every plugin and every plugin depends only on this crate, so this is
//! the contract between them. Keep it small and stable: a change here ripples to every plugin.
//!
//! * [`Plugin`], [`Next`], [`Serve`], [`Reply`], [`Ctx`] ([`plugin`]): how a query is served,
//!   documented as a contract in the [`plugin`] module.
//! * [`Request`] ([`request`]): the query being served and where it came from.
//! * [`PluginError`] and [`ConfigError`] ([`error`]): failures while serving and while reading
//!   the Corefile, worded as CoreDNS words them.
//! * [`Controller`] and [`SetupFn`] ([`controller`]): what a directive's setup reads its options
//!   from, through the [`corefile::Dispenser`].
//! * [`corefile`]: the Corefile lexer, parser and dispenser.
//! * [`zone`]: zone names, server-block keys, reverse zones from CIDRs.
//! * [`duration`]: Go's duration syntax, which every duration option uses.
//! * [`fall`]: `fallthrough [ZONES...]`.
//! * [`random`]: cheap per-thread randomness for spreading load.
//! * [`names`]: rcode, type, class and flag names exactly as CoreDNS prints them.
//! * [`response`]: sorting replies into CoreDNS's types and classes (log, cache).
//! * [`metrics`]: the process-wide Prometheus registry and CoreDNS's buckets.
//! * [`output`]: per-query log lines, straight to the server's log writer.
//! * [`upstream`]: nested lookups through the block's chain (ExternalName targets).
//! * [`wire`]: replies kept and handed on in wire form (cache hits), patched per query.
//! * [`http`]: HTTP routes plugins ask the server for, and the shutting-down flag.
//! * `test_util` (feature `test-util`): fixed test addresses, `Case` tables, record builders.

#![deny(missing_docs)]

pub mod controller;
pub mod corefile;
pub mod duration;
pub mod error;
pub mod fall;
pub mod http;
pub mod metrics;
pub mod names;
pub mod output;
pub mod plugin;
pub mod random;
pub mod request;
pub mod response;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod upstream;
pub mod wire;
pub mod zone;

pub use controller::{BlockChain, BoundPorts, Controller, Hook, SetupFn, Shared};
pub use error::{ConfigError, PluginError};
pub use plugin::{BoxServe, Chain, Ctx, Next, OwnedNext, Plugin, Reply, Serve, ServeResult};
pub use request::{Proto, Request};

/// The wire codec plugins build replies with, re-exported so every crate uses the same version.
pub use hickory_proto as proto;
