//! Reading `forward FROM TO... { options }` lines.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::zone::{Transport, normalize, split_host_port, split_transport};
use plugin_api::proto::op::ResponseCode;
use plugin_api::{ConfigError, Controller};

/// At most this many upstreams per `forward` line.
pub const MAX_UPSTREAMS: usize = 15;

/// One upstream as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct To {
    /// Its address.
    pub addr: SocketAddr,
    /// DNS over TLS.
    pub tls: bool,
    /// The name from `tls://IP%NAME`, checked against its certificate.
    pub server_name: Option<String>,
}

/// How the next upstream is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A random order per query (the default).
    Random,
    /// Each query starts one upstream further along.
    RoundRobin,
    /// Always in the order written.
    Sequential,
}

/// One `forward` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Stanza {
    /// The zone forwarded (`.` for everything).
    pub from: String,
    /// Names under `from` that are not forwarded.
    pub except: Vec<String>,
    /// The upstreams.
    pub to: Vec<To>,
    /// `tls [CERT KEY [CA]]`: client certificate and CA files for `tls://` upstreams.
    pub tls: Vec<String>,
    /// `tls_servername`: the name every `tls://` upstream's certificate is checked against.
    pub tls_servername: Option<String>,
    /// Always TCP to the upstream.
    pub force_tcp: bool,
    /// UDP even for TCP clients; TCP again on a truncated reply.
    pub prefer_udp: bool,
    /// Idle upstream connections are closed after this.
    pub expire: Duration,
    /// At most this many idle connections per upstream (0: no limit).
    pub max_idle_conns: usize,
    /// Failed health checks before an upstream is considered down (0: never, no checks).
    pub max_fails: u32,
    /// Connect attempts per query (`None`: two per upstream; 0: no limit).
    pub max_connect_attempts: Option<u32>,
    /// Time between health checks of an upstream that failed.
    pub health_check: Duration,
    /// RD bit of the health-check query.
    pub hc_recursion_desired: bool,
    /// Name the health check asks NS of.
    pub hc_domain: String,
    /// Upstream order.
    pub policy: Policy,
    /// Most queries in flight; more are REFUSED (0: no limit).
    pub max_concurrent: usize,
    /// Rcodes that send the query on to the next `forward` line.
    pub next: Vec<ResponseCode>,
    /// NOERROR with no answer sends the query on to the next `forward` line.
    pub next_on_nodata: bool,
    /// Rcodes that make the next upstream be tried.
    pub failover: Vec<ResponseCode>,
    /// With every upstream down, SERVFAIL at once instead of trying one anyway.
    pub failfast_all_unhealthy: bool,
    /// Wait for an upstream's reply this long.
    pub read_timeout: Duration,
}

impl Stanza {
    fn new(from: String) -> Self {
        Self {
            from,
            except: Vec::new(),
            to: Vec::new(),
            tls: Vec::new(),
            tls_servername: None,
            force_tcp: false,
            prefer_udp: false,
            expire: Duration::from_secs(10),
            max_idle_conns: 0,
            max_fails: 2,
            max_connect_attempts: None,
            health_check: Duration::from_millis(500),
            hc_recursion_desired: true,
            hc_domain: ".".into(),
            policy: Policy::Random,
            max_concurrent: 0,
            next: Vec::new(),
            next_on_nodata: false,
            failover: Vec::new(),
            failfast_all_unhealthy: false,
            read_timeout: Duration::from_secs(2),
        }
    }
}

/// Reads every `forward` line of the block, in order.
pub fn parse(c: &mut Controller) -> Result<Vec<Stanza>, ConfigError> {
    let mut stanzas = Vec::new();
    while c.next() {
        stanzas.push(parse_stanza(c)?);
    }
    Ok(stanzas)
}

fn parse_stanza(c: &mut Controller) -> Result<Stanza, ConfigError> {
    if !c.next_arg() {
        return Err(c.arg_err());
    }
    let from = c.val().to_string();
    let zones = split_host_port(split_transport(&from).1)
        .map_err(|_| c.err(format!("unable to normalize '{from}'")))?
        .0;
    let Some(zone) = zones.first() else {
        return Err(c.err(format!("unable to normalize '{from}'")));
    };
    if zones.len() > 1 {
        tracing::warn!(
            "plugin/forward: Unsupported CIDR notation: '{from}' expands to multiple zones. Using only '{}'.",
            normalize(zone)
        );
    }
    let mut s = Stanza::new(normalize(zone));
    let to = c.remaining_args();
    if to.is_empty() {
        return Err(c.arg_err());
    }
    while c.next_block() {
        parse_option(c, &mut s)?;
    }
    for addr in &to {
        s.to.extend(upstreams(c, addr)?);
    }
    if let Some(global) = &s.tls_servername
        && let Some(per) = s.to.iter().find_map(|t| t.server_name.as_ref())
    {
        return Err(c.err(format!(
            "both forward ('{global}') and proxy level ('{per}') TLS servernames are set for upstream proxy"
        )));
    }
    if s.to.is_empty() {
        return Err(c.err("no valid upstream addresses found"));
    }
    if s.to.len() > MAX_UPSTREAMS {
        return Err(c.err(format!("more than {MAX_UPSTREAMS} TOs configured: {}", s.to.len())));
    }
    Ok(s)
}

/// The upstreams one TO argument stands for: an address (`dns://` or `tls://IP[%NAME][:PORT]`),
/// or the `nameserver` lines of a resolv.conf-style file.
fn upstreams(c: &Controller, to: &str) -> Result<Vec<To>, ConfigError> {
    let (transport, rest) = split_transport(to);
    match transport {
        Transport::Dns => {}
        Transport::Tls => {
            // tls://IP%servername:port — the name sits between the address and the port.
            let (host, server_name, port) = split_tls(rest);
            let addr = parse_addr(&format!("{host}{port}"), 853)
                .ok_or_else(|| c.err(format!("not an IP address: {to:?}")))?;
            return Ok(vec![To { addr, tls: true, server_name }]);
        }
        other => {
            return Err(c.err(format!(
                "'{other}' is not supported as a destination protocol in forward: {to}"
            )));
        }
    }
    if let Some(addr) = parse_addr(rest, 53) {
        return Ok(vec![To { addr, tls: false, server_name: None }]);
    }
    // Not an address: a file of nameserver lines, as /etc/resolv.conf.
    match std::fs::read_to_string(rest) {
        Ok(text) => {
            let found: Vec<To> = plugin_api::pkg::resolv::parse(&text)
                .nameservers
                .iter()
                .filter_map(|a| parse_addr(a.split('%').next().unwrap_or(a), 53))
                .map(|addr| To { addr, tls: false, server_name: None })
                .collect();
            if found.is_empty() {
                return Err(c.err(format!("no nameservers found in {rest}")));
            }
            Ok(found)
        }
        Err(_) => Err(c.err(format!("not an IP address or file: {rest:?}"))),
    }
}

/// Splits `IP%NAME:PORT` into (`IP`, `NAME`, `:PORT`); each part after the first is optional.
fn split_tls(s: &str) -> (String, Option<String>, String) {
    let Some((host, rest)) = s.split_once('%') else { return (s.to_string(), None, String::new()) };
    match rest.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            (host.to_string(), Some(name.to_string()), format!(":{port}"))
        }
        _ => (host.to_string(), Some(rest.to_string()), String::new()),
    }
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address.
pub fn parse_addr(s: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, default_port));
    }
    if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, default_port));
    }
    None
}

fn one_arg(c: &mut Controller) -> Result<String, ConfigError> {
    if !c.next_arg() {
        return Err(c.arg_err());
    }
    Ok(c.val().to_string())
}

fn duration(c: &mut Controller) -> Result<Duration, ConfigError> {
    let v = one_arg(c)?;
    parse_go_duration(&v).map_err(|e| c.err(e))
}

/// CoreDNS's `strconv.ParseUint(VALUE, 10, 32)`, with Go's words (`+5` is no number to it).
fn count32(c: &mut Controller) -> Result<u32, ConfigError> {
    let v = one_arg(c)?;
    let n = plugin_api::pkg::strconv::parse_uint(&v, 10, 32).map_err(|e| c.err(e))?;
    Ok(n as u32)
}

/// CoreDNS's `strconv.Atoi(VALUE)` refused below zero: `OPTION can't be negative: N`.
fn non_negative(c: &mut Controller, option: &str) -> Result<usize, ConfigError> {
    let v = one_arg(c)?;
    let quoted = plugin_api::pkg::strconv::go_quote(&v);
    // Digits (after one sign) that do not fit are out of range, anything else no number.
    let digits = v.strip_prefix(['+', '-']).unwrap_or(&v);
    let number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let n: i64 = match v.parse::<i64>() {
        Ok(n) => n,
        Err(_) if number => {
            return Err(c.err(format!("strconv.Atoi: parsing {quoted}: value out of range")));
        }
        Err(_) => return Err(c.err(format!("strconv.Atoi: parsing {quoted}: invalid syntax"))),
    };
    if n < 0 {
        return Err(c.err(format!("{option} can't be negative: {n}")));
    }
    Ok(n as usize)
}

fn no_args(c: &mut Controller) -> Result<(), ConfigError> {
    if c.next_arg() {
        return Err(c.arg_err());
    }
    Ok(())
}

fn rcodes(c: &mut Controller) -> Result<Vec<ResponseCode>, ConfigError> {
    let args = c.remaining_args();
    if args.is_empty() {
        return Err(c.arg_err());
    }
    args.iter()
        .map(|a| rcode_from_name(a).ok_or_else(|| c.err(format!("{a} is not a valid rcode"))))
        .collect()
}

/// An rcode by its name (`SERVFAIL`, `nxdomain`), as miekg/dns's `StringToRcode` reads them.
pub fn rcode_from_name(s: &str) -> Option<ResponseCode> {
    let upper = s.to_ascii_uppercase();
    (0..=23u16)
        .map(|n| ResponseCode::from((n >> 4) as u8, (n & 0xf) as u8))
        .find(|rc| plugin_api::pkg::names::rcode_name(*rc) == Some(upper.as_str()))
}

fn parse_option(c: &mut Controller, s: &mut Stanza) -> Result<(), ConfigError> {
    match c.val() {
        "except" => {
            let names = c.remaining_args();
            if names.is_empty() {
                return Err(c.arg_err());
            }
            for n in names {
                if let Ok((hosts, _)) = split_host_port(split_transport(&n).1) {
                    s.except.extend(hosts.iter().map(|h| normalize(h)));
                }
            }
        }
        "max_fails" => s.max_fails = count32(c)?,
        "max_connect_attempts" => s.max_connect_attempts = Some(count32(c)?),
        "health_check" => {
            s.health_check = duration(c)?;
            s.hc_domain = ".".into();
            while c.next_arg() {
                match c.val() {
                    "no_rec" => s.hc_recursion_desired = false,
                    "domain" => {
                        let d = one_arg(c)?;
                        if !plugin_api::pkg::zone::is_domain_name(&d) {
                            return Err(c.err(format!("health_check: invalid domain name {d}")));
                        }
                        s.hc_domain = normalize(&d);
                    }
                    other => return Err(c.err(format!("health_check: unknown option {other}"))),
                }
            }
        }
        "force_tcp" => {
            no_args(c)?;
            s.force_tcp = true;
        }
        "prefer_udp" => {
            no_args(c)?;
            s.prefer_udp = true;
        }
        "tls" => {
            let args = c.remaining_args();
            if args.len() > 3 {
                return Err(c.arg_err());
            }
            s.tls = args;
        }
        "tls_servername" => s.tls_servername = Some(one_arg(c)?),
        "expire" => s.expire = duration(c)?,
        "max_age" | "doh_method" | "resolver" | "source_address" => {
            // Accepted for CoreDNS Corefiles; these concern transports ferrodns does not have
            // yet (DoH, hostname upstreams) or are not implemented; the value is checked.
            let _ = c.remaining_args();
        }
        "max_idle_conns" => s.max_idle_conns = non_negative(c, "max_idle_conns")?,
        "read_timeout" => {
            let d = duration(c)?;
            if d.is_zero() {
                return Err(c.err(format!(
                    "read_timeout must be positive: {}",
                    plugin_api::pkg::duration::format_go_duration(d)
                )));
            }
            s.read_timeout = d;
        }
        "policy" => {
            s.policy = match one_arg(c)?.as_str() {
                "random" => Policy::Random,
                "round_robin" => Policy::RoundRobin,
                "sequential" => Policy::Sequential,
                other => return Err(c.err(format!("unknown policy '{other}'"))),
            }
        }
        "max_concurrent" => s.max_concurrent = non_negative(c, "max_concurrent")?,
        "next" => s.next = rcodes(c)?,
        "next_on_nodata" => {
            no_args(c)?;
            s.next_on_nodata = true;
        }
        "failover" => {
            let codes = rcodes(c)?;
            if codes.contains(&ResponseCode::NoError) {
                return Err(c.err("NoError cannot be used in failover"));
            }
            s.failover = codes;
        }
        "failfast_all_unhealthy_upstreams" => {
            if !c.remaining_args().is_empty() {
                return Err(c.arg_err());
            }
            s.failfast_all_unhealthy = true;
        }
        other => return Err(c.err(format!("unknown property '{other}'"))),
    }
    Ok(())
}
