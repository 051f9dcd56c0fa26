//! *health*: answers `/health` with `200 OK` while the process runs, checks itself every second,
//! and on shutdown keeps serving for the lameduck time.
//!
//! * [`setup::parse`] reads `health [ADDRESS] { lameduck DURATION }`.
//! * [`setup()`] asks the server for `/health` at the address (default `:8080`), starts the
//!   self-check when serving starts, and on a final shutdown logs `Going into lameduck mode for
//!   D` and waits D before the listeners close, so queries keep being answered while the
//!   endpoints are taken out of rotation. A reload does not wait.

pub mod metrics;
pub mod setup;

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use metrics::{DURATION, FAILURES};
use plugin_api::pkg::duration::format_go_duration;
use plugin_api::pkg::http::{HttpResponse, shutting_down};
use plugin_api::{BoundAddrs, ConfigError, Controller, Plugin};
use setup::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The directive's name.
pub const NAME: &str = "health";

/// Sets up `/health`, the self-check and lameduck. Not a handler: returns no plugin.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = parse(c)?;
    LazyLock::force(&DURATION);
    LazyLock::force(&FAILURES);
    c.http(&options.addr, "/health", NAME, Arc::new(|| HttpResponse::text(200, "OK")));

    c.background(self_check(options.addr.clone(), c.shared::<BoundAddrs>()));
    let lameduck = options.lameduck;
    c.on_shutdown(Box::pin(async move {
        // Only a final stop waits; a reload replaces the configuration at once.
        if shutting_down() && !lameduck.is_zero() {
            tracing::info!(
                "plugin/health: Going into lameduck mode for {}",
                format_go_duration(lameduck)
            );
            tokio::time::sleep(lameduck).await;
        }
        Ok(())
    }));
    Ok(None)
}

/// Asks our own `/health` once a second, as CoreDNS does, to measure how long the process takes
/// to answer a local request: a slow answer is a sign of overload. It asks the port the listener
/// got: CoreDNS asks the one written, and with `:0` fails every second.
async fn self_check(addr: String, bound: Arc<BoundAddrs>) {
    let (host, written_port) = match addr.rsplit_once(':') {
        Some(("", port)) => ("localhost", port),
        Some((host, port)) => (host, port),
        None => (addr.as_str(), ""),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let port = {
            let bound = bound.0.lock().unwrap_or_else(|e| e.into_inner());
            bound.get(&BoundAddrs::http_key(&addr)).map(|a| a.port().to_string())
        };
        let target = format!("{host}:{}", port.as_deref().unwrap_or(written_port));
        let start = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(3), get_health(&target)).await;
        DURATION.observe(start.elapsed().as_secs_f64());
        match result {
            Ok(Ok(())) => {
                if start.elapsed() > Duration::from_secs(1) {
                    tracing::warn!(
                        "plugin/health: Local health request to \"http://{target}/health\" took more than 1s: {}",
                        format_go_duration(start.elapsed())
                    );
                }
            }
            Ok(Err(e)) => fail(&target, &e),
            Err(_) => fail(&target, "timeout"),
        }
    }
}

fn fail(target: &str, why: &str) {
    FAILURES.inc();
    tracing::warn!(
        "plugin/health: Local health request to \"http://{target}/health\" failed: {why}"
    );
}

async fn get_health(target: &str) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(target).await.map_err(|e| e.to_string())?;
    let request = format!("GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.map_err(|e| e.to_string())?;
    if reply.starts_with(b"HTTP/1.1 200") { Ok(()) } else { Err("status not 200".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::Options;

    fn opts(input: &str) -> Result<Options, String> {
        parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
    }

    #[test]
    fn setup_table() {
        assert_eq!(
            opts("health").unwrap(),
            Options { addr: ":8080".into(), lameduck: Duration::ZERO }
        );
        assert_eq!(opts("health localhost:8091").unwrap().addr, "localhost:8091");
        assert_eq!(opts("health {\n lameduck 5s\n}").unwrap().lameduck, Duration::from_secs(5));
    }

    #[test]
    fn setup_errors() {
        let rows = [
            (
                "health 8080",
                "Testfile:1 - Error during parsing: address 8080: missing port in address",
            ),
            (
                "health a:1 b:2",
                "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'b:2'",
            ),
            (
                "health {\n lameduck\n}",
                "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'lameduck'",
            ),
            (
                "health {\n lameduck soon\n}",
                "Testfile:2 - Error during parsing: unable to parse lameduck duration value: 'soon' : time: invalid duration \"soon\"",
            ),
            (
                "health {\n other 1\n}",
                "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'other'",
            ),
        ];
        for (input, want) in rows {
            assert_eq!(opts(input).unwrap_err(), want, "{input}");
        }
    }
}
