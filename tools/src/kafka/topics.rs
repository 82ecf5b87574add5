//! `kafka-topics.sh` as Kafka 2.4's TopicCommand: argument checks, messages and exit codes.
//! `--zookeeper` reads and writes the znodes (`/brokers/topics/<t>` v2, `/config/topics/<t>`
//! with its change notification, `/admin/delete_topics/<t>`); `--bootstrap-server`
//! (`admin_mode`) goes through the Admin API (`crate::kclient::admin`).

use std::collections::BTreeMap;

use broker::assignment::{
    assign_replicas_to_brokers, broker_metadatas, new_partitions_assignment,
    parse_replica_assignment, Assignment, BrokerMetadata, RackAwareMode,
};
use broker::zkclient::{KafkaZkClient, ZkError};
use broker::zkdata::{
    has_collision_chars, is_internal_topic, ConfigEntityType, EntityConfig, PartitionState,
    TopicAssignment,
};

use super::args::{parse, Options, Spec, UsageError};
use super::{connect, print_usage_error, topic_config, version_string, Whitelist};

/// Kafka 2.4 writes `/brokers/topics/<t>` as JSON version 2.
const TOPIC_JSON_VERSION: i32 = 2;

const SPECS: &[Spec] = &[
    Spec { name: "alter", arg: None, help: "Alter the number of partitions, replica assignment, and/or configuration for the topic." },
    Spec { name: "at-min-isr-partitions", arg: None, help: "if set when describing topics, only show partitions whose isr count is equal to the configured minimum. Not supported with the --zookeeper option." },
    Spec { name: "bootstrap-server", arg: Some("String: server to connect to"), help: "REQUIRED: The Kafka server to connect to. In case of providing this, a direct Zookeeper connection won't be required." },
    Spec { name: "command-config", arg: Some("String: command config property file"), help: "Property file containing configs to be passed to Admin Client. This is used only with --bootstrap-server option for describing and altering broker configs." },
    Spec { name: "config", arg: Some("String: name=value"), help: "A topic configuration override for the topic being created or altered. See the Kafka documentation for full details on the topic configs. It is supported only in combination with --create if --bootstrap-server option is used." },
    Spec { name: "create", arg: None, help: "Create a new topic." },
    Spec { name: "delete", arg: None, help: "Delete a topic" },
    Spec { name: "delete-config", arg: Some("String: name"), help: "A topic configuration override to be removed for an existing topic (see the list of configurations under the --config option). Not supported with the --bootstrap-server option." },
    Spec { name: "describe", arg: None, help: "List details for the given topics." },
    Spec { name: "disable-rack-aware", arg: None, help: "Disable rack aware replica assignment" },
    Spec { name: "exclude-internal", arg: None, help: "exclude internal topics when running list or describe command. The internal topics will be listed by default" },
    Spec { name: "force", arg: None, help: "Suppress console prompts" },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "if-exists", arg: None, help: "if set when altering or deleting or describing topics, the action will only execute if the topic exists. Not supported with the --bootstrap-server option." },
    Spec { name: "if-not-exists", arg: None, help: "if set when creating topics, the action will only execute if the topic does not already exist. Not supported with the --bootstrap-server option." },
    Spec { name: "list", arg: None, help: "List all available topics." },
    Spec { name: "partitions", arg: Some("Integer: # of partitions"), help: "The number of partitions for the topic being created or altered (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected). If not supplied for create, defaults to the cluster default." },
    Spec { name: "replica-assignment", arg: Some("String: broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ..."), help: "A list of manual partition-to-broker assignments for the topic being created or altered." },
    Spec { name: "replication-factor", arg: Some("Integer: replication factor"), help: "The replication factor for each partition in the topic being created. If not supplied, defaults to the cluster default." },
    Spec { name: "topic", arg: Some("String: topic"), help: "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option. Put topic name in double quotes and use the '\\' prefix to escape regular expression symbols; e.g. \"test\\.topic\"." },
    Spec { name: "topics-with-overrides", arg: None, help: "if set when describing topics, only show topics that have overridden configs" },
    Spec { name: "unavailable-partitions", arg: None, help: "if set when describing topics, only show partitions whose leader is not available" },
    Spec { name: "under-min-isr-partitions", arg: None, help: "if set when describing topics, only show partitions whose isr count is less than the configured minimum. Not supported with the --zookeeper option." },
    Spec { name: "under-replicated-partitions", arg: None, help: "if set when describing topics, only show under replicated partitions" },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
    Spec { name: "zookeeper", arg: Some("String: hosts"), help: "DEPRECATED, The connection string for the zookeeper connection in the form host:port. Multiple hosts can be given to allow fail-over." },
];

const ACTIONS: [&str; 5] = ["create", "list", "alter", "describe", "delete"];
const REPORTS: [&str; 4] = [
    "under-replicated-partitions",
    "under-min-isr-partitions",
    "at-min-isr-partitions",
    "unavailable-partitions",
];

/// Actions other than `keep`, plus `extra`.
fn others<'a>(keep: &[&str], extra: &[&'a str]) -> Vec<&'a str> {
    ACTIONS
        .iter()
        .filter(|a| !keep.contains(a))
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

/// TopicCommandOptions.checkArgs.
fn check_args(o: &Options) -> Result<(), UsageError> {
    let n = ACTIONS.iter().filter(|a| o.has(a)).count();
    if n != 1 {
        return Err(UsageError::usage(
            "Command must include exactly one action: --list, --describe, --create, --alter or --delete",
        ));
    }
    if o.has("bootstrap-server") == o.has("zookeeper") {
        return Err(UsageError {
            message: "Exception in thread \"main\" java.lang.IllegalArgumentException: Only one of --bootstrap-server or --zookeeper must be specified".into(),
            with_help: false,
        });
    }
    if o.has("describe") && o.has("if-exists") {
        o.require(&["topic"])?;
    }
    if !o.has("list") && !o.has("describe") {
        o.require(&["topic"])?;
    }
    if o.has("create") && !o.has("replica-assignment") && o.has("zookeeper") {
        o.require(&["partitions", "replication-factor"])?;
    }
    if o.has("bootstrap-server") && o.has("alter") {
        if o.has("config") {
            return Err(UsageError::usage(
                "Option combination \"[bootstrap-server],[config]\" can't be used with option \"[alter]\"",
            ));
        }
        o.require(&["partitions"])?;
    }
    o.forbid("config", &others(&["alter", "create"], &[]))?;
    o.forbid("delete-config", &others(&["alter"], &["bootstrap-server"]))?;
    o.forbid("partitions", &others(&["alter", "create"], &[]))?;
    o.forbid("replication-factor", &others(&["create"], &[]))?;
    o.forbid("replica-assignment", &others(&["create", "alter"], &[]))?;
    if o.has("create") {
        o.forbid("replica-assignment", &["partitions", "replication-factor"])?;
    }
    for r in REPORTS {
        let mut invalid = others(&["describe"], &[]);
        invalid.extend(REPORTS.iter().filter(|x| **x != r));
        invalid.push("topics-with-overrides");
        if r == "under-min-isr-partitions" || r == "at-min-isr-partitions" {
            invalid.push("zookeeper");
        }
        o.forbid(r, &invalid)?;
    }
    let mut invalid = others(&["describe"], &[]);
    invalid.extend(REPORTS);
    o.forbid("topics-with-overrides", &invalid)?;
    o.forbid(
        "if-exists",
        &others(&["alter", "delete", "describe"], &["bootstrap-server"]),
    )?;
    o.forbid("if-not-exists", &others(&["create"], &["bootstrap-server"]))?;
    o.forbid("exclude-internal", &others(&["list", "describe"], &[]))?;
    Ok(())
}

/// A failure inside the action: printed as `Error while executing topic command : <msg>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl From<ZkError> for CommandError {
    fn from(e: ZkError) -> Self {
        CommandError(e.to_string())
    }
}

/// `kafka-topics.sh` with Kafka's arguments; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let o = match parse(SPECS, args) {
        Ok(o) => o,
        Err(e) => return print_usage_error(&e, SPECS),
    };
    if args.is_empty() {
        return print_usage_error(
            &UsageError::usage("Create, delete, describe, or change a topic."),
            SPECS,
        );
    }
    if o.has("help") {
        return print_usage_error(
            &UsageError::usage("This tool helps to create, delete, describe, or change a topic."),
            SPECS,
        );
    }
    if o.has("version") {
        println!("{}", version_string());
        return 0;
    }
    if let Err(e) = check_args(&o) {
        return print_usage_error(&e, SPECS);
    }
    if o.has("bootstrap-server") {
        return admin_mode::main(&o);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        let zk = match connect(o.value("zookeeper").unwrap_or_default()).await {
            Ok(zk) => zk,
            Err(msg) => {
                eprintln!("{msg}");
                return 1;
            }
        };
        let r = run(&zk, &o).await;
        zk.close().await;
        match r {
            Ok(()) => 0,
            Err(e) => {
                println!("Error while executing topic command : {e}");
                1
            }
        }
    })
}

async fn run(zk: &KafkaZkClient, o: &Options) -> Result<(), CommandError> {
    if o.has("create") {
        create(zk, o).await
    } else if o.has("alter") {
        alter(zk, o).await
    } else if o.has("list") {
        for t in topics(zk, o).await? {
            if zk.is_topic_marked_for_deletion(&t).await? {
                println!("{t} - marked for deletion");
            } else {
                println!("{t}");
            }
        }
        Ok(())
    } else if o.has("describe") {
        describe(zk, o).await
    } else {
        delete(zk, o).await
    }
}

/// The topics `--topic` (a whitelist regex) selects, sorted.
async fn topics(zk: &KafkaZkClient, o: &Options) -> Result<Vec<String>, CommandError> {
    let mut all = zk.get_all_topics().await?;
    all.sort();
    let exclude = o.has("exclude-internal");
    match o.value("topic") {
        Some(pattern) => {
            let w = Whitelist::new(pattern).map_err(CommandError)?;
            Ok(all
                .into_iter()
                .filter(|t| w.matches(t) && !(exclude && is_internal_topic(t)))
                .collect())
        }
        None => Ok(all
            .into_iter()
            .filter(|t| !(exclude && is_internal_topic(t)))
            .collect()),
    }
}

/// `ensureTopicExists`.
fn ensure_exists(found: &[String], o: &Options) -> Result<(), CommandError> {
    if let Some(t) = o.value("topic") {
        if !o.has("if-exists") && found.is_empty() {
            return Err(CommandError(format!(
                "Topic '{t}' does not exist as expected"
            )));
        }
    }
    Ok(())
}

/// `parseTopicConfigsToBeAdded`: `k=v` pairs (split at `=` with surrounding spaces), validated.
fn configs_to_add(o: &Options) -> Result<BTreeMap<String, String>, CommandError> {
    let mut out = BTreeMap::new();
    for c in o.values("config") {
        let parts: Vec<&str> = c.split('=').map(str::trim).collect();
        if parts.len() != 2 {
            return Err(CommandError(
                "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".".into(),
            ));
        }
        out.insert(parts[0].to_owned(), parts[1].to_owned());
    }
    topic_config::validate(out.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(CommandError)?;
    if let Some(v) = out.get("message.format.version") {
        println!("WARNING: The configuration message.format.version={v} is specified. This configuration will be ignored if the version is newer than the inter.broker.protocol.version specified in the broker.");
    }
    Ok(out)
}

fn configs_to_delete(o: &Options) -> Result<Vec<String>, CommandError> {
    let names: Vec<String> = o
        .values("delete-config")
        .iter()
        .map(|s| s.trim().to_owned())
        .collect();
    topic_config::validate_names(names.iter().map(String::as_str)).map_err(CommandError)?;
    Ok(names)
}

fn replica_assignment(o: &Options) -> Result<Option<Assignment>, CommandError> {
    match o.value("replica-assignment") {
        None | Some("") => Ok(None),
        Some(s) => parse_replica_assignment(s)
            .map(Some)
            .map_err(|e| CommandError(e.to_string())),
    }
}

async fn broker_list(zk: &KafkaZkClient) -> Result<Vec<BrokerMetadata>, CommandError> {
    Ok(zk
        .get_all_brokers()
        .await?
        .into_iter()
        .map(|b| BrokerMetadata {
            id: b.info.id,
            rack: b.info.rack,
        })
        .collect())
}

fn int_opt(o: &Options, name: &str) -> Result<Option<i32>, CommandError> {
    o.int(name).map_err(CommandError)
}

async fn create(zk: &KafkaZkClient, o: &Options) -> Result<(), CommandError> {
    let name = o.value("topic").unwrap_or_default().to_owned();
    if has_collision_chars(&name) {
        println!("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.");
    }
    let config = EntityConfig {
        config: configs_to_add(o)?,
    };
    configs_to_delete(o)?;
    let assignment = match replica_assignment(o)? {
        Some(a) => a,
        None => {
            let mode = if o.has("disable-rack-aware") {
                RackAwareMode::Disabled
            } else {
                RackAwareMode::Enforced
            };
            let brokers = broker_metadatas(&broker_list(zk).await?, mode)
                .map_err(|e| CommandError(e.to_string()))?;
            let partitions = int_opt(o, "partitions")?.unwrap_or(1);
            let rf = int_opt(o, "replication-factor")?.unwrap_or(1);
            assign_replicas_to_brokers(&brokers, partitions, rf, None, 0, &mut rand::thread_rng())
                .map_err(|e| CommandError(e.to_string()))?
        }
    };
    let ta = TopicAssignment::new(assignment);
    match zk
        .create_topic_with_assignment(&name, &config, &ta, TOPIC_JSON_VERSION)
        .await
    {
        Ok(()) => {
            println!("Created topic {name}.");
            Ok(())
        }
        Err(ZkError::TopicExists(_)) | Err(ZkError::TopicMarkedForDeletion(_))
            if o.has("if-not-exists") =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn alter(zk: &KafkaZkClient, o: &Options) -> Result<(), CommandError> {
    let found = topics(zk, o).await?;
    ensure_exists(&found, o)?;
    for topic in &found {
        let mut config = zk
            .get_entity_config(ConfigEntityType::Topics, topic)
            .await?;
        if o.has("config") || o.has("delete-config") {
            println!("WARNING: Altering topic configuration from this script has been deprecated and may be removed in future releases.");
            println!("         Going forward, please use kafka-configs.sh for this functionality");
            let add = configs_to_add(o)?;
            let del = configs_to_delete(o)?;
            config.config.extend(add);
            for d in del {
                config.config.remove(&d);
            }
            zk.change_entity_config(ConfigEntityType::Topics, topic, &config)
                .await?;
            println!("Updated config for topic {topic}.");
        }
        if let Some(n) = int_opt(o, "partitions")? {
            if is_internal_topic(topic) {
                return Err(CommandError(format!(
                    "The number of partitions for the internal topic {topic} cannot be changed."
                )));
            }
            println!("WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected");
            let Some((existing, version)) = zk.get_topic_assignment(topic).await? else {
                return Err(CommandError(format!("The topic {topic} does not exist")));
            };
            let manual: Option<Assignment> = replica_assignment(o)?.map(|m| {
                m.into_iter()
                    .skip(existing.partitions.len())
                    .collect::<Assignment>()
            });
            let manual = manual.filter(|m| !m.is_empty());
            let brokers = broker_list(zk).await?;
            let added = new_partitions_assignment(
                topic,
                &existing.partitions,
                n,
                &brokers,
                manual.as_ref(),
                &mut rand::thread_rng(),
            )
            .map_err(|e| CommandError(e.to_string()))?;
            let mut combined = existing.clone();
            combined.partitions.extend(added);
            zk.set_topic_assignment(topic, &combined, TOPIC_JSON_VERSION, Some(version), None)
                .await?;
            println!("Adding partitions succeeded!");
        }
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

async fn describe(zk: &KafkaZkClient, o: &Options) -> Result<(), CommandError> {
    let found = topics(zk, o).await?;
    ensure_exists(&found, o)?;
    let live: Vec<i32> = zk.get_sorted_broker_ids().await?;
    let under = o.has("under-replicated-partitions");
    let unavailable = o.has("unavailable-partitions");
    let overrides_only = o.has("topics-with-overrides");
    let describe_configs = !under && !unavailable;
    let describe_partitions = !overrides_only;
    for topic in &found {
        let Some((assignment, _)) = zk.get_topic_assignment(topic).await? else {
            println!("Topic {topic} doesn't exist!");
            continue;
        };
        let marked = zk.is_topic_marked_for_deletion(topic).await?;
        let mark = if marked {
            "\tMarkedForDeletion: true"
        } else {
            ""
        };
        if describe_configs {
            let configs = zk
                .get_entity_config(ConfigEntityType::Topics, topic)
                .await?;
            if !overrides_only || !configs.config.is_empty() {
                let rf = assignment.partitions.values().next().map_or(0, Vec::len);
                println!(
                    "Topic: {topic}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}{mark}",
                    assignment.partitions.len(),
                    configs_column(&configs.config)
                );
            }
        }
        if !describe_partitions {
            continue;
        }
        for (p, replicas) in &assignment.partitions {
            let (leader, isr) = match zk.get_partition_state(topic, *p).await? {
                Some((s, _)) if s.leader != PartitionState::NO_LEADER => (Some(s.leader), s.isr),
                Some((s, _)) => (None, s.isr),
                None => (None, Vec::new()),
            };
            let is_under = isr.len() < replicas.len();
            let is_unavailable = leader.is_none_or(|l| !live.contains(&l));
            if describe_configs || (under && is_under) || (unavailable && is_unavailable) {
                println!(
                    "\tTopic: {topic}\tPartition: {p}\tLeader: {}\tReplicas: {}\tIsr: {}{mark}",
                    leader.map_or("none".to_owned(), |l| l.to_string()),
                    join(replicas),
                    join(&isr)
                );
            }
        }
    }
    Ok(())
}

async fn delete(zk: &KafkaZkClient, o: &Options) -> Result<(), CommandError> {
    let found = topics(zk, o).await?;
    ensure_exists(&found, o)?;
    for topic in &found {
        if is_internal_topic(topic) {
            return Err(CommandError(format!(
                "Topic {topic} is a kafka internal topic and is not allowed to be marked for deletion."
            )));
        }
        match zk.create_delete_topic_path(topic).await {
            Ok(true) => {
                println!("Topic {topic} is marked for deletion.");
                println!(
                    "Note: This will have no impact if delete.topic.enable is not set to true."
                );
            }
            Ok(false) => println!("Topic {topic} is already marked for deletion."),
            Err(e) => {
                return Err(CommandError(format!(
                    "Error while deleting topic {topic}: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// Why `--command-config` could not be used; `java` is the exception Kafka would throw.
#[derive(Debug)]
pub struct CommandConfigError {
    pub java: String,
}

/// Java's `Properties.load` for the simple cases: `key=value`, `key: value` or `key value`
/// lines, `#`/`!` comments, backslash line continuations.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let split = entry
            .char_indices()
            .find(|(_, c)| *c == '=' || *c == ':' || c.is_whitespace())
            .map(|(i, _)| i);
        let (k, v) = match split {
            Some(i) => {
                let rest = entry[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                (entry[..i].to_owned(), rest.trim_start().to_owned())
            }
            None => (entry.clone(), String::new()),
        };
        out.push((k, v));
    }
    out
}

/// The admin client's settings: `--bootstrap-server` plus `--command-config` (client.id,
/// request.timeout.ms; only PLAINTEXT connections are supported).
pub fn admin_client_config(
    bootstrap: &str,
    command_config: Option<&str>,
) -> Result<crate::kclient::ClientConfig, CommandConfigError> {
    let mut cfg = crate::kclient::ClientConfig::new(bootstrap, "adminclient-1");
    let Some(path) = command_config else {
        return Ok(cfg);
    };
    let text = std::fs::read_to_string(path).map_err(|e| CommandConfigError {
        java: match e.kind() {
            std::io::ErrorKind::NotFound => format!("java.nio.file.NoSuchFileException: {path}"),
            _ => format!("java.io.IOException: {path}: {e}"),
        },
    })?;
    for (k, v) in parse_properties(&text) {
        match k.as_str() {
            "client.id" => cfg.client_id = v,
            "request.timeout.ms" => {
                let ms: i32 = v.trim().parse().map_err(|_| CommandConfigError {
                    java: format!("org.apache.kafka.common.config.ConfigException: Invalid value {v} for configuration request.timeout.ms: Not a number of type INT"),
                })?;
                if ms < 0 {
                    return Err(CommandConfigError {
                        java: format!("org.apache.kafka.common.config.ConfigException: Invalid value {ms} for configuration request.timeout.ms: Value must be at least 0"),
                    });
                }
                cfg.request_timeout = std::time::Duration::from_millis(ms as u64);
            }
            "security.protocol" if !v.trim().eq_ignore_ascii_case("PLAINTEXT") => {
                return Err(CommandConfigError {
                    java: format!("org.apache.kafka.common.KafkaException: zkraft's admin client supports only security.protocol=PLAINTEXT, not {}", v.trim()),
                });
            }
            _ => {}
        }
    }
    Ok(cfg)
}

/// log4j's `%d` (ISO8601, local time): `2026-11-21 12:00:00,123`.
pub fn log4j_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let ms = now.subsec_millis();
    // SAFETY: localtime_r only writes into the zeroed tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("{secs},{ms:03}");
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{ms:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A topic's config overrides as `Configs:` shows them: Kafka puts them in a `Config`
/// (a HashMap) and prints its iteration order.
fn configs_column(overrides: &BTreeMap<String, String>) -> String {
    let items: Vec<(&String, &String)> = overrides.iter().collect();
    crate::kclient::admin::java_order::default_map_order(items, |(k, _)| k.as_str())
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `kafka-topics.sh --bootstrap-server`: Kafka 2.4's AdminClientTopicService over the Admin
/// API. Successful create/alter/delete print nothing in this mode (Kafka 2.4 does not).
mod admin_mode {
    use std::collections::BTreeMap;

    use broker::zkdata::{has_collision_chars, is_internal_topic};

    use super::super::args::Options;
    use super::super::Whitelist;
    use super::{
        admin_client_config, configs_to_add, configs_to_delete, int_opt, join, log4j_time,
    };
    use crate::kclient::admin::{
        java_order, Admin, AdminError, ConfigEntry, ConfigResource, NewPartitions, NewTopic,
    };
    use crate::kclient::{ClientConfig, TopicInfo};

    /// A failure as TopicCommand reports it: `Error while executing topic command : <message>`
    /// on stdout, then the exception logged at ERROR on stderr.
    struct Failure {
        /// The Java exception's class (what the log line shows first).
        class: String,
        message: String,
        /// zkraft's own explanation of a client failure.
        detail: Option<String>,
    }

    fn illegal(message: impl Into<String>) -> Failure {
        Failure {
            class: "java.lang.IllegalArgumentException".into(),
            message: message.into(),
            detail: None,
        }
    }

    /// A failed admin future: `get()` wraps the cause in an ExecutionException.
    impl From<AdminError> for Failure {
        fn from(e: AdminError) -> Failure {
            Failure {
                class: "java.util.concurrent.ExecutionException".into(),
                message: e.java(),
                detail: e.detail(),
            }
        }
    }

    /// Errors of the shared option parsers (config validation and the like).
    impl From<super::CommandError> for Failure {
        fn from(e: super::CommandError) -> Failure {
            let m = e.0;
            let class = if m.starts_with("Unknown topic config name") {
                "org.apache.kafka.common.errors.InvalidConfigurationException"
            } else if m.starts_with("Invalid value") {
                "org.apache.kafka.common.config.ConfigException"
            } else if m.starts_with("Cannot parse argument") {
                "joptsimple.OptionArgumentConversionException"
            } else {
                "java.lang.IllegalArgumentException"
            };
            Failure {
                class: class.into(),
                message: m,
                detail: None,
            }
        }
    }

    /// The admin client, connected on first use (creating Kafka's client does not connect
    /// either, so argument errors come first).
    struct Session {
        cfg: ClientConfig,
        admin: Option<Admin>,
    }

    impl Session {
        async fn admin(&mut self) -> Result<&mut Admin, Failure> {
            if self.admin.is_none() {
                self.admin = Some(Admin::connect(self.cfg.clone()).await?);
            }
            self.admin
                .as_mut()
                .ok_or_else(|| illegal("the admin client is not connected"))
        }
    }

    pub fn main(o: &Options) -> i32 {
        let cfg = match admin_client_config(
            o.value("bootstrap-server").unwrap_or_default(),
            o.value("command-config"),
        ) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Exception in thread \"main\" {}", e.java);
                return 1;
            }
        };
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start: {e}");
                return 1;
            }
        };
        let mut session = Session { cfg, admin: None };
        let r = rt.block_on(async {
            if o.has("create") {
                create(&mut session, o).await
            } else if o.has("alter") {
                alter(&mut session, o).await
            } else if o.has("list") {
                let topics = topics(&mut session, o).await?;
                println!("{}", topics.join("\n"));
                Ok(())
            } else if o.has("describe") {
                describe(&mut session, o).await
            } else {
                delete(&mut session, o).await
            }
        });
        match r {
            Ok(()) => 0,
            Err(f) => {
                println!("Error while executing topic command : {}", f.message);
                let cause = f
                    .detail
                    .map(|d| format!("\nCaused by: {d}"))
                    .unwrap_or_default();
                eprintln!(
                    "[{}] ERROR {}: {}{cause}\n (kafka.admin.TopicCommand$)",
                    log4j_time(),
                    f.class,
                    f.message
                );
                1
            }
        }
    }

    /// `getTopics`: every topic (internal ones unless excluded), filtered by `--topic`.
    async fn topics(s: &mut Session, o: &Options) -> Result<Vec<String>, Failure> {
        let exclude = o.has("exclude-internal");
        let all = s.admin().await?.list_topics(!exclude).await?;
        let filter = match o.value("topic") {
            Some(p) => Some(Whitelist::new(p).map_err(illegal)?),
            None => None,
        };
        Ok(all
            .into_iter()
            .filter(|t| filter.as_ref().is_none_or(|w| w.matches(t)))
            .filter(|t| !(exclude && is_internal_topic(t)))
            .collect())
    }

    fn ensure_exists(found: &[String], o: &Options) -> Result<(), Failure> {
        match o.value("topic") {
            Some(t) if found.is_empty() => {
                Err(illegal(format!("Topic '{t}' does not exist as expected")))
            }
            _ => Ok(()),
        }
    }

    fn replica_assignment(o: &Options) -> Result<Option<BTreeMap<i32, Vec<i32>>>, Failure> {
        match o.value("replica-assignment") {
            None | Some("") => Ok(None),
            Some(text) => broker::assignment::parse_replica_assignment(text)
                .map(Some)
                .map_err(|e| Failure {
                    class: "kafka.admin.AdminOperationException".into(),
                    message: e.to_string(),
                    detail: None,
                }),
        }
    }

    async fn create(s: &mut Session, o: &Options) -> Result<(), Failure> {
        // CommandTopicPartition: every option is parsed (and configs validated) first.
        let name = o.value("topic").unwrap_or_default().to_owned();
        let partitions = int_opt(o, "partitions")?;
        let rf = int_opt(o, "replication-factor")?;
        let assignment = replica_assignment(o)?;
        let configs = configs_to_add(o)?;
        configs_to_delete(o)?;
        if has_collision_chars(&name) {
            println!("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.");
        }
        if rf.is_some_and(|rf| !(1..=i32::from(i16::MAX)).contains(&rf)) {
            return Err(illegal(format!(
                "The replication factor must be between 1 and {} inclusive",
                i16::MAX
            )));
        }
        if partitions.is_some_and(|p| p < 1) {
            return Err(illegal("The partitions must be greater than 0"));
        }
        let admin = s.admin().await?;
        if admin.list_topics(false).await?.contains(&name) {
            return Err(illegal(format!("Topic {name} already exists")));
        }
        let topic = NewTopic {
            name: name.clone(),
            partitions: if assignment.is_some() {
                None
            } else {
                partitions
            },
            replication_factor: if assignment.is_some() {
                None
            } else {
                rf.and_then(|r| i16::try_from(r).ok())
            },
            assignment,
            configs,
        };
        let results = admin.create_topics(vec![topic], false).await?;
        match results.get(&name) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(AdminError::Api(e.clone()).into()),
            None => Err(illegal(format!("no result for topic {name}"))),
        }
    }

    async fn alter(s: &mut Session, o: &Options) -> Result<(), Failure> {
        let count = int_opt(o, "partitions")?.unwrap_or(1);
        let assignment = replica_assignment(o)?;
        let found = topics(s, o).await?;
        ensure_exists(&found, o)?;
        let admin = s.admin().await?;
        let infos = admin.describe_topics(&found).await?;
        let increases = infos
            .iter()
            .map(|t| {
                let manual = assignment.as_ref().map(|a| {
                    a.values()
                        .skip(t.partitions.len())
                        .cloned()
                        .collect::<Vec<_>>()
                });
                NewPartitions {
                    topic: t.name.clone(),
                    total_count: count,
                    assignment: manual,
                }
            })
            .collect();
        for (_, r) in admin.create_partitions(increases, false).await? {
            r.map_err(|e| Failure::from(AdminError::Api(e)))?;
        }
        Ok(())
    }

    async fn delete(s: &mut Session, o: &Options) -> Result<(), Failure> {
        let found = topics(s, o).await?;
        ensure_exists(&found, o)?;
        if found.is_empty() {
            return Ok(());
        }
        for (_, r) in s.admin().await?.delete_topics(found).await? {
            r.map_err(|e| Failure::from(AdminError::Api(e)))?;
        }
        Ok(())
    }

    /// The order Kafka prints described topics in: `describeTopics(...).all()` is a HashMap
    /// built from a copy of a HashMap filled in sorted order.
    fn description_order(sorted: Vec<TopicInfo>) -> Vec<TopicInfo> {
        let n = sorted.len();
        let sized = java_order::capacity(Some(n), n);
        let first = java_order::order(sorted, |t| t.name.as_str(), sized);
        let copy = java_order::order(first, |t| t.name.as_str(), java_order::copy_capacity(n));
        java_order::order(copy, |t| t.name.as_str(), sized)
    }

    async fn describe(s: &mut Session, o: &Options) -> Result<(), Failure> {
        let found = topics(s, o).await?;
        let under = o.has("under-replicated-partitions");
        let unavailable = o.has("unavailable-partitions");
        let under_min = o.has("under-min-isr-partitions");
        let at_min = o.has("at-min-isr-partitions");
        let overrides_only = o.has("topics-with-overrides");
        let describe_configs = !under && !unavailable && !under_min && !at_min;
        let admin = s.admin().await?;
        if found.is_empty() {
            return Ok(());
        }
        let live = admin.describe_cluster().await?;
        let infos = description_order(admin.describe_topics(&found).await?);
        for t in &infos {
            let entries: Vec<ConfigEntry> = admin
                .describe_configs(&ConfigResource::topic(&t.name), false)
                .await?;
            // Config's HashMap order over every entry, then the non-defaults.
            let entries = java_order::default_map_order(entries, |e| e.name.as_str());
            let min_isr: Option<usize> = entries
                .iter()
                .find(|e| e.name == "min.insync.replicas")
                .and_then(|e| e.value.as_deref())
                .and_then(|v| v.parse().ok());
            let overrides: Vec<String> = entries
                .iter()
                .filter(|e| !e.is_default())
                .map(|e| format!("{}={}", e.name, e.value.as_deref().unwrap_or("null")))
                .collect();
            if describe_configs && (!overrides_only || !overrides.is_empty()) {
                let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
                println!(
                    "Topic: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}",
                    t.name,
                    t.partitions.len(),
                    overrides.join(",")
                );
            }
            if overrides_only {
                continue;
            }
            for p in &t.partitions {
                let has_leader = p.leader >= 0;
                let show = describe_configs
                    || (under && p.isr.len() < p.replicas.len())
                    || (unavailable && (!has_leader || !live.contains(&p.leader)))
                    || (under_min && (!has_leader || min_isr.is_some_and(|m| p.isr.len() < m)))
                    || (at_min && min_isr == Some(p.isr.len()));
                if show {
                    println!(
                        "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                        t.name,
                        p.partition,
                        if has_leader {
                            p.leader.to_string()
                        } else {
                            "none".to_owned()
                        },
                        join(&p.replicas),
                        join(&p.isr)
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Options {
        let a: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        parse(SPECS, &a).unwrap()
    }

    #[test]
    fn command_config_is_read_as_java_properties() {
        let p = parse_properties(
            "# comment\n! other\n\nrequest.timeout.ms = 1500\nclient.id:me\nsasl.jaas.config=a \\\n  b\nflag\n",
        );
        assert_eq!(
            p,
            vec![
                ("request.timeout.ms".to_owned(), "1500".to_owned()),
                ("client.id".to_owned(), "me".to_owned()),
                ("sasl.jaas.config".to_owned(), "a b".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        let dir = std::env::temp_dir().join(format!("zkraft-cc-{}", std::process::id()));
        std::fs::write(&dir, "request.timeout.ms=1500\nclient.id=me\n").unwrap();
        let path = dir.to_string_lossy().into_owned();
        let cfg = admin_client_config("a:1,b:2", Some(&path)).unwrap();
        assert_eq!(cfg.request_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(cfg.client_id, "me");
        assert_eq!(cfg.bootstrap, vec!["a:1".to_owned(), "b:2".to_owned()]);
        std::fs::write(&dir, "security.protocol=SSL\n").unwrap();
        assert!(admin_client_config("a:1", Some(&path)).is_err());
        std::fs::write(&dir, "request.timeout.ms=soon\n").unwrap();
        let e = admin_client_config("a:1", Some(&path)).unwrap_err();
        assert!(e.java.ends_with(
            "Invalid value soon for configuration request.timeout.ms: Not a number of type INT"
        ));
        let _ = std::fs::remove_file(&dir);
        let e = admin_client_config("a:1", Some("/nonexistent/x")).unwrap_err();
        assert_eq!(e.java, "java.nio.file.NoSuchFileException: /nonexistent/x");
    }

    #[test]
    fn bootstrap_mode_argument_checks() {
        let e = check_args(&opts(&[
            "--bootstrap-server",
            "b",
            "--alter",
            "--topic",
            "t",
        ]))
        .unwrap_err();
        assert_eq!(e.message, "Missing required argument \"[partitions]\"");
        let e = check_args(&opts(&[
            "--bootstrap-server",
            "b",
            "--alter",
            "--topic",
            "t",
            "--config",
            "a=b",
        ]))
        .unwrap_err();
        assert_eq!(
            e.message,
            "Option combination \"[bootstrap-server],[config]\" can't be used with option \"[alter]\""
        );
        assert!(check_args(&opts(&[
            "--bootstrap-server",
            "b",
            "--create",
            "--topic",
            "t"
        ]))
        .is_ok());
        assert!(check_args(&opts(&[
            "--bootstrap-server",
            "b",
            "--describe",
            "--at-min-isr-partitions"
        ]))
        .is_ok());
    }

    #[test]
    fn argument_checks_match_topic_command() {
        let e = check_args(&opts(&["--zookeeper", "z", "--list", "--describe"])).unwrap_err();
        assert!(e
            .message
            .starts_with("Command must include exactly one action"));
        let e = check_args(&opts(&["--list"])).unwrap_err();
        assert!(e
            .message
            .ends_with("Only one of --bootstrap-server or --zookeeper must be specified"));
        let e = check_args(&opts(&["--zookeeper", "z", "--create", "--topic", "t"])).unwrap_err();
        assert_eq!(e.message, "Missing required argument \"[partitions]\"");
        let e = check_args(&opts(&["--zookeeper", "z", "--delete"])).unwrap_err();
        assert_eq!(e.message, "Missing required argument \"[topic]\"");
        let e = check_args(&opts(&[
            "--zookeeper",
            "z",
            "--create",
            "--topic",
            "t",
            "--replica-assignment",
            "0",
            "--partitions",
            "1",
        ]))
        .unwrap_err();
        assert_eq!(
            e.message,
            "Option \"[replica-assignment]\" can't be used with option \"[partitions]\""
        );
        let e = check_args(&opts(&["--zookeeper", "z", "--list", "--config", "a=b"])).unwrap_err();
        assert_eq!(
            e.message,
            "Option \"[config]\" can't be used with option \"[list]\""
        );
        let e = check_args(&opts(&[
            "--zookeeper",
            "z",
            "--describe",
            "--under-min-isr-partitions",
        ]))
        .unwrap_err();
        assert_eq!(
            e.message,
            "Option \"[under-min-isr-partitions]\" can't be used with option \"[zookeeper]\""
        );
        assert!(check_args(&opts(&[
            "--zookeeper",
            "z",
            "--describe",
            "--under-replicated-partitions"
        ]))
        .is_ok());
        assert!(check_args(&opts(&[
            "--zookeeper",
            "z",
            "--create",
            "--topic",
            "t",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
        ]))
        .is_ok());
    }
}
