//! `kafka-server server.properties [--override property=value]...`: the broker process
//! (ZooKeeper mode). SIGTERM or SIGINT shuts it down cleanly (checkpoints and the
//! clean-shutdown marker written); an invalid configuration is one line on stderr and exit 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use broker::config::{parse_override, BrokerConfig};
use clap::Parser;

#[global_allocator]
static ALLOC: broker::alloc::ReservingAllocator = broker::alloc::ReservingAllocator;

#[derive(Parser, Debug)]
#[command(
    name = "kafka-server",
    about = "Kafka broker (ZooKeeper mode)",
    override_usage = "kafka-server server.properties [--override property=value]*"
)]
struct Args {
    /// The server.properties file.
    config: PathBuf,
    /// Optional property that overrides the file's value (repeatable).
    #[arg(long = "override", value_name = "property=value")]
    overrides: Vec<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKRAFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // kafka.Kafka looks at the raw arguments before parsing them: --help (or nothing)
    // prints its usage and option table on stderr and exits 1, --version prints the version.
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.is_empty() || raw.iter().any(|a| a == "--help") {
        eprintln!(
            "USAGE: java [options] KafkaServer server.properties [--override property=value]*"
        );
        eprint!("{}", broker_help_table());
        return ExitCode::from(1);
    }
    if raw.iter().any(|a| a == "--version") {
        println!("{}", broker::version_string());
        return ExitCode::SUCCESS;
    }
    let args = Args::parse();
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kafka-server: {e:#}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kafka-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka-server: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Kafka's option table for kafka.Kafka (jopt-simple's layout).
fn broker_help_table() -> String {
    let rows = [
        (
            "--override <String>",
            "Optional property that should override values set in server.properties file",
        ),
        ("--version", "Print version information and exit."),
    ];
    let mut out = format!(
        "{:<20} {}
{:<20} {}
",
        "Option", "Description", "------", "-----------"
    );
    for (opt, desc) in rows {
        out.push_str(&format!("{opt:<20} {desc}\n"));
    }
    out
}

fn load(args: &Args) -> anyhow::Result<BrokerConfig> {
    let overrides = args
        .overrides
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>, _>>()?;
    let config = BrokerConfig::load(&args.config, &overrides)?;
    for k in &config.unknown_keys {
        tracing::warn!("The configuration '{k}' was supplied but isn't a known config.");
    }
    Ok(config)
}

async fn run(config: BrokerConfig) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let running = tokio::select! {
        r = broker::server::start(config) => r.context("Fatal error during KafkaServer startup")?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = running.wait() => {}
    }
    running.shutdown().await.context("shutdown")?;
    Ok(())
}
