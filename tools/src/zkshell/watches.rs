//! The shell's watches, printed as zkCli's single default watcher prints them.
//!
//! Apache's shell registers every watch with one `Watcher` object, so one server notification
//! prints once however many watches (data, child, persistent) it matched. The
//! `zookeeper-client` crate instead hands each registration its own receiver and delivers a
//! notification to all that match. The hub owns every receiver and, on each wake-up, takes what
//! all of them have ready: copies of one notification are all ready together (the crate
//! dispatches synchronously), so duplicates (same type and path) in a batch are printed once.
//!
//! [`WatchHub::flush`] lets the shell print the notifications that arrived before a reply
//! before printing the reply (ZooKeeper sends them first), so transcripts are deterministic.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use zookeeper_client::{
    EventType, OneshotWatcher, PersistentWatcher, SessionState, StateWatcher, WatchedEvent,
};

use super::output::Printer;

/// What a registration watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// `get -w`, `stat -w` (data and exists watches).
    Data,
    /// `ls -w`.
    Child,
    /// `addWatch -m PERSISTENT`.
    Persistent,
    /// `addWatch` (`PERSISTENT_RECURSIVE`).
    PersistentRecursive,
}

impl WatchKind {
    /// The event type zkCli prints when such a watch is removed.
    pub fn removed_event(self) -> &'static str {
        match self {
            WatchKind::Data => "DataWatchRemoved",
            WatchKind::Child => "ChildWatchRemoved",
            WatchKind::Persistent | WatchKind::PersistentRecursive => "PersistentWatchRemoved",
        }
    }
}

/// Which watches `removewatches` removes (`-c`, `-d`, `-a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Children,
    Data,
    Any,
}

impl Removal {
    fn matches(self, kind: WatchKind) -> bool {
        match self {
            Removal::Children => kind == WatchKind::Child,
            Removal::Data => kind == WatchKind::Data,
            Removal::Any => true,
        }
    }
}

/// Apache's name of a session state (`Watcher.Event.KeeperState`).
pub fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Disconnected => "Disconnected",
        SessionState::SyncConnected => "SyncConnected",
        SessionState::AuthFailed => "AuthFailed",
        SessionState::ConnectedReadOnly => "ConnectedReadOnly",
        SessionState::Expired => "Expired",
        SessionState::Closed => "Closed",
    }
}

fn event_name(t: EventType) -> &'static str {
    match t {
        EventType::Session => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
    }
}

type OneshotFuture = Pin<Box<dyn Future<Output = WatchedEvent> + Send>>;

enum Source {
    Oneshot(OneshotFuture),
    Persistent(BoxStream<'static, WatchedEvent>),
}

struct Entry {
    path: String,
    kind: WatchKind,
    source: Source,
}

enum Msg {
    Add(Entry),
    Remove {
        path: String,
        which: Removal,
        reply: oneshot::Sender<Vec<WatchKind>>,
    },
    Session(StateWatcher),
    Clear,
    Flush(oneshot::Sender<()>),
}

/// Handle to the hub task (cheap to clone).
#[derive(Clone)]
pub struct WatchHub {
    tx: mpsc::UnboundedSender<Msg>,
    print: Arc<AtomicBool>,
}

impl WatchHub {
    /// Starts the hub on the current runtime.
    pub fn start(printer: Printer) -> WatchHub {
        let (tx, rx) = mpsc::unbounded_channel();
        let print = Arc::new(AtomicBool::new(true));
        tokio::spawn(run(rx, printer, print.clone()));
        WatchHub { tx, print }
    }

    pub fn printing(&self) -> bool {
        self.print.load(Ordering::SeqCst)
    }

    pub fn set_printing(&self, on: bool) {
        self.print.store(on, Ordering::SeqCst);
    }

    pub fn add_oneshot(&self, path: &str, kind: WatchKind, w: OneshotWatcher) {
        let _ = self.tx.send(Msg::Add(Entry {
            path: path.to_owned(),
            kind,
            source: Source::Oneshot(Box::pin(w.changed())),
        }));
    }

    pub fn add_persistent(&self, path: &str, kind: WatchKind, w: PersistentWatcher) {
        let stream = futures::stream::unfold(w, |mut w| async move {
            let e = w.changed().await;
            Some((e, w))
        })
        .boxed();
        let _ = self.tx.send(Msg::Add(Entry {
            path: path.to_owned(),
            kind,
            source: Source::Persistent(stream),
        }));
    }

    /// Follows a new session's state changes (replacing the previous session's).
    pub fn follow_session(&self, w: StateWatcher) {
        let _ = self.tx.send(Msg::Session(w));
    }

    /// Drops every registration without printing (the session is gone).
    pub fn clear(&self) {
        let _ = self.tx.send(Msg::Clear);
    }

    /// Removes the matching registrations of `path`; returns the kinds removed, in zkCli's
    /// order (child, data, persistent).
    pub async fn remove(&self, path: &str, which: Removal) -> Vec<WatchKind> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Remove {
            path: path.to_owned(),
            which,
            reply,
        });
        rx.await.unwrap_or_default()
    }

    /// Returns once every notification already delivered to the client has been printed.
    pub async fn flush(&self) {
        let (ack, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = rx.await;
        }
    }
}

struct Batch {
    events: Vec<(String, String)>,
    states: Vec<SessionState>,
    acks: Vec<oneshot::Sender<()>>,
}

struct Hub {
    entries: Vec<Entry>,
    /// Flushes waiting for a round in which nothing was ready.
    acks: Vec<oneshot::Sender<()>>,
    session: Option<BoxStream<'static, SessionState>>,
    last_state: Option<SessionState>,
}

impl Hub {
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Add(e) => self.entries.push(e),
            Msg::Remove { path, which, reply } => {
                let mut removed = Vec::new();
                self.entries.retain(|e| {
                    let hit = e.path == path && which.matches(e.kind);
                    if hit && !removed.contains(&e.kind) {
                        removed.push(e.kind);
                    }
                    !hit
                });
                removed.sort_by_key(|k| match k {
                    WatchKind::Child => 0,
                    WatchKind::Data => 1,
                    _ => 2,
                });
                removed.dedup_by_key(|k| k.removed_event());
                let _ = reply.send(removed);
            }
            Msg::Session(w) => {
                let stream = futures::stream::unfold(w, |mut w| async move {
                    let s = w.changed().await;
                    Some((s, w))
                })
                .boxed();
                self.session = Some(stream);
                self.last_state = Some(SessionState::SyncConnected);
            }
            Msg::Clear => self.entries.clear(),
            Msg::Flush(ack) => self.acks.push(ack),
        }
    }

    /// Takes everything ready now. Oneshot registrations that fired are dropped.
    fn poll_ready(&mut self, cx: &mut Context<'_>, batch: &mut Batch) {
        let mut i = 0;
        while i < self.entries.len() {
            let e = &mut self.entries[i];
            match &mut e.source {
                Source::Oneshot(f) => {
                    if let Poll::Ready(ev) = f.as_mut().poll(cx) {
                        if ev.event_type != EventType::Session {
                            batch
                                .events
                                .push((event_name(ev.event_type).into(), ev.path));
                        }
                        self.entries.swap_remove(i);
                        continue;
                    }
                }
                Source::Persistent(s) => {
                    if let Poll::Ready(Some(ev)) = s.poll_next_unpin(cx) {
                        if ev.event_type != EventType::Session {
                            batch
                                .events
                                .push((event_name(ev.event_type).into(), ev.path));
                        } else if ev.session_state.is_terminated() {
                            // The session's last word to this watcher: the library closes the
                            // channel next, and receiving on it again would panic.
                            self.entries.swap_remove(i);
                            continue;
                        }
                        // Poll again on the next round: one event per registration per batch.
                        cx.waker().wake_by_ref();
                    }
                }
            }
            i += 1;
        }
        // Session states wait until the node events delivered before them are all printed.
        if !batch.events.is_empty() {
            return;
        }
        if let Some(s) = &mut self.session {
            while let Poll::Ready(Some(state)) = s.poll_next_unpin(cx) {
                if self.last_state != Some(state) {
                    self.last_state = Some(state);
                    batch.states.push(state);
                }
                if state.is_terminated() {
                    self.session = None;
                    break;
                }
            }
        }
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Msg>, printer: Printer, print: Arc<AtomicBool>) {
    let mut hub = Hub {
        entries: Vec::new(),
        acks: Vec::new(),
        session: None,
        last_state: None,
    };
    loop {
        let batch = std::future::poll_fn(|cx| {
            let mut batch = Batch {
                events: Vec::new(),
                states: Vec::new(),
                acks: Vec::new(),
            };
            loop {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(m)) => hub.handle(m),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => break,
                }
            }
            hub.poll_ready(cx, &mut batch);
            if !batch.events.is_empty() || !batch.states.is_empty() {
                Poll::Ready(Some(batch))
            } else if !hub.acks.is_empty() {
                batch.acks = std::mem::take(&mut hub.acks);
                Poll::Ready(Some(batch))
            } else {
                Poll::Pending
            }
        })
        .await;
        let Some(mut batch) = batch else { return };
        // One print per notification; ZooKeeper sends a node's own event before its parent's
        // NodeChildrenChanged.
        let mut seen = std::collections::HashSet::new();
        batch.events.retain(|e| seen.insert(e.clone()));
        batch
            .events
            .sort_by_key(|(t, _)| t == "NodeChildrenChanged");
        if print.load(Ordering::SeqCst) {
            for (t, p) in &batch.events {
                printer.event("SyncConnected", t, Some(p));
            }
            for s in &batch.states {
                printer.event(state_name(*s), "None", None);
            }
        }
        for a in batch.acks {
            let _ = a.send(());
        }
    }
}
