//! `kafka-console-consumer.sh` as Kafka 2.4's `ConsoleConsumer`: the same options, checks and
//! messages, records printed by `DefaultMessageFormatter` (`print.timestamp`, `print.key`,
//! `print.value`, `key.separator`, `line.separator`; 2.4 has no `print.partition` or
//! `print.offset`, so those are ignored as 2.4 ignores them), and on exit (max messages,
//! `--timeout-ms`, SIGINT/SIGTERM) `Processed a total of N messages` on stderr. Reading is
//! [`crate::kclient::consumer`]'s: a group member when subscribing (`--group`, else a
//! generated `console-consumer-N` group that does not commit), a plain assignment with
//! `--partition`.
//!
//! One difference: errors Kafka's consumer would retry forever (no broker reachable) end the
//! tool with exit code 1 after `request.timeout.ms` (or `--timeout-ms` when shorter).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::sync::watch;

use super::args::{key_values, parse, Options, Spec, UsageError};
use super::consumer_perf::java_date;
use super::version_string;
use crate::kclient::consumer::{
    Consumer, ConsumerConfig, ConsumerError, ConsumerRecord, StartOffset, Subscription,
    TimestampKind,
};

const DEFAULT_FORMATTER: &str = "kafka.tools.DefaultMessageFormatter";
const NOOP_FORMATTER: &str = "kafka.tools.NoOpMessageFormatter";
/// The logger name Kafka's tool logs under.
const LOGGER: &str = "kafka.tools.ConsoleConsumer$";

const SPECS: &[Spec] = &[
    Spec { name: "bootstrap-server", arg: Some("String: server to connect to"), help: "REQUIRED: The server(s) to connect to." },
    Spec { name: "consumer-property", arg: Some("String: consumer_prop"), help: "A mechanism to pass user-defined properties in the form key=value to the consumer." },
    Spec { name: "consumer.config", arg: Some("String: config file"), help: "Consumer config properties file. Note that [consumer-property] takes precedence over this config." },
    Spec { name: "enable-systest-events", arg: None, help: "Log lifecycle events of the consumer in addition to logging consumed messages. (This is specific for system tests.)" },
    Spec { name: "formatter", arg: Some("String: class"), help: "The name of a class to use for formatting kafka messages for display. (default: kafka.tools.DefaultMessageFormatter)" },
    Spec { name: "from-beginning", arg: None, help: "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message." },
    Spec { name: "group", arg: Some("String: consumer group id"), help: "The consumer group id of the consumer." },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "isolation-level", arg: Some("String"), help: "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommittedto read all messages. (default: read_uncommitted)" },
    Spec { name: "key-deserializer", arg: Some("String: deserializer for key"), help: "" },
    Spec { name: "max-messages", arg: Some("Integer: num_messages"), help: "The maximum number of messages to consume before exiting. If not set, consumption is continual." },
    Spec { name: "offset", arg: Some("String: consume offset"), help: "The offset id to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end (default: latest)" },
    Spec { name: "partition", arg: Some("Integer: partition"), help: "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified." },
    Spec { name: "property", arg: Some("String: prop"), help: "The properties to initialize the message formatter. Default properties include:\n\tprint.timestamp=true|false\n\tprint.key=true|false\n\tprint.value=true|false\n\tkey.separator=<key.separator>\n\tline.separator=<line.separator>\n\tkey.deserializer=<key.deserializer>\n\tvalue.deserializer=<value.deserializer>\n\nUsers can also pass in customized properties for their formatter; more specifically, users can pass in properties keyed with 'key.deserializer.' and 'value.deserializer.' prefixes to configure their deserializers." },
    Spec { name: "skip-message-on-error", arg: None, help: "If there is an error when processing a message, skip it instead of halt." },
    Spec { name: "timeout-ms", arg: Some("Integer: timeout_ms"), help: "If specified, exit if no message is available for consumption for the specified interval." },
    Spec { name: "topic", arg: Some("String: topic"), help: "The topic id to consume on." },
    Spec { name: "value-deserializer", arg: Some("String: deserializer for values"), help: "" },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
    Spec { name: "whitelist", arg: Some("String: whitelist"), help: "Regular expression specifying whitelist of topics to include for consumption." },
];

/// `printUsageAndDie`: message and option table on stderr, exit 1.
fn usage(msg: impl Into<String>) -> UsageError {
    UsageError::usage(msg)
}

/// `Utils.loadProps`.
pub fn load_props(path: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("Exception in thread \"main\" java.io.FileNotFoundException: {path} ({e})")
    })?;
    broker::config::parse_properties(&text)
        .map(|v| v.into_iter().collect())
        .map_err(|e| {
            format!("Exception in thread \"main\" java.lang.IllegalArgumentException: {e}")
        })
}

/// How record keys or values are turned into text (`key.deserializer`/`value.deserializer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deser {
    Raw,
    Long,
    Integer,
    Short,
    Double,
    Float,
}

impl Deser {
    fn from_class(class: &str) -> Result<Deser, String> {
        let short = class.rsplit('.').next().unwrap_or(class);
        Ok(match short {
            "StringDeserializer" | "ByteArrayDeserializer" | "BytesDeserializer"
            | "ByteBufferDeserializer" => Deser::Raw,
            "LongDeserializer" => Deser::Long,
            "IntegerDeserializer" => Deser::Integer,
            "ShortDeserializer" => Deser::Short,
            "DoubleDeserializer" => Deser::Double,
            "FloatDeserializer" => Deser::Float,
            _ => return Err(format!("Exception in thread \"main\" java.lang.ClassNotFoundException: {class} (zkraft supports Kafka's String, ByteArray, Bytes, Long, Integer, Short, Double and Float deserializers)")),
        })
    }

    /// The text of `bytes`, or the SerializationException message.
    fn render(self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let fixed = |n: usize, name: &str| {
            if bytes.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "org.apache.kafka.common.errors.SerializationException: Size of data received by {name} is not {n}"
                ))
            }
        };
        let mut a8 = [0u8; 8];
        Ok(match self {
            Deser::Raw => bytes.to_vec(),
            Deser::Long => {
                fixed(8, "LongDeserializer")?;
                a8.copy_from_slice(bytes);
                i64::from_be_bytes(a8).to_string().into_bytes()
            }
            Deser::Integer => {
                fixed(4, "IntegerDeserializer")?;
                i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
                    .to_string()
                    .into_bytes()
            }
            Deser::Short => {
                fixed(2, "ShortDeserializer")?;
                i16::from_be_bytes([bytes[0], bytes[1]])
                    .to_string()
                    .into_bytes()
            }
            Deser::Double => {
                fixed(8, "DoubleDeserializer")?;
                a8.copy_from_slice(bytes);
                java_double(f64::from_be_bytes(a8)).into_bytes()
            }
            Deser::Float => {
                fixed(4, "FloatDeserializer")?;
                java_double(f64::from(f32::from_be_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3],
                ])))
                .into_bytes()
            }
        })
    }
}

/// Java's `Double.toString` for the common cases (always a decimal point).
fn java_double(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d.is_infinite() {
        if d > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if d == d.trunc() && d.abs() < 1e7 {
        format!("{d:.1}")
    } else {
        format!("{d}")
    }
}

/// Kafka 2.4's `DefaultMessageFormatter` (or the no-op one).
#[derive(Clone, Debug)]
pub struct Formatter {
    noop: bool,
    print_timestamp: bool,
    print_key: bool,
    print_value: bool,
    key_separator: Vec<u8>,
    line_separator: Vec<u8>,
    key_deser: Deser,
    value_deser: Deser,
}

impl Formatter {
    /// `init(props)` of the formatter `class`.
    pub fn new(class: &str, props: &BTreeMap<String, String>) -> Result<Formatter, String> {
        let noop = match class {
            DEFAULT_FORMATTER => false,
            NOOP_FORMATTER => true,
            other => {
                return Err(format!(
                    "Exception in thread \"main\" java.lang.ClassNotFoundException: {other} (zkraft supports only {DEFAULT_FORMATTER} and {NOOP_FORMATTER})"
                ))
            }
        };
        let flag = |k: &str, default: bool| {
            props
                .get(k)
                .map(|v| v.trim().eq_ignore_ascii_case("true"))
                .unwrap_or(default)
        };
        let deser = |k: &str| match props.get(k) {
            Some(c) => Deser::from_class(c),
            None => Ok(Deser::Raw),
        };
        Ok(Formatter {
            noop,
            print_timestamp: flag("print.timestamp", false),
            print_key: flag("print.key", false),
            print_value: flag("print.value", true),
            key_separator: props
                .get("key.separator")
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_else(|| b"\t".to_vec()),
            line_separator: props
                .get("line.separator")
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_else(|| b"\n".to_vec()),
            key_deser: deser("key.deserializer")?,
            value_deser: deser("value.deserializer")?,
        })
    }

    /// The bytes `writeTo` prints for `r`, or the error a deserializer throws.
    pub fn format(&self, r: &ConsumerRecord) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        if self.noop {
            return Ok(out);
        }
        let sep = |out: &mut Vec<u8>, column: bool| {
            out.extend_from_slice(if column {
                &self.key_separator
            } else {
                &self.line_separator
            })
        };
        let field = |d: Deser, b: &Option<Bytes>| -> Result<Vec<u8>, String> {
            match b {
                // A null key or value prints as "null" (deserializers see those bytes too).
                None => d.render(b"null"),
                Some(b) => d.render(b),
            }
        };
        if self.print_timestamp {
            if r.timestamp_type == TimestampKind::None {
                out.extend_from_slice(b"NO_TIMESTAMP");
            } else {
                out.extend_from_slice(format!("{}:{}", r.timestamp_type, r.timestamp).as_bytes());
            }
            sep(&mut out, self.print_key || self.print_value);
        }
        if self.print_key {
            out.extend(field(self.key_deser, &r.key)?);
            sep(&mut out, self.print_value);
        }
        if self.print_value {
            out.extend(field(self.value_deser, &r.value)?);
            out.extend_from_slice(&self.line_separator);
        }
        Ok(out)
    }
}

/// Everything the run needs, after the checks.
struct Conf {
    consumer: ConsumerConfig,
    subscription: Subscription,
    max_messages: i64,
    timeout: Option<Duration>,
    formatter: Formatter,
    skip_on_error: bool,
    systest_events: bool,
}

/// Kafka's log4j layout for the tools: `[%d] %p %m (%c)%n` on stderr.
pub fn log_line(level: &str, msg: &str, logger: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    format!(
        "[{}] {level} {msg} ({logger})",
        java_date("yyyy-MM-dd HH:mm:ss,SSS", now)
    )
}

/// `kafka-console-consumer.sh` with Kafka's arguments; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let conf = match configure(args) {
        Ok(Some(c)) => c,
        Ok(None) => return 0,
        Err(Fail::Usage(e)) => {
            eprintln!("{}", e.message);
            if e.with_help {
                eprint!("{}", super::args::help_table(SPECS));
            }
            return 1;
        }
        Err(Fail::Plain(msg)) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zkraft: cannot start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(run(conf))
}

enum Fail {
    Usage(UsageError),
    Plain(String),
}

impl From<UsageError> for Fail {
    fn from(e: UsageError) -> Self {
        Fail::Usage(e)
    }
}

/// The option checks of ConsoleConsumer.ConsumerConfig, in its order. None: `--version`.
fn configure(args: &[String]) -> Result<Option<Conf>, Fail> {
    // tryParse: a jopt-simple failure is printed with the usage.
    let o: Options = parse(SPECS, args).map_err(|e| {
        let msg = match e.message.split_once("joptsimple.") {
            Some((_, rest)) => rest
                .split_once(": ")
                .map(|x| x.1)
                .unwrap_or(rest)
                .to_owned(),
            None => e.message.clone(),
        };
        usage(msg)
    })?;
    if args.is_empty() || o.has("help") {
        return Err(usage(
            "This tool helps to read data from Kafka topics and outputs it to standard output.",
        )
        .into());
    }
    if o.has("version") {
        println!("{}", version_string());
        return Ok(None);
    }
    let int_opt = |name: &str| -> Result<Option<i32>, Fail> {
        o.int(name).map_err(|m| Fail::Usage(usage(m)))
    };
    let extra_props = key_values(&o.values("consumer-property"));
    let file_props = match o.value("consumer.config") {
        Some(path) => load_props(path).map_err(Fail::Plain)?,
        None => BTreeMap::new(),
    };
    let from_beginning = o.has("from-beginning");
    let partition = int_opt("partition")?;
    let class = o.value("formatter").unwrap_or(DEFAULT_FORMATTER);
    let mut formatter_props = key_values(&o.values("property"));
    for (opt, key) in [
        ("key-deserializer", "key.deserializer"),
        ("value-deserializer", "value.deserializer"),
    ] {
        if let Some(v) = o.value(opt).filter(|v| !v.is_empty()) {
            formatter_props.insert(key.to_owned(), v.to_owned());
        }
    }
    let max_messages = int_opt("max-messages")?.map(i64::from).unwrap_or(-1);
    let timeout_ms = int_opt("timeout-ms")?.map(i64::from).unwrap_or(-1);
    let formatter = Formatter::new(class, &formatter_props).map_err(Fail::Plain)?;

    let n = ["topic", "whitelist"].iter().filter(|x| o.has(x)).count();
    if n != 1 {
        return Err(usage("Exactly one of whitelist/topic is required.").into());
    }
    if partition.is_some() {
        if !o.has("topic") {
            return Err(usage("The topic is required when partition is specified.").into());
        }
        if from_beginning && o.has("offset") {
            return Err(
                usage("Options from-beginning and offset cannot be specified together.").into(),
            );
        }
    } else if o.has("offset") {
        return Err(usage("The partition is required when offset is specified.").into());
    }
    let start = match o.value("offset") {
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "earliest" => StartOffset::Earliest,
            "latest" => StartOffset::Latest,
            s => match s.parse::<i64>() {
                Ok(n) if n >= 0 => StartOffset::At(n),
                _ => {
                    return Err(usage(format!(
                        "The provided offset value '{v}' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long."
                    ))
                    .into())
                }
            },
        },
        None if from_beginning => StartOffset::Earliest,
        None => StartOffset::Latest,
    };
    o.require(&["bootstrap-server"])?;

    // The group id may come from --group, --consumer-property or --consumer.config; they
    // must agree.
    let mut groups: Vec<String> = Vec::new();
    for g in [
        o.value("group").map(str::to_owned),
        file_props.get("group.id").cloned(),
        extra_props.get("group.id").cloned(),
    ]
    .into_iter()
    .flatten()
    {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    if groups.len() > 1 {
        return Err(usage(format!(
            "The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: '{}'",
            groups.join("', '")
        ))
        .into());
    }
    let mut props = file_props;
    props.extend(extra_props);
    let group_passed = !groups.is_empty();
    match groups.pop() {
        Some(g) => {
            props.insert("group.id".into(), g);
        }
        None => {
            let n = rand::thread_rng().gen_range(0..100_000);
            props.insert("group.id".into(), format!("console-consumer-{n}"));
            // A generated group is not meant to be reused: do not fill the offsets topic.
            props
                .entry("enable.auto.commit".into())
                .or_insert_with(|| "false".into());
        }
    }
    if group_passed && partition.is_some() {
        return Err(usage("Options group and partition cannot be specified together.").into());
    }
    match props.get("auto.offset.reset") {
        Some(v) if from_beginning && v != "earliest" => {
            return Err(Fail::Plain(format!(
                "Can't simultaneously specify --from-beginning and 'auto.offset.reset={v}', please remove one option"
            )))
        }
        Some(_) => {}
        None => {
            let v = if from_beginning { "earliest" } else { "latest" };
            props.insert("auto.offset.reset".into(), v.into());
        }
    }
    let bootstrap = o.value("bootstrap-server").unwrap_or_default().to_owned();
    props.insert("bootstrap.servers".into(), bootstrap);
    if o.has("isolation-level") || !props.contains_key("isolation.level") {
        let v = o.value("isolation-level").unwrap_or("read_uncommitted");
        props.insert("isolation.level".into(), v.into());
    }
    let mut consumer = ConsumerConfig::from_properties(&props).map_err(|e| {
        Fail::Plain(format!(
            "Exception in thread \"main\" org.apache.kafka.common.config.ConfigException: {e}"
        ))
    })?;
    if consumer.client_id.is_empty() {
        consumer.client_id = "consumer-1".into();
    }
    let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
    if let Some(t) = timeout {
        // Fail fast on an unreachable cluster when the user asked for a short wait.
        consumer.request_timeout = consumer.request_timeout.min(t.max(Duration::from_secs(1)));
    }
    let subscription = match (o.value("topic"), o.value("whitelist"), partition) {
        (Some(t), _, Some(p)) => {
            // With --partition no group is used (the generated id is never joined).
            consumer.group_id = None;
            Subscription::Assigned(vec![(t.to_owned(), p, start)])
        }
        (Some(t), _, None) => Subscription::Topics(vec![t.to_owned()]),
        (None, Some(w), _) => {
            let re = regex::Regex::new(&format!("^(?:{w})$")).map_err(|e| {
                Fail::Plain(format!(
                    "Exception in thread \"main\" java.util.regex.PatternSyntaxException: {e}"
                ))
            })?;
            Subscription::Pattern(re)
        }
        (None, None, _) => return Err(usage("Exactly one of whitelist/topic is required.").into()),
    };
    Ok(Some(Conf {
        consumer,
        subscription,
        max_messages,
        timeout,
        formatter,
        skip_on_error: o.has("skip-message-on-error"),
        systest_events: o.has("enable-systest-events"),
    }))
}

/// Why the record loop ended.
enum End {
    Done,
    Timeout,
    Woken,
    OutputClosed,
    Failed(String),
}

/// Sets the wakeup flag on SIGINT or SIGTERM (Kafka's shutdown hook calls `wakeup()`).
fn spawn_signal_watcher() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
    });
    rx
}

async fn run(conf: Conf) -> i32 {
    let mut wakeup = spawn_signal_watcher();
    let mut count: u64 = 0;
    let connect = Consumer::connect(conf.consumer.clone(), conf.subscription.clone());
    let mut consumer = tokio::select! {
        r = connect => match r {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}", log_line("ERROR", "Unknown error when running consumer: ", LOGGER));
                eprintln!("{}", describe(&e));
                eprintln!("Processed a total of 0 messages");
                return 1;
            }
        },
        _ = wakeup.wait_for(|w| *w) => {
            eprintln!("Processed a total of 0 messages");
            return 0;
        }
    };
    consumer.set_wakeup(wakeup.clone());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut pending: std::collections::VecDeque<ConsumerRecord> = Default::default();
    let poll_timeout = conf.timeout.unwrap_or(Duration::MAX);
    let end = loop {
        if conf.max_messages >= 0 && count as i64 >= conf.max_messages {
            break End::Done;
        }
        if *wakeup.borrow() {
            break End::Woken;
        }
        let Some(r) = pending.pop_front() else {
            if out.flush().is_err() {
                break End::OutputClosed;
            }
            match consumer.poll(poll_timeout).await {
                Ok(batch) if batch.is_empty() => break End::Timeout,
                Ok(batch) => pending.extend(batch),
                Err(ConsumerError::Wakeup) => break End::Woken,
                Err(e) => break End::Failed(describe(&e)),
            }
            continue;
        };
        count += 1;
        match conf.formatter.format(&r) {
            Ok(bytes) => {
                if out.write_all(&bytes).is_err() {
                    break End::OutputClosed;
                }
            }
            Err(e) if conf.skip_on_error => {
                eprintln!(
                    "{}",
                    log_line(
                        "ERROR",
                        "Error processing message, skipping this message: ",
                        LOGGER
                    )
                );
                eprintln!("{e}");
            }
            Err(e) => break End::Failed(e),
        }
    };
    let flushed = out.flush().is_ok();
    drop(out);
    // Records fetched but not printed are not committed (resetUnconsumedOffsets).
    let mut first_unconsumed: HashMap<(String, i32), i64> = HashMap::new();
    for r in &pending {
        first_unconsumed
            .entry((r.topic.clone(), r.partition))
            .or_insert(r.offset);
    }
    for (tp, off) in first_unconsumed {
        consumer.seek(&tp, off);
    }
    let close_result = consumer.close().await;
    let mut code = 0;
    match &end {
        End::Timeout => {
            eprintln!(
                "{}",
                log_line(
                    "ERROR",
                    "Error processing message, terminating consumer process: ",
                    LOGGER
                )
            );
            eprintln!("org.apache.kafka.common.errors.TimeoutException");
        }
        End::OutputClosed => eprintln!("Unable to write to standard out, closing consumer."),
        End::Failed(msg) => {
            eprintln!(
                "{}",
                log_line(
                    "ERROR",
                    "Error processing message, terminating consumer process: ",
                    LOGGER
                )
            );
            eprintln!("{msg}");
            code = 1;
        }
        End::Done | End::Woken => {}
    }
    if !flushed && !matches!(end, End::OutputClosed) {
        eprintln!("Unable to write to standard out, closing consumer.");
    }
    if let Err(e) = close_result {
        eprintln!(
            "{}",
            log_line(
                "WARN",
                &format!("Failed to commit offsets on close: {}", describe(&e)),
                LOGGER
            )
        );
    }
    eprintln!("Processed a total of {count} messages");
    if conf.systest_events {
        println!("shutdown_complete");
    }
    code
}

/// An error as the tool prints it (Kafka's exception class first where it has one).
fn describe(e: &ConsumerError) -> String {
    match e {
        ConsumerError::Client(c @ crate::kclient::ClientError::Bootstrap { .. }) => {
            format!("org.apache.kafka.common.errors.TimeoutException: {c}")
        }
        ConsumerError::Client(c) => format!("org.apache.kafka.common.KafkaException: {c}"),
        ConsumerError::Config { .. } => {
            format!("org.apache.kafka.common.config.ConfigException: {e}")
        }
        ConsumerError::NoOffset(_) => {
            format!("org.apache.kafka.clients.consumer.NoOffsetForPartitionException: {e}")
        }
        ConsumerError::Corrupt { .. } => format!("org.apache.kafka.common.KafkaException: {e}"),
        ConsumerError::Wakeup => "org.apache.kafka.common.errors.WakeupException".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: Option<&str>, value: Option<&str>) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 0,
            offset: 5,
            timestamp: 1_700_000_000_000,
            timestamp_type: TimestampKind::CreateTime,
            key: key.map(|k| Bytes::from(k.to_owned())),
            value: value.map(|v| Bytes::from(v.to_owned())),
            headers: Vec::new(),
        }
    }

    fn fmt(props: &[(&str, &str)], r: &ConsumerRecord) -> String {
        let p: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        String::from_utf8(
            Formatter::new(DEFAULT_FORMATTER, &p)
                .unwrap()
                .format(r)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn default_formatter_matches_kafka_2_4() {
        let r = rec(Some("k"), Some("v"));
        assert_eq!(fmt(&[], &r), "v\n");
        assert_eq!(
            fmt(&[("print.key", "true"), ("print.timestamp", "true")], &r),
            "CreateTime:1700000000000\tk\tv\n"
        );
        assert_eq!(
            fmt(&[("print.key", "true"), ("key.separator", "::")], &r),
            "k::v\n"
        );
        assert_eq!(
            fmt(&[("print.key", "true"), ("print.value", "false")], &r),
            "k\n"
        );
        assert_eq!(
            fmt(&[("print.timestamp", "true"), ("print.value", "false")], &r),
            "CreateTime:1700000000000\n"
        );
        // 2.4 has no print.partition / print.offset: they change nothing.
        assert_eq!(
            fmt(&[("print.partition", "true"), ("print.offset", "true")], &r),
            "v\n"
        );
        assert_eq!(
            fmt(&[("print.key", "true")], &rec(None, None)),
            "null\tnull\n"
        );
        assert_eq!(fmt(&[("line.separator", "|")], &r), "v|");
    }

    #[test]
    fn deserializers_render_numbers_or_fail() {
        let mut r = rec(None, None);
        r.value = Some(Bytes::from(42i64.to_be_bytes().to_vec()));
        assert_eq!(
            fmt(
                &[(
                    "value.deserializer",
                    "org.apache.kafka.common.serialization.LongDeserializer"
                )],
                &r
            ),
            "42\n"
        );
        let p: BTreeMap<String, String> = [(
            "value.deserializer".to_string(),
            "org.apache.kafka.common.serialization.IntegerDeserializer".to_string(),
        )]
        .into();
        assert!(Formatter::new(DEFAULT_FORMATTER, &p)
            .unwrap()
            .format(&r)
            .unwrap_err()
            .contains("is not 4"));
        assert!(Formatter::new("com.example.Fancy", &BTreeMap::new()).is_err());
    }

    #[test]
    fn option_checks_follow_console_consumer() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let msg = |v: &[&str]| match configure(&s(v)) {
            Err(Fail::Usage(e)) => e.message,
            Err(Fail::Plain(m)) => m,
            Ok(_) => "ok".into(),
        };
        assert_eq!(
            msg(&["--bootstrap-server", "x:1"]),
            "Exactly one of whitelist/topic is required."
        );
        assert_eq!(
            msg(&["--bootstrap-server", "x:1", "--topic", "t", "--offset", "1"]),
            "The partition is required when offset is specified."
        );
        assert_eq!(
            msg(&["--bootstrap-server", "x:1", "--topic", "t", "--partition", "0", "--offset", "-3"]),
            "The provided offset value '-3' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long."
        );
        assert_eq!(
            msg(&["--topic", "t"]),
            "Missing required argument \"[bootstrap-server]\""
        );
        assert_eq!(
            msg(&[
                "--bootstrap-server",
                "x:1",
                "--topic",
                "t",
                "--partition",
                "0",
                "--group",
                "g"
            ]),
            "Options group and partition cannot be specified together."
        );
        assert_eq!(
            msg(&["--bootstrap-server", "x:1", "--topic", "t", "--group", "a", "--consumer-property", "group.id=b"]),
            "The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: 'a', 'b'"
        );
        assert_eq!(msg(&["--bogus"]), "bogus is not a recognized option");
        assert_eq!(
            msg(&["--bootstrap-server", "x:1", "--topic", "t", "--from-beginning", "--consumer-property", "auto.offset.reset=latest"]),
            "Can't simultaneously specify --from-beginning and 'auto.offset.reset=latest', please remove one option"
        );
        assert_eq!(msg(&["--bootstrap-server", "x:1", "--topic", "t"]), "ok");
    }
}
