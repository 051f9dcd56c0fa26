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
//! * [`cli`]: CoreDNS's flags. [`source`]: finding the Corefile (`-conf`, `./Corefile`, the
//!   built-in default).
//! * [`directives`]: every directive in chain order. [`config`]: blocks → zones → listeners.
//! * [`server`]: sockets, the UDP and TCP loops, the per-listener dispatcher, wire rules.
//! * [`logging`]: `[INFO] …` log lines. [`version`]: the version and banner text.

pub mod cli;
pub mod config;
pub mod directives;
pub mod logging;
pub mod server;
pub mod source;
pub mod version;

use std::net::SocketAddr;
use std::time::Duration;

use config::{Config, Source};
use server::Servers;

/// How long a stop waits for queries and connections in progress (CoreDNS's 5 s grace).
pub const GRACE: Duration = Duration::from_secs(5);

/// A running configuration.
pub struct Instance {
    source: Source,
    /// `None` once stopped.
    servers: Option<Servers>,
    banner: String,
    on_shutdown: Vec<plugin_api::Hook>,
}

/// The number of UDP sockets (and worker threads) to use: one per available core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Instance {
    /// Loads `source`, binds its listeners and runs the plugins' start-up hooks. Must be called
    /// inside a Tokio runtime. The error is what CoreDNS would print before exiting 1.
    pub async fn start(source: Source) -> Result<Self, String> {
        let config = config::load(&source, &|w| tracing::warn!("{}", strip_level(w)))
            .map_err(|e| e.to_string())?;
        let servers = Servers::bind(&config, workers()).map_err(|e| e.to_string())?;
        let banner = version::banner(&config, &servers);
        let Config { on_startup, on_shutdown, .. } = config;
        for hook in on_startup {
            hook()?;
        }
        Ok(Self { source, servers: Some(servers), banner, on_shutdown })
    }

    /// Starts a Corefile given as text, named `Corefile`, with `-dns.port` 0: for tests.
    pub async fn start_text(corefile: &str) -> Result<Self, String> {
        Self::start(Source {
            filename: "Corefile".into(),
            text: corefile.into(),
            path: None,
            dns_port: "0".into(),
        })
        .await
    }

    /// The addresses the listeners are bound to, in configuration order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().flat_map(|s| s.bound.iter().map(|b| b.addr)).collect()
    }

    /// The first listener's address, on loopback: where a test sends its queries.
    pub fn dns_addr(&self) -> SocketAddr {
        let port = self.addrs().first().map_or(0, SocketAddr::port);
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The start-up lines: zones with ports, then the version.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Where this configuration came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Runs the shutdown hooks and returns their errors, as CoreDNS's shutdown callbacks do.
    pub fn run_shutdown_hooks(&mut self) -> Vec<String> {
        std::mem::take(&mut self.on_shutdown).into_iter().filter_map(|h| h().err()).collect()
    }

    /// Reads the Corefile again and moves to it: the new configuration is built completely
    /// before anything changes, then the listeners that stay get it in one swap (their sockets
    /// stay open, so no query is lost). If anything fails, the running configuration stays.
    pub async fn reload(&mut self) -> Result<(), String> {
        let source = source::reread(&self.source)?;
        let config = config::load(&source, &|w| tracing::warn!("{}", strip_level(w)))
            .map_err(|e| e.to_string())?;
        let servers = self.servers.as_mut().ok_or("the server is stopping")?;
        servers.apply(&config, workers()).map_err(|e| e.to_string())?;
        self.banner = version::banner(&config, servers);
        let Config { on_startup, on_shutdown, .. } = config;
        for err in self.run_shutdown_hooks() {
            tracing::error!("reload shutdown: {err}");
        }
        self.on_shutdown = on_shutdown;
        for hook in on_startup {
            hook()?;
        }
        self.source = source;
        Ok(())
    }

    /// Stops serving: no new queries, those in progress get up to [`GRACE`] to finish. The
    /// shutdown hooks run first if they have not run yet.
    pub async fn stop(&mut self) {
        for err in self.run_shutdown_hooks() {
            tracing::error!("shutdown: {err}");
        }
        if let Some(servers) = self.servers.take() {
            servers.stop(GRACE).await;
        }
    }
}

/// The parser's warnings carry their own `[WARNING] ` prefix; the log line adds it again.
fn strip_level(w: &str) -> &str {
    w.strip_prefix("[WARNING] ").unwrap_or(w)
}
