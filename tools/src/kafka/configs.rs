//! `kafka-configs.sh` as Kafka 2.4's ConfigCommand. `--zookeeper` handles topics, brokers,
//! clients and users: `--describe`, and `--alter --add-config k=v,k2=[a,b] --delete-config k`
//! which rewrites `/config/<type>/<name>` and then creates the `/config/changes` notification.
//! `--bootstrap-server` (`admin_mode`) handles brokers and broker-loggers over the Admin API.

use std::collections::BTreeMap;

use broker::zkclient::KafkaZkClient;
use broker::zkdata::{
    desanitize, sanitize, validate_topic_name, ConfigEntityType, EntityConfig, DEFAULT_ENTITY,
};

use super::args::{parse, Options, Spec, UsageError};
use super::{connect, print_usage_error, topic_config, version_string};

const SPECS: &[Spec] = &[
    Spec { name: "add-config", arg: Some("String"), help: "Key Value pairs of configs to add. Square brackets can be used to group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'." },
    Spec { name: "alter", arg: None, help: "Alter the configuration for the entity." },
    Spec { name: "bootstrap-server", arg: Some("String: server to connect to"), help: "The Kafka server to connect to. This is required for describing and altering broker configs." },
    Spec { name: "command-config", arg: Some("String: command config property file"), help: "Property file containing configs to be passed to Admin Client. This is used only with --bootstrap-server option for describing and altering broker configs." },
    Spec { name: "delete-config", arg: Some("String"), help: "config keys to remove 'k1,k2'" },
    Spec { name: "describe", arg: None, help: "List configs for the given entity." },
    Spec { name: "entity-default", arg: None, help: "Default entity name for clients/users/brokers (applies to corresponding entity type in command line)" },
    Spec { name: "entity-name", arg: Some("String"), help: "Name of entity (topic name/client id/user principal name/broker id)" },
    Spec { name: "entity-type", arg: Some("String"), help: "Type of entity (topics/clients/users/brokers/broker-loggers)" },
    Spec { name: "force", arg: None, help: "Suppress console prompts" },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
    Spec { name: "zookeeper", arg: Some("String: urls"), help: "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over." },
];

/// Broker configs Kafka lets `--zookeeper` change while the broker runs.
const UPDATABLE_WHILE_RUNNING: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
/// Quota keys of clients and users (`DynamicConfig.Client` / `DynamicConfig.User`).
const QUOTA_KEYS: [&str; 3] = [
    "consumer_byte_rate",
    "producer_byte_rate",
    "request_percentage",
];

/// Why the command failed, and how Kafka reports it.
#[derive(Debug)]
enum Failure {
    /// IllegalArgumentException / InvalidConfigurationException: the message on stderr.
    Message(String),
    /// Anything else: Kafka's generic line, then the exception.
    Other(String),
}

fn msg(s: impl Into<String>) -> Failure {
    Failure::Message(s.into())
}

/// `kafka-configs.sh` with Kafka's arguments; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let o = match parse(SPECS, args) {
        Ok(o) => o,
        // ConfigCommand catches jopt's OptionException and prints only its message.
        Err(e) => {
            let short = e
                .message
                .strip_prefix("Exception in thread \"main\" joptsimple.")
                .and_then(|rest| rest.split_once(": "))
                .map(|(_, msg)| msg.to_owned());
            match short {
                Some(msg) => {
                    eprintln!("{msg}");
                    return 1;
                }
                None => return print_usage_error(&e, SPECS),
            }
        }
    };
    if args.is_empty() || o.has("help") {
        return print_usage_error(
            &UsageError::usage("This tool helps to manipulate and describe entity config for a topic, client, user or broker"),
            SPECS,
        );
    }
    if o.has("version") {
        println!("{}", version_string());
        return 0;
    }
    match check_args(&o) {
        Ok(()) => {}
        Err(Ok(usage)) => return print_usage_error(&usage, SPECS),
        Err(Err(m)) => {
            eprintln!("{m}");
            return 1;
        }
    }
    if o.has("bootstrap-server") {
        return admin_mode::main(&o, args);
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
            Err(m) => {
                eprintln!("{m}");
                return 1;
            }
        };
        let r = if o.has("alter") {
            alter(&zk, &o).await
        } else {
            describe(&zk, &o).await
        };
        zk.close().await;
        match r {
            Ok(()) => 0,
            Err(Failure::Message(m)) => {
                eprintln!("{m}");
                1
            }
            Err(Failure::Other(m)) => {
                eprintln!(
                    "Error while executing config command with args '{}'",
                    args.join(" ")
                );
                eprintln!("{m}");
                1
            }
        }
    })
}

/// ConfigCommandOptions.checkArgs: `Err(Ok(_))` prints the usage, `Err(Err(_))` only a message.
fn check_args(o: &Options) -> Result<(), Result<UsageError, String>> {
    let actions = ["alter", "describe"].iter().filter(|a| o.has(a)).count();
    if actions != 1 {
        return Err(Ok(UsageError::usage(
            "Command must include exactly one action: --describe, --alter",
        )));
    }
    o.forbid("describe", &["alter", "add-config", "delete-config"])
        .map_err(Ok)?;
    let types = o.values("entity-type");
    let bootstrap = o.has("bootstrap-server");
    let (allowed, mode): (&[&str], &str) = if bootstrap {
        (&["brokers", "broker-loggers"], "--bootstrap-server")
    } else {
        (&["topics", "clients", "users", "brokers"], "--zookeeper")
    };
    for t in &types {
        if !allowed.contains(&t.as_str()) {
            return Err(Err(format!(
                "Invalid entity-type {t}, --entity-type must be one of {} with the {mode} argument",
                allowed.join(",")
            )));
        }
    }
    if types.is_empty() {
        return Err(Err("At least one --entity-type must be specified".into()));
    }
    if types.len() > 1 {
        return Err(Err(
            if types.iter().all(|t| t == "users" || t == "clients") {
                "zkraft's kafka-configs does not support user and client entities together yet"
                    .into()
            } else {
                "Only 'users' and 'clients' entity types may be specified together".into()
            },
        ));
    }
    match (bootstrap, o.has("zookeeper")) {
        (false, false) => {
            return Err(Err(
                "One of the required --bootstrap-server or --zookeeper arguments must be specified"
                    .into(),
            ))
        }
        (true, true) => {
            return Err(Err(
                "Only one of --bootstrap-server or --zookeeper must be specified".into(),
            ))
        }
        (true, false) if !o.has("entity-name") && !o.has("entity-default") => {
            return Err(Err("At least one of --entity-name or --entity-default must be specified with --bootstrap-server".into()));
        }
        _ => {}
    }
    let t = types[0].as_str();
    if let (Some(name), "brokers" | "broker-loggers") = (o.value("entity-name"), t) {
        if name.parse::<i32>().is_err() {
            return Err(Err(format!(
                "The entity name for {t} must be a valid integer broker id , but it is: {name}"
            )));
        }
    }
    if o.has("describe") && t == "broker-loggers" && !o.has("entity-name") {
        return Err(Err(format!(
            "--entity-name must be specified with --describe of {t}"
        )));
    }
    if o.has("alter") {
        if t == "users" || t == "clients" || t == "brokers" {
            if !o.has("entity-name") && !o.has("entity-default") {
                return Err(Err("--entity-name or --entity-default must be specified with --alter of users, clients or brokers".into()));
            }
        } else if !o.has("entity-name") {
            return Err(Err(format!(
                "--entity-name must be specified with --alter of {t}"
            )));
        }
        if !o.has("add-config") && !o.has("delete-config") {
            return Err(Err(
                "At least one of --add-config or --delete-config must be specified with --alter"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The entity a command names: its type and stored (sanitized) name, if any.
struct Entity {
    ty: ConfigEntityType,
    name: Option<String>,
}

impl Entity {
    fn from_options(o: &Options) -> Entity {
        let ty = o
            .value("entity-type")
            .and_then(ConfigEntityType::parse)
            .unwrap_or(ConfigEntityType::Topics);
        let name = match (o.value("entity-name"), o.has("entity-default")) {
            (Some(n), _) => Some(match ty {
                ConfigEntityType::Users | ConfigEntityType::Clients => sanitize(n),
                _ => n.to_owned(),
            }),
            (None, true) if ty != ConfigEntityType::Topics => Some(DEFAULT_ENTITY.to_owned()),
            _ => None,
        };
        Entity { ty, name }
    }

    /// ConfigCommand's `Entity.toString`: `topic 'foo'`, `brokers '0'`, `default brokers`.
    fn display(&self, name: &str) -> String {
        let type_name = match self.ty {
            ConfigEntityType::Users => "user-principal",
            ConfigEntityType::Clients => "client-id",
            ConfigEntityType::Topics => "topic",
            other => other.name(),
        };
        if name == DEFAULT_ENTITY {
            return format!("default {type_name}");
        }
        let shown = match self.ty {
            ConfigEntityType::Users | ConfigEntityType::Clients => {
                desanitize(name).unwrap_or_else(|| name.to_owned())
            }
            _ => name.to_owned(),
        };
        format!("{type_name} '{shown}'")
    }
}

/// `parseConfigsToBeAdded`: commas and `=` inside `[...]` do not split; brackets are removed.
fn configs_to_add(s: &str) -> Result<BTreeMap<String, String>, Failure> {
    let mut pairs = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth <= 0 {
            pairs.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    pairs.push(cur);
    // Java's split drops trailing empty strings.
    while pairs.last().is_some_and(|p| p.is_empty()) && pairs.len() > 1 {
        pairs.pop();
    }
    let mut out = BTreeMap::new();
    for p in pairs {
        let mut depth = 0i32;
        let mut split = None;
        let mut count = 0;
        for (i, c) in p.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                '=' if depth <= 0 => {
                    count += 1;
                    split.get_or_insert(i);
                }
                _ => {}
            }
        }
        let (Some(i), 1) = (split, count) else {
            return Err(msg("requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\"."));
        };
        let key = p[..i].trim().to_owned();
        let value: String = p[i + 1..]
            .chars()
            .filter(|c| *c != '[' && *c != ']')
            .collect();
        out.insert(key, value.trim().to_owned());
    }
    if let Some(v) = out.get("message.format.version") {
        println!("WARNING: The configuration message.format.version={v} is specified. This configuration will be ignored if the version is newer than the inter.broker.protocol.version specified in the broker.");
    }
    Ok(out)
}

fn zk_failure(e: broker::zkclient::ZkError) -> Failure {
    Failure::Other(e.to_string())
}

async fn alter(zk: &KafkaZkClient, o: &Options) -> Result<(), Failure> {
    let add = match o.value("add-config") {
        Some(s) => configs_to_add(s)?,
        None => BTreeMap::new(),
    };
    let delete: Vec<String> = o
        .values("delete-config")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let entity = Entity::from_options(o);
    let name = entity.name.clone().unwrap_or_default();
    match entity.ty {
        ConfigEntityType::Users if add.keys().any(|k| k.starts_with("SCRAM-")) => {
            return Err(msg(
                "SCRAM credentials are not supported by zkraft's kafka-configs yet",
            ));
        }
        ConfigEntityType::Brokers => {
            let dynamic: Vec<&String> = add
                .keys()
                .filter(|k| !UPDATABLE_WHILE_RUNNING.contains(&k.as_str()))
                .collect();
            if !dynamic.is_empty() {
                let set = format!(
                    "Set({})",
                    dynamic
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let what = format!(
                    "--bootstrap-server option must be specified to update broker configs {set}"
                );
                let info = "Broker configuration updates using ZooKeeper are supported for bootstrapping before brokers are started to enable encrypted password configs to be stored in ZooKeeper.";
                if name != DEFAULT_ENTITY {
                    let id = name.parse::<i32>().unwrap_or(-1);
                    if zk.get_broker(id).await.map_err(zk_failure)?.is_some() {
                        return Err(msg(format!(
                            "requirement failed: {what} when broker {name} is running. {info}"
                        )));
                    }
                } else if !zk.get_all_brokers().await.map_err(zk_failure)?.is_empty() {
                    return Err(msg(format!("requirement failed: {what} for default cluster if any broker is running. {info}")));
                }
                if add.keys().any(|k| k.contains("password")) {
                    return Err(msg("password configs need the password encoder, which zkraft's kafka-configs does not support yet"));
                }
            }
        }
        _ => {}
    }
    let mut config = zk
        .get_entity_config(entity.ty, &name)
        .await
        .map_err(zk_failure)?;
    let invalid: Vec<&str> = delete
        .iter()
        .filter(|k| !config.config.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !invalid.is_empty() {
        return Err(msg(format!("Invalid config(s): {}", invalid.join(","))));
    }
    config.config.extend(add);
    for k in &delete {
        config.config.remove(k);
    }
    validate(zk, &entity, &name, &config).await?;
    zk.change_entity_config(entity.ty, &name, &config)
        .await
        .map_err(zk_failure)?;
    println!(
        "Completed Updating config for entity: {}.",
        entity.display(&name)
    );
    Ok(())
}

/// AdminZkClient's per-type validation before a write.
async fn validate(
    zk: &KafkaZkClient,
    entity: &Entity,
    name: &str,
    config: &EntityConfig,
) -> Result<(), Failure> {
    match entity.ty {
        ConfigEntityType::Topics => {
            validate_topic_name(name).map_err(|e| {
                Failure::Other(format!(
                    "org.apache.kafka.common.errors.InvalidTopicException: {e}"
                ))
            })?;
            if !zk.topic_exists(name).await.map_err(zk_failure)? {
                return Err(Failure::Other(format!(
                    "kafka.admin.AdminOperationException: Topic \"{name}\" does not exist."
                )));
            }
            topic_config::validate_names(config.config.keys().map(String::as_str)).map_err(msg)?;
            topic_config::validate(config.config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| {
                    Failure::Other(format!(
                        "org.apache.kafka.common.config.ConfigException: {e}"
                    ))
                })
        }
        ConfigEntityType::Users | ConfigEntityType::Clients => {
            for (k, v) in &config.config {
                if !QUOTA_KEYS.contains(&k.as_str()) {
                    return Err(msg(format!("Unknown Dynamic Configuration '{k}'.")));
                }
                let ok = if k == "request_percentage" {
                    v.parse::<f64>().is_ok()
                } else {
                    v.parse::<i64>().is_ok()
                };
                if !ok {
                    return Err(Failure::Other(format!(
                        "org.apache.kafka.common.config.ConfigException: Invalid value {v} for configuration {k}"
                    )));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn describe(zk: &KafkaZkClient, o: &Options) -> Result<(), Failure> {
    let entity = Entity::from_options(o);
    let names = match &entity.name {
        Some(n) => vec![n.clone()],
        None => {
            let mut all = zk
                .get_children(&entity.ty.path())
                .await
                .map_err(zk_failure)?
                .unwrap_or_default();
            all.sort();
            all
        }
    };
    let listing_all_users = entity.ty == ConfigEntityType::Users && entity.name.is_none();
    for n in names {
        let c = zk
            .get_entity_config(entity.ty, &n)
            .await
            .map_err(zk_failure)?;
        if !c.config.is_empty() || !listing_all_users {
            let kv: Vec<String> = c.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("Configs for {} are {}", entity.display(&n), kv.join(","));
        }
    }
    Ok(())
}

/// `kafka-configs.sh --bootstrap-server`: Kafka 2.4's ConfigCommand over the Admin API, which
/// in this release handles only brokers and broker-loggers (topic configs need --zookeeper).
mod admin_mode {
    use std::collections::BTreeMap;

    use super::super::args::Options;
    use super::super::topics::admin_client_config;
    use super::{configs_to_add, msg, Failure};
    use crate::kclient::admin::{
        java_order, Admin, AdminError, AlterOp, ConfigEntry, ConfigResource, ConfigSource,
        ResourceType,
    };

    fn failed(e: AdminError) -> Failure {
        let cause = e
            .detail()
            .map(|d| format!("\nCaused by: {d}"))
            .unwrap_or_default();
        Failure::Other(format!(
            "java.util.concurrent.ExecutionException: {}{cause}",
            e.java()
        ))
    }

    pub fn main(o: &Options, args: &[String]) -> i32 {
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
        match rt.block_on(run(o)) {
            Ok(()) => 0,
            Err(Failure::Message(m)) => {
                eprintln!("{m}");
                1
            }
            Err(Failure::Other(m)) => {
                eprintln!(
                    "Error while executing config command with args '{}'",
                    args.join(" ")
                );
                eprintln!("{m}");
                1
            }
        }
    }

    async fn run(o: &Options) -> Result<(), Failure> {
        let cfg = admin_client_config(
            o.value("bootstrap-server").unwrap_or_default(),
            o.value("command-config"),
        )
        .map_err(|e| Failure::Other(e.java))?;
        // The default entity (--entity-default) is the empty name.
        let name = o.value("entity-name").unwrap_or_default().to_owned();
        let ty = match o.value("entity-type") {
            Some("broker-loggers") => ResourceType::BrokerLogger,
            _ => ResourceType::Broker,
        };
        let resource = ConfigResource {
            ty,
            name: name.clone(),
        };
        if o.has("alter") {
            let add = match o.value("add-config") {
                Some(s) => configs_to_add(s)?,
                None => BTreeMap::new(),
            };
            let delete: Vec<String> = o
                .values("delete-config")
                .iter()
                .flat_map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut admin = Admin::connect(cfg).await.map_err(failed)?;
            if ty == ResourceType::Broker {
                alter_broker(&mut admin, &resource, add, &delete).await?;
            } else {
                alter_loggers(&mut admin, &resource, add, &delete).await?;
            }
            if name.is_empty() {
                println!("Completed updating default config for brokers in the cluster,");
            } else {
                println!("Completed updating config for broker: {name}.");
            }
            return Ok(());
        }
        let mut admin = Admin::connect(cfg).await.map_err(failed)?;
        let entries = if ty == ResourceType::Broker {
            dynamic_entries(&mut admin, &resource, true).await?
        } else {
            java_order::default_map_order(
                admin
                    .describe_configs(&resource, false)
                    .await
                    .map_err(failed)?,
                |e| e.name.as_str(),
            )
        };
        if name.is_empty() {
            println!("Default config for brokers in the cluster are:");
        } else {
            println!("Configs for broker {name} are:");
        }
        for e in entries {
            let synonyms: Vec<String> = e
                .synonyms
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}={}",
                        s.source.name(),
                        s.name,
                        s.value.as_deref().unwrap_or("null")
                    )
                })
                .collect();
            println!(
                "  {}={} sensitive={} synonyms={{{}}}",
                e.name,
                e.value.as_deref().unwrap_or("null"),
                e.sensitive,
                synonyms.join(", ")
            );
        }
        Ok(())
    }

    /// ConfigCommand.brokerConfig: the broker's (or the cluster default's) dynamic entries,
    /// in the order Kafka's `Config` map yields them.
    async fn dynamic_entries(
        admin: &mut Admin,
        resource: &ConfigResource,
        synonyms: bool,
    ) -> Result<Vec<ConfigEntry>, Failure> {
        let source = if resource.name.is_empty() {
            ConfigSource::DynamicDefaultBroker
        } else {
            ConfigSource::DynamicBroker
        };
        let all = admin
            .describe_configs(resource, synonyms)
            .await
            .map_err(failed)?;
        Ok(java_order::default_map_order(all, |e| e.name.as_str())
            .into_iter()
            .filter(|e| e.source == source)
            .collect())
    }

    /// AlterConfigs with the whole new dynamic set: the old entries, plus `add`, minus
    /// `delete` (which must all exist).
    async fn alter_broker(
        admin: &mut Admin,
        resource: &ConfigResource,
        add: BTreeMap<String, String>,
        delete: &[String],
    ) -> Result<(), Failure> {
        let old: BTreeMap<String, Option<String>> = dynamic_entries(admin, resource, false)
            .await?
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect();
        let invalid: Vec<&str> = delete
            .iter()
            .filter(|k| !old.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !invalid.is_empty() {
            return Err(msg(format!("Invalid config(s): {}", invalid.join(","))));
        }
        let mut new = old;
        new.extend(add.into_iter().map(|(k, v)| (k, Some(v))));
        for k in delete {
            new.remove(k);
        }
        let missing: Vec<&str> = new
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(msg(format!(
                "All sensitive broker config entries must be specified for --alter, missing entries: Set({})",
                missing.join(", ")
            )));
        }
        admin
            .alter_configs(resource, &new, false)
            .await
            .map_err(failed)
    }

    /// IncrementalAlterConfigs of log levels; every logger named must exist.
    async fn alter_loggers(
        admin: &mut Admin,
        resource: &ConfigResource,
        add: BTreeMap<String, String>,
        delete: &[String],
    ) -> Result<(), Failure> {
        let valid: Vec<String> = admin
            .describe_configs(resource, false)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|e| e.name)
            .collect();
        let invalid: Vec<&str> = delete
            .iter()
            .chain(add.keys())
            .filter(|k| !valid.contains(k))
            .map(String::as_str)
            .collect();
        if !invalid.is_empty() {
            return Err(msg(format!(
                "Invalid broker logger(s): {}",
                invalid.join(",")
            )));
        }
        let ops: Vec<AlterOp> = add
            .into_iter()
            .map(|(k, v)| AlterOp::Set(k, v))
            .chain(delete.iter().map(|k| AlterOp::Delete(k.clone())))
            .collect();
        admin
            .incremental_alter_configs(resource, &ops, false)
            .await
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_groups_brackets() {
        let m = configs_to_add("a=1, b = [x,y] ,c=z=").err();
        assert!(m.is_some());
        let m = configs_to_add("a=1, b = [x,y] ,c=").unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("b").map(String::as_str), Some("x,y"));
        assert_eq!(m.get("c").map(String::as_str), Some(""));
        assert!(configs_to_add("novalue").is_err());
    }

    #[test]
    fn entities_display_as_kafka() {
        let e = Entity {
            ty: ConfigEntityType::Topics,
            name: None,
        };
        assert_eq!(e.display("foo"), "topic 'foo'");
        let e = Entity {
            ty: ConfigEntityType::Brokers,
            name: None,
        };
        assert_eq!(e.display("0"), "brokers '0'");
        assert_eq!(e.display(DEFAULT_ENTITY), "default brokers");
        let e = Entity {
            ty: ConfigEntityType::Users,
            name: None,
        };
        assert_eq!(e.display("a%40b"), "user-principal 'a@b'");
    }
}
