//! From Corefile text to what the server runs: server blocks → zones → listeners.
//!
//! Each server block's keys become zones with a transport and port. Each block's directives are
//! set up in [`DIRECTIVES`](crate::directives::DIRECTIVES) order into one [`Block`], shared by all
//! of the block's zones. Zones are then grouped by listen address: blocks on the same address
//! and port share one listener, which picks the block for each query by zone. The address is
//! the wildcard unless the block's *bind* names some (one listener each); CoreDNS's checks that
//! a zone is served once per address and port, and not on both the wildcard and an address of
//! one port, run here, in its words.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use plugin_api::corefile::dispenser::parse_error;
use plugin_api::corefile::{Dispenser, ParseOptions, ServerBlock, Token, parse};
use plugin_api::pkg::http::HttpRoute;
use plugin_api::pkg::zone::{Transport, normalize, split_host_port, split_transport};
use plugin_api::{BlockChain, Chain, ConfigError, Controller, Hook, PerBlock, Shared};
use plugin_bind::{Hosts, ListenHost};
use plugin_multisocket::setup::Sockets;

use crate::directives::{self, Directive};

/// Where the Corefile came from and the settings from the command line that shape it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name used in errors: the `-conf` path, `Corefile`, or `/dev/stdin`.
    pub filename: String,
    /// The text.
    pub text: String,
    /// The file to read again on reload; `None` when the text came from standard input or is
    /// the built-in default, which a reload keeps as it was.
    pub path: Option<String>,
    /// `-dns.port`: the port of keys that name none.
    pub dns_port: String,
}

/// One server block, set up.
pub struct Block {
    /// The block's zones, normalised, in key order.
    pub zones: Vec<String>,
    /// The handlers, in chain order. Empty if the block enables none, which is answered REFUSED.
    pub chain: Chain,
    /// The directives the block enables (handlers or not), in chain order.
    pub directives: Vec<&'static str>,
    /// With *metadata* and a plugin that provides some: what collects a query's metadata
    /// before the chain runs.
    pub metadata: Option<plugin_metadata::Collector>,
}

impl Block {
    /// True if a plugin in this block lets queries of any class through (CoreDNS's `chaos` and
    /// `forward`).
    pub fn allows_any_class(&self) -> bool {
        self.directives.iter().any(|d| matches!(*d, "chaos" | "forward"))
    }
}

/// One listen address and the zones it serves.
pub struct Listener {
    /// The transport, from the keys' scheme.
    pub transport: Transport,
    /// The port.
    pub port: u16,
    /// The address (*bind*), or `None` for the wildcard.
    pub host: Option<ListenHost>,
    /// Each zone served here and the block that serves it.
    pub zones: Vec<(String, Arc<Block>)>,
    /// How many `SO_REUSEPORT` sockets of each kind to open: 1 unless the first block on this
    /// port uses *multisocket*.
    pub sockets: usize,
    /// The TCP connections' timeouts and query limit: CoreDNS's defaults, changed by the
    /// *timeouts* of the blocks here, each overriding the ones before it.
    pub tcp: crate::server::tcp::Timeouts,
    /// True if a block here uses *debug*: a panic then ends the process rather than being
    /// answered SERVFAIL, for every block on the port, as in a CoreDNS server.
    pub debug: bool,
    /// True if a block here uses *shed*: replies the UDP socket drops are counted.
    pub shed: bool,
}

impl Listener {
    /// The `server` label of CoreDNS's metrics and logs: `dns://:53`, or with *bind*
    /// `dns://127.0.0.1:53`, `dns://[::1]:53`.
    pub fn label(&self) -> String {
        server_label(self.transport, self.host.as_ref(), self.port)
    }
}

/// Go's `transport://` + `net.JoinHostPort(host, port)`: the name of a listener in CoreDNS's
/// metrics, logs and start-up lines.
pub fn server_label(
    transport: Transport,
    host: Option<&ListenHost>,
    port: impl std::fmt::Display,
) -> String {
    match host {
        None => format!("{transport}://:{port}"),
        Some(h) if h.ip.is_ipv6() => format!("{transport}://[{h}]:{port}"),
        Some(h) => format!("{transport}://{h}:{port}"),
    }
}

/// Everything a Corefile configures.
pub struct Config {
    /// The listeners, in order of first appearance.
    pub listeners: Vec<Listener>,
    /// Hooks the plugins asked to run once serving starts.
    pub on_startup: Vec<Hook>,
    /// Hooks the plugins asked to run on shutdown.
    pub on_shutdown: Vec<Hook>,
    /// HTTP endpoints the plugins asked for.
    pub routes: Vec<HttpRoute>,
    /// State the plugins of this load share (the *reload* period, for one).
    pub shared: Shared,
    /// SHA-512, in hex, of the parsed Corefile: its tokens with their files and lines, so that a
    /// new comment line changes it and a trailing comment does not (as in CoreDNS).
    pub fingerprint: String,
}

/// What setting up the blocks collects besides the blocks themselves.
#[derive(Default)]
struct Collected {
    shared: Shared,
    on_startup: Vec<Hook>,
    on_shutdown: Vec<Hook>,
    routes: Vec<HttpRoute>,
}

/// A zone key, once read.
struct ZoneAddr {
    transport: Transport,
    zone: String,
    port: String,
    key: Token,
}

/// Only parses `source` (imports and environment expanded) and returns its fingerprint: what
/// the *reload* check compares. Directive names are not checked here, as in CoreDNS: a file
/// with an unknown directive is a change, whose reload then fails and is counted.
pub fn parse_fingerprint(source: &Source, warn: &dyn Fn(&str)) -> Result<String, ConfigError> {
    let opts =
        ParseOptions { is_directive: &|_| true, env: &|name| std::env::var(name).ok(), warn };
    Ok(fingerprint(&parse(&source.filename, &source.text, &opts)?))
}

/// SHA-512 over the blocks' keys and tokens, each with its file and line.
fn fingerprint(blocks: &[ServerBlock]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    let mut feed = |t: &Token| {
        for part in [t.file.as_bytes(), t.line.to_string().as_bytes(), t.text.as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
    };
    for block in blocks {
        block.keys.iter().for_each(&mut feed);
        for (_, tokens) in &block.directives {
            tokens.iter().for_each(&mut feed);
        }
    }
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses and sets up a Corefile. `warn` receives the parser's warnings.
pub fn load(source: &Source, warn: &dyn Fn(&str)) -> Result<Config, ConfigError> {
    let opts = ParseOptions {
        is_directive: &|d| directives::lookup(d).is_some(),
        env: &|name| std::env::var(name).ok(),
        warn,
    };
    let blocks = parse(&source.filename, &source.text, &opts)?;
    let fingerprint = fingerprint(&blocks);

    let mut listeners: Vec<Listener> = Vec::new();
    let mut overlap = Overlap::default();
    let mut collected = Collected::default();

    for (index, server_block) in blocks.iter().enumerate() {
        let addrs = zone_addrs(server_block, &source.dns_port)?;
        let block =
            Arc::new(setup_block(&source.filename, server_block, &addrs, index, &mut collected)?);
        let hosts = listen_hosts(&collected.shared, index);
        // What this block's server-level directives ask of every listener it is served on.
        let shared = &collected.shared;
        let sockets = match shared.get::<PerBlock<Sockets>>().of(index) {
            None => 1,
            Some(Sockets::PerWorker) => crate::workers(),
            Some(Sockets::Count(n)) => n,
        };
        let timeouts = shared.get::<PerBlock<plugin_timeouts::Settings>>().of(index);
        let debug = shared.get::<PerBlock<plugin_debug::Debug>>().of(index).is_some();
        let shed = shared.get::<PerBlock<plugin_shed::Shed>>().of(index).is_some();

        for addr in addrs {
            if addr.transport != Transport::Dns {
                return Err(key_err(
                    &addr.key,
                    &format!(
                        "{}:// servers are not supported by ferrodns yet; only dns:// is served",
                        addr.transport
                    ),
                ));
            }
            let port: u16 = addr
                .port
                .parse()
                .map_err(|_| key_err(&addr.key, &format!("invalid port '{}'", addr.port)))?;
            for host in &hosts {
                overlap.register(&addr, host.as_ref()).map_err(|e| key_err(&addr.key, &e))?;
                let listener = match listeners
                    .iter_mut()
                    .find(|l| l.transport == addr.transport && l.port == port && l.host == *host)
                {
                    Some(l) => l,
                    None => {
                        listeners.push(Listener {
                            transport: addr.transport,
                            port,
                            host: host.clone(),
                            zones: Vec::new(),
                            sockets,
                            tcp: Default::default(),
                            debug: false,
                            shed: false,
                        });
                        listeners.last_mut().expect("just pushed")
                    }
                };
                if let Some(settings) = &timeouts {
                    listener.tcp.apply(settings);
                }
                listener.debug |= debug;
                listener.shed |= shed;
                listener.zones.push((addr.zone.clone(), block.clone()));
            }
        }
    }
    let Collected { on_startup, on_shutdown, routes, shared } = collected;
    Ok(Config { listeners, on_startup, on_shutdown, routes, shared, fingerprint })
}

/// The addresses block `index` listens on: what its *bind* directives named, or the wildcard.
fn listen_hosts(shared: &Shared, index: usize) -> Vec<Option<ListenHost>> {
    match shared.get::<PerBlock<Hosts>>().of(index) {
        None => vec![None],
        Some(Hosts(hosts)) => hosts.into_iter().map(Some).collect(),
    }
}

/// CoreDNS's check of zones against listen addresses (`validateZonesAndListeningAddresses`): a
/// zone may be served once per transport, address and port, and a zone served on the wildcard
/// may not also be served on one address of the same port, nor the other way round.
#[derive(Default)]
struct Overlap {
    /// Each registered zone address, by its key.
    registered: HashSet<ZoneKey>,
    /// The same without the address, to the registered zone address it came from.
    unbound: HashMap<ZoneKey, ZoneKey>,
}

/// Transport, zone, port as written, and the address (`None`: the wildcard).
#[derive(Clone, PartialEq, Eq, Hash)]
struct ZoneKey(Transport, String, String, Option<ListenHost>);

impl std::fmt::Display for ZoneKey {
    /// CoreDNS's `zoneAddr.String`: `dns://example.org.:53`, then ` on 127.0.0.1` if bound.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.0, self.1, self.2)?;
        match &self.3 {
            Some(host) => write!(f, " on {host}"),
            None => Ok(()),
        }
    }
}

impl Overlap {
    /// Registers `addr` on `host`, or says why it cannot be served, in CoreDNS's words.
    fn register(&mut self, addr: &ZoneAddr, host: Option<&ListenHost>) -> Result<(), String> {
        let key = ZoneKey(addr.transport, addr.zone.clone(), addr.port.clone(), host.cloned());
        if self.registered.contains(&key) {
            return Err(format!("cannot serve {key} - it is already defined"));
        }
        let unbound = ZoneKey(key.0, key.1.clone(), key.2.clone(), None);
        if let Some(already) = self.unbound.get(&unbound) {
            let with = if key.3.is_none() {
                Some(already)
            } else {
                self.registered.contains(&unbound).then_some(&unbound)
            };
            if let Some(with) = with {
                return Err(format!(
                    "cannot serve {key} - zone overlap listener capacity with {with}"
                ));
            }
        }
        self.registered.insert(key.clone());
        self.unbound.insert(unbound, key);
        Ok(())
    }
}

fn key_err(key: &Token, msg: &str) -> ConfigError {
    parse_error(&key.file, key.line, msg)
}

/// Reads a block's keys: scheme, zone (CIDRs expanded to reverse zones), port.
fn zone_addrs(block: &ServerBlock, dns_port: &str) -> Result<Vec<ZoneAddr>, ConfigError> {
    let mut out = Vec::new();
    for key in &block.keys {
        let (transport, rest) = split_transport(&key.text);
        let (hosts, port) = split_host_port(rest).map_err(|e| key_err(key, &e))?;
        let port = port.unwrap_or_else(|| transport.default_port(dns_port));
        for host in hosts {
            out.push(ZoneAddr {
                transport,
                zone: normalize(&host),
                port: port.clone(),
                key: key.clone(),
            });
        }
    }
    Ok(out)
}

/// Runs the setup of each directive the block enables, in chain order.
fn setup_block(
    filename: &str,
    block: &ServerBlock,
    addrs: &[ZoneAddr],
    index: usize,
    collected: &mut Collected,
) -> Result<Block, ConfigError> {
    let zones: Vec<String> = addrs.iter().map(|a| a.zone.clone()).collect();
    let mut servers = server_labels(addrs, &[None]);
    let handle = BlockChain::default();
    let mut chain = Vec::new();
    let mut enabled = Vec::new();
    for directive in directives::DIRECTIVES {
        let Some(tokens) = block.tokens(directive.name) else { continue };
        check_once(directive, tokens)?;
        let Some(setup) = directive.setup else {
            return Err(parse_error(
                &tokens[0].file,
                tokens[0].line,
                &format!("directive '{}' is not implemented in ferrodns yet", directive.name),
            )
            .in_plugin(directive.name));
        };
        let dispenser = Dispenser::new(filename, tokens.to_vec());
        let mut c = Controller::new(dispenser, zones.clone(), index)
            .with_block(servers.clone(), handle.clone())
            .with_shared(collected.shared.clone());
        if let Some(plugin) = setup(&mut c).map_err(|e| e.in_plugin(directive.name))? {
            chain.push(plugin);
        }
        let (start, stop) = c.take_hooks();
        collected.on_startup.extend(start);
        collected.on_shutdown.extend(stop);
        collected.routes.extend(c.take_routes());
        enabled.push(directive.name);
        if directive.name == plugin_bind::NAME {
            // The plugins after *bind* see the addresses in their `server` labels.
            servers = server_labels(addrs, &listen_hosts(&collected.shared, index));
        }
    }
    let chain: Chain = chain.into();
    let _ = handle.set(chain.clone());
    let metadata = collected
        .shared
        .get::<PerBlock<plugin_metadata::Zones>>()
        .of(index)
        .and_then(|z| plugin_metadata::Collector::new(z.0, &chain));
    Ok(Block { zones, chain, directives: enabled, metadata })
}

/// Each zone of the block with the `server` label of each listener that will serve it.
fn server_labels(addrs: &[ZoneAddr], hosts: &[Option<ListenHost>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in addrs {
        for h in hosts {
            out.push((a.zone.clone(), server_label(a.transport, h.as_ref(), &a.port)));
        }
    }
    out
}

/// Refuses a second occurrence of a once-per-block directive, pointing at the second one.
fn check_once(directive: &Directive, tokens: &[Token]) -> Result<(), ConfigError> {
    if !directive.once {
        return Ok(());
    }
    if let Some(second) = occurrence_starts(tokens).nth(1) {
        let t = &tokens[second];
        return Err(parse_error(
            &t.file,
            t.line,
            "this plugin can only be used once per Server Block",
        )
        .in_plugin(directive.name));
    }
    Ok(())
}

/// The indices at which each occurrence of a directive starts in its token list: a token on a
/// new line outside any `{ }` block.
fn occurrence_starts(tokens: &[Token]) -> impl Iterator<Item = usize> + '_ {
    let mut nesting = 0usize;
    tokens.iter().enumerate().filter_map(move |(i, t)| {
        let starts = i == 0
            || (nesting == 0 && {
                let prev = &tokens[i - 1];
                prev.file != t.file || prev.line + prev.line_breaks() < t.line
            });
        match t.text.as_str() {
            "{" => nesting += 1,
            "}" => nesting = nesting.saturating_sub(1),
            _ => {}
        }
        starts.then_some(i)
    })
}

#[cfg(test)]
mod tests;
