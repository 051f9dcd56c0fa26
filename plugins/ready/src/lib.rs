//! *ready*: answers `/ready` with `200 OK` once every plugin that reports readiness is ready,
//! else `503` and the sorted names of those that are not.
//!
//! * [`setup::parse`] reads `ready [ADDRESS] { monitor until-ready|continuously }`.
//! * [`setup()`] asks the server for `/ready` at the address (default `:8181`) and, when serving
//!   starts, collects the block's plugins whose [`Plugin::ready`] says something. All blocks of
//!   one configuration that use *ready* report together, as in CoreDNS.
//! * From the moment a stop begins, `/ready` answers `503 Shutting down`, so that endpoints are
//!   taken out of rotation while DNS is still answered (CoreDNS only says so once its listeners
//!   are closing).

pub mod setup;

use std::sync::{Arc, Mutex};

use plugin_api::pkg::http::{HttpResponse, shutting_down};
use plugin_api::{ConfigError, Controller, Plugin};
use setup::{Monitor, parse};

/// The directive's name.
pub const NAME: &str = "ready";

/// The plugins `/ready` asks, shared by every block of one configuration.
#[derive(Default)]
pub struct Watched {
    inner: Mutex<WatchedInner>,
}

#[derive(Default)]
struct WatchedInner {
    /// Each plugin, and whether it has been seen ready (then, until-ready, it is not asked again).
    plugins: Vec<(Arc<dyn Plugin>, bool)>,
    keep_asking: bool,
}

impl Watched {
    /// Adds `plugin` unless a plugin of the same name is already watched.
    pub fn add(&self, plugin: Arc<dyn Plugin>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.plugins.iter().any(|(p, _)| p.name() == plugin.name()) {
            inner.plugins.push((plugin, false));
        }
    }

    /// The names of the plugins not ready, sorted and joined with commas; empty if all are.
    pub fn not_ready(&self) -> String {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let keep_asking = inner.keep_asking;
        let mut names = Vec::new();
        for (plugin, seen_ready) in &mut inner.plugins {
            if *seen_ready && !keep_asking {
                continue;
            }
            if plugin.ready() == Some(false) {
                names.push(plugin.name());
            } else {
                *seen_ready = true;
            }
        }
        names.sort_unstable();
        names.dedup();
        names.join(",")
    }
}

/// The answer to `GET /ready`.
pub fn answer(watched: &Watched) -> HttpResponse {
    if shutting_down() {
        return HttpResponse::text(503, "Shutting down");
    }
    let not_ready = watched.not_ready();
    if not_ready.is_empty() {
        return HttpResponse::text(200, "OK");
    }
    tracing::info!("plugin/ready: Plugins not ready: {not_ready:?}");
    HttpResponse::text(503, not_ready)
}

/// Sets up `/ready`. Not a handler: returns no plugin.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = parse(c)?;
    let watched = c.shared::<Watched>();
    if options.monitor == Monitor::Continuously {
        watched.inner.lock().unwrap_or_else(|e| e.into_inner()).keep_asking = true;
    }
    let for_http = watched.clone();
    c.http(&options.addr, "/ready", NAME, Arc::new(move || answer(&for_http)));
    let chain = c.block_chain();
    c.on_startup(Box::pin(async move {
        for plugin in chain.get().into_iter().flat_map(|c| c.iter()) {
            if plugin.ready().is_some() {
                watched.add(plugin.clone());
            }
        }
        Ok(())
    }));
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use plugin_api::{Ctx, Next, Request, Serve};

    use super::*;
    use crate::setup::Options;

    fn opts(input: &str) -> Result<Options, String> {
        parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
    }

    #[test]
    fn setup_table() {
        assert_eq!(
            opts("ready").unwrap(),
            Options { addr: ":8181".into(), monitor: Monitor::UntilReady }
        );
        assert_eq!(opts("ready localhost:9000").unwrap().addr, "localhost:9000");
        assert_eq!(
            opts("ready {\n monitor continuously\n}").unwrap().monitor,
            Monitor::Continuously
        );
        let rows = [
            (
                "ready 8181",
                "Testfile:1 - Error during parsing: address 8181: missing port in address",
            ),
            (
                "ready {\n monitor sometimes\n}",
                "Testfile:2 - Error during parsing: monitor type 'sometimes' not supported",
            ),
            (
                "ready {\n monitor\n}",
                "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'monitor'",
            ),
            ("ready {\n nope\n}", "Testfile:2 - Error during parsing: unknown property 'nope'"),
        ];
        for (input, want) in rows {
            assert_eq!(opts(input).unwrap_err(), want, "{input}");
        }
    }

    struct Flag(&'static str, AtomicBool);

    impl Plugin for Flag {
        fn name(&self) -> &'static str {
            self.0
        }
        fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
            next.run(ctx, req)
        }
        fn ready(&self) -> Option<bool> {
            Some(self.1.load(Ordering::SeqCst))
        }
    }

    #[test]
    fn not_ready_names_are_sorted_and_until_ready_remembers() {
        let zeta = Arc::new(Flag("zeta", AtomicBool::new(false)));
        let alpha = Arc::new(Flag("alpha", AtomicBool::new(false)));
        let watched = Watched::default();
        watched.add(zeta.clone());
        watched.add(alpha.clone());
        let r = answer(&watched);
        assert_eq!((r.status, String::from_utf8(r.body).unwrap()), (503, "alpha,zeta".to_string()));
        alpha.1.store(true, Ordering::SeqCst);
        zeta.1.store(true, Ordering::SeqCst);
        assert_eq!(answer(&watched).status, 200);
        // Until-ready: once ready, a plugin is not asked again.
        zeta.1.store(false, Ordering::SeqCst);
        assert_eq!(answer(&watched).status, 200);
        // Continuously: it is.
        watched.inner.lock().unwrap().keep_asking = true;
        let r = answer(&watched);
        assert_eq!((r.status, String::from_utf8(r.body).unwrap()), (503, "zeta".to_string()));
    }
}
