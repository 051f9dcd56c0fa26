//! *transfer* (CoreDNS 1.14.7's `plugin/transfer`): zone transfers out, to the addresses a
//! `to` line allows, of the zones the block's *file* and *auto* serve.
//!
//! * [`parse`] reads `transfer [ZONES...] { to ADDRESS... }`, several blocks and lines adding up.
//! * An AXFR over TCP from an allowed address gets the zone: its SOA, every other record, the SOA
//!   again (RFC 5936). An IXFR gets the same full transfer (RFC 1995 §4 allows it), or only the
//!   SOA when the client's serial is already current. Over UDP, or from an address not listed,
//!   REFUSED.
//! * The records come from the first plugin of the block whose
//!   [`Plugin::transfer_records`] has the zone (CoreDNS's `Transferer`).
//!
//! A transfer is sent as several messages over the connection ([`Reply::Stream`]), each holding
//! records up to [`MESSAGE_BUDGET`] octets, so a zone of any size goes out.
//! * [`notify`]: when the server starts (*file*, *auto*), and whenever a zone of a block changes (*file*'s or
//!   *auto*'s reload, *secondary*'s transfer: `ZoneChanges`), a NOTIFY (RFC 1996) goes to each
//!   `to` address that is not `*`, retried until it is answered.

use std::net::IpAddr;
use std::sync::Arc;

use plugin_api::pkg::zone::{is_subdomain, origins_from_args_or_block, split_host_port};
use plugin_api::proto::op::ResponseCode;
use plugin_api::proto::rr::{RData, Record, RecordType};
use plugin_api::{
    BlockChain, ConfigError, Controller, Ctx, Next, Plugin, PluginError, Proto, Reply, Request,
    Serve,
};

/// The directive's name.
pub const NAME: &str = "transfer";

/// The uncompressed octets of records a transfer message carries at most: CoreDNS's threshold,
/// which leaves room under the 64 KiB of a TCP message for the header and question.
pub const MESSAGE_BUDGET: usize = 63_000;

/// One `transfer` block: its zones and who may transfer them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xfr {
    /// The zones.
    pub zones: Vec<String>,
    /// The addresses allowed (`*`: everyone), as `HOST:PORT`.
    pub to: Vec<String>,
    /// The address NOTIFYs are sent from (`source`), if given.
    pub source: Option<IpAddr>,
}

impl Xfr {
    /// Whether a client at `ip` may transfer (CoreDNS compares the host part only).
    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.to.iter().any(|to| {
            to == "*"
                || to
                    .rsplit_once(':')
                    .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']'))
                    .and_then(|h| h.parse::<IpAddr>().ok())
                    .is_some_and(|h| h == ip)
        })
    }
}

/// Reads every block of the directive.
pub fn parse(c: &mut Controller) -> Result<Vec<Xfr>, ConfigError> {
    let mut out = Vec::new();
    while c.next() {
        let zones = origins_from_args_or_block(&c.remaining_args(), c.zones());
        let (mut to, mut source) = (Vec::new(), None);
        while c.next_block() {
            let option = c.val().to_owned();
            match option.as_str() {
                "to" => {
                    let args = c.remaining_args();
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    for host in args {
                        if host == "*" {
                            to.push(host);
                            continue;
                        }
                        to.push(host_port(&host).map_err(|e| c.err(e))?);
                    }
                }
                "source" => {
                    let args = c.remaining_args();
                    let [address] = args.as_slice() else { return Err(c.arg_err()) };
                    if source.is_some() {
                        return Err(c.err("source already specified").in_plugin(NAME));
                    }
                    let quoted = plugin_api::pkg::strconv::go_quote(address);
                    let ip = address.parse().map_err(|_| {
                        c.err(format!("invalid source address {quoted}")).in_plugin(NAME)
                    })?;
                    source = Some(ip);
                }
                _ => {
                    let quoted = plugin_api::pkg::strconv::go_quote(&option);
                    return Err(c.err(format!("unknown property {quoted}")).in_plugin(NAME));
                }
            }
        }
        if to.is_empty() {
            return Err(c.err("'to' is required").in_plugin(NAME));
        }
        out.push(Xfr { zones, to, source });
    }
    Ok(out)
}

/// `HOST[:PORT]` as `HOST:PORT`, port 53 when none is given (CoreDNS's `parse.HostPort`).
fn host_port(text: &str) -> Result<String, String> {
    let (hosts, port) = split_host_port(text)?;
    let bad = || format!("must specify an IP address: `{text}'");
    let host = hosts.first().ok_or_else(bad)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = bare.parse().map_err(|_| bad())?;
    let port = port.unwrap_or_else(|| "53".into());
    Ok(match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    })
}

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let xfrs = parse(c)?;
    // Subscribed now, so that no change announced before the task runs is missed.
    let mut changed = plugin_api::pkg::zonefile::ZoneChanges::of(c).subscribe();
    let targets = xfrs.clone();
    c.background(async move {
        while let Some((zone, serial)) = changed.recv().await {
            notify::zone(&targets, &zone, serial).await;
        }
    });
    Ok(Some(Arc::new(Transfer { xfrs, chain: c.block_chain() })))
}

/// The `transfer` line with the longest zone `name` is in (CoreDNS's `longestMatch`).
pub fn longest_match<'x>(xfrs: &'x [Xfr], name: &str) -> Option<&'x Xfr> {
    xfrs.iter()
        .flat_map(|x| x.zones.iter().map(move |z| (z, x)))
        .filter(|(z, _)| is_subdomain(z, name))
        .max_by_key(|(z, _)| z.len())
        .map(|(_, x)| x)
}

/// The handler.
pub struct Transfer {
    xfrs: Vec<Xfr>,
    /// The block's chain, where the zones' plugins are.
    chain: BlockChain,
}

impl Transfer {
    /// The zone's records from the first plugin of the block that serves it.
    fn records(&self, zone: &str) -> Option<Vec<Record>> {
        self.chain.get()?.iter().find_map(|p| p.transfer_records(zone))
    }
}

impl Plugin for Transfer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let qtype = req.qtype();
        if !matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return next.run(ctx, req);
        }
        if req.proto() != Proto::Tcp {
            return Serve::Ready(Ok(Reply::Rcode(ResponseCode::Refused)));
        }
        let name = req.name();
        let Some(xfr) = longest_match(&self.xfrs, name) else { return next.run(ctx, req) };
        if !xfr.allowed(req.ip()) {
            return Serve::Ready(Ok(Reply::Rcode(ResponseCode::Refused)));
        }
        // No plugin of the block has the zone: the next plugin's turn, as in CoreDNS.
        let Some(records) = self.records(name) else { return next.run(ctx, req) };
        let result = transfer(req, records);
        if let Ok(Reply::Stream { msgs, .. }) = &result {
            let count: usize = msgs.iter().map(|m| m.answers.len()).sum::<usize>() - 1;
            tracing::info!(
                "plugin/transfer: Outgoing transfer of {count} records of zone {name:?} to {}",
                req.ip()
            );
        }
        Serve::Ready(result)
    }
}

/// The reply carrying the zone: SOA, the rest, SOA, in messages of at most [`MESSAGE_BUDGET`]
/// octets of records; only the SOA for an IXFR whose serial is current.
fn transfer(req: &Request, records: Vec<Record>) -> plugin_api::ServeResult {
    use plugin_api::proto::serialize::binary::BinEncodable;
    let Some(soa) = records.first().filter(|r| r.record_type() == RecordType::SOA).cloned() else {
        return Err(PluginError::servfail("plugin/transfer: the zone has no SOA"));
    };
    let message = |answers: Vec<Record>| {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        m.answers = answers;
        m
    };
    if req.qtype() == RecordType::IXFR {
        // An IXFR carries the client's SOA, alone, in its authority section (RFC 1995 §3).
        let query = req.to_message();
        let theirs = match query.authorities.as_slice() {
            [r] => match &r.data {
                RData::SOA(s) => s.serial,
                _ => return Err(PluginError::servfail("plugin/transfer: IXFR without an SOA")),
            },
            _ => return Err(PluginError::servfail("plugin/transfer: IXFR without one SOA")),
        };
        let RData::SOA(ours) = &soa.data else { unreachable!("checked above") };
        if !plugin_api::pkg::zonefile::serial_newer(ours.serial, theirs) {
            return Ok(Reply::message(message(vec![soa]), NAME));
        }
    }
    let mut msgs = Vec::new();
    let (mut batch, mut size) = (Vec::new(), 0);
    for r in records.into_iter().chain(std::iter::once(soa)) {
        let len = r.to_bytes().map_or(MESSAGE_BUDGET, |b| b.len());
        if !batch.is_empty() && size + len > MESSAGE_BUDGET {
            msgs.push(message(std::mem::take(&mut batch)));
            size = 0;
        }
        size += len;
        batch.push(r);
    }
    msgs.push(message(batch));
    Ok(Reply::Stream { msgs, by: NAME })
}

pub mod notify;

#[cfg(test)]
mod tests;
