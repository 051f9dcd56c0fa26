//! The fast path's promise (docs/ARCHITECTURE.md): a query answered from memory
//! allocates nothing. The real dispatcher and plugin chains, in process, with a global
//! allocator that counts: after the first query of each kind (which fills the cache and the
//! thread's spare request and reply buffer), serving the same packet again allocates nothing
//! for *hosts*, a *cache* hit behind *loadbalance*, *kubernetes* answers, PTR and NXDOMAIN,
//! *local*'s, *template*'s bare answers (the AAAA filter, an NXDOMAIN rule) and the queries
//! it passes on, queries *rewrite* renames to a name of the same length and maps back, and
//! queries with EDNS, *bufsize* capping them, *chaos*'s answers and *header*'s flags, and
//! *kubernetes* answers with *metadata* collecting what they ask for, *k8s_external*'s
//! addresses, *k8s_gateway*'s addresses and NXDOMAIN, *file*'s
//! addresses and denials, *dnstap*'s messages (a few allocations per batch of queries, none per
//! query);
//! with *log* and *prometheus*, only the buffer that carries a batch's log lines to the
//! writer. A cache miss through *forward* is counted too, against a ceiling that may only come
//! down (7.2 allocations a miss through the runtime, 6.2 on a UDP worker: the chain's boxed
//! futures and the cache entry; the exchange itself allocates nothing).
//!
//! Many of the names counted are longer than the 32 octets of labels hickory's `Name` keeps
//! inline (`nginx-service.default.svc.cluster.local.`), so that code on these paths that
//! decodes the question into a `Name` shows as an allocation.
//!
//! Unsafe code, the workspace's third exception: a global allocator is an `unsafe impl`; it
//! only counts and hands every call to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ferrodns::config::{self, Source};
use ferrodns::server::mux::{Mux, Outcome};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use plugin_api::Proto;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mux() -> Mux {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    let zone = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/file/db.example.org");
    let text = format!(
        "hosts.test {{\n hosts {{\n  10.0.0.1 a.hosts.test\n }}\n}}\n\
         cached.test {{\n loadbalance\n cache 300\n hosts {{\n  10.0.0.1 a.cached.test\n  10.0.0.2 a.cached.test\n  10.0.0.3 api.payments-eu.example.com.cached.test\n }}\n}}\n\
         cluster.local 96.10.in-addr.arpa {{\n kubernetes cluster.local 96.10.in-addr.arpa {{\n  manifests {manifests}\n }}\n}}\n\
         observed.test {{\n log\n prometheus localhost:0\n hosts {{\n  10.0.0.1 a.observed.test\n }}\n}}\n\
         localhost 127.in-addr.arpa {{\n local\n}}\n\
         templated.test {{\n template ANY AAAA {{\n  rcode NOERROR\n }}\n template IN ANY gone.templated.test {{\n  rcode NXDOMAIN\n }}\n hosts {{\n  10.0.0.1 a.templated.test\n }}\n}}\n\
         alias.test bench.test {{\n rewrite name suffix .alias.test .bench.test answer auto\n hosts {{\n  10.0.0.1 a.bench.test\n }}\n}}\n\
         cachealias.test cachebench.test {{\n rewrite name suffix .cachealias.test .cachebench.test answer auto\n cache 300\n hosts {{\n  10.0.0.1 a.cachebench.test\n }}\n}}\n\
         mycorpx.local {{\n rewrite name suffix .mycorpx.local .cluster.local answer auto\n kubernetes cluster.local {{\n  manifests {manifests}\n }}\n}}\n\
         capped.test {{\n bufsize 1232\n hosts {{\n  10.0.0.1 a.capped.test\n }}\n}}\n\
         version.bind authors.bind {{\n chaos v1 alice bob\n}}\n\
         flagged.test {{\n header {{\n  query set rd\n  response set ra\n }}\n hosts {{\n  10.0.0.1 a.flagged.test\n }}\n}}\n\
         described.local {{\n metadata\n kubernetes described.local {{\n  manifests {manifests}\n }}\n}}\n\
         example.com {{\n k8s_external example.com\n kubernetes cluster.local {{\n  manifests {manifests}\n }}\n}}\n\
         a.com gw.test {{\n k8s_gateway a.com gw.test {{\n  resources Ingress Service\n  manifests {manifests}\n }}\n}}\n\
         example.org {{\n file {zone}\n}}\n\
         dns64.test {{\n dns64 {{\n  allow_ipv4\n }}\n hosts {{\n  fd00::1 a.dns64.test\n }}\n}}\n\
         tapped.test {{\n dnstap /nonexistent/dnstap.sock full\n hosts {{\n  10.0.0.1 a.tapped.test\n }}\n}}\n"
    );
    let source = Source { filename: "Corefile".into(), text, path: None, dns_port: "53".into() };
    let mut config = config::load(&source, &|_| {}).expect("the Corefile loads");
    // The start-up hooks (k8s_external finds its kubernetes there), on a runtime that runs only
    // while it is blocked on: nothing it spawned allocates while the queries are counted.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    for hook in std::mem::take(&mut config.on_startup) {
        runtime.block_on(hook).expect("a start-up hook");
    }
    std::mem::forget(runtime);
    Mux::new(&config.listeners[0])
}

fn packet(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    m.to_vec().expect("encodes")
}

/// The same query with EDNS, advertising a 4096-octet buffer.
fn packet_with_edns(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(4096);
    m.edns = Some(edns);
    m.to_vec().expect("encodes")
}

/// Allocations per query over 100 queries of `name`, after one to warm up; and the rcode.
fn allocations_per_query(mux: &Mux, name: &str, qtype: RecordType) -> (usize, ResponseCode) {
    allocations_per_packet(mux, &packet(name, qtype))
}

/// [`allocations_per_query`] for a packet as given.
fn allocations_per_packet(mux: &Mux, packet: &[u8]) -> (usize, ResponseCode) {
    let src: SocketAddr = "10.1.2.3:5300".parse().expect("address");
    let local: SocketAddr = "10.0.0.53:53".parse().expect("address");
    let mut out = Vec::with_capacity(512);
    // Each query a batch of its own, as the UDP loop's batches are: log lines are handed to
    // the writer when the batch ends.
    let serve = |out: &mut Vec<u8>| {
        out.clear();
        let outcome = plugin_api::server::log_batch(|| {
            mux.serve_packet(packet, src, local, Proto::Udp, Instant::now(), out)
        });
        assert!(matches!(outcome, Outcome::Send));
    };
    serve(&mut out);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        serve(&mut out);
    }
    let per_query = (ALLOCATIONS.load(Ordering::Relaxed) - before) / 100;
    (per_query, Message::from_vec(&out).expect("a reply").metadata.response_code)
}

// One test, so that no other test's allocations land in the count.
#[test]
fn queries_answered_from_memory_allocate_nothing() {
    // Log lines go where the server's go, minus the writing thread.
    plugin_api::server::set_log_writer(drop);
    let mux = mux();
    let rows = [
        ("a.hosts.test.", RecordType::A, ResponseCode::NoError, 0),
        ("a.cached.test.", RecordType::A, ResponseCode::NoError, 0),
        // A hit on a name past hickory's 32 inline octets, as an external name tried down a
        // Pod's search path is.
        ("api.payments-eu.example.com.cached.test.", RecordType::A, ResponseCode::NoError, 0),
        ("nosuch.default.svc.cluster.local.", RecordType::A, ResponseCode::NXDomain, 0),
        ("my-svc.default.svc.cluster.local.", RecordType::A, ResponseCode::NXDomain, 0),
        // The PTR of a cluster IP (kube-dns's).
        ("10.0.96.10.in-addr.arpa.", RecordType::PTR, ResponseCode::NoError, 0),
        // 35 octets of labels, where hickory's `Name` spills to the heap: the request reads
        // the question from the bytes and builds no `Name`.
        ("nginx-service.default.svc.cluster.local.", RecordType::A, ResponseCode::NoError, 0),
        // *local*: an address, the loopback PTR, and an NXDOMAIN with its SOA.
        ("app.localhost.", RecordType::A, ResponseCode::NoError, 0),
        ("1.0.0.127.in-addr.arpa.", RecordType::PTR, ResponseCode::NoError, 0),
        ("9.0.0.127.in-addr.arpa.", RecordType::PTR, ResponseCode::NXDomain, 0),
        // *template*: passing an A query on to *hosts*, the AAAA filter, an NXDOMAIN rule.
        ("a.templated.test.", RecordType::A, ResponseCode::NoError, 0),
        ("a.templated.test.", RecordType::AAAA, ResponseCode::NoError, 0),
        ("x.gone.templated.test.", RecordType::MX, ResponseCode::NXDomain, 0),
        // *header*: a query flag set on a copy of the query, a reply flag set in place.
        ("a.flagged.test.", RecordType::A, ResponseCode::NoError, 0),
        // *rewrite*: a suffix exchanged for one of the same length, answered by *hosts*, by a
        // *cache* hit and by *kubernetes*, and mapped back in place.
        ("a.alias.test.", RecordType::A, ResponseCode::NoError, 0),
        ("a.cachealias.test.", RecordType::A, ResponseCode::NoError, 0),
        ("nginx-service.default.svc.mycorpx.local.", RecordType::A, ResponseCode::NoError, 0),
        // *metadata* in front of *kubernetes*: what the query asks for, published into the
        // request's metadata slots, which the spare request keeps warm.
        ("nginx-service.default.svc.described.local.", RecordType::A, ResponseCode::NoError, 0),
        // *dns64*: an AAAA reply that has AAAA records goes out as it came, read in place.
        ("a.dns64.test.", RecordType::AAAA, ResponseCode::NoError, 0),
        // *k8s_external*: a load balancer's address (the seed's nginx2-service, MetalLB's).
        ("nginx2-service.default.example.com.", RecordType::A, ResponseCode::NoError, 0),
        // *k8s_gateway*: an Ingress host (the seed's a.com, ingress-nginx's address), a
        // LoadBalancer Service by NAME.NAMESPACE, a name it does not have.
        ("a.com.", RecordType::A, ResponseCode::NoError, 0),
        ("nginx2-service.default.gw.test.", RecordType::A, ResponseCode::NoError, 0),
        ("nosuch.a.com.", RecordType::A, ResponseCode::NXDomain, 0),
        // *file*: an address with the apex NS, NODATA and NXDOMAIN with the SOA.
        ("www.example.org.", RecordType::A, ResponseCode::NoError, 0),
        ("www.example.org.", RecordType::AAAA, ResponseCode::NoError, 0),
        ("nothing.example.org.", RecordType::A, ResponseCode::NXDomain, 0),
        // With *log* and *prometheus*: the batch's buffer of lines, handed to the writer (once
        // per batch: here every query is one).
        ("a.observed.test.", RecordType::A, ResponseCode::NoError, 1),
    ];
    for (name, qtype, rcode, want) in rows {
        let (allocations, got) = allocations_per_query(&mux, name, qtype);
        assert_eq!(got, rcode, "{name}");
        assert_eq!(allocations, want, "{name} {qtype}: allocations per query");
    }
    // *chaos*: its CH TXT answers, written in wire form.
    for name in ["version.bind.", "authors.bind."] {
        let mut m = Message::query();
        let mut q = Query::query(Name::from_ascii(name).expect("name"), RecordType::TXT);
        q.set_query_class(hickory_proto::rr::DNSClass::CH);
        m.add_query(q);
        let (allocations, got) = allocations_per_packet(&mux, &m.to_vec().expect("encodes"));
        assert_eq!(got, ResponseCode::NoError, "{name}");
        assert_eq!(allocations, 0, "{name} CH TXT: allocations per query");
    }
    // With EDNS: *hosts* alone, and behind *bufsize*, which caps the size the reply is cut to.
    for name in ["a.hosts.test.", "a.capped.test."] {
        let (allocations, got) =
            allocations_per_packet(&mux, &packet_with_edns(name, RecordType::A));
        assert_eq!(got, ResponseCode::NoError, "{name}");
        assert_eq!(allocations, 0, "{name} with EDNS: allocations per query");
    }
    // *dnstap* with `full`: a batch's messages go over in one buffer when the batch ends, so a
    // batch of 32 tapped queries allocates that buffer, the hand-over and its place in the
    // batch's list, not anything per query or per message.
    let per_batch = allocations_per_batch(&mux, &packet("a.tapped.test.", RecordType::A), 32);
    println!("allocations per batch of 32 tapped queries: {per_batch}");
    assert!(per_batch <= 3, "{per_batch} allocations per batch of 32 tapped queries");
    cache_miss_allocations();
    cache_miss_on_a_worker_allocations();
}

/// Allocations per batch of `size` copies of `packet`, served as the UDP loop serves a batch.
fn allocations_per_batch(mux: &Mux, packet: &[u8], size: usize) -> usize {
    let src: SocketAddr = "10.1.2.3:5300".parse().expect("address");
    let local: SocketAddr = "10.0.0.53:53".parse().expect("address");
    let mut out = Vec::with_capacity(512);
    let mut batch = || {
        plugin_api::server::log_batch(|| {
            for _ in 0..size {
                out.clear();
                let outcome =
                    mux.serve_packet(packet, src, local, Proto::Udp, Instant::now(), &mut out);
                assert!(matches!(outcome, Outcome::Send));
            }
        })
    };
    batch();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..20 {
        batch();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) / 20
}

/// An upstream on a thread of its own that answers every query with one address, written into
/// the query's own buffer: it allocates nothing per query, so the count is the server's.
fn canned_upstream() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let addr = socket.local_addr().expect("its address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            buf[2] |= 0x80;
            buf[3] = 0x80;
            buf[6..8].copy_from_slice(&1u16.to_be_bytes());
            let answer = [0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1];
            buf[n..n + answer.len()].copy_from_slice(&answer);
            let _ = socket.send_to(&buf[..n + answer.len()], from);
        }
    });
    addr
}

/// Misses served before the count, so that the cache's 256 shards have made their tables (a
/// shard makes it at its first item), as a server up for a while has long since: after 2 048
/// misses a shard is left without one in about one run in twelve, which adds 0.005 to the
/// count.
const WARM_MISSES: usize = 2048;

/// The answer count and rcode of a reply, read from its header: decoding the reply would
/// count the decoder's allocations as the server's.
fn answers_and_rcode(reply: &[u8]) -> (u16, u8) {
    assert!(reply.len() >= 12 && reply[2] & 0x80 != 0, "a reply: {reply:?}");
    (u16::from_be_bytes([reply[6], reply[7]]), reply[3] & 0x0f)
}

/// `cache 300` in front of `forward` to `upstream`: the chain a miss runs through.
fn cache_and_forward(upstream: SocketAddr) -> Mux {
    let text = format!(".:53 {{\n cache 300\n forward . {upstream}\n}}\n");
    let source = Source { filename: "Corefile".into(), text, path: None, dns_port: "53".into() };
    let config = config::load(&source, &|_| {}).expect("the Corefile loads");
    Mux::new(&config.listeners[0])
}

/// A cache miss through *forward*: a name never asked (a search-path name, past hickory's
/// 32 inline octets), sent to an upstream and the reply relayed and stored. Not free of
/// allocations yet (issue 26); the count is held here so that it only goes down.
fn cache_miss_allocations() {
    const MISSES: usize = 200;
    /// A miss allocated 17.6 times when this row was written (2026-12-06), 14.6 once the
    /// reply after a wait and *forward*'s query took the thread's spare buffer and the TTL
    /// offsets were kept without a copy, 11.6 once a request whose wait ended went back to
    /// the thread for the next miss. Those counts included two allocations of the test's own
    /// (it decoded each reply to check it) and the tables of cache shards first used during
    /// the count: 8.2 without them; 7.2 once the cache entry's bytes and TTL offsets shared
    /// one allocation. What is left: the boxed futures of the chain and of the wait, the
    /// upstream reply's buffer, and the cache entry (bytes and TTL offsets, the item, the
    /// table's node). The names are longer than the 32 octets hickory's `Name` keeps inline,
    /// as a cluster's search-path names are (`….default.svc.cluster.local.`): with such names
    /// a miss allocated 9.2 times until *forward*'s coalescer stopped decoding the question.
    const CEILING: usize = 8;
    let mux = cache_and_forward(canned_upstream());
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let packets: Vec<Vec<u8>> = (0..WARM_MISSES + MISSES)
        .map(|i| packet(&format!("m{i:05}.example.com.default.svc.cluster.local."), RecordType::A))
        .collect();
    let src: SocketAddr = "10.1.2.3:5300".parse().expect("address");
    let local: SocketAddr = "10.0.0.53:53".parse().expect("address");
    let mut out = Vec::with_capacity(512);
    let mut miss = |packet: &[u8]| {
        out.clear();
        let outcome = mux.serve_packet(packet, src, local, Proto::Udp, Instant::now(), &mut out);
        let Outcome::Wait(reply) = outcome else { panic!("a miss waits for the upstream") };
        let bytes = runtime.block_on(reply).expect("a reply");
        assert_eq!(answers_and_rcode(&bytes), (1, 0));
    };
    // These fill the upstream socket pool, the metric series and the cache's shards.
    for p in &packets[..WARM_MISSES] {
        miss(p);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for p in &packets[WARM_MISSES..] {
        miss(p);
    }
    let per_miss = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / MISSES as f64;
    println!("allocations per cache miss through forward: {per_miss:.2}");
    assert!(per_miss <= CEILING as f64, "{per_miss:.2} allocations per miss, ceiling {CEILING}");
}

/// The same miss as a UDP worker runs it: *forward*'s query through the worker's own upstream
/// sockets (`ferrodns::server::upstream_udp`), the future polled where the reply is read, no
/// runtime task and no timer. Held to a ceiling that may only come down.
fn cache_miss_on_a_worker_allocations() {
    use std::task::{Context, Poll, Waker};

    use ferrodns::server::upstream_udp::Upstreams;

    const MISSES: usize = 200;
    /// 2026-12-06, the first count of this path: 14.1; 10.1 once a request whose wait ended
    /// went back to the thread and replies were read into the buffers of replies sent; 7.2
    /// once the test stopped counting its own decoding of each reply and the tables of cache
    /// shards first used during the count (2026-12-07); 6.2 once the cache entry's bytes and
    /// TTL offsets shared one allocation. The exchange itself (socket, id, query, reply
    /// buffer, deadline) allocates nothing; what is left is the boxed futures of the chain
    /// (*forward*'s, *cache*'s, the server's wait) and the cache entry (bytes and TTL offsets,
    /// the item, the table's node). Long names as above: 8.2 with them until the coalescer
    /// stopped decoding the question, 6.2 since.
    const CEILING: usize = 7;
    let mux = cache_and_forward(canned_upstream());
    let upstreams = std::rc::Rc::new(Upstreams::new(u32::MAX));
    plugin_api::pkg::datagram::install(upstreams.clone());
    let packets: Vec<Vec<u8>> = (0..WARM_MISSES + MISSES)
        .map(|i| packet(&format!("w{i:05}.example.com.default.svc.cluster.local."), RecordType::A))
        .collect();
    let src: SocketAddr = "10.1.2.3:5300".parse().expect("address");
    let local: SocketAddr = "10.0.0.53:53".parse().expect("address");
    let mut out = Vec::with_capacity(512);
    let (mut fds, mut which, mut wakers) =
        (Vec::with_capacity(16), Vec::with_capacity(16), Vec::with_capacity(16));
    let mut cx = Context::from_waker(Waker::noop());
    let mut miss = |packet: &[u8]| {
        out.clear();
        let outcome = mux.serve_packet(packet, src, local, Proto::Udp, Instant::now(), &mut out);
        let Outcome::Wait(mut reply) = outcome else { panic!("a miss waits for the upstream") };
        // The worker's turn, in short: poll, send the queued query, read until it is answered.
        let bytes = loop {
            if let Poll::Ready(bytes) = reply.as_mut().poll(&mut cx) {
                break bytes.expect("a reply");
            }
            upstreams.flush(&mut wakers);
            fds.clear();
            which.clear();
            upstreams.poll_fds(&mut fds, &mut which);
            for &socket in &which {
                upstreams.receive(socket, &mut wakers);
            }
            wakers.clear();
            std::thread::yield_now();
        };
        assert_eq!(answers_and_rcode(&bytes), (1, 0));
        // As the worker does once the reply is sent.
        upstreams.give_buffer(bytes);
    };
    // These open the sockets (one of 8 places at random each) and fill the worker's tables,
    // the metric series and the cache's shards.
    for p in &packets[..WARM_MISSES] {
        miss(p);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for p in &packets[WARM_MISSES..] {
        miss(p);
    }
    let counted = packets.len() - WARM_MISSES;
    let per_miss = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / counted as f64;
    println!("allocations per cache miss on a UDP worker: {per_miss:.2}");
    assert!(per_miss <= CEILING as f64, "{per_miss:.2} allocations per miss, ceiling {CEILING}");
}
