//! `zkraft`: the operator tools under one binary, each subcommand taking its upstream tool's
//! arguments unchanged (the bin/ wrappers exec it under the upstream script names).

use clap::{Parser, Subcommand};

// The Kafka tools decode broker responses with kafka-protocol, which preallocates arrays by
// their declared count; this allocator keeps a bogus count from aborting the process.
#[global_allocator]
static ALLOC: broker::alloc::ReservingAllocator = broker::alloc::ReservingAllocator;

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
    /// kafka-console-producer.sh (Kafka 2.4)
    #[command(name = "kafka-console-producer", disable_help_flag = true)]
    KafkaConsoleProducer {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-console-consumer.sh (Kafka 2.4)
    #[command(name = "kafka-console-consumer", disable_help_flag = true)]
    KafkaConsoleConsumer {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-consumer-groups.sh (Kafka 2.4)
    #[command(name = "kafka-consumer-groups", disable_help_flag = true)]
    KafkaConsumerGroups {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-run-class.sh CLASS (kafka.tools.GetOffsetShell)
    #[command(name = "kafka-run-class", disable_help_flag = true)]
    KafkaRunClass {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-producer-perf-test.sh (Kafka 2.4)
    #[command(name = "kafka-producer-perf-test", disable_help_flag = true)]
    KafkaProducerPerfTest {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// kafka-consumer-perf-test.sh (Kafka 2.4)
    #[command(name = "kafka-consumer-perf-test", disable_help_flag = true)]
    KafkaConsumerPerfTest {
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
        Tool::KafkaConsoleProducer { args } => tools::kafka::console_producer::main(&args),
        Tool::KafkaConsoleConsumer { args } => tools::kafka::console_consumer::main(&args),
        Tool::KafkaConsumerGroups { args } => tools::kafka::consumer_groups::main(&args),
        Tool::KafkaRunClass { args } => tools::kafka::run_class::main(&args),
        Tool::KafkaProducerPerfTest { args } => tools::kafka::perf::producer_main(&args),
        Tool::KafkaConsumerPerfTest { args } => tools::kafka::perf::consumer_main(&args),
    };
    std::process::exit(code);
}
