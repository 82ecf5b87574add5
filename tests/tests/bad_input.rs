//! Hostile and malformed input on the client port, differentially: every attack is sent over
//! a raw `std::net::TcpStream` to Apache ZooKeeper 3.8 (the oracle) and to zkraft, and each
//! must show the behaviour Apache shows (connection closed, or a reply with error code X and
//! the connection kept or closed). After every attack the server must still be up, a separate
//! session that was connected before the attack must still work (create + getData), and a new
//! session must still be possible.
//!
//! The expected outcomes below are what Apache ZooKeeper 3.8.0 does; run with
//! `ZK_IMPLS=apache` to check them against the oracle alone and `ZK_IMPLS=zkraft` for ours
//! (default: both). Everything is bounded by deadlines; nothing sleeps for a fixed time except
//! the short grace period in which a server that answered may still close the connection.
//!
//! ```sh
//! cargo build --release -p zk && cargo test --release -p tests --test bad_input -- --test-threads=1
//! ```

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tests::{for_each_kind, wait_until, ServerKind, ServerOptions, TestServer};

// ------------------------------------------------------------------ protocol constants

const MAXBUF: u32 = 4096;

mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const PING: i32 = 11;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
}

mod err {
    pub const OK: i32 = 0;
    pub const MARSHALLING: i32 = -5;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NO_NODE: i32 = -101;
    pub const NO_AUTH: i32 = -102;
}

// ------------------------------------------------------------------ jute helpers

fn put_i32(v: &mut Vec<u8>, x: i32) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn put_i64(v: &mut Vec<u8>, x: i64) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn put_bytes(v: &mut Vec<u8>, b: &[u8]) {
    put_i32(v, b.len() as i32);
    v.extend_from_slice(b);
}
fn put_str(v: &mut Vec<u8>, s: &str) {
    put_bytes(v, s.as_bytes());
}
fn put_bool(v: &mut Vec<u8>, b: bool) {
    v.push(b as u8);
}
/// `vector<ACL>` with one world:anyone entry.
fn put_world_acl(v: &mut Vec<u8>, perms: i32) {
    put_i32(v, 1);
    put_i32(v, perms);
    put_str(v, "world");
    put_str(v, "anyone");
}

fn create_body(path: &str, data: &[u8], flags: i32) -> Vec<u8> {
    let mut v = Vec::new();
    put_str(&mut v, path);
    put_bytes(&mut v, data);
    put_world_acl(&mut v, 31);
    put_i32(&mut v, flags);
    v
}
fn path_watch_body(path: &str) -> Vec<u8> {
    let mut v = Vec::new();
    put_str(&mut v, path);
    put_bool(&mut v, false);
    v
}
fn path_version_body(path: &str, version: i32) -> Vec<u8> {
    let mut v = Vec::new();
    put_str(&mut v, path);
    put_i32(&mut v, version);
    v
}
fn set_data_body(path: &str, data: &[u8], version: i32) -> Vec<u8> {
    let mut v = Vec::new();
    put_str(&mut v, path);
    put_bytes(&mut v, data);
    put_i32(&mut v, version);
    v
}
fn multi_header(v: &mut Vec<u8>, ty: i32, done: bool) {
    put_i32(v, ty);
    put_bool(v, done);
    put_i32(v, -1);
}

/// A ConnectRequest body: protocolVersion 0, the given fields, 16-byte password.
fn connect_body(
    last_zxid: i64,
    timeout: i32,
    session_id: i64,
    passwd: &[u8],
    read_only: Option<bool>,
) -> Vec<u8> {
    let mut v = Vec::new();
    put_i32(&mut v, 0);
    put_i64(&mut v, last_zxid);
    put_i32(&mut v, timeout);
    put_i64(&mut v, session_id);
    put_bytes(&mut v, passwd);
    if let Some(b) = read_only {
        put_bool(&mut v, b);
    }
    v
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    put_i32(&mut v, body.len() as i32);
    v.extend_from_slice(body);
    v
}

fn request_frame(xid: i32, opcode: i32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    put_i32(&mut v, xid);
    put_i32(&mut v, opcode);
    v.extend_from_slice(body);
    framed(&v)
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b[..4].try_into().unwrap())
}
fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[..8].try_into().unwrap())
}

// ------------------------------------------------------------------ raw socket client

/// One event read from a socket.
#[derive(Debug)]
enum Ev {
    Frame(Vec<u8>),
    /// EOF or reset: the server closed the connection.
    Closed,
    /// Nothing (complete) arrived before the deadline.
    Timeout,
}

fn tcp(addr: SocketAddr) -> TcpStream {
    try_tcp(addr).expect("TCP connect")
}

/// A TCP connection; a server that closes it at once (maxClientCnxns) can make even the
/// connect report an error (EPIPE / ECONNRESET from the socket's pending error).
fn try_tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    let _ = s.set_nodelay(true);
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(s)
}

fn is_closed_err(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// Writes, treating a reset/broken pipe as "the server already closed".
fn send(s: &mut TcpStream, bytes: &[u8]) -> bool {
    match s.write_all(bytes) {
        Ok(()) => true,
        Err(e) if is_closed_err(&e) => false,
        Err(e) => panic!("write failed: {e}"),
    }
}

/// Reads exactly `buf.len()` bytes before `deadline`. Err(Ev) on close/timeout.
fn read_full(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), Ev> {
    let mut n = 0;
    while n < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Ev::Timeout);
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf[n..]) {
            Ok(0) => return Err(Ev::Closed),
            Ok(k) => n += k,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Ev::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_closed_err(&e) => return Err(Ev::Closed),
            Err(e) => panic!("read failed: {e}"),
        }
    }
    Ok(())
}

/// Reads one length-prefixed frame.
fn read_frame(s: &mut TcpStream, deadline: Instant) -> Ev {
    let mut len = [0u8; 4];
    if let Err(e) = read_full(s, &mut len, deadline) {
        return e;
    }
    let n = i32::from_be_bytes(len);
    assert!(
        (0..=16 << 20).contains(&n),
        "server sent a frame length of {n}"
    );
    let mut body = vec![0u8; n as usize];
    match read_full(s, &mut body, deadline) {
        Ok(()) => Ev::Frame(body),
        Err(e) => e,
    }
}

/// Reads everything until the server closes (or the deadline passes: then `None`).
fn read_to_close(s: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_closed_err(&e) => return Some(out),
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// What a server observably did after an attack.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// Error codes of the replies (notifications and ping replies left out), in order.
    replies: Vec<i32>,
    /// Whether the server closed the connection.
    closed: bool,
}

fn closed() -> Outcome {
    Outcome {
        replies: vec![],
        closed: true,
    }
}
fn reply_then_close(e: i32) -> Outcome {
    Outcome {
        replies: vec![e],
        closed: true,
    }
}
fn reply_open(e: i32) -> Outcome {
    Outcome {
        replies: vec![e],
        closed: false,
    }
}

/// Observes a connection after an attack: collects replies, then decides whether it is
/// closed: EOF within a short grace period after the last reply, otherwise a ping must be
/// answered. `wait` bounds the wait for the first event.
fn observe(s: &mut TcpStream, wait: Duration) -> Outcome {
    let mut replies = Vec::new();
    let mut deadline = Instant::now() + wait;
    loop {
        match read_frame(s, deadline) {
            Ev::Frame(f) => {
                let xid = be_i32(&f);
                if xid == -1 {
                    continue; // notification
                }
                replies.push(be_i32(&f[12..]));
                // A server that answers and then closes does so at once.
                deadline = Instant::now() + Duration::from_millis(300);
            }
            Ev::Closed => {
                return Outcome {
                    replies,
                    closed: true,
                }
            }
            Ev::Timeout => break,
        }
    }
    // Still open? A ping must be answered.
    if !send(s, &request_frame(-2, op::PING, &[])) {
        return Outcome {
            replies,
            closed: true,
        };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match read_frame(s, deadline) {
            Ev::Frame(f) if be_i32(&f) == -2 => return Outcome { replies, closed: false },
            Ev::Frame(f) if be_i32(&f) == -1 => continue,
            Ev::Frame(f) => replies.push(be_i32(&f[12..])),
            Ev::Closed => return Outcome { replies, closed: true },
            Ev::Timeout => panic!("connection neither closed nor answered a ping within 10 s (replies so far {replies:?})"),
        }
    }
}

/// A decoded ConnectResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectResponse {
    body_len: usize,
    protocol_version: i32,
    timeout: i32,
    session_id: i64,
    passwd: Vec<u8>,
    read_only: Option<u8>,
}

fn parse_connect_response(b: &[u8]) -> ConnectResponse {
    assert!(b.len() >= 20, "short ConnectResponse {b:?}");
    let plen = be_i32(&b[16..]);
    assert_eq!(plen, 16, "ConnectResponse password length");
    ConnectResponse {
        body_len: b.len(),
        protocol_version: be_i32(b),
        timeout: be_i32(&b[4..]),
        session_id: be_i64(&b[8..]),
        passwd: b[20..36].to_vec(),
        read_only: b.get(36).copied(),
    }
}

/// A session over a raw socket.
struct Raw {
    s: TcpStream,
    xid: i32,
    session_id: i64,
    passwd: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let mut s = tcp(addr);
        assert!(
            send(
                &mut s,
                &framed(&connect_body(0, 30000, 0, &[0; 16], Some(false)))
            ),
            "connect write failed"
        );
        let r = match read_frame(&mut s, Instant::now() + Duration::from_secs(10)) {
            Ev::Frame(b) => parse_connect_response(&b),
            other => panic!("no ConnectResponse: {other:?}"),
        };
        assert!(r.timeout > 0 && r.session_id != 0, "session refused: {r:?}");
        Raw {
            s,
            xid: 0,
            session_id: r.session_id,
            passwd: r.passwd,
        }
    }

    fn next_xid(&mut self) -> i32 {
        self.xid += 1;
        self.xid
    }

    /// Sends a request and waits for its reply: Ok((err, body)) or Err(Ev) (closed/timeout).
    fn call(&mut self, opcode: i32, body: &[u8]) -> Result<(i32, Vec<u8>), Ev> {
        let xid = self.next_xid();
        if !send(&mut self.s, &request_frame(xid, opcode, body)) {
            return Err(Ev::Closed);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match read_frame(&mut self.s, deadline) {
                Ev::Frame(f) => {
                    let rx = be_i32(&f);
                    if rx == -1 {
                        continue;
                    }
                    assert_eq!(rx, xid, "reply xid");
                    return Ok((be_i32(&f[12..]), f[16..].to_vec()));
                }
                other => return Err(other),
            }
        }
    }

    /// Sends a raw frame (anything) and observes the outcome.
    fn attack(&mut self, bytes: &[u8]) -> Outcome {
        if !send(&mut self.s, bytes) {
            return closed();
        }
        observe(&mut self.s, Duration::from_secs(5))
    }

    fn request_attack(&mut self, opcode: i32, body: &[u8]) -> Outcome {
        let xid = self.next_xid();
        self.attack(&request_frame(xid, opcode, body))
    }
}

/// The session that must keep working through every attack.
struct Healthy {
    raw: Raw,
    n: u32,
    tag: String,
}

impl Healthy {
    fn new(server: &TestServer) -> Healthy {
        let mut raw = Raw::connect(server.addr());
        let tag = format!("/healthy{}", std::process::id());
        let (e, _) = raw
            .call(op::CREATE, &create_body(&tag, b"", 0))
            .expect("create healthy root");
        assert_eq!(e, err::OK, "create {tag}");
        Healthy { raw, n: 0, tag }
    }

    /// create + getData on the already-connected session, and a fresh session too.
    fn check(&mut self, server: &mut TestServer, after: &str) {
        assert!(
            server.is_running(),
            "{} server died after: {after}",
            server.kind()
        );
        self.n += 1;
        let p = format!("{}/n{}", self.tag, self.n);
        let data = format!("after {after}");
        let (e, body) = self
            .raw
            .call(op::CREATE, &create_body(&p, data.as_bytes(), 0))
            .unwrap_or_else(|ev| panic!("healthy session broken after {after}: create -> {ev:?}"));
        assert_eq!(e, err::OK, "healthy create after {after}");
        assert_eq!(&body[4..], p.as_bytes(), "create response path");
        let (e, body) = self
            .raw
            .call(op::GET_DATA, &path_watch_body(&p))
            .unwrap_or_else(|ev| panic!("healthy session broken after {after}: getData -> {ev:?}"));
        assert_eq!(e, err::OK, "healthy getData after {after}");
        assert_eq!(be_i32(&body) as usize, data.len());
        assert_eq!(
            &body[4..4 + data.len()],
            data.as_bytes(),
            "healthy getData data after {after}"
        );
        let mut fresh = Raw::connect(server.addr());
        let (e, _) = fresh
            .call(op::EXISTS, &path_watch_body(&p))
            .expect("fresh session exists");
        assert_eq!(e, err::OK, "fresh session after {after}");
    }
}

fn server(kind: ServerKind, opts: ServerOptions) -> TestServer {
    TestServer::start(kind, opts).unwrap_or_else(|e| panic!("starting {kind}: {e:#}"))
}

fn small_maxbuffer() -> ServerOptions {
    ServerOptions::new().jute_maxbuffer(MAXBUF)
}

/// Sends `bytes` on a fresh (not yet handshaken) connection and observes.
fn pre_session_attack(server: &TestServer, bytes: &[u8]) -> Outcome {
    let mut s = tcp(server.addr());
    if !send(&mut s, bytes) {
        return closed();
    }
    observe(&mut s, Duration::from_secs(5))
}

/// Collects `(case, expected, actual)` mismatches and fails once with all of them.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn check<T: std::fmt::Debug + PartialEq>(
        &mut self,
        kind: ServerKind,
        case: &str,
        expected: T,
        actual: T,
    ) {
        if expected != actual {
            self.0.push(format!(
                "[{kind}] {case}: expected {expected:?}, got {actual:?}"
            ));
        }
    }
    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} mismatch(es):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn vm_rss_kb(pid: u32) -> u64 {
    proc_status_kb(pid, "VmRSS:")
}

/// A `kB` field of /proc/<pid>/status (VmRSS, VmPeak, ...).
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A small deterministic PRNG (xorshift64*), so random cases are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ------------------------------------------------------------------ tests

/// Malformed first frames (the connect request): all close the connection without a reply.
#[test]
fn malformed_connect_frames_close_the_connection() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let good = connect_body(0, 30000, 0, &[0; 16], Some(false));
        let mut over = Vec::new();
        put_i32(&mut over, MAXBUF as i32 + 1);
        over.extend_from_slice(&good);
        let mut two_gb = Vec::new();
        put_i32(&mut two_gb, i32::MAX);
        two_gb.extend_from_slice(&good);
        let mut huge_passwd = Vec::new();
        put_i32(&mut huge_passwd, 0);
        put_i64(&mut huge_passwd, 0);
        put_i32(&mut huge_passwd, 30000);
        put_i64(&mut huge_passwd, 0);
        put_i32(&mut huge_passwd, 0x7fff_fff0);
        huge_passwd.extend_from_slice(&[0; 16]);
        let mut neg_passwd = huge_passwd.clone();
        neg_passwd[24..28].copy_from_slice(&(-2i32).to_be_bytes());
        let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
            ("connect length jute.maxbuffer+1", over, closed()),
            ("connect length 2 GB", two_gb, closed()),
            (
                "connect length -1",
                (-1i32).to_be_bytes().to_vec(),
                closed(),
            ),
            (
                "connect length i32::MIN",
                i32::MIN.to_be_bytes().to_vec(),
                closed(),
            ),
            ("connect length 0", 0i32.to_be_bytes().to_vec(), closed()),
            (
                "connect body too short (10 bytes)",
                framed(&good[..10]),
                closed(),
            ),
            (
                "connect passwd length 0x7ffffff0",
                framed(&huge_passwd),
                closed(),
            ),
            ("connect passwd length -2", framed(&neg_passwd), closed()),
            ("connect garbage 0xab*45", framed(&[0xab; 45]), closed()),
            ("unknown 4-letter word abcd", b"abcd".to_vec(), closed()),
        ];
        for (name, bytes, expected) in cases {
            let got = pre_session_attack(&s, &bytes);
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        // Truncated connect request, then the client goes away.
        for cut in [1usize, 3, 4, 10, 30] {
            let bytes = framed(&good);
            let mut c = tcp(s.addr());
            send(&mut c, &bytes[..cut]);
            drop(c);
            healthy.check(
                &mut s,
                &format!("truncated connect ({cut} bytes) then close"),
            );
        }
        // Half-closed after a partial frame: the server must close (EOF), not wait forever.
        let mut c = tcp(s.addr());
        send(&mut c, &framed(&good)[..20]);
        c.shutdown(Shutdown::Write).unwrap();
        let r = read_to_close(&mut c, Instant::now() + Duration::from_secs(10));
        m.check(
            kind,
            "partial connect then half-close: server closes",
            Some(Vec::new()),
            r,
        );
        healthy.check(&mut s, "partial connect then half-close");
        m.finish();
    });
}

/// Random handshakes, differentially: the same bytes go to every implementation and the
/// outcomes (closed without reply / ConnectResponse fields / session kept open) must match.
#[test]
fn random_handshakes_match_the_oracle() {
    type Seen = Vec<(String, String)>;
    let results: Mutex<HashMap<ServerKind, Seen>> = Mutex::new(HashMap::new());
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer().session_timeouts(4000, 40000));
        let mut healthy = Healthy::new(&s);
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut seen = Vec::new();
        for i in 0..120 {
            let bytes = match i % 4 {
                // Entirely random, including the length prefix.
                0 => {
                    let n = 1 + rng.below(64) as usize;
                    rng.bytes(n)
                }
                // A plausible length and a random body.
                1 => {
                    let n = rng.below(80) as usize;
                    framed(&rng.bytes(n))
                }
                // A well-formed ConnectRequest with random field values.
                _ => {
                    let zxid = if rng.below(2) == 0 {
                        -(rng.below(1 << 40) as i64)
                    } else {
                        rng.next() as i64
                    };
                    let timeout = rng.next() as i32;
                    let sid = if rng.below(2) == 0 {
                        0
                    } else {
                        rng.next() as i64
                    };
                    let plen = [16usize, 0, 15, 17][rng.below(4) as usize];
                    let passwd = rng.bytes(plen);
                    let ro = match rng.below(3) {
                        0 => None,
                        1 => Some(false),
                        _ => Some(true),
                    };
                    let mut b = connect_body(zxid, timeout, sid, &passwd, ro);
                    if rng.below(4) == 0 {
                        let extra = rng.below(8) as usize;
                        b.extend(rng.bytes(extra));
                    }
                    framed(&b)
                }
            };
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut c = tcp(s.addr());
            let outcome = if !send(&mut c, &bytes) {
                "closed".to_string()
            } else {
                match read_frame(&mut c, Instant::now() + Duration::from_secs(5)) {
                    Ev::Closed => "closed".to_string(),
                    Ev::Timeout => "no reply (waiting for more bytes)".to_string(),
                    Ev::Frame(f) => {
                        let r = parse_connect_response(&f);
                        let after = observe(&mut c, Duration::from_millis(300));
                        format!(
                            "ConnectResponse{{len {}, proto {}, timeout {}, new session {}, passwd zero {}, readOnly {:?}}} then {}",
                            r.body_len,
                            r.protocol_version,
                            r.timeout,
                            r.session_id != 0,
                            r.passwd.iter().all(|&b| b == 0),
                            r.read_only,
                            if after.closed { "closed" } else { "open" }
                        )
                    }
                }
            };
            seen.push((hex, outcome));
            if i % 20 == 19 {
                healthy.check(&mut s, &format!("random handshakes up to #{i}"));
            }
        }
        healthy.check(&mut s, "random handshakes");
        let mut dist: HashMap<&str, usize> = HashMap::new();
        for (_, o) in &seen {
            *dist.entry(o.split(" {").next().unwrap_or(o)).or_default() += 1;
        }
        eprintln!("[{kind}] handshake outcomes: {dist:?}");
        results.lock().unwrap().insert(kind, seen);
    });
    let results = results.into_inner().unwrap();
    if let (Some(a), Some(z)) = (
        results.get(&ServerKind::Apache),
        results.get(&ServerKind::Zkraft),
    ) {
        let diffs: Vec<String> = a
            .iter()
            .zip(z)
            .filter(|(x, y)| x.1 != y.1)
            .map(|(x, y)| format!("input {}:\n  apache: {}\n  zkraft: {}", x.0, x.1, y.1))
            .collect();
        assert!(
            diffs.is_empty(),
            "{} handshake(s) differ:\n{}",
            diffs.len(),
            diffs.join("\n")
        );
    }
}

/// A four-letter word that is known but not whitelisted gets the "not executed" text.
#[test]
fn four_letter_word_not_in_whitelist() {
    for_each_kind(|kind| {
        let mut s = server(kind, ServerOptions::new().four_lw(&["ruok"]));
        let mut healthy = Healthy::new(&s);
        for w in ["dump", "wchc", "envi", "cons", "stat", "conf"] {
            let mut c = tcp(s.addr());
            send(&mut c, w.as_bytes());
            let out = read_to_close(&mut c, Instant::now() + Duration::from_secs(10))
                .expect("server closes after 4lw");
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!("{w} is not executed because it is not in the whitelist.\n"),
                "[{kind}] {w}"
            );
            healthy.check(&mut s, &format!("4lw {w} (not whitelisted)"));
        }
        assert_eq!(s.four_letter_word("ruok").unwrap(), "imok", "[{kind}]");
    });
}

/// Telnet's close sequence (IAC IP IAC DO, `0xfff4fffd`) as the first four bytes is a known
/// command in Apache (FourLetterCommands.telnetCloseCmd, "telnet close"): not whitelisted, it
/// gets the "not executed" text like any other known word.
#[test]
fn telnet_close_sequence_is_a_known_four_letter_word() {
    for_each_kind(|kind| {
        let mut s = server(kind, ServerOptions::new().four_lw(&["ruok"]));
        let mut healthy = Healthy::new(&s);
        let mut c = tcp(s.addr());
        send(&mut c, &[0xff, 0xf4, 0xff, 0xfd]);
        let out =
            read_to_close(&mut c, Instant::now() + Duration::from_secs(10)).expect("server closes");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "telnet close is not executed because it is not in the whitelist.\n",
            "[{kind}] telnet close (0xfff4fffd)"
        );
        healthy.check(&mut s, "telnet close sequence");
    });
}

/// Bad frame lengths on an established session close that connection only.
#[test]
fn bad_request_frame_lengths_close_the_connection() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let mut over = Vec::new();
        put_i32(&mut over, MAXBUF as i32 + 1);
        put_i32(&mut over, 1);
        put_i32(&mut over, op::GET_DATA);
        let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
            ("request length jute.maxbuffer+1", over, closed()),
            (
                "request length 2 GB",
                i32::MAX.to_be_bytes().to_vec(),
                closed(),
            ),
            (
                "request length -1",
                (-1i32).to_be_bytes().to_vec(),
                closed(),
            ),
            (
                "request length -100000",
                (-100000i32).to_be_bytes().to_vec(),
                closed(),
            ),
            ("request length 0", 0i32.to_be_bytes().to_vec(), closed()),
            (
                "request length 4 (xid only)",
                framed(&7i32.to_be_bytes()),
                closed(),
            ),
            ("request length 7", framed(&[0, 0, 0, 1, 0, 0, 0]), closed()),
            (
                "4-letter word on an established session",
                b"ruok".to_vec(),
                closed(),
            ),
        ];
        for (name, bytes, expected) in cases {
            let mut c = Raw::connect(s.addr());
            let got = c.attack(&bytes);
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        // A frame of exactly jute.maxbuffer bytes is accepted (setData of a big value).
        let mut c = Raw::connect(s.addr());
        let p = format!("/big{}", std::process::id());
        let (e, _) = c
            .call(op::CREATE, &create_body(&p, b"", 0))
            .expect("create");
        assert_eq!(e, 0);
        let fixed = 8 + 4 + p.len() + 4 + 4;
        let data = vec![b'x'; MAXBUF as usize - fixed];
        let got = c.request_attack(op::SET_DATA, &set_data_body(&p, &data, -1));
        m.check(
            kind,
            "setData frame of exactly jute.maxbuffer",
            reply_open(err::OK),
            got,
        );
        healthy.check(&mut s, "frame of exactly jute.maxbuffer");
        m.finish();
    });
}

/// Opcodes the server does not serve from clients: err -6 (Unimplemented), then close.
#[test]
fn unknown_opcodes_reply_unimplemented_and_close() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let cases: Vec<(&str, i32, Vec<u8>, Outcome)> = vec![
            (
                "opcode 999",
                999,
                vec![],
                reply_then_close(err::UNIMPLEMENTED),
            ),
            (
                "opcode 999 with a body",
                999,
                path_watch_body("/"),
                reply_then_close(err::UNIMPLEMENTED),
            ),
            (
                "opcode 0 (notification)",
                op::NOTIFICATION,
                vec![],
                reply_then_close(err::UNIMPLEMENTED),
            ),
            (
                "opcode -1",
                -1,
                vec![],
                reply_then_close(err::UNIMPLEMENTED),
            ),
            (
                "opcode i32::MIN",
                i32::MIN,
                vec![],
                reply_then_close(err::UNIMPLEMENTED),
            ),
            (
                "opcode 10 (unused)",
                10,
                vec![],
                reply_then_close(err::UNIMPLEMENTED),
            ),
        ];
        for (name, opcode, body, expected) in cases {
            let mut c = Raw::connect(s.addr());
            let got = c.request_attack(opcode, &body);
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        m.finish();
    });
}

/// `check` (13) outside a multi. The spec (§4) says "treated as an unknown op"; Apache 3.8's
/// Request.isValid accepts it, so the oracle decides.
#[test]
fn standalone_check_op() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        for (name, body) in [
            ("check / version -1", path_version_body("/", -1)),
            ("check / version 5", path_version_body("/", 5)),
            ("check /nope version -1", path_version_body("/nope", -1)),
        ] {
            let mut c = Raw::connect(s.addr());
            let got = c.request_attack(op::CHECK, &body);
            let expected = expected_standalone_check(name);
            if kind == ServerKind::Zkraft
                && name == "check / version -1"
                && got == reply_open(err::OK)
            {
                // Apache sends no reply at all here (an NPE serializing the null stat of a
                // SetDataResponse, "Destruction averted"), leaving the client waiting; a
                // successful reply is accepted from zkraft.
                eprintln!("[{kind}] {name}: replied OK where Apache sends nothing");
            } else {
                m.check(kind, name, expected, got);
            }
            healthy.check(&mut s, name);
        }
        m.finish();
    });
}

fn expected_standalone_check(name: &str) -> Outcome {
    // What Apache 3.8.0 does: PrepRequestProcessor preps a CheckVersionTxn; on success
    // FinalRequestProcessor fails to serialize `SetDataResponse(null stat)` and sends nothing
    // (the connection stays open); failures are answered normally.
    match name {
        "check / version -1" => Outcome {
            replies: vec![],
            closed: false,
        },
        "check / version 5" => reply_open(-103),
        _ => reply_open(err::NO_NODE),
    }
}

/// deleteContainer (20) is internal (the container reaper). Apache accepts the opcode from a
/// client, but takes the path from the whole request buffer (`new String(request.request.array())`,
/// RequestHeader included, so it always holds NULs) and answers BadArguments (-8), keeping the
/// connection. A server that took the body as the path would let any client delete any empty
/// node without the DELETE permission (no ACL check on this path).
#[test]
fn delete_container_opcode_from_a_client_is_rejected() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut c = Raw::connect(s.addr());
        let base = format!("/locked{}", std::process::id());
        // world:anyone READ|CREATE only: children can be created but not deleted.
        let mut body = Vec::new();
        put_str(&mut body, &base);
        put_bytes(&mut body, b"");
        put_world_acl(&mut body, 1 | 4);
        put_i32(&mut body, 0);
        assert_eq!(c.call(op::CREATE, &body).unwrap().0, 0);
        let child = format!("{base}/c");
        assert_eq!(
            c.call(op::CREATE, &create_body(&child, b"", 0)).unwrap().0,
            0
        );
        assert_eq!(
            c.call(op::DELETE, &path_version_body(&child, -1))
                .unwrap()
                .0,
            err::NO_AUTH,
            "[{kind}] plain delete"
        );
        let got = c.request_attack(op::DELETE_CONTAINER, child.as_bytes());
        let mut check = Raw::connect(s.addr());
        let exists = check.call(op::EXISTS, &path_watch_body(&child)).unwrap().0;
        assert_eq!(
            (got, exists),
            (reply_open(err::BAD_ARGUMENTS), err::OK),
            "[{kind}] deleteContainer from a client: (outcome, exists err afterwards)"
        );
        healthy.check(&mut s, "deleteContainer from a client");
    });
}

/// Bodies that do not decode: truncated records, huge claimed lengths and counts.
#[test]
fn malformed_request_bodies() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let huge_str = |n: i32| {
            let mut v = Vec::new();
            put_i32(&mut v, n);
            v.extend_from_slice(b"/abc");
            v
        };
        let mut create_huge_data = Vec::new();
        put_str(&mut create_huge_data, "/x");
        put_i32(&mut create_huge_data, 0x7fff_0000);
        create_huge_data.extend_from_slice(b"data");
        let mut create_huge_acl = Vec::new();
        put_str(&mut create_huge_acl, "/x");
        put_bytes(&mut create_huge_acl, b"d");
        put_i32(&mut create_huge_acl, 0x7fff_ffff);
        let mut set_watches_huge = Vec::new();
        put_i64(&mut set_watches_huge, 0);
        put_i32(&mut set_watches_huge, 0x7fff_ffff);
        put_str(&mut set_watches_huge, "/a");
        let mut multi_truncated = Vec::new();
        multi_header(&mut multi_truncated, op::CREATE, false);
        multi_truncated.extend_from_slice(&create_body("/m", b"", 0)[..7]);
        let mut multi_no_end = Vec::new();
        multi_header(&mut multi_no_end, op::CREATE, false);
        multi_no_end.extend_from_slice(&create_body("/m_no_end", b"", 0));
        let mut multi_bad_type = Vec::new();
        multi_header(&mut multi_bad_type, 999, false);
        multi_bad_type.extend_from_slice(&path_watch_body("/"));
        multi_header(&mut multi_bad_type, -1, true);
        let mut multi_read_truncated = Vec::new();
        multi_header(&mut multi_read_truncated, op::GET_DATA, false);
        multi_read_truncated.extend_from_slice(&huge_str(0x7fff_ffff));
        let mut get_data_trailing = path_watch_body("/");
        get_data_trailing.extend_from_slice(b"junkjunk");
        let mut exists_bool7 = Vec::new();
        put_str(&mut exists_bool7, "/");
        exists_bool7.push(7);
        let mut reconfig = Vec::new();
        put_str(&mut reconfig, "server.2=127.0.0.1:1:2");
        put_str(&mut reconfig, "");
        put_str(&mut reconfig, "");
        put_i64(&mut reconfig, -1);
        let five_k = huge_str(MAXBUF as i32 + 1000);
        let ms = err::MARSHALLING;
        let cases: Vec<(&str, i32, Vec<u8>, Outcome)> = vec![
            ("create with empty body", op::CREATE, vec![], reply_open(ms)),
            (
                "create truncated inside the path",
                op::CREATE,
                create_body("/abc", b"", 0)[..6].to_vec(),
                reply_open(ms),
            ),
            (
                "create truncated before flags",
                op::CREATE,
                create_body("/abc", b"", 0)[..30].to_vec(),
                reply_open(ms),
            ),
            (
                "create path length 2^31-1",
                op::CREATE,
                huge_str(0x7fff_ffff),
                reply_open(ms),
            ),
            (
                "create path length maxbuffer+1000",
                op::CREATE,
                five_k.clone(),
                reply_open(ms),
            ),
            (
                "create path length -2",
                op::CREATE,
                huge_str(-2),
                reply_open(ms),
            ),
            (
                "create data length 0x7fff0000",
                op::CREATE,
                create_huge_data,
                reply_open(ms),
            ),
            (
                "create ACL count 2^31-1",
                op::CREATE,
                create_huge_acl,
                reply_open(ms),
            ),
            ("delete with empty body", op::DELETE, vec![], reply_open(ms)),
            (
                "delete path length 2^31-1",
                op::DELETE,
                huge_str(0x7fff_ffff),
                reply_open(ms),
            ),
            (
                "setData truncated",
                op::SET_DATA,
                set_data_body("/", b"abc", -1)[..9].to_vec(),
                reply_open(ms),
            ),
            (
                "getData with empty body",
                op::GET_DATA,
                vec![],
                reply_open(ms),
            ),
            (
                "getData path length 2^31-1",
                op::GET_DATA,
                huge_str(0x7fff_ffff),
                reply_open(ms),
            ),
            (
                "getData path length maxbuffer+1000",
                op::GET_DATA,
                five_k.clone(),
                reply_open(ms),
            ),
            (
                "exists missing watch flag",
                op::EXISTS,
                path_watch_body("/")[..5].to_vec(),
                reply_open(ms),
            ),
            (
                "exists path length 2^31-1",
                op::EXISTS,
                huge_str(0x7fff_ffff),
                reply_open(ms),
            ),
            (
                "getChildren path length 2^31-1",
                op::GET_CHILDREN,
                huge_str(0x7fff_ffff),
                reply_open(ms),
            ),
            (
                "setWatches vector count 2^31-1",
                op::SET_WATCHES,
                set_watches_huge,
                reply_open(ms),
            ),
            ("multi with empty body", op::MULTI, vec![], reply_open(ms)),
            (
                "multi truncated inside an op",
                op::MULTI,
                multi_truncated,
                reply_open(ms),
            ),
            (
                "multi without the done header",
                op::MULTI,
                multi_no_end,
                reply_open(ms),
            ),
            (
                "multi with sub-op type 999",
                op::MULTI,
                multi_bad_type,
                reply_open(ms),
            ),
            (
                "multiRead path length 2^31-1",
                op::MULTI_READ,
                multi_read_truncated,
                reply_open(ms),
            ),
        ];
        for (name, opcode, body, expected) in cases {
            let mut c = Raw::connect(s.addr());
            let got = c.request_attack(opcode, &body);
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        // Nothing created by the failed multis.
        let mut c = Raw::connect(s.addr());
        m.check(
            kind,
            "/m_no_end not created",
            err::NO_NODE,
            c.call(op::EXISTS, &path_watch_body("/m_no_end")).unwrap().0,
        );
        // Odd but decodable requests are served normally.
        let odd: Vec<(&str, i32, i32, Vec<u8>, Outcome)> = vec![
            (
                "getData with trailing bytes in the frame",
                1,
                op::GET_DATA,
                get_data_trailing,
                reply_open(0),
            ),
            (
                "exists with watch byte 7",
                2,
                op::EXISTS,
                exists_bool7,
                reply_open(0),
            ),
            (
                "ping with a body",
                -2,
                op::PING,
                b"abcdef".to_vec(),
                reply_open(0),
            ),
            (
                "reconfig on a standalone server",
                3,
                16,
                reconfig,
                reply_open(-123),
            ),
        ];
        for (name, xid, opcode, body, expected) in odd {
            let mut c = Raw::connect(s.addr());
            let got = c.attack(&request_frame(xid, opcode, &body));
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        m.finish();
    });
}

/// AuthPacket: an unknown scheme gets AuthFailed (-115) and the connection is closed; a
/// truncated packet makes Apache's processPacket throw while deserializing it, which closes
/// the connection *without* a reply.
#[test]
fn malformed_auth_packets() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let mut unknown = Vec::new();
        put_i32(&mut unknown, 0);
        put_str(&mut unknown, "nosuch");
        put_bytes(&mut unknown, b"x");
        let mut truncated = Vec::new();
        put_i32(&mut truncated, 0);
        put_str(&mut truncated, "digest");
        put_i32(&mut truncated, 100);
        truncated.extend_from_slice(b"u:p");
        for (name, body, expected) in [
            (
                "auth with an unknown scheme",
                unknown,
                reply_then_close(-115),
            ),
            ("auth packet truncated", truncated, closed()),
            ("auth packet empty", vec![], closed()),
        ] {
            let mut c = Raw::connect(s.addr());
            let got = c.attack(&request_frame(-4, op::AUTH, &body));
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        m.finish();
    });
}

/// Strings that are not valid UTF-8. Java decodes them with replacement characters
/// (`new String(bytes, UTF_8)`), so they are ordinary (if odd) strings to Apache: an invalid
/// path (U+FFFD is outside the allowed characters), a missing node, an unknown ACL id.
#[test]
fn invalid_utf8_in_strings() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let mut bad_acl = Vec::new();
        put_str(&mut bad_acl, "/acl");
        put_bytes(&mut bad_acl, b"");
        put_i32(&mut bad_acl, 1);
        put_i32(&mut bad_acl, 31);
        put_str(&mut bad_acl, "world");
        put_bytes(&mut bad_acl, b"any\xffone");
        put_i32(&mut bad_acl, 0);
        let create_raw = |path: &[u8]| {
            let mut v = Vec::new();
            put_bytes(&mut v, path);
            put_bytes(&mut v, b"");
            put_world_acl(&mut v, 31);
            put_i32(&mut v, 0);
            v
        };
        let get_raw = |path: &[u8]| {
            let mut v = Vec::new();
            put_bytes(&mut v, path);
            put_bool(&mut v, false);
            v
        };
        let mut set_watches = Vec::new();
        put_i64(&mut set_watches, 0);
        put_i32(&mut set_watches, 1);
        put_bytes(&mut set_watches, b"/\xff");
        put_i32(&mut set_watches, 0);
        put_i32(&mut set_watches, 0);
        let cases: Vec<(&str, i32, Vec<u8>, Outcome)> = vec![
            (
                "create path with byte 0xff",
                op::CREATE,
                create_raw(b"/b\xff"),
                reply_open(err::BAD_ARGUMENTS),
            ),
            (
                "create path with a CESU-8 surrogate",
                op::CREATE,
                create_raw(b"/s\xed\xa0\x80"),
                reply_open(err::BAD_ARGUMENTS),
            ),
            (
                "create with an ACL id holding 0xff",
                op::CREATE,
                bad_acl,
                reply_open(-114),
            ),
            (
                "getData path with byte 0xff",
                op::GET_DATA,
                get_raw(b"/a\xff"),
                reply_open(err::NO_NODE),
            ),
            (
                "exists path with byte 0xff",
                op::EXISTS,
                get_raw(b"/a\xff"),
                reply_open(err::NO_NODE),
            ),
            (
                "setWatches path with byte 0xff",
                op::SET_WATCHES,
                set_watches,
                reply_open(0),
            ),
        ];
        for (name, opcode, body, expected) in cases {
            let mut c = Raw::connect(s.addr());
            let got = c.request_attack(opcode, &body);
            m.check(kind, name, expected, got);
            healthy.check(&mut s, name);
        }
        m.finish();
    });
}

/// A SASL packet (102) on a server without SASL configured: Apache answers it (err 0) and keeps
/// the connection.
#[test]
fn sasl_packet_without_sasl_configured() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut c = Raw::connect(s.addr());
        let mut body = Vec::new();
        put_bytes(&mut body, b"token");
        let got = c.request_attack(102, &body);
        assert_eq!(got, reply_open(0), "[{kind}] sasl packet");
        healthy.check(&mut s, "sasl packet");
    });
}

/// getData/exists on the empty path: Apache's DataTree keeps the root under "" as well as "/",
/// so both succeed (and return the root).
#[test]
fn empty_path_reads_the_root() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut c = Raw::connect(s.addr());
        let (e_get, _) = c.call(op::GET_DATA, &path_watch_body("")).unwrap();
        let (e_exists, _) = c.call(op::EXISTS, &path_watch_body("")).unwrap();
        assert_eq!(
            (e_get, e_exists),
            (0, 0),
            "[{kind}] (getData \"\", exists \"\")"
        );
        healthy.check(&mut s, "reads of the empty path");
    });
}

/// Invalid paths for create/getData/exists/delete: the error code each op gives, and the
/// connection stays usable.
#[test]
fn invalid_paths() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut m = Mismatches::default();
        let mut c = Raw::connect(s.addr());
        let base = format!("/p{}", std::process::id());
        assert_eq!(
            c.call(op::CREATE, &create_body(&base, b"", 0)).unwrap().0,
            0
        );
        let paths: Vec<(&str, String)> = vec![
            ("trailing slash", format!("{base}/")),
            ("double slash", "//".to_string()),
            ("empty component", format!("{base}//x")),
            ("no leading slash", "abc".to_string()),
            ("empty path", String::new()),
            ("dot component", "/./x".to_string()),
            ("dot-dot component", format!("{base}/..")),
            ("trailing dot", format!("{base}/.")),
            ("embedded NUL", format!("{base}/a\0b")),
            ("control character", format!("{base}/a\u{1}b")),
            ("U+FFFF", format!("{base}/a\u{ffff}")),
        ];
        for (what, p) in &paths {
            for (opname, opcode, body) in [
                ("create", op::CREATE, create_body(p, b"", 0)),
                ("getData", op::GET_DATA, path_watch_body(p)),
                ("exists", op::EXISTS, path_watch_body(p)),
                ("delete", op::DELETE, path_version_body(p, -1)),
            ] {
                if *what == "empty path" && matches!(opname, "getData" | "exists") {
                    continue; // see empty_path_reads_the_root
                }
                let case = format!("{opname} {what} {p:?}");
                match c.call(opcode, &body) {
                    Ok((e, _)) => m.check(kind, &case, expected_invalid_path(opname, what), e),
                    Err(ev) => {
                        m.check(
                            kind,
                            &case,
                            format!("err {}", expected_invalid_path(opname, what)),
                            format!("{ev:?}"),
                        );
                        c = Raw::connect(s.addr());
                    }
                }
            }
        }
        // The trailing slash with a sequential flag is a valid create (child named by digits).
        let (e, body) = c
            .call(op::CREATE, &create_body(&format!("{base}/"), b"", 2))
            .unwrap();
        m.check(
            kind,
            "create sequential trailing slash",
            (0, format!("{base}/0000000000")),
            (e, String::from_utf8_lossy(&body[4..]).into_owned()),
        );
        // Special paths cannot be deleted.
        for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            let e = c.call(op::DELETE, &path_version_body(p, -1)).unwrap().0;
            m.check(kind, &format!("delete {p}"), err::BAD_ARGUMENTS, e);
        }
        let o = observe(&mut c.s, Duration::from_millis(50));
        m.check(
            kind,
            "session still open after the invalid paths",
            Outcome {
                replies: vec![],
                closed: false,
            },
            o,
        );
        healthy.check(&mut s, "invalid paths");
        m.finish();
    });
}

/// Error codes Apache 3.8.0 gives for invalid paths. create checks for a '/' and NUL, then that
/// the parent (everything before the last '/') exists, and validates the full path only then;
/// reads just look the path up ("" is an alias of the root); delete checks for a '/' and NUL.
fn expected_invalid_path(op: &str, what: &str) -> i32 {
    match (op, what) {
        ("create", "empty component" | "dot component") => err::NO_NODE,
        ("create", _) => err::BAD_ARGUMENTS,
        ("exists", "embedded NUL") => err::BAD_ARGUMENTS,
        ("getData" | "exists", _) => err::NO_NODE,
        ("delete", "no leading slash" | "empty path" | "embedded NUL") => err::BAD_ARGUMENTS,
        ("delete", _) => err::NO_NODE,
        _ => unreachable!(),
    }
}

/// maxClientCnxns: the connection beyond the limit from one IP is closed at once; others keep
/// working, and a slot frees up when a connection closes.
#[test]
fn max_client_cnxns_per_ip() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer().max_client_cnxns(5));
        let mut healthy = Healthy::new(&s); // connection 1
        let mut others: Vec<Raw> = (0..4).map(|_| Raw::connect(s.addr())).collect(); // 2..=5
                                                                                     // The 6th (and 7th) connection: closed without a ConnectResponse.
        for i in 6..=7 {
            let ev = match try_tcp(s.addr()) {
                Err(e) if is_closed_err(&e) => Ev::Closed,
                Err(e) => panic!("[{kind}] connect #{i}: {e}"),
                Ok(mut c) => {
                    let hello = framed(&connect_body(0, 30000, 0, &[0; 16], Some(false)));
                    if send(&mut c, &hello) {
                        read_frame(&mut c, Instant::now() + Duration::from_secs(10))
                    } else {
                        Ev::Closed
                    }
                }
            };
            assert!(
                matches!(ev, Ev::Closed),
                "[{kind}] connection #{i} beyond maxClientCnxns=5: {ev:?}"
            );
        }
        // The established ones still work.
        for (i, o) in others.iter_mut().enumerate() {
            let (e, _) = o
                .call(op::EXISTS, &path_watch_body("/"))
                .unwrap_or_else(|ev| panic!("[{kind}] conn {i}: {ev:?}"));
            assert_eq!(e, 0);
        }
        let (e, _) = healthy.raw.call(op::EXISTS, &path_watch_body("/")).unwrap();
        assert_eq!(e, 0);
        // Close one: a new connection is accepted again (eventually; the count drops when the
        // server notices the close).
        drop(others.pop());
        let _fresh = wait_until(Duration::from_secs(10), "a free connection slot", || {
            let mut c = try_tcp(s.addr()).ok()?;
            if !send(
                &mut c,
                &framed(&connect_body(0, 30000, 0, &[0; 16], Some(false))),
            ) {
                return None;
            }
            match read_frame(&mut c, Instant::now() + Duration::from_secs(5)) {
                Ev::Frame(f) => Some((c, parse_connect_response(&f))),
                _ => None,
            }
        })
        .unwrap_or_else(|e| panic!("[{kind}] {e}"));
        drop(_fresh);
        drop(others);
        // healthy.check opens one fresh session too; wait for the closed ones to be counted out.
        wait_until(Duration::from_secs(10), "connections released", || {
            s.four_letter_word("srvr").ok()
        })
        .unwrap_or_else(|e| panic!("[{kind}] {e}"));
        healthy.check(&mut s, "connections beyond maxClientCnxns");
    });
}

/// Claimed lengths of 2 GB must neither be allocated nor hang anything; many connections that
/// stall in the middle of a (legal, maximal) frame must not block other sessions.
#[test]
fn huge_claimed_lengths_do_not_allocate_or_hang() {
    for_each_kind(|kind| {
        let mut s = server(kind, ServerOptions::new().max_client_cnxns(0));
        let mut healthy = Healthy::new(&s);
        let pid = s.pid().unwrap();
        let rss0 = vm_rss_kb(pid);
        let peak0 = proc_status_kb(pid, "VmPeak:");
        let started = Instant::now();
        // 2 GB connect frames and 2 GB request frames, 20 of each.
        for i in 0..20 {
            let mut c = tcp(s.addr());
            let mut b = i32::MAX.to_be_bytes().to_vec();
            b.extend_from_slice(&[0x55; 64]);
            let o = if send(&mut c, &b) {
                observe(&mut c, Duration::from_secs(5))
            } else {
                closed()
            };
            assert_eq!(o, closed(), "[{kind}] 2 GB connect frame #{i}");
            let mut r = Raw::connect(s.addr());
            let o = r.attack(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 4]);
            assert_eq!(o, closed(), "[{kind}] 2 GB request frame #{i}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "[{kind}] 2 GB frames took {:?}",
            started.elapsed()
        );
        healthy.check(&mut s, "2 GB frame claims");
        if kind == ServerKind::Zkraft {
            // Not even a lazily-zeroed (untouched, so RSS-free) buffer of the claimed size.
            let peak1 = proc_status_kb(pid, "VmPeak:");
            eprintln!("[{kind}] VmPeak before {peak0} kB, after 2 GB claims {peak1} kB");
            assert!(
                peak1 < peak0 + 1024 * 1024,
                "[{kind}] VmPeak grew from {peak0} kB to {peak1} kB: a claimed length was allocated"
            );
        }
        // 40 connections claim a frame of exactly jute.maxbuffer (legal) and stall after a few
        // bytes; 20 sessions do the same with a request frame.
        let max = 0xfffff_i32;
        let mut stalled = Vec::new();
        for _ in 0..40 {
            let mut c = tcp(s.addr());
            let mut b = max.to_be_bytes().to_vec();
            b.extend_from_slice(&[0; 16]);
            send(&mut c, &b);
            stalled.push(c);
        }
        let mut stalled_sessions = Vec::new();
        for _ in 0..20 {
            let mut r = Raw::connect(s.addr());
            let mut b = max.to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 5]);
            send(&mut r.s, &b);
            stalled_sessions.push(r);
        }
        healthy.check(&mut s, "60 connections stalled inside a maximal frame");
        if kind == ServerKind::Zkraft {
            let rss1 = vm_rss_kb(pid);
            eprintln!("[{kind}] VmRSS before {rss0} kB, with stalled maximal frames {rss1} kB");
            assert!(
                rss1 < rss0 + 64 * 1024,
                "[{kind}] VmRSS grew from {rss0} kB to {rss1} kB"
            );
        }
        drop(stalled);
        drop(stalled_sessions);
        healthy.check(&mut s, "stalled connections closed");
        if kind == ServerKind::Zkraft {
            let rss2 = vm_rss_kb(pid);
            eprintln!("[{kind}] VmRSS at the end {rss2} kB");
            assert!(
                rss2 < rss0 + 64 * 1024,
                "[{kind}] VmRSS grew from {rss0} kB to {rss2} kB"
            );
        }
    });
}

/// A reconnect naming a live session with a wrong password is refused (ConnectResponse with
/// timeout 0 and session 0, then close). Apache closes the connection that held the session
/// *before* it checks the password, so the victim's connection drops too; the session itself
/// survives and its owner can reconnect with the right password.
#[test]
fn reconnect_with_a_wrong_password() {
    for_each_kind(|kind| {
        let mut s = server(kind, small_maxbuffer());
        let mut healthy = Healthy::new(&s);
        let mut victim = Raw::connect(s.addr());
        let p = format!("/victim{}", std::process::id());
        let (e, _) = victim.call(op::CREATE, &create_body(&p, b"", 1)).unwrap(); // ephemeral
        assert_eq!(e, 0);
        let mut wrong = victim.passwd.clone();
        wrong[0] ^= 1;
        for (name, passwd) in [("wrong password", wrong), ("empty password", vec![])] {
            let mut c = tcp(s.addr());
            send(
                &mut c,
                &framed(&connect_body(
                    0,
                    30000,
                    victim.session_id,
                    &passwd,
                    Some(false),
                )),
            );
            let r = match read_frame(&mut c, Instant::now() + Duration::from_secs(10)) {
                Ev::Frame(b) => parse_connect_response(&b),
                other => panic!("[{kind}] {name}: no ConnectResponse: {other:?}"),
            };
            assert_eq!(
                (r.timeout, r.session_id, r.passwd.iter().all(|&b| b == 0)),
                (0, 0, true),
                "[{kind}] {name}: ConnectResponse {r:?}"
            );
            let after = observe(&mut c, Duration::from_secs(5));
            assert_eq!(after, closed(), "[{kind}] {name}: attacker connection");
            let v = observe(&mut victim.s, Duration::from_millis(500));
            assert_eq!(v, closed(), "[{kind}] {name}: the victim's connection");
            // The owner reconnects with the right password: same session, ephemeral kept.
            let mut c = tcp(s.addr());
            send(
                &mut c,
                &framed(&connect_body(
                    0,
                    30000,
                    victim.session_id,
                    &victim.passwd,
                    Some(false),
                )),
            );
            let r = match read_frame(&mut c, Instant::now() + Duration::from_secs(10)) {
                Ev::Frame(b) => parse_connect_response(&b),
                other => panic!("[{kind}] {name}: no ConnectResponse on reconnect: {other:?}"),
            };
            assert_eq!(
                r.session_id, victim.session_id,
                "[{kind}] {name}: reconnect {r:?}"
            );
            assert!(r.timeout > 0, "[{kind}] {name}: reconnect {r:?}");
            victim.s = c;
            let (e, _) = victim.call(op::EXISTS, &path_watch_body(&p)).unwrap();
            assert_eq!(e, 0, "[{kind}] {name}: ephemeral after reconnect");
            healthy.check(&mut s, name);
        }
    });
}
