//! The directive table: every directive the Corefile may name, in chain order.
//!
//! The order of this table, not the order of a Corefile's lines, is the order in which a query
//! walks a server block's plugins: each plugin feels the effects of the ones after it and must not
//! care about the ones before it. It is CoreDNS 1.14.7's `plugin.cfg`, so `prometheus`, `errors`
//! and `log` wrap everything, `rewrite` and `autopath` come before `acl` and `cache` (so the cache
//! keys and *acl* judges the rewritten question), `cache` sits in front of `hosts`, `kubernetes`
//! and `forward`, and `loop` sees its probe just before `forward` would send it. ferrodns's own
//! `ratelimit` sits right after `acl`: after the logging plugins, so what it refuses is logged,
//! and before `cache`, so cache hits count too.
//!
//! A directive without a setup function is known (it parses) but not built yet: a Corefile that
//! uses it fails at start-up with a message naming it, rather than being silently ignored.

use plugin_api::SetupFn;

/// One directive: its name, its setup, and whether CoreDNS allows it once per server block.
pub struct Directive {
    /// The name as written in a Corefile.
    pub name: &'static str,
    /// Reads the directive's options and builds its plugin; `None` while not implemented.
    pub setup: Option<SetupFn>,
    /// CoreDNS refuses a second occurrence in one block ("this plugin can only be used once per
    /// Server Block").
    pub once: bool,
}

const fn known(name: &'static str) -> Directive {
    Directive { name, setup: None, once: false }
}

const fn known_once(name: &'static str) -> Directive {
    Directive { name, setup: None, once: true }
}

const fn built(name: &'static str, setup: SetupFn) -> Directive {
    Directive { name, setup: Some(setup), once: false }
}

const fn built_once(name: &'static str, setup: SetupFn) -> Directive {
    Directive { name, setup: Some(setup), once: true }
}

/// Every directive, in chain order (CoreDNS 1.14.7's `plugin.cfg`, and `ratelimit`).
pub static DIRECTIVES: &[Directive] = &[
    known("root"),
    built("metadata", plugin_metadata::setup),
    known("geoip"),
    known("cancel"),
    known("proxyproto"),
    known("quic"),
    known("grpc_server"),
    known("https"),
    known("https3"),
    built("timeouts", plugin_timeouts::setup),
    built("multisocket", plugin_multisocket::setup),
    built_once("reload", plugin_reload::setup),
    built_once("nsid", plugin_nsid::setup),
    built("bufsize", plugin_bufsize::setup),
    built("bind", plugin_bind::setup),
    built("debug", plugin_debug::setup),
    known("trace"),
    built_once("ready", plugin_ready::setup),
    built("health", plugin_health::setup),
    known_once("pprof"),
    built_once("shed", plugin_shed::setup),
    built_once("prometheus", plugin_prometheus::setup),
    built_once("errors", plugin_errors::setup),
    built("log", plugin_log::setup),
    built("dnstap", plugin_dnstap::setup),
    built("local", plugin_local::setup),
    built("dns64", plugin_dns64::setup),
    built("any", plugin_any::setup),
    built("chaos", plugin_chaos::setup),
    built("loadbalance", plugin_loadbalance::setup),
    known_once("tsig"),
    built("rewrite", plugin_rewrite::setup),
    built("autopath", plugin_autopath::setup),
    built("acl", plugin_acl::setup),
    built_once("ratelimit", plugin_ratelimit::setup),
    built_once("cache", plugin_cache::setup),
    built("header", plugin_header::setup),
    known_once("dnssec"),
    known("tls"),
    built("minimal", plugin_minimal::setup),
    built("template", plugin_template::setup),
    built("transfer", plugin_transfer::setup),
    built_once("hosts", plugin_hosts::setup),
    known("route53"),
    known("azure"),
    known("clouddns"),
    built("k8s_external", plugin_k8s_external::setup),
    built("k8s_gateway", plugin_k8s_gateway::setup),
    built_once("kubernetes", plugin_kubernetes::setup),
    built("file", plugin_file::setup),
    built("auto", plugin_auto::setup),
    built("secondary", plugin_secondary::setup),
    known("etcd"),
    built_once("loop", plugin_loop::setup),
    built("forward", plugin_forward::setup),
    known_once("grpc"),
    known("erratic"),
    built("whoami", plugin_whoami::setup),
    known("on"),
    known("sign"),
    known_once("view"),
    known("nomad"),
];

/// The directive called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.name == name)
}

/// The names of the directives that are built, sorted, as `-plugins` lists them.
pub fn implemented() -> Vec<&'static str> {
    let mut names: Vec<&str> =
        DIRECTIVES.iter().filter(|d| d.setup.is_some()).map(|d| d.name).collect();
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CoreDNS 1.14.7's plugin.cfg order, written out independently of the table above.
    const COREDNS_ORDER: &str = "root metadata geoip cancel proxyproto quic grpc_server https \
        https3 timeouts multisocket reload nsid bufsize bind debug trace ready health pprof shed \
        prometheus errors log dnstap local dns64 any chaos loadbalance tsig rewrite autopath acl \
        cache header dnssec tls minimal template transfer hosts route53 azure clouddns \
        k8s_external kubernetes file auto secondary etcd loop forward grpc erratic whoami on sign \
        view nomad";

    /// Directives CoreDNS's plugin.cfg does not have, each placed where it belongs in the
    /// chain: ratelimit is ours; k8s_gateway is an external plugin, which its README has builds
    /// put where kubernetes and k8s_external stand.
    const FERRODNS_ONLY: [&str; 2] = ["ratelimit", "k8s_gateway"];

    #[test]
    fn order_is_coredns_plugin_cfg() {
        let ours: Vec<&str> =
            DIRECTIVES.iter().map(|d| d.name).filter(|n| !FERRODNS_ONLY.contains(n)).collect();
        let theirs: Vec<&str> = COREDNS_ORDER.split_whitespace().collect();
        assert_eq!(theirs.len(), 60, "plugin.cfg has 60 directives");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = DIRECTIVES.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DIRECTIVES.len());
    }

    #[test]
    fn once_per_block_set_matches_coredns() {
        let mut once: Vec<&str> = DIRECTIVES
            .iter()
            .filter(|d| d.once && !FERRODNS_ONLY.contains(&d.name))
            .map(|d| d.name)
            .collect();
        once.sort_unstable();
        assert_eq!(
            once,
            [
                "cache",
                "dnssec",
                "errors",
                "grpc",
                "hosts",
                "kubernetes",
                "loop",
                "nsid",
                "pprof",
                "prometheus",
                "ready",
                "reload",
                "shed",
                "tsig",
                "view"
            ]
        );
    }
}
