//! A small synchronous raw ZooKeeper client (std::net, one request at a time).
//!
//! It speaks the wire protocol directly: frames, ConnectRequest/Response, RequestHeader /
//! ReplyHeader, and the jute records. Notifications (xid -1) are separated from replies and
//! queued; everything that reads takes a deadline, nothing blocks forever.
//!
//! The jute records are the ones of our server (`zk/src/jute/records.rs`, included by path
//! with a small codec shim below) and the constants are `zk/src/proto.rs`, so the test crate
//! still does not link the `zk` crate: it talks to servers strictly as a separate process.
//! The shim is an independent implementation of the primitive encodings (it does not reuse
//! `zk/src/jute/mod.rs`), so an encoding bug there is not masked here.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

// ------------------------------------------------------------------------------------------
// Jute codec shim (the interface `records.rs` expects from its parent module).
// ------------------------------------------------------------------------------------------

/// A decoding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    BadLength,
    BadUtf8,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for DecodeError {}

/// Decoder result: remaining input and the value.
pub type Res<'a, T> = std::result::Result<(&'a [u8], T), DecodeError>;

/// A jute `buffer`; `None` is the null buffer (length -1).
pub type Buffer = Option<Vec<u8>>;

/// A value with a jute encoding.
pub trait Jute: Sized {
    fn read(i: &[u8]) -> Res<'_, Self>;
    fn write(&self, out: &mut Vec<u8>);
    const MIN_SIZE: usize;

    /// Decodes from the front of `buf`, ignoring trailing bytes (like the Java reader).
    fn decode(buf: &[u8]) -> std::result::Result<Self, DecodeError> {
        Self::read(buf).map(|(_, v)| v)
    }
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }
}

fn take(i: &[u8], n: usize) -> Res<'_, &[u8]> {
    if i.len() < n {
        Err(DecodeError::Truncated)
    } else {
        Ok((&i[n..], &i[..n]))
    }
}

impl Jute for i32 {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (r, b) = take(i, 4)?;
        Ok((r, i32::from_be_bytes(b.try_into().unwrap())))
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Jute for i64 {
    const MIN_SIZE: usize = 8;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (r, b) = take(i, 8)?;
        Ok((r, i64::from_be_bytes(b.try_into().unwrap())))
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Jute for bool {
    const MIN_SIZE: usize = 1;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (r, b) = take(i, 1)?;
        Ok((r, b[0] != 0))
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

fn read_len(i: &[u8]) -> Res<'_, Option<usize>> {
    let (r, n) = i32::read(i)?;
    if n == -1 {
        return Ok((r, None));
    }
    if n < 0 || n as usize > r.len() {
        return Err(DecodeError::BadLength);
    }
    Ok((r, Some(n as usize)))
}

impl Jute for Buffer {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        match read_len(i)? {
            (r, None) => Ok((r, None)),
            (r, Some(n)) => {
                let (r, b) = take(r, n)?;
                Ok((r, Some(b.to_vec())))
            }
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            None => (-1i32).write(out),
            Some(b) => {
                (b.len() as i32).write(out);
                out.extend_from_slice(b);
            }
        }
    }
}

/// `ustring`; null decodes as "".
impl Jute for String {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        match read_len(i)? {
            (r, None) => Ok((r, String::new())),
            (r, Some(n)) => {
                let (r, b) = take(r, n)?;
                let s = std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8)?;
                Ok((r, s.to_owned()))
            }
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        (self.len() as i32).write(out);
        out.extend_from_slice(self.as_bytes());
    }
}

impl<T: Jute> Jute for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn read(i: &[u8]) -> Res<'_, Self> {
        let (mut r, n) = i32::read(i)?;
        if n == -1 {
            return Ok((r, Vec::new()));
        }
        if n < 0 || (n as usize).saturating_mul(T::MIN_SIZE.max(1)) > r.len() {
            return Err(DecodeError::BadLength);
        }
        let mut v = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (rr, x) = T::read(r)?;
            v.push(x);
            r = rr;
        }
        Ok((r, v))
    }
    fn write(&self, out: &mut Vec<u8>) {
        (self.len() as i32).write(out);
        for x in self {
            x.write(out);
        }
    }
}

/// The record macro `records.rs` uses (`crate::jute_record`).
#[doc(hidden)]
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        impl $crate::rawclient::Jute for $name {
            const MIN_SIZE: usize = 0 $(+ <$t as $crate::rawclient::Jute>::MIN_SIZE)*;
            #[allow(unused_variables)]
            fn read(i: &[u8]) -> $crate::rawclient::Res<'_, Self> {
                $(let (i, $f) = <$t as $crate::rawclient::Jute>::read(i)?;)*
                Ok((i, $name { $($f),* }))
            }
            #[allow(unused_variables)]
            fn write(&self, out: &mut Vec<u8>) {
                $($crate::rawclient::Jute::write(&self.$f, out);)*
            }
        }
    };
}

/// The records of `zookeeper.jute`, exactly as our server declares them.
#[allow(unused_imports)]
#[path = "../../zk/src/jute/records.rs"]
pub mod records;
pub use records::*;

/// Opcodes, error codes, event types, permissions (`zk/src/proto.rs`).
#[path = "../../zk/src/proto.rs"]
pub mod proto;
pub use proto::{err, event, op, perm};

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------

/// `world:anyone` with `perms`.
pub fn world_acl(perms: i32) -> Acl {
    acl(perms, "world", "anyone")
}

/// An ACL entry.
pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

/// `OPEN_ACL_UNSAFE`.
pub fn open_acl() -> Vec<Acl> {
    vec![world_acl(perm::ALL)]
}

/// Name of an error code (for messages).
pub fn err_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        -1 => "SystemError",
        -2 => "RuntimeInconsistency",
        -3 => "DataInconsistency",
        -4 => "ConnectionLoss",
        -5 => "MarshallingError",
        -6 => "Unimplemented",
        -7 => "OperationTimeout",
        -8 => "BadArguments",
        -12 => "UnknownSession",
        -13 => "NewConfigNoQuorum",
        -14 => "ReconfigInProgress",
        -100 => "APIError",
        -101 => "NoNode",
        -102 => "NoAuth",
        -103 => "BadVersion",
        -108 => "NoChildrenForEphemerals",
        -110 => "NodeExists",
        -111 => "NotEmpty",
        -112 => "SessionExpired",
        -113 => "InvalidCallback",
        -114 => "InvalidACL",
        -115 => "AuthFailed",
        -118 => "SessionMoved",
        -119 => "NotReadOnly",
        -120 => "EphemeralOnLocalSession",
        -121 => "NoWatcher",
        -122 => "RequestTimeout",
        -123 => "ReconfigDisabled",
        -124 => "SessionClosedRequireSaslAuth",
        -125 => "QuotaExceeded",
        -127 => "ThrottledOp",
        _ => "?",
    }
}

/// Name of a watch event type.
pub fn event_name(t: i32) -> &'static str {
    match t {
        -1 => "None",
        1 => "NodeCreated",
        2 => "NodeDeleted",
        3 => "NodeDataChanged",
        4 => "NodeChildrenChanged",
        5 => "DataWatchRemoved",
        6 => "ChildWatchRemoved",
        7 => "PersistentWatchRemoved",
        _ => "?",
    }
}

// ------------------------------------------------------------------------------------------
// Multi
// ------------------------------------------------------------------------------------------

/// One sub-operation of multi (14) or multiRead (22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19) with a CreateRequest body.
    Create {
        opcode: i32,
        path: String,
        data: Buffer,
        acl: Vec<Acl>,
        flags: i32,
    },
    /// createTTL (21).
    CreateTtl {
        path: String,
        data: Buffer,
        acl: Vec<Acl>,
        flags: i32,
        ttl: i64,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Buffer,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    GetChildren {
        path: String,
    },
    GetData {
        path: String,
    },
}

impl MultiOp {
    pub fn opcode(&self) -> i32 {
        match self {
            MultiOp::Create { opcode, .. } => *opcode,
            MultiOp::CreateTtl { .. } => op::CREATE_TTL,
            MultiOp::Delete { .. } => op::DELETE,
            MultiOp::SetData { .. } => op::SET_DATA,
            MultiOp::Check { .. } => op::CHECK,
            MultiOp::GetChildren { .. } => op::GET_CHILDREN,
            MultiOp::GetData { .. } => op::GET_DATA,
        }
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        match self {
            MultiOp::Create {
                path,
                data,
                acl,
                flags,
                ..
            } => CreateRequest {
                path: path.clone(),
                data: data.clone(),
                acl: acl.clone(),
                flags: *flags,
            }
            .write(out),
            MultiOp::CreateTtl {
                path,
                data,
                acl,
                flags,
                ttl,
            } => CreateTtlRequest {
                path: path.clone(),
                data: data.clone(),
                acl: acl.clone(),
                flags: *flags,
                ttl: *ttl,
            }
            .write(out),
            MultiOp::Delete { path, version } => DeleteRequest {
                path: path.clone(),
                version: *version,
            }
            .write(out),
            MultiOp::SetData {
                path,
                data,
                version,
            } => SetDataRequest {
                path: path.clone(),
                data: data.clone(),
                version: *version,
            }
            .write(out),
            MultiOp::Check { path, version } => CheckVersionRequest {
                path: path.clone(),
                version: *version,
            }
            .write(out),
            MultiOp::GetChildren { path } | MultiOp::GetData { path } => PathWatchRequest {
                path: path.clone(),
                watch: false,
            }
            .write(out),
        }
    }
}

/// Encodes a multi / multiRead request body.
pub fn encode_multi(ops: &[MultiOp]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in ops {
        MultiHeader {
            r#type: o.opcode(),
            done: false,
            err: -1,
        }
        .write(&mut out);
        o.write_body(&mut out);
    }
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
    .write(&mut out);
    out
}

/// One result of a multi / multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Buffer,
        stat: Stat,
    },
    /// ErrorResult: header err and body err (normally equal).
    Error {
        header_err: i32,
        err: i32,
    },
    /// A result type this decoder does not know (type, header err).
    Unknown {
        r#type: i32,
        err: i32,
    },
}

/// Decodes a multi / multiRead reply body.
pub fn decode_multi(mut i: &[u8]) -> std::result::Result<Vec<MultiResult>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let (r, h) = MultiHeader::read(i)?;
        i = r;
        if h.done {
            return Ok(out);
        }
        let res = match h.r#type {
            op::CREATE => {
                let (r, c) = CreateResponse::read(i)?;
                i = r;
                MultiResult::Create { path: c.path }
            }
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                let (r, c) = Create2Response::read(i)?;
                i = r;
                MultiResult::Create2 {
                    path: c.path,
                    stat: c.stat,
                }
            }
            op::DELETE => MultiResult::Delete,
            op::CHECK => MultiResult::Check,
            op::SET_DATA => {
                let (r, s) = StatResponse::read(i)?;
                i = r;
                MultiResult::SetData { stat: s.stat }
            }
            op::GET_CHILDREN => {
                let (r, s) = StringsResponse::read(i)?;
                i = r;
                MultiResult::GetChildren {
                    children: s.strings,
                }
            }
            op::GET_DATA => {
                let (r, s) = GetDataResponse::read(i)?;
                i = r;
                MultiResult::GetData {
                    data: s.data,
                    stat: s.stat,
                }
            }
            -1 => {
                let (r, e) = ErrorResponse::read(i)?;
                i = r;
                MultiResult::Error {
                    header_err: h.err,
                    err: e.err,
                }
            }
            t => {
                // Cannot know the body length of an unknown type: stop here.
                out.push(MultiResult::Unknown {
                    r#type: t,
                    err: h.err,
                });
                return Ok(out);
            }
        };
        out.push(res);
    }
}

// ------------------------------------------------------------------------------------------
// The client
// ------------------------------------------------------------------------------------------

/// A reply frame: header and the raw body (empty when `err != 0` or the op has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn err(&self) -> i32 {
        self.header.err
    }
    /// Decodes the body as `T` if `err == 0`, else returns the error code.
    pub fn typed<T: Jute>(&self) -> Result<std::result::Result<T, i32>> {
        if self.header.err != 0 {
            return Ok(Err(self.header.err));
        }
        T::decode(&self.body)
            .map(Ok)
            .map_err(|e| anyhow!("decoding reply body: {e}"))
    }
    /// `Ok(())` if `err == 0`, else the error code.
    pub fn unit(&self) -> std::result::Result<(), i32> {
        if self.header.err == 0 {
            Ok(())
        } else {
            Err(self.header.err)
        }
    }
}

/// A watch notification (xid -1): the header's zxid and the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub zxid: i64,
    pub event: WatcherEvent,
}

/// One frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Reply(Reply),
    Notification(Notification),
}

/// A transport-level failure.
#[derive(Debug)]
pub enum RecvError {
    /// The server closed the connection (EOF / reset / broken pipe).
    Closed,
    /// Nothing complete arrived before the deadline.
    Timeout,
    /// Any other I/O or framing error.
    Other(anyhow::Error),
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Closed => f.write_str("connection closed by server"),
            RecvError::Timeout => f.write_str("timed out waiting for the server"),
            RecvError::Other(e) => write!(f, "{e:#}"),
        }
    }
}
impl std::error::Error for RecvError {}

fn is_closed_kind(k: io::ErrorKind) -> bool {
    matches!(
        k,
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// Parameters of a ConnectRequest.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub last_zxid_seen: i64,
    /// `Some(b)` sends the trailing readOnly byte (all modern clients do).
    pub read_only: Option<bool>,
}

impl ConnectParams {
    /// A new session with a 16-byte zero password and readOnly=false.
    pub fn new_session(timeout_ms: i32) -> Self {
        ConnectParams {
            timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            last_zxid_seen: 0,
            read_only: Some(false),
        }
    }
    /// Resume an existing session.
    pub fn resume(session_id: i64, passwd: &[u8], timeout_ms: i32, last_zxid_seen: i64) -> Self {
        ConnectParams {
            timeout_ms,
            session_id,
            passwd: passwd.to_vec(),
            last_zxid_seen,
            read_only: Some(false),
        }
    }
}

/// Default deadline for one request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A synchronous raw ZooKeeper connection.
pub struct RawClient {
    stream: TcpStream,
    addr: SocketAddr,
    rbuf: Vec<u8>,
    next_xid: i32,
    /// Notifications received and not yet taken.
    notifications: VecDeque<Notification>,
    closed: bool,
    /// The ConnectResponse that established this connection.
    pub connect_response: ConnectResponse,
    /// Session id and password from the ConnectResponse.
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// Negotiated timeout.
    pub timeout_ms: i32,
    /// Highest zxid seen in a reply header (for resuming; notifications carry -1).
    pub last_zxid: i64,
    /// Deadline for each request.
    pub request_timeout: Duration,
}

impl RawClient {
    /// Connects and creates a new session.
    pub fn connect(addr: SocketAddr, timeout_ms: i32) -> Result<RawClient> {
        let c = Self::connect_with(addr, &ConnectParams::new_session(timeout_ms))?;
        if c.session_id == 0 || c.timeout_ms <= 0 {
            bail!("server refused the new session: {:?}", c.connect_response);
        }
        Ok(c)
    }

    /// Connects with explicit parameters. A refused resume (expired session or bad password:
    /// `timeOut == 0`, `sessionId == 0`) is returned as a client whose `connect_response` says
    /// so; the server closes such connections right after the response.
    pub fn connect_with(addr: SocketAddr, p: &ConnectParams) -> Result<RawClient> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let mut c = RawClient {
            stream,
            addr,
            rbuf: Vec::new(),
            next_xid: 1,
            notifications: VecDeque::new(),
            closed: false,
            connect_response: ConnectResponse::default(),
            session_id: 0,
            passwd: Vec::new(),
            timeout_ms: 0,
            last_zxid: p.last_zxid_seen,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: p.last_zxid_seen,
            time_out: p.timeout_ms,
            session_id: p.session_id,
            passwd: Some(p.passwd.clone()),
            read_only: p.read_only,
        };
        c.send_frame(&req.to_bytes())
            .context("sending ConnectRequest")?;
        let frame = c
            .read_raw_frame(Instant::now() + Duration::from_secs(15))
            .map_err(|e| anyhow!("reading ConnectResponse: {e}"))?;
        let resp = ConnectResponse::decode(&frame)
            .map_err(|e| anyhow!("decoding ConnectResponse: {e}"))?;
        c.session_id = resp.session_id;
        c.passwd = resp.passwd.clone().unwrap_or_default();
        c.timeout_ms = resp.time_out;
        c.connect_response = resp;
        Ok(c)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server has been seen closing this connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Resumes this client's session on a new connection (`last_zxid` as lastZxidSeen).
    pub fn reconnect(&self) -> Result<RawClient> {
        let p = ConnectParams::resume(
            self.session_id,
            &self.passwd,
            self.timeout_ms,
            self.last_zxid,
        );
        Self::connect_with(self.addr, &p)
    }

    /// Drops the TCP connection without closeSession (the session lives on until it expires).
    pub fn drop_connection(mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        self.closed = true;
    }

    /// Allocates the next positive xid.
    pub fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if self.next_xid == i32::MAX {
            1
        } else {
            self.next_xid + 1
        };
        x
    }

    fn send_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(4 + payload.len());
        buf.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        buf.extend_from_slice(payload);
        self.stream.write_all(&buf)
    }

    /// Sends raw bytes as they are (no framing added).
    pub fn send_raw_bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), RecvError> {
        self.stream.write_all(bytes).map_err(|e| self.io_err(e))
    }

    /// Sends one framed request: RequestHeader{xid, opcode} + `body`.
    pub fn send(
        &mut self,
        xid: i32,
        opcode: i32,
        body: &[u8],
    ) -> std::result::Result<(), RecvError> {
        let mut payload = RequestHeader {
            xid,
            r#type: opcode,
        }
        .to_bytes();
        payload.extend_from_slice(body);
        self.send_frame(&payload).map_err(|e| self.io_err(e))
    }

    fn io_err(&mut self, e: io::Error) -> RecvError {
        if is_closed_kind(e.kind()) {
            self.closed = true;
            RecvError::Closed
        } else {
            RecvError::Other(e.into())
        }
    }

    /// Reads one length-prefixed frame payload.
    fn read_raw_frame(&mut self, deadline: Instant) -> std::result::Result<Vec<u8>, RecvError> {
        loop {
            if self.rbuf.len() >= 4 {
                let n = i32::from_be_bytes(self.rbuf[..4].try_into().unwrap());
                if n < 0 || n > 64 * 1024 * 1024 {
                    return Err(RecvError::Other(anyhow!("bad frame length {n}")));
                }
                let n = n as usize;
                if self.rbuf.len() >= 4 + n {
                    let payload = self.rbuf[4..4 + n].to_vec();
                    self.rbuf.drain(..4 + n);
                    return Ok(payload);
                }
            }
            if self.closed {
                return Err(RecvError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvError::Timeout);
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(|e| RecvError::Other(e.into()))?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                    return Err(RecvError::Closed);
                }
                Ok(k) => self.rbuf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
    }

    /// Reads the next frame (reply or notification). Notifications are returned, not queued.
    pub fn read_frame(&mut self, deadline: Instant) -> std::result::Result<Frame, RecvError> {
        let payload = self.read_raw_frame(deadline)?;
        let (rest, header) = ReplyHeader::read(&payload)
            .map_err(|e| RecvError::Other(anyhow!("decoding ReplyHeader: {e}")))?;
        if header.xid == xid_notification() {
            let event = WatcherEvent::decode(rest)
                .map_err(|e| RecvError::Other(anyhow!("decoding WatcherEvent: {e}")))?;
            return Ok(Frame::Notification(Notification {
                zxid: header.zxid,
                event,
            }));
        }
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        Ok(Frame::Reply(Reply {
            header,
            body: rest.to_vec(),
        }))
    }

    /// Reads frames until a reply with `xid` arrives; notifications on the way are queued.
    /// A reply with another xid is an error (replies must come in request order).
    pub fn read_reply(
        &mut self,
        xid: i32,
        deadline: Instant,
    ) -> std::result::Result<Reply, RecvError> {
        loop {
            match self.read_frame(deadline)? {
                Frame::Notification(n) => self.notifications.push_back(n),
                Frame::Reply(r) if r.header.xid == xid => return Ok(r),
                Frame::Reply(r) => {
                    return Err(RecvError::Other(anyhow!(
                        "reply out of order: expected xid {xid}, got {:?}",
                        r.header
                    )))
                }
            }
        }
    }

    /// Sends a request with an explicit xid and waits for its reply.
    pub fn call_xid(
        &mut self,
        xid: i32,
        opcode: i32,
        body: &[u8],
    ) -> std::result::Result<Reply, RecvError> {
        self.send(xid, opcode, body)?;
        let deadline = Instant::now() + self.request_timeout;
        self.read_reply(xid, deadline)
    }

    /// Sends a request with the next xid and waits for its reply.
    pub fn call(&mut self, opcode: i32, body: &[u8]) -> std::result::Result<Reply, RecvError> {
        let xid = self.next_xid();
        self.call_xid(xid, opcode, body)
    }

    fn req(&mut self, opcode: i32, body: Vec<u8>) -> Result<Reply> {
        self.call(opcode, &body)
            .map_err(|e| anyhow!("opcode {opcode}: {e}"))
    }

    /// Takes all queued notifications.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.notifications.drain(..).collect()
    }

    /// Queued notifications (not taken).
    pub fn pending_notifications(&self) -> &VecDeque<Notification> {
        &self.notifications
    }

    /// Waits until at least `n` notifications are queued or the deadline passes; returns them
    /// all (taken).
    pub fn wait_notifications(&mut self, n: usize, timeout: Duration) -> Result<Vec<Notification>> {
        let deadline = Instant::now() + timeout;
        while self.notifications.len() < n {
            match self.read_frame(deadline) {
                Ok(Frame::Notification(x)) => self.notifications.push_back(x),
                Ok(Frame::Reply(r)) => bail!(
                    "unexpected reply while waiting for notifications: {:?}",
                    r.header
                ),
                Err(RecvError::Timeout) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.take_notifications())
    }

    /// Waits until the server closes the connection: `Ok(true)` when it did, `Ok(false)` when
    /// the deadline passed first. Notifications are queued; a reply is an error.
    pub fn wait_for_close(&mut self, deadline: Instant) -> std::result::Result<bool, RecvError> {
        loop {
            match self.read_frame(deadline) {
                Ok(Frame::Notification(n)) => self.notifications.push_back(n),
                Ok(Frame::Reply(r)) => {
                    return Err(RecvError::Other(anyhow!(
                        "unexpected reply while waiting for close: {:?}",
                        r.header
                    )))
                }
                Err(RecvError::Closed) => return Ok(true),
                Err(RecvError::Timeout) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    // ---- typed helpers: Ok(Ok(body)) on success, Ok(Err(code)) on a ZooKeeper error ----

    pub fn create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        flags: i32,
    ) -> Result<std::result::Result<String, i32>> {
        let r = self.req(op::CREATE, create_body(path, data, acl, flags))?;
        Ok(r.typed::<CreateResponse>()?.map(|c| c.path))
    }

    pub fn create2(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        flags: i32,
    ) -> Result<std::result::Result<Create2Response, i32>> {
        self.req(op::CREATE2, create_body(path, data, acl, flags))?
            .typed()
    }

    /// createContainer (19); flags should be 4 (CONTAINER).
    pub fn create_container(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
    ) -> Result<std::result::Result<Create2Response, i32>> {
        self.req(op::CREATE_CONTAINER, create_body(path, data, acl, 4))?
            .typed()
    }

    /// createTTL (21); flags 5 (PERSISTENT_WITH_TTL) or 6 (PERSISTENT_SEQUENTIAL_WITH_TTL).
    pub fn create_ttl(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        flags: i32,
        ttl: i64,
    ) -> Result<std::result::Result<Create2Response, i32>> {
        let body = CreateTtlRequest {
            path: path.into(),
            data: data.map(|d| d.to_vec()),
            acl: acl.to_vec(),
            flags,
            ttl,
        }
        .to_bytes();
        self.req(op::CREATE_TTL, body)?.typed()
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Result<std::result::Result<(), i32>> {
        Ok(self
            .req(
                op::DELETE,
                DeleteRequest {
                    path: path.into(),
                    version,
                }
                .to_bytes(),
            )?
            .unit())
    }

    pub fn exists(&mut self, path: &str, watch: bool) -> Result<std::result::Result<Stat, i32>> {
        let r = self.req(
            op::EXISTS,
            PathWatchRequest {
                path: path.into(),
                watch,
            }
            .to_bytes(),
        )?;
        Ok(r.typed::<StatResponse>()?.map(|s| s.stat))
    }

    pub fn get_data(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<std::result::Result<GetDataResponse, i32>> {
        self.req(
            op::GET_DATA,
            PathWatchRequest {
                path: path.into(),
                watch,
            }
            .to_bytes(),
        )?
        .typed()
    }

    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
    ) -> Result<std::result::Result<Stat, i32>> {
        let body = SetDataRequest {
            path: path.into(),
            data: data.map(|d| d.to_vec()),
            version,
        }
        .to_bytes();
        Ok(self
            .req(op::SET_DATA, body)?
            .typed::<StatResponse>()?
            .map(|s| s.stat))
    }

    pub fn get_acl(&mut self, path: &str) -> Result<std::result::Result<GetAclResponse, i32>> {
        self.req(op::GET_ACL, PathRequest { path: path.into() }.to_bytes())?
            .typed()
    }

    pub fn set_acl(
        &mut self,
        path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<std::result::Result<Stat, i32>> {
        let body = SetAclRequest {
            path: path.into(),
            acl: acl.to_vec(),
            version,
        }
        .to_bytes();
        Ok(self
            .req(op::SET_ACL, body)?
            .typed::<StatResponse>()?
            .map(|s| s.stat))
    }

    pub fn get_children(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<std::result::Result<Vec<String>, i32>> {
        let r = self.req(
            op::GET_CHILDREN,
            PathWatchRequest {
                path: path.into(),
                watch,
            }
            .to_bytes(),
        )?;
        Ok(r.typed::<StringsResponse>()?.map(|s| s.strings))
    }

    pub fn get_children2(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<std::result::Result<GetChildren2Response, i32>> {
        self.req(
            op::GET_CHILDREN2,
            PathWatchRequest {
                path: path.into(),
                watch,
            }
            .to_bytes(),
        )?
        .typed()
    }

    pub fn sync(&mut self, path: &str) -> Result<std::result::Result<String, i32>> {
        let r = self.req(op::SYNC, PathRequest { path: path.into() }.to_bytes())?;
        Ok(r.typed::<SyncResponse>()?.map(|s| s.path))
    }

    /// check (13) sent standalone: Apache answers Unimplemented and closes the connection.
    pub fn check_standalone(
        &mut self,
        path: &str,
        version: i32,
    ) -> std::result::Result<Reply, RecvError> {
        self.call(
            op::CHECK,
            &CheckVersionRequest {
                path: path.into(),
                version,
            }
            .to_bytes(),
        )
    }

    /// multi (14). The header err is 0 even when a sub-op failed; see the results.
    pub fn multi(&mut self, ops: &[MultiOp]) -> Result<std::result::Result<Vec<MultiResult>, i32>> {
        let r = self.req(op::MULTI, encode_multi(ops))?;
        if r.header.err != 0 {
            return Ok(Err(r.header.err));
        }
        Ok(Ok(
            decode_multi(&r.body).map_err(|e| anyhow!("decoding multi reply: {e}"))?
        ))
    }

    /// multiRead (22).
    pub fn multi_read(
        &mut self,
        ops: &[MultiOp],
    ) -> Result<std::result::Result<Vec<MultiResult>, i32>> {
        let r = self.req(op::MULTI_READ, encode_multi(ops))?;
        if r.header.err != 0 {
            return Ok(Err(r.header.err));
        }
        Ok(Ok(
            decode_multi(&r.body).map_err(|e| anyhow!("decoding multiRead reply: {e}"))?
        ))
    }

    pub fn get_all_children_number(&mut self, path: &str) -> Result<std::result::Result<i32, i32>> {
        let r = self.req(
            op::GET_ALL_CHILDREN_NUMBER,
            PathRequest { path: path.into() }.to_bytes(),
        )?;
        Ok(r.typed::<GetAllChildrenNumberResponse>()?
            .map(|n| n.total_number))
    }

    pub fn get_ephemerals(
        &mut self,
        prefix: &str,
    ) -> Result<std::result::Result<Vec<String>, i32>> {
        let r = self.req(
            op::GET_EPHEMERALS,
            PathRequest {
                path: prefix.into(),
            }
            .to_bytes(),
        )?;
        Ok(r.typed::<StringsResponse>()?.map(|s| s.strings))
    }

    /// addWatch (106); mode 0 = PERSISTENT, 1 = PERSISTENT_RECURSIVE.
    pub fn add_watch(&mut self, path: &str, mode: i32) -> Result<std::result::Result<(), i32>> {
        Ok(self
            .req(
                op::ADD_WATCH,
                AddWatchRequest {
                    path: path.into(),
                    mode,
                }
                .to_bytes(),
            )?
            .unit())
    }

    /// removeWatches (18); type 1 = children, 2 = data, 3 = any.
    pub fn remove_watches(
        &mut self,
        path: &str,
        r#type: i32,
    ) -> Result<std::result::Result<(), i32>> {
        Ok(self
            .req(
                op::REMOVE_WATCHES,
                WatchesRequest {
                    path: path.into(),
                    r#type,
                }
                .to_bytes(),
            )?
            .unit())
    }

    /// checkWatches (17).
    pub fn check_watches(
        &mut self,
        path: &str,
        r#type: i32,
    ) -> Result<std::result::Result<(), i32>> {
        Ok(self
            .req(
                op::CHECK_WATCHES,
                WatchesRequest {
                    path: path.into(),
                    r#type,
                }
                .to_bytes(),
            )?
            .unit())
    }

    /// setWatches (101).
    pub fn set_watches(&mut self, w: &SetWatches) -> Result<std::result::Result<(), i32>> {
        Ok(self.req(op::SET_WATCHES, w.to_bytes())?.unit())
    }

    /// setWatches2 (105).
    pub fn set_watches2(&mut self, w: &SetWatches2) -> Result<std::result::Result<(), i32>> {
        Ok(self.req(op::SET_WATCHES2, w.to_bytes())?.unit())
    }

    /// auth (100, xid -4). On failure the server replies AuthFailed and closes the connection.
    pub fn auth(&mut self, scheme: &str, auth: &[u8]) -> Result<std::result::Result<(), i32>> {
        let body = AuthPacket {
            r#type: 0,
            scheme: scheme.into(),
            auth: Some(auth.to_vec()),
        }
        .to_bytes();
        let r = self
            .call_xid(xid_auth(), op::AUTH, &body)
            .map_err(|e| anyhow!("auth: {e}"))?;
        Ok(r.unit())
    }

    /// `addauth digest user:password`.
    pub fn auth_digest(&mut self, user_password: &str) -> Result<std::result::Result<(), i32>> {
        self.auth("digest", user_password.as_bytes())
    }

    /// whoAmI (107).
    pub fn who_am_i(&mut self) -> Result<std::result::Result<Vec<ClientInfo>, i32>> {
        let r = self.req(op::WHO_AM_I, Vec::new())?;
        Ok(r.typed::<WhoAmIResponse>()?.map(|w| w.client_info))
    }

    /// ping (11, xid -2); returns the reply header (zxid = server's last processed zxid).
    pub fn ping(&mut self) -> Result<ReplyHeader> {
        let r = self
            .call_xid(xid_ping(), op::PING, &[])
            .map_err(|e| anyhow!("ping: {e}"))?;
        Ok(r.header)
    }

    /// closeSession (-11): waits for the reply; the server then closes the connection.
    pub fn close_session(&mut self) -> Result<ReplyHeader> {
        let r = self
            .call(op::CLOSE_SESSION, &[])
            .map_err(|e| anyhow!("closeSession: {e}"))?;
        Ok(r.header)
    }
}

fn create_body(path: &str, data: Option<&[u8]>, acl: &[Acl], flags: i32) -> Vec<u8> {
    CreateRequest {
        path: path.into(),
        data: data.map(|d| d.to_vec()),
        acl: acl.to_vec(),
        flags,
    }
    .to_bytes()
}

fn xid_notification() -> i32 {
    proto::xid::NOTIFICATION
}
fn xid_ping() -> i32 {
    proto::xid::PING
}
fn xid_auth() -> i32 {
    proto::xid::AUTH
}

#[cfg(test)]
mod shim_tests {
    use super::*;

    #[test]
    fn multi_roundtrip_encoding() {
        let ops = vec![
            MultiOp::Create {
                opcode: op::CREATE,
                path: "/a".into(),
                data: None,
                acl: open_acl(),
                flags: 0,
            },
            MultiOp::Check {
                path: "/a".into(),
                version: 3,
            },
        ];
        let b = encode_multi(&ops);
        // header(9) + create(4+2 + 4 + 4+(4+4+5+4+6) + 4) + header(9) + check(4+2+4) + end(9)
        assert_eq!(&b[..4], &1i32.to_be_bytes());
        assert_eq!(
            &b[b.len() - 9..],
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]
        );
        let mut reply = Vec::new();
        MultiHeader {
            r#type: 1,
            done: false,
            err: 0,
        }
        .write(&mut reply);
        CreateResponse { path: "/a".into() }.write(&mut reply);
        MultiHeader {
            r#type: -1,
            done: false,
            err: -101,
        }
        .write(&mut reply);
        ErrorResponse { err: -101 }.write(&mut reply);
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(&mut reply);
        assert_eq!(
            decode_multi(&reply).unwrap(),
            vec![
                MultiResult::Create { path: "/a".into() },
                MultiResult::Error {
                    header_err: -101,
                    err: -101
                }
            ]
        );
    }
}
