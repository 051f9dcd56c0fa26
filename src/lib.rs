//! ferrodns: a DNS server that takes CoreDNS's place in a Kubernetes cluster, with the same
//! command line, Corefile, answers, metrics and log lines.
//!
//! The main type is [`Instance`]: a loaded Corefile, its plugins set up and its listeners
//! serving. How a query travels:
//!
//! ```text
//! Corefile ─▶ config::load (parse, set up each block's directives in DIRECTIVES order)
//!          ─▶ server::Servers::bind (UDP + TCP per listen address)
//!          ─▶ server::mux::Mux::serve_packet (zone → block → plugin chain → reply fitted to client)
//! ```
//!
//! * [`instance`]: [`Instance`], a running configuration: start, reload, stop.
//! * [`cli`]: CoreDNS's flags. [`source`]: finding the Corefile (`-conf`, `./Corefile`, the
//!   built-in default).
//! * [`directives`]: every directive in chain order. [`config`]: blocks → zones → listeners.
//! * [`server`]: sockets, the UDP and TCP loops, the per-listener dispatcher, wire rules.
//! * [`http`]: the listeners behind `/metrics`, `/health` and `/ready`.
//! * [`logging`]: `[INFO] …` log lines. [`version`]: the version and banner text.
//! * [`fuzzing`]: the properties the fuzz targets check, shared with the regression tests.

pub mod cli;
pub mod config;
pub mod directives;
pub mod fuzzing;
pub mod http;
pub mod instance;
pub mod logging;
pub mod server;
pub mod source;
pub mod version;

pub use instance::{GRACE, Instance, workers};
