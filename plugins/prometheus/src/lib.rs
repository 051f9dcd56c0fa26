//! *prometheus*: serves `/metrics` in Prometheus's text format, with CoreDNS's metric names.
//!
//! * [`setup::parse`] reads `prometheus [ADDRESS] { runtime_metrics }`.
//! * [`setup()`] asks the server for `/metrics` at the address (default `localhost:9153`; several
//!   blocks may share one), registers the process metrics once, and sets
//!   `coredns_plugin_enabled` for each plugin of the block when serving starts.
//!
//! The per-query `coredns_dns_*` metrics of the blocks that enable this plugin are counted by
//! the server itself (see `src/server/metrics.rs`), where the reply's final size is known; the
//! plugin's handler only passes queries on.

pub mod setup;

use std::sync::{Arc, LazyLock};

use plugin_api::pkg::http::HttpResponse;
use plugin_api::pkg::metrics;
// The one plugin that touches the server's own families: it exposes them, as CoreDNS's
// metrics plugin owns `plugin/metrics/vars`.
use plugin_api::server::metrics::{PANICS, PLUGIN_ENABLED};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};
use prometheus::{Encoder, TextEncoder};
use setup::parse;

/// The directive's name.
pub const NAME: &str = "prometheus";

/// Sets up `/metrics` and the block's `coredns_plugin_enabled` series.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = parse(c)?;
    LazyLock::force(&PROCESS);
    c.http(&options.addr, "/metrics", NAME, Arc::new(render));

    let chain = c.block_chain();
    let servers = c.servers().to_vec();
    c.on_startup(Box::pin(async move {
        if let Some(chain) = chain.get() {
            for (zone, server) in &servers {
                for plugin in chain.iter() {
                    PLUGIN_ENABLED.with_label_values(&[server, zone, "", plugin.name()]).set(1);
                }
            }
        }
        Ok(())
    }));
    Ok(Some(Arc::new(Prometheus)))
}

/// The process collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …),
/// registered once.
static PROCESS: LazyLock<()> = LazyLock::new(|| {
    // Series CoreDNS exports from the start, before anything has happened.
    LazyLock::force(&PANICS);
    let collector = prometheus::process_collector::ProcessCollector::for_self();
    if let Err(e) = metrics::registry().register(Box::new(collector)) {
        eprintln!("[ERROR] plugin/prometheus: {e}");
    }
});

/// The body of `/metrics`: the text exposition format, version 0.0.4, as CoreDNS serves it.
pub fn render() -> HttpResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::with_capacity(16 * 1024);
    if let Err(e) = encoder.encode(&metrics::registry().gather(), &mut body) {
        return HttpResponse::text(500, format!("error encoding metrics: {e}\n"));
    }
    HttpResponse { status: 200, content_type: "text/plain; version=0.0.4; charset=utf-8", body }
}

/// The handler in the chain: counting happens at the server, so it passes queries on.
struct Prometheus;

impl Plugin for Prometheus {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req)
    }
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
        assert_eq!(opts("prometheus").unwrap().addr, "localhost:9153");
        assert_eq!(opts("prometheus :9153").unwrap().addr, ":9153");
        assert_eq!(opts("prometheus [::1]:9253").unwrap().addr, "[::1]:9253");
        assert_eq!(
            opts("prometheus localhost:0 {\n runtime_metrics\n}").unwrap().addr,
            "localhost:0"
        );
    }

    #[test]
    fn setup_errors() {
        assert_eq!(
            opts("prometheus 9153").unwrap_err(),
            "Testfile:1 - Error during parsing: address 9153: missing port in address"
        );
        assert_eq!(
            opts("prometheus a b").unwrap_err(),
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'b'"
        );
        assert_eq!(
            opts("prometheus {\n bogus\n}").unwrap_err(),
            "Testfile:2 - Error during parsing: unknown option: bogus"
        );
    }

    #[test]
    fn render_is_text_format() {
        PANICS.inc();
        let r = render();
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.contains("# TYPE coredns_panics_total counter\n"), "{text}");
    }
}
