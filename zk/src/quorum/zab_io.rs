//! The quorum-port (ZAB) socket layer, over tokio: moves [`ZabPacket`]s between TCP
//! connections and the pure state machines in `leader` and `learner`. No disk, no data tree.
//!
//! - Leader side: [`QuorumListener::bind`] accepts learner connections, gives each a
//!   [`ConnId`], decodes what they send (`Direction::ToLeader`) and reports
//!   [`LeaderEvent`]s on one channel. [`LeaderIo`] writes packets to a connection in the
//!   order they are handed over (one writer task and unbounded queue per connection, as
//!   Java's `LearnerHandler.queuedPackets`), and closes connections.
//! - Learner side: [`connect_to_leader`] dials the leader (`Learner.connectToLeader`), and
//!   returns a [`LearnerIo`] that writes packets in order and a channel of decoded
//!   [`LearnerEvent`]s (`Direction::ToLearner`). A SNAP packet, the snapshot stream body and
//!   the "BenWasHere" signature that follow it are delivered together as one
//!   [`LearnerEvent::Snapshot`].
//!
//! Any decoding error, EOF or I/O error ends the connection and is reported once as a
//! `Closed` event. A connection closed by the caller (`LeaderIo::disconnect`,
//! `LearnerIo::close`) is not reported. No SASL or TLS.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use super::leader::ConnId;
use super::zab_wire::{decode_snap_signature, Direction, PacketDecoder, ZabPacket, ZabWireError};
use crate::persist::snapshot::{decode_snapshot_stream_body, DecodedSnapshot, SnapshotError};

const READ_CHUNK: usize = 64 * 1024;
/// While a SNAP body is incomplete, it is re-parsed when the buffer has doubled or when the
/// socket has been quiet this long (so a large snapshot is not re-parsed per read).
const SNAP_QUIET: Duration = Duration::from_millis(20);
/// Pauses between connection attempts: the first one short, because a follower usually
/// decides in the same instant as the leader, which binds its port a moment later; then
/// doubling up to 1 s (`Learner.connectToLeader` sleeps 100 ms per attempt).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(20);
const RETRY_DELAY: Duration = Duration::from_millis(1000);

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("connection closed by peer")]
    Eof,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("bad quorum packet: {0}")]
    Wire(#[from] ZabWireError),
    #[error("bad SNAP stream body: {0}")]
    Snapshot(#[from] SnapshotError),
}

// ---------------------------------------------------------------------------------------------
// Shared reading and writing

enum WriteCmd {
    Bytes(Vec<u8>),
    Close,
}

/// Writes queued byte strings in order; ends at `Close`, when every sender is gone, or on
/// the first write error (returned).
async fn writer_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<WriteCmd>,
) -> Result<(), io::Error> {
    // Everything queued goes out in one write (Java's BufferedOutputStream, flushed when
    // the queue runs dry): a busy leader sends a PROPOSAL and a COMMIT per txn per learner.
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    'outer: while let Some(cmd) = rx.recv().await {
        let mut close = false;
        match cmd {
            WriteCmd::Bytes(b) => buf.extend_from_slice(&b),
            WriteCmd::Close => close = true,
        }
        while !close && buf.len() < 1 << 20 {
            match rx.try_recv() {
                Ok(WriteCmd::Bytes(b)) => buf.extend_from_slice(&b),
                Ok(WriteCmd::Close) => close = true,
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            w.write_all(&buf).await?;
            buf.clear();
        }
        if close {
            break 'outer;
        }
    }
    let _ = w.shutdown().await;
    Ok(())
}

/// Reads more bytes into `buf`; `Ok(false)` at EOF.
async fn fill(r: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> io::Result<bool> {
    let len = buf.len();
    buf.reserve(READ_CHUNK);
    let n = r.read_buf(buf).await?;
    debug_assert!(buf.len() == len + n);
    Ok(n > 0)
}

/// A SNAP stream body and signature at the front of `buf`: `Ok(Some((body, snapshot,
/// total bytes)))`, `Ok(None)` when more bytes are needed.
fn try_snap_body(buf: &[u8]) -> Result<Option<(DecodedSnapshot, usize, usize)>, IoError> {
    let mut cur = io::Cursor::new(buf);
    match decode_snapshot_stream_body(&mut cur) {
        Ok(snap) => {
            let body_len = cur.position() as usize;
            match decode_snap_signature(&buf[body_len..])? {
                Some(n) => Ok(Some((snap, body_len, body_len + n))),
                None => Ok(None),
            }
        }
        Err(SnapshotError::Truncated { .. }) => Ok(None),
        Err(SnapshotError::Stream(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Leader side

/// What the leader's connections report.
#[derive(Debug)]
pub enum LeaderEvent {
    /// A learner connected; nothing has been read yet.
    Connected { conn: ConnId, peer: SocketAddr },
    /// A decoded packet (feed it to `Leader::on_packet`).
    Packet { conn: ConnId, packet: ZabPacket },
    /// The connection ended on its own (feed `Leader::on_disconnect`).
    Closed { conn: ConnId, error: IoError },
}

struct LeaderConn {
    tx: mpsc::UnboundedSender<WriteCmd>,
    reader: AbortHandle,
}

struct LeaderShared {
    conns: Mutex<HashMap<ConnId, LeaderConn>>,
    events: mpsc::UnboundedSender<LeaderEvent>,
    next: AtomicU64,
    decoder: PacketDecoder,
}

impl LeaderShared {
    /// Forgets `conn` and reports why it ended, unless it was already forgotten.
    fn closed(&self, conn: ConnId, error: IoError) {
        let removed = self.conns.lock().unwrap().remove(&conn);
        if let Some(c) = removed {
            c.reader.abort();
            let _ = c.tx.send(WriteCmd::Close);
            tracing::debug!(conn, %error, "learner connection closed");
            let _ = self.events.send(LeaderEvent::Closed { conn, error });
        }
    }
}

/// The leader's quorum-port listener. Dropping it (or [`QuorumListener::shutdown`]) stops
/// accepting; open connections stay until disconnected.
pub struct QuorumListener {
    local: SocketAddr,
    accept: JoinHandle<()>,
    io: LeaderIo,
}

/// The leader's handle for writing to and closing learner connections. Cheap to clone.
#[derive(Clone)]
pub struct LeaderIo {
    shared: Arc<LeaderShared>,
}

impl QuorumListener {
    /// Binds `addr` and starts accepting learners. Returns the listener and the event
    /// channel.
    pub async fn bind(
        addr: SocketAddr,
        decoder: PacketDecoder,
    ) -> io::Result<(QuorumListener, mpsc::UnboundedReceiver<LeaderEvent>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (events, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(LeaderShared {
            conns: Mutex::new(HashMap::new()),
            events,
            next: AtomicU64::new(1),
            decoder,
        });
        let weak = Arc::downgrade(&shared);
        let accept = tokio::spawn(async move {
            loop {
                let (sock, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "quorum port accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(shared) = weak.upgrade() else { return };
                LeaderIo::adopt(&shared, sock, peer);
            }
        });
        let io = LeaderIo { shared };
        Ok((QuorumListener { local, accept, io }, rx))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The writer handle.
    pub fn io(&self) -> LeaderIo {
        self.io.clone()
    }

    /// Stops accepting and closes every learner connection.
    pub fn shutdown(&self) {
        self.accept.abort();
        self.io.disconnect_all();
    }
}

impl Drop for QuorumListener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl LeaderIo {
    fn adopt(shared: &Arc<LeaderShared>, sock: TcpStream, peer: SocketAddr) {
        let _ = sock.set_nodelay(true);
        let conn = shared.next.fetch_add(1, Ordering::Relaxed);
        let (r, w) = sock.into_split();
        let (tx, wrx) = mpsc::unbounded_channel();
        // Register before any task runs so that events and sends see the connection.
        let mut conns = shared.conns.lock().unwrap();
        let _ = shared.events.send(LeaderEvent::Connected { conn, peer });
        let reader = tokio::spawn(leader_reader(Arc::downgrade(shared), conn, r));
        conns.insert(
            conn,
            LeaderConn {
                tx,
                reader: reader.abort_handle(),
            },
        );
        drop(conns);
        let weak = Arc::downgrade(shared);
        tokio::spawn(async move {
            if let Err(e) = writer_loop(w, wrx).await {
                if let Some(s) = weak.upgrade() {
                    s.closed(conn, e.into());
                }
            }
        });
    }

    /// Queues `packet` for `conn`; false if the connection is gone.
    pub fn send(&self, conn: ConnId, packet: &ZabPacket) -> bool {
        self.send_raw(conn, packet.encode_to_vec())
    }

    /// Queues bytes already encoded for the quorum port (e.g. a whole SNAP sync built with
    /// `zab_wire::encode_snap_sync`); false if the connection is gone.
    pub fn send_raw(&self, conn: ConnId, bytes: Vec<u8>) -> bool {
        match self.shared.conns.lock().unwrap().get(&conn) {
            Some(c) => c.tx.send(WriteCmd::Bytes(bytes)).is_ok(),
            None => false,
        }
    }

    /// Closes `conn` after the packets already queued are written; no event follows.
    pub fn disconnect(&self, conn: ConnId) {
        let removed = self.shared.conns.lock().unwrap().remove(&conn);
        if let Some(c) = removed {
            c.reader.abort();
            let _ = c.tx.send(WriteCmd::Close);
        }
    }

    /// Closes every connection.
    pub fn disconnect_all(&self) {
        let all: Vec<ConnId> = self.shared.conns.lock().unwrap().keys().copied().collect();
        for c in all {
            self.disconnect(c);
        }
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<ConnId> {
        let mut v: Vec<ConnId> = self.shared.conns.lock().unwrap().keys().copied().collect();
        v.sort_unstable();
        v
    }
}

async fn leader_reader(shared: std::sync::Weak<LeaderShared>, conn: ConnId, mut r: OwnedReadHalf) {
    let decoder = match shared.upgrade() {
        Some(s) => s.decoder,
        None => return,
    };
    let mut buf = Vec::new();
    let error = loop {
        // Everything complete in the buffer first.
        let mut used = 0;
        let err = loop {
            match decoder.decode_typed(&buf[used..], Direction::ToLeader) {
                Ok(Some((packet, n))) => {
                    used += n;
                    let Some(s) = shared.upgrade() else { return };
                    let _ = s.events.send(LeaderEvent::Packet { conn, packet });
                }
                Ok(None) => break None,
                Err(e) => break Some(IoError::from(e)),
            }
        };
        buf.drain(..used);
        if let Some(e) = err {
            break e;
        }
        match fill(&mut r, &mut buf).await {
            Ok(true) => {}
            Ok(false) => break IoError::Eof,
            Err(e) => break e.into(),
        }
    };
    if let Some(s) = shared.upgrade() {
        s.closed(conn, error);
    }
}

// ---------------------------------------------------------------------------------------------
// Learner side

/// What the learner's connection reports.
#[derive(Debug)]
pub enum LearnerEvent {
    /// A decoded packet (feed it to `Learner::on_packet`). SNAP never comes this way.
    Packet(ZabPacket),
    /// A SNAP packet with the snapshot stream body that followed it (raw bytes, without
    /// the signature, and decoded). Feed `ZabPacket::Snap { zxid }` to `Learner::on_packet`
    /// and install the snapshot on `Action::InstallSnapshot`.
    Snapshot {
        zxid: i64,
        body: Vec<u8>,
        snapshot: DecodedSnapshot,
    },
    /// The connection ended on its own.
    Closed(IoError),
}

/// The learner's connection to the leader. Dropping it closes the connection.
pub struct LearnerIo {
    tx: mpsc::UnboundedSender<WriteCmd>,
    reader: AbortHandle,
    local: SocketAddr,
}

/// Dials the leader's quorum port: `retries` attempts (at least one), each bounded by
/// `timeout`, 20 ms apart at first, doubling up to 1 s. Returns the connection and its
/// event channel.
pub async fn connect_to_leader(
    addr: SocketAddr,
    retries: u32,
    timeout: Duration,
) -> io::Result<(LearnerIo, mpsc::UnboundedReceiver<LearnerEvent>)> {
    connect_with_decoder(addr, retries, timeout, PacketDecoder::default()).await
}

/// [`connect_to_leader`] with explicit decoder bounds.
pub async fn connect_with_decoder(
    addr: SocketAddr,
    retries: u32,
    timeout: Duration,
    decoder: PacketDecoder,
) -> io::Result<(LearnerIo, mpsc::UnboundedReceiver<LearnerEvent>)> {
    let attempts = retries.max(1);
    let mut last_err = io::Error::other("no connection attempt");
    let mut sock = None;
    let mut delay = FIRST_RETRY_DELAY;
    for i in 0..attempts {
        if i > 0 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_DELAY);
        }
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                sock = Some(s);
                break;
            }
            Ok(Err(e)) => last_err = e,
            Err(_) => last_err = io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        }
        tracing::warn!(%addr, attempt = i + 1, error = %last_err, "cannot connect to leader");
    }
    let Some(sock) = sock else {
        return Err(last_err);
    };
    let _ = sock.set_nodelay(true);
    let local = sock.local_addr()?;
    let (r, w) = sock.into_split();
    let (events, erx) = mpsc::unbounded_channel();
    let (tx, wrx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(learner_reader(r, events.clone(), decoder));
    let abort = reader.abort_handle();
    tokio::spawn(async move {
        if let Err(e) = writer_loop(w, wrx).await {
            // Report the write error; the reader may report EOF too, first one wins.
            abort.abort();
            let _ = events.send(LearnerEvent::Closed(e.into()));
        }
    });
    Ok((
        LearnerIo {
            tx,
            reader: reader.abort_handle(),
            local,
        },
        erx,
    ))
}

impl LearnerIo {
    /// Queues `packet`; false if the connection is closed.
    pub fn send(&self, packet: &ZabPacket) -> bool {
        self.tx
            .send(WriteCmd::Bytes(packet.encode_to_vec()))
            .is_ok()
    }

    /// Our end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Closes the connection after the packets already queued are written; no event
    /// follows.
    pub fn close(&self) {
        self.reader.abort();
        let _ = self.tx.send(WriteCmd::Close);
    }
}

impl Drop for LearnerIo {
    fn drop(&mut self) {
        self.close();
    }
}

async fn learner_reader(
    mut r: OwnedReadHalf,
    events: mpsc::UnboundedSender<LearnerEvent>,
    decoder: PacketDecoder,
) {
    let mut buf: Vec<u8> = Vec::new();
    // A SNAP whose body is still arriving, and the buffer size at the last parse attempt.
    let mut snap: Option<(i64, usize)> = None;
    let error = 'conn: loop {
        let mut used = 0;
        loop {
            if let Some((zxid, tried)) = snap {
                let avail = buf.len() - used;
                if avail < tried.saturating_mul(2).max(1) && tried != usize::MAX {
                    break;
                }
                match try_snap_body(&buf[used..]) {
                    Ok(Some((snapshot, body_len, total))) => {
                        let body = buf[used..used + body_len].to_vec();
                        used += total;
                        snap = None;
                        let _ = events.send(LearnerEvent::Snapshot {
                            zxid,
                            body,
                            snapshot,
                        });
                    }
                    Ok(None) => {
                        snap = Some((zxid, avail));
                        break;
                    }
                    Err(e) => break 'conn e,
                }
                continue;
            }
            match decoder.decode_typed(&buf[used..], Direction::ToLearner) {
                Ok(Some((ZabPacket::Snap { zxid }, n))) => {
                    used += n;
                    // Parse at once: usize::MAX marks "try now".
                    snap = Some((zxid, usize::MAX));
                }
                Ok(Some((packet, n))) => {
                    used += n;
                    let _ = events.send(LearnerEvent::Packet(packet));
                }
                Ok(None) => break,
                Err(e) => break 'conn e.into(),
            }
        }
        buf.drain(..used);
        if let Some((_, tried)) = snap.as_mut() {
            // Wait for more bytes, but re-parse if the socket goes quiet.
            match tokio::time::timeout(SNAP_QUIET, fill(&mut r, &mut buf)).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => break IoError::Eof,
                Ok(Err(e)) => break e.into(),
                Err(_) => *tried = usize::MAX,
            }
            continue;
        }
        match fill(&mut r, &mut buf).await {
            Ok(true) => {}
            Ok(false) => break IoError::Eof,
            Err(e) => break e.into(),
        }
    };
    tracing::debug!(%error, "leader connection closed");
    let _ = events.send(LearnerEvent::Closed(error));
}

#[cfg(test)]
mod tests {
    //! A real `Leader` and two real `Learner`s (three voters) over loopback TCP, with a toy
    //! in-memory disk: logs are Vecs, `on_logged` follows every batch of `Log`s, and applied
    //! zxids are recorded.

    use super::*;
    use crate::jute::{Jute, TxnHeader};
    use crate::quorum::leader::{self, Leader, LeaderConfig, LeaderInit};
    use crate::quorum::learner::{self, Learner, LearnerConfig, LearnerInit, LearnerRole};
    use crate::quorum::sync::NoTxnLog;
    use crate::quorum::zab_wire::{encode_snap_sync, make_zxid, TxnBytes};
    use std::time::Instant;

    const TICK: u64 = 50;
    /// The sessions in every snapshot the test leader sends.
    const SNAP_SESSIONS: [(i64, i32); 2] = [(0x77, 5000), (0x78, 6000)];

    fn txn(zxid: i64) -> TxnBytes {
        let mut v = TxnHeader {
            client_id: 1,
            cxid: 0,
            zxid,
            time: 0,
            r#type: -1,
        }
        .to_bytes();
        v.extend_from_slice(&(-101i32).to_be_bytes());
        Arc::from(v)
    }

    struct Node {
        sid: i64,
        m: Learner,
        io: LearnerIo,
        rx: mpsc::UnboundedReceiver<LearnerEvent>,
        log: Vec<i64>,
        applied: Vec<i64>,
        serving: bool,
        /// Sync ops received, in order ("DIFF", "TRUNC", "SNAP").
        syncs: Vec<&'static str>,
        /// Zxids of installed snapshots and of truncations.
        installed: Vec<i64>,
        truncated: Vec<i64>,
        /// Sessions of the last snapshot received.
        snap_sessions: Vec<(i64, i32)>,
    }

    impl Node {
        fn run(&mut self, mut actions: Vec<learner::Action>) {
            loop {
                let mut logged = None;
                for a in actions {
                    match a {
                        learner::Action::Send(p) => {
                            self.io.send(&p);
                        }
                        learner::Action::Log { zxid, .. } => {
                            assert!(self.log.last().is_none_or(|&l| l < zxid));
                            self.log.push(zxid);
                            logged = Some(zxid);
                        }
                        learner::Action::Apply { zxid, .. } => {
                            assert!(self.applied.last().is_none_or(|&l| l < zxid));
                            self.applied.push(zxid);
                        }
                        learner::Action::StartServing { .. } => self.serving = true,
                        learner::Action::InstallSnapshot { zxid } => {
                            // The snapshot replaces the data tree; logged txns above it
                            // are dropped.
                            self.installed.push(zxid);
                            self.applied.clear();
                            self.log.retain(|&z| z <= zxid);
                        }
                        learner::Action::Truncate { zxid } => {
                            self.truncated.push(zxid);
                            self.log.retain(|&z| z <= zxid);
                            self.applied.retain(|&z| z <= zxid);
                        }
                        learner::Action::LostLeader { reason } => {
                            panic!("learner {} lost the leader: {reason}", self.sid)
                        }
                        _ => {}
                    }
                }
                match logged {
                    Some(z) => actions = self.m.on_logged(z),
                    None => return,
                }
            }
        }
    }

    struct Ensemble {
        start: Instant,
        leader: Leader,
        lio: LeaderIo,
        lrx: mpsc::UnboundedReceiver<LeaderEvent>,
        committed: Vec<i64>,
        established: bool,
        /// Zxids of the SNAP streams the leader sent.
        snaps_sent: Vec<i64>,
        nodes: Vec<Option<Node>>,
    }

    impl Ensemble {
        fn now(&self) -> u64 {
            self.start.elapsed().as_millis() as u64
        }

        fn run_leader(&mut self, actions: Vec<leader::Action>) {
            for a in actions {
                match a {
                    leader::Action::Send { to, packet } => {
                        self.lio.send(to, &packet);
                    }
                    leader::Action::Disconnect { conn, reason } => {
                        tracing::info!(conn, %reason, "leader drops learner");
                        self.lio.disconnect(conn);
                    }
                    leader::Action::Established { .. } => self.established = true,
                    leader::Action::Commit { zxid } => {
                        assert!(self.committed.last().is_none_or(|&l| l < zxid));
                        self.committed.push(zxid);
                    }
                    leader::Action::SendSnapshot { to, zxid } => {
                        self.snaps_sent.push(zxid);
                        let mut buf = Vec::new();
                        let stat = crate::jute::StatPersisted::default();
                        let root = crate::persist::snapshot::SnapshotNode {
                            path: "/",
                            data: None,
                            acl_index: -1,
                            stat: &stat,
                        };
                        encode_snap_sync(
                            &mut buf,
                            zxid,
                            &SNAP_SESSIONS,
                            &[],
                            &mut std::iter::once(root),
                        );
                        self.lio.send_raw(to, buf);
                    }
                    leader::Action::StepDown { reason } => panic!("leader stepped down: {reason}"),
                    _ => {}
                }
            }
        }

        fn propose(&mut self) -> i64 {
            let zxid = self.leader.next_zxid();
            let now = self.now();
            let out = self.leader.propose(now, zxid, txn(zxid)).expect("propose");
            self.run_leader(out);
            // The leader's own log: durable at once.
            let out = self.leader.on_logged(zxid);
            self.run_leader(out);
            zxid
        }

        /// Delivers events and ticks until `done` holds.
        async fn run_until(&mut self, done: impl Fn(&Ensemble) -> bool) {
            let mut tick = tokio::time::interval(Duration::from_millis(TICK / 2));
            while !done(self) {
                async fn next(n: &mut Option<Node>) -> Option<LearnerEvent> {
                    match n {
                        Some(n) => n.rx.recv().await,
                        None => std::future::pending().await,
                    }
                }
                let (a, b) = self.nodes.split_at_mut(1);
                tokio::select! {
                    ev = self.lrx.recv() => {
                        let now = self.start.elapsed().as_millis() as u64;
                        let out = match ev.expect("leader events") {
                            LeaderEvent::Connected { .. } => Vec::new(),
                            LeaderEvent::Packet { conn, packet } => {
                                self.leader.on_packet(now, conn, packet)
                            }
                            LeaderEvent::Closed { conn, .. } => self.leader.on_disconnect(now, conn),
                        };
                        self.run_leader(out);
                    }
                    ev = next(&mut a[0]) => self.learner_event(0, ev),
                    ev = next(&mut b[0]) => self.learner_event(1, ev),
                    _ = tick.tick() => {
                        let now = self.now();
                        let out = self.leader.on_tick(now);
                        self.run_leader(out);
                        for n in self.nodes.iter_mut().flatten() {
                            let out = n.m.on_tick(now);
                            n.run(out);
                        }
                    }
                }
            }
        }

        fn learner_event(&mut self, i: usize, ev: Option<LearnerEvent>) {
            let now = self.now();
            let n = self.nodes[i].as_mut().unwrap();
            match ev.expect("learner events") {
                LearnerEvent::Packet(p) => {
                    match p {
                        ZabPacket::Diff { .. } => n.syncs.push("DIFF"),
                        ZabPacket::Trunc { .. } => n.syncs.push("TRUNC"),
                        ZabPacket::Snap { .. } => panic!("SNAP outside a Snapshot event"),
                        _ => {}
                    }
                    let out = n.m.on_packet(now, p);
                    n.run(out);
                }
                LearnerEvent::Snapshot { zxid, snapshot, .. } => {
                    n.syncs.push("SNAP");
                    n.snap_sessions = snapshot.sessions.clone();
                    let out = n.m.on_packet(now, ZabPacket::Snap { zxid });
                    n.run(out);
                }
                LearnerEvent::Closed(e) => panic!("learner {} connection closed: {e}", n.sid),
            }
        }
    }

    #[tokio::test]
    async fn leader_and_two_learners_over_tcp() {
        tokio::time::timeout(Duration::from_secs(15), ensemble())
            .await
            .expect("ensemble test timed out");
    }

    async fn ensemble() {
        let (listener, lrx) =
            QuorumListener::bind("127.0.0.1:0".parse().unwrap(), PacketDecoder::default())
                .await
                .unwrap();
        let mut cfg = LeaderConfig::new(1, [1, 2, 3].into_iter().collect(), TICK, 20, 10);
        cfg.config_text = b"version=0".to_vec();
        let mut leader = Leader::new(cfg, LeaderInit::default(), Box::new(NoTxnLog));
        let start = Instant::now();
        let out0 = leader.start(0);
        let mut e = Ensemble {
            start,
            leader,
            lio: listener.io(),
            lrx,
            committed: Vec::new(),
            established: false,
            snaps_sent: Vec::new(),
            nodes: Vec::new(),
        };
        e.run_leader(out0);
        for sid in [2i64, 3] {
            let (io, rx) = connect_to_leader(listener.local_addr(), 3, Duration::from_secs(2))
                .await
                .unwrap();
            let cfg = LearnerConfig {
                my_id: sid,
                role: LearnerRole::Follower,
                tick_time: TICK,
                init_limit: 20,
                sync_limit: 10,
                config_version: 0,
            };
            let mut m = Learner::new(cfg, LearnerInit::default());
            let out = m.start(e.now());
            let mut n = Node {
                sid,
                m,
                io,
                rx,
                log: Vec::new(),
                applied: Vec::new(),
                serving: false,
                syncs: Vec::new(),
                installed: Vec::new(),
                truncated: Vec::new(),
                snap_sessions: Vec::new(),
            };
            n.run(out);
            e.nodes.push(Some(n));
        }

        // Discovery and sync (DIFF from empty logs).
        e.run_until(|e| e.established && e.nodes.iter().flatten().all(|n| n.serving))
            .await;
        assert_eq!(e.leader.phase(), leader::Phase::Broadcast);
        assert_eq!(e.leader.epoch(), Some(1));
        assert_eq!(e.lio.connections().len(), 2);

        // Broadcast.
        let mut proposed = Vec::new();
        for _ in 0..5 {
            proposed.push(e.propose());
        }
        let expect: Vec<i64> = (1..=5).map(|c| make_zxid(1, c)).collect();
        assert_eq!(proposed, expect);
        let want = expect.clone();
        e.run_until(move |e| {
            e.committed == want && e.nodes.iter().flatten().all(|n| n.applied == want)
        })
        .await;
        for n in e.nodes.iter().flatten() {
            assert_eq!(n.log, expect, "learner {} log", n.sid);
        }

        // Close learner 3's socket: the leader notices, and leader + learner 2 still commit.
        let gone = e.nodes[1].take().unwrap();
        gone.io.close();
        drop(gone);
        e.run_until(|e| e.lio.connections().len() == 1 && e.leader.learners().len() == 1)
            .await;
        let mut more = Vec::new();
        for _ in 0..3 {
            more.push(e.propose());
        }
        let all: Vec<i64> = (1..=8).map(|c| make_zxid(1, c)).collect();
        let want = all.clone();
        e.run_until(move |e| e.committed == want && e.nodes[0].as_ref().unwrap().applied == want)
            .await;
        assert_eq!(e.leader.phase(), leader::Phase::Broadcast);
        assert_eq!(e.nodes[0].as_ref().unwrap().log, all);
        listener.shutdown();
    }

    #[tokio::test]
    async fn snap_sync_is_one_event_and_order_is_kept() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let (listener, mut lrx) =
                QuorumListener::bind("127.0.0.1:0".parse().unwrap(), PacketDecoder::default())
                    .await
                    .unwrap();
            let (io, mut rx) = connect_to_leader(listener.local_addr(), 1, Duration::from_secs(2))
                .await
                .unwrap();
            let conn = match lrx.recv().await.unwrap() {
                LeaderEvent::Connected { conn, .. } => conn,
                other => panic!("{other:?}"),
            };
            let lio = listener.io();
            // The SNAP sync arrives in pieces, in the middle of other packets.
            let mut snap = Vec::new();
            let sessions: Vec<(i64, i32)> = (0..20_000).map(|i| (i, 30_000)).collect();
            let stat = crate::jute::StatPersisted::default();
            let root = crate::persist::snapshot::SnapshotNode {
                path: "/",
                data: None,
                acl_index: -1,
                stat: &stat,
            };
            encode_snap_sync(
                &mut snap,
                0x500000007,
                &sessions,
                &[],
                &mut std::iter::once(root),
            );
            lio.send(
                conn,
                &ZabPacket::Diff {
                    zxid: 1,
                    check: None,
                },
            );
            let mid = snap.len() / 2;
            lio.send_raw(conn, snap[..mid].to_vec());
            tokio::time::sleep(Duration::from_millis(50)).await;
            lio.send_raw(conn, snap[mid..].to_vec());
            lio.send(conn, &ZabPacket::UpToDate);
            match rx.recv().await.unwrap() {
                LearnerEvent::Packet(ZabPacket::Diff { zxid: 1, .. }) => {}
                other => panic!("{other:?}"),
            }
            match rx.recv().await.unwrap() {
                LearnerEvent::Snapshot {
                    zxid,
                    body,
                    snapshot,
                } => {
                    assert_eq!(zxid, 0x500000007);
                    assert_eq!(snapshot.sessions, sessions);
                    assert!(!body.is_empty());
                }
                other => panic!("{other:?}"),
            }
            match rx.recv().await.unwrap() {
                LearnerEvent::Packet(ZabPacket::UpToDate) => {}
                other => panic!("{other:?}"),
            }
            // Learner → leader, then the learner closes: the leader sees EOF.
            io.send(&ZabPacket::Ack { zxid: 9 });
            io.close();
            match lrx.recv().await.unwrap() {
                LeaderEvent::Packet { conn: c, packet } => {
                    assert_eq!(c, conn);
                    assert_eq!(packet, ZabPacket::Ack { zxid: 9 });
                }
                other => panic!("{other:?}"),
            }
            match lrx.recv().await.unwrap() {
                LeaderEvent::Closed { conn: c, .. } => assert_eq!(c, conn),
                other => panic!("{other:?}"),
            }
            assert!(lio.connections().is_empty());
        })
        .await
        .expect("timed out");
    }

    // ---- SNAP, TRUNC and reconnect through the real machines ----------------------------

    /// A leader (sid 1 of voters 1, 2, 3) over `init`, bound on loopback, started.
    async fn start_ensemble(init: LeaderInit) -> (QuorumListener, Ensemble) {
        let (listener, lrx) =
            QuorumListener::bind("127.0.0.1:0".parse().unwrap(), PacketDecoder::default())
                .await
                .unwrap();
        let mut cfg = LeaderConfig::new(1, [1, 2, 3].into_iter().collect(), TICK, 20, 10);
        cfg.config_text = b"version=0".to_vec();
        let mut leader = Leader::new(cfg, init, Box::new(NoTxnLog));
        let out0 = leader.start(0);
        let mut e = Ensemble {
            start: Instant::now(),
            leader,
            lio: listener.io(),
            lrx,
            committed: Vec::new(),
            established: false,
            snaps_sent: Vec::new(),
            nodes: Vec::new(),
        };
        e.run_leader(out0);
        (listener, e)
    }

    /// A fresh `Learner` for `sid` over the logged state `log` (epochs as given), connected
    /// through `connect_to_leader` and started. `applied` is the node's data tree so far.
    async fn connect_node(
        e: &Ensemble,
        addr: SocketAddr,
        sid: i64,
        epochs: (i64, i64),
        log: Vec<i64>,
        applied: Vec<i64>,
    ) -> Node {
        let (io, rx) = connect_to_leader(addr, 3, Duration::from_secs(2))
            .await
            .unwrap();
        let cfg = LearnerConfig {
            my_id: sid,
            role: LearnerRole::Follower,
            tick_time: TICK,
            init_limit: 20,
            sync_limit: 10,
            config_version: 0,
        };
        let init = LearnerInit {
            accepted_epoch: epochs.0,
            current_epoch: epochs.1,
            last_logged_zxid: log.last().copied().unwrap_or(0),
        };
        let mut m = Learner::new(cfg, init);
        let out = m.start(e.now());
        let mut n = Node {
            sid,
            m,
            io,
            rx,
            log,
            applied,
            serving: false,
            syncs: Vec::new(),
            installed: Vec::new(),
            truncated: Vec::new(),
            snap_sessions: Vec::new(),
        };
        n.run(out);
        n
    }

    fn node(e: &Ensemble, i: usize) -> &Node {
        e.nodes[i].as_ref().unwrap()
    }

    async fn synced(e: &mut Ensemble) {
        e.run_until(|e| e.established && e.nodes.iter().flatten().all(|n| n.serving))
            .await;
        assert_eq!(e.leader.phase(), leader::Phase::Broadcast);
    }

    /// Proposes `k` txns and waits until the leader and every connected learner applied
    /// exactly `want` (the learners' applied lists are compared whole).
    async fn propose_and_apply(e: &mut Ensemble, k: usize, want: &[i64]) {
        for _ in 0..k {
            e.propose();
        }
        let want = want.to_vec();
        e.run_until(move |e| {
            e.committed.ends_with(&want[want.len() - k..])
                && e.nodes.iter().flatten().all(|n| n.applied == want)
        })
        .await;
    }

    #[tokio::test]
    async fn snap_sync_of_a_learner_from_an_older_epoch() {
        tokio::time::timeout(Duration::from_secs(15), async {
            // The leader's history is epoch 2's txns 1..3; learner 3 only knows epoch 1
            // (older than the committed log, and no txn-log source): SNAP.
            let hist: Vec<i64> = (1..=3).map(|c| make_zxid(2, c)).collect();
            let init = LeaderInit {
                accepted_epoch: 2,
                current_epoch: 2,
                last_processed_zxid: make_zxid(2, 3),
                committed_log: hist.iter().map(|&z| (z, txn(z))).collect(),
            };
            let (listener, mut e) = start_ensemble(init).await;
            let addr = listener.local_addr();
            let n2 = connect_node(&e, addr, 2, (2, 2), hist.clone(), Vec::new()).await;
            e.nodes.push(Some(n2));
            let old: Vec<i64> = (1..=5).map(|c| make_zxid(1, c)).collect();
            let n3 = connect_node(&e, addr, 3, (1, 1), old.clone(), old.clone()).await;
            e.nodes.push(Some(n3));
            synced(&mut e).await;
            assert_eq!(e.leader.epoch(), Some(3));
            assert_eq!(e.snaps_sent, vec![make_zxid(2, 3)]);
            assert_eq!(node(&e, 0).syncs, vec!["DIFF"]);
            assert_eq!(node(&e, 1).syncs, vec!["SNAP"]);
            assert_eq!(node(&e, 1).installed, vec![make_zxid(2, 3)]);
            assert_eq!(node(&e, 1).snap_sessions, SNAP_SESSIONS.to_vec());
            // The snapshot replaced the data tree (epoch-1 state gone); the log keeps only
            // txns at or below the snapshot's zxid (all of them here).
            assert!(node(&e, 1).applied.is_empty());
            assert_eq!(node(&e, 1).log, old);

            let want: Vec<i64> = (1..=4).map(|c| make_zxid(3, c)).collect();
            propose_and_apply(&mut e, 4, &want).await;
            assert_eq!(e.committed, want);
            let mut log2 = hist.clone();
            log2.extend(&want);
            assert_eq!(node(&e, 0).log, log2);
            let mut log3 = old.clone();
            log3.extend(&want);
            assert_eq!(node(&e, 1).log, log3);
            assert_eq!(node(&e, 0).applied, node(&e, 1).applied);
            listener.shutdown();
        })
        .await
        .expect("SNAP test timed out");
    }

    #[tokio::test]
    async fn trunc_drops_an_uncommitted_txn() {
        tokio::time::timeout(Duration::from_secs(15), async {
            // The leader committed epoch 1's txns 1..3; learner 3 also logged txn 4 of that
            // epoch, which nobody committed: TRUNC(1:3).
            let hist: Vec<i64> = (1..=3).map(|c| make_zxid(1, c)).collect();
            let init = LeaderInit {
                accepted_epoch: 1,
                current_epoch: 1,
                last_processed_zxid: make_zxid(1, 3),
                committed_log: hist.iter().map(|&z| (z, txn(z))).collect(),
            };
            let (listener, mut e) = start_ensemble(init).await;
            let addr = listener.local_addr();
            let n2 = connect_node(&e, addr, 2, (1, 1), hist.clone(), hist.clone()).await;
            e.nodes.push(Some(n2));
            let mut extra = hist.clone();
            extra.push(make_zxid(1, 4));
            let n3 = connect_node(&e, addr, 3, (1, 1), extra.clone(), hist.clone()).await;
            e.nodes.push(Some(n3));
            synced(&mut e).await;
            assert_eq!(e.leader.epoch(), Some(2));
            assert!(e.snaps_sent.is_empty());
            assert_eq!(node(&e, 0).syncs, vec!["DIFF"]);
            assert_eq!(node(&e, 1).syncs, vec!["TRUNC"]);
            assert_eq!(node(&e, 1).truncated, vec![make_zxid(1, 3)]);
            assert_eq!(node(&e, 1).log, hist);

            let new: Vec<i64> = (1..=3).map(|c| make_zxid(2, c)).collect();
            let mut want = hist.clone();
            want.extend(&new);
            propose_and_apply(&mut e, 3, &want).await;
            assert_eq!(e.committed, new);
            assert_eq!(node(&e, 0).log, want);
            assert_eq!(node(&e, 1).log, want);
            assert!(!node(&e, 1).log.contains(&make_zxid(1, 4)));
            listener.shutdown();
        })
        .await
        .expect("TRUNC test timed out");
    }

    #[tokio::test]
    async fn learner_reconnects_and_catches_up_by_diff() {
        tokio::time::timeout(Duration::from_secs(15), async {
            let (listener, mut e) = start_ensemble(LeaderInit::default()).await;
            let addr = listener.local_addr();
            for sid in [2, 3] {
                let n = connect_node(&e, addr, sid, (0, 0), Vec::new(), Vec::new()).await;
                e.nodes.push(Some(n));
            }
            synced(&mut e).await;
            assert_eq!(e.leader.epoch(), Some(1));
            let z = |c| make_zxid(1, c);
            let first: Vec<i64> = (1..=5).map(z).collect();
            propose_and_apply(&mut e, 5, &first).await;

            // Learner 3 goes away; 3 commits happen without it.
            let gone = e.nodes[1].take().unwrap();
            let (log, applied) = (gone.log.clone(), gone.applied.clone());
            let epochs = (gone.m.accepted_epoch(), gone.m.current_epoch());
            assert_eq!(epochs, (1, 1));
            gone.io.close();
            drop(gone);
            e.run_until(|e| e.lio.connections().len() == 1 && e.leader.learners().len() == 1)
                .await;
            let second: Vec<i64> = (1..=8).map(z).collect();
            propose_and_apply(&mut e, 3, &second).await;

            // A fresh learner over its logged state reconnects: DIFF with txns 6..8.
            let mut n = connect_node(&e, addr, 3, epochs, log, applied).await;
            assert_eq!(n.log, first);
            n.serving = false;
            e.nodes[1] = Some(n);
            e.run_until(|e| node(e, 1).serving && node(e, 1).applied == second)
                .await;
            assert_eq!(node(&e, 1).syncs, vec!["DIFF"]);
            assert_eq!(node(&e, 1).log, second);
            assert_eq!(e.lio.connections().len(), 2);

            // Both learners apply later commits identically.
            let all: Vec<i64> = (1..=10).map(z).collect();
            propose_and_apply(&mut e, 2, &all).await;
            assert_eq!(e.committed, all);
            assert_eq!(node(&e, 0).log, all);
            assert_eq!(node(&e, 1).log, all);
            assert_eq!(e.leader.phase(), leader::Phase::Broadcast);
            listener.shutdown();
        })
        .await
        .expect("reconnect test timed out");
    }
}
