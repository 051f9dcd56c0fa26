//! Any text as a zone file for example.org: an error with its file and line, or a zone that
//! answers every owner and type it holds. The check is `ferrodns::fuzzing::zonefile`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::zonefile(data));
