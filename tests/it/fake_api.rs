//! A small HTTP server that speaks the Kubernetes API's list and watch protocol, for the real
//! `kube` client: JSON lists with a resourceVersion, chunked watch streams of ADDED, MODIFIED,
//! DELETED and BOOKMARK events, `410 Gone` as an in-stream ERROR event (as the real API server
//! sends it), and paged lists (`limit` and `continue`, as the client asks 500 at a time). Tests
//! add, change and delete objects through it, stop and restart it, expire watches, and make it
//! answer every request with an error status.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Bytes, Frame};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The collections served, by their path and list kind.
const COLLECTIONS: [(&str, &str); 11] = [
    ("/api/v1/services", "ServiceList"),
    ("/apis/discovery.k8s.io/v1/endpointslices", "EndpointSliceList"),
    ("/api/v1/namespaces", "NamespaceList"),
    ("/api/v1/pods", "PodList"),
    ("/apis/multicluster.x-k8s.io/v1alpha1/serviceimports", "ServiceImportList"),
    ("/apis/networking.k8s.io/v1/ingresses", "IngressList"),
    ("/apis/gateway.networking.k8s.io/v1/gateways", "GatewayList"),
    ("/apis/gateway.networking.k8s.io/v1/httproutes", "HTTPRouteList"),
    ("/apis/gateway.networking.k8s.io/v1/tlsroutes", "TLSRouteList"),
    ("/apis/gateway.networking.k8s.io/v1/grpcroutes", "GRPCRouteList"),
    ("/apis/externaldns.k8s.io/v1alpha1/dnsendpoints", "DNSEndpointList"),
];

#[derive(Clone, Debug)]
enum Change {
    Event {
        collection: &'static str,
        kind: &'static str,
        object: Value,
    },
    Expire,
    /// A line that is not a watch event at all, sent on every open watch.
    Garbage(&'static str),
}

#[derive(Default)]
struct State {
    /// Collections answered 404, as when their CRD is not installed.
    missing: Vec<&'static str>,
    rv: u64,
    /// (collection, namespace, name) → object.
    objects: BTreeMap<(&'static str, String, String), Value>,
    /// Every change, for watches that start from an older resourceVersion.
    history: Vec<(u64, &'static str, &'static str, Value)>,
    /// Watches from a resourceVersion below this get 410.
    compacted: u64,
    /// When set, every request is answered with this status.
    failing: Option<u16>,
    /// List pages served with a `continue` token (paging in use).
    continued_pages: usize,
    /// Requests answered with the failing status.
    failed_requests: usize,
}

/// The fake API server.
pub struct FakeApi {
    pub addr: SocketAddr,
    /// Serves HTTPS with this when set.
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Watch streams being served: one ends when a send finds its client gone.
    watching: Arc<AtomicUsize>,
    /// When each request arrived, with its path and query, in order.
    arrivals: Mutex<Vec<(Instant, String)>>,
    /// The `Authorization` header of each request that had one.
    authorizations: Mutex<Vec<String>>,
    /// How long every request waits before it is answered.
    delay: Mutex<Duration>,
    /// Requests not yet answered (for a watch: until its stream starts), and the most at once.
    in_flight: Arc<AtomicUsize>,
    most_in_flight: AtomicUsize,
}

/// Counts one open watch stream (or request in flight) while it lives.
struct Watching(Arc<AtomicUsize>);

impl Watching {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn collection_of(path: &str) -> Option<(&'static str, &'static str)> {
    COLLECTIONS.iter().copied().find(|(p, _)| *p == path)
}

fn full(status: u16, body: Value) -> Response<UnsyncBoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed_unsync())
        .unwrap()
}

/// A loopback TCP listener on a port no earlier call in this test process handed out (here
/// rather than in the harness: the kube_scale bench includes this file alone). Client
/// metrics (*kubernetes*'s `host`, *forward*'s `to`) are process-wide and labelled by the
/// server's `host:port`: on a port the kernel gave out again, a test would count an earlier
/// test's requests as its own.
pub async fn unused_tcp_listener() -> TcpListener {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        if HANDED_OUT.lock().unwrap().insert(port) {
            return listener;
        }
    }
}

impl FakeApi {
    /// Starts the server on a free loopback port.
    pub async fn start() -> Arc<Self> {
        Self::start_with(None).await
    }

    /// Starts the server speaking HTTPS with `config` (which may demand client certificates).
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> Arc<Self> {
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Arc<Self> {
        let listener = unused_tcp_listener().await;
        let addr = listener.local_addr().unwrap();
        let (changes, _) = broadcast::channel(4096);
        let state = Arc::default();
        let watching = Arc::default();
        let api = Arc::new(Self {
            addr,
            tls,
            state,
            changes,
            task: Mutex::new(None),
            watching,
            arrivals: Mutex::default(),
            authorizations: Mutex::default(),
            delay: Mutex::default(),
            in_flight: Arc::default(),
            most_in_flight: AtomicUsize::new(0),
        });
        api.serve(listener);
        api
    }

    fn serve(self: &Arc<Self>, listener: TcpListener) {
        let me = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let me = me.clone();
                tokio::spawn(async move {
                    match me.tls.clone() {
                        // A client without an acceptable certificate fails the handshake here.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                me.serve_connection(stream).await;
                            }
                        }
                        None => me.serve_connection(stream).await,
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    async fn serve_connection(
        self: Arc<Self>,
        stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    ) {
        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
            let me = self.clone();
            async move {
                let what = req.uri().path_and_query().map_or(String::new(), |p| p.to_string());
                me.arrivals.lock().unwrap().push((Instant::now(), what));
                if let Some(auth) = req.headers().get("authorization").and_then(|v| v.to_str().ok())
                {
                    me.authorizations.lock().unwrap().push(auth.to_string());
                }
                let flying = Watching::new(&me.in_flight);
                me.most_in_flight.fetch_max(me.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
                let delay = *me.delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                drop(flying);
                Ok::<_, Infallible>(me.handle(req))
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .await;
    }

    /// Stops answering (connections are cut), as an API server that goes away.
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
        // Open watch streams end when their senders notice; make them notice now.
        let _ = self.changes.send(Change::Expire);
    }

    /// Serves again on the same port, with the same objects.
    pub async fn restart(self: &Arc<Self>) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }

    /// Ends every open watch with `410 Gone` and forgets history, so clients must list again.
    pub fn expire_watches(&self) {
        let mut s = self.state.lock().unwrap();
        s.compacted = s.rv + 1;
        s.history.clear();
        drop(s);
        let _ = self.changes.send(Change::Expire);
    }

    /// From now on answers every request with `status` (a `Status` object, as the real API
    /// server sends with a 500), and ends open watches; `None` serves normally again.
    pub fn set_failing(&self, status: Option<u16>) {
        self.state.lock().unwrap().failing = status;
        if status.is_some() {
            let _ = self.changes.send(Change::Expire);
        }
    }

    /// How many list pages were asked for with a `continue` token.
    pub fn continued_pages(&self) -> usize {
        self.state.lock().unwrap().continued_pages
    }

    /// How many watch streams are open (a closed one counts until the next bookmark, 0.5 s).
    pub fn open_watches(&self) -> usize {
        self.watching.load(Ordering::SeqCst)
    }

    /// Every request so far: when it arrived, and its path and query.
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.arrivals.lock().unwrap().clone()
    }

    /// The `Authorization` headers the requests carried.
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }

    /// Makes every request wait `delay` before its answer starts.
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// The most requests that were waiting for their answer at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    /// How many requests were answered with the failing status.
    pub fn failed_requests(&self) -> usize {
        self.state.lock().unwrap().failed_requests
    }

    /// Adds or replaces an object (given without resourceVersion) in `collection`.
    pub fn apply(&self, collection: &str, mut object: Value) {
        let (collection, _) = collection_of(collection).expect("known collection");
        let mut s = self.state.lock().unwrap();
        s.rv += 1;
        let rv = s.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ns = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
        let kind = if s.objects.insert((collection, ns, name), object.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        s.history.push((rv, collection, kind, object.clone()));
        drop(s);
        let _ = self.changes.send(Change::Event { collection, kind, object });
    }

    /// Answers `collection` with 404 from now on, as an API server without its CRD.
    pub fn uninstall(&self, collection: &str) {
        let (collection, _) = collection_of(collection).expect("known collection");
        self.state.lock().unwrap().missing.push(collection);
    }

    /// Serves `collection` again after [`FakeApi::uninstall`], as when its CRD is installed.
    pub fn install(&self, collection: &str) {
        let (collection, _) = collection_of(collection).expect("known collection");
        self.state.lock().unwrap().missing.retain(|c| *c != collection);
    }

    /// Sends `text` and a newline on every open watch stream, as a broken proxy or server might.
    pub fn send_garbage(&self, text: &'static str) {
        let _ = self.changes.send(Change::Garbage(text));
    }

    /// Deletes an object.
    pub fn delete(&self, collection: &str, namespace: &str, name: &str) {
        let (collection, _) = collection_of(collection).expect("known collection");
        let mut s = self.state.lock().unwrap();
        let Some(mut object) =
            s.objects.remove(&(collection, namespace.to_string(), name.to_string()))
        else {
            return;
        };
        s.rv += 1;
        object["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        let rv = s.rv;
        s.history.push((rv, collection, "DELETED", object.clone()));
        drop(s);
        let _ = self.changes.send(Change::Event { collection, kind: "DELETED", object });
    }

    fn handle(
        &self,
        req: Request<hyper::body::Incoming>,
    ) -> Response<UnsyncBoxBody<Bytes, Infallible>> {
        let not_found = || {
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "the server could not find the requested resource",
                "reason": "NotFound", "code": 404});
            full(404, status)
        };
        let Some((collection, list_kind)) = collection_of(req.uri().path()) else {
            return not_found();
        };
        if self.state.lock().unwrap().missing.contains(&collection) {
            return not_found();
        }
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let wanted = Labels::from_query(query.get("labelSelector"));
        let mut s = self.state.lock().unwrap();
        if let Some(code) = s.failing {
            s.failed_requests += 1;
            return full(
                code,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "the test made this server fail", "reason": "InternalError", "code": code}),
            );
        }
        if query.get("watch").map(String::as_str) != Some("true") {
            // `continue` is "resourceVersion:offset" of the list it continues; a page holds
            // `limit` items and names the next one while more remain.
            let token = query.get("continue").map(|c| percent_decode(c));
            let (rv, offset) = match token.as_deref().and_then(|c| c.split_once(':')) {
                Some((rv, offset)) => {
                    s.continued_pages += 1;
                    (rv.parse().unwrap_or(s.rv), offset.parse().unwrap_or(0))
                }
                None => (s.rv, 0),
            };
            let limit: usize =
                query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(usize::MAX);
            let all: Vec<&Value> = s
                .objects
                .iter()
                .filter(|((c, _, _), v)| *c == collection && wanted.select(v))
                .map(|(_, v)| v)
                .collect();
            let page: Vec<Value> =
                all.iter().skip(offset).take(limit).map(|v| (*v).clone()).collect();
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if offset + page.len() < all.len() {
                metadata["continue"] = json!(format!("{rv}:{}", offset + page.len()));
            }
            return full(
                200,
                json!({"kind": list_kind, "apiVersion": "v1", "metadata": metadata, "items": page}),
            );
        }
        let from: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1024);
        let line = |v: Value| Ok(Frame::data(Bytes::from(format!("{v}\n"))));
        if from < s.compacted {
            let gone = json!({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "The resourceVersion for the provided watch is too old.",
                "reason": "Expired", "code": 410}});
            let _ = tx.try_send(line(gone));
        } else {
            for (rv, c, kind, object) in &s.history {
                if *rv > from && *c == collection && wanted.select(object) {
                    let _ = tx.try_send(line(json!({"type": kind, "object": object})));
                }
            }
            let mut changes = self.changes.subscribe();
            let rv_now = s.rv;
            let open = Watching::new(&self.watching);
            tokio::spawn(async move {
                let _open = open;
                let bookmark_kind = list_kind.trim_end_matches("List");
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tokio::select! {
                        change = changes.recv() => match change {
                            Ok(Change::Event { collection: c, kind, object }) if c == collection && wanted.select(&object) => {
                                if tx.send(line(json!({"type": kind, "object": object}))).await.is_err() { return; }
                            }
                            Ok(Change::Event { .. }) => {}
                            Ok(Change::Garbage(text)) => {
                                let bytes = Bytes::from(format!("{text}\n"));
                                if tx.send(Ok(Frame::data(bytes))).await.is_err() { return; }
                            }
                            Ok(Change::Expire) | Err(_) => {
                                let gone = json!({"type": "ERROR", "object": {
                                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": "The resourceVersion for the provided watch is too old.",
                                    "reason": "Expired", "code": 410}});
                                let _ = tx.send(line(gone)).await;
                                return;
                            }
                        },
                        _ = tick.tick() => {
                            let bookmark = json!({"type": "BOOKMARK", "object": {
                                "kind": bookmark_kind, "apiVersion": "v1",
                                "metadata": {"resourceVersion": rv_now.to_string()}}});
                            if tx.send(line(bookmark)).await.is_err() { return; }
                        }
                    }
                }
            });
        }
        drop(s);
        let stream = tokio_stream_from(rx);
        Response::builder()
            .status(200)
            .header("Content-Type", "application/json")
            .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
            .unwrap()
    }
}

/// A `labelSelector` of `key=value`, `key` (exists) and `!key` terms, the forms the tests and
/// ferrodns's own requirements send (the real API server knows the whole syntax; ferrodns
/// passes the text through unchanged).
struct Labels(Vec<(String, Option<String>, bool)>);

impl Labels {
    fn from_query(selector: Option<&String>) -> Self {
        let decoded = percent_decode(selector.map_or("", String::as_str));
        let terms = decoded
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string()), true),
                None => match t.strip_prefix('!') {
                    Some(k) => (k.to_string(), None, false),
                    None => (t.to_string(), None, true),
                },
            })
            .collect();
        Self(terms)
    }

    fn select(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.0.iter().all(|(k, v, present)| match v {
            Some(v) => labels[k].as_str() == Some(v),
            None => labels.get(k).is_some() == *present,
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A Service object.
pub fn service(ns: &str, name: &str, cluster_ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    })
}

/// The collection EndpointSlices are listed and watched at.
pub const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";

/// An EndpointSlice `name` of Service `service` with one ready IPv4 endpoint at `address`,
/// stamped as the endpoint controller stamps a change (`last-change-trigger-time`) at
/// `triggered`.
pub fn triggered_slice(
    ns: &str,
    service: &str,
    name: &str,
    address: &str,
    triggered: jiff::Timestamp,
) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": name, "namespace": ns,
            "labels": {"kubernetes.io/service-name": service},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": triggered.to_string()},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
    })
}

/// A Namespace object.
pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// `object` with `labels` set.
pub fn labelled(mut object: Value, labels: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> =
        labels.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    object["metadata"]["labels"] = Value::Object(map);
    object
}
