//! *file* over real sockets, answer for answer against NSD (Debian's package, started here on
//! loopback with the same zone file): every owner and type of corefile-examples/file's zone,
//! names that do not exist, wildcards, a delegation, DS at the cut, NODATA. The rcode, the AA
//! flag and each section's records must agree, but where CoreDNS's *file* knowingly answers
//! otherwise, which the comparison leaves out and names.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use hickory_proto::op::Message;
use hickory_proto::rr::{Record, RecordType};

use crate::binary::Scratch;
use crate::harness::*;

pub(crate) const ZONE: &str = include_str!("../../corefile-examples/file/db.example.org");

/// A reference server (NSD, BIND) started by a test, stopped when dropped.
pub(crate) struct Reference(Child);

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with `args` (which keep it in the foreground) and waits until it answers
/// the SOA of `origin` (without the final dot) on loopback's `port`.
pub(crate) async fn reference(
    program: &str,
    args: &[&std::ffi::OsStr],
    port: u16,
    origin: &str,
) -> (Reference, SocketAddr) {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is installed (.ci/run installs it): {e}"));
    let server = Reference(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until(&format!("{program} answers"), || async {
        let soa = udp_exchange(addr, &query(&format!("{origin}."), RecordType::SOA)).await;
        soa.is_some_and(|m| !m.answers.is_empty())
    })
    .await;
    (server, addr)
}

/// NSD serving corefile-examples/file's zone as example.org on a free loopback port.
async fn nsd(dir: &Scratch) -> (Reference, SocketAddr) {
    nsd_with(dir, "").await
}

/// [`nsd`] with `zone_options` (NSD `zone:` lines, each starting with two spaces) added.
pub(crate) async fn nsd_with(dir: &Scratch, zone_options: &str) -> (Reference, SocketAddr) {
    nsd_serving(dir, ZONE, zone_options).await
}

/// [`nsd_with`] serving `zone` as example.org.
pub(crate) async fn nsd_serving(
    dir: &Scratch,
    zone: &str,
    zone_options: &str,
) -> (Reference, SocketAddr) {
    nsd_zone(dir, "example.org", zone, zone_options).await
}

/// NSD serving `zone` as `origin` (without the final dot), from `db.ORIGIN` in `dir`.
pub(crate) async fn nsd_zone(
    dir: &Scratch,
    origin: &str,
    zone: &str,
    zone_options: &str,
) -> (Reference, SocketAddr) {
    let port = free_port();
    let d = dir.path().display();
    dir.write(&format!("db.{origin}"), zone);
    let conf = dir.write(
        "nsd.conf",
        &format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  verbosity: 0\nremote-control:\n  control-enable: no\nzone:\n  name: {origin}\n  zonefile: db.{origin}\n{zone_options}"
        ),
    );
    reference("nsd", &["-d".as_ref(), "-c".as_ref(), conf.as_os_str()], port, origin).await
}

/// A section as sorted presentation lines, without OPT.
fn lines(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| r.to_string().to_ascii_lowercase())
        .collect();
    v.sort();
    v
}

/// The reply as text: rcode, AA and each section. Without `with_authority_ns`, the authority
/// section's NS records are left out, and with them the additional addresses of their targets
/// (unless the answer names those hosts too).
fn summary(m: &Message, with_authority_ns: bool) -> String {
    use hickory_proto::rr::RData;
    let authority_ns: Vec<String> = m
        .authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.to_ascii().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let answered: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some(mx.exchange.to_ascii()),
            RData::SRV(srv) => Some(srv.target.to_ascii()),
            RData::NS(ns) => Some(ns.0.to_ascii()),
            _ => None,
        })
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let authority: Vec<Record> = m
        .authorities
        .iter()
        .filter(|r| with_authority_ns || r.record_type() != RecordType::NS)
        .cloned()
        .collect();
    let additional: Vec<Record> = m
        .additionals
        .iter()
        .filter(|r| {
            let owner = r.name.to_ascii().to_ascii_lowercase();
            with_authority_ns || !authority_ns.contains(&owner) || answered.contains(&owner)
        })
        .cloned()
        .collect();
    format!(
        "{} aa={}\nanswer {:?}\nauthority {:?}\nadditional {:?}",
        m.metadata.response_code,
        m.metadata.authoritative,
        lines(&m.answers),
        lines(&authority),
        lines(&additional),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_agrees_with_nsd() {
    let dir = Scratch::new("file-nsd");
    let (_nsd, nsd_addr) = nsd(&dir).await;
    let s = TestServer::start(&format!(
        "example.org:0 {{\n file {}\n}}",
        dir.join("db.example.org").display()
    ))
    .await;
    use RecordType::*;
    let owners = [
        "example.org.",
        "ns1.example.org.",
        "mail.example.org.",
        "www.example.org.",
        "alias.example.org.",
        "chain.example.org.",
        "out.example.org.",
        "host.wild.example.org.",
        "any.wild.example.org.",
        "a.b.wild.example.org.",
        "a.b.c.example.org.",
        "b.c.example.org.",
        "c.example.org.",
        "_sip._tcp.example.org.",
        "_tcp.example.org.",
        "sub.example.org.",
        "www.sub.example.org.",
        "ns.sub.example.org.",
        "x.target.example.org.",
        "target.example.org.",
        "caa.example.org.",
        "ptr.example.org.",
        "naptr.example.org.",
        "sshfp.example.org.",
        "tlsa.example.org.",
        "nothing.example.org.",
        "deep.nothing.example.org.",
        "x.host.wild.example.org.",
        "WwW.Example.ORG.",
    ];
    let types = [A, AAAA, NS, SOA, MX, TXT, CNAME, SRV, DS, CAA, PTR, NAPTR, SSHFP, TLSA];
    let mut compared = 0;
    for owner in owners {
        for qtype in types {
            let q = query(owner, qtype);
            let ours = udp_exchange(s.addr, &q).await.expect("ferrodns answers");
            let theirs = udp_exchange(nsd_addr, &q).await.expect("NSD answers");
            // Both put the apex NS in the authority section of a positive answer, but NSD adds
            // their addresses as additional records where CoreDNS's file does not
            // (plugin/file/lookup.go returns `z.ns(do)` with Success, and its
            // additionalProcessing reads only the answer's MX and SRV targets): for positive
            // answers, the authority NS and their addresses are left out of the comparison.
            let positive = !theirs.answers.is_empty() && theirs.metadata.authoritative;
            assert_eq!(
                summary(&ours, !positive),
                summary(&theirs, !positive),
                "{owner} {qtype}: ferrodns (left) and NSD (right) differ"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, owners.len() * types.len());
    s.stop().await;
}

/// corefile-examples/file's signed zone (BIND's dnssec-signzone, NSEC).
const SIGNED: &str = include_str!("../../corefile-examples/file/db.signed.example");

/// The reply to `q` from `addr`, decoded with the names in opaque data written out (NSD
/// compresses MINFO's and MB's).
async fn exchange_written_out(addr: SocketAddr, q: &Message) -> Message {
    let bytes = udp_raw(addr, &q.to_vec().unwrap(), WAIT).await.expect("an answer");
    plugin_api::pkg::wire::decode_message(&bytes).expect("it decodes")
}

/// The answer section of `reply` as (type, class, TTL, data) read straight from the octets,
/// for replies hickory does not decode; the data must hold no compressed name.
fn raw_answers(reply: &[u8]) -> Vec<(u16, u16, u32, Vec<u8>)> {
    let u16_at = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]);
    // Past a name: its labels up to the root, or up to a pointer (two octets).
    let skip_name = |mut at: usize| loop {
        match reply[at] {
            0 => return at + 1,
            len if len >= 0xc0 => return at + 2,
            len => at += 1 + usize::from(len),
        }
    };
    let mut at = skip_name(12) + 4;
    let mut answers = Vec::new();
    for _ in 0..u16_at(6) {
        at = skip_name(at);
        let ttl = u32::from_be_bytes(reply[at + 4..at + 8].try_into().unwrap());
        let len = usize::from(u16_at(at + 8));
        answers.push((u16_at(at), u16_at(at + 2), ttl, reply[at + 10..at + 10 + len].to_vec()));
        at += 10 + len;
    }
    answers
}

/// The signed zone served by NSD and by ferrodns's *file*, from one copy in `dir`.
async fn signed_beside_nsd(dir: &Scratch) -> (Reference, SocketAddr, TestServer) {
    let (nsd, nsd_addr) = nsd_zone(dir, "signed.example", SIGNED, "").await;
    (nsd, nsd_addr, file_serving(dir, "signed.example").await)
}

/// A server whose *file* serves `db.ORIGIN` in `dir` (the copy a reference server reads) as
/// `origin` (without the final dot).
pub(crate) async fn file_serving(dir: &Scratch, origin: &str) -> TestServer {
    let file = dir.join(&format!("db.{origin}"));
    TestServer::start(&format!("{origin}:0 {{\n file {}\n}}", file.display())).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_zone_and_the_types_hickory_lacks_load_and_answer_as_nsd_does() {
    let dir = Scratch::new("file-signed");
    let (_nsd, nsd_addr, s) = signed_beside_nsd(&dir).await;
    let types = [
        RecordType::A,
        RecordType::MX,
        RecordType::TXT,
        RecordType::DNSKEY,
        RecordType::DS,
        RecordType::NSEC,
        RecordType::Unknown(14),  // MINFO
        RecordType::Unknown(7),   // MB
        RecordType::Unknown(17),  // RP
        RecordType::Unknown(18),  // AFSDB
        RecordType::Unknown(99),  // SPF
        RecordType::Unknown(256), // URI
    ];
    let owners = [
        "signed.example.",
        "www.signed.example.",
        "mail.signed.example.",
        "afs.signed.example.",
        "spf.signed.example.",
        "uri.signed.example.",
        "sub.signed.example.",
        "info.signed.example.",
    ];
    let mut answered = std::collections::HashSet::new();
    for owner in owners {
        for qtype in types {
            let q = query(owner, qtype);
            let ours = exchange_written_out(s.addr, &q).await;
            let mut theirs = exchange_written_out(nsd_addr, &q).await;
            if qtype == RecordType::Unknown(7) && !theirs.answers.is_empty() {
                // RFC 1035 has an MB answer carry the host's addresses, and NSD adds them;
                // CoreDNS's *file* adds addresses for MX and SRV answers only.
                theirs.additionals.clear();
            }
            let positive = !theirs.answers.is_empty() && theirs.metadata.authoritative;
            assert_eq!(
                summary(&ours, !positive),
                summary(&theirs, !positive),
                "{owner} {qtype}: ferrodns (left) and NSD (right) differ"
            );
            if positive {
                answered.insert(qtype);
            }
        }
    }
    // The zone's own records of every type were compared, not only denials.
    assert_eq!(answered.len(), types.len(), "{answered:?}");
    // Asked for RRSIG, NSD answers nothing; CoreDNS's *file* gives the owner's signatures,
    // whatever they cover, with the apex NS as for any answer.
    let reply = s.udp("www.signed.example.", RecordType::RRSIG).await;
    // The owner's lines: its first, then those that leave the owner blank.
    let mut lines = SIGNED.lines().skip_while(|l| !l.starts_with("www."));
    let first = lines.next();
    let owned = first.into_iter().chain(lines.take_while(|l| l.starts_with(char::is_whitespace)));
    let held = owned.filter(|l| l.contains("\tRRSIG\t")).count();
    assert_eq!(held, 3, "A, AAAA and NSEC are signed");
    assert_eq!(reply.answers.len(), held);
    assert!(reply.answers.iter().all(|r| r.record_type() == RecordType::RRSIG));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_s_validator_finds_the_do_answers_fully_validated() {
    let dir = Scratch::new("file-delv");
    dir.write("db.signed.example", SIGNED);
    let s = file_serving(&dir, "signed.example").await;
    validated_by_delv(&dir, &s);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_zone_transferred_from_nsd_validates_as_served_by_secondary() {
    let dir = Scratch::new("secondary-delv");
    let (_nsd, nsd_addr) =
        nsd_zone(&dir, "signed.example", SIGNED, "  provide-xfr: 127.0.0.1 NOKEY\n").await;
    let s = crate::secondary::transferred_from("signed.example", &nsd_addr.to_string()).await;
    validated_by_delv(&dir, &s);
    s.stop().await;
}

/// delv (Debian's bind9-dnsutils) validates answers from `s` with the signed zone's own
/// key-signing key as the trust anchor, asking nothing but `s`: the signatures, and the NSEC
/// proofs of a missing name, a missing type and a wildcard's answer, must all check out.
fn validated_by_delv(dir: &Scratch, s: &TestServer) {
    let at = SIGNED.find("DNSKEY\t257 3 13 (").expect("the KSK");
    let key: String = SIGNED[at..]
        .split(')')
        .next()
        .unwrap()
        .split('(')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    let anchor = dir.write(
        "anchor.conf",
        &format!("trust-anchors {{\n  signed.example. static-key 257 3 13 \"{key}\";\n}};\n"),
    );
    let port = s.addr.port().to_string();
    for (name, qtype, says) in [
        ("www.signed.example", "A", "; fully validated"),
        ("ftp.signed.example", "A", "; fully validated"),
        ("host.wild.signed.example", "A", "; fully validated"),
        ("mail.signed.example", "MINFO", "; fully validated"),
        ("nothing.signed.example", "A", "; negative response, fully validated"),
        ("ns1.signed.example", "AAAA", "; negative response, fully validated"),
        ("wild.signed.example", "A", "; negative response, fully validated"),
    ] {
        let out = Command::new("delv")
            .args(["@127.0.0.1", "-p", &port, "-a"])
            .arg(&anchor)
            .args(["+root=signed.example", name, qtype])
            .output()
            .expect("delv is installed (.ci/run installs bind9-dnsutils)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.lines().any(|l| l == says), "{name} {qtype}:\n{text}");
    }
}

/// A zone of one record of each rarer type hickory does not read, as NSD also reads them.
const RARE: &str = include_str!("db.rare.example");

#[tokio::test(flavor = "multi_thread")]
async fn the_rarer_types_read_into_the_octets_nsd_reads() {
    let dir = Scratch::new("file-rare");
    let (_nsd, nsd_addr) = nsd_zone(&dir, "rare.example", RARE, "").await;
    let s = file_serving(&dir, "rare.example").await;
    let compared = same_data_for_every_record(RARE, "rare.example.", s.addr, nsd_addr, "NSD").await;
    assert!(compared > 20, "{compared} records compared");
    s.stop().await;
}

/// Asks `ours` and `theirs` (a server named `who`) for each record line of `zone` (whose
/// origin is `origin`) by its owner and type, all but the apex's and the first one (the name
/// server's address): both must hold it, with the same data. Returns how many were compared.
pub(crate) async fn same_data_for_every_record(
    zone: &str,
    origin: &str,
    ours: SocketAddr,
    theirs: SocketAddr,
    who: &str,
) -> usize {
    let records = zone.lines().filter(|l| !l.starts_with(['$', '@', ' ', ';']) && !l.is_empty());
    let mut compared = 0;
    for line in records.skip(1) {
        let mut words = line.split_whitespace();
        let owner = format!("{}.{origin}", words.next().unwrap());
        let mnemonic = words.nth(1).unwrap().to_ascii_uppercase();
        // A type hickory has no name for is asked by its code; a wrong code finds nothing at
        // `theirs`, and the test says so.
        let code = plugin_api::pkg::zonefile::more_types::type_code(&mnemonic)
            .unwrap_or_else(|| u16::from(mnemonic.parse::<RecordType>().unwrap()));
        let q = query(&owner, RecordType::from(code)).to_vec().unwrap();
        let our_reply = udp_raw(ours, &q, WAIT).await.expect("an answer");
        let their_reply = udp_raw(theirs, &q, WAIT).await.expect("an answer");
        let decode = plugin_api::pkg::wire::decode_message;
        match (decode(&our_reply), decode(&their_reply)) {
            (Ok(our), Ok(their)) => {
                assert_eq!(their.answers.len(), 1, "{who} holds {line}");
                assert_eq!(our.answers, their.answers, "{line}: ferrodns (left) and {who} (right)");
            }
            // hickory refuses a SIG outside the additional section, and empty data of a type
            // it does not know: such answers are compared as octets.
            _ => {
                let (our, their) = (raw_answers(&our_reply), raw_answers(&their_reply));
                assert_eq!(their.len(), 1, "{who} holds {line}");
                assert_eq!(our, their, "{line}: ferrodns (left) and {who} (right)");
            }
        }
        compared += 1;
    }
    compared
}

/// `m` with the apex NS of a positive answer, their signatures and their addresses left out:
/// CoreDNS's *file* (and so ferrodns) puts them in, NSD does not.
fn without_authority_ns(mut m: Message) -> Message {
    let covers_ns = |r: &Record| match &r.data {
        hickory_proto::rr::RData::Unknown { rdata, .. } => rdata.anything.get(..2) == Some(&[0, 2]),
        _ => false,
    };
    if !m.answers.is_empty() && m.metadata.authoritative {
        let ns: Vec<String> = m
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::NS(ns) => Some(ns.0.to_ascii().to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        m.authorities.retain(|r| r.record_type() != RecordType::NS && !covers_ns(r));
        m.additionals.retain(|r| !ns.contains(&r.name.to_ascii().to_ascii_lowercase()));
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_zone_answers_do_with_signatures_and_nsec_denials_as_nsd_does() {
    let dir = Scratch::new("file-signed-do");
    let (_nsd, nsd_addr, s) = signed_beside_nsd(&dir).await;
    let owners = [
        "signed.example.",
        "www.signed.example.",
        "mail.signed.example.",
        "ftp.signed.example.",
        "host.wild.signed.example.",
        "wild.signed.example.",
        "nothing.signed.example.",
        "zzz.signed.example.",
        "a.b.nothing.signed.example.",
        "sub.signed.example.",
        "www.sub.signed.example.",
        "ns1.signed.example.",
        "insecure.signed.example.",
        "www.insecure.signed.example.",
        "dangling.signed.example.",
    ];
    let types = [RecordType::A, RecordType::AAAA, RecordType::MX, RecordType::DS, RecordType::TXT];
    for owner in owners {
        for qtype in types {
            let mut q = query(owner, qtype);
            let mut edns = hickory_proto::op::Edns::new();
            edns.set_max_payload(4096);
            edns.set_dnssec_ok(true);
            q.set_edns(edns);
            let ours = without_authority_ns(exchange_written_out(s.addr, &q).await);
            let theirs = without_authority_ns(exchange_written_out(nsd_addr, &q).await);
            assert_eq!(
                summary(&ours, true),
                summary(&theirs, true),
                "{owner} {qtype} with DO: ferrodns (left) and NSD (right) differ"
            );
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_swaps_in_a_higher_serial_and_keeps_the_zone_through_a_broken_file() {
    let dir = Scratch::new("file-reload");
    let zone = |serial: u32, ip: &str, extra: &str| {
        format!(
            "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A {ip}\n{extra}"
        )
    };
    let path = dir.write("db.example.org", &zone(1, "192.0.2.1", ""));
    let s = TestServer::start(&format!(
        "example.org:0 {{\n file {} {{\n  reload 100ms\n }}\n}}",
        path.display()
    ))
    .await;
    let www = |s: &TestServer| {
        let addr = s.addr;
        async move {
            let m = udp_exchange(addr, &query("www.example.org.", RecordType::A)).await.unwrap();
            m.answers.iter().map(|r| r.data.to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(www(&s).await, ["192.0.2.1"]);
    // The same serial: the change is not read.
    dir.write("db.example.org", &zone(1, "192.0.2.2", ""));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(www(&s).await, ["192.0.2.1"], "the serial did not grow");
    // A higher serial: read and swapped in.
    dir.write("db.example.org", &zone(2, "192.0.2.3", ""));
    wait_until("serial 2 is served", || async { www(&s).await == ["192.0.2.3"] }).await;
    // A broken file with a higher serial: the old zone goes on answering.
    dir.write("db.example.org", &zone(3, "192.0.2.4", "bad IN A not-an-address\n"));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(www(&s).await, ["192.0.2.3"], "the broken file is not served");
    dir.write("db.example.org", &zone(4, "192.0.2.5", ""));
    wait_until("serial 4 is served", || async { www(&s).await == ["192.0.2.5"] }).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_zone_file_stops_the_start_with_its_file_and_line() {
    let dir = Scratch::new("file-broken");
    let path = dir.write(
        "db.example.org",
        "$ORIGIN example.org.\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\nwww IN A 192.0.2.300\n",
    );
    let conf = dir.write("Corefile", &format!("example.org:0 {{\n file {}\n}}\n", path.display()));
    let (code, stdout, stderr) =
        crate::binary::run(&["-conf", &conf.display().to_string()], dir.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    let want = format!("plugin/file: {}:3: bad A data", path.display());
    assert!(stdout.contains(&want) || stderr.contains(&want), "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fallthrough_passes_on_missing_names_and_transfers_are_refused_without_transfer() {
    let zone = concat!(env!("CARGO_MANIFEST_DIR"), "/corefile-examples/file/db.example.org");
    let s = TestServer::start(&format!(
        "example.org:0 {{\n file {zone} {{\n  fallthrough\n }}\n whoami\n}}"
    ))
    .await;
    // A name the zone has: file answers.
    let www = s.udp("www.example.org.", RecordType::A).await;
    assert_eq!(www.answers[0].data.to_string(), "192.0.2.80");
    // One it does not: whoami (next) answers, with the client's address as additional.
    let missing = s.udp("nothing.example.org.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, hickory_proto::op::ResponseCode::NoError);
    assert!(missing.additionals.iter().any(|r| r.record_type() == RecordType::SRV));
    // NODATA stays file's.
    let nodata = s.udp("www.example.org.", RecordType::AAAA).await;
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    // No transfer plugin: AXFR is refused, as CoreDNS's file does.
    let axfr = s.tcp("example.org.", RecordType::AXFR).await;
    assert_eq!(axfr.metadata.response_code, hickory_proto::op::ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_by_mtime_reads_a_newer_file_whatever_its_serial() {
    let dir = Scratch::new("file-mtime");
    let zone = |ip: &str| {
        format!(
            "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster 5 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A {ip}\n"
        )
    };
    let path = dir.write("db.example.org", &zone("192.0.2.1"));
    let s = TestServer::start(&format!(
        "example.org:0 {{\n file {} {{\n  reload 100ms\n  reload_by_mtime\n }}\n}}",
        path.display()
    ))
    .await;
    // Written a moment later, so its modification time is newer; the serial stays 5.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    dir.write("db.example.org", &zone("192.0.2.9"));
    wait_until("the newer file is served", || async {
        let m = s.udp("www.example.org.", RecordType::A).await;
        m.answers.first().is_some_and(|r| r.data.to_string() == "192.0.2.9")
    })
    .await;
    s.stop().await;
}
