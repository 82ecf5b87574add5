//! Quorum-port (ZAB) wire format, without I/O: typed quorum packets, their mapping to and
//! from jute's `QuorumPacket`, a streaming decoder for the port, and zxid arithmetic.
//!
//! Byte-compatible with Apache ZooKeeper 3.8 (`Leader`, `LearnerHandler`, `Learner`,
//! `Follower`, `Observer`, `zookeeper.jute`); see the spec, §14.3. On the quorum port a packet
//! is raw jute with **no length prefix**: `int type; long zxid; buffer data; vector<Id>
//! authinfo`. A SNAP packet is followed on the same stream by the snapshot stream body and
//! the `ustring "BenWasHere"` signature ([`encode_snap_sync`], [`decode_snap_signature`]).
//!
//! ```
//! use zk::quorum::zab_wire::*;
//! let p = ZabPacket::LeaderInfo { zxid: make_zxid(5, 0), protocol_version: PROTOCOL_VERSION };
//! let bytes = p.encode_to_vec();
//! // int 17, long 0x500000000, buffer [0,1,0,0], null authinfo
//! assert_eq!(bytes.len(), 4 + 8 + 4 + 4 + 4);
//! let (qp, used) = PacketDecoder::default().decode(&bytes).unwrap().unwrap();
//! assert_eq!(used, bytes.len());
//! assert_eq!(ZabPacket::from_quorum_packet(&qp, Direction::ToLearner).unwrap(), p);
//! // Partial input is not an error: the decoder asks for more bytes.
//! assert_eq!(PacketDecoder::default().decode(&bytes[..13]).unwrap(), None);
//! ```
//!
//! Java writes `null` for the data and authinfo of most packets (length/count -1); the typed
//! encoder does the same, so its bytes equal what a 3.8 server sends. Decoding accepts null
//! and empty alike, as Java's readers do.

use std::sync::Arc;

use crate::jute::Acl;
use crate::jute::{Id, Jute, QuorumPacket};
use crate::persist::snapshot::{encode_snapshot_stream_body, SnapshotNode, SNAP_SYNC_SIGNATURE};

/// ZAB protocol version sent in LEADERINFO and LearnerInfo (ZAB 1.0, ZooKeeper 3.4+).
pub const PROTOCOL_VERSION: i32 = 0x10000;
/// Default bound on a packet's data buffer (a SNAP's stream is not a packet buffer).
pub const DEFAULT_MAX_DATA: usize = 64 << 20;
/// Default bound on the number of auth ids a packet may carry.
pub const DEFAULT_MAX_AUTH_IDS: usize = 1024;
/// Default bound on each auth id string (scheme or id).
pub const DEFAULT_MAX_AUTH_STRING: usize = 64 << 10;

/// Shared txn bytes (TxnHeader + record + optional TxnDigest, as in a log entry). The leader
/// sends one proposal to many learners, so payloads are reference-counted.
pub type TxnBytes = Arc<[u8]>;

/// What a zkraft leader puts in a DIFF packet's (otherwise null) data: the tree digest its
/// history records after `zxid`, the learner's last txn. A learner whose own tree at that
/// zxid has another digest holds a different history, which an empty or short DIFF would
/// never reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestCheck {
    pub zxid: i64,
    pub digest: i64,
}

impl DigestCheck {
    const MAGIC: &'static [u8; 4] = b"zkrd";

    pub fn encode(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        v.extend_from_slice(Self::MAGIC);
        v.extend_from_slice(&self.zxid.to_be_bytes());
        v.extend_from_slice(&self.digest.to_be_bytes());
        v
    }

    /// Anything but exactly our 20 bytes is not a check (peers send null).
    pub fn decode(d: &[u8]) -> Option<DigestCheck> {
        if d.len() != 20 || &d[..4] != Self::MAGIC {
            return None;
        }
        Some(DigestCheck {
            zxid: i64::from_be_bytes(d[4..12].try_into().ok()?),
            digest: i64::from_be_bytes(d[12..20].try_into().ok()?),
        })
    }
}

/// Quorum packet type codes (`Leader.java`).
pub mod ptype {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;

    /// The name Java's `LearnerHandler.packetToString` uses.
    pub fn name(t: i32) -> &'static str {
        match t {
            REQUEST => "REQUEST",
            PROPOSAL => "PROPOSAL",
            ACK => "ACK",
            COMMIT => "COMMIT",
            PING => "PING",
            REVALIDATE => "REVALIDATE",
            SYNC => "SYNC",
            INFORM => "INFORM",
            COMMITANDACTIVATE => "COMMITANDACTIVATE",
            NEWLEADER => "NEWLEADER",
            FOLLOWERINFO => "FOLLOWERINFO",
            UPTODATE => "UPTODATE",
            DIFF => "DIFF",
            TRUNC => "TRUNC",
            SNAP => "SNAP",
            OBSERVERINFO => "OBSERVERINFO",
            LEADERINFO => "LEADERINFO",
            ACKEPOCH => "ACKEPOCH",
            INFORMANDACTIVATE => "INFORMANDACTIVATE",
            _ => "UNKNOWN",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// zxid

/// `ZxidUtils.makeZxid`: `(epoch << 32) | (counter & 0xffffffff)`.
pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}

/// `ZxidUtils.getEpochFromZxid`: the high 32 bits (arithmetic shift, as Java's `>>`).
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

/// `ZxidUtils.getCounterFromZxid`: the low 32 bits.
pub fn counter_of(zxid: i64) -> i64 {
    zxid & 0xffff_ffff
}

/// `ZxidUtils.zxidToString`: lowercase hex without padding (two's complement for negatives).
pub fn zxid_hex(zxid: i64) -> String {
    format!("{:x}", zxid)
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why bytes or a `QuorumPacket` could not be turned into a typed packet. On the quorum port
/// every one of these ends the connection (Java's handler or learner thread throws).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZabWireError {
    /// A data length below -1.
    #[error("invalid quorum packet data length {0}")]
    BadDataLength(i32),
    /// A data buffer longer than the configured bound.
    #[error("quorum packet data of {len} bytes exceeds the limit of {max}")]
    DataTooLarge { len: usize, max: usize },
    /// An authinfo count below -1 or above the configured bound.
    #[error("invalid quorum packet authinfo count {0}")]
    BadAuthCount(i32),
    /// An auth id string with a negative length or one above the configured bound.
    #[error("invalid auth id string length {0}")]
    BadAuthString(i32),
    /// An auth id string that is not UTF-8.
    #[error("auth id string is not UTF-8")]
    BadUtf8,
    /// A packet whose data does not have the layout its type requires.
    #[error("{} packet: {reason}", ptype::name(*ptype))]
    BadPayload { ptype: i32, reason: &'static str },
    /// A type code that is not 1..=19.
    #[error("unknown quorum packet type {0}")]
    UnknownType(i32),
    /// The SNAP sync signature was not "BenWasHere".
    #[error("missing SNAP signature, got {0:?}")]
    BadSignature(String),
}

// ---------------------------------------------------------------------------------------------
// Typed packets

/// Which way a packet travels. PING and REVALIDATE have different data layouts in each
/// direction, so decoding needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Learner → leader.
    ToLeader,
    /// Leader → learner.
    ToLearner,
}

/// One session touched on a learner since its last ping reply (`{long sid; int timeout}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionTouch {
    pub session_id: i64,
    pub timeout: i32,
}

/// A client request forwarded by a learner (REQUEST data: `long sessionId; int cxid; int
/// type;` then the request body as it followed the client's RequestHeader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    pub op_type: i32,
    pub body: Vec<u8>,
    /// The client connection's auth ids (Java sends the list, never null).
    pub authinfo: Vec<Id>,
}

/// FOLLOWERINFO/OBSERVERINFO data: `LearnerInfo{long serverid; int protocolVersion; long
/// configVersion}`. Java's leader also accepts the pre-3.5 prefixes (sid only, or sid and
/// version) and null data (an observer without an id); missing fields are `None`, and a
/// field is only present when the ones before it are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnerHello {
    pub sid: Option<i64>,
    pub protocol_version: Option<i32>,
    pub config_version: Option<i64>,
}

impl LearnerHello {
    /// What a 3.5+ learner sends.
    pub fn new(sid: i64, config_version: i64) -> LearnerHello {
        LearnerHello {
            sid: Some(sid),
            protocol_version: Some(PROTOCOL_VERSION),
            config_version: Some(config_version),
        }
    }

    /// The jute record, when all three fields are present.
    pub fn info(&self) -> Option<crate::jute::LearnerInfo> {
        Some(crate::jute::LearnerInfo {
            serverid: self.sid?,
            protocol_version: self.protocol_version?,
            config_version: self.config_version?,
        })
    }

    fn encode(&self) -> Option<Vec<u8>> {
        let sid = self.sid?;
        let mut out = sid.to_be_bytes().to_vec();
        if let Some(v) = self.protocol_version {
            out.extend_from_slice(&v.to_be_bytes());
            if let Some(c) = self.config_version {
                out.extend_from_slice(&c.to_be_bytes());
            }
        }
        Some(out)
    }

    fn decode(t: i32, data: Option<&[u8]>) -> Result<LearnerHello, ZabWireError> {
        let Some(d) = data else {
            return Ok(LearnerHello::default());
        };
        if d.len() < 8 {
            return Err(bad(t, "learner info shorter than a server id"));
        }
        Ok(LearnerHello {
            sid: Some(be_i64(d, 0)),
            protocol_version: (d.len() >= 12).then(|| be_i32(d, 8)),
            config_version: (d.len() >= 20).then(|| be_i64(d, 12)),
        })
    }
}

impl From<crate::jute::LearnerInfo> for LearnerHello {
    fn from(li: crate::jute::LearnerInfo) -> Self {
        LearnerHello {
            sid: Some(li.serverid),
            protocol_version: Some(li.protocol_version),
            config_version: Some(li.config_version),
        }
    }
}

/// A quorum packet, typed. Fields named `zxid` carry the packet's zxid; the packets whose
/// zxid Java fixes (REQUEST -1, SYNC 0, UPTODATE -1, REVALIDATE -1) have no field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZabPacket {
    /// 1, learner → leader: a client write (or sync/createSession/closeSession) to order.
    Request(ForwardedRequest),
    /// 2, leader → follower: a txn to log and ACK.
    Proposal { zxid: i64, txn: TxnBytes },
    /// 3, follower → leader: `zxid` is logged (or NEWLEADER/UPTODATE acknowledged).
    Ack { zxid: i64 },
    /// 4, leader → follower: `zxid` is committed.
    Commit { zxid: i64 },
    /// 5, leader → learner: heartbeat; `zxid` is the leader's last proposed zxid.
    Ping { zxid: i64 },
    /// 5, learner → leader: the ping answered with the sessions touched since the last one.
    PingReply {
        zxid: i64,
        touches: Vec<SessionTouch>,
    },
    /// 6, learner → leader: is this session (reconnecting to the learner) still valid?
    RevalidateRequest { session_id: i64, timeout: i32 },
    /// 6, leader → learner: the answer.
    RevalidateReply { session_id: i64, valid: bool },
    /// 7, leader → learner: a forwarded sync() may complete.
    Sync,
    /// 8, leader → observer: a committed txn.
    Inform { zxid: i64, txn: TxnBytes },
    /// 9, leader → follower: commit of a reconfig, naming the designated leader.
    CommitAndActivate { zxid: i64, designated_leader: i64 },
    /// 10, leader → learner: end of sync; `config` is the QuorumVerifier text (null for
    /// pre-ZAB-1.0 learners).
    NewLeader { zxid: i64, config: Option<Vec<u8>> },
    /// 11, follower → leader: `zxid` = acceptedEpoch << 32.
    FollowerInfo { zxid: i64, hello: LearnerHello },
    /// 12, leader → learner: start serving.
    UpToDate,
    /// 13, leader → learner: sync by the proposals that follow. `check` is zkraft's
    /// extension in the data field, which Java neither sends nor reads (null there).
    Diff {
        zxid: i64,
        check: Option<DigestCheck>,
    },
    /// 14, leader → learner: truncate the log to `zxid`, then apply what follows.
    Trunc { zxid: i64 },
    /// 15, leader → learner: a snapshot stream follows; `zxid` is the leader's
    /// lastProcessedZxid.
    Snap { zxid: i64 },
    /// 16, observer → leader: like FOLLOWERINFO.
    ObserverInfo { zxid: i64, hello: LearnerHello },
    /// 17, leader → learner: `zxid` = newEpoch << 32.
    LeaderInfo { zxid: i64, protocol_version: i32 },
    /// 18, learner → leader: `zxid` = lastLoggedZxid; `current_epoch` is -1 when the new
    /// epoch equals the learner's acceptedEpoch (it had already acked it).
    AckEpoch { zxid: i64, current_epoch: i32 },
    /// 19, leader → observer: a committed reconfig txn and the designated leader.
    InformAndActivate {
        zxid: i64,
        designated_leader: i64,
        txn: TxnBytes,
    },
}

fn bad(t: i32, reason: &'static str) -> ZabWireError {
    ZabWireError::BadPayload { ptype: t, reason }
}

fn be_i64(d: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[at..at + 8]);
    i64::from_be_bytes(b)
}

fn be_i32(d: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[at..at + 4]);
    i32::from_be_bytes(b)
}

impl ZabPacket {
    /// The packet's type code.
    pub fn type_code(&self) -> i32 {
        use ZabPacket::*;
        match self {
            Request(_) => ptype::REQUEST,
            Proposal { .. } => ptype::PROPOSAL,
            Ack { .. } => ptype::ACK,
            Commit { .. } => ptype::COMMIT,
            Ping { .. } | PingReply { .. } => ptype::PING,
            RevalidateRequest { .. } | RevalidateReply { .. } => ptype::REVALIDATE,
            Sync => ptype::SYNC,
            Inform { .. } => ptype::INFORM,
            CommitAndActivate { .. } => ptype::COMMITANDACTIVATE,
            NewLeader { .. } => ptype::NEWLEADER,
            FollowerInfo { .. } => ptype::FOLLOWERINFO,
            UpToDate => ptype::UPTODATE,
            Diff { .. } => ptype::DIFF,
            Trunc { .. } => ptype::TRUNC,
            Snap { .. } => ptype::SNAP,
            ObserverInfo { .. } => ptype::OBSERVERINFO,
            LeaderInfo { .. } => ptype::LEADERINFO,
            AckEpoch { .. } => ptype::ACKEPOCH,
            InformAndActivate { .. } => ptype::INFORMANDACTIVATE,
        }
    }

    /// The zxid field as it goes on the wire.
    pub fn zxid(&self) -> i64 {
        use ZabPacket::*;
        match self {
            Request(_) | UpToDate | RevalidateRequest { .. } | RevalidateReply { .. } => -1,
            Sync => 0,
            Proposal { zxid, .. }
            | Ack { zxid }
            | Commit { zxid }
            | Ping { zxid }
            | PingReply { zxid, .. }
            | Inform { zxid, .. }
            | CommitAndActivate { zxid, .. }
            | NewLeader { zxid, .. }
            | FollowerInfo { zxid, .. }
            | Diff { zxid, .. }
            | Trunc { zxid }
            | Snap { zxid }
            | ObserverInfo { zxid, .. }
            | LeaderInfo { zxid, .. }
            | AckEpoch { zxid, .. }
            | InformAndActivate { zxid, .. } => *zxid,
        }
    }

    /// The data buffer (`None` is jute's null buffer) and the authinfo (`None` is a null
    /// vector), exactly as the 3.8 sender builds them.
    fn data_and_auth(&self) -> (Option<Vec<u8>>, Option<&[Id]>) {
        use ZabPacket::*;
        let data = match self {
            Request(r) => {
                let mut d = Vec::with_capacity(16 + r.body.len());
                d.extend_from_slice(&r.session_id.to_be_bytes());
                d.extend_from_slice(&r.cxid.to_be_bytes());
                d.extend_from_slice(&r.op_type.to_be_bytes());
                d.extend_from_slice(&r.body);
                return (Some(d), Some(&r.authinfo));
            }
            Proposal { txn, .. } | Inform { txn, .. } => Some(txn.to_vec()),
            PingReply { touches, .. } => {
                let mut d = Vec::with_capacity(12 * touches.len());
                for t in touches {
                    d.extend_from_slice(&t.session_id.to_be_bytes());
                    d.extend_from_slice(&t.timeout.to_be_bytes());
                }
                Some(d)
            }
            RevalidateRequest {
                session_id,
                timeout,
            } => {
                let mut d = session_id.to_be_bytes().to_vec();
                d.extend_from_slice(&timeout.to_be_bytes());
                Some(d)
            }
            RevalidateReply { session_id, valid } => {
                let mut d = session_id.to_be_bytes().to_vec();
                d.push(*valid as u8);
                Some(d)
            }
            CommitAndActivate {
                designated_leader, ..
            } => Some(designated_leader.to_be_bytes().to_vec()),
            NewLeader { config, .. } => config.clone(),
            FollowerInfo { hello, .. } | ObserverInfo { hello, .. } => hello.encode(),
            LeaderInfo {
                protocol_version, ..
            } => Some(protocol_version.to_be_bytes().to_vec()),
            AckEpoch { current_epoch, .. } => Some(current_epoch.to_be_bytes().to_vec()),
            InformAndActivate {
                designated_leader,
                txn,
                ..
            } => {
                let mut d = designated_leader.to_be_bytes().to_vec();
                d.extend_from_slice(txn);
                Some(d)
            }
            Diff { check, .. } => check.map(|c| c.encode()),
            Ack { .. }
            | Commit { .. }
            | Ping { .. }
            | Sync
            | UpToDate
            | Trunc { .. }
            | Snap { .. } => None,
        };
        (data, None)
    }

    /// Appends the packet as it goes on the quorum port (raw jute, no length prefix),
    /// byte-identical to what a 3.8 peer writes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (data, auth) = self.data_and_auth();
        self.type_code().write(out);
        self.zxid().write(out);
        crate::jute::write_buffer(out, data.as_deref());
        match auth {
            None => (-1i32).write(out),
            Some(ids) => ids.to_vec().write(out),
        }
    }

    /// [`ZabPacket::encode`] into a fresh buffer.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// The jute record. Note that `QuorumPacket.authinfo` cannot express null: writing this
    /// record emits an empty vector where [`ZabPacket::encode`] (and Java) emit -1.
    pub fn to_quorum_packet(&self) -> QuorumPacket {
        let (data, auth) = self.data_and_auth();
        QuorumPacket {
            r#type: self.type_code(),
            zxid: self.zxid(),
            data,
            authinfo: auth.map(<[Id]>::to_vec).unwrap_or_default(),
        }
    }

    /// Types a decoded packet travelling in direction `dir`. Every length is checked against
    /// the data present; trailing data bytes are ignored, as Java's `ByteBuffer` readers do.
    pub fn from_quorum_packet(
        qp: &QuorumPacket,
        dir: Direction,
    ) -> Result<ZabPacket, ZabWireError> {
        let t = qp.r#type;
        let zxid = qp.zxid;
        let data = qp.data.as_deref();
        let need = |n: usize, reason: &'static str| -> Result<&[u8], ZabWireError> {
            match data {
                Some(d) if d.len() >= n => Ok(d),
                _ => Err(bad(t, reason)),
            }
        };
        let txn = |reason| -> Result<TxnBytes, ZabWireError> {
            data.map(Arc::from).ok_or_else(|| bad(t, reason))
        };
        Ok(match t {
            ptype::REQUEST => {
                let d = need(16, "request shorter than sessionId, cxid and type")?;
                ZabPacket::Request(ForwardedRequest {
                    session_id: be_i64(d, 0),
                    cxid: be_i32(d, 8),
                    op_type: be_i32(d, 12),
                    body: d[16..].to_vec(),
                    authinfo: qp.authinfo.clone(),
                })
            }
            ptype::PROPOSAL => ZabPacket::Proposal {
                zxid,
                txn: txn("proposal without txn data")?,
            },
            ptype::ACK => ZabPacket::Ack { zxid },
            ptype::COMMIT => ZabPacket::Commit { zxid },
            ptype::PING => match dir {
                Direction::ToLearner => ZabPacket::Ping { zxid },
                Direction::ToLeader => {
                    let d = data.unwrap_or(&[]);
                    if !d.len().is_multiple_of(12) {
                        return Err(bad(t, "session touches are not whole {long, int} pairs"));
                    }
                    let touches = d
                        .chunks_exact(12)
                        .map(|c| SessionTouch {
                            session_id: be_i64(c, 0),
                            timeout: be_i32(c, 8),
                        })
                        .collect();
                    ZabPacket::PingReply { zxid, touches }
                }
            },
            ptype::REVALIDATE => match dir {
                Direction::ToLeader => {
                    let d = need(12, "revalidate request shorter than {long, int}")?;
                    ZabPacket::RevalidateRequest {
                        session_id: be_i64(d, 0),
                        timeout: be_i32(d, 8),
                    }
                }
                Direction::ToLearner => {
                    let d = need(9, "revalidate reply shorter than {long, boolean}")?;
                    ZabPacket::RevalidateReply {
                        session_id: be_i64(d, 0),
                        valid: d[8] != 0,
                    }
                }
            },
            ptype::SYNC => ZabPacket::Sync,
            ptype::INFORM => ZabPacket::Inform {
                zxid,
                txn: txn("inform without txn data")?,
            },
            ptype::COMMITANDACTIVATE => {
                let d = need(8, "commitandactivate without a leader id")?;
                ZabPacket::CommitAndActivate {
                    zxid,
                    designated_leader: be_i64(d, 0),
                }
            }
            ptype::NEWLEADER => ZabPacket::NewLeader {
                zxid,
                config: qp.data.clone(),
            },
            ptype::FOLLOWERINFO => ZabPacket::FollowerInfo {
                zxid,
                hello: LearnerHello::decode(t, data)?,
            },
            ptype::UPTODATE => ZabPacket::UpToDate,
            ptype::DIFF => ZabPacket::Diff {
                zxid,
                check: data.and_then(DigestCheck::decode),
            },
            ptype::TRUNC => ZabPacket::Trunc { zxid },
            ptype::SNAP => ZabPacket::Snap { zxid },
            ptype::OBSERVERINFO => ZabPacket::ObserverInfo {
                zxid,
                hello: LearnerHello::decode(t, data)?,
            },
            ptype::LEADERINFO => {
                let d = need(4, "leaderinfo without a protocol version")?;
                ZabPacket::LeaderInfo {
                    zxid,
                    protocol_version: be_i32(d, 0),
                }
            }
            ptype::ACKEPOCH => {
                let d = need(4, "ackepoch without an epoch")?;
                ZabPacket::AckEpoch {
                    zxid,
                    current_epoch: be_i32(d, 0),
                }
            }
            ptype::INFORMANDACTIVATE => {
                let d = need(8, "informandactivate without a leader id")?;
                ZabPacket::InformAndActivate {
                    zxid,
                    designated_leader: be_i64(d, 0),
                    txn: Arc::from(&d[8..]),
                }
            }
            other => return Err(ZabWireError::UnknownType(other)),
        })
    }
}

impl std::fmt::Display for ZabPacket {
    /// `TYPE zxid-hex`, like Java's `packetToString`, plus the fields that matter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ZabPacket::*;
        write!(
            f,
            "{} {}",
            ptype::name(self.type_code()),
            zxid_hex(self.zxid())
        )?;
        match self {
            Request(r) => write!(
                f,
                " session={:x} cxid={} type={}",
                r.session_id, r.cxid, r.op_type
            ),
            PingReply { touches, .. } => write!(f, " touches={}", touches.len()),
            RevalidateRequest {
                session_id,
                timeout,
            } => write!(f, " session={session_id:x} timeout={timeout}"),
            RevalidateReply { session_id, valid } => {
                write!(f, " session={session_id:x} valid={valid}")
            }
            AckEpoch { current_epoch, .. } => write!(f, " epoch={current_epoch}"),
            FollowerInfo { hello, .. } | ObserverInfo { hello, .. } => {
                write!(f, " sid={:?}", hello.sid)
            }
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming decoder

/// Bounds the quorum-port decoder enforces before it waits for (or allocates) anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketDecoder {
    /// Largest data buffer accepted.
    pub max_data: usize,
    /// Largest authinfo count accepted.
    pub max_auth_ids: usize,
    /// Largest auth scheme or id string accepted.
    pub max_auth_string: usize,
}

impl Default for PacketDecoder {
    fn default() -> Self {
        PacketDecoder {
            max_data: DEFAULT_MAX_DATA,
            max_auth_ids: DEFAULT_MAX_AUTH_IDS,
            max_auth_string: DEFAULT_MAX_AUTH_STRING,
        }
    }
}

/// A cursor over a partial stream: `None` means the bytes end before the value does.
struct Cur<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.buf.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4).map(|b| be_i32(b, 0))
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|b| be_i64(b, 0))
    }
}

impl PacketDecoder {
    /// Decodes one packet from the front of `buf`: `Ok(Some((packet, bytes used)))`,
    /// `Ok(None)` if `buf` holds only part of a packet (read more and call again), or an
    /// error if a length is out of bounds or malformed (close the connection). Every length
    /// is checked against its bound before the decoder waits for that many bytes, so a
    /// hostile length can make it neither allocate nor wait for more than the bounds allow.
    pub fn decode(&self, buf: &[u8]) -> Result<Option<(QuorumPacket, usize)>, ZabWireError> {
        let mut c = Cur { buf, at: 0 };
        macro_rules! more {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => return Ok(None),
                }
            };
        }
        let r#type = more!(c.i32());
        let zxid = more!(c.i64());
        let dlen = more!(c.i32());
        let data = match dlen {
            -1 => None,
            n if n < -1 => return Err(ZabWireError::BadDataLength(n)),
            n if n as usize > self.max_data => {
                return Err(ZabWireError::DataTooLarge {
                    len: n as usize,
                    max: self.max_data,
                })
            }
            n => Some(more!(c.take(n as usize))),
        };
        let count = more!(c.i32());
        if count < -1 || count as i64 > self.max_auth_ids as i64 {
            return Err(ZabWireError::BadAuthCount(count));
        }
        let mut authinfo = Vec::new();
        for _ in 0..count.max(0) {
            let scheme = more!(self.string(&mut c)?);
            let id = more!(self.string(&mut c)?);
            authinfo.push(Id { scheme, id });
        }
        let qp = QuorumPacket {
            r#type,
            zxid,
            data: data.map(<[u8]>::to_vec),
            authinfo,
        };
        Ok(Some((qp, c.at)))
    }

    /// A jute ustring (null reads as ""), bounded by `max_auth_string`.
    fn string(&self, c: &mut Cur<'_>) -> Result<Option<String>, ZabWireError> {
        let Some(n) = c.i32() else { return Ok(None) };
        if n == -1 {
            return Ok(Some(String::new()));
        }
        if n < -1 || n as usize > self.max_auth_string {
            return Err(ZabWireError::BadAuthString(n));
        }
        let Some(b) = c.take(n as usize) else {
            return Ok(None);
        };
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(ZabWireError::BadUtf8),
        }
    }

    /// Decodes and types one packet travelling in direction `dir`.
    pub fn decode_typed(
        &self,
        buf: &[u8],
        dir: Direction,
    ) -> Result<Option<(ZabPacket, usize)>, ZabWireError> {
        match self.decode(buf)? {
            None => Ok(None),
            Some((qp, n)) => Ok(Some((ZabPacket::from_quorum_packet(&qp, dir)?, n))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SNAP sync stream

/// Appends a whole SNAP sync as the leader writes it: the SNAP packet (`zxid` = the
/// lastProcessedZxid the tree reflects), the snapshot stream body (sessions, ACL cache,
/// nodes, "/" terminator: no file header, seals or digest), and the "BenWasHere" signature.
pub fn encode_snap_sync(
    out: &mut Vec<u8>,
    zxid: i64,
    sessions: &[(i64, i32)],
    acls: &[(i64, Vec<Acl>)],
    nodes: &mut dyn Iterator<Item = SnapshotNode<'_>>,
) {
    ZabPacket::Snap { zxid }.encode(out);
    encode_snapshot_stream_body(out, sessions, acls, nodes);
    write_snap_signature(out);
}

/// Appends the SNAP sync signature (`ustring "BenWasHere"`).
pub fn write_snap_signature(out: &mut Vec<u8>) {
    crate::jute::write_str(out, SNAP_SYNC_SIGNATURE);
}

/// Checks the signature that follows a SNAP stream body (decode the body with
/// `persist::snapshot::decode_snapshot_stream_body`). `Ok(Some(n))`: the signature took `n`
/// bytes; `Ok(None)`: more bytes needed; an error if the string is anything else.
pub fn decode_snap_signature(buf: &[u8]) -> Result<Option<usize>, ZabWireError> {
    let mut c = Cur { buf, at: 0 };
    let Some(n) = c.i32() else { return Ok(None) };
    if n != SNAP_SYNC_SIGNATURE.len() as i32 {
        let shown = c
            .take(n.clamp(0, 32) as usize)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        return Err(ZabWireError::BadSignature(shown));
    }
    let Some(b) = c.take(n as usize) else {
        return Ok(None);
    };
    if b != SNAP_SYNC_SIGNATURE.as_bytes() {
        return Err(ZabWireError::BadSignature(
            String::from_utf8_lossy(b).into_owned(),
        ));
    }
    Ok(Some(c.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn roundtrip(p: &ZabPacket, dir: Direction) {
        let bytes = p.encode_to_vec();
        let (qp, n) = PacketDecoder::default().decode(&bytes).unwrap().unwrap();
        assert_eq!(n, bytes.len(), "{p:?}");
        assert_eq!(&ZabPacket::from_quorum_packet(&qp, dir).unwrap(), p);
        // The jute record agrees with the typed decoder on everything but null authinfo.
        assert_eq!(qp, p.to_quorum_packet());
        // And jute's own reader parses our bytes identically.
        assert_eq!(QuorumPacket::decode(&bytes).unwrap(), qp);
    }

    #[test]
    fn zxid_helpers() {
        assert_eq!(make_zxid(5, 1), 0x5_0000_0001);
        assert_eq!(make_zxid(1, -1), 0x1_ffff_ffff);
        assert_eq!(epoch_of(0x7_0000_0003), 7);
        assert_eq!(counter_of(0x7_0000_0003), 3);
        assert_eq!(epoch_of(-1), -1);
        assert_eq!(counter_of(-1), 0xffff_ffff);
        assert_eq!(zxid_hex(0x1_0000_000a), "10000000a");
        assert_eq!(zxid_hex(-1), "ffffffffffffffff");
    }

    /// Byte images of what 3.8 writes (built by hand from `new QuorumPacket(...)` calls).
    #[test]
    fn java_byte_images() {
        // LearnerHandler: new QuorumPacket(LEADERINFO, newLeaderZxid, ver, null)
        assert_eq!(
            hex(&ZabPacket::LeaderInfo {
                zxid: 0x2_0000_0000,
                protocol_version: PROTOCOL_VERSION
            }
            .encode_to_vec()),
            "00000011".to_owned() + "0000000200000000" + "00000004" + "00010000" + "ffffffff"
        );
        // Learner.registerWithLeader: FOLLOWERINFO with LearnerInfo{sid 3, 0x10000, config 0x100000000}
        assert_eq!(
            hex(&ZabPacket::FollowerInfo {
                zxid: 0x1_0000_0000,
                hello: LearnerHello::new(3, 0x1_0000_0000)
            }
            .encode_to_vec()),
            "0000000b".to_owned()
                + "0000000100000000"
                + "00000014"
                + "0000000000000003"
                + "00010000"
                + "0000000100000000"
                + "ffffffff"
        );
        // ACKEPOCH with -1: data int -1
        assert_eq!(
            hex(&ZabPacket::AckEpoch {
                zxid: 5,
                current_epoch: -1
            }
            .encode_to_vec()),
            "00000012".to_owned() + "0000000000000005" + "00000004" + "ffffffff" + "ffffffff"
        );
        // UPTODATE(-1), no data, no auth
        assert_eq!(
            hex(&ZabPacket::UpToDate.encode_to_vec()),
            "0000000c".to_owned() + "ffffffffffffffff" + "ffffffff" + "ffffffff"
        );
        // SYNC has zxid 0
        assert_eq!(
            hex(&ZabPacket::Sync.encode_to_vec()),
            "00000007".to_owned() + "0000000000000000" + "ffffffff" + "ffffffff"
        );
        // Learner.ping: an empty touch table is an empty (not null) buffer.
        assert_eq!(
            hex(&ZabPacket::PingReply {
                zxid: 9,
                touches: vec![]
            }
            .encode_to_vec()),
            "00000005".to_owned() + "0000000000000009" + "00000000" + "ffffffff"
        );
        // Learner.request: REQUEST(-1) with the auth list (empty, not null).
        let req = ZabPacket::Request(ForwardedRequest {
            session_id: 0x100,
            cxid: 7,
            op_type: 9,
            body: vec![0, 0, 0, 1, b'/'],
            authinfo: vec![],
        });
        assert_eq!(
            hex(&req.encode_to_vec()),
            "00000001".to_owned()
                + "ffffffffffffffff"
                + "00000015"
                + "0000000000000100"
                + "00000007"
                + "00000009"
                + "000000012f"
                + "00000000"
        );
        // REVALIDATE reply: {long, boolean}
        assert_eq!(
            hex(&ZabPacket::RevalidateReply {
                session_id: 1,
                valid: true
            }
            .encode_to_vec()),
            "00000006".to_owned()
                + "ffffffffffffffff"
                + "00000009"
                + "000000000000000101"
                + "ffffffff"
        );
    }

    #[test]
    fn every_type_roundtrips() {
        let txn: TxnBytes = Arc::from(&[1u8, 2, 3][..]);
        let to_leader = [
            ZabPacket::Request(ForwardedRequest {
                session_id: -5,
                cxid: 1,
                op_type: 1,
                body: vec![9; 20],
                authinfo: vec![Id {
                    scheme: "digest".into(),
                    id: "u:x".into(),
                }],
            }),
            ZabPacket::Ack {
                zxid: 0x1_0000_0001,
            },
            ZabPacket::PingReply {
                zxid: 4,
                touches: vec![
                    SessionTouch {
                        session_id: 1,
                        timeout: 3000,
                    },
                    SessionTouch {
                        session_id: -2,
                        timeout: 0,
                    },
                ],
            },
            ZabPacket::RevalidateRequest {
                session_id: 77,
                timeout: 4000,
            },
            ZabPacket::FollowerInfo {
                zxid: 0x3_0000_0000,
                hello: LearnerHello::new(1, 0),
            },
            ZabPacket::ObserverInfo {
                zxid: 0,
                hello: LearnerHello::default(),
            },
            ZabPacket::ObserverInfo {
                zxid: 0,
                hello: LearnerHello {
                    sid: Some(4),
                    protocol_version: Some(0x10000),
                    config_version: None,
                },
            },
            ZabPacket::AckEpoch {
                zxid: 0x2_0000_0007,
                current_epoch: 2,
            },
        ];
        for p in &to_leader {
            roundtrip(p, Direction::ToLeader);
        }
        let to_learner = [
            ZabPacket::Proposal {
                zxid: 0x1_0000_0002,
                txn: txn.clone(),
            },
            ZabPacket::Commit {
                zxid: 0x1_0000_0002,
            },
            ZabPacket::Ping {
                zxid: 0x1_0000_0002,
            },
            ZabPacket::RevalidateReply {
                session_id: 77,
                valid: false,
            },
            ZabPacket::Sync,
            ZabPacket::Inform {
                zxid: 3,
                txn: txn.clone(),
            },
            ZabPacket::CommitAndActivate {
                zxid: 3,
                designated_leader: 2,
            },
            ZabPacket::NewLeader {
                zxid: 0x4_0000_0000,
                config: Some(b"server.1=a:1:2:participant\nversion=0".to_vec()),
            },
            ZabPacket::NewLeader {
                zxid: 0x4_0000_0000,
                config: None,
            },
            ZabPacket::UpToDate,
            ZabPacket::Diff {
                zxid: 1,
                check: None,
            },
            ZabPacket::Diff {
                zxid: 2,
                check: Some(DigestCheck {
                    zxid: 2,
                    digest: -7,
                }),
            },
            ZabPacket::Trunc { zxid: 2 },
            ZabPacket::Snap { zxid: 3 },
            ZabPacket::LeaderInfo {
                zxid: 0x4_0000_0000,
                protocol_version: PROTOCOL_VERSION,
            },
            ZabPacket::InformAndActivate {
                zxid: 5,
                designated_leader: 1,
                txn,
            },
        ];
        for p in &to_learner {
            roundtrip(p, Direction::ToLearner);
        }
    }

    #[test]
    fn partial_input_needs_more_and_bounds_are_checked_first() {
        let bytes = ZabPacket::Proposal {
            zxid: 1,
            txn: Arc::from(vec![7u8; 100]),
        }
        .encode_to_vec();
        let d = PacketDecoder::default();
        for cut in 0..bytes.len() {
            assert_eq!(d.decode(&bytes[..cut]).unwrap(), None, "cut at {cut}");
        }
        // A 2 GB data claim is refused at once, not waited for.
        let mut huge = Vec::new();
        2i32.write(&mut huge);
        1i64.write(&mut huge);
        i32::MAX.write(&mut huge);
        assert_eq!(
            d.decode(&huge),
            Err(ZabWireError::DataTooLarge {
                len: i32::MAX as usize,
                max: DEFAULT_MAX_DATA
            })
        );
        let small = PacketDecoder { max_data: 99, ..d };
        assert!(matches!(
            small.decode(&bytes),
            Err(ZabWireError::DataTooLarge { len: 100, max: 99 })
        ));
        let mut neg = Vec::new();
        2i32.write(&mut neg);
        1i64.write(&mut neg);
        (-2i32).write(&mut neg);
        assert_eq!(d.decode(&neg), Err(ZabWireError::BadDataLength(-2)));
        // Too many auth ids.
        let mut many = Vec::new();
        1i32.write(&mut many);
        (-1i64).write(&mut many);
        (-1i32).write(&mut many);
        (DEFAULT_MAX_AUTH_IDS as i32 + 1).write(&mut many);
        assert!(matches!(
            d.decode(&many),
            Err(ZabWireError::BadAuthCount(_))
        ));
        // Two packets back to back decode one at a time.
        let mut two = ZabPacket::Ack { zxid: 1 }.encode_to_vec();
        let first = two.len();
        ZabPacket::Commit { zxid: 1 }.encode(&mut two);
        let (_, n) = d.decode(&two).unwrap().unwrap();
        assert_eq!(n, first);
        let (p, _) = d
            .decode_typed(&two[n..], Direction::ToLearner)
            .unwrap()
            .unwrap();
        assert_eq!(p, ZabPacket::Commit { zxid: 1 });
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let qp = |t: i32, data: Option<Vec<u8>>| QuorumPacket {
            r#type: t,
            zxid: 0,
            data,
            authinfo: vec![],
        };
        let dl = Direction::ToLeader;
        let dr = Direction::ToLearner;
        assert!(ZabPacket::from_quorum_packet(&qp(ptype::REQUEST, Some(vec![0; 15])), dl).is_err());
        assert!(ZabPacket::from_quorum_packet(&qp(ptype::PROPOSAL, None), dr).is_err());
        assert!(ZabPacket::from_quorum_packet(&qp(ptype::PING, Some(vec![0; 13])), dl).is_err());
        assert!(
            ZabPacket::from_quorum_packet(&qp(ptype::REVALIDATE, Some(vec![0; 9])), dl).is_err()
        );
        assert!(
            ZabPacket::from_quorum_packet(&qp(ptype::REVALIDATE, Some(vec![0; 9])), dr).is_ok()
        );
        assert!(ZabPacket::from_quorum_packet(&qp(ptype::ACKEPOCH, Some(vec![0; 3])), dl).is_err());
        assert!(ZabPacket::from_quorum_packet(&qp(ptype::LEADERINFO, None), dr).is_err());
        assert!(
            ZabPacket::from_quorum_packet(&qp(ptype::FOLLOWERINFO, Some(vec![0; 7])), dl).is_err()
        );
        assert_eq!(
            ZabPacket::from_quorum_packet(&qp(20, None), dr),
            Err(ZabWireError::UnknownType(20))
        );
        // Java's leader accepts a 12-byte (pre-3.5) LearnerInfo: no config version.
        let mut li = 3i64.to_be_bytes().to_vec();
        li.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        assert_eq!(
            ZabPacket::from_quorum_packet(&qp(ptype::FOLLOWERINFO, Some(li)), dl).unwrap(),
            ZabPacket::FollowerInfo {
                zxid: 0,
                hello: LearnerHello {
                    sid: Some(3),
                    protocol_version: Some(PROTOCOL_VERSION),
                    config_version: None
                }
            }
        );
    }

    #[test]
    fn snap_sync_stream() {
        use crate::jute::StatPersisted;
        let stat = StatPersisted::default();
        let nodes = [SnapshotNode {
            path: "/",
            data: None,
            acl_index: -1,
            stat: &stat,
        }];
        let mut out = Vec::new();
        encode_snap_sync(
            &mut out,
            0x1_0000_0005,
            &[(9, 3000)],
            &[],
            &mut nodes.iter().copied(),
        );
        let (p, n) = PacketDecoder::default()
            .decode_typed(&out, Direction::ToLearner)
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            ZabPacket::Snap {
                zxid: 0x1_0000_0005
            }
        );
        let mut rest = &out[n..];
        let body = crate::persist::snapshot::decode_snapshot_stream_body(&mut rest).unwrap();
        assert_eq!(body.sessions, vec![(9, 3000)]);
        assert_eq!(decode_snap_signature(rest).unwrap(), Some(rest.len()));
        assert_eq!(decode_snap_signature(&rest[..5]).unwrap(), None);
        let mut wrong = Vec::new();
        crate::jute::write_str(&mut wrong, "BenWasThere");
        assert!(decode_snap_signature(&wrong).is_err());
    }

    fn arb_packet() -> impl Strategy<Value = (ZabPacket, Direction)> {
        let txn = proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|v| -> TxnBytes { Arc::from(v) });
        let id = ("[a-z]{0,6}", "[ -~]{0,10}").prop_map(|(scheme, id)| Id { scheme, id });
        let hello = (any::<i64>(), any::<i32>(), any::<i64>(), 0..4u8).prop_map(|(s, v, c, k)| {
            LearnerHello {
                sid: (k > 0).then_some(s),
                protocol_version: (k > 1).then_some(v),
                config_version: (k > 2).then_some(c),
            }
        });
        let z = any::<i64>();
        prop_oneof![
            (
                any::<i64>(),
                any::<i32>(),
                any::<i32>(),
                proptest::collection::vec(any::<u8>(), 0..30),
                proptest::collection::vec(id, 0..3)
            )
                .prop_map(|(session_id, cxid, op_type, body, authinfo)| (
                    ZabPacket::Request(ForwardedRequest {
                        session_id,
                        cxid,
                        op_type,
                        body,
                        authinfo
                    }),
                    Direction::ToLeader
                )),
            (z, txn.clone())
                .prop_map(|(zxid, txn)| (ZabPacket::Proposal { zxid, txn }, Direction::ToLearner)),
            z.prop_map(|zxid| (ZabPacket::Ack { zxid }, Direction::ToLeader)),
            z.prop_map(|zxid| (ZabPacket::Commit { zxid }, Direction::ToLearner)),
            z.prop_map(|zxid| (ZabPacket::Ping { zxid }, Direction::ToLearner)),
            (
                z,
                proptest::collection::vec((any::<i64>(), any::<i32>()), 0..5)
            )
                .prop_map(|(zxid, t)| (
                    ZabPacket::PingReply {
                        zxid,
                        touches: t
                            .into_iter()
                            .map(|(session_id, timeout)| SessionTouch {
                                session_id,
                                timeout
                            })
                            .collect()
                    },
                    Direction::ToLeader
                )),
            (any::<i64>(), any::<i32>()).prop_map(|(session_id, timeout)| (
                ZabPacket::RevalidateRequest {
                    session_id,
                    timeout
                },
                Direction::ToLeader
            )),
            (any::<i64>(), any::<bool>()).prop_map(|(session_id, valid)| (
                ZabPacket::RevalidateReply { session_id, valid },
                Direction::ToLearner
            )),
            Just((ZabPacket::Sync, Direction::ToLearner)),
            (z, txn.clone())
                .prop_map(|(zxid, txn)| (ZabPacket::Inform { zxid, txn }, Direction::ToLearner)),
            (z, any::<i64>()).prop_map(|(zxid, designated_leader)| (
                ZabPacket::CommitAndActivate {
                    zxid,
                    designated_leader
                },
                Direction::ToLearner
            )),
            (
                z,
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30))
            )
                .prop_map(|(zxid, config)| (
                    ZabPacket::NewLeader { zxid, config },
                    Direction::ToLearner
                )),
            (z, hello.clone()).prop_map(|(zxid, hello)| (
                ZabPacket::FollowerInfo { zxid, hello },
                Direction::ToLeader
            )),
            (z, hello).prop_map(|(zxid, hello)| (
                ZabPacket::ObserverInfo { zxid, hello },
                Direction::ToLeader
            )),
            Just((ZabPacket::UpToDate, Direction::ToLearner)),
            z.prop_map(|zxid| (ZabPacket::Diff { zxid, check: None }, Direction::ToLearner)),
            z.prop_map(|zxid| (ZabPacket::Trunc { zxid }, Direction::ToLearner)),
            z.prop_map(|zxid| (ZabPacket::Snap { zxid }, Direction::ToLearner)),
            (z, any::<i32>()).prop_map(|(zxid, protocol_version)| (
                ZabPacket::LeaderInfo {
                    zxid,
                    protocol_version
                },
                Direction::ToLearner
            )),
            (z, any::<i32>()).prop_map(|(zxid, current_epoch)| (
                ZabPacket::AckEpoch {
                    zxid,
                    current_epoch
                },
                Direction::ToLeader
            )),
            (z, any::<i64>(), txn).prop_map(|(zxid, designated_leader, txn)| (
                ZabPacket::InformAndActivate {
                    zxid,
                    designated_leader,
                    txn
                },
                Direction::ToLearner
            )),
        ]
    }

    proptest! {
        #[test]
        fn typed_roundtrip((p, dir) in arb_packet()) {
            let bytes = p.encode_to_vec();
            let (qp, n) = PacketDecoder::default().decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(n, bytes.len());
            prop_assert_eq!(ZabPacket::from_quorum_packet(&qp, dir).unwrap(), p.clone());
            // Re-encoding the decoded packet gives the same bytes.
            prop_assert_eq!(ZabPacket::from_quorum_packet(&qp, dir).unwrap().encode_to_vec(), bytes.clone());
            // Any strict prefix asks for more bytes.
            let cut = bytes.len() / 2;
            prop_assert_eq!(PacketDecoder::default().decode(&bytes[..cut]).unwrap(), None);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let d = PacketDecoder { max_data: 64, max_auth_ids: 4, max_auth_string: 16 };
            if let Ok(Some((qp, n))) = d.decode(&data) {
                prop_assert!(n <= data.len());
                let _ = ZabPacket::from_quorum_packet(&qp, Direction::ToLeader);
                let _ = ZabPacket::from_quorum_packet(&qp, Direction::ToLearner);
            }
            let _ = decode_snap_signature(&data);
        }

        #[test]
        fn garbage_with_valid_header_never_panics(t in 0i32..22, zxid in any::<i64>(),
                data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))) {
            let qp = QuorumPacket { r#type: t, zxid, data, authinfo: vec![] };
            let _ = ZabPacket::from_quorum_packet(&qp, Direction::ToLeader);
            let _ = ZabPacket::from_quorum_packet(&qp, Direction::ToLearner);
        }
    }
}
