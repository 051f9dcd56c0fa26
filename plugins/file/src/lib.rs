//! *file* (CoreDNS 1.14.7's `plugin/file`): authoritative answers from RFC 1035 zone files.
//!
//! * [`setup::parse`] reads `file DBFILE [ZONES...] { reload DURATION }`.
//! * [`lexer`] splits a zone file into entries with their lines; [`zonefile`] reads them into
//!   records (`$ORIGIN`, `$TTL`, `$INCLUDE`, relative names), every error with `file:line`.
//! * [`zone`] holds a zone and answers from it as RFC 1034 §4.3.2 says: CNAME chains, DNAME,
//!   wildcards, delegations with glue, DS at a cut, NXDOMAIN and NODATA with the SOA.
//!
//! A zone is swapped whole when `reload` finds a higher SOA serial in its file; a file that no
//! longer parses leaves the old zone serving, and is reported.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use plugin_api::proto::rr::Name;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Reply, Request, Serve};

pub mod lexer;
pub mod setup;
pub mod zone;
pub mod zonefile;

use zone::Zone;

/// The directive's name.
pub const NAME: &str = "file";

/// Reads the directive, loads the zones and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let lines = setup::parse(c)?;
    let mut zones = Vec::new();
    for line in lines {
        let mut loaded = Vec::new();
        for origin in &line.zones {
            let slot = Arc::new(ArcSwapOption::empty());
            match load(&line.file, origin) {
                Ok(zone) => slot.store(Some(Arc::new(zone))),
                // CoreDNS: a file that cannot be opened is fatal only without reload; with it,
                // the zone is tried again at every interval.
                Err(Problem::Open(e)) if !line.reload.is_zero() => {
                    tracing::warn!(
                        "plugin/file: Failed to open {e:?}: trying again in {}",
                        plugin_api::pkg::duration::format_go_duration(line.reload)
                    );
                }
                Err(Problem::Open(e) | Problem::Parse(e)) => {
                    return Err(ConfigError::new(format!("plugin/file: {e}")));
                }
            }
            loaded.push((origin.clone(), slot.clone()));
            zones.push((origin.clone(), slot));
        }
        if !line.reload.is_zero() {
            c.background(reload(line.file.clone(), loaded, line.reload));
        }
    }
    Ok(Some(Arc::new(File { zones })))
}

/// Why a zone could not be loaded.
#[derive(Debug)]
pub enum Problem {
    /// The file cannot be read.
    Open(String),
    /// It does not parse, or its records do not make a zone.
    Parse(String),
}

/// Reads `file` as the zone `origin`.
pub fn load(file: &str, origin: &str) -> Result<Zone, Problem> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Problem::Open(format!("open {file}: {}", plugin_api::pkg::os::error_words(&e)))
    })?;
    load_text(&text, file, origin)
}

/// Reads `text` (the file `file`) as the zone `origin`.
pub fn load_text(text: &str, file: &str, origin: &str) -> Result<Zone, Problem> {
    let origin = Name::from_ascii(origin).map_err(|e| Problem::Parse(format!("{origin}: {e}")))?;
    let records =
        zonefile::parse(text, file, &origin).map_err(|e| Problem::Parse(e.to_string()))?;
    Zone::new(&origin, records).map_err(|e| Problem::Parse(format!("{file}: {e}")))
}

/// Checks the file every `every`: a zone whose serial grew (or that was never loaded) is read
/// again and swapped in whole; a broken file leaves the old zone serving.
async fn reload(file: String, zones: Vec<(String, Arc<ArcSwapOption<Zone>>)>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        for (origin, slot) in &zones {
            let (path, origin_owned) = (file.clone(), origin.clone());
            let Ok(result) = tokio::task::spawn_blocking(move || load(&path, &origin_owned)).await
            else {
                continue;
            };
            let held = slot.load_full();
            match result {
                Ok(fresh)
                    if held.as_ref().is_none_or(|h| serial_newer(fresh.serial(), h.serial())) =>
                {
                    tracing::info!(
                        "plugin/file: Successfully reloaded zone {origin:?} in {file:?} with {} SOA serial",
                        fresh.serial()
                    );
                    slot.store(Some(Arc::new(fresh)));
                }
                Ok(_) => {}
                Err(Problem::Open(e) | Problem::Parse(e)) => {
                    tracing::error!("plugin/file: Failed to reload zone {origin:?}: {e}");
                }
            }
        }
    }
}

/// RFC 1982 serial number arithmetic: `a` is newer than `b`.
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The handler.
pub struct File {
    /// Each zone served, with its current copy (none until its file could be read).
    zones: Vec<(String, Arc<ArcSwapOption<Zone>>)>,
}

impl Plugin for File {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        let found = self
            .zones
            .iter()
            .filter(|(z, _)| plugin_api::pkg::zone::is_subdomain(z, name))
            .max_by_key(|(z, _)| z.len());
        let Some((_, slot)) = found else { return next.run(ctx, req) };
        let Some(zone) = slot.load_full() else {
            return Serve::Ready(Err(PluginError::servfail("plugin/file: zone not loaded")));
        };
        if let Some(reply) = in_wire_form(&zone, req) {
            return Serve::Ready(Ok(reply));
        }
        let found = zone.lookup(name, req.qtype());
        let mut m = req.reply();
        m.metadata.authoritative = found.authoritative;
        m.metadata.response_code = found.rcode;
        m.answers = found.answers;
        m.authorities = found.authority;
        m.additionals = found.additional;
        Serve::Ready(Ok(Reply::message(m, NAME)))
    }
}

/// The common answers written straight to wire form, as *hosts* writes its own: addresses at
/// the asked name with the apex NS in the authority section, NODATA and NXDOMAIN with the SOA.
/// `None` for the rest, which the full lookup answers.
fn in_wire_form(zone: &Zone, req: &Request) -> Option<Reply> {
    use plugin_api::pkg::wire::{ReplyWriter, Section, SoaNames, ZoneSoa};
    use plugin_api::proto::op::ResponseCode;
    use plugin_api::proto::rr::RData;
    let fast = zone.fast.as_ref()?;
    let quick = zone.quick(req.name(), req.qtype())?;
    fn soa(f: &zone::Fast) -> ZoneSoa<'_> {
        ZoneSoa {
            zone_labels: f.zone_labels,
            ttl: f.negative_ttl,
            names: SoaNames::Absolute { mname: &f.mname, rname: &f.rname },
            serial: f.timers[0],
            refresh: f.timers[1],
            retry: f.timers[2],
            expire: f.timers[3],
            minimum: f.timers[4],
        }
    }
    let mut w = ReplyWriter::new(req)?;
    match quick {
        zone::Quick::Records(records) => {
            for r in records {
                match &r.data {
                    RData::A(a) => w.a(r.ttl, a.0),
                    RData::AAAA(aaaa) => w.aaaa(r.ttl, aaaa.0),
                    _ => return None,
                }
            }
            for (ttl, target) in &fast.apex_ns {
                w.ns_in(Section::Authority, fast.zone_labels, *ttl, target);
            }
        }
        zone::Quick::NoData => w.soa(&soa(fast)),
        zone::Quick::NxDomain => {
            w.rcode(ResponseCode::NXDomain);
            w.soa(&soa(fast));
        }
    }
    Some(Reply::Wire { wire: w.finish(), by: NAME })
}

#[cfg(test)]
mod tests;
