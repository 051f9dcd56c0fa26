//! Which EDNS options a reply echoes from its query (CoreDNS's `plugin/pkg/edns`).
//!
//! When a plugin writes a reply without an OPT record, the server gives it the query's OPT with
//! only the *supported* options kept: NSID, EXPIRE, COOKIE, TCP-KEEPALIVE and PADDING, and any
//! code a plugin registers with [`set_supported_option`] (*rewrite*'s `edns0 local` rules do, as
//! CoreDNS's do). Registration is process-wide and lasts for the process, as in CoreDNS.
//!
//! The set is a bitmap of atomics: the server reads it for every query that carries options,
//! so it takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// The options CoreDNS always echoes: NSID, EXPIRE, COOKIE, TCP-KEEPALIVE, PADDING.
pub const ALWAYS_ECHOED: [u16; 5] = [3, 9, 10, 11, 12];

/// One bit per option code.
static REGISTERED: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];

/// Adds `code` to the options replies echo (CoreDNS's `edns.SetSupportedOption`).
pub fn set_supported_option(code: u16) {
    let (word, bit) = (usize::from(code / 64), code % 64);
    REGISTERED[word].fetch_or(1 << bit, Ordering::Relaxed);
}

/// True if replies echo option `code` from their query.
pub fn is_supported_option(code: u16) -> bool {
    if ALWAYS_ECHOED.contains(&code) {
        return true;
    }
    let (word, bit) = (usize::from(code / 64), code % 64);
    REGISTERED[word].load(Ordering::Relaxed) & (1 << bit) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_codes_are_supported_and_registered_ones_join_them() {
        for code in ALWAYS_ECHOED {
            assert!(is_supported_option(code));
        }
        // A code no other test registers.
        assert!(!is_supported_option(0xfeed));
        set_supported_option(0xfeed);
        assert!(is_supported_option(0xfeed));
        assert!(!is_supported_option(0xfeec) && !is_supported_option(0xfeef));
        set_supported_option(u16::MAX);
        assert!(is_supported_option(u16::MAX));
    }
}
