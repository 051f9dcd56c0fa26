//! Keeping the index current from a live API server, with kube's watcher.
//!
//! One watch per kind (Services, EndpointSlices and Namespaces always; Pods with `pods
//! verified`). Each keeps its objects, reduced, in a map; every change marks the index dirty,
//! and a builder replaces the index at most every [`REBUILD_EVERY`]. A (re)list replaces a
//! kind's objects only when it is complete, so a relist after `410 Gone` or an API restart never
//! leaves a gap in answers; while the API is away, the last objects keep answering. The index
//! counts as synced once every watch has listed once.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Config, Resource};
use plugin_api::metrics::prometheus::exponential_buckets;
use plugin_api::metrics::{self, prometheus::HistogramOpts, prometheus::HistogramVec};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::index::Index;
use crate::objects;
use crate::selector::{Filter, Selector};
use crate::setup::{Options, PodMode};

/// The index is rebuilt at most this often, however many changes arrive.
pub const REBUILD_EVERY: Duration = Duration::from_millis(50);

/// An object's key: `namespace/name` in one string (one allocation per object, not two).
type Key = Box<str>;

/// The reduced objects of every kind, keyed by [`Key`].
#[derive(Default)]
struct Objects {
    services: HashMap<Key, Arc<objects::Service>>,
    slices: HashMap<Key, Arc<objects::Slice>>,
    /// The Pod's address: all `pods verified` needs.
    pods: HashMap<Key, IpAddr>,
    namespaces: HashSet<String>,
    /// Kinds that have listed at least once.
    listed: HashSet<&'static str>,
    /// When the changes waiting for the next index were triggered (EndpointSlices of headless
    /// Services that carry `endpoints.kubernetes.io/last-change-trigger-time`).
    triggered: Vec<SystemTime>,
}

struct Shared {
    objects: Mutex<Objects>,
    dirty: Notify,
    kinds: Vec<&'static str>,
    filter: Filter,
}

/// Builds the API client from the options: `kubeconfig`, else `endpoint`, else the usual places
/// (`$KUBECONFIG`, `~/.kube/config`, the in-cluster service account).
pub async fn client(o: &Options) -> Result<Client, String> {
    let config = if let Some((file, context)) = &o.kubeconfig {
        let kubeconfig = kube::config::Kubeconfig::read_from(file)
            .map_err(|e| format!("kubeconfig {file}: {e}"))?;
        let options =
            kube::config::KubeConfigOptions { context: context.clone(), ..Default::default() };
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| format!("kubeconfig {file}: {e}"))?
    } else if let Some(endpoint) = &o.endpoint {
        let mut config =
            Config::new(endpoint.parse().map_err(|e| format!("endpoint {endpoint}: {e}"))?);
        if let Some((cert, key, ca)) = &o.tls {
            config.root_cert = Some(ca_certificates(ca)?);
            config.auth_info.client_certificate = Some(cert.clone());
            config.auth_info.client_key = Some(key.clone());
        }
        config
    } else {
        Config::infer().await.map_err(|e| e.to_string())?
    };
    Client::try_from(config).map_err(|e| e.to_string())
}

/// The certificates of a PEM file, in DER, as the client's trust roots.
fn ca_certificates(path: &str) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.map(|c| c.map(|c| c.to_vec())).collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls CA {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("tls CA {path}: no certificate in the file"));
    }
    Ok(certs)
}

/// Starts the watches; returns their tasks. `index` is replaced as objects arrive.
pub fn start(client: Client, o: &Options, index: Arc<ArcSwap<Index>>) -> Vec<JoinHandle<()>> {
    let mut kinds = vec!["Service", "EndpointSlice", "Namespace"];
    if o.noendpoints {
        kinds.retain(|k| *k != "EndpointSlice");
    }
    if o.pods == PodMode::Verified {
        kinds.push("Pod");
    }
    let shared = Arc::new(Shared {
        objects: Mutex::default(),
        dirty: Notify::new(),
        kinds: kinds.clone(),
        filter: o.filter.clone(),
    });
    let mut tasks = vec![tokio::spawn(rebuild(shared.clone(), index))];
    let cfg = watcher::Config::default();
    // The API server applies the selectors to lists and watches, so unselected objects never
    // reach this process.
    let selected = |s: &Option<Selector>| match s {
        Some(s) => cfg.clone().labels(s.as_str()),
        None => cfg.clone(),
    };
    let (object_cfg, namespace_cfg) =
        (selected(&o.filter.labels), selected(&o.filter.namespace_labels));
    for kind in kinds {
        let s = shared.clone();
        tasks.push(match kind {
            "Service" => tokio::spawn(watch(
                Api::<Service>::all(client.clone()),
                object_cfg.clone(),
                s,
                kind,
                |o, svc: &Service, key, op| {
                    put(&mut o.services, key, op, || objects::service(svc).map(Arc::new));
                },
            )),
            "EndpointSlice" => tokio::spawn(watch(
                Api::<EndpointSlice>::all(client.clone()),
                object_cfg.clone(),
                s,
                kind,
                |o, es: &EndpointSlice, key, op| {
                    if op == Op::Changed
                        && let Some(at) = programming_trigger(o, es)
                    {
                        o.triggered.push(at);
                    }
                    put(&mut o.slices, key, op, || objects::slice(es).map(Arc::new));
                },
            )),
            "Pod" => tokio::spawn(watch(
                Api::<Pod>::all(client.clone()),
                cfg.clone(),
                s,
                kind,
                |o, p: &Pod, key, op| {
                    put(&mut o.pods, key, op, || objects::pod(p).map(|p| p.ip));
                },
            )),
            _ => tokio::spawn(watch(
                Api::<Namespace>::all(client.clone()),
                namespace_cfg.clone(),
                s,
                kind,
                |o, n: &Namespace, _key, op| {
                    let name = n.metadata.name.as_deref().unwrap_or("").to_ascii_lowercase();
                    if op == Op::Deleted {
                        o.namespaces.remove(&name);
                    } else {
                        o.namespaces.insert(name);
                    }
                },
            )),
        });
    }
    tasks
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Part of a (re)list.
    Listed,
    /// Added or modified, as the watch reported it.
    Changed,
    /// Deleted.
    Deleted,
}

/// Stores or removes one reduced object; an object that cannot be used is removed and logged.
fn put<T>(map: &mut HashMap<Key, T>, key: Key, op: Op, reduce: impl FnOnce() -> Result<T, String>) {
    if op == Op::Deleted {
        map.remove(&key);
        return;
    }
    match reduce() {
        Ok(obj) => {
            map.insert(key, obj);
        }
        Err(e) => {
            tracing::warn!("plugin/kubernetes: skipping {key}: {e}");
            map.remove(&key);
        }
    }
}

fn key(namespace: &str, name: &str) -> Key {
    format!("{namespace}/{name}").into_boxed_str()
}

fn key_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    key(meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

/// The namespace part of a [`Key`].
fn namespace_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

/// Follows one kind. A list arrives as Init, InitApply..., InitDone; the kind's objects are
/// replaced only at InitDone, so answers never see a half list.
async fn watch<K, F>(
    api: Api<K>,
    cfg: watcher::Config,
    shared: Arc<Shared>,
    kind: &'static str,
    apply: F,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(&mut Objects, &K, Key, Op) + Send + Sync + 'static,
{
    let mut stream = watcher::watcher(api, cfg).default_backoff().boxed();
    // A list in progress, already reduced: holding the API's full objects until the list ends
    // would cost kilobytes per Pod, and the allocator keeps such a peak long after.
    let mut listing: Option<Objects> = None;
    let mut last_error = String::new();
    while let Some(event) = stream.next().await {
        let objects = match event {
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!("plugin/kubernetes: watching {kind}s: {text}");
                    last_error = text;
                }
                continue;
            }
            Ok(Event::Init) => {
                listing = Some(Objects::default());
                continue;
            }
            Ok(Event::InitApply(obj)) => {
                let staged = listing.get_or_insert_with(Objects::default);
                apply(staged, &obj, key_of(&obj), Op::Listed);
                continue;
            }
            Ok(event) => {
                last_error.clear();
                let mut objects = shared.objects.lock().unwrap_or_else(|e| e.into_inner());
                match event {
                    Event::Apply(obj) => apply(&mut objects, &obj, key_of(&obj), Op::Changed),
                    Event::Delete(obj) => apply(&mut objects, &obj, key_of(&obj), Op::Deleted),
                    _ => {
                        // InitDone: the list is complete; it replaces what this kind had.
                        replace_kind(&mut objects, listing.take().unwrap_or_default(), kind);
                        objects.listed.insert(kind);
                    }
                }
                objects
            }
        };
        drop(objects);
        shared.dirty.notify_one();
    }
}

/// Puts `listed`'s objects of `kind` in place of those `objects` had.
fn replace_kind(objects: &mut Objects, listed: Objects, kind: &str) {
    match kind {
        "Service" => objects.services = listed.services,
        "EndpointSlice" => objects.slices = listed.slices,
        "Pod" => objects.pods = listed.pods,
        _ => objects.namespaces = listed.namespaces,
    }
}

/// Replaces the index whenever objects changed, at most every [`REBUILD_EVERY`].
async fn rebuild(shared: Arc<Shared>, index: Arc<ArcSwap<Index>>) {
    let mut trimmer = crate::trim::Trimmer::default();
    let mut was_synced = false;
    loop {
        shared.dirty.notified().await;
        tokio::time::sleep(REBUILD_EVERY).await;
        // The trigger times are taken under the same lock as the objects, so each one belongs
        // to a change this index holds.
        let (fresh, triggered) = {
            let mut o = shared.objects.lock().unwrap_or_else(|e| e.into_inner());
            let serial =
                SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
            let mut fresh = Index::build_filtered(
                o.services.values().cloned().collect(),
                o.slices.values().cloned().collect(),
                o.pods.iter().map(|(key, ip)| (namespace_of(key), *ip)).collect(),
                o.namespaces.iter().cloned().collect(),
                serial,
                &shared.filter,
            );
            fresh.synced = shared.kinds.iter().all(|k| o.listed.contains(k));
            (fresh, std::mem::take(&mut o.triggered))
        };
        let synced = fresh.synced;
        index.store(Arc::new(fresh));
        // The first complete index follows the big lists: trim right away.
        trimmer.after_rebuild(synced && !was_synced);
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
fn programming_trigger(o: &Objects, es: &EndpointSlice) -> Option<SystemTime> {
    let meta = &es.metadata;
    let service = meta.labels.as_ref()?.get("kubernetes.io/service-name")?;
    let namespace = meta.namespace.as_deref().unwrap_or("");
    let svc = o.services.get(&key(namespace, service))?;
    if svc.kind != objects::Kind::Headless {
        return None;
    }
    let stamp =
        meta.annotations.as_ref()?.get("endpoints.kubernetes.io/last-change-trigger-time")?;
    let at: jiff::Timestamp = stamp.parse().ok()?;
    Some(SystemTime::from(at))
}
