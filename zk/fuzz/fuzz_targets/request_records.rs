#![no_main]
//! See zk_fuzz::request_records.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_fuzz::request_records(data);
});
