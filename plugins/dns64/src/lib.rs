//! *dns64*: answers AAAA queries for names that have only IPv4 addresses with addresses made
//! from them under a NAT64 prefix (RFC 6147, RFC 6052), as CoreDNS 1.14.7's `plugin/dns64`.
//!
//! * [`setup`] reads `dns64 [PREFIX]` or its block (`prefix`, `translate_all`, `allow_ipv4`).
//! * [`Dns64`] takes AAAA queries in class IN from IPv6 clients (any client with
//!   `allow_ipv4`), lets the rest of the chain answer them, and when the reply has no AAAA
//!   record (any reply but NXDOMAIN with `translate_all`) asks the block for the name's A
//!   records ([`pkg::upstream`](plugin_api::pkg::upstream)) and answers with them translated:
//!   TTL the smaller of the A record's and the SOA's in the first reply (600 without one),
//!   other records, the authority and additional sections and the TC bit taken from the A
//!   reply, as CoreDNS's `Synthesize` does.
//! * Its counter, `coredns_dns64_requests_translated_total{server}`, is in [`metrics`].

pub mod metrics;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use plugin_api::pkg::response::Type;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::proto::op::Message;
use plugin_api::proto::rr::rdata::AAAA;
use plugin_api::proto::rr::{DNSClass, RData, Record, RecordType};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve};

/// The directive's name.
pub const NAME: &str = "dns64";

/// A NAT64 prefix: its first octets and its length in bits (32, 40, 48, 56, 64 or 96).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Prefix {
    /// The well-known prefix, `64:ff9b::/96`.
    pub const WELL_KNOWN: Self =
        Self { addr: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), len: 96 };

    /// `v4` embedded under the prefix as RFC 6052 §2.2 places it: after the prefix, skipping
    /// bits 64 to 71.
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut out = [0u8; 16];
        let prefix = self.addr.octets();
        let n = usize::from(self.len / 8);
        out[..n].copy_from_slice(&prefix[..n]);
        let mut at = n;
        for octet in v4.octets() {
            if at == 8 {
                at += 1;
            }
            out[at] = octet;
            at += 1;
        }
        Ipv6Addr::from(out)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Reads the block's `dns64` and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let mut dns64 = parse(c).map_err(|e| e.in_plugin(NAME))?;
    dns64.upstream = Some(Upstream::new(c));
    Ok(Some(Arc::new(dns64)))
}

/// CoreDNS's `dns64Parse`.
fn parse(c: &mut Controller) -> Result<Dns64, ConfigError> {
    let mut dns64 = Dns64 {
        prefix: Prefix::WELL_KNOWN,
        translate_all: false,
        allow_ipv4: false,
        upstream: None,
    };
    while c.next() {
        let args = c.remaining_args();
        match args.as_slice() {
            [prefix] => {
                dns64.prefix = parse_prefix(c, prefix)?;
                continue;
            }
            [] => {}
            _ => return Err(c.arg_err()),
        }
        while c.next_block() {
            match c.val() {
                "prefix" => {
                    if !c.next_arg() {
                        return Err(c.arg_err());
                    }
                    let text = c.val().to_owned();
                    dns64.prefix = parse_prefix(c, &text)?;
                }
                "translate_all" => dns64.translate_all = true,
                "allow_ipv4" => dns64.allow_ipv4 = true,
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(dns64)
}

/// A prefix, checked as CoreDNS checks it: an IPv6 CIDR of 32 to 96 bits, a multiple of 8.
/// The host bits are cleared, as Go's `ParseCIDR` returns the network.
fn parse_prefix(c: &Controller, text: &str) -> Result<Prefix, ConfigError> {
    let invalid = || c.err(format!("invalid CIDR address: {text}"));
    let (addr, len) = text.split_once('/').ok_or_else(invalid)?;
    let len: u8 = len.parse().map_err(|_| invalid())?;
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        if len > 32 {
            return Err(invalid());
        }
        let network =
            Ipv4Addr::from(u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0));
        return Err(c.err(format!("invalid netmask 32 IPv6 address: \"{network}/{len}\"")));
    }
    let v6: Ipv6Addr = addr.parse().map_err(|_| invalid())?;
    if len > 128 {
        return Err(invalid());
    }
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    let prefix = Prefix { addr: Ipv6Addr::from(u128::from(v6) & mask), len };
    if !len.is_multiple_of(8) || !(32..=96).contains(&len) {
        return Err(c.err(format!("invalid prefix length \"{prefix}\"")));
    }
    Ok(prefix)
}

/// The *dns64* handler.
#[derive(Clone)]
pub struct Dns64 {
    prefix: Prefix,
    translate_all: bool,
    allow_ipv4: bool,
    /// Lookups of the A records through the block.
    upstream: Option<Arc<Upstream>>,
}

impl std::fmt::Debug for Dns64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns64")
            .field("prefix", &self.prefix.to_string())
            .field("translate_all", &self.translate_all)
            .field("allow_ipv4", &self.allow_ipv4)
            .finish()
    }
}

impl Dns64 {
    /// RFC 6147 §5.1: AAAA in class IN, from an IPv6 client unless `allow_ipv4`.
    fn intercepts(&self, req: &Request) -> bool {
        (self.allow_ipv4 || req.family() == 2)
            && req.qtype() == RecordType::AAAA
            && req.qclass() == DNSClass::IN
    }

    /// Whether `reply` calls for translation: not NXDOMAIN, and (unless `translate_all`) no
    /// AAAA record in its answer (RFC 6147 §5.1.1, §5.1.2).
    fn translates(&self, reply: &Reply) -> Option<bool> {
        if reply.response_type()? == Type::NameError {
            return Some(false);
        }
        if self.translate_all {
            return Some(true);
        }
        let has_aaaa = match reply {
            Reply::Message { msg, .. } => aaaa_in(msg),
            // Read in place; decoded only if the bytes cannot be walked.
            Reply::Wire { wire, .. } => match wire.answers_have(RecordType::AAAA) {
                Some(has) => has,
                None => aaaa_in(&wire.decode()?),
            },
            Reply::Stream { .. } | Reply::Rcode(_) | Reply::Drop => return None,
        };
        Some(!has_aaaa)
    }
}

fn aaaa_in(msg: &Message) -> bool {
    msg.answers.iter().any(|r| r.record_type() == RecordType::AAAA)
}

impl Plugin for Dns64 {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        if !self.intercepts(req) {
            return next.run(ctx, req);
        }
        let served = next.run(ctx, req);
        // A reply ready and not to translate goes out as it is, costing one look.
        match &served {
            Serve::Ready(Ok(reply)) if self.translates(reply) != Some(true) => return served,
            Serve::Ready(Err(_)) => return served,
            _ => {}
        }
        let this = self.clone();
        let (ctx, req) = (ctx.clone(), req.clone());
        Serve::pending(async move {
            let first = served.resolve().await;
            let Ok(reply) = &first else { return first };
            if this.translates(reply) != Some(true) {
                return first;
            }
            let Ok(Some((answer, _))) = first.map(|r| r.into_message().ok()) else {
                unreachable!("a reply that translates was written")
            };
            let lookup = this
                .upstream
                .as_ref()
                .and_then(|u| u.lookup(&ctx, &req, req.qname(), RecordType::A));
            let Some(lookup) = lookup else {
                return Err(PluginError::servfail("dns64: the A lookup could not be made"));
            };
            let a_reply = match lookup.resolve().await?.into_message() {
                Ok((msg, _)) => msg,
                Err(other) => return Ok(other),
            };
            metrics::TRANSLATED.with_label_values(&[&ctx.server]).inc();
            Ok(Reply::message(this.synthesize(&req, &answer, a_reply), NAME))
        })
    }
}

impl Dns64 {
    /// CoreDNS's `Synthesize`: the A reply's records with each A made a AAAA.
    fn synthesize(&self, req: &Request, first: &Message, a_reply: Message) -> Message {
        let mut out = req.reply();
        out.metadata.truncation = a_reply.metadata.truncation;
        out.additionals = a_reply.additionals;
        out.authorities = a_reply.authorities;
        // RFC 6147 §5.1.7: at most the SOA's TTL, if the first reply had one, else 600.
        let soa_ttl = first
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.ttl)
            .next_back()
            .unwrap_or(600);
        out.answers = a_reply
            .answers
            .into_iter()
            .map(|record| match &record.data {
                RData::A(a) => {
                    let mut aaaa = Record::from_rdata(
                        record.name.clone(),
                        record.ttl.min(soa_ttl),
                        RData::AAAA(AAAA(self.prefix.embed(a.0))),
                    );
                    aaaa.dns_class = record.dns_class;
                    aaaa
                }
                _ => record,
            })
            .collect();
        out
    }
}

#[cfg(test)]
mod tests;
