//! Election-port wire formats, without I/O: the connection's initial message, the `int len`
//! framing, the Fast Leader Election notification, and the QuorumMaj config text that rides
//! inside a notification.
//!
//! Byte-compatible with Apache ZooKeeper 3.8 (`QuorumCnxManager`, `FastLeaderElection`,
//! `QuorumMaj`, `QuorumPeer.QuorumServer`); see the spec, §14.1 and §14.2.
//!
//! ```
//! use zk::quorum::election_wire::*;
//! let config = QuorumConfig::parse("server.3=127.0.0.1:2888:3888:participant\nversion=0").unwrap();
//! let text = config.to_text();
//! let n = Notification::new(ServerState::Looking, 3, 0x1_0000_0005, 7, 1);
//! let bytes = n.encode(text.as_bytes());
//! assert_eq!(bytes.len(), 44 + text.len());
//! let back = Notification::decode(&bytes).unwrap();
//! assert_eq!((back.leader, back.zxid, back.election_epoch), (3, 0x1_0000_0005, 7));
//! assert_eq!(QuorumConfig::parse(std::str::from_utf8(&back.config.unwrap()).unwrap()).unwrap(), config);
//! ```
//!
//! Every decoder checks a length against the bytes present before allocating, returns
//! `Ok(None)` when a stream decoder simply needs more bytes, and never panics on garbage.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Initial-message protocol version sent by 3.5+ (`PROTOCOL_VERSION_V1`): one address.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// Initial-message protocol version of 3.6+ with `multiAddress.enabled` (`|`-joined addresses).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// Largest address string accepted in an initial message (`QuorumCnxManager.maxBuffer`).
pub const MAX_INITIAL_ADDR_LEN: usize = 2048;
/// Largest election frame payload accepted (`QuorumCnxManager.PACKETMAXSIZE`, 512 KB).
pub const PACKET_MAX_SIZE: usize = 512 * 1024;
/// The sid an id-less observer announces (`QuorumPeer.OBSERVER_ID`, Long.MAX_VALUE).
pub const OBSERVER_ID: i64 = i64::MAX;
/// Notification format version written by 3.5+ (`Notification.CURRENTVERSION`).
pub const NOTIFICATION_VERSION: i32 = 2;
/// Size of a notification without its config bytes.
pub const NOTIFICATION_HEADER_LEN: usize = 44;

/// Why a message could not be decoded. The caller closes the connection (initial message,
/// framing) or drops the message (notification), as the Java server does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A frame length outside `1..=PACKET_MAX_SIZE`.
    #[error("invalid election frame length {0}")]
    BadFrameLength(i32),
    /// A negative first long that is neither V1 nor V2.
    #[error("unrecognized initial-message protocol version {0}")]
    BadProtocolVersion(i64),
    /// The initial message's address length is outside `1..=2048`.
    #[error("unreasonable initial-message address length {0}")]
    BadAddressLength(i32),
    /// An address in the initial message is not `host:port` (or `[v6]:port`).
    #[error("badly formed election address {0:?}")]
    BadAddress(String),
    /// A notification shorter than 28 bytes, or one whose fields overrun it.
    #[error("short or partial notification ({0} bytes)")]
    ShortNotification(usize),
    /// A notification config length that is negative or larger than the message.
    #[error("invalid notification config length {0}")]
    BadConfigLength(i32),
    /// A notification whose state is not 0..=3 (the Java receiver drops these).
    #[error("unknown server state {0}")]
    UnknownState(i32),
    /// A config text line that is not `server.N=…` or `version=…`.
    #[error("bad quorum config: {0}")]
    BadConfig(String),
}

// ---------------------------------------------------------------------------------------------
// Framing

/// Appends one election frame: `int len` + payload.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Checks whether `buf` starts with one whole frame. Returns the payload and the number of
/// bytes the frame occupies, `Ok(None)` if more bytes are needed, or an error for a length
/// outside `1..=512 KB` (the Java receiver then closes the connection).
pub fn decode_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, WireError> {
    let Some(len) = read_i32(buf, 0) else {
        return Ok(None);
    };
    let n = check_frame_len(len)?;
    if buf.len() < 4 + n {
        return Ok(None);
    }
    Ok(Some((&buf[4..4 + n], 4 + n)))
}

/// Validates a frame length read from the wire: `0 < len ≤ PACKET_MAX_SIZE`.
pub fn check_frame_len(len: i32) -> Result<usize, WireError> {
    if len <= 0 || len as usize > PACKET_MAX_SIZE {
        return Err(WireError::BadFrameLength(len));
    }
    Ok(len as usize)
}

// ---------------------------------------------------------------------------------------------
// Initial message

/// The first bytes on an election connection, sent by the dialing side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialMessage {
    /// Pre-3.4 form: a bare non-negative sid (8 bytes), no address.
    BareSid(i64),
    /// `long V1; long sid; int n; n bytes "host:port"`.
    V1 { sid: i64, addr: String },
    /// `long V2; long sid; int n; n bytes "host:port|host:port…"` (IPv6 hosts in brackets).
    V2 { sid: i64, addrs: Vec<String> },
}

impl InitialMessage {
    /// The sender's server id.
    pub fn sid(&self) -> i64 {
        match self {
            InitialMessage::BareSid(s) => *s,
            InitialMessage::V1 { sid, .. } | InitialMessage::V2 { sid, .. } => *sid,
        }
    }

    /// The election addresses announced, as `host:port` strings.
    pub fn addrs(&self) -> Vec<String> {
        match self {
            InitialMessage::BareSid(_) => Vec::new(),
            InitialMessage::V1 { addr, .. } => java_split(addr, '|'),
            InitialMessage::V2 { addrs, .. } => addrs.clone(),
        }
    }

    /// Encodes the message exactly as `QuorumCnxManager.startConnection` writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let (ver, sid, text) = match self {
            InitialMessage::BareSid(s) => {
                out.extend_from_slice(&s.to_be_bytes());
                return out;
            }
            InitialMessage::V1 { sid, addr } => (PROTOCOL_VERSION_V1, *sid, addr.clone()),
            InitialMessage::V2 { sid, addrs } => (PROTOCOL_VERSION_V2, *sid, addrs.join("|")),
        };
        out.extend_from_slice(&ver.to_be_bytes());
        out.extend_from_slice(&sid.to_be_bytes());
        out.extend_from_slice(&(text.len() as i32).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// Decodes an initial message from the front of a stream. `Ok(None)`: need more bytes.
    /// Mirrors `QuorumCnxManager.handleConnection` + `InitialMessage.parse`: a first long ≥ 0
    /// is a bare sid; otherwise it must be V1 or V2, the address length must be in
    /// `1..=2048`, and every `|`-separated address must be `host:port` with a numeric port.
    pub fn decode(buf: &[u8]) -> Result<Option<(InitialMessage, usize)>, WireError> {
        let Some(first) = read_i64(buf, 0) else {
            return Ok(None);
        };
        if first >= 0 {
            return Ok(Some((InitialMessage::BareSid(first), 8)));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(WireError::BadProtocolVersion(first));
        }
        let Some(sid) = read_i64(buf, 8) else {
            return Ok(None);
        };
        let Some(n) = read_i32(buf, 16) else {
            return Ok(None);
        };
        if n <= 0 || n as usize > MAX_INITIAL_ADDR_LEN {
            return Err(WireError::BadAddressLength(n));
        }
        let n = n as usize;
        if buf.len() < 20 + n {
            return Ok(None);
        }
        // Java decodes with `new String(b, UTF_8)`, which replaces invalid sequences.
        let text = String::from_utf8_lossy(&buf[20..20 + n]).into_owned();
        let addrs: Vec<String> = java_split(&text, '|');
        for a in &addrs {
            parse_host_port(a)?;
        }
        let msg = if first == PROTOCOL_VERSION_V1 {
            // A V1 sender writes one address; Java splits on '|' for both versions, so a
            // V1 text with several is accepted too (see `addrs`).
            InitialMessage::V1 { sid, addr: text }
        } else {
            InitialMessage::V2 { sid, addrs }
        };
        Ok(Some((msg, 20 + n)))
    }
}

/// `String.split` semantics: trailing empty strings are removed (but "" splits to [""]).
fn java_split(s: &str, sep: char) -> Vec<String> {
    let mut parts: Vec<String> = s.split(sep).map(str::to_owned).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Splits `host:port` or `[v6]:port` the way `ConfigUtils.getHostAndPort` + `InitialMessage.parse`
/// do, and checks the port is a number in 0..=65535.
pub fn parse_host_port(s: &str) -> Result<(String, u16), WireError> {
    let bad = || WireError::BadAddress(s.to_owned());
    let parts = host_and_port_parts(s).ok_or_else(bad)?;
    if parts.len() != 2 {
        return Err(bad());
    }
    let port: u16 = parse_java_int(&parts[1])
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(bad)?;
    Ok((parts[0].clone(), port))
}

/// `ConfigUtils.getHostAndPort`: `[host]:a:b` → [host, a, b]; otherwise split on ':'.
fn host_and_port_parts(s: &str) -> Option<Vec<String>> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        // Java: `i + 2 == len` means "[h]:" with no port; `]` must be followed by ':'.
        if after.is_empty() {
            return Some(vec![host.to_owned()]);
        }
        let tail = after.get(1..)?;
        if tail.is_empty() {
            return None;
        }
        let mut v = vec![host.to_owned()];
        v.extend(java_split(tail, ':'));
        Some(v)
    } else {
        Some(java_split(s, ':'))
    }
}

/// `Integer.parseInt`: optional sign, ASCII digits, within i32.
fn parse_java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Notification

/// `QuorumPeer.ServerState`; the wire value is the ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl ServerState {
    /// The ordinal written on the wire.
    pub fn to_i32(self) -> i32 {
        self as i32
    }

    /// Decodes an ordinal; anything but 0..=3 is unknown.
    pub fn from_i32(v: i32) -> Option<ServerState> {
        match v {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }

    /// The upper-case name Java logs (`LOOKING`, …).
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
            ServerState::Observing => "OBSERVING",
        }
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One FLE notification (the payload of one election frame).
///
/// All numeric fields are Java `long`s: non-voters propose `i64::MIN` for leader, zxid and
/// peer epoch, and comparisons are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// State of the sender.
    pub state: ServerState,
    /// Proposed leader's sid.
    pub leader: i64,
    /// Proposed leader's last logged zxid.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// Proposed leader's current epoch.
    pub peer_epoch: i64,
    /// Format version: 2 for 3.5+, 0 for the 28- and 40-byte legacy forms (the Java receiver
    /// never reads the version int of a 40-byte message, so it stays 0).
    pub version: i32,
    /// Config text bytes (present when `version > 1`). Java decodes them leniently and only
    /// acts on them for reconfig, so they are kept raw.
    pub config: Option<Vec<u8>>,
}

impl Notification {
    /// A version-2 notification without config bytes (`encode` adds them).
    pub fn new(
        state: ServerState,
        leader: i64,
        zxid: i64,
        election_epoch: i64,
        peer_epoch: i64,
    ) -> Notification {
        Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version: NOTIFICATION_VERSION,
            config: None,
        }
    }

    /// Encodes like `FastLeaderElection.buildMsg` (44 + config bytes). `version` and the
    /// `config` field are ignored: 3.8 always writes version 2 and the caller's config text.
    pub fn encode(&self, config: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(NOTIFICATION_HEADER_LEN + config.len());
        out.extend_from_slice(&self.state.to_i32().to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.election_epoch.to_be_bytes());
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out.extend_from_slice(&NOTIFICATION_VERSION.to_be_bytes());
        out.extend_from_slice(&(config.len() as i32).to_be_bytes());
        out.extend_from_slice(config);
        out
    }

    /// Encodes the 40-byte 3.4.6 form (peer epoch, version 1, no config).
    pub fn encode_v1(&self) -> Vec<u8> {
        let mut out = self.encode_legacy28();
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        out
    }

    /// Encodes the 28-byte pre-3.4.6 form (no peer epoch).
    pub fn encode_legacy28(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(&self.state.to_i32().to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.election_epoch.to_be_bytes());
        out
    }

    /// Decodes one notification payload the way `WorkerReceiver` does:
    /// - fewer than 28 bytes: rejected;
    /// - exactly 28: no peer epoch (taken from `zxid >> 32`), version 0;
    /// - exactly 40: peer epoch, version 0 (the trailing int is not read);
    /// - otherwise: peer epoch and version; when `version > 1`, `int configLen` (0 ≤ len ≤
    ///   message size) and the config bytes follow. Trailing bytes are ignored.
    ///
    /// An unknown state is reported as `UnknownState` after the rest decoded; Java drops
    /// such a message (after replying to a non-voter sender, see `decode_raw`).
    pub fn decode(buf: &[u8]) -> Result<Notification, WireError> {
        let (state, n) = Self::decode_raw(buf)?;
        match ServerState::from_i32(state) {
            Some(s) => Ok(Notification { state: s, ..n }),
            None => Err(WireError::UnknownState(state)),
        }
    }

    /// Like `decode`, but returns the raw state int (the `state` field of the returned
    /// notification is then `Looking` as a placeholder) so a caller can still answer a
    /// non-voting sender, as `WorkerReceiver` does before it looks at the state.
    pub fn decode_raw(buf: &[u8]) -> Result<(i32, Notification), WireError> {
        let cap = buf.len();
        let short = || WireError::ShortNotification(cap);
        if cap < 28 {
            return Err(short());
        }
        let state = read_i32(buf, 0).ok_or_else(short)?;
        let leader = read_i64(buf, 4).ok_or_else(short)?;
        let zxid = read_i64(buf, 12).ok_or_else(short)?;
        let election_epoch = read_i64(buf, 20).ok_or_else(short)?;
        let mut version = 0;
        let mut config = None;
        let peer_epoch = if cap == 28 {
            zxid >> 32
        } else {
            let pe = read_i64(buf, 28).ok_or_else(short)?;
            if cap != 40 {
                version = read_i32(buf, 36).ok_or_else(short)?;
            }
            pe
        };
        if version > 1 {
            let len = read_i32(buf, 40).ok_or_else(short)?;
            if len < 0 || len as usize > cap {
                return Err(WireError::BadConfigLength(len));
            }
            let bytes = buf.get(44..44 + len as usize).ok_or_else(short)?;
            config = Some(bytes.to_vec());
        }
        Ok((
            state,
            Notification {
                state: ServerState::Looking,
                leader,
                zxid,
                election_epoch,
                peer_epoch,
                version,
                config,
            },
        ))
    }
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(b.try_into().ok()?))
}

fn read_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    Some(i64::from_be_bytes(b.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// QuorumMaj config text

/// Voting role of a server (`QuorumPeer.LearnerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerType {
    Participant,
    Observer,
}

/// One address triple of a `server.N` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
}

/// One `server.N=` entry (`QuorumPeer.QuorumServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    /// Usually one; several (`|`-joined) only with multiAddress.enabled.
    pub addrs: Vec<ServerAddr>,
    pub learner_type: LearnerType,
    /// `;clientHost:clientPort`, written only when it came from the dynamic part.
    pub client: Option<(String, u16)>,
}

/// A majority-quorum configuration (`QuorumMaj`): the servers and the config version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConfig {
    pub servers: BTreeMap<u64, QuorumServer>,
    pub version: u64,
}

/// IPv6 literals are written in brackets (`QuorumServer.delimitedHostString`).
fn delimited_host(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_owned()
    }
}

impl std::fmt::Display for QuorumServer {
    /// `host:qport:eport[|host:qport:eport…]:participant|observer[;clientHost:clientPort]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| {
                format!(
                    "{}:{}:{}",
                    delimited_host(&a.host),
                    a.quorum_port,
                    a.election_port
                )
            })
            .collect();
        f.write_str(&addrs.join("|"))?;
        f.write_str(match self.learner_type {
            LearnerType::Participant => ":participant",
            LearnerType::Observer => ":observer",
        })?;
        if let Some((h, p)) = &self.client {
            write!(f, ";{}:{}", delimited_host(h), p)?;
        }
        Ok(())
    }
}

impl QuorumConfig {
    /// The ids that vote (participants).
    pub fn voters(&self) -> std::collections::BTreeSet<u64> {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Participant)
            .map(|s| s.id)
            .collect()
    }

    /// The observers' ids.
    pub fn observers(&self) -> std::collections::BTreeSet<u64> {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Observer)
            .map(|s| s.id)
            .collect()
    }

    /// `QuorumMaj.containsQuorum`: more than half of the voters, counting only voters.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a u64>) -> bool {
        let voters = self.voters();
        let n = acks.into_iter().filter(|id| voters.contains(id)).count();
        n > voters.len() / 2
    }

    /// `QuorumMaj.toString`: one `server.N=…` line per server, then `version=<hex>` with no
    /// trailing newline. Java iterates a HashMap, which for small ids is ascending order;
    /// receivers parse the text as properties, so the order carries no meaning.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for srv in self.servers.values() {
            let _ = writeln!(s, "server.{}={}", srv.id, srv);
        }
        let _ = write!(s, "version={:x}", self.version);
        s
    }

    /// Parses config text as `QuorumPeer.configFromString` does (Java properties restricted to
    /// `server.N` and `version` keys; a later duplicate key wins; `#`/`!` comments and blank
    /// lines are skipped). Line continuations and `:`/space separators of full Java properties
    /// are not supported.
    pub fn parse(text: &str) -> Result<QuorumConfig, WireError> {
        let bad = |m: String| WireError::BadConfig(m);
        let mut cfg = QuorumConfig::default();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("no '=' in {line:?}")))?;
            let (k, v) = (k.trim(), v.trim_start());
            if let Some(id) = k.strip_prefix("server.") {
                let id: u64 = id
                    .parse()
                    .map_err(|_| bad(format!("bad server id in {k:?}")))?;
                let srv = parse_server(id, v).map_err(bad)?;
                cfg.servers.insert(id, srv);
            } else if k == "version" {
                cfg.version = u64::from_str_radix(v.trim_end(), 16)
                    .map_err(|_| bad(format!("bad version {v:?}")))?;
            } else if k.starts_with("group") || k.starts_with("weight") {
                return Err(bad(format!("hierarchical quorums are not supported ({k})")));
            } else {
                return Err(bad(format!("unrecognised parameter {k:?}")));
            }
        }
        Ok(cfg)
    }
}

/// Parses the value of a `server.N=` line (`QuorumServer.initializeWithAddressString`).
fn parse_server(id: u64, v: &str) -> Result<QuorumServer, String> {
    let parts: Vec<&str> = v.split(';').collect();
    if parts.len() > 2 {
        return Err(format!("{v:?}: more than one ';'"));
    }
    let client = match parts.get(1) {
        None => None,
        Some(c) => {
            let cp = host_and_port_parts(c).ok_or_else(|| format!("bad client address {c:?}"))?;
            let port = |p: &str| {
                parse_java_int(p)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| format!("bad client port {p:?}"))
            };
            match cp.as_slice() {
                [p] => Some(("0.0.0.0".to_owned(), port(p)?)),
                [h, p] => Some((h.clone(), port(p)?)),
                _ => return Err(format!("bad client address {c:?}")),
            }
        }
    };
    let mut addrs = Vec::new();
    let mut learner_type = None;
    for a in parts[0].split('|') {
        let sp = host_and_port_parts(a).ok_or_else(|| format!("bad server address {a:?}"))?;
        if sp.len() < 3 || sp.len() > 4 {
            return Err(format!("{a:?} is not host:port:port[:type]"));
        }
        let port = |p: &str| {
            parse_java_int(p)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("bad port {p:?}"))
        };
        let (qp, ep) = (port(&sp[1])?, port(&sp[2])?);
        if qp == ep {
            return Err(format!("{a:?}: quorum and election ports must differ"));
        }
        if let Some(t) = sp.get(3) {
            let t = match t.trim().to_ascii_lowercase().as_str() {
                "participant" => LearnerType::Participant,
                "observer" => LearnerType::Observer,
                other => return Err(format!("unrecognised peer type {other:?}")),
            };
            if learner_type.is_some_and(|l| l != t) {
                return Err("multiple addresses with different roles".to_owned());
            }
            learner_type = Some(t);
        }
        addrs.push(ServerAddr {
            host: sp[0].clone(),
            quorum_port: qp,
            election_port: ep,
        });
    }
    Ok(QuorumServer {
        id,
        addrs,
        learner_type: learner_type.unwrap_or(LearnerType::Participant),
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg3() -> QuorumConfig {
        let mut c = QuorumConfig {
            version: 0x100000000,
            ..Default::default()
        };
        for id in 1..=3u64 {
            c.servers.insert(
                id,
                QuorumServer {
                    id,
                    addrs: vec![ServerAddr {
                        host: "127.0.0.1".into(),
                        quorum_port: 2887 + id as u16,
                        election_port: 3887 + id as u16,
                    }],
                    learner_type: if id == 3 {
                        LearnerType::Observer
                    } else {
                        LearnerType::Participant
                    },
                    client: (id == 1).then(|| ("0.0.0.0".to_owned(), 2181)),
                },
            );
        }
        c
    }

    #[test]
    fn frame_bounds() {
        let mut out = Vec::new();
        encode_frame(b"abc", &mut out);
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(decode_frame(&out).unwrap(), Some((&b"abc"[..], 7)));
        assert_eq!(decode_frame(&out[..6]).unwrap(), None);
        assert_eq!(decode_frame(&out[..3]).unwrap(), None);
        assert_eq!(
            decode_frame(&[0, 0, 0, 0]),
            Err(WireError::BadFrameLength(0))
        );
        assert_eq!(
            decode_frame(&(-5i32).to_be_bytes()),
            Err(WireError::BadFrameLength(-5))
        );
        let max = (PACKET_MAX_SIZE as i32).to_be_bytes();
        assert_eq!(decode_frame(&max).unwrap(), None);
        let over = (PACKET_MAX_SIZE as i32 + 1).to_be_bytes();
        assert!(decode_frame(&over).is_err());
    }

    #[test]
    fn initial_message_v1_bytes() {
        let m = InitialMessage::V1 {
            sid: 3,
            addr: "127.0.0.1:3890".into(),
        };
        let b = m.encode();
        let mut want = Vec::new();
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        want.extend_from_slice(&3i64.to_be_bytes());
        want.extend_from_slice(&14i32.to_be_bytes());
        want.extend_from_slice(b"127.0.0.1:3890");
        assert_eq!(b, want);
        assert_eq!(InitialMessage::decode(&b).unwrap(), Some((m, b.len())));
        for cut in 0..b.len() {
            assert_eq!(
                InitialMessage::decode(&b[..cut]).unwrap(),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn initial_message_forms() {
        let bare = InitialMessage::BareSid(7).encode();
        assert_eq!(
            InitialMessage::decode(&bare).unwrap(),
            Some((InitialMessage::BareSid(7), 8))
        );
        let v2 = InitialMessage::V2 {
            sid: 2,
            addrs: vec!["10.0.0.1:3888".into(), "[::1]:3888".into()],
        };
        let b = v2.encode();
        assert_eq!(&b[..8], &PROTOCOL_VERSION_V2.to_be_bytes());
        assert_eq!(InitialMessage::decode(&b).unwrap().unwrap().0, v2);
        // Unknown negative version, bad lengths, bad addresses.
        let mut b = (-3i64).to_be_bytes().to_vec();
        b.extend_from_slice(&[0; 12]);
        assert_eq!(
            InitialMessage::decode(&b),
            Err(WireError::BadProtocolVersion(-3))
        );
        for n in [0i32, -1, 2049] {
            let mut b = PROTOCOL_VERSION_V1.to_be_bytes().to_vec();
            b.extend_from_slice(&1i64.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            assert_eq!(
                InitialMessage::decode(&b),
                Err(WireError::BadAddressLength(n))
            );
        }
        for addr in [
            "nohost",
            "h:",
            "h:x",
            "h:1:2",
            "[::1]",
            "[::1:3888",
            "h:70000",
        ] {
            let m = InitialMessage::V1 {
                sid: 1,
                addr: addr.into(),
            };
            assert!(
                matches!(
                    InitialMessage::decode(&m.encode()),
                    Err(WireError::BadAddress(_))
                ),
                "{addr}"
            );
        }
        let long = InitialMessage::V1 {
            sid: 1,
            addr: format!("{}:1", "h".repeat(2046)),
        };
        assert!(InitialMessage::decode(&long.encode()).unwrap().is_some());
    }

    #[test]
    fn parse_host_port_forms() {
        assert_eq!(parse_host_port("a:1").unwrap(), ("a".into(), 1));
        assert_eq!(
            parse_host_port("[fe80::1]:99").unwrap(),
            ("fe80::1".into(), 99)
        );
        assert!(parse_host_port("[fe80::1]:").is_err());
        assert!(parse_host_port("[fe80::1]x").is_err());
        assert!(parse_host_port(":1").is_ok()); // Java accepts an empty host here
    }

    #[test]
    fn notification_current_form() {
        let cfg = cfg3().to_text();
        let n = Notification::new(ServerState::Following, 2, 0x2_0000_0003, 5, 2);
        let b = n.encode(cfg.as_bytes());
        assert_eq!(b.len(), 44 + cfg.len());
        assert_eq!(&b[0..4], &[0, 0, 0, 1]);
        assert_eq!(&b[36..40], &[0, 0, 0, 2]);
        let d = Notification::decode(&b).unwrap();
        assert_eq!(d.config.as_deref(), Some(cfg.as_bytes()));
        assert_eq!(Notification { config: None, ..d }, n);
        // Trailing bytes are ignored.
        let mut t = b.clone();
        t.extend_from_slice(b"junk");
        assert_eq!(Notification::decode(&t).unwrap().leader, 2);
        // Truncated config: rejected.
        assert!(Notification::decode(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn notification_legacy_forms() {
        let n = Notification::new(ServerState::Leading, 1, 0x5_0000_0001, 9, 4);
        let b28 = n.encode_legacy28();
        assert_eq!(b28.len(), 28);
        let d = Notification::decode(&b28).unwrap();
        assert_eq!((d.peer_epoch, d.version, d.config), (5, 0, None));
        let b40 = n.encode_v1();
        assert_eq!(b40.len(), 40);
        let d = Notification::decode(&b40).unwrap();
        assert_eq!((d.peer_epoch, d.version, d.config), (4, 0, None));
        // 29..=39 bytes: the Java reader underflows.
        for len in 29..40 {
            let mut b = b40.clone();
            b.resize(len, 0);
            assert!(Notification::decode(&b).is_err(), "{len}");
        }
        // 41..=43 with version 1: fine, no config; with version 2: underflow.
        let mut b = b40.clone();
        b.push(0);
        assert_eq!(Notification::decode(&b).unwrap().version, 1);
        let mut b = n.encode(b"");
        b.truncate(43);
        assert!(Notification::decode(&b).is_err());
        assert!(Notification::decode(&b28[..27]).is_err());
    }

    #[test]
    fn notification_bad_fields() {
        let mut b = Notification::new(ServerState::Looking, 1, 1, 1, 1).encode(b"x");
        b[3] = 9;
        assert_eq!(Notification::decode(&b), Err(WireError::UnknownState(9)));
        assert_eq!(Notification::decode_raw(&b).unwrap().0, 9);
        let mut b = Notification::new(ServerState::Looking, 1, 1, 1, 1).encode(b"x");
        b[40..44].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            Notification::decode(&b),
            Err(WireError::BadConfigLength(-1))
        );
        b[40..44].copy_from_slice(&46i32.to_be_bytes());
        assert_eq!(
            Notification::decode(&b),
            Err(WireError::BadConfigLength(46))
        );
    }

    #[test]
    fn config_text_round_trip() {
        let c = cfg3();
        let text = c.to_text();
        assert_eq!(
            text,
            "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=127.0.0.1:2889:3889:participant\n\
             server.3=127.0.0.1:2890:3890:observer\n\
             version=100000000"
        );
        assert_eq!(QuorumConfig::parse(&text).unwrap(), c);
        assert_eq!(c.voters().into_iter().collect::<Vec<_>>(), vec![1, 2]);
        assert!(c.contains_quorum(&[1, 2]));
        assert!(!c.contains_quorum(&[1, 3]));
    }

    #[test]
    fn config_text_parse_variants() {
        let c = QuorumConfig::parse(
            "# comment\n\nserver.5 = h:1:2\nserver.6=[::1]:3:4:OBSERVER;7\nversion=0\n",
        )
        .unwrap();
        assert_eq!(c.servers[&5].learner_type, LearnerType::Participant);
        assert_eq!(c.servers[&6].addrs[0].host, "::1");
        assert_eq!(c.servers[&6].client, Some(("0.0.0.0".into(), 7)));
        assert_eq!(c.servers[&6].to_string(), "[::1]:3:4:observer;0.0.0.0:7");
        for bad in [
            "server.x=h:1:2",
            "server.1=h:1",
            "server.1=h:1:1",
            "server.1=h:1:2:boss",
            "server.1=h:1:2;a;b",
            "version=zz",
            "clientPort=2181",
            "weight.1=1",
            "nonsense",
        ] {
            assert!(QuorumConfig::parse(bad).is_err(), "{bad}");
        }
    }

    fn arb_state() -> impl Strategy<Value = ServerState> {
        (0i32..4).prop_map(|v| ServerState::from_i32(v).unwrap())
    }

    proptest! {
        #[test]
        fn notification_round_trip(
            state in arb_state(), leader in any::<i64>(), zxid in any::<i64>(),
            ee in any::<i64>(), pe in any::<i64>(), cfg in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let n = Notification::new(state, leader, zxid, ee, pe);
            let d = Notification::decode(&n.encode(&cfg)).unwrap();
            prop_assert_eq!(d.config.as_deref(), Some(&cfg[..]));
            prop_assert_eq!(Notification { config: None, ..d }, n.clone());
            let d = Notification::decode(&n.encode_v1()).unwrap();
            prop_assert_eq!((d.leader, d.zxid, d.election_epoch, d.peer_epoch), (leader, zxid, ee, pe));
            let d = Notification::decode(&n.encode_legacy28()).unwrap();
            prop_assert_eq!(d.peer_epoch, zxid >> 32);
        }

        #[test]
        fn initial_message_round_trip(sid in 0i64..i64::MAX, host in "[a-z0-9.]{0,40}", port in any::<u16>()) {
            let m = InitialMessage::V1 { sid, addr: format!("{host}:{port}") };
            let b = m.encode();
            prop_assert_eq!(InitialMessage::decode(&b).unwrap(), Some((m, b.len())));
            let m = InitialMessage::BareSid(sid);
            prop_assert_eq!(InitialMessage::decode(&m.encode()).unwrap(), Some((m, 8)));
        }

        #[test]
        fn config_round_trip(
            ids in proptest::collection::btree_set(0u64..1000, 0..8),
            version in any::<u64>(), obs in any::<u8>(), host in "[a-z][a-z0-9.-]{0,20}",
        ) {
            let mut c = QuorumConfig { version, ..Default::default() };
            for (i, id) in ids.iter().enumerate() {
                c.servers.insert(*id, QuorumServer {
                    id: *id,
                    addrs: vec![ServerAddr { host: host.clone(), quorum_port: 1000 + i as u16, election_port: 2000 + i as u16 }],
                    learner_type: if obs & (1 << (i % 8)) != 0 { LearnerType::Observer } else { LearnerType::Participant },
                    client: (i % 2 == 0).then(|| (host.clone(), 3000 + i as u16)),
                });
            }
            prop_assert_eq!(QuorumConfig::parse(&c.to_text()).unwrap(), c);
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = decode_frame(&data);
            let _ = InitialMessage::decode(&data);
            let _ = Notification::decode(&data);
            let _ = Notification::decode_raw(&data);
            let _ = QuorumConfig::parse(&String::from_utf8_lossy(&data));
        }

        #[test]
        fn decoders_never_panic_structured(
            ver in prop_oneof![Just(PROTOCOL_VERSION_V1), Just(PROTOCOL_VERSION_V2), any::<i64>()],
            n in prop_oneof![any::<i32>(), 0i32..40],
            tail in proptest::collection::vec(any::<u8>(), 0..60),
            state in any::<i32>(), version in prop_oneof![any::<i32>(), 0i32..4], clen in prop_oneof![any::<i32>(), 0i32..40],
        ) {
            let mut b = ver.to_be_bytes().to_vec();
            b.extend_from_slice(&1i64.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            b.extend_from_slice(&tail);
            let _ = InitialMessage::decode(&b);
            let mut b = state.to_be_bytes().to_vec();
            b.extend_from_slice(&[0u8; 32]);
            b.extend_from_slice(&version.to_be_bytes());
            b.extend_from_slice(&clen.to_be_bytes());
            b.extend_from_slice(&tail);
            let _ = Notification::decode(&b);
        }

        #[test]
        fn config_parse_never_panics(s in "(server\\.[0-9]{0,3}|version|[#!]?)[ =]{0,2}[\\[\\]a-z0-9:;|.]{0,30}(\n[a-z.0-9=:;\\[\\]|]{0,20}){0,3}") {
            let _ = QuorumConfig::parse(&s);
        }
    }
}
