//! The client of the API server: its configuration from the options, and a layer under kube's
//! client that applies `apiserver_qps`/`apiserver_burst` (a token bucket, client-go's) and
//! `apiserver_max_inflight` (requests waiting for their response at once, CoreDNS's round
//! tripper), and counts requests as client-go's metrics do:
//!
//! * `coredns_kubernetes_rest_client_requests_total{code, method, host}`: every request, with its
//!   status code, or `<error>` when none came back;
//! * `coredns_kubernetes_rest_client_request_duration_seconds{verb, host}`: from sending to the
//!   response headers, for everything but watches;
//! * `coredns_kubernetes_rest_client_rate_limiter_duration_seconds{verb, host}`: time waited for a
//!   token, when a rate limit is set.
//!
//! Watches are not rate limited, as in client-go: a watch is one long request whose start the
//! index waits on. kube's client drives this layer from one buffer worker, so a request's turn
//! is taken when it is called, in order, and the wait happens in its own future, before the
//! request (whose future does nothing until polled) goes out.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use kube::client::ClientBuilder;
use kube::{Client, Config};
use plugin_api::pkg::metrics::prometheus::{
    CounterVec, DEFAULT_BUCKETS, HistogramOpts, HistogramVec, Opts,
};
use plugin_api::pkg::metrics::{self};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::setup::{ApiLimits, Options};

/// client-go's defaults, used for whichever of rate and burst is not given.
pub const DEFAULT_QPS: f64 = 5.0;
/// See [`DEFAULT_QPS`].
pub const DEFAULT_BURST: u32 = 10;

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
    let host = config.cluster_url.authority().map_or_else(String::new, |a| a.to_string());
    let layer = ApiLayer::new(&o.api_limits, host);
    Ok(ClientBuilder::try_from(config).map_err(|e| e.to_string())?.with_layer(&layer).build())
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

/// Tokens refilled at `qps` a second up to `burst`, one per request. It starts full, as
/// client-go's does, so a start-up's handful of lists go out at once. A request that finds it
/// empty reserves the next token (the count goes below zero), so waiters keep their order.
#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(qps: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self { qps, burst, tokens: burst, at: now }
    }

    /// Takes a token; returns how long to wait before using it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.qps;
        self.tokens = (self.tokens + refill).min(self.burst) - 1.0;
        self.at = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// What every request through the layer shares.
#[derive(Debug)]
struct Shared {
    bucket: Option<Mutex<Bucket>>,
    inflight: Option<Arc<Semaphore>>,
    /// The API server's `host:port`, the metrics' `host` label.
    host: String,
}

/// The layer; limits that are `None` are not applied.
#[derive(Debug, Clone)]
pub struct ApiLayer(Arc<Shared>);

impl ApiLayer {
    /// The limits of `limits`, for requests to `host`.
    pub fn new(limits: &ApiLimits, host: String) -> Self {
        let now = Instant::now();
        let bucket = limits.rate().map(|(qps, burst)| Mutex::new(Bucket::new(qps, burst, now)));
        let inflight = limits.max_inflight.map(|n| Arc::new(Semaphore::new(n)));
        Self(Arc::new(Shared { bucket, inflight, host }))
    }
}

impl<S> Layer<S> for ApiLayer {
    type Service = ApiService<S>;

    fn layer(&self, inner: S) -> ApiService<S> {
        ApiService { inner, shared: self.0.clone() }
    }
}

/// The service [`ApiLayer`] makes.
#[derive(Debug)]
pub struct ApiService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// True for a watch request (`?watch=true`, how kube asks for one).
fn is_watch<B>(req: &Request<B>) -> bool {
    req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"))
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for ApiService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let watch = is_watch(&req);
        let method = req.method().to_string();
        let shared = self.shared.clone();
        let wait = match &shared.bucket {
            Some(bucket) if !watch => {
                Some(bucket.lock().unwrap_or_else(|e| e.into_inner()).reserve(Instant::now()))
            }
            _ => None,
        };
        let response = self.inner.call(req);
        Box::pin(async move {
            let labels = [method.as_str(), shared.host.as_str()];
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
                RATE_LIMITER_DURATION.with_label_values(&labels).observe(wait.as_secs_f64());
            }
            let _permit = match &shared.inflight {
                Some(inflight) => inflight.clone().acquire_owned().await.ok(),
                None => None,
            };
            let sent = Instant::now();
            let result = response.await;
            if !watch {
                REQUEST_DURATION.with_label_values(&labels).observe(sent.elapsed().as_secs_f64());
            }
            let code = match &result {
                Ok(r) => r.status().as_str().to_string(),
                Err(_) => "<error>".to_string(),
            };
            REQUESTS.with_label_values(&[code.as_str(), &method, &shared.host]).inc();
            result
        })
    }
}

fn histogram(name: &str, help: &str) -> HistogramVec {
    let opts = HistogramOpts::new(name, help)
        .namespace("coredns")
        .subsystem("kubernetes")
        .buckets(DEFAULT_BUCKETS.to_vec());
    metrics::register(HistogramVec::new(opts, &["verb", "host"]).expect("valid metric"))
}

static REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "rest_client_request_duration_seconds",
        "Request latency in seconds. Broken down by verb and host.",
    )
});

static RATE_LIMITER_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "rest_client_rate_limiter_duration_seconds",
        "Client side rate limiter latency in seconds. Broken down by verb and host.",
    )
});

static REQUESTS: LazyLock<CounterVec> = LazyLock::new(|| {
    let opts = Opts::new(
        "rest_client_requests_total",
        "Number of HTTP requests, partitioned by status code, method, and host.",
    )
    .namespace("coredns")
    .subsystem("kubernetes");
    metrics::register(CounterVec::new(opts, &["code", "method", "host"]).expect("valid metric"))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_starts_full_then_hands_out_turns_at_its_rate() {
        let start = Instant::now();
        let mut b = Bucket::new(2.0, 3, start);
        for _ in 0..3 {
            assert_eq!(b.reserve(start), Duration::ZERO);
        }
        assert_eq!(b.reserve(start), Duration::from_millis(500), "empty: one token per 0.5 s");
        assert_eq!(b.reserve(start), Duration::from_millis(1000), "the next waits behind it");
        // A long pause refills it only up to the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert!(b.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn watches_are_told_apart_by_their_query() {
        let req = |uri: &str| Request::get(uri).body(()).unwrap();
        assert!(is_watch(&req("/api/v1/services?&watch=true&timeoutSeconds=290")));
        assert!(!is_watch(&req("/api/v1/services?&limit=500")));
        assert!(!is_watch(&req("/api/v1/services?labelSelector=watch%3Dtrue")));
    }
}
