//! The standalone server: recovery, the core and commit threads, and the accept loop.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::connection::{self, ConnCtx};
use crate::core::{CommitJob, Core, CoreMsg, Sink};
use crate::persist::{files, txnlog::TxnLogWriter};
use crate::quorum::peer::Ensemble;
use crate::quorum::role::Quorum;
use crate::stats::ServerStats;
use crate::zkdb::{self, Committer, DbError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot open the transaction log: {0}")]
    Log(#[from] crate::persist::txnlog::TxnLogError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

struct ChannelSink(crossbeam_channel::Sender<CommitJob>);

impl Sink for ChannelSink {
    fn commit(&mut self, job: CommitJob) {
        let _ = self.0.send(job);
    }
}

/// A running server's handle (used by tests and the binary).
pub struct Running {
    pub addr: SocketAddr,
    core_tx: crossbeam_channel::Sender<CoreMsg>,
    core_thread: Option<std::thread::JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    accept_thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets the core and commit threads finish what they hold.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = self.core_tx.send(CoreMsg::Shutdown);
        if let Some(h) = self.core_thread.take() {
            let _ = h.join();
        }
        if let Some(h) = self.accept_thread.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Starts a standalone server with `cfg`; returns once it is listening.
pub fn start(cfg: Config) -> Result<Running, ServerError> {
    let cfg = Arc::new(cfg);
    let t0 = Instant::now();
    let (tree, info) = zkdb::recover(&cfg.data_dir, &cfg.data_log_dir, cfg.extended_types_enabled)?;
    tracing::info!(
        "loaded database in {:?}: snapshot {}, {} txns replayed, last zxid 0x{:x}, {} nodes",
        t0.elapsed(),
        info.snapshot_zxid
            .map_or("none".to_owned(), |z| format!("0x{z:x}")),
        info.replayed,
        tree.last_processed_zxid,
        tree.node_count()
    );
    let snap_dir = files::version_dir(&cfg.data_dir);
    let log_dir = files::version_dir(&cfg.data_log_dir);
    let log = TxnLogWriter::open(&log_dir, cfg.pre_alloc_size)?;
    let stats = Arc::new(ServerStats::default());
    let inflight = Arc::new(AtomicUsize::new(0));
    let (commit_tx, commit_rx) = crossbeam_channel::unbounded();
    let (core_tx, core_rx) = crossbeam_channel::unbounded::<CoreMsg>();
    let ensemble = if cfg.is_distributed() {
        Ensemble::from_config(&cfg)
    } else {
        None
    };
    let committer = Committer {
        log,
        snap_dir,
        log_dir,
        pre_alloc_size: cfg.pre_alloc_size,
        stats: stats.clone(),
        inflight: inflight.clone(),
        logged: ensemble.as_ref().map(|_| core_tx.clone()),
        retain: if cfg.autopurge_purge_interval > 0 {
            cfg.autopurge_snap_retain_count as usize
        } else {
            0
        },
    };
    let commit_thread = std::thread::Builder::new()
        .name("zk-commit".into())
        .spawn(move || committer.run(commit_rx))?;

    let mut core = Core::new(cfg.clone(), tree, stats, inflight);
    let mut peer_start = None;
    if let Some(ens) = &ensemble {
        let (peer_tx, peer_rx) = tokio::sync::mpsc::unbounded_channel();
        let last_zxid = core.tree().last_processed_zxid;
        let snap_dir = files::version_dir(&cfg.data_dir);
        let current_epoch = files::read_epoch(&snap_dir, "currentEpoch")
            .map_err(DbError::Files)?
            .unwrap_or(crate::quorum::zab_wire::epoch_of(last_zxid));
        core.set_quorum(Quorum {
            ens: ens.clone(),
            peer: peer_tx,
            committer: commit_tx.clone(),
            gen: 0,
            snap_dir,
            log_dir: files::version_dir(&cfg.data_log_dir),
            config_text: ens.quorum_config().to_text().into_bytes(),
            fwd_auth: Vec::new(),
        });
        peer_start = Some((ens.clone(), last_zxid, current_epoch, peer_rx));
    }
    let tick = Duration::from_millis((cfg.tick_time as u64 / 2).clamp(10, 1000));
    let core_thread = std::thread::Builder::new()
        .name("zk-core".into())
        .spawn(move || {
            let mut sink = ChannelSink(commit_tx);
            let mut last_tick = Instant::now();
            'outer: loop {
                match core_rx.recv_timeout(tick) {
                    Ok(CoreMsg::Shutdown) => break,
                    Ok(m) => core.handle(m),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
                for _ in 0..4096 {
                    match core_rx.try_recv() {
                        Ok(CoreMsg::Shutdown) => {
                            core.flush(&mut sink);
                            break 'outer;
                        }
                        Ok(m) => core.handle(m),
                        Err(_) => break,
                    }
                }
                if last_tick.elapsed() >= tick {
                    last_tick = Instant::now();
                    core.tick();
                }
                core.flush(&mut sink);
            }
            core.flush(&mut sink);
            drop(sink);
            // The core holds a sender of the commit channel in an ensemble: drop it so the
            // commit thread sees the channel close and finishes.
            drop(core);
            let _ = commit_thread.join();
        })?;

    let ip = cfg
        .client_port_address
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, cfg.client_port.unwrap_or(2181));
    let std_listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let (shutdown_tx, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let accept_core = core_tx.clone();
    let peer_core = core_tx.clone();
    let accept_cfg = cfg.clone();
    let accept_thread = std::thread::Builder::new()
        .name("zk-net".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot start the network runtime: {e}");
                    return;
                }
            };
            if let Some((ens, last_zxid, epoch, cmds)) = peer_start {
                rt.spawn(async move {
                    if let Err(e) =
                        crate::quorum::peer::run(ens, last_zxid, epoch, peer_core, cmds).await
                    {
                        tracing::error!("the quorum peer stopped: {e}");
                        eprintln!("zk-server: {e}");
                        std::process::exit(1);
                    }
                });
            }
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("cannot listen: {e}");
                        return;
                    }
                };
                let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
                let mut next_id: u64 = 1;
                loop {
                    let (sock, peer) = tokio::select! {
                        r = listener.accept() => match r {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::warn!("accept failed: {e}");
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        },
                        _ = &mut shutdown_rx => break,
                    };
                    let max = accept_cfg.max_client_cnxns;
                    {
                        let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
                        let n = m.entry(peer.ip()).or_insert(0);
                        if max > 0 && *n >= max {
                            tracing::warn!(
                                "too many connections from {} - max is {max}",
                                peer.ip()
                            );
                            drop(sock);
                            continue;
                        }
                        *n += 1;
                    }
                    let ctx = ConnCtx {
                        id: next_id,
                        addr: peer,
                        cfg: accept_cfg.clone(),
                        core: accept_core.clone(),
                    };
                    next_id += 1;
                    let per_ip = per_ip.clone();
                    tokio::spawn(async move {
                        connection::serve(sock, ctx).await;
                        let mut m = per_ip.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(n) = m.get_mut(&peer.ip()) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                m.remove(&peer.ip());
                            }
                        }
                    });
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        })?;
    tracing::info!("binding to port {local}");
    Ok(Running {
        addr: local,
        core_tx,
        core_thread: Some(core_thread),
        shutdown: Some(shutdown_tx),
        accept_thread: Some(accept_thread),
    })
}
