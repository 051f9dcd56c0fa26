//! The rarest record types a zone file may hold (those neither hickory-proto nor NSD reads,
//! miekg/dns does), read by *file* and by BIND (Debian's `named`, started here on loopback with
//! the same file), and served: every record's data must be the octets BIND serves.

use std::net::SocketAddr;

use crate::binary::Scratch;
use crate::file::{Reference, file_serving, reference, same_data_for_every_record};
use crate::harness::*;

const RAREST: &str = include_str!("db.rarest.example");

/// BIND serving `zone` as `origin` (without the final dot) on a free loopback port, every file
/// it writes kept in `dir`.
async fn named_zone(dir: &Scratch, origin: &str, zone: &str) -> (Reference, SocketAddr) {
    let port = free_port();
    let d = dir.path().display();
    dir.write(&format!("db.{origin}"), zone);
    let conf = dir.write(
        "named.conf",
        &format!(
            "options {{\n directory \"{d}\";\n pid-file \"{d}/named.pid\";\n \
             session-keyfile \"{d}/session.key\";\n managed-keys-directory \"{d}\";\n \
             listen-on port {port} {{ 127.0.0.1; }};\n listen-on-v6 {{ none; }};\n \
             recursion no;\n}};\nzone \"{origin}\" {{ type primary; file \"{d}/db.{origin}\"; }};\n"
        ),
    );
    reference("named", &["-g".as_ref(), "-c".as_ref(), conf.as_os_str()], port, origin).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rarest_types_read_into_the_octets_bind_reads() {
    let dir = Scratch::new("zone-types");
    let (_named, bind_addr) = named_zone(&dir, "rarest.example", RAREST).await;
    let s = file_serving(&dir, "rarest.example").await;
    let compared =
        same_data_for_every_record(RAREST, "rarest.example.", s.addr, bind_addr, "BIND").await;
    assert!(compared >= 19, "{compared} records compared");
    s.stop().await;
}
