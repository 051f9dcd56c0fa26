//! Any text as a manifest file: every object is used or reported as a problem, never a panic or
//! a hang; the index built from what is kept answers lookups. The check is
//! `ferrodns::fuzzing::manifests`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::manifests(data));
