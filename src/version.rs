//! The version CoreDNS-compatible tools see, and the start-up banner.

use crate::config::Config;
use crate::server::Servers;

/// The CoreDNS release whose behaviour ferrodns matches (kept in `plugin-api` so that *chaos*
/// reads it too).
pub use plugin_api::COREDNS_VERSION;

/// ferrodns's own version.
pub const FERRODNS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit ferrodns was built from, when the build could tell.
pub const COMMIT: &str = match option_env!("FERRODNS_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// What stands in `coredns_build_info`'s `goversion` label: the Rust compiler ferrodns was built
/// with.
pub const RUSTC: &str = match option_env!("FERRODNS_RUSTC") {
    Some(v) => v,
    None => "rustc",
};

/// Go's name for this machine's architecture, as CoreDNS prints it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `-version`'s output: `CoreDNS-1.14.7`, then `linux/amd64, ferrodns-0.1.0, <commit>` (CoreDNS
/// prints its Go version where ferrodns names itself).
pub fn version_text() -> String {
    format!(
        "CoreDNS-{COREDNS_VERSION}\n{}/{}, ferrodns-{FERRODNS_VERSION}, {COMMIT}\n",
        std::env::consts::OS,
        go_arch()
    )
}

/// The start-up banner: for each listener, its zones sorted, each as `<zone>:<port>` (with a
/// warning line before a zone not in RFC 1035 preferred syntax), then the version.
pub fn banner(config: &Config, servers: &Servers) -> String {
    let mut out = String::new();
    for (listener, bound) in config.listeners.iter().zip(&servers.bound) {
        let mut zones: Vec<&str> = listener.zones.iter().map(|(z, _)| z.as_str()).collect();
        zones.sort_unstable();
        for zone in zones {
            if !preferred_syntax(zone) {
                out.push_str(&format!(
                    "Warning: Domain {zone:?} does not follow RFC1035 preferred syntax\n"
                ));
            }
            // With *bind*, CoreDNS names the address too, to tell the listeners apart.
            match &listener.host {
                Some(host) => out.push_str(&format!("{zone}:{} on {host}\n", bound.addr.port())),
                None => out.push_str(&format!("{zone}:{}\n", bound.addr.port())),
            }
        }
    }
    out.push_str(&version_text());
    out
}

/// RFC 1035 §2.3.1 preferred name syntax (letters, digits, inner hyphens, a letter first);
/// the root and reverse zones always pass.
fn preferred_syntax(zone: &str) -> bool {
    if zone == "." || zone.ends_with("in-addr.arpa.") || zone.ends_with("ip6.arpa.") {
        return true;
    }
    zone.strip_suffix('.').is_some_and(|body| {
        body.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphabetic()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1035_preferred() {
        assert!(preferred_syntax("."));
        assert!(preferred_syntax("cluster.local."));
        assert!(preferred_syntax("0.0.10.in-addr.arpa."));
        assert!(!preferred_syntax("_tcp.example.org."));
        assert!(!preferred_syntax("1abc.org."));
    }

    #[test]
    fn version_names_coredns_first() {
        let v = version_text();
        assert!(v.starts_with("CoreDNS-1.14.7\n"), "{v}");
        assert!(v.contains(&format!("ferrodns-{FERRODNS_VERSION}")), "{v}");
    }
}
