//! Any text as a Corefile: lexing, parsing and every directive's setup must give a config or
//! an error, never a panic or a hang.

#![no_main]

use ferrodns::config::{self, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let source = Source {
        filename: "Corefile".into(),
        text: text.into(),
        path: None,
        dns_port: "53".into(),
    };
    if let Err(e) = config::load(&source, &|_| {}) {
        // Every error names where it happened or which plugin raised it.
        let msg = e.to_string();
        assert!(!msg.is_empty());
    }
});
