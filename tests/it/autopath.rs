//! *autopath* with a real stub resolver: glibc's `getent hosts example.com` from a Pod's
//! resolv.conf (`search default.svc.cluster.local svc.cluster.local cluster.local`,
//! `options ndots:5`), against the real binary on port 53 of a network namespace the test
//! makes, with the kubernetes plugin knowing the asking address as a Pod (`pods verified`).
//! The queries the server received (`coredns_dns_requests_total`) are counted with and without
//! *autopath*; README.md gives the figures.

use std::net::SocketAddr;
use std::process::Command;

use crate::binary::{Running, Scratch};
use crate::harness::{http_get, parse_exposition};
use crate::netns;
use crate::upstream::{Behaviour, Upstream};

/// The Pod that asks: the stub resolver's queries come from loopback in the namespace.
const MANIFESTS: &str = "apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
status: {podIP: 127.0.0.1}
";

const POD_RESOLV_CONF: &str = "nameserver 127.0.0.1
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
";

/// What one lookup cost: queries the server received, queries *autopath* answered.
struct Cost {
    queries: f64,
    autopathed: f64,
}

async fn lookup_cost(dir: &Scratch, autopath: bool, upstream: SocketAddr) -> Cost {
    let manifests = dir.join("manifests").display().to_string();
    let corefile = format!(
        ".:53 {{\n    {}\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        pods verified\n        manifests {manifests}\n        fallthrough in-addr.arpa ip6.arpa\n    }}\n    forward . {upstream}\n    prometheus 127.0.0.1:9153\n}}\n",
        if autopath { "autopath @kubernetes" } else { "" }
    );
    let conf = dir.write("Corefile", &corefile);
    let mut server = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    server.wait_line(|l| l == ".:53");

    let resolv = dir.write("resolv.conf", POD_RESOLV_CONF);
    let script = format!(
        "mount --bind {} /etc/resolv.conf && exec getent hosts example.com",
        resolv.display()
    );
    let out =
        Command::new("unshare").args(["--mount", "sh", "-c", &script]).output().expect("getent");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "getent failed: {printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The address and canonical name; with autopath the name asked first, which its CNAME
    // points from, follows as an alias.
    let fields: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(fields[..2], ["192.0.2.99", "example.com"], "{printed}");
    if autopath {
        assert_eq!(fields[2..], ["example.com.default.svc.cluster.local"], "{printed}");
    }

    let (status, body) = http_get("127.0.0.1:9153".parse().unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let sum = |name: &str| samples.iter().filter(|s| s.name == name).map(|s| s.value).sum::<f64>();
    let cost = Cost {
        queries: sum("coredns_dns_requests_total"),
        autopathed: sum("coredns_autopath_success_total"),
    };
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0);
    cost
}

#[test]
fn a_pods_outside_lookup_costs_fewer_queries_with_autopath() {
    netns::on_node("pod0", &[], || async {
        let dir = Scratch::new("autopath");
        std::fs::create_dir_all(dir.join("manifests")).unwrap();
        dir.write("manifests/pod.yaml", MANIFESTS);
        let upstream = Upstream::start(Behaviour::OnlyA("192.0.2.99".parse().unwrap(), 60)).await;

        let without = lookup_cost(&dir, false, upstream.addr).await;
        let with = lookup_cost(&dir, true, upstream.addr).await;
        assert_eq!(without.autopathed, 0.0);
        assert!(with.autopathed >= 1.0, "autopath answered from the path");
        assert!(
            with.queries < without.queries,
            "with autopath {} queries, without {}",
            with.queries,
            without.queries
        );
        // The figures README.md gives, for glibc 2.36's stub resolver (`getent hosts`: AAAA
        // through the whole path, then A).
        assert_eq!((without.queries, with.queries), (8.0, 5.0));
    });
}
