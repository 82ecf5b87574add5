//! `zkraft`: the operator tools under one binary, each subcommand taking its upstream tool's
//! arguments unchanged (the bin/ wrappers exec it under the upstream script names).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zkraft",
    version,
    about = "zkraft operator tools (ZooKeeper shell, Kafka ZooKeeper-mode admin commands)"
)]
struct Cli {
    #[command(subcommand)]
    tool: Tool,
}

#[derive(Subcommand)]
enum Tool {
    /// The ZooKeeper shell (zkCli.sh / zookeeper-shell.sh): [-server host:port] [-timeout ms] [--json] [cmd args...]
    #[command(
        name = "zookeeper-shell",
        visible_alias = "zkcli",
        disable_help_flag = true
    )]
    ZookeeperShell {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-topics.sh (Kafka 2.4, --zookeeper)
    #[command(name = "kafka-topics", disable_help_flag = true)]
    KafkaTopics {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-configs.sh (Kafka 2.4, --zookeeper)
    #[command(name = "kafka-configs", disable_help_flag = true)]
    KafkaConfigs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.tool {
        Tool::ZookeeperShell { args } => tools::zkshell::main(&args),
        Tool::KafkaTopics { args } => tools::kafka::topics::main(&args),
        Tool::KafkaConfigs { args } => tools::kafka::configs::main(&args),
    };
    std::process::exit(code);
}
