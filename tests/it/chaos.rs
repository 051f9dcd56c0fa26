//! *chaos* over sockets, asked by `dig` as operators ask it: `dig CH TXT version.bind`.

use std::net::SocketAddr;
use std::process::Command;

use crate::harness::*;

/// `dig`'s short answer to `args` at the server, or `None` where dig is not installed (CI
/// installs it, and there its absence fails the test).
fn dig(addr: SocketAddr, args: &[&str]) -> Option<String> {
    let port = addr.port().to_string();
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port, "+short", "+tries=1", "+time=5"])
        .args(args)
        .output();
    match out {
        Ok(out) => {
            assert!(out.status.success(), "dig {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: dig is not installed ({e})");
            None
        }
        Err(e) => panic!("dig is needed under CI: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dig_reads_the_version_authors_and_host_name() {
    let s = TestServer::start(".:0 {\n chaos CoreDNS-001 info@coredns.io\n}").await;
    let addr = s.addr;
    let task = tokio::task::spawn_blocking(move || {
        let Some(version) = dig(addr, &["CH", "TXT", "version.bind"]) else { return };
        assert_eq!(version, "\"CoreDNS-001\"\n");
        assert_eq!(dig(addr, &["CH", "TXT", "VERSION.SERVER"]).unwrap(), "\"CoreDNS-001\"\n");
        assert_eq!(dig(addr, &["CH", "TXT", "authors.bind"]).unwrap(), "\"info@coredns.io\"\n");
        let host = dig(addr, &["CH", "TXT", "hostname.bind"]).unwrap();
        assert!(host.starts_with('"') && host.len() > 3, "{host}");
    });
    task.await.unwrap();
    s.stop().await;
}
