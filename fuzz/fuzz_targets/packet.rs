//! Any bytes, as a UDP datagram and as a TCP message, through the dispatcher of a real
//! Corefile (cache, loadbalance, hosts and kubernetes in one chain): nothing may panic, and any
//! reply must be a well-formed message that fits. The check is `ferrodns::fuzzing::packet`,
//! which the regression tests run on fuzz/regressions/packet too.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferrodns::fuzzing::packet(data));
