//! Kafka 2.4's ZooKeeper-mode admin commands: [`topics`] (`kafka-topics.sh --zookeeper`) and
//! [`configs`] (`kafka-configs.sh --zookeeper`). They read and write Kafka's znodes through
//! `broker::zkclient`, as Kafka's `AdminZkClient` does. [`args`] parses Kafka's option syntax;
//! [`topic_config`] validates topic-level overrides.

pub mod args;
pub mod configs;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod consumer_perf;
pub mod get_offset_shell;
pub mod perf;
pub mod producer_perf;
pub mod run_class;
pub mod topic_config;
pub mod topics;

use std::time::Duration;

use broker::config::ZkConnect;
use broker::zkclient::{KafkaZkClient, ZkError};

use args::{help_table, Spec, UsageError};

/// The session and connection timeouts Kafka's tools use (30 s each).
pub const ZK_TIMEOUT: Duration = Duration::from_secs(30);
/// Overrides the connection timeout (milliseconds), e.g. for scripts that must fail fast.
pub const CONNECTION_TIMEOUT_ENV: &str = "ZKRAFT_ZK_CONNECTION_TIMEOUT_MS";
pub use broker::{version_string, KAFKA_VERSION};

/// Prints a usage failure as Kafka's tools do (message, then the option table when due) on
/// stderr; returns the exit code 1.
pub fn print_usage_error(e: &UsageError, specs: &[Spec]) -> i32 {
    eprintln!("{}", e.message);
    if e.with_help {
        eprint!("{}", help_table(specs));
    }
    1
}

/// Opens the tool's ZooKeeper session; the error is the message to print.
pub async fn connect(connect: &str) -> Result<KafkaZkClient, String> {
    let zc = ZkConnect::parse(connect).map_err(|e| {
        format!("Exception in thread \"main\" java.lang.IllegalArgumentException: {e}")
    })?;
    let timeout = std::env::var(CONNECTION_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(ZK_TIMEOUT);
    KafkaZkClient::connect(&zc, ZK_TIMEOUT, timeout)
        .await
        .map_err(|e| match e {
            ZkError::ConnectTimeout { .. } | ZkError::Connect { .. } => format!(
                "Exception in thread \"main\" kafka.zookeeper.ZooKeeperClientTimeoutException: Timed out waiting for connection while in state: CONNECTING ({connect}, {} ms)",
                timeout.as_millis()
            ),
            other => other.to_string(),
        })
}

/// Kafka's `Whitelist` topic filter: a Java regex matched against the whole name; commas
/// separate alternatives, spaces and surrounding quotes are dropped.
pub struct Whitelist(regex::Regex);

impl Whitelist {
    pub fn new(raw: &str) -> Result<Whitelist, String> {
        let cleaned = raw
            .trim()
            .replace(',', "|")
            .replace(' ', "")
            .trim_start_matches(['"', '\''])
            .trim_end_matches(['"', '\''])
            .to_owned();
        regex::Regex::new(&format!("^(?:{cleaned})$"))
            .map(Whitelist)
            .map_err(|_| format!("{cleaned} is an invalid regex."))
    }

    pub fn matches(&self, topic: &str) -> bool {
        self.0.is_match(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_matches_whole_names() {
        let w = Whitelist::new("foo.*,bar").unwrap();
        assert!(w.matches("foo1") && w.matches("bar"));
        assert!(!w.matches("xbar") && !w.matches("bar2"));
        assert!(Whitelist::new("'t1'").unwrap().matches("t1"));
        assert!(Whitelist::new("(").is_err());
    }
}
