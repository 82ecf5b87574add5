//! The election-port connection manager (`QuorumCnxManager`), over tokio.
//!
//! It keeps at most one TCP connection per peer and moves election frames (`int len` +
//! payload) between those connections and the caller; it knows nothing about votes.
//!
//! Rules, as in Apache ZooKeeper 3.8 (spec §14.1):
//! - The dialing side first writes the initial message (`V1`, our sid, our election address).
//! - Only a connection dialed by the larger sid survives. A dialer whose sid is smaller
//!   writes its initial message and then closes (the peer dials back); a receiver whose sid
//!   is larger closes the incoming connection and dials back itself.
//! - A new connection for a sid replaces the old one.
//! - Each peer has a one-slot send queue: a newer message replaces an unsent older one
//!   (`SEND_CAPACITY = 1`). When a connection comes up with nothing queued, the last message
//!   sent to that peer is sent again, so the receiver must tolerate duplicates.
//! - Received frames go to one queue of 100 messages that drops the oldest when full
//!   (`RECV_CAPACITY`). A message to our own sid is delivered there directly.
//! - Frames must be `0 < len ≤ 512 KB`; anything else closes the connection.
//!
//! Deliberate differences: we dial back only sids in our configuration, at their
//! configured address (Java dials whatever address the initial message announced);
//! a connection from our own sid is closed (Java leaves it open); an id-less observer
//! (`OBSERVER_ID`) gets a synthetic id counting down from `u64::MAX` (Java uses negative
//! longs). No SASL, TLS or multi-address.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::election::{Action, Election, Notification, ServerState, TimerCmd, Vote};
use super::election_wire::{self, InitialMessage, WireError, OBSERVER_ID, PACKET_MAX_SIZE};

/// Capacity of the receive queue (`QuorumCnxManager.RECV_CAPACITY`).
pub const RECV_CAPACITY: usize = 100;

/// How the manager is set up.
#[derive(Debug, Clone)]
pub struct CnxConfig {
    /// Our server id.
    pub my_sid: u64,
    /// Where to listen for election connections.
    pub listen: SocketAddr,
    /// The `host:port` we announce in the initial message; defaults to the bound address.
    pub announce: Option<String>,
    /// Every other server's election address (`host:port`), voters and observers.
    pub peers: BTreeMap<u64, String>,
    /// Dial timeout (`cnxTO`, `zookeeper.cnxTimeout`, 5 s).
    pub connect_timeout: Duration,
    /// How long an accepted connection may take to send its initial message (Java uses
    /// the socket timeout, `initLimit × tickTime`).
    pub handshake_timeout: Duration,
}

impl CnxConfig {
    /// A config with Java's default timeouts.
    pub fn new(my_sid: u64, listen: SocketAddr, peers: BTreeMap<u64, String>) -> CnxConfig {
        CnxConfig {
            my_sid,
            listen,
            announce: None,
            peers,
            connect_timeout: Duration::from_millis(5000),
            handshake_timeout: Duration::from_millis(10_000),
        }
    }
}

/// One received frame (`QuorumCnxManager.Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sid the connection's initial message gave.
    pub from: u64,
    /// The frame payload (a notification, to be decoded by the caller).
    pub payload: Vec<u8>,
}

/// The receive queue: bounded, dropping the oldest message when full.
#[derive(Clone)]
pub struct RecvQueue {
    inner: Arc<RecvInner>,
}

struct RecvInner {
    q: Mutex<VecDeque<Message>>,
    ready: Notify,
    closed: AtomicBool,
}

impl RecvQueue {
    fn new() -> RecvQueue {
        RecvQueue {
            inner: Arc::new(RecvInner {
                q: Mutex::new(VecDeque::new()),
                ready: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        }
    }

    fn push(&self, m: Message) {
        let mut q = self.inner.q.lock().unwrap();
        if q.len() >= RECV_CAPACITY {
            q.pop_front();
        }
        q.push_back(m);
        drop(q);
        self.inner.ready.notify_one();
    }

    /// The next message, waiting for one; `None` once the manager is halted.
    pub async fn recv(&self) -> Option<Message> {
        loop {
            if let Some(m) = self.try_recv() {
                return Some(m);
            }
            if self.inner.closed.load(Ordering::Acquire) {
                return None;
            }
            self.inner.ready.notified().await;
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Option<Message> {
        self.inner.q.lock().unwrap().pop_front()
    }

    fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.ready.notify_one();
    }
}

/// Per-peer bookkeeping (`queueSendMap`, `lastMessageSent`, `senderWorkerMap`).
#[derive(Default)]
struct Peer {
    /// The one-slot send queue; `None` slot plus `has_queue` mirrors Java's map entry.
    queued: Option<Vec<u8>>,
    has_queue: bool,
    last_sent: Option<Vec<u8>>,
    conn: Option<Conn>,
    dialing: bool,
}

struct Conn {
    id: u64,
    close: Arc<watch::Sender<bool>>,
    /// Wakes this connection's sender when something is queued.
    wake: Arc<Notify>,
}

struct Inner {
    cfg: CnxConfig,
    announce: String,
    peers: Mutex<HashMap<u64, Peer>>,
    recv: RecvQueue,
    shutdown: AtomicBool,
    next_conn: AtomicU64,
    next_anon: AtomicU64,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// The election connection manager. Cheap to clone; all clones share one manager.
#[derive(Clone)]
pub struct QuorumCnxManager {
    inner: Arc<Inner>,
    local: SocketAddr,
}

impl QuorumCnxManager {
    /// Binds the election address and starts accepting. Returns the manager and the queue
    /// received frames arrive on.
    pub async fn start(cfg: CnxConfig) -> io::Result<(QuorumCnxManager, RecvQueue)> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let local = listener.local_addr()?;
        let announce = cfg.announce.clone().unwrap_or_else(|| local.to_string());
        let recv = RecvQueue::new();
        let inner = Arc::new(Inner {
            cfg,
            announce,
            peers: Mutex::new(HashMap::new()),
            recv: recv.clone(),
            shutdown: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            next_anon: AtomicU64::new(u64::MAX),
            listener: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Some(inner) = weak.upgrade() else { return };
                if inner.shutdown.load(Ordering::Acquire) {
                    return;
                }
                tokio::spawn(async move { inner.receive_connection(sock).await });
            }
        });
        *inner.listener.lock().unwrap() = Some(task);
        Ok((QuorumCnxManager { inner, local }, recv))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Our sid.
    pub fn my_sid(&self) -> u64 {
        self.inner.cfg.my_sid
    }

    /// Queues `payload` for `sid` (replacing anything not yet sent) and dials if there is no
    /// connection (`toSend`). A message to ourselves goes straight to the receive queue.
    pub fn to_send(&self, sid: u64, payload: Vec<u8>) {
        let inner = &self.inner;
        if sid == inner.cfg.my_sid {
            inner.recv.push(Message { from: sid, payload });
            return;
        }
        {
            let mut peers = inner.peers.lock().unwrap();
            let p = peers.entry(sid).or_default();
            p.has_queue = true;
            p.queued = Some(payload);
            if let Some(c) = &p.conn {
                c.wake.notify_one();
            }
        }
        inner.connect_one(sid);
    }

    /// Dials every peer we ever queued for that has no connection (`connectAll`).
    pub fn connect_all(&self) {
        let sids: Vec<u64> = {
            let peers = self.inner.peers.lock().unwrap();
            peers
                .iter()
                .filter(|(_, p)| p.has_queue)
                .map(|(s, _)| *s)
                .collect()
        };
        for sid in sids {
            self.inner.connect_one(sid);
        }
    }

    /// True if some peer's send queue is empty (`haveDelivered`; Java's check is "any", not
    /// "all").
    pub fn have_delivered(&self) -> bool {
        let peers = self.inner.peers.lock().unwrap();
        peers.values().any(|p| p.has_queue && p.queued.is_none())
    }

    /// True if there is a live connection to `sid`.
    pub fn connected_to(&self, sid: u64) -> bool {
        self.inner
            .peers
            .lock()
            .unwrap()
            .get(&sid)
            .is_some_and(|p| p.conn.is_some())
    }

    /// Stops listening, closes every connection and ends the receive queue.
    pub fn halt(&self) {
        let inner = &self.inner;
        inner.shutdown.store(true, Ordering::Release);
        if let Some(t) = inner.listener.lock().unwrap().take() {
            t.abort();
        }
        let mut peers = inner.peers.lock().unwrap();
        for p in peers.values_mut() {
            if let Some(c) = p.conn.take() {
                c.close.send_replace(true);
            }
        }
        drop(peers);
        inner.recv.close();
    }
}

impl Inner {
    fn connect_one(self: &Arc<Self>, sid: u64) {
        if self.shutdown.load(Ordering::Acquire) {
            return;
        }
        let Some(addr) = self.cfg.peers.get(&sid).cloned() else {
            tracing::warn!(sid, "invalid server id: not in the configuration");
            return;
        };
        {
            let mut peers = self.peers.lock().unwrap();
            let p = peers.entry(sid).or_default();
            if p.conn.is_some() || p.dialing {
                return;
            }
            p.dialing = true;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.initiate_connection(sid, &addr).await {
                tracing::debug!(sid, %addr, error = %e, "cannot open election channel");
            }
            if let Some(p) = me.peers.lock().unwrap().get_mut(&sid) {
                p.dialing = false;
            }
        });
    }

    /// `initiateConnection` + `startConnection`.
    async fn initiate_connection(self: &Arc<Self>, sid: u64, addr: &str) -> io::Result<()> {
        let mut sock = tokio::time::timeout(self.cfg.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        sock.set_nodelay(true)?;
        let init = InitialMessage::V1 {
            sid: self.cfg.my_sid as i64,
            addr: self.announce.clone(),
        };
        sock.write_all(&init.encode()).await?;
        sock.flush().await?;
        if sid > self.cfg.my_sid {
            // We lose the challenge: the larger sid dials us back.
            tracing::debug!(sid, "dropping our connection; the larger sid dials back");
            return Ok(());
        }
        self.start_workers(sock, sid, Vec::new());
        Ok(())
    }

    /// `receiveConnection` + `handleConnection`.
    async fn receive_connection(self: Arc<Self>, mut sock: TcpStream) {
        let _ = sock.set_nodelay(true);
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            self.cfg.handshake_timeout,
            read_initial(&mut sock, &mut buf),
        )
        .await;
        let (init, used) = match read {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "bad initial message on election port");
                return;
            }
            Err(_) => return,
        };
        let leftover = buf.split_off(used);
        let raw = init.sid();
        let sid = if raw == OBSERVER_ID {
            self.next_anon.fetch_sub(1, Ordering::Relaxed)
        } else if raw < 0 {
            tracing::warn!(sid = raw, "negative sid in initial message");
            return;
        } else {
            raw as u64
        };
        let my = self.cfg.my_sid;
        if sid < my {
            // We win the challenge: drop this connection (and any old one) and dial back.
            self.finish_current(sid);
            drop(sock);
            self.connect_one(sid);
        } else if sid == my {
            tracing::warn!("election connection from a server with our own id");
        } else {
            self.start_workers(sock, sid, leftover);
        }
    }

    fn finish_current(&self, sid: u64) {
        let mut peers = self.peers.lock().unwrap();
        if let Some(c) = peers.get_mut(&sid).and_then(|p| p.conn.take()) {
            c.close.send_replace(true);
        }
    }

    /// Registers `sock` as the connection to `sid` (closing any previous one) and starts its
    /// sender and receiver.
    fn start_workers(self: &Arc<Self>, sock: TcpStream, sid: u64, leftover: Vec<u8>) {
        if self.shutdown.load(Ordering::Acquire) {
            return;
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (close_tx, close_rx) = watch::channel(false);
        let close_tx = Arc::new(close_tx);
        let wake = Arc::new(Notify::new());
        {
            let mut peers = self.peers.lock().unwrap();
            let p = peers.entry(sid).or_default();
            if let Some(old) = p.conn.take() {
                old.close.send_replace(true);
            }
            p.has_queue = true;
            p.conn = Some(Conn {
                id,
                close: close_tx.clone(),
                wake: wake.clone(),
            });
        }
        tracing::debug!(sid, conn = id, "election connection up");
        let (r, w) = sock.into_split();
        let me = self.clone();
        let (c1, rx1) = (close_tx.clone(), close_rx.clone());
        tokio::spawn(async move {
            me.send_worker(sid, w, wake, rx1).await;
            me.finish(sid, id, &c1);
        });
        let me = self.clone();
        tokio::spawn(async move {
            me.recv_worker(sid, r, leftover, close_rx).await;
            me.finish(sid, id, &close_tx);
        });
    }

    fn finish(&self, sid: u64, id: u64, close: &watch::Sender<bool>) {
        close.send_replace(true);
        let mut peers = self.peers.lock().unwrap();
        if let Some(p) = peers.get_mut(&sid) {
            if p.conn.as_ref().is_some_and(|c| c.id == id) {
                p.conn = None;
                tracing::debug!(sid, conn = id, "election connection down");
            }
        }
    }

    /// `SendWorker.run`: first the last message if nothing newer is queued, then the queue.
    async fn send_worker(
        &self,
        sid: u64,
        mut w: OwnedWriteHalf,
        wake: Arc<Notify>,
        mut close: watch::Receiver<bool>,
    ) {
        let resend = {
            let peers = self.peers.lock().unwrap();
            peers
                .get(&sid)
                .filter(|p| p.queued.is_none())
                .and_then(|p| p.last_sent.clone())
        };
        if let Some(m) = resend {
            if write_frame(&mut w, &m).await.is_err() {
                return;
            }
        }
        loop {
            if *close.borrow() || self.shutdown.load(Ordering::Acquire) {
                return;
            }
            let next = {
                let mut peers = self.peers.lock().unwrap();
                peers.get_mut(&sid).and_then(|p| {
                    let m = p.queued.take()?;
                    p.last_sent = Some(m.clone());
                    Some(m)
                })
            };
            match next {
                Some(m) => {
                    if write_frame(&mut w, &m).await.is_err() {
                        return;
                    }
                }
                None => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = close.changed() => {}
                    }
                }
            }
        }
    }

    /// `RecvWorker.run`: frames to the receive queue until the connection breaks.
    async fn recv_worker(
        &self,
        sid: u64,
        mut r: OwnedReadHalf,
        mut buf: Vec<u8>,
        mut close: watch::Receiver<bool>,
    ) {
        loop {
            loop {
                match election_wire::decode_frame(&buf) {
                    Ok(Some((payload, used))) => {
                        let payload = payload.to_vec();
                        buf.drain(..used);
                        self.recv.push(Message { from: sid, payload });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(sid, error = %e, "closing election connection");
                        return;
                    }
                }
            }
            if *close.borrow() {
                return;
            }
            let mut chunk = [0u8; 8192];
            tokio::select! {
                n = r.read(&mut chunk) => match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                _ = close.changed() => return,
            }
            // A frame never needs more than its header plus PACKET_MAX_SIZE bytes.
            debug_assert!(buf.len() <= 4 + PACKET_MAX_SIZE + chunk.len());
        }
    }
}

async fn write_frame(w: &mut OwnedWriteHalf, payload: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(4 + payload.len());
    election_wire::encode_frame(payload, &mut out);
    w.write_all(&out).await?;
    w.flush().await
}

/// Reads until `buf` holds a whole initial message; returns it and the bytes it used.
async fn read_initial<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<(InitialMessage, usize)> {
    loop {
        match InitialMessage::decode(buf) {
            Ok(Some(x)) => return Ok(x),
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        let mut chunk = [0u8; 2100];
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

// -------------------------------------------------------------------------------------------
// Glue: one election over the manager.

/// Runs an [`Election`] over a [`QuorumCnxManager`]: decodes received frames, encodes the
/// machine's messages with `config_text`, and keeps its timer.
pub struct ElectionDriver {
    pub election: Election,
    pub cnx: QuorumCnxManager,
    pub recv: RecvQueue,
    /// The QuorumMaj text put in every notification we send.
    pub config_text: String,
    deadline: Option<tokio::time::Instant>,
}

/// What [`ElectionDriver::step`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// A notification arrived and was decoded.
    Received(u64, Notification),
    /// A frame from `from` failed to decode.
    Malformed(u64, WireError),
    /// The timer fired.
    Timeout,
    /// The election decided.
    Decided(ServerState, Vote),
    /// The manager was halted.
    Closed,
}

impl ElectionDriver {
    pub fn new(
        election: Election,
        cnx: QuorumCnxManager,
        recv: RecvQueue,
        config_text: String,
    ) -> ElectionDriver {
        ElectionDriver {
            election,
            cnx,
            recv,
            config_text,
            deadline: None,
        }
    }

    /// Starts a round (`Election::start`).
    pub fn start(&mut self) -> Option<(ServerState, Vote)> {
        let r = self.election.start();
        self.apply(r, false)
    }

    /// Waits for one input (a frame or the timer), feeds it to the election and carries out
    /// the result. Returns every event for logging and tests, the decision among them.
    pub async fn step(&mut self) -> Vec<DriverEvent> {
        let mut events = Vec::new();
        let deadline = self.deadline;
        let msg = tokio::select! {
            m = self.recv.recv() => m,
            _ = sleep_until(deadline) => {
                self.deadline = None;
                events.push(DriverEvent::Timeout);
                let r = self.election.on_timeout();
                if let Some((s, v)) = self.apply(r, true) {
                    events.push(DriverEvent::Decided(s, v));
                }
                return events;
            }
        };
        let Some(m) = msg else {
            events.push(DriverEvent::Closed);
            return events;
        };
        match Notification::decode(&m.payload) {
            Ok(n) => {
                events.push(DriverEvent::Received(m.from, n.clone()));
                let r = self.election.on_notification(m.from, n);
                if let Some((s, v)) = self.apply(r, false) {
                    events.push(DriverEvent::Decided(s, v));
                }
            }
            Err(e) => events.push(DriverEvent::Malformed(m.from, e)),
        }
        events
    }

    fn apply(&mut self, r: super::election::Ready, timeout: bool) -> Option<(ServerState, Vote)> {
        // On a timeout Java re-sends only if some queue has drained, otherwise it redials.
        let resend = !timeout || self.cnx.have_delivered();
        let mut decided = None;
        for a in r.actions {
            match a {
                Action::Send { to, msg } => {
                    if resend || msg.state != ServerState::Looking {
                        self.cnx
                            .to_send(to, msg.encode(self.config_text.as_bytes()));
                    }
                }
                Action::Decided { state, vote } => decided = Some((state, vote)),
            }
        }
        if timeout && !resend {
            self.cnx.connect_all();
        }
        match r.timer {
            TimerCmd::Unchanged => {}
            TimerCmd::Set(d) => self.deadline = Some(tokio::time::Instant::now() + d),
            TimerCmd::Cancel => self.deadline = None,
        }
        decided
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    async fn free_port() -> u16 {
        let l = TcpListener::bind(loopback()).await.unwrap();
        l.local_addr().unwrap().port()
    }

    async fn managers(n: u64) -> Vec<(QuorumCnxManager, RecvQueue)> {
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push(free_port().await);
        }
        let peers: BTreeMap<u64, String> = (1..=n)
            .map(|i| (i, format!("127.0.0.1:{}", ports[i as usize - 1])))
            .collect();
        let mut out = Vec::new();
        for i in 1..=n {
            let listen = format!("127.0.0.1:{}", ports[i as usize - 1])
                .parse()
                .unwrap();
            let mut others = peers.clone();
            others.remove(&i);
            out.push(
                QuorumCnxManager::start(CnxConfig::new(i, listen, others))
                    .await
                    .unwrap(),
            );
        }
        out
    }

    async fn recv_timeout(q: &RecvQueue) -> Message {
        tokio::time::timeout(Duration::from_secs(5), q.recv())
            .await
            .expect("message in time")
            .expect("queue open")
    }

    /// The smaller sid dials; its connection is dropped and the larger sid dials back, and
    /// the queued message still arrives. Replies flow over the kept connection.
    #[tokio::test]
    async fn t10_small_sid_dials_and_larger_dials_back() {
        let m = managers(2).await;
        let (a, qa) = &m[0];
        let (b, qb) = &m[1];
        a.to_send(2, b"hello".to_vec());
        let got = recv_timeout(qb).await;
        assert_eq!(
            got,
            Message {
                from: 1,
                payload: b"hello".to_vec()
            }
        );
        b.to_send(1, b"back".to_vec());
        let got = recv_timeout(qa).await;
        assert_eq!(
            got,
            Message {
                from: 2,
                payload: b"back".to_vec()
            }
        );
        assert!(a.connected_to(2) && b.connected_to(1));
        a.halt();
        b.halt();
    }

    /// Loopback goes straight to the receive queue.
    #[tokio::test]
    async fn t10_send_to_self() {
        let m = managers(1).await;
        m[0].0.to_send(1, b"me".to_vec());
        assert_eq!(recv_timeout(&m[0].1).await.payload, b"me");
    }

    /// A raw peer speaking Java's bytes: a larger sid dialing us is kept, its frames are
    /// delivered, a bad frame length closes the connection, and after reconnecting we
    /// re-send our last message.
    #[tokio::test]
    async fn t20_raw_peer_framing_and_resend() {
        let port = free_port().await;
        let mut peers = BTreeMap::new();
        peers.insert(9, "127.0.0.1:1".to_string()); // never dialed: sid 9 > 1 dials us
        let cfg = CnxConfig::new(1, format!("127.0.0.1:{port}").parse().unwrap(), peers);
        let (m, q) = QuorumCnxManager::start(cfg).await.unwrap();

        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let init = InitialMessage::V1 {
            sid: 9,
            addr: "127.0.0.1:1".into(),
        };
        let mut bytes = init.encode();
        election_wire::encode_frame(b"one", &mut bytes);
        s.write_all(&bytes).await.unwrap();
        assert_eq!(
            recv_timeout(&q).await,
            Message {
                from: 9,
                payload: b"one".to_vec()
            }
        );

        m.to_send(9, b"reply".to_vec());
        let mut hdr = [0u8; 4];
        s.read_exact(&mut hdr).await.unwrap();
        assert_eq!(i32::from_be_bytes(hdr), 5);
        let mut body = [0u8; 5];
        s.read_exact(&mut body).await.unwrap();
        assert_eq!(&body, b"reply");

        // Oversized length: we close.
        s.write_all(&((PACKET_MAX_SIZE as i32) + 1).to_be_bytes())
            .await
            .unwrap();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))));

        // Reconnect: the last message is sent again.
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&init.encode()).await.unwrap();
        let mut buf = [0u8; 9];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[4..], b"reply");
        m.halt();
    }

    /// A smaller sid dialing us is closed, and we dial it back with a V1 initial message.
    #[tokio::test]
    async fn t20_receiver_with_larger_sid_dials_back() {
        let my_port = free_port().await;
        let their = TcpListener::bind(loopback()).await.unwrap();
        let their_addr = their.local_addr().unwrap();
        let mut peers = BTreeMap::new();
        peers.insert(2, their_addr.to_string());
        let cfg = CnxConfig::new(5, format!("127.0.0.1:{my_port}").parse().unwrap(), peers);
        let (m, _q) = QuorumCnxManager::start(cfg).await.unwrap();

        let mut s = TcpStream::connect(("127.0.0.1", my_port)).await.unwrap();
        s.write_all(
            &InitialMessage::V1 {
                sid: 2,
                addr: their_addr.to_string(),
            }
            .encode(),
        )
        .await
        .unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(rest.is_empty());

        let (mut back, _) = tokio::time::timeout(Duration::from_secs(5), their.accept())
            .await
            .unwrap()
            .unwrap();
        let mut buf = Vec::new();
        let (init, _) = read_initial(&mut back, &mut buf).await.unwrap();
        assert_eq!(
            init,
            InitialMessage::V1 {
                sid: 5,
                addr: format!("127.0.0.1:{my_port}")
            }
        );
        m.halt();
    }

    /// Garbage initial messages are refused without disturbing the manager.
    #[tokio::test]
    async fn t20_bad_initial_messages() {
        let m = managers(2).await;
        let port = m[0].0.local_addr().port();
        for bad in [
            (-7i64).to_be_bytes().to_vec(),
            [
                election_wire::PROTOCOL_VERSION_V1.to_be_bytes(),
                3i64.to_be_bytes(),
            ]
            .concat(),
        ] {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut b = bad.clone();
            b.extend_from_slice(&(5000i32).to_be_bytes());
            s.write_all(&b).await.unwrap();
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        }
        m[1].0.to_send(1, b"still fine".to_vec());
        assert_eq!(recv_timeout(&m[0].1).await.payload, b"still fine");
    }

    /// Three real drivers over loopback TCP elect the highest sid.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn t30_three_drivers_elect_over_tcp() {
        let m = managers(3).await;
        let voters: BTreeSet<u64> = (1..=3).collect();
        let mut tasks = Vec::new();
        for (i, (cnx, q)) in m.into_iter().enumerate() {
            let id = i as u64 + 1;
            let e = Election::new(id, voters.clone(), 0x1_0000_0000, 1);
            let mut d = ElectionDriver::new(e, cnx, q, "version=0".into());
            tasks.push(tokio::spawn(async move {
                let mut decided = d.start();
                while decided.is_none() {
                    for ev in d.step().await {
                        if let DriverEvent::Decided(s, v) = ev {
                            decided = Some((s, v));
                        }
                    }
                }
                // Keep answering for a moment so slower peers can finish.
                let _ = tokio::time::timeout(Duration::from_millis(1500), async {
                    loop {
                        d.step().await;
                    }
                })
                .await;
                d.cnx.halt();
                decided.unwrap()
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(
                tokio::time::timeout(Duration::from_secs(20), t)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        assert_eq!(results[2].0, ServerState::Leading);
        assert_eq!(results[0].0, ServerState::Following);
        assert_eq!(results[1].0, ServerState::Following);
        assert!(results.iter().all(|(_, v)| v.leader == 3));
    }
}
