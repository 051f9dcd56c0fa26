//! *bind* (CoreDNS 1.14.7's `plugin/bind`): the addresses a server block listens on, instead of
//! the wildcard.
//!
//! * [`setup`] reads every `bind ADDRESS|IFACE... [{ except ADDRESS|IFACE... }]` of the block,
//!   resolves interface names to the addresses they hold now (IPv4 first, then IPv6, a
//!   link-local IPv6 address with its interface as scope), drops the `except` ones, and leaves
//!   the consolidated list in the configuration's shared state (`PerBlock<Hosts>`) under the
//!   block's index. It adds nothing to the chain.
//! * The server reads the list when it groups blocks into listeners: one listener per address
//!   and port, so two blocks on one port may listen on different addresses. Setup runs again
//!   on every reload, so an interface's addresses are read again then.
//! * Binding an address the host does not have fails at start (or fails the reload) with the
//!   kernel's words, as CoreDNS does: `listen tcp 169.254.20.10:53: bind: cannot assign
//!   requested address`.

use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use plugin_api::{ConfigError, Controller, Plugin};

/// The directive's name.
pub const NAME: &str = "bind";

/// One address to listen on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenHost {
    /// The address.
    pub ip: IpAddr,
    /// For a link-local IPv6 address found on an interface: that interface's name and index,
    /// which the socket needs as its scope (Go's `fe80::1%eth0`).
    pub scope: Option<(String, u32)>,
}

impl ListenHost {
    /// The socket address of this host on `port`.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        match (self.ip, &self.scope) {
            (IpAddr::V6(v6), Some((_, index))) => SocketAddrV6::new(v6, port, 0, *index).into(),
            (ip, _) => SocketAddr::new(ip, port),
        }
    }
}

impl fmt::Display for ListenHost {
    /// Go's form: `127.0.0.1`, `::1`, `fe80::1%eth0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some((name, _)) => write!(f, "{}%{name}", self.ip),
            None => write!(f, "{}", self.ip),
        }
    }
}

/// The addresses one server block listens on, in the order given (an address named twice is
/// kept twice, and the server then refuses the block's zones as defined twice, as CoreDNS
/// does). Empty when every name resolved to nothing: the block then listens nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts(pub Vec<ListenHost>);

/// One network interface's name, index and addresses, as [`setup`] sees them.
#[derive(Debug, Clone)]
pub struct Interface {
    /// The name (`lo`, `eth0`).
    pub name: String,
    /// The kernel's index, the scope of its link-local IPv6 addresses.
    pub index: u32,
    /// Its addresses, IPv4 ones first.
    pub addrs: Vec<IpAddr>,
}

/// The host's interfaces now, each with its addresses. An interface without an address is
/// listed too (on Linux, from `/sys/class/net`), as Go's `net.Interfaces` lists it: its name is
/// then valid and resolves to nothing.
pub fn interfaces() -> std::io::Result<Vec<Interface>> {
    let mut out: Vec<Interface> = Vec::new();
    for found in if_addrs::get_if_addrs()? {
        let index = found.index.unwrap_or(0);
        let at = match out.iter().position(|i| i.name == found.name) {
            Some(at) => at,
            None => {
                out.push(Interface { name: found.name.clone(), index, addrs: Vec::new() });
                out.len() - 1
            }
        };
        out[at].addrs.push(found.ip());
    }
    for i in &mut out {
        // Stable: the kernel's order within each family stays.
        i.addrs.sort_by_key(|a| a.is_ipv6());
    }
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !out.iter().any(|i| i.name == name) {
                out.push(Interface { name, index: 0, addrs: Vec::new() });
            }
        }
    }
    Ok(out)
}

/// Reads the block's `bind` directives and records the addresses for the server.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let ifaces = interfaces().unwrap_or_else(|e| {
        tracing::warn!(
            "plugin/bind: failed to get interfaces list, cannot bind by interface name: {e}"
        );
        Vec::new()
    });
    let hosts = parse(c, &ifaces)?;
    c.set_for_block(hosts);
    Ok(None)
}

/// CoreDNS's `setup` without the interface lookup: every `bind` of the block, consolidated,
/// with names resolved against `ifaces`.
pub fn parse(c: &mut Controller, ifaces: &[Interface]) -> Result<Hosts, ConfigError> {
    let mut all = Vec::new();
    while c.next() {
        let addrs = c.remaining_args();
        if addrs.is_empty() {
            return Err(c
                .err("at least one address or interface name is expected")
                .in_plugin(NAME));
        }
        let mut except = Vec::new();
        while c.next_block() {
            match c.val() {
                "except" => {
                    except = c.remaining_args();
                    if except.is_empty() {
                        return Err(c
                            .err("at least one address or interface must be given to except subdirective")
                            .in_plugin(NAME));
                    }
                }
                other => {
                    let message =
                        format!("invalid option {}", plugin_api::pkg::strconv::go_quote(other));
                    return Err(c.err(message).in_plugin(NAME));
                }
            }
        }
        let except = resolve(&except, ifaces).map_err(|e| c.err(e).in_plugin(NAME))?;
        for host in resolve(&addrs, ifaces).map_err(|e| c.err(e).in_plugin(NAME))? {
            if !except.iter().any(|x| x.ip == host.ip) {
                all.push(host);
            }
        }
    }
    Ok(Hosts(all))
}

/// CoreDNS's `listIP`: each argument is an interface name (all its addresses) or an address.
fn resolve(args: &[String], ifaces: &[Interface]) -> Result<Vec<ListenHost>, String> {
    let mut out = Vec::new();
    for arg in args {
        if let Some(iface) = ifaces.iter().find(|i| i.name == *arg) {
            for ip in &iface.addrs {
                let scope = match ip {
                    IpAddr::V6(v6) if v6.is_unicast_link_local() || is_link_local_multicast(v6) => {
                        Some((iface.name.clone(), iface.index))
                    }
                    _ => None,
                };
                out.push(ListenHost { ip: *ip, scope });
            }
            continue;
        }
        let ip: IpAddr = arg.parse().map_err(|_| {
            format!(
                "not a valid IP address or interface name: {}",
                plugin_api::pkg::strconv::go_quote(arg)
            )
        })?;
        out.push(ListenHost { ip, scope: None });
    }
    Ok(out)
}

fn is_link_local_multicast(ip: &std::net::Ipv6Addr) -> bool {
    ip.segments()[0] & 0xff0f == 0xff02
}

#[cfg(test)]
mod tests;
