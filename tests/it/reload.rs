//! The *reload* plugin on the real binary: the Corefile changes ten times (once to a broken
//! file) under a steady stream of UDP and TCP queries; none is lost or answered SERVFAIL, each
//! change shows within the interval, the broken one is logged and counted. Forty reloads by
//! SIGUSR1 leave nothing of the old configurations behind: no descriptor, thread or API watch.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::{Running, Scratch};
use crate::harness::*;

fn corefile(version: usize, metrics_port: u16) -> String {
    format!(
        "steady.test:0 {{\n    reload 2s 0s\n    prometheus localhost:{metrics_port}\n    whoami\n}}\nv{version}.test:0 {{\n    whoami\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_changes_under_load_lose_nothing() {
    let dir = Scratch::new("reload");
    let metrics_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = dir.write("Corefile", &corefile(0, metrics_port));
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.starts_with("[INFO] plugin/reload: Running configuration SHA512 = "));
    let addr = p.port_of("steady.test.");

    // Steady load: UDP and TCP, each query must come back NOERROR.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for tcp in [false, true] {
        let (stop, sent, bad) = (stop.clone(), sent.clone(), bad.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let q = query("a.steady.test.", RecordType::A);
                let reply =
                    if tcp { tcp_exchange(addr, &q).await } else { udp_exchange(addr, &q).await };
                sent.fetch_add(1, Ordering::SeqCst);
                if reply.map(|r| r.metadata.response_code) != Some(ResponseCode::NoError) {
                    bad.fetch_add(1, Ordering::SeqCst);
                }
                // As fast as one client per transport can go: thousands of queries a second.
                tokio::task::yield_now().await;
            }
        }));
    }

    let served = |version: usize| async move {
        let q = query(&format!("x.v{version}.test."), RecordType::A);
        udp_exchange(addr, &q).await.map(|r| r.metadata.response_code)
            == Some(ResponseCode::NoError)
    };
    for version in 1..=10 {
        if version == 5 {
            std::fs::write(&conf, "steady.test:0 {\n    reload 2s 0s\n    nonsense\n}\n").unwrap();
            p.wait_line(|l| {
                l.contains("Corefile changed but reload failed")
                    && l.contains("Unknown directive 'nonsense'")
            });
            assert!(served(4).await, "the running configuration stays");
            continue;
        }
        // The load runs across every reload: it answers more queries after the file changes.
        let before = sent.load(Ordering::SeqCst);
        std::fs::write(&conf, corefile(version, metrics_port)).unwrap();
        wait_until(&format!("version {version} served"), || served(version)).await;
        assert!(!served(version - 1).await || version == 6, "the previous zone is gone");
        eventually("the load goes on", || sent.load(Ordering::SeqCst) > before).await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.unwrap();
    }
    let (sent, bad) = (sent.load(Ordering::SeqCst), bad.load(Ordering::SeqCst));
    assert_eq!(bad, 0, "{bad} of {sent} queries lost or failed");

    let metrics: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
    let samples = parse_exposition(&http_get(metrics, "/metrics").await.1);
    assert_eq!(metric(&samples, "coredns_reload_failed_total", &[]), Some(1.0));
    assert_eq!(
        samples.iter().filter(|s| s.name == "coredns_reload_version_info").count(),
        1,
        "one version_info series, the running one"
    );
}

/// The Corefile and a hosts file deleted under a running server: it keeps answering from what
/// it loaded, says once that the Corefile is gone, and picks up a new Corefile when one comes.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_corefile_and_hosts_file_keep_serving() {
    let dir = Scratch::new("deleted");
    let hosts = dir.write("hosts", "10.20.30.40 kept.files.test\n");
    let text = format!(
        "files.test:0 {{\n    reload 2s 0s\n    hosts {} {{\n        reload 1s\n    }}\n}}\n",
        hosts.display()
    );
    let conf = dir.write("Corefile", &text);
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.starts_with("[INFO] plugin/reload: Running configuration SHA512 = "));
    let addr = p.port_of("files.test.");
    let kept = || async move {
        let reply = udp_exchange(addr, &query("kept.files.test.", RecordType::A)).await;
        reply
            .is_some_and(|r| r.answers.first().is_some_and(|a| a.data.to_string() == "10.20.30.40"))
    };
    assert!(kept().await);

    std::fs::remove_file(&hosts).unwrap();
    std::fs::remove_file(&conf).unwrap();
    p.wait_line(|l| {
        l.contains("plugin/reload: Corefile unreadable, the running configuration stays")
    });
    // Past both reload periods: still answering from what was loaded.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(kept().await, "answers from the loaded hosts file");

    // A new Corefile (with a new zone) is picked up.
    std::fs::write(&conf, text.replace("files.test:0", "files.test:0 back.test:0")).unwrap();
    p.wait_line(|l| l.contains("plugin/reload: Corefile readable again"));
    p.wait_line(|l| l.contains("Reloading complete"));
    let back = udp_exchange(addr, &query("x.back.test.", RecordType::A)).await.expect("reply");
    assert_ne!(back.metadata.response_code, ResponseCode::Refused, "the new zone is served");
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}

/// What a process holds, from /proc: its descriptors (the UDP sockets connected to `upstream`
/// apart) and its threads.
#[derive(Debug, Clone, Copy)]
struct Held {
    descriptors: usize,
    upstream_sockets: usize,
    threads: usize,
}

fn held(pid: u32, upstream: SocketAddr) -> Held {
    // The kernel's table of UDP sockets: the inodes of those whose peer is the upstream.
    let SocketAddr::V4(up) = upstream else { panic!("an IPv4 upstream") };
    let peer = format!("{:08X}:{:04X}", u32::from_le_bytes(up.ip().octets()), up.port());
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/udp")).unwrap_or_default();
    let to_upstream: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let inode = f.get(9)?;
            (f.get(2) == Some(&peer.as_str())).then(|| format!("socket:[{inode}]"))
        })
        .collect();
    let mut held = Held { descriptors: 0, upstream_sockets: 0, threads: 0 };
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if to_upstream.iter().any(|s| target.as_os_str() == s.as_str()) {
            held.upstream_sockets += 1;
        } else {
            held.descriptors += 1;
        }
    }
    held.threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
    held
}

/// The kubeadm plugins and the file-backed ones, each with something of its own to open (HTTP
/// listeners on fresh ports, API watches, upstream sockets, file timers), reloaded forty times
/// on SIGUSR1: every reload is served, and afterwards the process holds no more descriptors,
/// threads and watches than after the first two, so nothing a configuration opened outlives
/// it. The workers' upstream sockets are the exception by design: they outlive
/// configurations (a reload keeps an upstream's), and only their bound is checked.
#[tokio::test(flavor = "multi_thread")]
async fn forty_reloads_leave_no_descriptor_thread_or_watch_behind() {
    use crate::fake_api::{FakeApi, namespace, service};
    use crate::kube_api::{NAMESPACES, SERVICES};
    use crate::upstream::{Behaviour, Upstream};

    let api = FakeApi::start().await;
    api.apply(NAMESPACES, namespace("default"));
    api.apply(SERVICES, service("default", "web", "10.96.0.10"));
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.7".parse().unwrap(), 60)).await;
    let dir = Scratch::new("reload-leaks");
    let hosts = dir.write("hosts", "10.20.30.40 h.files.test\n");
    let zone = dir.write(
        "db.zone.test",
        "$ORIGIN zone.test.\n@ 300 IN SOA ns hostmaster 1 7200 1800 86400 300\n\
         @ 300 IN NS ns\nns 300 IN A 192.0.2.53\nwww 300 IN A 192.0.2.80\n",
    );
    let corefile = |version: usize| {
        format!(
            ".:0 {{\n errors\n health localhost:0\n ready localhost:0\n \
             prometheus localhost:0\n \
             kubernetes cluster.local {{\n  endpoint http://{api}\n }}\n \
             hosts {hosts} files.test {{\n  reload 1s\n  fallthrough\n }}\n \
             file {zone} zone.test {{\n  reload 1s\n }}\n \
             template IN TXT version.test {{\n  answer \"version.test. 60 IN TXT v{version}\"\n }}\n \
             forward . {upstream}\n cache {ttl}\n loadbalance\n}}\n",
            api = api.addr,
            hosts = hosts.display(),
            zone = zone.display(),
            upstream = upstream.addr,
            ttl = 30 + version % 2,
        )
    };
    let conf = dir.write("Corefile", &corefile(0));
    // Two workers, so that the bound on their upstream sockets is known.
    let args = ["-conf", conf.to_str().unwrap()];
    let mut p = Running::spawn_env(&args, dir.path(), None, &[("GOMAXPROCS", "2")]);
    let addr = p.port_of(".");
    let pid = p.child.id();

    // Every part answers, over UDP and TCP, and the template says which version serves.
    let serves = |version: usize| async move {
        let asks = [
            "web.default.svc.cluster.local.",
            "h.files.test.",
            "www.zone.test.",
            &format!("elsewhere{version}.example."),
        ];
        for name in asks {
            for tcp in [false, true] {
                let q = query(name, RecordType::A);
                let reply =
                    if tcp { tcp_exchange(addr, &q).await } else { udp_exchange(addr, &q).await };
                let rcode = reply.map(|r| r.metadata.response_code);
                assert_eq!(rcode, Some(ResponseCode::NoError), "{name} over TCP: {tcp}");
            }
        }
        let txt = udp_exchange(addr, &query("version.test.", RecordType::TXT)).await;
        txt.is_some_and(|r| r.answers.iter().any(|a| a.data.to_string() == format!("v{version}")))
    };
    wait_until("the first configuration serves", || serves(0)).await;
    let reload_to = |p: &Running, version: usize| {
        std::fs::write(&conf, corefile(version)).unwrap();
        // SIGUSR1 logs no line when done (as Caddy's does not): the template tells.
        p.signal("USR1");
        async move { wait_until(&format!("version {version} serves"), || serves(version)).await }
    };
    // Two reloads first, so that whatever a first reload opens once and keeps is counted.
    reload_to(&p, 1).await;
    reload_to(&p, 2).await;
    let before = held(pid, upstream.addr);
    for version in 3..=42 {
        reload_to(&p, version).await;
    }
    // An idle thread of the runtime's blocking pool lives 10 s after its last job. Fewer than
    // before is fine (the first count may have caught one such thread, or the health check's
    // connection); a leak of anything per reload would be forty more.
    let settled = async {
        loop {
            let now = held(pid, upstream.addr);
            if now.descriptors <= before.descriptors && now.threads <= before.threads {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let Ok(after) = tokio::time::timeout(Duration::from_secs(20), settled).await else {
        panic!("after 40 more reloads {:?}, against {before:?}", held(pid, upstream.addr));
    };
    assert!(after.upstream_sockets <= 2 * 8, "two workers, 8 sockets each: {after:?}");
    eventually("one configuration's watches", || api.open_watches() == 3).await;
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
    api.stop();
}
