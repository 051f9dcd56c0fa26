//! Any text as *template* directives, then any bytes as a query through them: a configuration
//! or an error that says where, and only well-formed replies, never a panic, a hang or an
//! unbounded allocation. The check is `ferrodns::fuzzing::template`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::template(data));
