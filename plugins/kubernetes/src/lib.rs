//! *kubernetes*: answers for the cluster's names, following the Kubernetes DNS specification as
//! CoreDNS serves it.
//!
//! * [`setup()`] reads `kubernetes [ZONES...] { options }`.
//! * [`objects`]: Services, EndpointSlices, Pods and Namespaces reduced to what DNS needs.
//! * [`mcs`]: the Multi-Cluster Services API's ServiceImport, for `multicluster` zones.
//! * [`selector`]: label selectors for `labels` and `namespace_labels`.
//! * [`index`]: those objects keyed for lookups, read without locks; published as snapshots
//!   that share every shard a change did not touch.
//! * [`store`]: the writer's side: each added, changed or deleted object changes the working
//!   index in place, and only where it names.
//! * [`handler`]: the record table — Service addresses, headless endpoints, endpoint names, SRV,
//!   ExternalName CNAMEs, PTR, pods, `dns-version`, SOA and NS at the apex, NXDOMAIN versus
//!   NODATA.
//! * [`manifests`]: the objects read from YAML files (`manifests PATH...`, beyond CoreDNS), so a
//!   cluster's names can be served without a cluster.
//!
//! * `api_client`: the API client from `kubeconfig`/`endpoint`/in-cluster, with
//!   `apiserver_qps`, `apiserver_burst`, `apiserver_max_inflight` and client-go's request metrics
//!   as a layer under it.
//! * [`watch`]: without `manifests`, the objects come from the API server through kube's
//!   watchers (`kubeconfig`, `endpoint`, or the in-cluster service account). Until every watch
//!   has listed once, names that would be NXDOMAIN are SERVFAIL and `/ready` says `kubernetes`.

mod api_client;
pub mod handler;
pub mod index;
pub mod manifests;
pub mod mcs;
pub mod objects;
pub mod selector;
pub mod setup;
pub mod store;
pub mod watch;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use plugin_api::pkg::manifests as files;
use plugin_api::pkg::upstream::Upstream;
use plugin_api::pkg::zone::normalize;
use plugin_api::{BoundAddrs, ConfigError, Controller, Plugin};
use tokio::sync::Notify;

pub use handler::Kubernetes;
use index::Index;

/// The directive's name.
pub const NAME: &str = "kubernetes";

/// Reads the directive and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let mut o = setup::parse(c)?;
    // CoreDNS's `searchFromResolvConf`: a missing file leaves the list empty.
    if let Ok(conf) = plugin_api::pkg::resolv::read("/etc/resolv.conf") {
        o.autopath_search = conf.search.iter().map(|s| normalize(s)).collect();
    }
    let o = Arc::new(o);
    let index = Arc::new(ArcSwap::from_pointee(Index::unsynced()));
    if o.manifests.is_empty() {
        let stop = Arc::new(Notify::new());
        let (opts, target, stopping) = (o.clone(), index.clone(), stop.clone());
        c.on_startup(Box::pin(async move {
            let started = watch::spawn(opts.clone(), target.clone(), stopping)
                .map_err(|e| format!("plugin/kubernetes: cannot start the watch thread: {e}"))?;
            match started.await {
                Ok(Ok(())) => wait_for_sync(&target, opts.startup_timeout).await,
                // A client that cannot be configured is reported; the server still runs, with
                // nothing synced, rather than take down every other zone with it.
                Ok(Err(e)) => {
                    tracing::error!("plugin/kubernetes: cannot connect to the Kubernetes API: {e}")
                }
                Err(_) => tracing::error!("plugin/kubernetes: the watch thread ended"),
            }
            Ok(())
        }));
        // A permit is kept if the thread is not waiting yet, so a stop is never lost.
        c.on_shutdown(Box::pin(async move {
            stop.notify_one();
            Ok(())
        }));
    } else {
        let (target, filter) = (index.clone(), o.filter.clone());
        files::load_and_watch(c, &o.manifests, move |found| {
            target.store(Arc::new(load_index(&found, &filter)));
        })?;
    }
    let upstream = Upstream::new(c);
    let local_ips: Arc<std::sync::OnceLock<Vec<std::net::IpAddr>>> = Arc::default();
    let (bound, servers, slot) =
        (c.shared::<BoundAddrs>(), c.servers().to_vec(), local_ips.clone());
    c.on_startup(Box::pin(async move {
        let _ = slot.set(server_addresses(&bound, &servers));
        Ok(())
    }));
    Ok(Some(Arc::new(Kubernetes { o, index, upstream, fast_path: true, local_ips })))
}

/// Waits until the watches have synced, for at most `timeout`, saying so every half second as
/// CoreDNS does.
async fn wait_for_sync(index: &ArcSwap<Index>, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut next_log = tokio::time::Instant::now();
    while !index.load().synced {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            tracing::warn!("plugin/kubernetes: starting server with unsynced Kubernetes API");
            return;
        }
        if now >= next_log {
            tracing::info!("plugin/kubernetes: waiting for Kubernetes API before starting server");
            next_log = now + Duration::from_millis(500);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the manifest files into a new index, logging what had to be skipped.
fn load_index(files: &[std::path::PathBuf], filter: &selector::Filter) -> Index {
    let loaded = manifests::load(files, filter);
    for p in &loaded.problems {
        tracing::warn!("plugin/kubernetes: skipping {p}");
    }
    let serial = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
    let index = loaded.into_index(serial, filter);
    // The parsed YAML is gone: give its memory back (manifest loads are rare, so always).
    plugin_api::pkg::trim::Trimmer::default().after_publish(true);
    let (services, slices, pods) = index.counts();
    tracing::info!(
        "plugin/kubernetes: loaded {services} services, {slices} endpoint slices and {pods} pods from {} manifest files",
        files.len()
    );
    index
}

#[cfg(test)]
mod tests;

/// The addresses this block's listeners answer on (CoreDNS's `boundIPs`): each bound address,
/// or for one bound to the wildcard every address of the host; loopback never. CoreDNS reads
/// *bind*'s addresses as CIDRs and so finds none when *bind* is used; here they are used.
fn server_addresses(bound: &BoundAddrs, servers: &[(String, String)]) -> Vec<std::net::IpAddr> {
    let bound = bound.0.lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<std::net::IpAddr> = Vec::new();
    for (_, label) in servers {
        let Some(addr) = bound.get(label) else { continue };
        let found = if addr.ip().is_unspecified() {
            plugin_api::pkg::host::addresses()
        } else {
            vec![addr.ip()]
        };
        for ip in found {
            if !ip.is_loopback() && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}
