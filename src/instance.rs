//! [`Instance`]: one running configuration, from loading the Corefile to the last query of a
//! stop: start, reload (SIGUSR1 or the *reload* plugin's check), stop with CoreDNS's grace, and
//! the number of workers to run.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{self, Config, Source};
use crate::http;
use crate::server::Servers;
use crate::{source, version};

/// How long a stop waits for queries and connections in progress (CoreDNS's 5 s grace).
pub const GRACE: Duration = Duration::from_secs(5);

/// A running configuration.
pub struct Instance {
    source: Source,
    /// `None` once stopped.
    servers: Option<Servers>,
    http: http::HttpServers,
    banner: String,
    /// How often the *reload* plugin wants the Corefile checked; `None` without it.
    reload_every: Option<Duration>,
    /// The fingerprint of the running configuration.
    fingerprint: String,
    /// True while the Corefile cannot be read (said once, not at every check).
    corefile_unreadable: bool,
    on_shutdown: Vec<plugin_api::Hook>,
}

/// The number of UDP workers per listener (and runtime threads) to use: `GOMAXPROCS` when it is
/// set to a positive number, as CoreDNS's Go runtime would honour it, else one per core this
/// process may use (the standard library reads the cgroup CPU quota, as CoreDNS's automaxprocs
/// does).
pub fn workers() -> usize {
    workers_from(std::env::var("GOMAXPROCS").ok().as_deref())
}

fn workers_from(gomaxprocs: Option<&str>) -> usize {
    gomaxprocs
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

impl Instance {
    /// Loads `source`, binds its listeners and runs the plugins' start-up hooks. Must be called
    /// inside a Tokio runtime. The error is what CoreDNS would print before exiting 1.
    pub async fn start(source: Source) -> Result<Self, String> {
        let config = config::load(&source, &|w| tracing::warn!("{}", strip_level(w)))
            .map_err(|e| e.to_string())?;
        let servers = Servers::bind(&config, workers()).map_err(|e| e.to_string())?;
        record_ports(&config, &servers);
        let mut http = http::HttpServers::default();
        http.apply(&config.routes).map_err(|e| e.to_string())?;
        record_addresses(&config, &http_addresses(&config, &http));
        let banner = version::banner(&config, &servers);
        plugin_api::server::metrics::BUILD_INFO
            .with_label_values(&[version::COREDNS_VERSION, version::COMMIT, version::RUSTC])
            .set(1.0);
        let reload_every = reload_period(&config);
        if config.shared.get::<plugin_api::PerBlock<plugin_debug::Debug>>().any() {
            crate::logging::set_debug();
        }
        let Config { on_startup, on_shutdown, fingerprint, .. } = config;
        for hook in on_startup {
            hook.await?;
        }
        if reload_every.is_some() {
            announce(&fingerprint);
        }
        Ok(Self {
            source,
            servers: Some(servers),
            http,
            banner,
            on_shutdown,
            reload_every,
            fingerprint,
            corefile_unreadable: false,
        })
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

    /// The first listener's address, on loopback when it is the wildcard: where a test sends
    /// its queries.
    pub fn dns_addr(&self) -> SocketAddr {
        match self.addrs().first() {
            Some(addr) if !addr.ip().is_unspecified() => *addr,
            first => SocketAddr::from(([127, 0, 0, 1], first.map_or(0, SocketAddr::port))),
        }
    }

    /// The start-up lines: zones with ports, then the version.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Where this configuration came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The bound address of the HTTP listener the Corefile wrote as `addr` (e.g. `:0`).
    pub fn http_addr(&self, addr: &str) -> Option<SocketAddr> {
        self.http.bound(addr)
    }

    /// Runs the shutdown hooks (a *health* lameduck waits here, still serving) and returns their
    /// errors, as CoreDNS's shutdown callbacks do.
    pub async fn run_shutdown_hooks(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        for hook in std::mem::take(&mut self.on_shutdown) {
            if let Err(e) = hook.await {
                errors.push(e);
            }
        }
        errors
    }

    /// Reads the Corefile again and moves to it (see [`Instance::switch_to`]).
    pub async fn reload(&mut self) -> Result<(), String> {
        let source = source::reread(&self.source)?;
        let config = config::load(&source, &|w| tracing::warn!("{}", strip_level(w)))
            .map_err(|e| e.to_string())?;
        self.switch_to(source, config).await
    }

    /// Moves to `config`, loaded from `source`. The new configuration is built completely
    /// before anything changes, then the listeners that stay get it in one swap (their sockets
    /// stay open, so no query is lost). If anything fails (a port taken, an HTTP address taken,
    /// a start-up hook), the running configuration stays as it was: the new ports are let go and
    /// the new plugins' shutdown hooks run.
    ///
    /// [`Instance::reload`] is this with the Corefile read again; it is public on its own so that
    /// a test can add hooks to a loaded configuration.
    pub async fn switch_to(&mut self, source: Source, config: Config) -> Result<(), String> {
        let servers = self.servers.as_mut().ok_or("the server is stopping")?;
        // Bind what is new and start the new plugins (a kubernetes index syncs here) while the
        // running configuration still answers every query.
        let staged = servers.stage(&config, workers()).map_err(|e| e.to_string())?;
        record_addresses(&config, &servers.addresses(Some(&staged)));
        if let Err(e) = self.http.apply(&config.routes) {
            staged.discard();
            return Err(e.to_string());
        }
        record_addresses(&config, &http_addresses(&config, &self.http));
        let Config { on_startup, on_shutdown, fingerprint, listeners, shared, .. } = config;
        // The new *prometheus* hooks fill `coredns_plugin_enabled` afresh; a failed start puts
        // back the running configuration's series, as CoreDNS's OnRestartFailed does.
        let enabled_before = plugin_enabled_series();
        plugin_api::server::metrics::PLUGIN_ENABLED.reset();
        for hook in on_startup {
            if let Err(e) = hook.await {
                staged.discard();
                for hook in on_shutdown {
                    let _ = hook.await;
                }
                restore_plugin_enabled(&enabled_before);
                return Err(e);
            }
        }
        // Now the swap, then the old plugins stop.
        let config = Config {
            listeners,
            on_startup: Vec::new(),
            on_shutdown: Vec::new(),
            routes: Vec::new(),
            shared,
            fingerprint: String::new(),
        };
        let servers = self.servers.as_mut().ok_or("the server is stopping")?;
        servers.commit(staged, &config);
        if config.shared.get::<plugin_api::PerBlock<plugin_debug::Debug>>().any() {
            crate::logging::set_debug();
        }
        self.banner = version::banner(&config, servers);
        self.reload_every = reload_period(&config);
        for err in self.run_shutdown_hooks().await {
            tracing::error!("reload shutdown: {err}");
        }
        self.on_shutdown = on_shutdown;
        self.source = source;
        if self.reload_every.is_some() {
            announce(&fingerprint);
        }
        self.fingerprint = fingerprint;
        Ok(())
    }

    /// How often the Corefile is to be checked for changes (the *reload* plugin), if at all.
    pub fn reload_every(&self) -> Option<Duration> {
        self.reload_every
    }

    /// The *reload* plugin's check: reads the Corefile again and, if its parsed tokens changed,
    /// moves to it. A file that does not parse is a warning; a configuration that fails to start
    /// is logged and counted, keeps the running one, and is not tried again until the file
    /// changes again (CoreDNS's rules).
    ///
    /// Beyond CoreDNS, which says nothing: a Corefile that cannot be read (a ConfigMap being
    /// replaced, a file deleted) is a warning when it happens and a note when it is back.
    pub async fn check_reload(&mut self) {
        let source = match source::reread(&self.source) {
            Ok(source) => source,
            Err(e) => {
                if !self.corefile_unreadable {
                    tracing::warn!(
                        "plugin/reload: Corefile unreadable, the running configuration stays: {e}"
                    );
                    self.corefile_unreadable = true;
                }
                return;
            }
        };
        if std::mem::take(&mut self.corefile_unreadable) {
            tracing::info!("plugin/reload: Corefile readable again");
        }
        let fingerprint = match config::parse_fingerprint(&source, &|_| {}) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("plugin/reload: Corefile parse failed: {e}");
                return;
            }
        };
        if fingerprint == self.fingerprint {
            return;
        }
        let info = &plugin_reload::metrics::VERSION_INFO;
        let _ = info.remove_label_values(&["sha512", &self.fingerprint]);
        info.with_label_values(&["sha512", &fingerprint]).set(1);
        self.fingerprint = fingerprint;
        tracing::info!("Reloading");
        match self.reload().await {
            Ok(()) => tracing::info!("Reloading complete"),
            Err(e) => {
                tracing::error!("plugin/reload: Corefile changed but reload failed: {e}");
                plugin_reload::metrics::RELOAD_FAILED.inc();
            }
        }
    }

    /// Stops serving: no new queries, those in progress get up to [`GRACE`] to finish. The
    /// shutdown hooks run first if they have not run yet.
    pub async fn stop(&mut self) {
        for err in self.run_shutdown_hooks().await {
            tracing::error!("shutdown: {err}");
        }
        if let Some(servers) = self.servers.take() {
            servers.stop(GRACE).await;
        }
        self.http.stop();
    }
}

/// Tells the plugins where their listeners ended up (see [`plugin_api::BoundAddrs`]).
fn record_ports(config: &Config, servers: &Servers) {
    record_addresses(config, &servers.addresses(None));
}

fn record_addresses(config: &Config, pairs: &[(String, SocketAddr)]) {
    let addrs = config.shared.get::<plugin_api::BoundAddrs>();
    let mut map = addrs.0.lock().unwrap_or_else(|e| e.into_inner());
    map.extend(pairs.iter().cloned());
}

/// The HTTP listeners' bound addresses, keyed as [`plugin_api::BoundAddrs`] keys them.
fn http_addresses(config: &Config, http: &http::HttpServers) -> Vec<(String, SocketAddr)> {
    let bound = |addr: &String| Some((plugin_api::BoundAddrs::http_key(addr), http.bound(addr)?));
    config.routes.iter().filter_map(|r| bound(&r.addr)).collect()
}

fn reload_period(config: &Config) -> Option<Duration> {
    *config.shared.get::<plugin_reload::Period>().0.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `coredns_plugin_enabled` series set now: their label values in declaration order
/// (server, zone, view, name).
fn plugin_enabled_series() -> Vec<[String; 4]> {
    use prometheus::core::Collector;
    let families = plugin_api::server::metrics::PLUGIN_ENABLED.collect();
    let metrics = families.iter().flat_map(|family| family.get_metric());
    metrics
        .filter(|m| m.get_gauge().get_value() != 0.0)
        .map(|m| {
            let value = |name: &str| {
                let label = m.get_label().iter().find(|l| l.name() == name);
                label.map_or_else(String::new, |l| l.value().to_owned())
            };
            ["server", "zone", "view", "name"].map(value)
        })
        .collect()
}

/// Makes `series` the whole of `coredns_plugin_enabled` again.
fn restore_plugin_enabled(series: &[[String; 4]]) {
    let enabled = &plugin_api::server::metrics::PLUGIN_ENABLED;
    enabled.reset();
    for labels in series {
        enabled.with_label_values(&labels.each_ref().map(String::as_str)).set(1);
    }
}

fn announce(fingerprint: &str) {
    tracing::info!("plugin/reload: Running configuration SHA512 = {fingerprint}");
    plugin_reload::metrics::VERSION_INFO.with_label_values(&["sha512", fingerprint]).set(1);
}

/// The parser's warnings carry their own `[WARNING] ` prefix; the log line adds it again.
fn strip_level(w: &str) -> &str {
    w.strip_prefix("[WARNING] ").unwrap_or(w)
}

#[cfg(test)]
mod tests {
    use super::{plugin_enabled_series, restore_plugin_enabled, workers_from};
    use plugin_api::server::metrics::PLUGIN_ENABLED;

    #[test]
    fn a_failed_start_puts_the_running_plugin_enabled_series_back() {
        // Nothing else in this test binary touches the family, so its whole contents are ours.
        let running = ["dns://:53", "running.test.", "", "hosts"];
        PLUGIN_ENABLED.with_label_values(&running).set(1);
        let before = plugin_enabled_series();
        assert!(before.contains(&running.map(String::from)), "{before:?}");
        // A reload resets the family and the new configuration's hooks start filling it...
        PLUGIN_ENABLED.reset();
        PLUGIN_ENABLED.with_label_values(&["dns://:53", "new.test.", "", "whoami"]).set(1);
        // ...then one fails: the running series are back, the new ones gone.
        restore_plugin_enabled(&before);
        assert_eq!(plugin_enabled_series(), before);
        assert_eq!(PLUGIN_ENABLED.with_label_values(&running).get(), 1);
    }

    #[test]
    fn gomaxprocs_sets_the_workers_when_it_is_a_positive_number() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(workers_from(Some("3")), 3);
        assert_eq!(workers_from(Some(" 7 ")), 7);
        for ignored in [None, Some("0"), Some("-2"), Some("two"), Some("")] {
            assert_eq!(workers_from(ignored), cores, "{ignored:?}");
        }
    }
}
