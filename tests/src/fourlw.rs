//! Four-letter-word client (`srvr`, `ruok`, `mntr`, `stat`, `cons`, ...).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends a four-letter word and returns everything the server writes before closing.
pub fn four_letter_word(addr: SocketAddr, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Parses `key: value` lines (srvr/stat format) or `key\tvalue` lines (mntr format).
pub fn parse_kv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t').or_else(|| l.split_once(": "))?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}
