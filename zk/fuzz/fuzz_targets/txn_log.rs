#![no_main]
//! The txn log reader on arbitrary files: the first byte picks raw bytes (even) or a log built
//! from the input with valid checksums and then damaged (odd); see zk_fuzz::txn_log.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(zk_fuzz::scratch_dir);
    if let Some((&mode, rest)) = data.split_first() {
        zk_fuzz::txn_log(dir.path(), rest, mode & 1 == 1);
    }
});
