#![no_main]
//! See zk_fuzz::txn_entry.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zk_fuzz::txn_entry(data);
});
