//! Any text as a Corefile: lexing, parsing and every directive's setup must give a config or
//! an error, never a panic or a hang. The check is `ferrodns::fuzzing::corefile`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::corefile(data));
