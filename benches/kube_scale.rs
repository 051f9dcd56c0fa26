//! The kubernetes plugin at cluster scale, against the real binary: 10 000 Services (a tenth
//! headless), 10 000 EndpointSlices holding 50 000 endpoints, 50 000 Pods (`pods verified`, so
//! they are watched), served by the fake API server of the integration tests and read through
//! the real `kube` client. Prints the time from start to ready, RSS after the sync, and dnsperf's
//! throughput, latency and the server's CPU per query against 10 Services versus all 10 000,
//! next to CoreDNS's sizing formula; then RSS through a relist (every watch ended with 410
//! Gone): steady, the peak while every kind is listed again, and 10 s after.
//!
//! `cargo bench --bench kube_scale`. Not a test: it asserts nothing and only reports;
//! plugins/kubernetes/README.md holds the last figures.

#[path = "../tests/it/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const SERVICES: usize = 10_000;
const ENDPOINTS_PER_SLICE: usize = 5;
const NAMESPACES: usize = 100;

fn ip(i: usize, base: u8) -> String {
    format!("10.{}.{}.{}", base as usize + i / 65536, (i / 256) % 256, i % 256)
}

fn load(api: &fake_api::FakeApi) {
    for n in 0..NAMESPACES {
        api.apply("/api/v1/namespaces", fake_api::namespace(&format!("ns-{n}")));
    }
    let mut pod = 0;
    for i in 0..SERVICES {
        let ns = format!("ns-{}", i % NAMESPACES);
        let name = format!("svc-{i}");
        let mut service = fake_api::service(&ns, &name, &ip(i, 96));
        if i % 10 == 0 {
            service["spec"]["clusterIP"] = json!("None");
            service["spec"]["clusterIPs"] = json!(["None"]);
        }
        api.apply("/api/v1/services", service);
        let mut endpoints = Vec::new();
        for e in 0..ENDPOINTS_PER_SLICE {
            let address = ip(pod, 128);
            let pod_name = format!("{name}-pod-{e}");
            endpoints.push(json!({
                "addresses": [address], "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "name": pod_name, "namespace": ns},
            }));
            api.apply(
                "/api/v1/pods",
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": pod_name, "namespace": ns},
                       "status": {"podIP": address, "podIPs": [{"ip": address}]}}),
            );
            pod += 1;
        }
        api.apply(
            "/apis/discovery.k8s.io/v1/endpointslices",
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": format!("{name}-x1"), "namespace": ns,
                                "labels": {"kubernetes.io/service-name": name}},
                   "addressType": "IPv4",
                   "endpoints": endpoints,
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        );
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident KiB of `pid` by kind of mapping: the main heap, anonymous mappings (other threads'
/// malloc arenas, stacks, large allocations) and everything file-backed (the binary, libc).
fn rss_by_mapping(pid: u32) -> (u64, u64, u64) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut heap, mut anon, mut file) = (0, 0, 0);
    let mut kind = 0;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first().is_some_and(|f| f.contains('-') && !f.ends_with(':')) {
            kind = match fields.get(5) {
                Some(&"[heap]") => 0,
                None => 1,
                Some(name) if name.starts_with('[') => 1,
                Some(_) => 2,
            };
        } else if fields.first() == Some(&"Rss:") {
            let kib: u64 = fields.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            *[&mut heap, &mut anon, &mut file][kind] += kib;
        }
    }
    (heap, anon, file)
}

/// CPU time (user + system) of `pid` in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let ticks: f64 =
        fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0 // USER_HZ
}

/// dnsperf over `names` for 10 s: (queries per second, average latency in µs, lost, server CPU
/// µs per query).
fn dnsperf(
    server: SocketAddr,
    pid: u32,
    names: &[(String, u16)],
    dir: &std::path::Path,
) -> (f64, f64, u64, f64) {
    let file = dir.join("queries");
    let text: String = names
        .iter()
        .map(|(n, t)| {
            format!(
                "{n} {}\n",
                match t {
                    1 => "A",
                    33 => "SRV",
                    _ => "PTR",
                }
            )
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let cpu = cpu_seconds(pid);
    let out = Command::new("dnsperf")
        .args(["-s", "127.0.0.1", "-p", &server.port().to_string(), "-d", file.to_str().unwrap()])
        .args(["-l", "10", "-c", "10", "-T", "2", "-q", "200"])
        .output()
        .expect("dnsperf (apt-get install dnsperf)");
    let cpu = cpu_seconds(pid) - cpu;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |label: &str| -> f64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (qps, completed) = (field("Queries per second:"), field("Queries completed:"));
    (qps, field("Average Latency (s):") * 1e6, field("Queries lost:") as u64, cpu * 1e6 / completed)
}

fn mix(services: impl Iterator<Item = usize>) -> Vec<(String, u16)> {
    let mut names = Vec::new();
    for i in services {
        let ns = i % NAMESPACES;
        names.push((format!("svc-{i}.ns-{ns}.svc.cluster.local."), 1));
        names.push((format!("_http._tcp.svc-{i}.ns-{ns}.svc.cluster.local."), 33));
        let address = ip(i, 96);
        let mut octets: Vec<&str> = address.split('.').collect();
        octets.reverse();
        if i % 10 != 0 {
            names.push((format!("{}.in-addr.arpa.", octets.join(".")), 12));
        }
    }
    names
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = runtime.block_on(fake_api::FakeApi::start());
    let started = Instant::now();
    load(&api);
    eprintln!("objects made in {:.1} s", started.elapsed().as_secs_f64());

    let dir = std::env::temp_dir().join(format!("ferrodns-kube-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ready_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dns_port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let corefile = format!(
        ".:{dns_port} {{\n    ready 127.0.0.1:{ready_port}\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        endpoint http://{}\n        pods verified\n    }}\n}}\n",
        api.addr
    );
    std::fs::write(dir.join("Corefile"), corefile).unwrap();
    // Cargo builds the binary for a benchmark with the bench profile, which is the release
    // profile; running `cargo build --release` here as well built it twice (fat LTO, 5 minutes
    // each) and each build replaced the other's copy.
    let bin = env!("CARGO_BIN_EXE_ferrodns");
    let rss_idle = {
        // The same binary serving nothing from the API: the baseline.
        let mut idle = Command::new(bin)
            .args(["-conf", "/dev/stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        idle.stdin
            .take()
            .unwrap()
            .write_all(format!(".:{dns_port} {{\n whoami\n}}\n").as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let r = rss_kib(idle.id());
        let _ = idle.kill();
        let _ = idle.wait();
        r
    };

    let began = Instant::now();
    // KUBE_SCALE_WRAPPER="heaptrack -o /tmp/kube" runs the server under a profiler.
    let wrapper = std::env::var("KUBE_SCALE_WRAPPER").unwrap_or_default();
    let mut command = wrapper.split_whitespace().chain([bin]);
    let mut child = Command::new(command.next().unwrap_or(bin))
        .args(command)
        .args(["-conf", dir.join("Corefile").to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ready: SocketAddr = ([127, 0, 0, 1], ready_port).into();
    loop {
        let ok = std::net::TcpStream::connect(ready).ok().and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /ready HTTP/1.0\r\n\r\n").ok()?;
            let mut text = String::new();
            s.read_to_string(&mut text).ok()?;
            Some(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"))
        });
        if ok == Some(true) {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(120), "not ready within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sync = began.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_kib(child.id());
    let (heap, anon, file) = rss_by_mapping(child.id());

    let server: SocketAddr = ([127, 0, 0, 1], dns_port).into();
    let few = mix(0..10);
    let many = mix(0..SERVICES);
    // Two rounds, alternating, so a drift of the machine shows as a difference between rounds.
    let mut rows = Vec::new();
    // KUBE_SCALE_QUERIES=0 measures the sync and the memory only.
    let rounds = if std::env::var("KUBE_SCALE_QUERIES").is_ok_and(|v| v == "0") { 0 } else { 2 };
    for round in 1..=rounds {
        for (label, names) in [("10 Services", &few), ("all 10 000 Services", &many)] {
            let (qps, latency, lost, cpu) = dnsperf(server, child.id(), names, &dir);
            rows.push(format!(
                "| {label} | {round} | {} | {qps:.0} | {latency:.0} | {lost} | {cpu:.2} |",
                names.len()
            ));
        }
    }

    // A relist, as after an etcd compaction or an API server restart: every watch ends with
    // 410 Gone and every kind is listed again. RSS is sampled through it and after it.
    let steady = rss_kib(child.id());
    api.expire_watches();
    let relist_began = Instant::now();
    let mut peak = steady;
    while relist_began.elapsed() < Duration::from_secs(10) {
        peak = peak.max(rss_kib(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    }
    let after_relist = rss_kib(child.id());

    let objects = SERVICES + SERVICES * ENDPOINTS_PER_SLICE;
    let formula_mb = (objects as f64) / 1000.0 + 54.0;
    println!(
        "kube_scale: {SERVICES} Services ({} headless), {SERVICES} EndpointSlices, {} endpoints, {} Pods, {NAMESPACES} namespaces",
        SERVICES / 10,
        SERVICES * ENDPOINTS_PER_SLICE,
        SERVICES * ENDPOINTS_PER_SLICE
    );
    println!("time from start to /ready 200: {:.2} s", sync.as_secs_f64());
    println!(
        "RSS after sync: {:.1} MiB (the same binary serving whoami: {:.1} MiB)",
        rss as f64 / 1024.0,
        rss_idle as f64 / 1024.0
    );
    println!(
        "  of which: main heap {:.1} MiB, anonymous mappings (other threads' arenas, stacks) {:.1} MiB, files (binary, libraries) {:.1} MiB",
        heap as f64 / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0
    );
    println!(
        "relist (every watch ended with 410 Gone): steady {:.1} MiB, peak {:.1} MiB ({:.2}x), 10 s after {:.1} MiB",
        steady as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak as f64 / steady.max(1) as f64,
        after_relist as f64 / 1024.0
    );
    println!(
        "CoreDNS's sizing formula, (pods + services)/1000 + 54 MB: {formula_mb:.0} MB; a third of it: {:.0} MB",
        formula_mb / 3.0
    );
    println!(
        "\ndnsperf -l 10 -c 10 -T 2 -q 200, a mix of A, SRV and PTR (PTR for ClusterIP Services):\n"
    );
    println!(
        "| query set | round | distinct queries | QPS | avg latency µs | lost | server CPU µs/query |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
    let _ = child.kill();
    let _ = child.wait();
    api.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
