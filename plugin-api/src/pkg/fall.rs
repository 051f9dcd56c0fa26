//! Fallthrough: which names a plugin passes on to the next one instead of answering with an
//! error (CoreDNS's `plugin/pkg/fall`).

use crate::pkg::zone::{is_subdomain, normalize};

/// The zones a plugin falls through for. Empty: never.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fall {
    zones: Vec<String>,
}

impl Fall {
    /// From a `fallthrough [ZONES...]` line: no zones means every name (the root).
    pub fn from_args(args: &[String]) -> Self {
        if args.is_empty() {
            return Self { zones: vec![".".into()] };
        }
        Self { zones: args.iter().map(|z| normalize(z)).collect() }
    }

    /// True if `name` (lower-case, fully qualified) falls through.
    pub fn through(&self, name: &str) -> bool {
        self.zones.iter().any(|z| is_subdomain(z, name))
    }

    /// True if fallthrough was not configured.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert!(!Fall::default().through("a."));
        assert!(Fall::from_args(&[]).through("anything.example."));
        let f = Fall::from_args(&["in-addr.arpa".into(), "IP6.arpa.".into()]);
        assert!(f.through("1.0.0.10.in-addr.arpa."));
        assert!(f.through("ip6.arpa."));
        assert!(!f.through("example.org."));
    }
}
