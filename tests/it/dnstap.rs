//! *dnstap* with the tools operators use: Debian's `fstrm_capture` (package fstrm-bin) receives
//! the Frame Streams over a unix socket or TCP, with the bidirectional handshake, and writes
//! them to a file; BIND's `dnstap-read` (bind9-dnsutils) prints them. What it prints must be the
//! queries asked and the responses given.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hickory_proto::rr::RecordType;

use crate::binary::Scratch;
use crate::harness::*;

/// `fstrm_capture` reading dnstap from `from` (`-u PATH` or `-a ADDR -p PORT`) into `out`.
struct Capture(Child);

impl Capture {
    fn start(from: &[&str], out: &Path) -> Self {
        let child = Command::new("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap"])
            .args(from)
            .arg("-w")
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fstrm_capture is installed (.ci/run installs Debian's fstrm-bin)");
        Self(child)
    }

    /// A capture listening on `tap.sock` in `dir`, writing `tap.fstrm` there, once its socket
    /// is there; with the two paths.
    async fn on_unix_socket(dir: &Scratch) -> (Self, PathBuf, PathBuf) {
        let sock = dir.join("tap.sock");
        let file = dir.join("tap.fstrm");
        let capture = Self::start(&["-u", sock.to_str().unwrap()], &file);
        wait_for_socket(&sock).await;
        (capture, sock, file)
    }

    /// Ends the capture (SIGTERM, which makes it close its file) and waits for it.
    fn finish(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What `dnstap-read -p` prints of `file`.
fn read(file: &Path) -> String {
    let out = Command::new("dnstap-read")
        // Its times in UTC, whatever the machine's zone.
        .env("TZ", "UTC")
        .arg("-p")
        .arg(file)
        .output()
        .expect("dnstap-read is installed (.ci/run installs Debian's bind9-dnsutils)");
    assert!(out.status.success(), "dnstap-read: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The time at the start of a `dnstap-read` line (`06-Dec-2026 22:39:47.345 CQ ...`, in UTC).
fn printed_time(line: &str) -> jiff::Timestamp {
    let stamp: String = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let civil = jiff::civil::DateTime::strptime("%d-%b-%Y %H:%M:%S%.f", &stamp)
        .unwrap_or_else(|e| panic!("{stamp:?} is not dnstap-read's time: {e}"));
    civil.to_zoned(jiff::tz::TimeZone::UTC).expect("a UTC time").timestamp()
}

async fn wait_for_socket(path: &Path) {
    let path = path.to_path_buf();
    wait_until("fstrm_capture's socket", || {
        let path = path.clone();
        async move { path.exists() }
    })
    .await;
}

/// `dnstap SOCKET full` over a unix socket: a query and its response, each as a message
/// `dnstap-read` prints with the name, type and answer.
#[tokio::test(flavor = "multi_thread")]
async fn fstrm_capture_receives_what_dnstap_read_prints() {
    let dir = Scratch::new("dnstap-unix");
    let (capture, sock, file) = Capture::on_unix_socket(&dir).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n dnstap {} full\n hosts {{\n  10.1.2.3 web.tapped.test\n }}\n}}",
        sock.display()
    ))
    .await;
    let reply = s.udp("web.tapped.test.", RecordType::A).await;
    assert_eq!(reply.answers.len(), 1);
    // The stop sends what is queued, then STOP; fstrm_capture answers FINISH.
    s.stop().await;
    capture.finish();
    let printed = read(&file);
    let lines: Vec<&str> = printed.lines().filter(|l| l.contains("web.tapped.test/IN/A")).collect();
    assert_eq!(lines.len(), 2, "one query and one response:\n{printed}");
    assert!(
        lines[0].contains(" CQ ") && lines[0].contains("127.0.0.1") && lines[0].contains("UDP"),
        "{printed}"
    );
    assert!(lines[1].contains(" CR "), "{printed}");
    // The times are now's, and the response's is no earlier than the query's.
    let (asked, answered) = (printed_time(lines[0]), printed_time(lines[1]));
    let since_start = jiff::Timestamp::now().duration_since(asked);
    assert!(
        since_start >= jiff::SignedDuration::from_millis(-5)
            && since_start < jiff::SignedDuration::from_secs(60),
        "the query's time is {asked}, {since_start:?} ago:\n{printed}"
    );
    assert!(answered >= asked, "{printed}");
    // `full`: the wire messages, printed by dnstap-read -p, carry the question and the answer.
    assert!(printed.contains("web.tapped.test.") && printed.contains("10.1.2.3"), "{printed}");
}

/// Over TCP and without `full`; a collector that is not there yet costs no query, and the
/// messages queued meanwhile arrive once it is up (the writer redials with backoff).
#[tokio::test(flavor = "multi_thread")]
async fn queries_are_answered_while_the_collector_is_away_and_logged_when_it_comes() {
    let dir = Scratch::new("dnstap-tcp");
    let file = dir.join("tap.fstrm");
    let port = free_port();
    let s = TestServer::start(&format!(
        ".:0 {{\n dnstap tcp://127.0.0.1:{port}\n hosts {{\n  10.1.2.4 early.tapped.test\n  10.1.2.5 late.tapped.test\n }}\n}}"
    ))
    .await;
    // Nobody listens: answered all the same, at once.
    for _ in 0..3 {
        let reply = s.udp("early.tapped.test.", RecordType::A).await;
        assert_eq!(reply.answers.len(), 1);
    }
    let capture = Capture::start(&["-a", "127.0.0.1", "-p", &port.to_string()], &file);
    // The writer redials with backoff (at most 8 s apart): wait until it is connected.
    wait_until("the writer connected to fstrm_capture", || async move {
        let out = Command::new("ss").args(["-Htn", "state", "established"]).output();
        out.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).contains(&format!("127.0.0.1:{port} "))
        })
    })
    .await;
    s.udp("late.tapped.test.", RecordType::A).await;
    s.stop().await;
    capture.finish();
    let printed = read(&file);
    // Without `full` no wire message travels: dnstap-read knows the kind, client and size only.
    let kinds: Vec<&str> = printed.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(kinds, ["CQ", "CR", "CQ", "CR", "CQ", "CR", "CQ", "CR"], "{printed}");
    assert!(printed.lines().all(|l| l.contains("127.0.0.1:") && l.contains(" 0b ")), "{printed}");
}

/// *forward* logs each exchange through the block's taps: a FORWARDER_QUERY to the upstream
/// and its FORWARDER_RESPONSE, beside the client's query and response.
#[tokio::test(flavor = "multi_thread")]
async fn forwarded_queries_are_logged_as_forwarder_messages() {
    use crate::upstream::{Behaviour, Upstream};
    let up = Upstream::start(Behaviour::Answer(std::net::Ipv4Addr::new(192, 0, 2, 44), 60)).await;
    let dir = Scratch::new("dnstap-forward");
    let (capture, sock, file) = Capture::on_unix_socket(&dir).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n dnstap {} full\n forward . {}\n}}",
        sock.display(),
        up.addr
    ))
    .await;
    let reply = s.udp("far.tapped.test.", RecordType::A).await;
    assert_eq!(reply.answers.len(), 1);
    s.stop().await;
    capture.finish();
    let printed = read(&file);
    let kinds: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("far.tapped.test/IN/A"))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(kinds, ["CQ", "FQ", "FR", "CR"], "{printed}");
    let upstream = up.addr.to_string();
    let fq = printed.lines().find(|l| l.contains(" FQ ")).unwrap();
    assert!(fq.contains(&upstream), "the upstream's address: {fq}");
    assert!(
        printed.contains("192.0.2.44"),
        "the upstream's answer, printed from the wire: {printed}"
    );
}

/// A query the chain fails (an upstream that refuses, so *forward* errs) is logged with the
/// SERVFAIL the client gets, encoded from the error.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_query_is_logged_with_the_servfail_sent() {
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = Scratch::new("dnstap-fail");
    let (capture, sock, file) = Capture::on_unix_socket(&dir).await;
    let s = TestServer::start(&format!(
        ".:0 {{\n dnstap {} full\n forward . {dead}\n}}",
        sock.display()
    ))
    .await;
    let reply = s.udp("fail.tapped.test.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, hickory_proto::op::ResponseCode::ServFail);
    s.stop().await;
    capture.finish();
    let printed = read(&file);
    let cr = printed.find(" CR ").expect("a client response is logged");
    assert!(printed[cr..].contains("status: SERVFAIL"), "{printed}");
}
