//! Any text as a hosts file: every line is an entry or a skipped line with a reason, never a
//! panic; whatever is kept answers forward and reverse lookups.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_hosts::table;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let zones = vec![".".to_string()];
    let (entries, skipped) = table::parse(&text, &zones);
    // Each skipped line names a line that exists.
    let lines = text.lines().count().max(1);
    for (line, reason) in &skipped {
        assert!(*line >= 1 && *line <= lines, "skipped line {line} of {lines}: {reason}");
    }
    // Every kept name is fully qualified and lower-case, as lookups expect.
    for (name, _) in &entries.names {
        assert!(name.ends_with('.') && *name == name.to_lowercase(), "{name:?}");
    }
});
