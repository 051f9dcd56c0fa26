//! The properties the fuzz targets check, here so that the inputs they have found (fuzz/corpus,
//! minimised into fuzz/regressions) are checked again by `cargo test` on every change. Each
//! function panics when the property does not hold.
//!
//! * [`packet`]: any bytes through a real dispatcher (cache, loadbalance, hosts and kubernetes
//!   serving the seed cluster, in one chain) over UDP and TCP: no panic, and any reply is a
//!   well-formed response of at most 65535 octets.
//! * [`corefile`]: any text as a Corefile: a configuration or an error that says something.
//! * [`hosts`]: any text as a hosts file: entries or skipped lines naming a line that exists.
//! * [`manifests`]: any text as a manifest file: objects or problems naming the file, and an
//!   index built from what was kept.
//! * [`template`]: any text as *template* and *rewrite* directives (the fuzzer writes whatever
//!   it finds; it is seeded with both) in front of *hosts* and *whoami*, then any bytes as a
//!   query through them: an error that says where, or replies that are well-formed.
//! * [`reply`]: any bytes as an upstream's reply, taken apart in place as *forward* and *cache*
//!   do (the OPT taken off, the question checked, the TTLs found and set, stored, served to a
//!   client): no panic, the served reply walks again with its TTLs in place, and when hickory
//!   decodes both the upstream's bytes and the served reply, they hold the same records.

use std::sync::LazyLock;

use plugin_api::Proto;
use plugin_api::server::{Decoded, decode};

use crate::config::{self, Source};
use crate::server::mux::{Mux, Outcome};

/// The kubeadm chain's in-memory parts in front of whoami, a zone with log, and an empty
/// reverse zone.
fn packet_corefile() -> String {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/seed/manifests");
    format!(
        "\
. {{
    cache 30
    loadbalance
    hosts {{
        172.16.0.3 webservice1.com
        fd00::3 webservice6.com
        fallthrough
    }}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        manifests {manifests}
    }}
    whoami
}}
example.org {{
    log example.org {{
        class error
    }}
    whoami
}}
10.0.0.0/24 {{
}}
"
    )
}

static MUX: LazyLock<Mux> = LazyLock::new(|| {
    let source = Source {
        filename: "Corefile".into(),
        text: packet_corefile(),
        path: None,
        dns_port: "53".into(),
    };
    let config = config::load(&source, &|_| {}).expect("the fuzz Corefile loads");
    Mux::new(&config.listeners[0])
});

/// `data` as a UDP datagram and as a TCP message.
pub fn packet(data: &[u8]) {
    serve_checked(&MUX, data);
}

/// Serves `data` through `mux` over UDP and TCP; any reply must be a well-formed response.
fn serve_checked(mux: &Mux, data: &[u8]) {
    let src = "10.1.2.3:4444".parse().expect("address");
    let local = "10.0.0.1:53".parse().expect("address");
    for proto in [Proto::Udp, Proto::Tcp] {
        let mut out = Vec::new();
        let bytes =
            match mux.serve_packet(data, src, local, proto, std::time::Instant::now(), &mut out) {
                Outcome::Send => out,
                // A zone transfer's frames: each a well-formed response.
                Outcome::SendFrames => {
                    let mut rest = out.as_slice();
                    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                        let len = usize::from(u16::from_be_bytes(*len));
                        assert!(tail.len() >= len, "a frame is cut short");
                        plugin_api::proto::op::Message::from_vec(&tail[..len])
                            .expect("a frame decodes");
                        rest = &tail[len..];
                    }
                    continue;
                }
                Outcome::Drop => continue,
                Outcome::Wait(fut) => match futures::executor::block_on(fut) {
                    Some(b) => b,
                    None => continue,
                },
            };
        assert!(bytes.len() <= 65535);
        assert!(matches!(decode(&bytes), Decoded::Drop), "replies are responses");
        plugin_api::proto::op::Message::from_vec(&bytes).expect("a reply decodes");
    }
}

/// `data` as a Corefile, through lexing, parsing and every directive's setup.
pub fn corefile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let source = Source {
        filename: "Corefile".into(),
        text: text.into(),
        path: None,
        dns_port: "53".into(),
    };
    if let Err(e) = config::load(&source, &|_| {}) {
        // CoreDNS's shape: `FILE:LINE - ...`, or a plugin's prefix before it, or one of the
        // few errors about the whole file (no server block, a port used twice).
        let text = e.to_string();
        let located = text.contains("Corefile:") || text.starts_with("plugin/");
        assert!(located || text.contains("Corefile"), "an error names where: {text}");
    }
}

/// `data` up to its first NUL as the text of directives (*template*, *rewrite*, whatever the
/// fuzzer writes) in a block before *hosts* and *whoami*; if that loads, the bytes after the NUL
/// as a query through it.
pub fn template(data: &[u8]) {
    let (text, query) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let corefile = format!(
        ". {{\n{text}\n hosts {{\n  10.0.0.1 a.example.org\n  fallthrough\n }}\n whoami\n}}\n"
    );
    let source =
        Source { filename: "Corefile".into(), text: corefile, path: None, dns_port: "53".into() };
    match config::load(&source, &|_| {}) {
        Ok(config) => serve_checked(&Mux::new(&config.listeners[0]), query),
        Err(e) => {
            // As the corefile target checks: a location, or the plugin's prefix (some of
            // CoreDNS's setup errors, multisocket's among them, carry no line).
            let text = e.to_string();
            let located = text.contains("Corefile") || text.starts_with("plugin/");
            assert!(located, "an error names where: {text}");
        }
    }
}

/// `data` as a hosts file.
pub fn hosts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let zones = vec![".".to_string()];
    let (entries, skipped) = plugin_hosts::table::parse(&text, &zones);
    let lines = text.lines().count().max(1);
    for (line, reason) in &skipped {
        assert!(*line >= 1 && *line <= lines, "skipped line {line} of {lines}: {reason}");
    }
    for (name, _) in &entries.names {
        assert!(name.ends_with('.') && *name == name.to_lowercase(), "{name:?}");
    }
}

/// `data` as a zone file for `example.org.`, then asked for every owner and type it holds and
/// a name it does not: an error names the file and a line the text has, and a zone that loads
/// answers every question without panicking, with DO and without, its records owned inside the
/// zone.
pub fn zonefile(data: &[u8]) {
    use plugin_api::proto::rr::RecordType;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count().max(1);
    let zone = match plugin_api::pkg::zonefile::load_text(text, "fuzz.zone", "example.org.") {
        Ok(zone) => zone,
        Err(
            plugin_api::pkg::zonefile::Problem::Parse(e)
            | plugin_api::pkg::zonefile::Problem::Open(e),
        ) => {
            assert!(e.starts_with("fuzz.zone") || e.contains("$INCLUDE"), "names its file: {e}");
            if let Some(line) = e.strip_prefix("fuzz.zone:").and_then(|r| r.split(':').next()) {
                let line: usize = line.parse().unwrap_or(0);
                assert!(line <= lines + 1, "line {line} of {lines}: {e}");
            }
            return;
        }
    };
    let owners: Vec<(String, RecordType)> =
        zone.all().map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type())).collect();
    let mut asked: Vec<(String, RecordType)> = owners.into_iter().take(64).collect();
    asked.push(("no.such.name.example.org.".into(), RecordType::A));
    for (owner, rtype) in &asked {
        for qtype in [*rtype, RecordType::A, RecordType::CNAME, RecordType::DS] {
            let a = zone.lookup(owner, qtype);
            for r in &a.answers {
                let name = r.name.to_ascii().to_ascii_lowercase();
                assert!(
                    plugin_api::pkg::zone::is_subdomain("example.org.", &name),
                    "{r} for {owner}"
                );
            }
            if a.rcode == plugin_api::proto::op::ResponseCode::NXDomain
                || a.answers.is_empty() && a.authoritative
            {
                assert!(
                    a.authority.iter().any(|r| r.record_type() == RecordType::SOA),
                    "a denial carries the SOA: {owner} {qtype} {a:?}"
                );
            }
            // With DO, the same answer and more: signatures and NSECs, from inside the zone.
            let mut signed = a.clone();
            zone.add_dnssec(owner, &mut signed);
            assert!(signed.answers.starts_with(&a.answers), "{owner} {qtype}");
            let added = signed.authority.iter().chain(&signed.additional);
            for r in added.chain(&signed.answers) {
                let name = r.name.to_ascii().to_ascii_lowercase();
                assert!(
                    plugin_api::pkg::zone::is_subdomain("example.org.", &name),
                    "{r} for {owner} with DO"
                );
            }
        }
    }
}

/// `data` as a manifest file, then indexed.
pub fn manifests(data: &[u8]) {
    use plugin_kubernetes::manifests;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = manifests::load_texts(&[("fuzz.yaml".into(), text.into())], &Default::default());
    for p in &loaded.problems {
        assert!(p.starts_with("fuzz.yaml"), "a problem names its file: {p}");
    }
    // Every Service loaded is found by its name, and its cluster IPs point back at a Service:
    // the index answers lookups for what it was given (a later document of the same name
    // replaces an earlier one, so only presence is checked, not which one).
    let names: Vec<(String, String)> =
        loaded.services.iter().map(|s| (s.namespace.to_string(), s.name.to_string())).collect();
    let index = loaded.into_index(1, &Default::default());
    for (namespace, name) in &names {
        let found = index.service(namespace, name);
        let found = found.unwrap_or_else(|| panic!("{namespace}/{name} is not found"));
        if let plugin_kubernetes::objects::Kind::ClusterIp(ips) = &found.kind {
            for ip in ips {
                assert!(index.reverse(*ip).next().is_some(), "{ip} of {namespace}/{name}");
            }
        }
    }
    assert!(index.counts().0 <= names.len(), "no Service the files did not hold");
    gateway_manifests(text);
}

/// The same text as *k8s_gateway* reads it, every resource configured: whatever it holds, it
/// loads without panicking, the problems name the file, and the index answers a lookup.
fn gateway_manifests(text: &str) {
    use plugin_api::Controller;
    let config = "k8s_gateway example.com {\n resources Ingress Service HTTPRoute TLSRoute GRPCRoute DNSEndpoint\n}";
    let Ok(o) = plugin_k8s_gateway::setup::parse(&mut Controller::from_text(config)) else {
        unreachable!("the directive is valid")
    };
    let (index, problems) =
        plugin_k8s_gateway::manifests::load_texts(&[("fuzz.yaml".into(), text.into())], &o);
    for p in &problems {
        assert!(p.starts_with("fuzz.yaml"), "a problem names its file: {p}");
    }
    let _ = index.lookup("a.example.com", "a");
}

/// The query [`reply`]'s bytes answer: `a.example.org. A`, asked in other letter case.
static ASKED: LazyLock<plugin_api::Request> = LazyLock::new(|| {
    use plugin_api::proto::op::{Message, Query};
    use plugin_api::proto::rr::{Name, RecordType};
    let mut m = Message::query();
    m.metadata.id = 0x4321;
    m.metadata.recursion_desired = true;
    let name = Name::from_ascii("A.Example.ORG.").expect("a name");
    m.add_query(Query::query(name, RecordType::A));
    let len = m.to_vec().expect("encodes").len();
    let (src, local) = ("10.1.2.3:4444".parse(), "10.0.0.1:53".parse());
    plugin_api::Request::new(m, src.expect("address"), local.expect("address"), Proto::Udp, len)
});

/// `data` as an upstream's reply to `a.example.org. A` (asked as `A.Example.ORG.`), through
/// everything that reads or patches a relayed reply in place. Bytes the walker leaves alone go
/// to hickory's decoder in the server, which has its own fuzzing; here they end the check.
///
/// When hickory decodes the upstream's bytes, the served reply must decode to the same
/// records: every compression pointer in a relayed reply leads to a name read before
/// (`plugin_api::pkg::wire`'s pointers check), never into the id, a TTL or anything else
/// patched for the client, so the patches change only what they are meant to.
pub fn reply(data: &[u8]) {
    use plugin_api::pkg::wire::{Stored, WireReply, decode_message};
    use plugin_api::proto::op::Message;
    use plugin_api::proto::rr::RecordType;
    let req = &*ASKED;
    // Both sides read with their compressed names written out, so that a name in opaque data
    // compares by what it spells, not by the offsets that spell it.
    let decoded = decode_message(data).ok();
    let Ok(mut wire) = WireReply::from_upstream(data.to_vec()) else { return };
    let _ = (wire.rcode(), wire.answer_count(), wire.facts(), wire.answers(req));
    let _ = (wire.answers_have(RecordType::A), wire.has_records_beyond_answers());
    wire.readdress(req);
    let mut ttls = Vec::new();
    let Some(_) = wire.records(&mut ttls) else { return };
    wire.set_ttls(&ttls, 30);
    let stored = Stored::from_wire(&wire, &ttls);
    let mut served = stored.reply_to(req, 7);
    served.shuffle_addresses(|n| n - 1);
    // What the walker kept, it walks again, its TTLs where they were.
    assert!(served.facts().is_some(), "a served reply is walked again");
    let mut again = Vec::new();
    assert!(served.records(&mut again).is_some(), "its TTLs are found again");
    assert_eq!(again, ttls, "in the same places");
    let Some(original) = decoded else { return };
    let served = served
        .decode()
        .expect("what hickory decodes as the upstream sent it, it decodes as served");
    assert_eq!(served.metadata.id, 0x4321, "the client's id");
    let sections = |m: &Message| [m.answers.clone(), m.authorities.clone(), m.additionals.clone()];
    for (served, original) in sections(&served).into_iter().zip(sections(&original)) {
        for r in &served {
            assert_eq!(r.ttl, 7, "every TTL set to the served one: {r:?}");
        }
        // The same records (hickory's equality: names in any letter case, TTLs aside), the
        // addresses perhaps in another order.
        let mut left = original;
        for r in &served {
            let Some(i) = left.iter().position(|o| o == r) else {
                panic!("served {r:?}, which the upstream did not send: {left:?}");
            };
            left.swap_remove(i);
        }
        assert!(left.is_empty(), "not served: {left:?}");
    }
}
