//! Keeping the index current from a live API server, with kube's watcher.
//!
//! One watch per kind (Services, EndpointSlices and Namespaces always; Pods with `pods
//! verified`; ServiceImports and multicluster EndpointSlices with `multicluster`). Each event changes the [`Store`] in place (an added, changed or deleted object
//! replaces what it names and nothing else), and a publisher hands the store's index to the
//! queries at most every [`PUBLISH_EVERY`]. A (re)list replaces a kind's objects only when it is
//! complete, so a relist after `410 Gone` or an API restart never leaves a gap in answers, and
//! objects it finds unchanged cost nothing; while the API is away, the last objects keep
//! answering. The index counts as synced once every watch has listed once.
//!
//! The watches run on a thread of their own with a single-threaded runtime ([`spawn`]), not on
//! the server's workers. A list of a large cluster decodes megabytes of JSON: on the workers it
//! would delay the TCP, forward and HTTP tasks sharing them, and its garbage and the index it
//! leaves would be spread over each worker's malloc arena, every one keeping its own high-water
//! mark of half-filled pages (bench/README.md, "Figures behind the code").

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use plugin_api::pkg::metrics::prometheus::exponential_buckets;
use plugin_api::pkg::metrics::{self, prometheus::HistogramOpts, prometheus::HistogramVec};
use tokio::sync::Notify;

use crate::index::Index;
use crate::mcs::{self, ServiceImport};
use crate::objects;
use crate::selector::Selector;
use crate::setup::{Options, PodMode};
use crate::store::{ListedKeys, Object, ObjectKind, Store};

/// The index is published at most this often, however many changes arrive.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// What the watches change and the publisher reads.
struct State {
    store: Store,
    /// Kinds that have listed at least once.
    listed: HashSet<ObjectKind>,
    /// When the changes waiting for the next index were triggered (EndpointSlices of headless
    /// Services that carry `endpoints.kubernetes.io/last-change-trigger-time`).
    triggered: Vec<SystemTime>,
    /// A kind finished listing again (a relist): the next publication trims the heap.
    relisted: bool,
}

struct Shared {
    state: Mutex<State>,
    dirty: Notify,
    kinds: Vec<ObjectKind>,
}

/// Starts the watches on a thread named `ferrodns-kube` with a runtime of its own. The receiver
/// gets `Ok` once they are running, or why the API client could not be configured (the thread
/// then ends). `stop` ends them: the thread drops its runtime and every task with it.
pub fn spawn(
    o: Arc<Options>,
    index: Arc<ArcSwap<Index>>,
    stop: Arc<Notify>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<Result<(), String>>> {
    let (started, started_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("ferrodns-kube".into()).spawn(move || {
        runtime.block_on(async move {
            let client = match crate::api_client::client(&o).await {
                Ok(client) => client,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            start(client, &o, index);
            let _ = started.send(Ok(()));
            stop.notified().await;
        });
    })?;
    Ok(started_rx)
}

/// Starts the watches on the current runtime, which owns them: dropping it ends them. `index`
/// is replaced as objects arrive.
fn start(client: Client, o: &Options, index: Arc<ArcSwap<Index>>) {
    let mut kinds = vec![ObjectKind::Service, ObjectKind::Slice, ObjectKind::Namespace];
    if o.noendpoints {
        kinds.retain(|k| *k != ObjectKind::Slice);
    }
    if o.pods == PodMode::Verified {
        kinds.push(ObjectKind::Pod);
    }
    if !o.multicluster.is_empty() {
        kinds.extend([ObjectKind::Import, ObjectKind::ClustersetSlice]);
    }
    let state = State {
        store: Store::new(o.filter.strict_namespaces()),
        listed: HashSet::new(),
        triggered: Vec::new(),
        relisted: false,
    };
    let shared =
        Arc::new(Shared { state: Mutex::new(state), dirty: Notify::new(), kinds: kinds.clone() });
    tokio::spawn(publish(shared.clone(), index));
    let cfg = watcher::Config::default();
    // The API server applies the selectors to lists and watches, so unselected objects never
    // reach this process. EndpointSlices are asked for with the label that says which Service
    // (or ServiceImport) they serve: those without it cannot be answered for.
    let selected = |s: &Option<Selector>, required: Option<&str>| {
        let text = match (s, required) {
            (Some(s), Some(r)) => format!("{},{r}", s.as_str()),
            (Some(s), None) => s.as_str().to_string(),
            (None, Some(r)) => r.to_string(),
            (None, None) => return cfg.clone(),
        };
        cfg.clone().labels(&text)
    };
    let object_cfg = selected(&o.filter.labels, None);
    let namespace_cfg = selected(&o.filter.namespace_labels, None);
    let slice_cfg = selected(&o.filter.labels, Some(objects::SERVICE_NAME_LABEL));
    let clusterset_slice_cfg = selected(&o.filter.labels, Some(mcs::SERVICE_NAME_LABEL));
    let pod_names = o.endpoint_pod_names;
    let keep = objects::Keep { pod_names, zones: o.zonal };
    for kind in kinds {
        let s = shared.clone();
        match kind {
            ObjectKind::Service => tokio::spawn(watch(
                Api::<Service>::all(client.clone()),
                object_cfg.clone(),
                s,
                kind,
                |svc: &Service| objects::service(svc).map(|s| Object::Service(Arc::new(s))),
                no_trigger,
            )),
            ObjectKind::Slice => tokio::spawn(watch(
                Api::<EndpointSlice>::all(client.clone()),
                slice_cfg.clone(),
                s,
                kind,
                move |es: &EndpointSlice| {
                    objects::slice(es, keep).map(|s| Object::Slice(Arc::new(s)))
                },
                programming_trigger,
            )),
            ObjectKind::Pod => tokio::spawn(watch(
                Api::<Pod>::all(client.clone()),
                cfg.clone(),
                s,
                kind,
                |p: &Pod| objects::pod(p).map(Object::Pod),
                no_trigger,
            )),
            ObjectKind::Namespace => tokio::spawn(watch(
                Api::<Namespace>::all(client.clone()),
                namespace_cfg.clone(),
                s,
                kind,
                |n: &Namespace| objects::namespace(n).map(Object::Namespace),
                no_trigger,
            )),
            // Not selected by their own labels: `labels` is for Services (as in CoreDNS), and
            // `namespace_labels` hides the imports of unselected namespaces through the index
            // (CoreDNS applies it to the imports' own labels; README says why not here).
            ObjectKind::Import => tokio::spawn(watch(
                Api::<ServiceImport>::all(client.clone()),
                cfg.clone(),
                s,
                kind,
                |si: &ServiceImport| {
                    objects::service_import(si).map(|s| Object::Import(Arc::new(s)))
                },
                no_trigger,
            )),
            ObjectKind::ClustersetSlice => tokio::spawn(watch(
                Api::<EndpointSlice>::all(client.clone()),
                clusterset_slice_cfg.clone(),
                s,
                kind,
                move |es: &EndpointSlice| {
                    objects::clusterset_slice(es, pod_names)
                        .map(|s| Object::ClustersetSlice(Arc::new(s)))
                },
                no_trigger,
            )),
        };
    }
}

/// The key the store holds an object of `kind` under.
fn key_of<K: Resource>(obj: &K, kind: ObjectKind) -> (String, String) {
    let meta = obj.meta();
    let namespace = match kind {
        ObjectKind::Namespace => String::new(),
        _ => objects::namespace_or_default(meta.namespace.as_deref()).into(),
    };
    (namespace, meta.name.as_deref().unwrap_or("").to_ascii_lowercase())
}

/// Changes of kinds other than EndpointSlices trigger no programming-duration sample.
fn no_trigger<K>(_: &Store, _: &K) -> Option<SystemTime> {
    None
}

/// Follows one kind. A list arrives as Init, InitApply..., InitDone; the kind's objects are
/// replaced only at InitDone, so answers never see a half list. An object that cannot be used
/// is logged and takes the place of the one it changes, so a broken update removes the old one.
async fn watch<K, R, T>(
    api: Api<K>,
    cfg: watcher::Config,
    shared: Arc<Shared>,
    kind: ObjectKind,
    reduce: R,
    trigger: T,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    R: Fn(&K) -> Result<Object, String> + Send + Sync + 'static,
    T: Fn(&Store, &K) -> Option<SystemTime> + Send + Sync + 'static,
{
    let mut stream = watcher::watcher(api, cfg).default_backoff().boxed();
    // A list in progress, already reduced: holding the API's full objects until the list ends
    // would cost kilobytes per Pod, and the allocator keeps such a peak long after.
    // A list in progress: the objects the store does not already hold as they are, and the keys
    // of all (what is not among them was deleted meanwhile). On a relist of a quiet cluster
    // the first stays nearly empty: a second copy of every object was what made a relist's
    // peak 1.35-1.56 times the steady RSS.
    let mut listing: Vec<Object> = Vec::new();
    let mut listed = ListedKeys::default();
    let mut last_error = String::new();
    let skip = |obj: &K, e: String| {
        let (namespace, name) = key_of(obj, kind);
        tracing::warn!("plugin/kubernetes: skipping {namespace}/{name}: {e}");
        (namespace, name)
    };
    while let Some(event) = stream.next().await {
        let state = match event {
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!("plugin/kubernetes: watching {kind:?}s: {text}");
                    last_error = text;
                }
                continue;
            }
            Ok(Event::Init) => {
                listing.clear();
                listed.clear();
                continue;
            }
            Ok(Event::InitApply(obj)) => {
                match reduce(&obj) {
                    Ok(o) => {
                        let (namespace, name) = o.key();
                        listed.insert(namespace, name);
                        let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                        if !state.store.holds(&o) {
                            listing.push(o);
                        }
                    }
                    Err(e) => {
                        skip(&obj, e);
                    }
                }
                continue;
            }
            Ok(event) => {
                last_error.clear();
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                match event {
                    Event::Apply(obj) => {
                        if let Some(at) = trigger(&state.store, &obj) {
                            state.triggered.push(at);
                        }
                        match reduce(&obj) {
                            Ok(o) => state.store.put(o),
                            Err(e) => {
                                let (namespace, name) = skip(&obj, e);
                                state.store.delete(kind, &namespace, &name);
                            }
                        }
                    }
                    Event::Delete(obj) => {
                        let (namespace, name) = key_of(&obj, kind);
                        state.store.delete(kind, &namespace, &name);
                    }
                    _ => {
                        // InitDone: the list is complete; it replaces what this kind had.
                        state.store.replace_listed(kind, std::mem::take(&mut listing), &listed);
                        listed.clear();
                        listing.shrink_to_fit();
                        state.relisted |= !state.listed.insert(kind);
                    }
                }
                state
            }
        };
        drop(state);
        shared.dirty.notify_one();
    }
}

/// Publishes the store's index whenever objects changed, at most every [`PUBLISH_EVERY`].
async fn publish(shared: Arc<Shared>, index: Arc<ArcSwap<Index>>) {
    let mut trimmer = plugin_api::pkg::trim::Trimmer::default();
    let mut was_synced = false;
    loop {
        shared.dirty.notified().await;
        tokio::time::sleep(PUBLISH_EVERY).await;
        // The trigger times are taken under the same lock as the objects, so each one belongs
        // to a change this index holds.
        let (fresh, triggered, relisted) = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let serial =
                SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
            let synced = shared.kinds.iter().all(|k| state.listed.contains(k));
            let relisted = std::mem::take(&mut state.relisted);
            (state.store.snapshot(serial, synced), std::mem::take(&mut state.triggered), relisted)
        };
        let synced = fresh.synced;
        index.store(Arc::new(fresh));
        // The first complete index follows the big lists, and a relist's pages were just freed:
        // trim right away, not at the next change (a quiet cluster may have none for hours).
        trimmer.after_publish((synced && !was_synced) || relisted);
        was_synced |= synced;
        let now = SystemTime::now();
        for at in triggered {
            let took = now.duration_since(at).unwrap_or_default();
            DNS_PROGRAMMING
                .with_label_values(&["headless_with_selector"])
                .observe(took.as_secs_f64());
        }
    }
}

/// `coredns_kubernetes_dns_programming_duration_seconds{service_kind}`: from the change that made
/// the endpoint controller write an EndpointSlice to the index that answers with it.
pub static DNS_PROGRAMMING: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "dns_programming_duration_seconds",
        "Histogram of the time (in seconds) it took to program a dns instance.",
    )
    .namespace("coredns")
    .subsystem("kubernetes")
    .buckets(exponential_buckets(0.001, 2.0, 20).expect("valid buckets"));
    metrics::register(HistogramVec::new(opts, &["service_kind"]).expect("valid metric"))
});

/// The trigger time of a changed EndpointSlice, counted as CoreDNS counts it: only for a headless
/// Service (whose slices the endpoint controller writes, so a selector exists) and only when the
/// annotation is there and parses.
fn programming_trigger(store: &Store, es: &EndpointSlice) -> Option<SystemTime> {
    let meta = &es.metadata;
    let service = meta.labels.as_ref()?.get("kubernetes.io/service-name")?;
    let namespace = objects::namespace_or_default(meta.namespace.as_deref());
    let svc = store.service(&namespace, &service.to_ascii_lowercase())?;
    if svc.kind != objects::Kind::Headless {
        return None;
    }
    let stamp =
        meta.annotations.as_ref()?.get("endpoints.kubernetes.io/last-change-trigger-time")?;
    let at: jiff::Timestamp = stamp.parse().ok()?;
    Some(SystemTime::from(at))
}
