//! Keeping the index current from a live API server, with kube's watchers, on a thread of its
//! own (as *kubernetes* does, so list decoding never delays the server's workers).
//!
//! One watch per configured kind, and one on Gateways when a route kind is configured. A kind
//! that comes from a CRD (the Gateway API's, external-dns's DNSEndpoint) is first asked for
//! with a one-item list: if the API server does not serve it (404), it is logged, counts as
//! listed (empty), and is asked for again after 1 s, 2 s, 4 s... and then every
//! [`PROBE_EVERY`], so installing the CRD later starts its watch without a restart. A (re)list replaces a kind's objects only when it is
//! complete; until every kind has listed once, the zone answers SERVFAIL, as k8s_gateway does.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::ListParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Config, Resource};
use tokio::sync::Notify;

use crate::index::{Index, Store};
use crate::objects::{self, Kind, Object};
use crate::setup::Options;
use crate::types::{DnsEndpoint, Gateway, GrpcRoute, HttpRoute, TlsRoute};

/// The index is published at most this often, however many changes arrive.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(50);
/// How often, at the longest, a kind the API server does not serve is asked for again.
pub const PROBE_EVERY: Duration = Duration::from_secs(30);

struct Shared {
    state: Mutex<State>,
    dirty: Notify,
}

#[derive(Default)]
struct State {
    store: Store,
    /// Kinds that have listed once, or that the API server does not serve.
    listed: HashSet<Kind>,
}

/// The kinds watched for `o`: its resources, and Gateways for routes.
pub fn kinds(o: &Options) -> Vec<Kind> {
    let mut kinds = o.resources.clone();
    if kinds.iter().any(|k| k.is_route()) {
        kinds.push(Kind::Gateway);
    }
    kinds
}

/// Starts the watches on a thread named `ferrodns-k8s-gw` with a runtime of its own. The
/// receiver gets `Ok` once they run, or why no client could be made. `stop` ends them.
pub fn spawn(
    o: Arc<Options>,
    index: Arc<ArcSwap<Index>>,
    stop: Arc<Notify>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<Result<(), String>>> {
    let (started, started_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("ferrodns-k8s-gw".into()).spawn(move || {
        runtime.block_on(async move {
            let client = match client(&o).await {
                Ok(client) => client,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            start(client, o, index);
            let _ = started.send(Ok(()));
            stop.notified().await;
        });
    })?;
    Ok(started_rx)
}

/// The client: from `kubeconfig FILE [CONTEXT]`, else from the usual places (`$KUBECONFIG`,
/// `~/.kube/config`, the in-cluster service account).
async fn client(o: &Options) -> Result<Client, String> {
    let config = match &o.kubeconfig {
        Some((file, context)) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(file)
                .map_err(|e| format!("kubeconfig {file}: {e}"))?;
            let options =
                kube::config::KubeConfigOptions { context: context.clone(), ..Default::default() };
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("kubeconfig {file}: {e}"))?
        }
        None => Config::infer().await.map_err(|e| e.to_string())?,
    };
    Client::try_from(config).map_err(|e| e.to_string())
}

fn start(client: Client, o: Arc<Options>, index: Arc<ArcSwap<Index>>) {
    let shared = Arc::new(Shared { state: Mutex::default(), dirty: Notify::new() });
    let kinds = kinds(&o);
    tokio::spawn(publish(shared.clone(), o.resources.clone(), kinds.clone(), index));
    for kind in kinds {
        let (s, c) = (shared.clone(), client.clone());
        let ingress_classes = o.ingress_classes.clone();
        let gateway_classes = o.gateway_classes.clone();
        match kind {
            Kind::Ingress => tokio::spawn(watch(Api::<Ingress>::all(c), s, kind, move |i| {
                objects::ingress(i, &ingress_classes)
            })),
            Kind::Service => tokio::spawn(watch(Api::<Service>::all(c), s, kind, objects::service)),
            Kind::HttpRoute => tokio::spawn(watch(Api::<HttpRoute>::all(c), s, kind, |r| {
                objects::route(r, r.spec.as_ref())
            })),
            Kind::TlsRoute => tokio::spawn(watch(Api::<TlsRoute>::all(c), s, kind, |r| {
                objects::route(r, r.spec.as_ref())
            })),
            Kind::GrpcRoute => tokio::spawn(watch(Api::<GrpcRoute>::all(c), s, kind, |r| {
                objects::route(r, r.spec.as_ref())
            })),
            Kind::DnsEndpoint => {
                tokio::spawn(watch(Api::<DnsEndpoint>::all(c), s, kind, objects::dns_endpoint))
            }
            Kind::Gateway => tokio::spawn(watch(Api::<Gateway>::all(c), s, kind, move |g| {
                objects::gateway(g, &gateway_classes)
            })),
        };
    }
}

/// Returns once the API server serves `api`'s kind; while it says it does not, counts the kind
/// as listed and asks again, ever less often down to every [`PROBE_EVERY`].
async fn wait_until_served<K>(api: &Api<K>, shared: &Shared, kind: Kind)
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut said = false;
    let mut pause = Duration::from_secs(1);
    loop {
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                if !said {
                    tracing::info!(
                        "plugin/k8s_gateway: {}s are not served by the API server (CRD not installed); not watched until they are",
                        kind.name()
                    );
                    said = true;
                }
                shared.state.lock().unwrap_or_else(|e| e.into_inner()).listed.insert(kind);
                shared.dirty.notify_one();
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PROBE_EVERY);
            }
            // Anything else (the API away, a 403) is the watcher's to retry and report.
            Err(_) => return,
        }
    }
}

/// Follows one kind. A list arrives as Init, InitApply..., InitDone and replaces the kind's
/// objects at InitDone, so answers never see half a list.
async fn watch<K, R>(api: Api<K>, shared: Arc<Shared>, kind: Kind, reduce: R)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    R: Fn(&K) -> Object + Send + Sync + 'static,
{
    if kind.is_custom() {
        wait_until_served(&api, &shared, kind).await;
    }
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listing = BTreeMap::new();
    let mut last_error = String::new();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!("plugin/k8s_gateway: watching {}s: {text}", kind.name());
                    last_error = text;
                }
                continue;
            }
        };
        last_error.clear();
        // A list is gathered apart and changes nothing until it is complete.
        match event {
            Event::Init => {
                listing.clear();
                continue;
            }
            Event::InitApply(obj) => {
                listing.insert(objects::key_of(&obj), reduce(&obj));
                continue;
            }
            _ => {}
        }
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::InitDone => {
                state.store.replace(kind, std::mem::take(&mut listing));
                state.listed.insert(kind);
            }
            Event::Apply(obj) => state.store.put(kind, objects::key_of(&obj), reduce(&obj)),
            Event::Delete(obj) => state.store.delete(kind, &objects::key_of(&obj)),
            Event::Init | Event::InitApply(_) => {}
        }
        drop(state);
        shared.dirty.notify_one();
    }
}

/// Rebuilds and publishes the index whenever objects changed, at most every [`PUBLISH_EVERY`].
async fn publish(
    shared: Arc<Shared>,
    resources: Vec<Kind>,
    kinds: Vec<Kind>,
    index: Arc<ArcSwap<Index>>,
) {
    let (mut trimmer, mut was_synced) = (plugin_api::pkg::trim::Trimmer::default(), false);
    loop {
        shared.dirty.notified().await;
        tokio::time::sleep(PUBLISH_EVERY).await;
        let fresh = {
            let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let synced = kinds.iter().all(|k| state.listed.contains(k));
            Index::build(&resources, &state.store, synced)
        };
        let synced = fresh.synced;
        index.store(Arc::new(fresh));
        // The first lists' pages of full API objects were just freed (all Services of the
        // cluster, when Service is watched): hand them back now, then at most every 10 s.
        trimmer.after_publish(synced && !was_synced);
        was_synced |= synced;
    }
}
