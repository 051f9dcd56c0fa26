//! Any bytes as an upstream's reply, read and patched in place as *forward* and *cache* do,
//! then served from the store: nothing may panic, the served reply walks again with its TTLs
//! in the same places, and when hickory decodes the upstream's bytes, the served reply
//! decodes to the same records. The check is `ferrodns::fuzzing::reply`, which the
//! regression tests run on fuzz/regressions/reply too.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::reply(data));
