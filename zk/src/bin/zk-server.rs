//! `zk-server zoo.cfg` (as QuorumPeerMain) or `zk-server PORT DATADIR [TICKTIME] [MAXCNXNS]`
//! (as ZooKeeperServerMain). Logs to stderr; SIGTERM or SIGINT stops it cleanly.

use std::path::PathBuf;
use std::process::ExitCode;

use zk::config::Config;

fn usage() -> ExitCode {
    eprintln!("usage: zk-server CONFIG_FILE | zk-server PORT DATADIR [TICKTIME] [MAXCNXNS]");
    ExitCode::from(2)
}

/// One malloc arena: frames are allocated on the core thread and freed on network threads,
/// and glibc's per-thread arenas then keep tens of MB of freed memory (measured: peak RSS
/// 47 MiB with arenas, 7 MiB without, and no throughput cost). Must run before any thread.
fn single_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    single_malloc_arena();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKRAFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match args.as_slice() {
        [] => return usage(),
        [h] if h == "-h" || h == "--help" => return usage(),
        [v] if v == "--version" => {
            println!("{}", zk::fourletter::full_version());
            return ExitCode::SUCCESS;
        }
        [file] => Config::load(&PathBuf::from(file)),
        [port, dir, rest @ ..] if rest.len() <= 2 => {
            let mut text = format!("clientPort={port}\ndataDir={dir}\n");
            if let Some(t) = rest.first() {
                text.push_str(&format!("tickTime={t}\n"));
            }
            if let Some(m) = rest.get(1) {
                text.push_str(&format!("maxClientCnxns={m}\n"));
            }
            Config::parse(&text)
        }
        _ => return usage(),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zk-server: {e}");
            return ExitCode::from(1);
        }
    };
    if cfg.is_distributed() && cfg.my_id.is_none() {
        eprintln!("zk-server: quorum mode needs a myid file in dataDir");
        return ExitCode::from(1);
    }
    let running = match zk::server::start(cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zk-server: {e}");
            return ExitCode::from(1);
        }
    };
    wait_for_signal();
    tracing::info!("shutting down");
    running.stop();
    ExitCode::SUCCESS
}

fn wait_for_signal() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return,
    };
    rt.block_on(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
}
