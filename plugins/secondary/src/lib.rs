//! *secondary* (CoreDNS 1.14.7's `plugin/secondary`): zones transferred in from primaries by
//! AXFR and answered as *file* answers its own.
//!
//! * [`parse`] reads `secondary [ZONES...] { transfer from ADDRESS...; fallthrough [ZONES...] }`.
//!   RFC 9432 catalog zones (`catalog`, new in CoreDNS 1.14) are refused by name: not built yet.
//! * [`xfr`] does the transfer in, bounded in time and size at every step.
//! * Each zone has a task of its own: it transfers the zone (from each primary in turn) until
//!   one succeeds, then asks for the SOA serial at the SOA's refresh interval and transfers again
//!   when it grew; after a failure it tries again at the retry interval; a zone not refreshed
//!   within its expire time is dropped and answers SERVFAIL, as an expired secondary must
//!   (RFC 1034 §4.3.5). Until then, and whatever a primary sends, the last good copy answers.
//!   Refreshes wait up to 5 s more at random, retries up to 2 s, as CoreDNS's do.
//! * A NOTIFY for a zone from one of its primaries is answered and starts a refresh at once; one
//!   from anyone else is dropped unanswered, as CoreDNS drops it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::{is_subdomain, origins_from_args_or_block, split_host_port};
use plugin_api::pkg::zonefile::{self, Zone, serial_newer};
use plugin_api::proto::op::OpCode;
use plugin_api::proto::rr::{Name, RData};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve};
use tokio::sync::Notify;

pub mod xfr;

/// The directive's name.
pub const NAME: &str = "secondary";

/// The first wait between attempts before a zone was ever transferred, doubled each time up to
/// [`FIRST_RETRY_MAX`] (CoreDNS's `transferAndUpdate`).
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between attempts before a zone was ever transferred.
const FIRST_RETRY_MAX: Duration = Duration::from_secs(10);

/// One zone and its primaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secondary {
    /// The zone.
    pub origin: String,
    /// The primaries, tried in order.
    pub from: Vec<SocketAddr>,
}

/// Reads every line of the directive, and its `fallthrough`.
pub fn parse(c: &mut Controller) -> Result<(Vec<Secondary>, Fall), ConfigError> {
    let mut out = Vec::new();
    let mut fall = Fall::default();
    while c.next() {
        let origins = origins_from_args_or_block(&c.remaining_args(), c.zones());
        let mut from = Vec::new();
        while c.next_block() {
            let option = c.val().to_owned();
            match option.as_str() {
                "transfer" => {
                    if !c.next_arg() {
                        return Err(c.arg_err());
                    }
                    let direction = c.val().to_string();
                    if direction != "from" {
                        return Err(c.err(format!("unknown property {direction}")));
                    }
                    let args = c.remaining_args();
                    if args.is_empty() {
                        return Err(c.arg_err());
                    }
                    for a in args {
                        if a == "*" {
                            return Err(ConfigError::new("can't use '*' in transfer from"));
                        }
                        from.push(address(&a).map_err(|e| c.err(e))?);
                    }
                }
                "fallthrough" => fall = Fall::from_args(&c.remaining_args()),
                "catalog" => {
                    return Err(c.err("catalog zones (RFC 9432) are not supported by ferrodns yet"));
                }
                _ => return Err(c.err(format!("unknown property '{option}'"))),
            }
        }
        if from.is_empty() {
            return Err(c.err("secondary zones require a transfer from property"));
        }
        out.extend(origins.into_iter().map(|origin| Secondary { origin, from: from.clone() }));
    }
    Ok((out, fall))
}

/// `HOST[:PORT]` as an address, port 53 when none is given (CoreDNS's `parse.HostPort`).
fn address(text: &str) -> Result<SocketAddr, String> {
    let (hosts, port) = split_host_port(text)?;
    let bad = || format!("must specify an IP address: `{text}'");
    let host = hosts.first().ok_or_else(bad)?.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = host.parse().map_err(|_| bad())?;
    let port: u16 = port.as_deref().unwrap_or("53").parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip, port))
}

/// Reads the directive and starts each zone's transfers.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let (lines, fall) = parse(c)?;
    let mut zones = Vec::new();
    for s in lines {
        let held =
            Held { zone: Arc::default(), wake: Arc::new(Notify::new()), from: s.from.clone() };
        let changes = zonefile::ZoneChanges::of(c);
        c.background(follow(s.clone(), held.zone.clone(), held.wake.clone(), changes));
        zones.push((s.origin, held));
    }
    Ok(Some(Arc::new(SecondaryZones { zones, fall })))
}

/// The SOA's refresh, retry and expire intervals.
fn timers(zone: &Zone) -> (Duration, Duration, Duration) {
    let RData::SOA(soa) = &zone.soa().data else {
        return (Duration::from_secs(3600), Duration::from_secs(600), Duration::from_secs(604_800));
    };
    let secs = |v: i32| Duration::from_secs(u64::from(v.max(1).unsigned_abs()));
    (secs(soa.refresh), secs(soa.retry), secs(soa.expire))
}

/// Transfers the zone from the first primary that gives a complete one.
async fn transfer(s: &Secondary, origin: &Name) -> Result<Zone, String> {
    let mut last = String::new();
    for primary in &s.from {
        match xfr::axfr(*primary, origin).await {
            Ok(records) => match Zone::new(origin, records) {
                Ok(zone) => return Ok(zone),
                Err(e) => last = format!("{primary}: {e}"),
            },
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The zone's life: the first transfer, then refreshes at the SOA's timers.
async fn follow(
    s: Secondary,
    slot: Arc<ArcSwapOption<Zone>>,
    wake: Arc<Notify>,
    changes: zonefile::ZoneChanges,
) {
    let Ok(origin) = Name::from_ascii(&s.origin) else { return };
    let mut wait = FIRST_RETRY;
    let mut refreshed = Instant::now();
    loop {
        let held = slot.load_full();
        let due = match &held {
            // Only what a primary says is newer is transferred again.
            Some(zone) => {
                let mut newer = None;
                for primary in &s.from {
                    if let Ok(serial) = xfr::serial(*primary, &origin).await {
                        newer = Some(serial_newer(serial, zone.serial()));
                        break;
                    }
                }
                newer
            }
            None => Some(true),
        };
        let outcome = match due {
            Some(true) => transfer(&s, &origin).await.map(Some),
            Some(false) => Ok(None),
            None => Err("no primary answered the SOA query".to_string()),
        };
        match outcome {
            Ok(fresh) => {
                if let Some(zone) = fresh {
                    tracing::info!(
                        "plugin/secondary: Transferred: {} from {:?} with serial {}",
                        s.origin,
                        s.from,
                        zone.serial()
                    );
                    changes.announce(&s.origin, zone.serial());
                    slot.store(Some(Arc::new(zone)));
                }
                refreshed = Instant::now();
                wait = slot.load_full().map_or(FIRST_RETRY_MAX, |z| timers(&z).0) + jitter(5);
            }
            Err(e) => match slot.load_full() {
                Some(zone) => {
                    tracing::error!("plugin/secondary: Failed to refresh {}: {e}", s.origin);
                    let (_, retry, expire) = timers(&zone);
                    if refreshed.elapsed() >= expire {
                        tracing::error!("plugin/secondary: Zone {} expired", s.origin);
                        slot.store(None);
                    }
                    wait = retry;
                }
                None => {
                    tracing::warn!(
                        "plugin/secondary: All '{}' masters failed to transfer, retrying in {}: {e}",
                        s.origin,
                        plugin_api::pkg::duration::format_go_duration(wait)
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(FIRST_RETRY_MAX);
                    continue;
                }
            },
        }
        // A NOTIFY from a primary cuts the wait short.
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
    }
}

/// Up to `secs` seconds, at random.
fn jitter(secs: u64) -> Duration {
    Duration::from_millis(plugin_api::pkg::random::next_u64() % (secs * 1000 + 1))
}

/// One zone as the handler holds it.
struct Held {
    zone: Arc<ArcSwapOption<Zone>>,
    /// Wakes the zone's task for a refresh (a NOTIFY came).
    wake: Arc<Notify>,
    /// The primaries, whose NOTIFYs count.
    from: Vec<SocketAddr>,
}

/// The handler.
pub struct SecondaryZones {
    zones: Vec<(String, Held)>,
    /// Names that do not exist go on to the next plugin.
    fall: Fall,
}

impl Plugin for SecondaryZones {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        let found =
            self.zones.iter().filter(|(z, _)| is_subdomain(z, name)).max_by_key(|(z, _)| z.len());
        let Some((origin, held)) = found else { return next.run(ctx, req) };
        if req.metadata().op_code == OpCode::Notify {
            if !held.from.iter().any(|f| f.ip() == req.ip()) {
                tracing::info!("plugin/secondary: Dropping notify from {} for {origin}", req.ip());
                return Serve::Ready(Ok(Reply::Drop));
            }
            tracing::info!(
                "plugin/secondary: Notify from {} for {origin}: checking transfer",
                req.ip()
            );
            held.wake.notify_one();
            let mut m = req.reply();
            m.metadata.authoritative = true;
            return Serve::Ready(Ok(Reply::message(m, NAME)));
        }
        let Some(zone) = held.zone.load_full() else {
            return Serve::Ready(Err(PluginError::servfail(
                "plugin/secondary: zone not transferred yet, or expired",
            )));
        };
        if self.fall.through(name) && zonefile::is_nxdomain(&zone, req) {
            return next.run(ctx, req);
        }
        Serve::Ready(Ok(zonefile::reply(&zone, req, NAME)))
    }

    fn transfer_records(&self, zone: &str) -> Option<Vec<plugin_api::proto::rr::Record>> {
        let (_, held) = self.zones.iter().find(|(z, _)| z == zone)?;
        Some(held.zone.load_full()?.all().collect())
    }
}

#[cfg(test)]
mod tests;
