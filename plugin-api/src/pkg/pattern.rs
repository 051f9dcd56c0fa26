//! Compiling the regular expressions a Corefile gives (*template*'s `match`, *rewrite*'s name
//! rules, *errors*' `consolidate`): RE2's syntax through the `regex` crate, with nesting kept
//! shallow enough that no pattern can exhaust a thread's stack.
//!
//! The crate refuses patterns nested deeper than its `nest_limit` (250 by default), but its
//! compiler recurses once per level, and 250 levels of `.****…` overflowed a 2 MiB thread stack
//! in a debug build (the template fuzz target found it). Go's `regexp`, which CoreDNS uses, has
//! no such patterns to worry about: it refuses `**` outright. Real patterns nest a few levels.

use regex::{Regex, RegexBuilder};

/// The deepest nesting of groups, classes and repetitions accepted.
pub const NEST_LIMIT: u32 = 64;

/// `pattern` compiled, or the `regex` crate's error.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).nest_limit(NEST_LIMIT).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_and_ordinary_patterns_compile() {
        let deep = format!("[a.].{}x", "*".repeat(230));
        assert!(compile(&deep).is_err());
        let nested = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(compile(&nested).is_err());
        let ordinary = r"^(?P<a>[0-9]+)-(?P<b>[0-9]+)[.](example|test)[.]$";
        assert!(compile(ordinary).unwrap().is_match("1-2.example."));
    }
}
