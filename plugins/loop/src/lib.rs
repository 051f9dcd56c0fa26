//! *loop*: finds a forwarding loop at start-up, and stops the server when there is one.
//!
//! When serving starts, the plugin sends `<random>.<random>.<zone> HINFO` to its own listener,
//! trying for up to 30 s until the query is answered (by anything). While it waits, it counts
//! the queries for exactly that name that pass through it: a server that forwards to itself sees
//! its probe come back again and again, and on the third sight the process logs
//! `Loop (CLIENT -> LISTENER) detected for zone "ZONE"` and exits 1, as CoreDNS does. Two
//! seconds after the probe was answered the plugin turns itself off; only loops present at
//! start-up are found.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plugin_api::proto::op::{Message, Query};
use plugin_api::proto::rr::{Name, RecordType};
use plugin_api::{BoundAddrs, ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

/// The directive's name.
pub const NAME: &str = "loop";

/// How long start-up probing goes on at most.
pub const PROBE_FOR: Duration = Duration::from_secs(30);

/// Reads `loop` (no arguments).
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    c.next();
    if c.next_arg() {
        return Err(c.arg_err());
    }
    let zone = c.zones().first().cloned().unwrap_or_else(|| ".".into());
    let qname = format!("{}.{}.{}", random(), random(), if zone == "." { "" } else { &zone });
    // CoreDNS probes the block's first listen address: the wildcard's is reached on loopback.
    let server = c.servers().first().map(|(_, s)| s.clone()).unwrap_or_default();
    let state = Arc::new(State {
        zone,
        qname: qname.to_ascii_lowercase(),
        seen: AtomicU32::new(0),
        disabled: AtomicBool::new(false),
        target: Mutex::new(None),
    });
    let (probe, addrs) = (state.clone(), c.shared::<BoundAddrs>());
    c.on_startup(Box::pin(async move {
        let bound = addrs.0.lock().unwrap_or_else(|e| e.into_inner()).get(&server).copied();
        let mut target = bound.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)));
        if target.ip().is_unspecified() {
            target.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        *probe.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(target);
        tokio::spawn(probe_loop(probe, target));
        Ok(())
    }));
    Ok(Some(Arc::new(Loop { state })))
}

struct State {
    zone: String,
    /// The probe name, lower-cased and fully qualified.
    qname: String,
    seen: AtomicU32,
    disabled: AtomicBool,
    target: Mutex<Option<SocketAddr>>,
}

fn random() -> u64 {
    plugin_api::pkg::random::next_u64() >> 1
}

/// Sends the probe until it is answered, then turns the plugin off 2 s later.
async fn probe_loop(state: Arc<State>, target: SocketAddr) {
    let deadline = Instant::now() + PROBE_FOR;
    while Instant::now() < deadline {
        if exchange(&state.qname, target).await {
            tokio::time::sleep(Duration::from_secs(2)).await;
            break;
        }
        state.seen.store(0, Ordering::Release);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    state.disabled.store(true, Ordering::Release);
}

async fn exchange(qname: &str, target: SocketAddr) -> bool {
    let Ok(name) = Name::from_ascii(qname) else { return false };
    let mut q = Message::query();
    q.metadata.id = (random() & 0xffff) as u16;
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name, RecordType::HINFO));
    let Ok(bytes) = q.to_vec() else { return false };
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(local).await else { return false };
    if socket.send_to(&bytes, target).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await,
        Ok(Ok(_))
    )
}

/// The *loop* handler: counts its probe as it passes.
struct Loop {
    state: Arc<State>,
}

impl Plugin for Loop {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let s = &self.state;
        if req.qtype() == RecordType::HINFO
            && !s.disabled.load(Ordering::Acquire)
            && req.name() == s.qname
        {
            let seen = s.seen.fetch_add(1, Ordering::AcqRel) + 1;
            if seen > 2 {
                let listener = s
                    .target
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .map_or_else(String::new, |t| t.to_string());
                // CoreDNS's log.Fatalf: the line, then exit 1.
                println!(
                    "[FATAL] plugin/loop: Loop ({} -> {listener}) detected for zone {:?}, see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO {}\"",
                    req.src(),
                    s.zone,
                    s.qname
                );
                std::process::exit(1);
            }
        }
        next.run(ctx, req)
    }
}

#[cfg(test)]
mod tests {
    use plugin_api::test_util::{self, Rest};

    use super::*;

    fn state(qname: &str) -> Arc<State> {
        Arc::new(State {
            zone: ".".into(),
            qname: qname.into(),
            seen: AtomicU32::new(0),
            disabled: AtomicBool::new(false),
            target: Mutex::new(None),
        })
    }

    /// Serves the probe query through the plugin; what the rest of the chain answered.
    fn pass_probe(state: &Arc<State>) -> &'static str {
        let plugin: Arc<dyn Plugin> = Arc::new(Loop { state: state.clone() });
        let req = test_util::request(&state.qname, RecordType::HINFO);
        let result = test_util::serve(vec![plugin, Arc::new(Rest)], req);
        result.unwrap().by().unwrap()
    }

    /// The probe counts while the plugin is on; once the start-up probe has been answered, the
    /// plugin turns itself off (after CoreDNS's 2 s), and the probe no longer counts, so no
    /// later traffic for that name can be taken for a loop.
    #[tokio::test]
    async fn an_answered_probe_turns_the_plugin_off() {
        let responder = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = responder.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = responder.recv_from(&mut buf).await {
                // Any reply will do: the probe only waits for one.
                let _ = responder.send_to(&buf[..n], from).await;
            }
        });
        let s = state("12.34.");
        assert_eq!(pass_probe(&s), "rest");
        assert_eq!(s.seen.load(Ordering::Acquire), 1, "counted while on");
        probe_loop(s.clone(), target).await;
        assert!(s.disabled.load(Ordering::Acquire), "off once the probe came back");
        let seen = s.seen.load(Ordering::Acquire);
        for _ in 0..5 {
            assert_eq!(pass_probe(&s), "rest", "passed on, never fatal");
        }
        assert_eq!(s.seen.load(Ordering::Acquire), seen, "not counted when off");
    }

    #[test]
    fn takes_no_arguments() {
        assert!(setup(&mut Controller::from_text("loop")).unwrap().is_some());
        let err = setup(&mut Controller::from_text("loop 1")).err().unwrap().to_string();
        assert_eq!(
            err,
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '1'"
        );
    }
}
