//! `kafka-topics.sh --zookeeper` as Kafka 2.4's TopicCommand: argument checks, messages,
//! exit codes and the znodes it reads and writes (`/brokers/topics/<t>` v2, `/config/topics/<t>`
//! with its change notification, `/admin/delete_topics/<t>`).

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
        eprintln!("kafka-topics --bootstrap-server is not supported by zkraft yet; use --zookeeper host:port");
        return 1;
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
                let cfg: Vec<String> = configs
                    .config
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "Topic: {topic}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}{mark}",
                    assignment.partitions.len(),
                    cfg.join(",")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Options {
        let a: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        parse(SPECS, &a).unwrap()
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
