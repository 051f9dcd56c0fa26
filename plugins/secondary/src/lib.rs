//! *secondary* (CoreDNS 1.14.7's `plugin/secondary`): zones transferred in from primaries by
//! AXFR and answered as *file* answers its own.
//!
//! * [`parse`] reads `secondary [ZONES...] { transfer from ADDRESS...; catalog [MEMBER-ZONES...];
//!   fallthrough [ZONES...] }`.
//! * [`xfr`] does the transfer in, bounded in time and size at every step.
//! * [`catalog`] reads an RFC 9432 catalog zone; `members` adds, resets, moves and removes
//!   the member zones it lists after each transfer of the catalog, each transferred from the
//!   catalog's primaries by a task of its own.
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
use plugin_api::pkg::zone::{
    is_subdomain, normalize, origins_from_args_or_block, split_host_port, split_transport,
};
use plugin_api::pkg::zonefile::{self, Zone, serial_newer};
use plugin_api::proto::op::OpCode;
use plugin_api::proto::rr::{Name, RData};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve};
use tokio::sync::Notify;

pub mod catalog;
mod members;
pub mod xfr;

use members::{Catalogs, Shared};

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
    /// `Some` for a catalog zone: the member zones it may add (below any of them), or any when
    /// empty.
    pub catalog: Option<Vec<String>>,
}

/// Reads every line of the directive, and its `fallthrough`.
pub fn parse(c: &mut Controller) -> Result<(Vec<Secondary>, Fall), ConfigError> {
    let mut out = Vec::new();
    let mut fall = Fall::default();
    while c.next() {
        let origins = origins_from_args_or_block(&c.remaining_args(), c.zones());
        let mut from = Vec::new();
        let mut catalog: Option<Vec<String>> = None;
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
                    let members = member_zones(&c.remaining_args()).map_err(|e| c.err(e))?;
                    catalog = Some(merge_member_zones(catalog, members));
                }
                _ => return Err(c.err(format!("unknown property '{option}'"))),
            }
        }
        if from.is_empty() {
            return Err(c.err("secondary zones require a transfer from property"));
        }
        out.extend(origins.into_iter().map(|origin| Secondary {
            origin,
            from: from.clone(),
            catalog: catalog.clone(),
        }));
    }
    Ok((out, fall))
}

/// `catalog`'s arguments as zones (CoreDNS's `catalogMemberZonesFromArgs`).
fn member_zones(args: &[String]) -> Result<Vec<String>, String> {
    let mut zones = Vec::with_capacity(args.len());
    for a in args {
        let hosts = split_host_port(split_transport(a).1).map(|(h, _)| h).unwrap_or_default();
        if hosts.is_empty() || hosts.iter().any(|h| h.is_empty()) {
            return Err(format!("invalid catalog member zone {a:?}"));
        }
        zones.extend(hosts.iter().map(|h| normalize(h)));
    }
    Ok(zones)
}

/// A second `catalog` line widens the first; either without zones allows any member.
fn merge_member_zones(before: Option<Vec<String>>, more: Vec<String>) -> Vec<String> {
    let mut zones = match before {
        Some(zones) if zones.is_empty() || more.is_empty() => return Vec::new(),
        Some(zones) => zones,
        None => Vec::with_capacity(more.len()),
    };
    for z in more {
        if !zones.contains(&z) {
            zones.push(z);
        }
    }
    zones
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
    let changes = zonefile::ZoneChanges::of(c);
    let mut table = Vec::new();
    let mut allowed = Vec::new();
    for s in &lines {
        table.push(Entry { origin: s.origin.clone(), held: Arc::new(Held::new(s.from.clone())) });
        if let Some(members) = &s.catalog {
            allowed.push((s.origin.clone(), members.clone()));
        }
    }
    let shared = Arc::new(Shared::new(table, Catalogs::new(allowed), changes));
    for (s, entry) in lines.into_iter().zip(shared.table.load().iter()) {
        // Only a catalog zone's task needs the table, to add its members.
        let catalogs = s.catalog.is_some().then(|| shared.clone());
        c.background(follow(s, entry.held.clone(), shared.changes.clone(), catalogs));
    }
    let stopping = shared.clone();
    c.on_shutdown(Box::pin(async move {
        stopping.stop_members();
        Ok(())
    }));
    Ok(Some(Arc::new(SecondaryZones { shared, fall })))
}

/// The SOA's refresh, retry and expire intervals.
fn timers(zone: &Zone) -> (Duration, Duration, Duration) {
    let RData::SOA(soa) = &zone.soa().data else {
        return (Duration::from_secs(3600), Duration::from_secs(600), Duration::from_secs(604_800));
    };
    let secs = |v: i32| Duration::from_secs(u64::from(v.max(1).unsigned_abs()));
    (secs(soa.refresh), secs(soa.retry), secs(soa.expire))
}

/// Transfers the zone from the first primary that gives a complete one, and reads it as a
/// catalog when it is one: a catalog that does not read fails the transfer, as in CoreDNS.
async fn transfer(
    s: &Secondary,
    origin: &Name,
) -> Result<(Zone, Option<catalog::Catalog>), String> {
    let mut last = String::new();
    for primary in &s.from {
        let records = match xfr::axfr(*primary, origin).await {
            Ok(records) => records,
            Err(e) => {
                last = e;
                continue;
            }
        };
        let listed = match s.catalog {
            Some(_) => match catalog::parse(&s.origin, &records) {
                Ok(c) => Some(c),
                Err(e) => {
                    last = format!("{primary}: {e}");
                    continue;
                }
            },
            None => None,
        };
        match Zone::new(origin, records) {
            Ok(zone) => return Ok((zone, listed)),
            Err(e) => last = format!("{primary}: {e}"),
        }
    }
    Err(last)
}

/// The zone's life: the first transfer, then refreshes at the SOA's timers. A catalog zone's
/// task is given the shared table, and adds and removes the members after each transfer.
async fn follow(
    s: Secondary,
    held: Arc<Held>,
    changes: zonefile::ZoneChanges,
    catalogs: Option<Arc<Shared>>,
) {
    let (slot, wake) = (&held.zone, &held.wake);
    let Ok(origin) = Name::from_ascii(&s.origin) else { return };
    let mut wait = FIRST_RETRY;
    let mut refreshed = Instant::now();
    loop {
        let current = slot.load_full();
        let due = match &current {
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
                if let Some((zone, listed)) = fresh {
                    tracing::info!(
                        "plugin/secondary: Transferred: {} from {:?} with serial {}",
                        s.origin,
                        s.from,
                        zone.serial()
                    );
                    changes.announce(&s.origin, zone.serial());
                    slot.store(Some(Arc::new(zone)));
                    if let (Some(shared), Some(listed)) = (&catalogs, listed) {
                        shared.apply(&s, listed);
                    }
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
    /// The last good copy; `None` before the first transfer and once expired.
    zone: ArcSwapOption<Zone>,
    /// Wakes the zone's task for a refresh (a NOTIFY came).
    wake: Notify,
    /// The primaries, whose NOTIFYs count.
    from: Vec<SocketAddr>,
}

impl Held {
    fn new(from: Vec<SocketAddr>) -> Self {
        Self { zone: ArcSwapOption::empty(), wake: Notify::new(), from }
    }
}

/// A zone of the table: configured, or a member a catalog added.
#[derive(Clone)]
struct Entry {
    origin: String,
    held: Arc<Held>,
}

/// The handler.
pub struct SecondaryZones {
    /// The zone table, swapped whole when a catalog changes it.
    shared: Arc<Shared>,
    /// Names that do not exist go on to the next plugin.
    fall: Fall,
}

impl Plugin for SecondaryZones {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        let table = self.shared.table.load();
        let found =
            table.iter().filter(|e| is_subdomain(&e.origin, name)).max_by_key(|e| e.origin.len());
        let Some(Entry { origin, held }) = found else { return next.run(ctx, req) };
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
        let table = self.shared.table.load();
        let entry = table.iter().find(|e| e.origin == zone)?;
        Some(entry.held.zone.load_full()?.all().collect())
    }
}

#[cfg(test)]
mod tests;
