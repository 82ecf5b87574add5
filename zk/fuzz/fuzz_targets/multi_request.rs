#![no_main]
//! See zk_fuzz::multi_request.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_fuzz::multi_request(data);
});
