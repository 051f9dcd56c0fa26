//! Any text as a hosts file: every line is an entry or a skipped line with a reason, never a
//! panic. The check is `ferrodns::fuzzing::hosts`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::hosts(data));
