#![no_main]
//! See zk_fuzz::snapshot.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_fuzz::snapshot(data);
});
