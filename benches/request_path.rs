//! The request path in process, no sockets: packet bytes in, through the dispatcher and a real
//! plugin chain, reply bytes out (`Mux::serve_packet`, what the UDP loop calls). Answers from
//! *hosts*, from a *cache* hit (behind *loadbalance*, as in the kubeadm Corefile), and from
//! *kubernetes* serving the seed cluster, plus an NXDOMAIN, and the hosts answer again with *log*
//! and *prometheus* in the chain; each with the time per query and,
//! through divan's allocation profiler, the allocations per query. One case, `kubernetes_mix_
//! of_10k_services`, is bench/run's KUBE scenario in process: 10 000 Services, queries going round
//! A, SRV and PTR of every tenth, so what the index's layout costs in cache misses shows too.
//!
//! `cargo bench --bench request_path`. Regressions show here without the network's noise.

use std::net::SocketAddr;
use std::time::Instant;

use divan::AllocProfiler;
use ferrodns::config::{self, Source};
use ferrodns::server::mux::{Mux, Outcome};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use plugin_api::Proto;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    // Log lines go where the server's go, minus the writing thread: handed over and dropped.
    plugin_api::server::set_log_writer(drop);
    divan::main();
}

fn mux() -> Mux {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    let text = format!(
        "hosts.bench {{\n hosts {{\n  10.0.0.1 a.hosts.bench\n }}\n}}\n\
         cached.bench {{\n loadbalance\n cache 300\n hosts {{\n  10.0.0.1 a.cached.bench\n  10.0.0.2 a.cached.bench\n  10.0.0.3 a.cached.bench\n }}\n}}\n\
         cluster.local {{\n kubernetes cluster.local {{\n  manifests {manifests}\n }}\n}}\n\
         observed.bench {{\n log\n prometheus localhost:0\n hosts {{\n  10.0.0.1 a.observed.bench\n }}\n}}\n"
    );
    let source = Source { filename: "Corefile".into(), text, path: None, dns_port: "53".into() };
    let config = config::load(&source, &|_| {}).expect("the bench Corefile loads");
    Mux::new(&config.listeners[0])
}

fn packet(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    m.to_vec().expect("encodes")
}

/// Serves `packet` as the UDP loop does. The loop reads the clock once per batch of packets;
/// here each query reads it, a batch of one, so that durations (and the buckets they fall in)
/// are the real ones.
fn serve(mux: &Mux, packet: &[u8], out: &mut Vec<u8>) {
    // Built, not parsed: parsing two addresses was 2 % of a query's time here.
    let src = SocketAddr::from(([10, 1, 2, 3], 5300));
    let local = SocketAddr::from(([10, 0, 0, 53], 53));
    out.clear();
    match mux.serve_packet(packet, src, local, Proto::Udp, Instant::now(), out) {
        Outcome::Send => {}
        _ => panic!("answered from memory, at once"),
    }
}

fn bench_query(bencher: divan::Bencher<'_, '_>, name: &str, qtype: RecordType) {
    let mux = mux();
    let packet = packet(name, qtype);
    let mut out = Vec::with_capacity(512);
    serve(&mux, &packet, &mut out); // fills the cache where there is one
    bencher.bench_local(|| serve(&mux, divan::black_box(&packet), &mut out));
}

#[divan::bench]
fn hosts_a(bencher: divan::Bencher<'_, '_>) {
    bench_query(bencher, "a.hosts.bench.", RecordType::A);
}

/// `hosts_a` with *log* and *prometheus* in the chain (bench/run's AUTH+OBS): their cost.
#[divan::bench]
fn hosts_a_logged_and_counted(bencher: divan::Bencher<'_, '_>) {
    let mux = mux();
    let packet = packet("a.observed.bench.", RecordType::A);
    let mut out = Vec::with_capacity(512);
    serve(&mux, &packet, &mut out);
    // Each query is its own batch of log lines, as a batch of one in the UDP loop.
    bencher.bench_local(|| {
        plugin_api::server::log_batch(|| serve(&mux, divan::black_box(&packet), &mut out))
    });
}

#[divan::bench]
fn cache_hit_through_loadbalance(bencher: divan::Bencher<'_, '_>) {
    bench_query(bencher, "a.cached.bench.", RecordType::A);
}

#[divan::bench]
fn kubernetes_service_a(bencher: divan::Bencher<'_, '_>) {
    bench_query(bencher, "nginx-service.default.svc.cluster.local.", RecordType::A);
}

#[divan::bench]
fn kubernetes_service_srv(bencher: divan::Bencher<'_, '_>) {
    bench_query(
        bencher,
        "_name-of-service-port._tcp.nginx-service.default.svc.cluster.local.",
        RecordType::SRV,
    );
}

#[divan::bench]
fn kubernetes_nxdomain(bencher: divan::Bencher<'_, '_>) {
    bench_query(bencher, "nosuch.default.svc.cluster.local.", RecordType::A);
}

/// bench/run's KUBE scenario without the network: 10 000 Services from manifests, and 3 000
/// queries (A, SRV and PTR of every tenth Service) served in turn, each iteration the next one
/// (a sample is one round of all 3 000, so every sample has the same mix).
#[divan::bench(sample_size = 3000)]
fn kubernetes_mix_of_10k_services(bencher: divan::Bencher<'_, '_>) {
    const SERVICES: usize = 10_000;
    let dir = std::env::temp_dir().join(format!("ferrodns-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let mut yaml = String::new();
    for i in 0..SERVICES {
        yaml += &format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{i}, namespace: default}}\n\
             spec: {{clusterIP: 10.96.{}.{}, ports: [{{name: http, port: 80, protocol: TCP}}]}}\n",
            i >> 8,
            i & 255
        );
    }
    std::fs::write(dir.join("services.yaml"), yaml).expect("manifests written");
    let text = format!(
        ".:53 {{\n kubernetes cluster.local in-addr.arpa {{\n  manifests {}\n }}\n}}\n",
        dir.display()
    );
    let source = Source { filename: "Corefile".into(), text, path: None, dns_port: "53".into() };
    let config = config::load(&source, &|_| {}).expect("the bench Corefile loads");
    let mux = Mux::new(&config.listeners[0]);
    std::fs::remove_dir_all(&dir).expect("the temporary directory removed");
    let packets: Vec<Vec<u8>> = (0..SERVICES)
        .step_by(10)
        .flat_map(|i| {
            [
                packet(&format!("svc{i}.default.svc.cluster.local."), RecordType::A),
                packet(&format!("_http._tcp.svc{i}.default.svc.cluster.local."), RecordType::SRV),
                packet(&format!("{}.{}.96.10.in-addr.arpa.", i & 255, i >> 8), RecordType::PTR),
            ]
        })
        .collect();
    let mut out = Vec::with_capacity(512);
    for packet in &packets {
        serve(&mux, packet, &mut out);
        let reply = Message::from_vec(&out).expect("a reply");
        assert_eq!(reply.answers.len(), 1, "every name of the mix has its answer");
    }
    let mut next = packets.iter().cycle();
    bencher.bench_local(|| serve(&mux, divan::black_box(next.next().expect("cycles")), &mut out));
}
