//! The real binary: flags, where the Corefile comes from, exit codes, signals.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_ferrodns");

/// A test's own temporary directory, removed when dropped (a count after the tag keeps two
/// tests that start the same thing at once apart).
pub use plugin_api::test_util::ScratchDir as Scratch;

/// Runs the binary to completion and returns (exit code, stdout, stderr).
pub(crate) fn run(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).current_dir(dir).output().expect("run ferrodns");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running binary whose stdout lines are collected.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn spawn(args: &[&str], dir: &Path, stdin: Option<&str>) -> Self {
        Self::spawn_env(args, dir, stdin, &[])
    }

    pub fn spawn_env(args: &[&str], dir: &Path, stdin: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(args).envs(env.iter().copied());
        Self::from_command(command, dir, stdin)
    }

    /// Runs the binary with its open-file limit lowered to `limit` (the shell `exec`s it, so
    /// the pid, and the signals sent to it, are the binary's own).
    pub fn spawn_with_fd_limit(args: &[&str], dir: &Path, limit: u32) -> Self {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(BIN);
        command.args(args);
        Self::from_command(command, dir, None)
    }

    /// Runs the binary in a mount namespace of its own (root only) after the shell commands
    /// `setup` ran there, with `env` set and `unset` removed; the shell `exec`s the binary.
    pub fn spawn_in_mount_namespace(
        setup: &str,
        args: &[&str],
        dir: &Path,
        env: &[(&str, &str)],
        unset: &[&str],
    ) -> Self {
        let mut command = Command::new("unshare");
        command.args(["--mount", "--propagation", "private", "sh", "-c"]);
        command.arg(format!("{setup} && exec \"$0\" \"$@\"")).arg(BIN).args(args);
        command.envs(env.iter().copied());
        for name in unset {
            command.env_remove(name);
        }
        Self::from_command(command, dir, None)
    }

    pub(crate) fn from_command(mut command: Command, dir: &Path, stdin: Option<&str>) -> Self {
        let mut child = command
            .current_dir(dir)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrodns");
        if let Some(text) = stdin {
            let mut input = child.stdin.take().unwrap();
            input.write_all(text.as_bytes()).unwrap();
        }
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines: rx, seen: Vec::new() }
    }

    /// Waits (at most 20 s in all) for a stdout line satisfying `pred` and returns it.
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no matching line; saw {:?}", self.seen));
            self.seen.push(line.clone());
            if pred(&line) {
                return line;
            }
        }
    }

    /// Takes every stdout line printed so far into `seen`, without waiting: for a failure's
    /// message.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// Reads the banner line `<zone>:<port>` for `zone` and returns the server's address.
    pub fn port_of(&mut self, zone: &str) -> SocketAddr {
        let line = self.wait_line(|l| l.starts_with(zone) && l[zone.len()..].starts_with(':'));
        let port: u16 = line[zone.len() + 1..].trim().parse().expect("port in banner");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").args(["-s", sig, &self.child.id().to_string()]).status();
        assert!(status.unwrap().success(), "kill -s {sig}");
    }

    /// Waits for the process to exit and returns its code.
    pub fn wait_exit(&mut self) -> i32 {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("ferrodns did not exit");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn rcode_of(addr: SocketAddr, name: &str) -> ResponseCode {
    udp_exchange(addr, &query(name, RecordType::A)).await.expect("answer").metadata.response_code
}

#[test]
fn version_and_plugins() {
    let dir = Scratch::new("version");
    let (code, out, _) = run(&["-version"], dir.path());
    assert_eq!(code, 0);
    assert!(out.starts_with("CoreDNS-1.14.7\nlinux/"), "{out}");
    let (code, out, _) = run(&["-plugins"], dir.path());
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "whoami"), "{out}");
}

#[test]
fn extra_arguments_and_bad_flags_are_rejected() {
    let dir = Scratch::new("args");
    let (code, _, err) = run(&["-quiet", "foo", "bar"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "extra command line arguments: [foo bar]");
    let (code, _, err) = run(&["-nosuchflag"], dir.path());
    assert_eq!(code, 2);
    assert!(err.starts_with("flag provided but not defined: -nosuchflag"), "{err}");
}

#[test]
fn bad_corefiles_exit_1_with_coredns_wording() {
    let dir = Scratch::new("bad");
    let cases = [
        (".:0 {\n    foo\n}\n", "FILE:2 - Error during parsing: Unknown directive 'foo'"),
        (
            "example.org:0 {\n whoami\n}\nexample.org:0 {\n whoami\n}\n",
            "FILE:4 - Error during parsing: cannot serve dns://example.org.:0 - it is already defined",
        ),
        (
            ".:0 {\n errors\n errors\n}\n",
            "plugin/errors: FILE:3 - Error during parsing: this plugin can only be used once per Server Block",
        ),
        (
            ".:0 {\n etcd\n}\n",
            "plugin/etcd: FILE:2 - Error during parsing: directive 'etcd' is not implemented in ferrodns yet",
        ),
        (
            "tls://.:0 {\n whoami\n}\n",
            "FILE:1 - Error during parsing: tls:// servers are not supported by ferrodns yet; only dns:// is served",
        ),
        (
            ".:0 {\n whoami extra\n}\n",
            "plugin/whoami: FILE:2 - Error during parsing: Wrong argument count or unexpected line ending after 'extra'",
        ),
        (
            ".:0 {\n bind 198.51.100.77\n whoami\n}\n",
            "listen tcp 198.51.100.77:0: bind: cannot assign requested address",
        ),
        (
            ".:0 {\n autopath @hosts\n hosts {\n  10.0.0.1 a.test\n }\n}\n",
            "plugin/autopath: hosts does not implement the AutoPather interface",
        ),
        (
            "a..b:0 {\n whoami\n}\n",
            "FILE:1 - Error during parsing: zone is not a valid domain name: a..b",
        ),
    ];
    for (corefile, want) in cases {
        let path = dir.write("Corefile", corefile);
        let (code, _, err) = run(&["-conf", path.to_str().unwrap()], dir.path());
        assert_eq!(code, 1, "{corefile}");
        assert_eq!(err.trim(), want.replace("FILE", path.to_str().unwrap()), "{corefile}");
    }
    let (code, _, err) = run(&["-conf", "/nonexistent/Corefile"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "open /nonexistent/Corefile: no such file or directory");
    // An endless file is refused, not read forever.
    let (code, _, err) = run(&["-conf", "/dev/zero"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "read /dev/zero: larger than 67108864 bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn conf_stdin_is_read() {
    let dir = Scratch::new("stdin");
    let mut p =
        Running::spawn(&["-conf", "stdin"], dir.path(), Some("example.org:0 {\n whoami\n}\n"));
    let addr = p.port_of("example.org.");
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    assert_eq!(rcode_of(addr, "a.example.org.").await, ResponseCode::NoError);
    assert_eq!(rcode_of(addr, "a.example.com.").await, ResponseCode::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_corefile_the_default_serves_whoami_on_dns_port() {
    let dir = Scratch::new("default");
    let mut p = Running::spawn(&["-dns.port", "0"], dir.path(), None);
    let addr = p.port_of(".");
    assert_eq!(rcode_of(addr, "anything.example.").await, ResponseCode::NoError);
    // ... and `log` writes the query in the common format.
    let line = p.wait_line(|l| l.contains("anything.example."));
    assert!(line.starts_with("[INFO] 127.0.0.1:"), "{line}");
    assert!(line.contains(" - 48879 \"A IN anything.example. udp "), "{line}");
    assert!(line.contains(" false 512\" NOERROR qr,aa,rd "), "{line}");
    assert!(line.ends_with('s'), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn corefile_in_working_directory_is_used_and_env_is_substituted() {
    let dir = Scratch::new("cwd");
    dir.write("Corefile", "{$FERRO_ZONE}:{$FERRO_PORT} {\n whoami\n}\n");
    let env = [("FERRO_ZONE", "from-env.test"), ("FERRO_PORT", "0")];
    let mut p = Running::spawn_env(&[], dir.path(), None, &env);
    let addr = p.port_of("from-env.test.");
    assert_eq!(rcode_of(addr, "x.from-env.test.").await, ResponseCode::NoError);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_with_0_and_removes_the_pidfile() {
    let dir = Scratch::new("term");
    let pidfile = dir.join("ferrodns.pid");
    let conf = dir.write("Corefile", ".:0 {\n whoami\n}\n");
    let mut p = Running::spawn(
        &["-conf", conf.to_str().unwrap(), "-pidfile", pidfile.to_str().unwrap()],
        dir.path(),
        None,
    );
    let addr = p.port_of(".");
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    let pid = std::fs::read_to_string(&pidfile).expect("pidfile written");
    assert_eq!(pid.trim(), p.child.id().to_string());
    // SIGHUP is ignored: still serving afterwards.
    p.signal("HUP");
    assert_eq!(rcode_of(addr, "still.here.").await, ResponseCode::NoError);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
    p.wait_line(|l| l == "[INFO] SIGTERM: Shutting down servers then terminating");
    assert!(!pidfile.exists(), "pidfile removed on exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_exits_0() {
    let dir = Scratch::new("int");
    let conf = dir.write("Corefile", ".:0 {\n whoami\n}\n");
    let pidfile = dir.join("pid");
    let args = ["-conf", conf.to_str().unwrap(), "-quiet", "-pidfile", pidfile.to_str().unwrap()];
    let mut p = Running::spawn(&args, dir.path(), None);
    // -quiet prints no banner. The pidfile is written once the server runs, after the signal
    // handlers went in.
    for _ in 0..200 {
        if pidfile.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pidfile.exists(), "the server started");
    assert!(p.child.try_wait().unwrap().is_none(), "still running");
    p.signal("INT");
    assert_eq!(p.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigusr1_reloads_the_corefile() {
    let dir = Scratch::new("usr1");
    let conf = dir.write("Corefile", "first.test:0 {\n whoami\n}\n");
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let addr = p.port_of("first.test.");
    assert_eq!(rcode_of(addr, "a.first.test.").await, ResponseCode::NoError);
    assert_eq!(rcode_of(addr, "a.second.test.").await, ResponseCode::Refused);

    // A broken file changes nothing.
    std::fs::write(&conf, "second.test:0 {\n nonsense\n}\n").unwrap();
    p.signal("USR1");
    p.wait_line(|l| l.contains("Unknown directive 'nonsense'"));
    assert_eq!(rcode_of(addr, "a.first.test.").await, ResponseCode::NoError);

    // A good one applies on the same socket.
    std::fs::write(&conf, "second.test:0 {\n whoami\n}\n").unwrap();
    p.signal("USR1");
    for _ in 0..100 {
        if rcode_of(addr, "a.second.test.").await == ResponseCode::NoError {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rcode_of(addr, "a.second.test.").await, ResponseCode::NoError);
    assert_eq!(rcode_of(addr, "a.first.test.").await, ResponseCode::Refused);
}

/// Runs the binary on a Corefile whose kubernetes block waits (up to `startup_timeout`) for an
/// API where nothing listens, and returns once it says it is waiting: the server is still
/// starting when the test signals it.
fn still_starting(dir: &Scratch) -> Running {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let conf = dir.write(
        "Corefile",
        &format!(
            "slow.test:0 {{\n whoami\n kubernetes cluster.local {{\n  endpoint http://{closed}\n  startup_timeout 3s\n }}\n}}\n"
        ),
    );
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    p.wait_line(|l| l.contains("waiting for Kubernetes API before starting server"));
    p
}

/// Signals are trapped before anything starts. A SIGUSR1 that comes while a kubernetes index is
/// still syncing must not kill the process, as the default action would: the server starts,
/// then reloads. (A CI run lost a reload test to this: the banner was out, the handlers not.)
#[tokio::test(flavor = "multi_thread")]
async fn sigusr1_while_starting_reloads_once_started() {
    let dir = Scratch::new("usr1-start");
    let mut p = still_starting(&dir);
    p.signal("USR1");
    let addr = p.port_of("slow.test.");
    p.wait_line(|l| l == "[INFO] SIGUSR1: Reloading");
    assert_eq!(rcode_of(addr, "a.slow.test.").await, ResponseCode::NoError);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
}

/// A SIGTERM while starting stops at once with its usual line and exit code: there is nothing
/// to drain yet, and the API wait is not sat out.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_starting_exits_0_before_the_banner() {
    let dir = Scratch::new("term-start");
    let mut p = still_starting(&dir);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), 0);
    let seen = p.drain().to_vec();
    assert!(seen.iter().any(|l| l == "[INFO] SIGTERM: Shutting down servers then terminating"));
    assert!(!seen.iter().any(|l| l.starts_with("slow.test.:")), "no banner: {seen:?}");
}

/// SIGQUIT quits at once: no lameduck (a 30 s one here), no shutdown hooks, exit 0, CoreDNS's
/// line. SIGTERM on the same Corefile would wait out the lameduck first.
#[tokio::test(flavor = "multi_thread")]
async fn sigquit_quits_without_the_lameduck() {
    let dir = Scratch::new("quit");
    let conf =
        dir.write("Corefile", ".:0 {\n health localhost:0 {\n  lameduck 30s\n }\n whoami\n}\n");
    let mut p = Running::spawn(&["-conf", conf.to_str().unwrap()], dir.path(), None);
    let addr = p.port_of(".");
    p.wait_line(|l| l.starts_with("CoreDNS-"));
    assert_eq!(rcode_of(addr, "before.quit.").await, ResponseCode::NoError);
    p.signal("QUIT");
    assert_eq!(p.wait_exit(), 0, "well within the 30 s lameduck");
    p.wait_line(|l| l == "[INFO] SIGQUIT: Quitting process immediately");
    let lameduck = p.drain().iter().any(|l| l.contains("lameduck"));
    assert!(!lameduck, "no lameduck on SIGQUIT: {:?}", p.seen);
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_logs_debug_lines_and_without_it_none_are_logged() {
    // *local* logs each localhost query at debug level: with *debug* the line is printed.
    let dir = Scratch::new("debug");
    dir.write("Corefile", ".:0 {\n debug\n local\n log\n}\n");
    let mut p = Running::spawn(&["-conf", "Corefile"], dir.path(), None);
    let addr = p.port_of(".");
    assert_eq!(rcode_of(addr, "app.localhost.").await, ResponseCode::NoError);
    let line = p.wait_line(|l| l.starts_with("[DEBUG]"));
    assert!(
        line.contains("plugin/local: Intercepting localhost query for \"app.localhost.\""),
        "{line}"
    );

    // Without it, the query is logged by *log* and nothing at debug level.
    let quiet = Scratch::new("no-debug");
    quiet.write("Corefile", ".:0 {\n local\n log\n}\n");
    let mut p = Running::spawn(&["-conf", "Corefile"], quiet.path(), None);
    let addr = p.port_of(".");
    assert_eq!(rcode_of(addr, "app.localhost.").await, ResponseCode::NoError);
    p.wait_line(|l| l.contains("app.localhost."));
    assert!(!p.drain().iter().any(|l| l.starts_with("[DEBUG]")), "{:?}", p.seen);
}
