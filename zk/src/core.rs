//! The request processor: one thread that orders every request, validates writes into
//! transactions (ZooKeeper's PrepRequestProcessor), applies them to the tree and answers
//! (FinalRequestProcessor).
//!
//! Durability without giving up throughput: a write is applied in memory at once, but no
//! reply or notification leaves the server until the log holding every transaction it may
//! reveal has been fsynced. Outputs travel with their batch to the `commit` thread, which
//! appends, fsyncs once for the whole group and only then hands the frames to the
//! connections. A batch with no writes skips the queue when nothing is in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::acl;
use crate::config::Config;
use crate::datatree::{DataTree, Trigger, TxnResult};
use crate::jute::*;
use crate::path;
use crate::proto::{err, event, op, xid, CreateMode, EphemeralKind, MAX_TTL};
use crate::quorum::role::{Quorum, Role, FORWARDED};
use crate::session::{password, SessionTracker};
use crate::stats::{ConnStats, ServerStats};
use crate::txn::{TxnBody, TxnEntry};
use crate::watch::{ConnId, Mode, WatchManager};

/// A frame for a connection's writer.
#[derive(Debug)]
pub enum Out {
    /// A length-prefixed reply; `Some(t)` carries the receive time for latency stats.
    Reply(Vec<u8>, Option<Instant>),
    /// A length-prefixed notification.
    Notify(Vec<u8>),
    /// Close the connection after what was queued before.
    Close,
}

pub type ConnTx = tokio::sync::mpsc::UnboundedSender<Out>;

/// Events of the ensemble role's connections (see `quorum::peer`).
#[derive(Debug)]
pub enum ZabEvent {
    Leader(crate::quorum::zab_io::LeaderEvent),
    Learner(crate::quorum::zab_io::LearnerEvent),
}

/// Messages into the core.
pub enum CoreMsg {
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        tx: ConnTx,
        req: ConnectRequest,
        stats: Arc<ConnStats>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Vec<u8>,
        received: Instant,
    },
    /// The socket went away (or was closed by us).
    Closed {
        conn: ConnId,
    },
    FourLetter {
        cmd: String,
        asker: Option<SocketAddr>,
        reply: std::sync::mpsc::Sender<String>,
    },
    /// Won the election: lead through these learner connections.
    BecomeLeader {
        gen: u64,
        io: crate::quorum::zab_io::LeaderIo,
    },
    /// Lost it: follow `leader` over this connection.
    BecomeFollower {
        gen: u64,
        io: crate::quorum::zab_io::LearnerIo,
        leader: u64,
    },
    /// The role of generation `gen` could not start.
    LostLeader {
        gen: u64,
        why: String,
    },
    Zab {
        gen: u64,
        ev: ZabEvent,
    },
    /// The txn log is durable up to `zxid` (ensemble only).
    Logged {
        zxid: i64,
    },
    Shutdown,
}

impl std::fmt::Debug for CoreMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreMsg::Connect { conn, addr, .. } => write!(f, "Connect({conn}, {addr})"),
            CoreMsg::Request { conn, xid, op, .. } => write!(f, "Request({conn}, {xid}, {op})"),
            CoreMsg::Closed { conn } => write!(f, "Closed({conn})"),
            CoreMsg::FourLetter { cmd, .. } => write!(f, "FourLetter({cmd})"),
            CoreMsg::BecomeLeader { gen, .. } => write!(f, "BecomeLeader({gen})"),
            CoreMsg::BecomeFollower { gen, leader, .. } => {
                write!(f, "BecomeFollower({gen}, {leader})")
            }
            CoreMsg::LostLeader { gen, why } => write!(f, "LostLeader({gen}, {why})"),
            CoreMsg::Zab { gen, ev } => write!(f, "Zab({gen}, {ev:?})"),
            CoreMsg::Logged { zxid } => write!(f, "Logged(0x{zxid:x})"),
            CoreMsg::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// Work for the commit thread, in order.
#[derive(Debug)]
pub enum CommitJob {
    Batch {
        txns: Vec<(i64, Vec<u8>)>,
        outputs: Vec<(ConnTx, Out)>,
    },
    Snapshot {
        zxid: i64,
        bytes: Vec<u8>,
    },
    /// Runs on the commit thread after everything queued before it is durable (the
    /// ensemble uses it as a barrier and to truncate or reopen the log).
    Exec(ExecFn),
}

/// Work for [`CommitJob::Exec`].
pub struct ExecFn(pub Box<dyn FnOnce(&mut crate::zkdb::Committer) + Send>);

impl std::fmt::Debug for ExecFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExecFn")
    }
}

pub(crate) struct Conn {
    pub tx: ConnTx,
    pub addr: SocketAddr,
    pub session: i64,
    pub timeout: i32,
    pub auth: Vec<Id>,
    pub stats: Arc<ConnStats>,
}

/// Where outputs and transactions go.
pub trait Sink {
    fn commit(&mut self, job: CommitJob);
}

pub struct Core {
    pub(crate) cfg: Arc<Config>,
    pub(crate) tree: DataTree,
    pub(crate) watches: WatchManager,
    pub(crate) sessions: SessionTracker,
    pub(crate) conns: HashMap<ConnId, Conn>,
    pub(crate) session_conn: HashMap<i64, ConnId>,
    pub(crate) stats: Arc<ServerStats>,
    pub(crate) started: Instant,
    pub(crate) server_id: u64,
    /// Batches handed to the commit thread and not yet delivered.
    pub(crate) inflight: Arc<AtomicUsize>,
    pub(crate) outputs: Vec<(ConnTx, Out)>,
    pub(crate) txns: Vec<(i64, Vec<u8>)>,
    pub(crate) txns_since_snapshot: u64,
    snapshot_at: u64,
    last_reap: Instant,
    events: Vec<crate::watch::Event>,
    pub(crate) triggers: Vec<Trigger>,
    /// Standalone, or this server's role in its ensemble.
    pub(crate) role: Role,
    pub(crate) quorum: Option<Quorum>,
}

pub(crate) fn now_wall() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn frame(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&[0; 4]);
    build(&mut v);
    let n = (v.len() - 4) as i32;
    v[..4].copy_from_slice(&n.to_be_bytes());
    v
}

/// A decoded multi request.
enum MultiOp {
    Create {
        ty: i32,
        req: CreateTtlRequest,
    },
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathWatchRequest),
    GetData(PathWatchRequest),
    /// A create whose flags say TTL, sent without a ttl field.
    TtlWithoutTtl,
}

fn decode_multi(mut i: &[u8]) -> Result<Vec<MultiOp>, ()> {
    fn rd<T: Jute>(i: &mut &[u8]) -> Result<T, ()> {
        let (rest, v) = T::read(i).map_err(|_| ())?;
        *i = rest;
        Ok(v)
    }
    let mut ops = Vec::new();
    let (mut reads, mut writes) = (false, false);
    loop {
        let h: MultiHeader = rd(&mut i)?;
        if h.done {
            break;
        }
        let o = match h.r#type {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                let r: CreateRequest = rd(&mut i)?;
                // Op.create(path, data, acl, flags): the flags pick the opcode (unknown flags
                // mean PERSISTENT) but stay in the request, where prep rejects them.
                let mode = CreateMode::from_flags(r.flags).unwrap_or(CreateMode::Persistent);
                let req = CreateTtlRequest {
                    path: r.path,
                    data: r.data,
                    acl: r.acl,
                    flags: r.flags,
                    ttl: -1,
                };
                if mode.is_ttl() {
                    // A TTL opcode over a plain CreateRequest: ZooKeeper fails the whole
                    // request (a marshalling error) when it reaches this op.
                    MultiOp::TtlWithoutTtl
                } else {
                    MultiOp::Create {
                        ty: if mode.is_container() {
                            op::CREATE_CONTAINER
                        } else {
                            op::CREATE
                        },
                        req,
                    }
                }
            }
            op::CREATE_TTL => {
                let r: CreateTtlRequest = rd(&mut i)?;
                // Op.create(path, data, acl, flags, ttl) normalises the flags through the mode.
                let mode = CreateMode::from_flags(r.flags).unwrap_or(CreateMode::Persistent);
                let flags = mode.to_flags();
                let (ty, ttl) = if mode.is_ttl() {
                    (op::CREATE_TTL, r.ttl)
                } else if mode.is_container() {
                    (op::CREATE_CONTAINER, -1)
                } else {
                    (op::CREATE, -1)
                };
                MultiOp::Create {
                    ty,
                    req: CreateTtlRequest { flags, ttl, ..r },
                }
            }
            op::DELETE => MultiOp::Delete(rd(&mut i)?),
            op::SET_DATA => MultiOp::SetData(rd(&mut i)?),
            op::CHECK => MultiOp::Check(rd(&mut i)?),
            op::GET_CHILDREN => MultiOp::GetChildren(rd(&mut i)?),
            op::GET_DATA => MultiOp::GetData(rd(&mut i)?),
            _ => return Err(()),
        };
        match o {
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => reads = true,
            _ => writes = true,
        }
        if reads && writes {
            return Err(());
        }
        ops.push(o);
    }
    Ok(ops)
}

/// A read's outcome: error code or a response body.
type ReadResult = Result<Option<Vec<u8>>, i32>;

impl Core {
    pub fn new(
        cfg: Arc<Config>,
        tree: DataTree,
        stats: Arc<ServerStats>,
        inflight: Arc<AtomicUsize>,
    ) -> Core {
        let server_id = cfg.my_id.unwrap_or(0);
        let mut sessions = SessionTracker::new(cfg.tick_time, server_id, now_wall());
        let now = 0;
        for (&id, &to) in &tree.sessions {
            sessions.add(id, to, now);
        }
        let snap = cfg.snap_count;
        Core {
            cfg,
            tree,
            watches: WatchManager::default(),
            sessions,
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            stats,
            started: Instant::now(),
            server_id,
            inflight,
            outputs: Vec::new(),
            txns: Vec::new(),
            txns_since_snapshot: 0,
            snapshot_at: Self::next_snapshot_threshold(snap),
            last_reap: Instant::now(),
            events: Vec::new(),
            triggers: Vec::new(),
            role: Role::Standalone,
            quorum: None,
        }
    }

    /// Joins an ensemble: no client is served until the peer task hands over a role.
    pub(crate) fn set_quorum(&mut self, q: Quorum) {
        self.quorum = Some(q);
        self.role = Role::Looking;
        self.init_config_node();
    }

    /// A snapshot is taken after snapCount/2 + random(snapCount/2) txns, as ZooKeeper does,
    /// so the servers of an ensemble do not snapshot at once.
    fn next_snapshot_threshold(snap_count: u64) -> u64 {
        let half = (snap_count / 2).max(1);
        let r = (now_wall() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
        half + r % half
    }

    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// Milliseconds since start, the session tracker's clock.
    fn now(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    pub(crate) fn send(&mut self, conn: ConnId, out: Out) {
        if let Some(c) = self.conns.get(&conn) {
            self.outputs.push((c.tx.clone(), out));
        }
    }

    pub(crate) fn reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        e: i32,
        body: Option<&[u8]>,
        received: Option<Instant>,
    ) {
        // ZooKeeper sends the body only with success (multiRead's partial body is the one
        // exception, see `send_reply`).
        self.send_reply(conn, xid, zxid, e, body.filter(|_| e == 0), received);
    }

    /// A reply frame with exactly the body given.
    pub(crate) fn send_reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        e: i32,
        body: Option<&[u8]>,
        received: Option<Instant>,
    ) {
        let f = frame(|v| {
            ReplyHeader { xid, zxid, err: e }.write(v);
            if let Some(b) = body {
                v.extend_from_slice(b);
            }
        });
        if let Some(c) = self.conns.get(&conn) {
            c.stats.on_reply(xid, zxid, e);
        }
        self.send(conn, Out::Reply(f, received));
    }

    /// A watch notification (xid -1, zxid -1 in 3.8, state SyncConnected).
    fn notify(&mut self, conn: ConnId, ty: i32, path: String) {
        let f = frame(|v| {
            ReplyHeader {
                xid: xid::NOTIFICATION,
                zxid: -1,
                err: 0,
            }
            .write(v);
            WatcherEvent {
                r#type: ty,
                state: event::STATE_SYNC_CONNECTED,
                path,
            }
            .write(v);
        });
        self.send(conn, Out::Notify(f));
    }

    pub(crate) fn close_conn(&mut self, conn: ConnId) {
        self.send(conn, Out::Close);
    }

    /// Processes one message. Outputs accumulate until `flush`.
    pub fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Connect {
                conn,
                addr,
                tx,
                req,
                stats,
            } => self.connect(conn, addr, tx, req, stats),
            CoreMsg::Request {
                conn,
                xid,
                op,
                body,
                received,
            } => self.request(conn, xid, op, &body, received),
            CoreMsg::Closed { conn } => self.closed(conn),
            CoreMsg::FourLetter { cmd, asker, reply } => {
                let _ = reply.send(self.four_letter(&cmd, asker));
            }
            CoreMsg::BecomeLeader { gen, io } => self.become_leader(gen, io),
            CoreMsg::BecomeFollower { gen, io, leader } => self.become_follower(gen, io, leader),
            CoreMsg::LostLeader { gen, why } => self.lost_leader(gen, &why),
            CoreMsg::Zab { gen, ev } => self.zab_event(gen, ev),
            CoreMsg::Logged { zxid } => self.logged(zxid),
            CoreMsg::Shutdown => {}
        }
    }

    /// Periodic work: session expiry and the container/TTL reaper.
    pub fn tick(&mut self) {
        if self.quorum.is_some() && !self.quorum_tick() {
            return;
        }
        let now = self.now();
        for sid in self.sessions.expired(now) {
            tracing::info!(
                "expiring session 0x{sid:x}, timeout of {}ms exceeded",
                self.sessions.get(sid).map_or(0, |s| s.timeout)
            );
            self.close_session(sid, 0);
            if let Some(conn) = self.session_conn.remove(&sid) {
                self.close_conn(conn);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session = 0;
                }
            }
        }
        if self.last_reap.elapsed().as_millis() as u64 >= self.cfg.container_check_interval_ms {
            self.last_reap = Instant::now();
            self.reap_containers();
        }
    }

    fn reap_containers(&mut self) {
        let wall = now_wall();
        let mut doomed = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.get(&p) {
                if n.children.is_empty() && n.stat.cversion > 0 {
                    doomed.push(p);
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.get(&p) {
                if let EphemeralKind::Ttl(ttl) = EphemeralKind::of(n.stat.ephemeral_owner, true) {
                    if n.children.is_empty() && wall - n.stat.mtime > ttl {
                        doomed.push(p);
                    }
                }
            }
        }
        doomed.truncate(self.cfg.container_max_per_minute as usize);
        for p in doomed {
            // Submitted as session 0, like ZooKeeper's ContainerManager requests.
            let body = self
                .prep_delete_container(&p)
                .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e }));
            self.commit_txn(0, 0, body);
        }
    }

    fn connect(
        &mut self,
        conn: ConnId,
        addr: SocketAddr,
        tx: ConnTx,
        req: ConnectRequest,
        stats: Arc<ConnStats>,
    ) {
        let ip = addr.ip().to_string();
        self.conns.insert(
            conn,
            Conn {
                tx,
                addr,
                session: 0,
                timeout: 0,
                auth: vec![Id {
                    scheme: "ip".into(),
                    id: ip,
                }],
                stats,
            },
        );
        if !self.is_serving() {
            // ZooKeeper closes connections while it has no running server (LOOKING, or
            // still syncing with a leader); the client tries another server.
            tracing::debug!("not serving: closing new connection {conn} from {addr}");
            self.close_conn(conn);
            return;
        }
        if req.last_zxid_seen > self.tree.last_processed_zxid {
            tracing::info!(
                "refusing session request for client {addr} as it has seen zxid 0x{:x} our last zxid is 0x{:x} client must try another server",
                req.last_zxid_seen,
                self.tree.last_processed_zxid
            );
            self.close_conn(conn);
            return;
        }
        let timeout = self.cfg.negotiate_timeout(req.time_out);
        let old_client = req.read_only.is_none();
        if matches!(self.role, Role::Following(_)) {
            if req.session_id != 0 {
                if let Some(old) = self.session_conn.remove(&req.session_id) {
                    if old != conn {
                        self.close_conn(old);
                        if let Some(c) = self.conns.get_mut(&old) {
                            c.session = 0;
                        }
                    }
                }
            }
            let pw_ok = req.passwd.as_deref() == Some(&password(req.session_id)[..]);
            self.follower_connect(conn, req.session_id, pw_ok, timeout, old_client);
            return;
        }
        let respond =
            |valid: bool, sid: i64| Self::connect_response_frame(valid, sid, timeout, old_client);
        if req.session_id == 0 {
            let sid = self.sessions.next_id();
            self.sessions.add(sid, timeout, self.now());
            self.commit_txn(
                sid,
                0,
                TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
            );
            self.bind(conn, sid, timeout);
            tracing::debug!(
                "established session 0x{sid:x} with negotiated timeout {timeout} for client {addr}"
            );
            self.send(conn, Out::Reply(respond(true, sid), None));
        } else {
            let sid = req.session_id;
            if let Some(old) = self.session_conn.remove(&sid) {
                if old != conn {
                    self.close_conn(old);
                    if let Some(c) = self.conns.get_mut(&old) {
                        c.session = 0;
                    }
                }
            }
            let pw_ok = req.passwd.as_deref() == Some(&password(sid)[..]);
            let valid = pw_ok && self.sessions.touch(sid, Some(timeout), self.now());
            if !pw_ok {
                tracing::warn!("incorrect password from {addr} for session 0x{sid:x}");
            }
            if valid {
                self.bind(conn, sid, timeout);
                self.send(conn, Out::Reply(respond(true, sid), None));
            } else {
                tracing::info!("invalid session 0x{sid:x} for client {addr}, probably expired");
                self.send(conn, Out::Reply(respond(false, 0), None));
                self.close_conn(conn);
            }
        }
    }

    pub(crate) fn connect_response(
        &self,
        valid: bool,
        sid: i64,
        timeout: i32,
        old_client: bool,
    ) -> Vec<u8> {
        Self::connect_response_frame(valid, sid, timeout, old_client)
    }

    fn connect_response_frame(valid: bool, sid: i64, timeout: i32, old_client: bool) -> Vec<u8> {
        frame(|v| {
            ConnectResponse {
                protocol_version: 0,
                time_out: if valid { timeout } else { 0 },
                session_id: if valid { sid } else { 0 },
                passwd: Some(if valid {
                    password(sid).to_vec()
                } else {
                    vec![0; 16]
                }),
                read_only: if old_client { None } else { Some(false) },
            }
            .write(v)
        })
    }

    pub(crate) fn bind(&mut self, conn: ConnId, sid: i64, timeout: i32) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = sid;
            c.timeout = timeout;
            c.stats.set_session(sid, timeout);
        }
        self.session_conn.insert(sid, conn);
    }

    fn closed(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
        }
        self.watches.remove_conn(conn);
    }

    /// Assigns a zxid, logs and applies a transaction; returns the apply result.
    pub(crate) fn commit_txn(&mut self, client_id: i64, cxid: i32, body: TxnBody) -> TxnResult {
        let zxid = self.tree.last_processed_zxid + 1;
        let time = now_wall();
        let mut triggers = std::mem::take(&mut self.triggers);
        let rc = self.tree.apply(client_id, zxid, time, &body, &mut triggers);
        self.record_txn(client_id, cxid, zxid, time, body);
        self.deliver(&mut triggers);
        self.triggers = triggers;
        if let TxnResult {
            ty: op::CLOSE_SESSION,
            ..
        } = rc
        {
            self.sessions.remove(client_id);
        }
        rc
    }

    fn record_txn(&mut self, client_id: i64, cxid: i32, zxid: i64, time: i64, body: TxnBody) {
        let ty = body.type_code();
        // Failed writes carry no digest: ZooKeeper computes it only for a prepared change.
        let digest = if ty == op::ERROR {
            None
        } else {
            Some(TxnDigest {
                version: 2,
                tree_digest: self.tree.digest(),
            })
        };
        let entry = TxnEntry {
            hdr: TxnHeader {
                client_id,
                cxid,
                zxid,
                time,
                r#type: ty,
            },
            body,
            digest,
        };
        self.txns.push((zxid, entry.encode()));
        self.txns_since_snapshot += 1;
    }

    pub(crate) fn deliver(&mut self, triggers: &mut Vec<Trigger>) {
        let mut events = std::mem::take(&mut self.events);
        for t in triggers.drain(..) {
            self.watches.fire(&t, &mut events);
        }
        for (conn, ty, p, acl) in events.drain(..) {
            // Only watchers that may READ the node (the parent, for child events) are told.
            let allowed = acl::check(
                acl.as_deref().map(|a| a.as_slice()),
                crate::proto::perm::READ,
                self.auth_of(conn),
                self.cfg.skip_acl,
            );
            if allowed.is_err() {
                continue;
            }
            self.notify(conn, ty, p);
        }
        self.events = events;
    }

    pub(crate) fn close_session(&mut self, sid: i64, cxid: i32) -> TxnResult {
        self.sessions.set_closing(sid);
        let paths = self.tree.ephemerals_of(sid);
        self.commit_txn(
            sid,
            cxid,
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: paths,
            })),
        )
    }

    fn request(&mut self, conn: ConnId, xid: i32, opcode: i32, body: &[u8], received: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let sid = c.session;
        c.stats.on_request();
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        if sid == 0 {
            return;
        }
        if !self.is_serving() {
            self.close_conn(conn);
            return;
        }
        let now = self.now();
        self.sessions.touch(sid, None, now);
        if matches!(self.role, Role::Following(_))
            && self.follower_request(conn, sid, xid, opcode, body, received)
        {
            return;
        }
        self.serve_request(conn, sid, xid, opcode, body, received);
    }

    /// Answers one request here (standalone, leader, or a follower's local reads).
    pub(crate) fn serve_request(
        &mut self,
        conn: ConnId,
        sid: i64,
        xid: i32,
        opcode: i32,
        body: &[u8],
        received: Instant,
    ) {
        match opcode {
            op::PING => {
                let z = self.tree.last_processed_zxid;
                self.reply(conn, xid::PING, z, 0, None, Some(received));
            }
            op::AUTH => self.auth(conn, xid, body, received),
            op::SASL => {
                // Without SASL configured ZooKeeper answers OK with a null token.
                if GetSaslRequest::decode(body).is_err() {
                    self.close_conn(conn);
                    return;
                }
                let mut b = Vec::with_capacity(4);
                write_buffer(&mut b, None);
                self.reply(conn, xid, 0, 0, Some(&b), Some(received));
            }
            op::CLOSE_SESSION => {
                self.close_session(sid, xid);
                self.session_conn.remove(&sid);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session = 0;
                }
                let z = self.tree.last_processed_zxid;
                self.reply(conn, xid, z, 0, None, Some(received));
                self.close_conn(conn);
            }
            op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::SET_ACL
            | op::CHECK
            | op::RECONFIG => {
                let txn = self
                    .prep(conn, sid, opcode, body)
                    .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e }));
                let mut rc = self.commit_txn(sid, xid, txn);
                if opcode == op::CHECK && rc.err == 0 {
                    // Apache fails to answer a passing standalone check; we send the Stat.
                    rc.stat = self.tree.stat(&rc.path);
                }
                let z = self.tree.last_processed_zxid;
                let (e, rsp) = Self::write_response(opcode, &rc);
                self.reply(conn, xid, z, e, rsp.as_deref(), Some(received));
            }
            op::MULTI => {
                let rc = self.multi(conn, sid, xid, body);
                let z = self.tree.last_processed_zxid;
                match rc {
                    Ok(rc) => {
                        let rsp = Self::multi_response(&rc.multi);
                        self.reply(conn, xid, z, 0, Some(&rsp), Some(received));
                    }
                    Err(e) => self.reply(conn, xid, z, e, None, Some(received)),
                }
            }
            op::EXISTS
            | op::GET_DATA
            | op::GET_ACL
            | op::GET_CHILDREN
            | op::GET_CHILDREN2
            | op::SYNC
            | op::GET_ALL_CHILDREN_NUMBER
            | op::GET_EPHEMERALS
            | op::SET_WATCHES
            | op::SET_WATCHES2
            | op::ADD_WATCH
            | op::CHECK_WATCHES
            | op::REMOVE_WATCHES
            | op::WHO_AM_I => {
                let r = self.read(conn, sid, opcode, body);
                let z = self.tree.last_processed_zxid;
                match r {
                    Ok(b) => self.reply(conn, xid, z, 0, b.as_deref(), Some(received)),
                    Err(e) => self.reply(conn, xid, z, e, None, Some(received)),
                }
            }
            op::MULTI_READ => {
                let (e, rsp) = self.multi_read(conn, body);
                let z = self.tree.last_processed_zxid;
                self.send_reply(conn, xid, z, e, rsp.as_deref(), Some(received));
            }
            _ => {
                tracing::warn!("received packet of unknown type {opcode} from 0x{sid:x}; closing the connection");
                // An unprepared request carries zxid -1, and so does its reply.
                self.reply(conn, xid, -1, err::UNIMPLEMENTED, None, Some(received));
                self.close_conn(conn);
            }
        }
    }

    fn auth(&mut self, conn: ConnId, xid: i32, body: &[u8], received: Instant) {
        // The reply echoes the request's xid: Java and C send -4, other clients a normal xid.
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let ip = c.addr.ip().to_string();
        let r = match AuthPacket::decode(body) {
            Ok(p) => acl::authenticate(
                &p.scheme,
                p.auth.as_deref().unwrap_or(&[]),
                &ip,
                self.cfg.super_digest.as_deref(),
            ),
            Err(_) => {
                // An undecodable auth packet is an I/O error in ZooKeeper: no reply, close.
                tracing::warn!("closing connection from {}: malformed auth packet", c.addr);
                self.close_conn(conn);
                return;
            }
        };
        match r {
            Ok(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        if !c.auth.contains(&id) {
                            c.auth.push(id);
                        }
                    }
                }
                self.reply(conn, xid, 0, 0, None, Some(received));
            }
            Err(e) => {
                tracing::warn!("authentication failed for {}", c.addr);
                self.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                self.reply(conn, xid, 0, e, None, Some(received));
                self.close_conn(conn);
            }
        }
    }

    fn auth_of(&self, conn: ConnId) -> &[Id] {
        if conn == FORWARDED {
            return self.quorum.as_ref().map_or(&[], |q| q.fwd_auth.as_slice());
        }
        self.conns
            .get(&conn)
            .map(|c| c.auth.as_slice())
            .unwrap_or(&[])
    }

    fn check_acl(&self, conn: ConnId, node_acl: i64, perm: i32) -> Result<(), i32> {
        acl::check(
            self.tree.acls.lookup(node_acl),
            perm,
            self.auth_of(conn),
            self.cfg.skip_acl,
        )
    }

    /// Looks up a node for prep; "" is the root, as in ZooKeeper's parent-path slicing.
    fn record(&self, p: &str) -> Result<&crate::datatree::Node, i32> {
        let p = if p.is_empty() { "/" } else { p };
        self.tree.get(p).ok_or(err::NO_NODE)
    }

    fn validate(p: &str) -> Result<(), i32> {
        path::validate(p).map_err(|e| {
            tracing::info!("{e}");
            err::BAD_ARGUMENTS
        })
    }

    fn parent_for_create(p: &str) -> Result<&str, i32> {
        match p.rfind('/') {
            Some(i) if !p.contains('\0') => Ok(&p[..i]),
            _ => Err(err::BAD_ARGUMENTS),
        }
    }

    fn parent_for_delete(p: &str) -> Result<&str, i32> {
        let special = matches!(
            p,
            "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
        );
        match p.rfind('/') {
            Some(i) if !p.contains('\0') && !special => Ok(&p[..i]),
            _ => Err(err::BAD_ARGUMENTS),
        }
    }

    fn check_version(current: i32, expected: i32) -> Result<i32, i32> {
        if expected != -1 && expected != current {
            return Err(err::BAD_VERSION);
        }
        Ok(current.wrapping_add(1))
    }

    /// PrepRequestProcessor for single writes: a txn or the error to log.
    pub(crate) fn prep(
        &self,
        conn: ConnId,
        sid: i64,
        opcode: i32,
        body: &[u8],
    ) -> Result<TxnBody, i32> {
        let m = |_| err::MARSHALLING_ERROR;
        match opcode {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                let r = CreateRequest::decode(body).map_err(m)?;
                self.prep_create(
                    conn,
                    sid,
                    opcode,
                    CreateTtlRequest {
                        path: r.path,
                        data: r.data,
                        acl: r.acl,
                        flags: r.flags,
                        ttl: -1,
                    },
                )
            }
            op::CREATE_TTL => self.prep_create(
                conn,
                sid,
                opcode,
                CreateTtlRequest::decode(body).map_err(m)?,
            ),
            op::DELETE => self.prep_delete(conn, DeleteRequest::decode(body).map_err(m)?),
            // Only the container reaper may delete containers. ZooKeeper reads the path of a
            // client-sent deleteContainer from the whole packet, header included, so it
            // always holds a NUL and is refused as a bad path.
            op::DELETE_CONTAINER => Err(err::BAD_ARGUMENTS),
            op::SET_DATA => self.prep_set_data(conn, SetDataRequest::decode(body).map_err(m)?),
            op::SET_ACL => {
                let r = SetAclRequest::decode(body).map_err(m)?;
                Self::validate(&r.path)?;
                let acl = acl::fixup(&r.acl, self.auth_of(conn))?;
                let n = self.record(&r.path)?;
                self.check_acl(conn, n.acl, crate::proto::perm::ADMIN)?;
                let v = Self::check_version(n.stat.aversion, r.version)?;
                Ok(TxnBody::SetAcl(SetAclTxn {
                    path: r.path,
                    acl,
                    version: v,
                }))
            }
            op::CHECK => self.prep_check(conn, CheckVersionRequest::decode(body).map_err(m)?),
            op::RECONFIG => {
                ReconfigRequest::decode(body).map_err(m)?;
                // A standalone 3.8 server refuses reconfig: disabled, or unimplemented.
                Err(if self.cfg.reconfig_enabled {
                    err::UNIMPLEMENTED
                } else {
                    err::RECONFIG_DISABLED
                })
            }
            _ => Err(err::UNIMPLEMENTED),
        }
    }

    fn prep_create(
        &self,
        conn: ConnId,
        sid: i64,
        opcode: i32,
        r: CreateTtlRequest,
    ) -> Result<TxnBody, i32> {
        let mode = CreateMode::from_flags(r.flags).ok_or(err::BAD_ARGUMENTS)?;
        if mode.is_ttl() && !self.cfg.extended_types_enabled {
            return Err(err::UNIMPLEMENTED);
        }
        if mode.is_ttl() {
            if r.ttl > MAX_TTL || r.ttl <= 0 {
                return Err(err::BAD_ARGUMENTS);
            }
        } else if r.ttl >= 0 {
            return Err(err::BAD_ARGUMENTS);
        }
        let parent_path = Self::parent_for_create(&r.path)?;
        let acl = acl::fixup(&r.acl, self.auth_of(conn))?;
        let parent = self.record(parent_path)?;
        self.check_acl(conn, parent.acl, crate::proto::perm::CREATE)?;
        let mut p = r.path;
        if mode.is_sequential() {
            p = format!("{p}{:010}", parent.stat.cversion);
        }
        Self::validate(&p)?;
        if self.tree.get(&p).is_some() {
            return Err(err::NODE_EXISTS);
        }
        if matches!(
            EphemeralKind::of(parent.stat.ephemeral_owner, self.cfg.extended_types_enabled),
            EphemeralKind::Normal(_)
        ) {
            return Err(err::NO_CHILDREN_FOR_EPHEMERALS);
        }
        let cv = parent.stat.cversion + 1;
        Ok(match opcode {
            op::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn {
                path: p,
                data: r.data,
                acl,
                parent_c_version: cv,
            }),
            op::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn {
                path: p,
                data: r.data,
                acl,
                parent_c_version: cv,
                ttl: r.ttl,
            }),
            _ => {
                let _ = sid;
                let t = CreateTxn {
                    path: p,
                    data: r.data,
                    acl,
                    ephemeral: mode.is_ephemeral(),
                    parent_c_version: cv,
                };
                if opcode == op::CREATE2 {
                    TxnBody::Create2(t)
                } else {
                    TxnBody::Create(t)
                }
            }
        })
    }

    fn prep_delete(&self, conn: ConnId, r: DeleteRequest) -> Result<TxnBody, i32> {
        let parent_path = Self::parent_for_delete(&r.path)?;
        let parent = self.record(parent_path)?;
        self.check_acl(conn, parent.acl, crate::proto::perm::DELETE)?;
        let n = self.record(&r.path)?;
        Self::check_version(n.stat.version, r.version)?;
        if !n.children.is_empty() {
            return Err(err::NOT_EMPTY);
        }
        Ok(TxnBody::Delete(DeleteTxn { path: r.path }))
    }

    fn prep_delete_container(&self, p: &str) -> Result<TxnBody, i32> {
        let parent_path = Self::parent_for_delete(p)?;
        let n = self.record(p)?;
        if !n.children.is_empty() {
            return Err(err::NOT_EMPTY);
        }
        if matches!(
            EphemeralKind::of(n.stat.ephemeral_owner, self.cfg.extended_types_enabled),
            EphemeralKind::Normal(_)
        ) {
            return Err(err::BAD_VERSION);
        }
        self.record(parent_path)?;
        Ok(TxnBody::DeleteContainer(DeleteTxn { path: p.to_owned() }))
    }

    fn prep_set_data(&self, conn: ConnId, r: SetDataRequest) -> Result<TxnBody, i32> {
        Self::validate(&r.path)?;
        let n = self.record(&r.path)?;
        self.check_acl(conn, n.acl, crate::proto::perm::WRITE)?;
        let v = Self::check_version(n.stat.version, r.version)?;
        Ok(TxnBody::SetData(SetDataTxn {
            path: r.path,
            data: r.data,
            version: v,
        }))
    }

    fn prep_check(&self, conn: ConnId, r: CheckVersionRequest) -> Result<TxnBody, i32> {
        Self::validate(&r.path)?;
        let n = self.record(&r.path)?;
        self.check_acl(conn, n.acl, crate::proto::perm::READ)?;
        let v = Self::check_version(n.stat.version, r.version)?;
        Ok(TxnBody::Check(CheckVersionTxn {
            path: r.path,
            version: v,
        }))
    }

    /// Response for a single write: (err, body).
    pub(crate) fn write_response(opcode: i32, rc: &TxnResult) -> (i32, Option<Vec<u8>>) {
        if rc.err != 0 {
            return (rc.err, None);
        }
        let stat = rc.stat.clone().unwrap_or_default();
        let body = match opcode {
            op::CREATE => Some(
                CreateResponse {
                    path: rc.path.clone(),
                }
                .to_bytes(),
            ),
            op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => Some(
                Create2Response {
                    path: rc.path.clone(),
                    stat,
                }
                .to_bytes(),
            ),
            op::SET_DATA | op::SET_ACL | op::CHECK => Some(StatResponse { stat }.to_bytes()),
            _ => None,
        };
        (0, body)
    }

    /// multi: each op is prepared and applied in turn so later ops see earlier ones; if one
    /// fails, the applied ones are rolled back and the multi is logged with error sub-txns.
    pub(crate) fn multi(
        &mut self,
        conn: ConnId,
        sid: i64,
        cxid: i32,
        body: &[u8],
    ) -> Result<TxnResult, i32> {
        let ops = match decode_multi(body) {
            Ok(ops) => ops,
            Err(()) => {
                self.commit_txn(
                    sid,
                    cxid,
                    TxnBody::Error(ErrorTxn {
                        err: err::MARSHALLING_ERROR,
                    }),
                );
                return Err(err::MARSHALLING_ERROR);
            }
        };
        if ops
            .iter()
            .any(|o| matches!(o, MultiOp::GetChildren(_) | MultiOp::GetData(_)))
        {
            // Reads sent as a transaction cannot be prepared: a marshalling error, logged.
            self.commit_txn(
                sid,
                cxid,
                TxnBody::Error(ErrorTxn {
                    err: err::MARSHALLING_ERROR,
                }),
            );
            return Err(err::MARSHALLING_ERROR);
        }
        let zxid = self.tree.last_processed_zxid + 1;
        let time = now_wall();
        let mut saved = Vec::new();
        let mut subs = Vec::with_capacity(ops.len());
        let mut results = Vec::with_capacity(ops.len());
        let mut failed: Option<i32> = None;
        let mut triggers = std::mem::take(&mut self.triggers);
        for o in ops {
            if failed.is_some() {
                subs.push(TxnBody::Error(ErrorTxn {
                    err: err::RUNTIME_INCONSISTENCY,
                }));
                continue;
            }
            let prepped = match o {
                MultiOp::Create { ty, req } => self.prep_create(conn, sid, ty, req),
                MultiOp::Delete(r) => self.prep_delete(conn, r),
                MultiOp::SetData(r) => self.prep_set_data(conn, r),
                MultiOp::Check(r) => self.prep_check(conn, r),
                MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(err::MARSHALLING_ERROR),
                MultiOp::TtlWithoutTtl => {
                    // The whole request fails as ZooKeeper's ClassCastException does: undo,
                    // log a marshalling error, answer -5.
                    triggers.clear();
                    for s in saved.drain(..).rev() {
                        self.tree.restore(s);
                    }
                    self.triggers = triggers;
                    self.commit_txn(
                        sid,
                        cxid,
                        TxnBody::Error(ErrorTxn {
                            err: err::MARSHALLING_ERROR,
                        }),
                    );
                    return Err(err::MARSHALLING_ERROR);
                }
            };
            match prepped {
                Ok(t) => {
                    let p = match &t {
                        TxnBody::Create(c) | TxnBody::Create2(c) => c.path.clone(),
                        TxnBody::CreateContainer(c) => c.path.clone(),
                        TxnBody::CreateTtl(c) => c.path.clone(),
                        TxnBody::Delete(d) => d.path.clone(),
                        TxnBody::SetData(d) => d.path.clone(),
                        TxnBody::Check(c) => c.path.clone(),
                        _ => String::new(),
                    };
                    if !p.is_empty() {
                        if let Some(parent) = path::parent(&p) {
                            saved.push(self.tree.save(parent));
                        }
                        saved.push(self.tree.save(&p));
                        if let Some(q) = self.tree.quota_stat_node(&p) {
                            saved.push(self.tree.save(&q));
                        }
                    }
                    let rc = self.tree.apply_sub(sid, zxid, time, &t, &mut triggers);
                    results.push(rc);
                    subs.push(t);
                }
                Err(e) => {
                    failed = Some(e);
                    subs.push(TxnBody::Error(ErrorTxn { err: e }));
                }
            }
        }
        let body = TxnBody::Multi(subs);
        let rc = if failed.is_some() {
            triggers.clear();
            for s in saved.into_iter().rev() {
                self.tree.restore(s);
            }
            self.tree.apply(sid, zxid, time, &body, &mut triggers)
        } else {
            self.tree.last_processed_zxid = zxid;
            TxnResult {
                ty: op::MULTI,
                multi: results,
                ..Default::default()
            }
        };
        self.record_txn(sid, cxid, zxid, time, body);
        self.deliver(&mut triggers);
        self.triggers = triggers;
        Ok(rc)
    }

    pub(crate) fn multi_response(results: &[TxnResult]) -> Vec<u8> {
        let mut v = Vec::new();
        for r in results {
            if r.ty == op::ERROR || r.err != 0 {
                MultiHeader {
                    r#type: op::ERROR,
                    done: false,
                    err: r.err,
                }
                .write(&mut v);
                ErrorResponse { err: r.err }.write(&mut v);
                continue;
            }
            match r.ty {
                op::CREATE => {
                    MultiHeader {
                        r#type: op::CREATE,
                        done: false,
                        err: 0,
                    }
                    .write(&mut v);
                    CreateResponse {
                        path: r.path.clone(),
                    }
                    .write(&mut v);
                }
                op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => {
                    MultiHeader {
                        r#type: op::CREATE2,
                        done: false,
                        err: 0,
                    }
                    .write(&mut v);
                    Create2Response {
                        path: r.path.clone(),
                        stat: r.stat.clone().unwrap_or_default(),
                    }
                    .write(&mut v);
                }
                op::DELETE | op::DELETE_CONTAINER => MultiHeader {
                    r#type: op::DELETE,
                    done: false,
                    err: 0,
                }
                .write(&mut v),
                op::CHECK => MultiHeader {
                    r#type: op::CHECK,
                    done: false,
                    err: 0,
                }
                .write(&mut v),
                op::SET_DATA => {
                    MultiHeader {
                        r#type: op::SET_DATA,
                        done: false,
                        err: 0,
                    }
                    .write(&mut v);
                    StatResponse {
                        stat: r.stat.clone().unwrap_or_default(),
                    }
                    .write(&mut v);
                }
                _ => {}
            }
        }
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(&mut v);
        v
    }

    /// FinalRequestProcessor for reads and watch management.
    fn read(&mut self, conn: ConnId, sid: i64, opcode: i32, body: &[u8]) -> ReadResult {
        let m = |_| err::MARSHALLING_ERROR;
        match opcode {
            op::EXISTS => {
                let r = PathWatchRequest::decode(body).map_err(m)?;
                if r.path.contains('\0') {
                    return Err(err::BAD_ARGUMENTS);
                }
                if r.watch {
                    self.watches.data.add(&r.path, conn, Mode::Standard);
                }
                let stat = self.tree.stat(&r.path).ok_or(err::NO_NODE)?;
                Ok(Some(StatResponse { stat }.to_bytes()))
            }
            op::GET_DATA => {
                let r = PathWatchRequest::decode(body).map_err(m)?;
                self.get_data(conn, &r.path, r.watch).map(Some)
            }
            op::GET_CHILDREN | op::GET_CHILDREN2 => {
                let r = PathWatchRequest::decode(body).map_err(m)?;
                let (children, stat) = self.get_children(conn, &r.path, r.watch)?;
                Ok(Some(if opcode == op::GET_CHILDREN {
                    StringsResponse { strings: children }.to_bytes()
                } else {
                    GetChildren2Response { children, stat }.to_bytes()
                }))
            }
            op::GET_ACL => {
                let r = PathRequest::decode(body).map_err(m)?;
                let n = self.tree.get(&r.path).ok_or(err::NO_NODE)?;
                self.check_acl(
                    conn,
                    n.acl,
                    crate::proto::perm::READ | crate::proto::perm::ADMIN,
                )?;
                let stat = self.tree.stat_of(n);
                let mut acl = self.tree.acls.get(n.acl);
                if self
                    .check_acl(conn, n.acl, crate::proto::perm::ADMIN)
                    .is_err()
                {
                    acl = acl::mask_digests(acl);
                }
                Ok(Some(GetAclResponse { acl, stat }.to_bytes()))
            }
            op::SYNC => {
                let r = PathRequest::decode(body).map_err(m)?;
                Ok(Some(SyncResponse { path: r.path }.to_bytes()))
            }
            op::GET_ALL_CHILDREN_NUMBER => {
                let r = PathRequest::decode(body).map_err(m)?;
                let n = self.tree.get(&r.path).ok_or(err::NO_NODE)?;
                self.check_acl(conn, n.acl, crate::proto::perm::READ)?;
                Ok(Some(
                    GetAllChildrenNumberResponse {
                        total_number: self.tree.all_children_number(&r.path),
                    }
                    .to_bytes(),
                ))
            }
            op::GET_EPHEMERALS => {
                let r = PathRequest::decode(body).map_err(m)?;
                // Java's trim() strips every char up to U+0020, and nothing else.
                let prefix = r.path.trim_matches(|c: char| c <= ' ');
                let all = self.tree.ephemerals_of(sid);
                let strings = if prefix.is_empty() || prefix == "/" {
                    all
                } else {
                    all.into_iter().filter(|p| p.starts_with(&r.path)).collect()
                };
                Ok(Some(StringsResponse { strings }.to_bytes()))
            }
            op::SET_WATCHES => {
                let r = SetWatches::decode(body).map_err(m)?;
                self.set_watches(
                    conn,
                    r.relative_zxid,
                    &r.data_watches,
                    &r.exist_watches,
                    &r.child_watches,
                    &[],
                    &[],
                );
                Ok(None)
            }
            op::SET_WATCHES2 => {
                let r = SetWatches2::decode(body).map_err(m)?;
                self.set_watches(
                    conn,
                    r.relative_zxid,
                    &r.data_watches,
                    &r.exist_watches,
                    &r.child_watches,
                    &r.persistent_watches,
                    &r.persistent_recursive_watches,
                );
                Ok(None)
            }
            op::ADD_WATCH => {
                let r = AddWatchRequest::decode(body).map_err(m)?;
                match r.mode {
                    0 => self.watches.add_persistent(&r.path, conn, false),
                    1 => self.watches.add_persistent(&r.path, conn, true),
                    _ => return Err(err::MARSHALLING_ERROR),
                }
                Ok(Some(ErrorResponse { err: 0 }.to_bytes()))
            }
            op::CHECK_WATCHES | op::REMOVE_WATCHES => {
                let r = WatchesRequest::decode(body).map_err(m)?;
                let (data, child) = match r.r#type {
                    1 => (false, true),
                    2 => (true, false),
                    3 => (true, true),
                    _ => return Err(err::MARSHALLING_ERROR),
                };
                let found = if opcode == op::CHECK_WATCHES {
                    let m = |r: Result<bool, ()>| r.map_err(|()| err::MARSHALLING_ERROR);
                    let c = if child {
                        m(self.watches.child.contains_any(&r.path))?
                    } else {
                        false
                    };
                    let d = if data {
                        m(self.watches.data.contains_any(&r.path))?
                    } else {
                        false
                    };
                    c || d
                } else {
                    let mut any = false;
                    if data {
                        any |= self.watches.data.remove(&r.path, conn);
                    }
                    if child {
                        any |= self.watches.child.remove(&r.path, conn);
                    }
                    any
                };
                if found {
                    Ok(None)
                } else {
                    Err(err::NO_WATCHER)
                }
            }
            op::WHO_AM_I => Ok(Some(
                WhoAmIResponse {
                    client_info: acl::client_infos(self.auth_of(conn)),
                }
                .to_bytes(),
            )),
            _ => Err(err::UNIMPLEMENTED),
        }
    }

    /// multiRead. Unlike other replies, a failure part-way still carries the results so
    /// far (ZooKeeper has built its MultiResponse before it meets a write op).
    fn multi_read(&mut self, conn: ConnId, body: &[u8]) -> (i32, Option<Vec<u8>>) {
        let Ok(ops) = decode_multi(body) else {
            return (err::MARSHALLING_ERROR, None);
        };
        let mut v = Vec::new();
        let mut e = 0;
        for o in ops {
            let (ty, r) = match o {
                MultiOp::GetChildren(r) => (
                    op::GET_CHILDREN,
                    self.get_children(conn, &r.path, false)
                        .map(|(c, _)| StringsResponse { strings: c }.to_bytes()),
                ),
                MultiOp::GetData(r) => (op::GET_DATA, self.get_data(conn, &r.path, false)),
                _ => {
                    e = err::MARSHALLING_ERROR;
                    break;
                }
            };
            match r {
                Ok(b) => {
                    MultiHeader {
                        r#type: ty,
                        done: false,
                        err: 0,
                    }
                    .write(&mut v);
                    v.extend_from_slice(&b);
                }
                Err(code) => {
                    MultiHeader {
                        r#type: op::ERROR,
                        done: false,
                        err: code,
                    }
                    .write(&mut v);
                    ErrorResponse { err: code }.write(&mut v);
                }
            }
        }
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(&mut v);
        (e, Some(v))
    }

    fn get_data(&mut self, conn: ConnId, p: &str, watch: bool) -> Result<Vec<u8>, i32> {
        let n = self.tree.get(p).ok_or(err::NO_NODE)?;
        self.check_acl(conn, n.acl, crate::proto::perm::READ)?;
        let mut out = Vec::with_capacity(n.data.as_ref().map_or(0, |d| d.len()) + 80);
        write_buffer(&mut out, n.data.as_deref());
        self.tree.stat_of(n).write(&mut out);
        if watch {
            self.watches.data.add(p, conn, Mode::Standard);
        }
        Ok(out)
    }

    fn get_children(
        &mut self,
        conn: ConnId,
        p: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), i32> {
        let n = self.tree.get(p).ok_or(err::NO_NODE)?;
        self.check_acl(conn, n.acl, crate::proto::perm::READ)?;
        let children: Vec<String> = n.children.iter().map(|c| c.to_string()).collect();
        let stat = self.tree.stat_of(n);
        if watch {
            self.watches.child.add(p, conn, Mode::Standard);
        }
        Ok((children, stat))
    }

    #[allow(clippy::too_many_arguments)]
    fn set_watches(
        &mut self,
        conn: ConnId,
        rel: i64,
        data: &[String],
        exist: &[String],
        child: &[String],
        persistent: &[String],
        recursive: &[String],
    ) {
        let mut events = Vec::new();
        for p in data {
            match self.tree.get(p) {
                None => events.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.stat.mzxid > rel => events.push((event::NODE_DATA_CHANGED, p.clone())),
                Some(_) => self.watches.data.add(p, conn, Mode::Standard),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(_) => events.push((event::NODE_CREATED, p.clone())),
                None => self.watches.data.add(p, conn, Mode::Standard),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => events.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.stat.pzxid > rel => {
                    events.push((event::NODE_CHILDREN_CHANGED, p.clone()))
                }
                Some(_) => self.watches.child.add(p, conn, Mode::Standard),
            }
        }
        for p in persistent {
            self.watches.add_persistent(p, conn, false);
        }
        for p in recursive {
            self.watches.add_persistent(p, conn, true);
        }
        for (ty, p) in events {
            self.notify(conn, ty, p);
        }
    }

    /// Hands this batch's transactions and outputs on. Returns a snapshot job when due.
    pub fn flush(&mut self, sink: &mut dyn Sink) {
        if self.quorum.is_some() {
            self.quorum_flush(sink);
            return;
        }
        if self.txns.is_empty() && self.outputs.is_empty() {
            return;
        }
        let txns = std::mem::take(&mut self.txns);
        let outputs = std::mem::take(&mut self.outputs);
        if txns.is_empty() && self.inflight.load(Ordering::Acquire) == 0 {
            // Nothing unsynced can be revealed: deliver at once.
            for (tx, out) in outputs {
                deliver_out(&self.stats, &tx, out);
            }
        } else {
            self.inflight.fetch_add(1, Ordering::AcqRel);
            sink.commit(CommitJob::Batch { txns, outputs });
        }
        self.maybe_snapshot(sink);
    }

    /// Queues a snapshot every snapCount/2 + random(snapCount/2) txns.
    pub(crate) fn maybe_snapshot(&mut self, sink: &mut dyn Sink) {
        if self.txns_since_snapshot >= self.snapshot_at {
            self.txns_since_snapshot = 0;
            self.snapshot_at = Self::next_snapshot_threshold(self.cfg.snap_count);
            let bytes = self.snapshot_bytes();
            sink.commit(CommitJob::Snapshot {
                zxid: self.tree.last_processed_zxid,
                bytes,
            });
        }
    }

    /// Serializes the tree in ZooKeeper's snapshot format.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        crate::zkdb::snapshot_of(&self.tree)
    }
}

/// Sends one output to its connection, counting replies and their latency.
pub fn deliver_out(stats: &ServerStats, tx: &ConnTx, out: Out) {
    match &out {
        Out::Reply(_, Some(t)) => {
            stats.sent.fetch_add(1, Ordering::Relaxed);
            stats.record_latency(t.elapsed());
        }
        Out::Reply(_, None) | Out::Notify(_) => {
            stats.sent.fetch_add(1, Ordering::Relaxed);
        }
        Out::Close => {}
    }
    let _ = tx.send(out);
}
