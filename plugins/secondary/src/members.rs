//! The zone table and the member zones catalogs add to it, as CoreDNS 1.14.7's
//! `plugin/secondary/catalog.go` manages them.
//!
//! After each transfer of a catalog zone its members are compared with the table:
//!
//! * a new member (allowed by `catalog MEMBER-ZONES`) is added and transferred from the
//!   catalog's primaries by a task of its own;
//! * a member whose ID changed is reset: its data dropped and transferred again (RFC 9432 §5.3);
//! * a member another catalog owns moves here only when that catalog's `coo` property names this
//!   one (§5.4), keeping its data when both catalogs give it the same ID;
//! * a configured zone, or a member another catalog owns without `coo`, is left alone, with a
//!   warning, as CoreDNS leaves it;
//! * a member no longer listed is removed and its task stopped.
//!
//! Queries read the table through one `ArcSwap` load; only this module writes it, under the
//! catalogs' lock, and swaps it whole.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use plugin_api::pkg::zone::is_subdomain;
use plugin_api::pkg::zonefile::ZoneChanges;
use tokio::task::AbortHandle;

use crate::catalog::{Catalog, Member};
use crate::{Entry, Held, Secondary, follow};

/// What the handler and the zones' tasks share.
pub(crate) struct Shared {
    /// Every zone served, configured ones first.
    pub(crate) table: ArcSwap<Vec<Entry>>,
    catalogs: Mutex<Catalogs>,
    /// Where new serials are announced (for *transfer*'s NOTIFYs).
    pub(crate) changes: ZoneChanges,
}

/// The catalogs' state.
pub(crate) struct Catalogs {
    /// Each catalog zone and the member zones it may add (any, when empty).
    allowed: HashMap<String, Vec<String>>,
    /// The last catalog read from each catalog zone.
    listed: HashMap<String, Catalog>,
    /// The member zones catalogs added, by zone.
    added: HashMap<String, Added>,
}

/// A member zone in the table.
struct Added {
    /// The catalog zone that owns it.
    catalog: String,
    /// Its ID in that catalog.
    id: String,
    /// Its task.
    task: AbortHandle,
}

impl Catalogs {
    pub(crate) fn new(allowed: Vec<(String, Vec<String>)>) -> Self {
        Self {
            allowed: allowed.into_iter().collect(),
            listed: HashMap::new(),
            added: HashMap::new(),
        }
    }

    fn allows(&self, catalog: &str, zone: &str) -> bool {
        self.allowed
            .get(catalog)
            .is_some_and(|zones| zones.is_empty() || zones.iter().any(|z| is_subdomain(z, zone)))
    }
}

impl Drop for Catalogs {
    fn drop(&mut self) {
        for added in self.added.values() {
            added.task.abort();
        }
    }
}

/// Starts a member zone's task. Boxed: `follow` spawns this from within itself.
fn start(s: Secondary, held: Arc<Held>, changes: ZoneChanges) -> AbortHandle {
    let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(follow(s, held, changes, None));
    tokio::spawn(task).abort_handle()
}

impl Shared {
    pub(crate) fn new(table: Vec<Entry>, catalogs: Catalogs, changes: ZoneChanges) -> Self {
        Self { table: ArcSwap::from_pointee(table), catalogs: Mutex::new(catalogs), changes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Catalogs> {
        self.catalogs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every member zone's task (the server is shutting down or reloading).
    pub(crate) fn stop_members(&self) {
        for added in self.lock().added.values() {
            added.task.abort();
        }
    }

    /// Brings the table in line with `listed`, just transferred from catalog zone `from`.
    pub(crate) fn apply(&self, from: &Secondary, listed: Catalog) {
        let catalog = from.origin.as_str();
        let mut state = self.lock();
        let mut table: Vec<Entry> = self.table.load().iter().cloned().collect();
        let mut rejected = 0;
        for member in &listed.members {
            if !state.allows(catalog, &member.zone) {
                rejected += 1;
                continue;
            }
            let present = table.iter().position(|e| e.origin == member.zone);
            let (at, keep) = match (present, state.added.get(&member.zone)) {
                (None, _) => {
                    tracing::info!(
                        "plugin/secondary: Added catalog member zone {} from catalog {catalog}",
                        member.zone
                    );
                    (None, None)
                }
                (Some(_), Some(owned)) if owned.catalog == catalog && owned.id == member.id => {
                    continue;
                }
                (Some(at), Some(owned)) if owned.catalog == catalog => {
                    tracing::info!(
                        "plugin/secondary: Reset catalog member zone {} from {catalog} after member ID changed from {} to {}",
                        member.zone,
                        owned.id,
                        member.id
                    );
                    (Some(at), None)
                }
                (Some(at), Some(owned)) => {
                    let source =
                        state.listed.get(&owned.catalog).and_then(|c| c.member(&member.zone));
                    let Some(source) = source.filter(|s| s.coo.as_deref() == Some(catalog)) else {
                        skip(&member.zone, catalog);
                        continue;
                    };
                    let same = owned.id == source.id && source.id == member.id;
                    migrated(member, &owned.catalog, catalog, &source.id, same);
                    (Some(at), same.then(|| table[at].held.zone.load_full()).flatten())
                }
                (Some(_), None) => {
                    skip(&member.zone, catalog);
                    continue;
                }
            };
            let held = Arc::new(Held::new(from.from.clone()));
            held.zone.store(keep);
            let s =
                Secondary { origin: member.zone.clone(), from: from.from.clone(), catalog: None };
            let task = start(s, held.clone(), self.changes.clone());
            let entry = Entry { origin: member.zone.clone(), held };
            match at {
                Some(at) => table[at] = entry,
                None => table.push(entry),
            }
            let added = Added { catalog: catalog.to_owned(), id: member.id.clone(), task };
            if let Some(before) = state.added.insert(member.zone.clone(), added) {
                before.task.abort();
            }
        }
        let gone: Vec<String> = state
            .added
            .iter()
            .filter(|(zone, a)| a.catalog == catalog && listed.member(zone).is_none())
            .map(|(zone, _)| zone.clone())
            .collect();
        for zone in gone {
            if let Some(a) = state.added.remove(&zone) {
                a.task.abort();
            }
            table.retain(|e| e.origin != zone);
            tracing::info!(
                "plugin/secondary: Removed catalog member zone {zone} from catalog {catalog}"
            );
        }
        if rejected > 0 {
            tracing::warn!(
                "plugin/secondary: Skipped {rejected} member zones from catalog {catalog}: outside configured member zones"
            );
        }
        tracing::info!(
            "plugin/secondary: Parsed catalog zone {catalog} with {} member zones",
            listed.members.len()
        );
        state.listed.insert(catalog.to_owned(), listed);
        self.table.store(Arc::new(table));
    }
}

fn skip(zone: &str, catalog: &str) {
    tracing::warn!(
        "plugin/secondary: Skipping catalog member zone {zone} from {catalog}: zone already exists"
    );
}

fn migrated(member: &Member, source: &str, target: &str, source_id: &str, kept: bool) {
    if kept {
        tracing::info!(
            "plugin/secondary: Migrated catalog member zone {} from catalog {source} to {target}, preserving state for member ID {source_id}",
            member.zone
        );
    } else {
        tracing::info!(
            "plugin/secondary: Migrated catalog member zone {} from catalog {source} to {target} with state reset after member identity changed from {source_id} to {}",
            member.zone,
            member.id
        );
    }
}
