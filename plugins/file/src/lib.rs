//! *file* (CoreDNS 1.14.7's `plugin/file`): authoritative answers from RFC 1035 zone files.
//!
//! * [`setup::parse`] reads `file DBFILE [ZONES...] { reload DURATION }`.
//! * `plugin_api::pkg::zonefile` reads zone files (every error with `file:line`) and answers
//!   from a zone as RFC 1034 §4.3.2 says; *auto* and *secondary* use it too.
//!
//! A zone is swapped whole when `reload` finds a higher SOA serial in its file; a file that no
//! longer parses leaves the old zone serving, and is reported.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, PluginError, Request, Serve};

pub mod setup;

use plugin_api::pkg::zonefile::{self as zonefile, Problem, Zone, load, serial_newer};

/// The directive's name.
pub const NAME: &str = "file";

/// Reads the directive, loads the zones and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let (lines, fall) = setup::parse(c)?;
    let changes = zonefile::ZoneChanges::of(c);
    let mut zones: Vec<(String, Arc<ArcSwapOption<Zone>>)> = Vec::new();
    for line in lines {
        // Taken before the file is read: a change made while it is read (or before the reload
        // task first runs) is newer than this, so the first check reads the file again.
        let read_at = modified(&line.file);
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
            c.background(reload(line.clone(), loaded, changes.clone(), read_at));
        }
    }
    // Secondaries hear of every zone at start (*transfer* NOTIFYs them), as CoreDNS's setup does.
    let started = zones.clone();
    c.on_startup(Box::pin(async move {
        for (origin, slot) in &started {
            if let Some(zone) = slot.load_full() {
                changes.announce(origin, zone.serial());
            }
        }
        Ok(())
    }));
    Ok(Some(Arc::new(File { zones, fall })))
}

/// Checks the file every `reload`: a zone whose serial grew (or, with `reload_by_mtime`, whose
/// file is newer; or that was never loaded) is read again and swapped in whole; a broken file
/// leaves the old zone serving. `seen` is the file's modification time when the zones were read.
async fn reload(
    line: setup::FileZones,
    zones: Vec<(String, Arc<ArcSwapOption<Zone>>)>,
    changes: zonefile::ZoneChanges,
    mut seen: Option<SystemTime>,
) {
    let file = line.file.clone();
    loop {
        tokio::time::sleep(line.reload).await;
        let now = modified(&file);
        let touched = now.is_some_and(|n| seen.is_none_or(|s| n > s));
        if line.by_mtime && !touched {
            continue;
        }
        seen = now.or(seen);
        for (origin, slot) in &zones {
            let held = slot.load_full();
            // The SOA alone says whether the file is worth reading whole.
            if !line.by_mtime
                && let Some(h) = &held
            {
                let (path, origin_owned) = (file.clone(), origin.clone());
                let serial =
                    tokio::task::spawn_blocking(move || zonefile::serial(&path, &origin_owned))
                        .await;
                if let Ok(Ok(serial)) = serial
                    && !serial_newer(serial, h.serial())
                {
                    continue;
                }
            }
            let (path, origin_owned) = (file.clone(), origin.clone());
            let Ok(result) = tokio::task::spawn_blocking(move || load(&path, &origin_owned)).await
            else {
                continue;
            };
            match result {
                Ok(fresh)
                    if line.by_mtime
                        || held
                            .as_ref()
                            .is_none_or(|h| serial_newer(fresh.serial(), h.serial())) =>
                {
                    tracing::info!(
                        "plugin/file: Successfully reloaded zone {origin:?} in {file:?} with {} SOA serial",
                        fresh.serial()
                    );
                    changes.announce(origin, fresh.serial());
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

/// The file's modification time, if it can be read.
fn modified(file: &str) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// The handler.
pub struct File {
    /// Each zone served, with its current copy (none until its file could be read).
    zones: Vec<(String, Arc<ArcSwapOption<Zone>>)>,
    /// Names that do not exist go on to the next plugin.
    fall: plugin_api::pkg::fall::Fall,
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
        if self.fall.through(name) && zonefile::is_nxdomain(&zone, req) {
            return next.run(ctx, req);
        }
        Serve::Ready(Ok(zonefile::reply(&zone, req, NAME)))
    }

    fn transfer_records(&self, zone: &str) -> Option<Vec<plugin_api::proto::rr::Record>> {
        let (_, slot) = self.zones.iter().find(|(z, _)| z == zone)?;
        Some(slot.load_full()?.all().collect())
    }
}

#[cfg(test)]
mod tests;
