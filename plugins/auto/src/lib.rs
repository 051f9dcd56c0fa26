//! *auto* (CoreDNS 1.14.7's `plugin/auto`): zones loaded from the zone files of a directory,
//! appearing, changing and vanishing with the files.
//!
//! * [`setup::parse`] reads `auto [ZONES...] { directory DIR [REGEXP ORIGIN_TEMPLATE]; reload
//!   DURATION }`, and [`setup::origin`] makes a file name into its zone's origin.
//! * [`scan`] walks the directory (subdirectories included) and builds the next set of zones:
//!   a file whose origin is under ZONES is loaded, a zone whose file's SOA serial grew is read
//!   again, a zone whose file went away is dropped, and a file that no longer parses leaves its
//!   zone as it was.
//! * Answers come from `plugin_api::pkg::zonefile`, as *file*'s do. A name under ZONES that no
//!   loaded zone holds goes to the next plugin, as in CoreDNS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use plugin_api::pkg::zone::is_subdomain;
use plugin_api::pkg::zonefile::{self, Zone, serial_newer};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

pub mod setup;

use setup::Settings;

/// The directive's name.
pub const NAME: &str = "auto";

/// The zones loaded: origin → (file, zone).
pub type Zones = HashMap<String, (PathBuf, Arc<Zone>)>;

/// Reads the directive, loads what the directory holds and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let s = Arc::new(setup::parse(c)?);
    let zones = Arc::new(ArcSwap::from_pointee(scan(&s, &Zones::new())));
    let changes = zonefile::ZoneChanges::of(c);
    // Secondaries hear of every zone at start (*transfer* NOTIFYs them), as in CoreDNS.
    let (started, announcing) = (zones.clone(), changes.clone());
    c.on_startup(Box::pin(async move {
        for (origin, (_, zone)) in started.load().iter() {
            announcing.announce(origin, zone.serial());
        }
        Ok(())
    }));
    if !s.reload.is_zero() {
        let (settings, held) = (s.clone(), zones.clone());
        c.background(async move {
            loop {
                tokio::time::sleep(settings.reload).await;
                let (s, before) = (settings.clone(), held.load_full());
                let scanned = before.clone();
                if let Ok(next) = tokio::task::spawn_blocking(move || scan(&s, &scanned)).await {
                    for (origin, (_, zone)) in &next {
                        let same = before.get(origin).is_some_and(|(_, z)| Arc::ptr_eq(z, zone));
                        if !same {
                            changes.announce(origin, zone.serial());
                        }
                    }
                    held.store(Arc::new(next));
                }
            }
        });
    }
    Ok(Some(Arc::new(Auto { s, zones })))
}

/// Every zone file under the directory, by origin: those of `held` kept unless their file grew
/// a higher serial (then read again) or went away (then dropped).
pub fn scan(s: &Settings, held: &Zones) -> Zones {
    let mut files = Vec::new();
    if !s.directory.is_empty() {
        walk(Path::new(&s.directory), &mut files, 0);
    }
    files.sort();
    let mut next = Zones::new();
    for file in files {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(origin) = setup::origin(s, name) else { continue };
        if !s.zones.iter().any(|z| is_subdomain(z, &origin)) || next.contains_key(&origin) {
            continue;
        }
        let shown = file.display().to_string();
        let kept = held.get(&origin).filter(|(f, _)| *f == file);
        // The SOA alone says whether a zone held is worth reading again.
        if let Some(k) = kept
            && zonefile::serial(&shown, &origin).is_ok_and(|s| !serial_newer(s, k.1.serial()))
        {
            next.insert(origin, k.clone());
            continue;
        }
        match zonefile::load(&shown, &origin) {
            Ok(fresh) => {
                let newer = kept.is_none_or(|(_, z)| serial_newer(fresh.serial(), z.serial()));
                if newer {
                    tracing::info!(
                        "plugin/auto: Successfully loaded zone {origin:?} from {shown:?} with {} SOA serial",
                        fresh.serial()
                    );
                    next.insert(origin, (file, Arc::new(fresh)));
                } else if let Some(k) = kept {
                    next.insert(origin, k.clone());
                }
            }
            Err(e) => {
                tracing::error!("plugin/auto: Failed to load zone {origin:?}: {e}");
                if let Some(k) = kept {
                    next.insert(origin, k.clone());
                }
            }
        }
    }
    for origin in held.keys().filter(|o| !next.contains_key(*o)) {
        tracing::info!("plugin/auto: Deleting zone {origin:?}");
    }
    next
}

/// The regular files under `dir`, at most 16 directories deep (a symlink loop ends there).
fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        if depth == 0 {
            tracing::warn!("plugin/auto: cannot read directory {}", dir.display());
        }
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() && depth < 16 => walk(&path, out, depth + 1),
            Ok(t) if t.is_file() || t.is_symlink() && path.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// The handler.
pub struct Auto {
    s: Arc<Settings>,
    zones: Arc<ArcSwap<Zones>>,
}

impl Plugin for Auto {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let name = req.name();
        if !self.s.zones.iter().any(|z| is_subdomain(z, name)) {
            return next.run(ctx, req);
        }
        let zones = self.zones.load();
        // The longest loaded origin the name is under.
        let mut found: Option<&Arc<Zone>> = None;
        let mut at = Some(name);
        while let Some(n) = at {
            if let Some((_, z)) = zones.get(n) {
                found = Some(z);
                break;
            }
            at = zonefile::zone::parent(n);
        }
        match found {
            Some(zone) => Serve::Ready(Ok(zonefile::reply(zone, req, NAME))),
            None => next.run(ctx, req),
        }
    }

    fn transfer_records(&self, zone: &str) -> Option<Vec<plugin_api::proto::rr::Record>> {
        let zones = self.zones.load();
        Some(zones.get(zone)?.1.all().collect())
    }
}

#[cfg(test)]
mod tests;
