//! `kafka-console-producer.sh` as Kafka 2.4's ConsoleProducer: reads standard input line by
//! line (LineMessageReader: `parse.key`, `key.separator`, `ignore.error`) and sends each line
//! as a record with the options merged into producer properties the way Kafka merges them;
//! failures are logged as Kafka's ErrorLoggingCallback logs them.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::args::{key_values, parse, Options, Spec, UsageError};
use super::{print_usage_error, version_string};
use crate::kclient::producer::{
    Callback, ConfigError, Producer, ProducerConfig, ProducerRecord, SendError,
};

const SPECS: &[Spec] = &[
    Spec { name: "batch-size", arg: Some("Integer: size"), help: "Number of messages to send in a single batch if they are not being sent synchronously. (default: 200)" },
    Spec { name: "bootstrap-server", arg: Some("String: server to connect to"), help: "The server(s) to connect to, as later Kafka versions accept it; the same as --broker-list." },
    Spec { name: "broker-list", arg: Some("String: broker-list"), help: "REQUIRED: The broker list string in the form HOST1:PORT1,HOST2:PORT2." },
    Spec { name: "compression-codec", arg: Some("String: compression-codec"), help: "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'.If specified without value, then it defaults to 'gzip'" },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "line-reader", arg: Some("String: reader_class"), help: "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message. (default: kafka.tools.ConsoleProducer$LineMessageReader)" },
    Spec { name: "max-block-ms", arg: Some("Long: max block on send"), help: "The max time that the producer will block for during a send request (default: 60000)" },
    Spec { name: "max-memory-bytes", arg: Some("Long: total memory in bytes"), help: "The total memory used by the producer to buffer records waiting to be sent to the server. (default: 33554432)" },
    Spec { name: "max-partition-memory-bytes", arg: Some("Long: memory in bytes per partition"), help: "The buffer size allocated for a partition. When records are received which are smaller than this size the producer will attempt to optimistically group them together until this size is reached. (default: 16384)" },
    Spec { name: "message-send-max-retries", arg: Some("Integer"), help: "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retires before the producer give up and drop this message. (default: 3)" },
    Spec { name: "metadata-expiry-ms", arg: Some("Long: metadata expiration interval"), help: "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes. (default: 300000)" },
    Spec { name: "producer-property", arg: Some("String: producer_prop"), help: "A mechanism to pass user-defined properties in the form key=value to the producer. " },
    Spec { name: "producer.config", arg: Some("String: config file"), help: "Producer config properties file. Note that [producer-property] takes precedence over this config." },
    Spec { name: "property", arg: Some("String: prop"), help: "A mechanism to pass user-defined properties in the form key=value to the message reader. This allows custom configuration for a user-defined message reader." },
    Spec { name: "request-required-acks", arg: Some("String: request required acks"), help: "The required acks of the producer requests (default: 1)" },
    Spec { name: "request-timeout-ms", arg: Some("Integer: request timeout ms"), help: "The ack timeout of the producer requests. Value must be non-negative and non-zero (default: 1500)" },
    Spec { name: "retry-backoff-ms", arg: Some("Integer"), help: "Before each retry, the producer refreshes the metadata of relevant topics. Since leader election takes a bit of time, this property specifies the amount of time that the producer waits before refreshing the metadata. (default: 100)" },
    Spec { name: "socket-buffer-size", arg: Some("Integer: size"), help: "The size of the tcp RECV size. (default: 102400)" },
    Spec { name: "sync", arg: None, help: "If set message send requests to the brokers are synchronously, one at a time as they arrive." },
    Spec { name: "timeout", arg: Some("Integer: timeout_ms"), help: "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. (default: 1000)" },
    Spec { name: "topic", arg: Some("String: topic"), help: "REQUIRED: The topic id to produce messages to." },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
];

/// The only message reader there is.
const LINE_READER: &str = "kafka.tools.ConsoleProducer$LineMessageReader";

/// log4j's `%d` (ISO8601, local time): `2026-11-21 12:00:00,123`.
pub fn log_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r fills the zeroed tm we own; strftime writes at most buf.len() bytes
    // and returns how many it wrote.
    let date = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return now.as_millis().to_string();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%Y-%m-%d %H:%M:%S".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    format!("{date},{:03}", now.subsec_millis())
}

/// A line as Kafka's tools-log4j.properties lays it out on stderr.
pub fn log(level: &str, msg: &str, class: &str) {
    eprintln!("[{}] {level} {msg} ({class})", log_time());
}

/// Loads a Java properties file as `Utils.loadProps` does.
pub fn load_props(path: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("java.nio.file.NoSuchFileException: {path} ({e})"))?;
    broker::config::parse_properties(&text)
        .map(|v| v.into_iter().collect())
        .map_err(|e| format!("java.lang.IllegalArgumentException: {e}"))
}

/// Kafka's `Utils.getPort` check on each `host:port`.
fn valid_host_ports(list: &str) -> bool {
    list.split(',').all(|hp| {
        hp.rsplit_once(':').is_some_and(|(h, p)| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(' ')
        })
    })
}

/// jopt-simple's optional argument: `--compression-codec` followed by nothing or another
/// option has no value (gzip), which the shared parser expresses as `--compression-codec=`.
fn optional_codec(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        if a == "--compression-codec" && args.get(i + 1).is_none_or(|n| n.starts_with('-')) {
            out.push("--compression-codec=".to_owned());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// ConsoleProducer catches jopt-simple's failures and prints them with the usage.
fn as_usage(e: UsageError) -> UsageError {
    let message = match e.message.split_once("joptsimple.") {
        Some((_, rest)) => rest
            .split_once(": ")
            .map(|(_, m)| m.to_owned())
            .unwrap_or_else(|| rest.to_owned()),
        None => e.message,
    };
    UsageError::usage(message)
}

/// What the command line asks for, checked.
struct Setup {
    topic: String,
    sync: bool,
    parse_key: bool,
    key_separator: String,
    ignore_error: bool,
    producer: ProducerConfig,
}

/// `ConsoleProducer.producerProps` and the reader properties.
fn setup(o: &Options) -> Result<Setup, String> {
    let broker_list = o
        .value("broker-list")
        .or_else(|| o.value("bootstrap-server"))
        .unwrap_or_default()
        .to_owned();
    let mut props = match o.value("producer.config") {
        Some(path) => load_props(path)?,
        None => BTreeMap::new(),
    };
    props.extend(key_values(&o.values("producer-property")));
    let codec = if o.has("compression-codec") {
        match o.value("compression-codec") {
            None | Some("") => "gzip".to_owned(),
            Some(c) => c.to_owned(),
        }
    } else {
        "none".to_owned()
    };
    props.insert("bootstrap.servers".into(), broker_list);
    props.insert("compression.type".into(), codec);
    props.insert("client.id".into(), "console-producer".into());
    // CommandLineUtils.maybeMergeOptions: the option wins when given, its default only
    // fills a property the files did not set.
    let merges: [(&str, &str, &str); 10] = [
        ("linger.ms", "timeout", "1000"),
        ("acks", "request-required-acks", "1"),
        ("request.timeout.ms", "request-timeout-ms", "1500"),
        ("retries", "message-send-max-retries", "3"),
        ("retry.backoff.ms", "retry-backoff-ms", "100"),
        ("send.buffer.bytes", "socket-buffer-size", "102400"),
        ("buffer.memory", "max-memory-bytes", "33554432"),
        ("batch.size", "max-partition-memory-bytes", "16384"),
        ("metadata.max.age.ms", "metadata-expiry-ms", "300000"),
        ("max.block.ms", "max-block-ms", "60000"),
    ];
    for (key, opt, default) in merges {
        if o.has(opt) || !props.contains_key(key) {
            let v = o.value(opt).unwrap_or(default).to_owned();
            props.insert(key.into(), v);
        }
    }
    // Integer options are converted (and rejected) as jopt-simple converts them.
    for opt in [
        "batch-size",
        "message-send-max-retries",
        "retry-backoff-ms",
        "timeout",
        "request-timeout-ms",
        "socket-buffer-size",
    ] {
        o.int(opt)?;
    }
    for opt in [
        "metadata-expiry-ms",
        "max-block-ms",
        "max-memory-bytes",
        "max-partition-memory-bytes",
    ] {
        if let Some(v) = o.value(opt) {
            v.parse::<i64>()
                .map_err(|_| format!("Cannot parse argument '{v}' of option {opt}"))?;
        }
    }
    let mut producer = ProducerConfig::default();
    let unused = producer
        .apply(&props)
        .map_err(|e: ConfigError| e.to_string())?;
    for k in unused {
        log(
            "WARN",
            &format!("The configuration '{k}' was supplied but is not used by this producer."),
            "org.apache.kafka.clients.producer.ProducerConfig",
        );
    }
    producer.validate().map_err(|e| e.to_string())?;
    let reader = key_values(&o.values("property"));
    let flag = |k: &str| {
        reader
            .get(k)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    Ok(Setup {
        topic: o.value("topic").unwrap_or_default().to_owned(),
        sync: o.has("sync"),
        parse_key: flag("parse.key"),
        key_separator: reader
            .get("key.separator")
            .cloned()
            .unwrap_or_else(|| "\t".to_owned()),
        ignore_error: flag("ignore.error"),
        producer,
    })
}

/// `kafka-console-producer.sh` with Kafka's arguments; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let args = optional_codec(args);
    let o = match parse(SPECS, &args) {
        Ok(o) => o,
        Err(e) => return print_usage_error(&as_usage(e), SPECS),
    };
    if args.is_empty() || o.has("help") {
        return print_usage_error(
            &UsageError::usage(
                "This tool helps to read data from standard input and publish it to Kafka.",
            ),
            SPECS,
        );
    }
    if o.has("version") {
        println!("{}", version_string());
        return 0;
    }
    if let Err(e) = o.require(&["topic"]) {
        return print_usage_error(&e, SPECS);
    }
    if !o.has("broker-list") && !o.has("bootstrap-server") {
        return print_usage_error(
            &UsageError::usage("Missing required argument \"[broker-list]\""),
            SPECS,
        );
    }
    let list = o
        .value("broker-list")
        .or_else(|| o.value("bootstrap-server"))
        .unwrap_or_default();
    if !valid_host_ports(list) {
        return print_usage_error(
            &UsageError::usage("Please provide valid host:port like host1:9091,host2:9092\n "),
            SPECS,
        );
    }
    let reader = o.value("line-reader").unwrap_or(LINE_READER);
    if reader != LINE_READER {
        eprintln!("java.lang.ClassNotFoundException: {reader}");
        eprintln!("(zkraft's console producer has only the default reader, {LINE_READER})");
        return 1;
    }
    let s = match setup(&o) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    rt.block_on(run(s))
}

/// Reads stdin lines on a thread (a blocking read cannot be cancelled), `None` at EOF.
fn spawn_stdin() -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(1024);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = Vec::new();
            match lock.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    // BufferedReader.readLine ends a line at \n, \r or \r\n.
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    rx
}

/// ErrorLoggingCallback's description of a record: sizes, not contents.
fn describe(b: &Option<Bytes>) -> String {
    match b {
        None => "null".to_owned(),
        Some(b) => format!("{} bytes", b.len()),
    }
}

fn log_send_error(topic: &str, key: &Option<Bytes>, value: &Option<Bytes>, e: &SendError) {
    log(
        "ERROR",
        &format!(
            "Error when sending message to topic {topic} with key: {}, value: {} with error:",
            describe(key),
            describe(value)
        ),
        "org.apache.kafka.clients.producer.internals.ErrorLoggingCallback",
    );
    eprintln!("{e}");
}

/// Why the loop stopped.
enum Stop {
    Eof,
    /// An exception Kafka lets escape from main (stack trace, exit 1).
    Fatal(String),
}

async fn run(s: Setup) -> i32 {
    let producer = match Producer::new(s.producer.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let failures = Arc::new(AtomicUsize::new(0));
    let mut lines = spawn_stdin();
    let warned = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client_id = s.producer.client_id.clone();
    // Kafka's own WARN about an unreachable broker, once, next to the resulting error.
    let warn_unreachable = |p: &Producer| {
        if let Some(why) = p.metadata_error() {
            if !warned.swap(true, Ordering::SeqCst) {
                log(
                    "WARN",
                    &format!("[Producer clientId={client_id}] {why}. Broker may not be available."),
                    "org.apache.kafka.clients.NetworkClient",
                );
            }
        }
    };
    let read_loop = async {
        let mut line_number = 0usize;
        loop {
            line_number += 1;
            print!(">");
            let _ = std::io::stdout().flush();
            let line = match lines.recv().await {
                None => return Stop::Eof,
                Some(Err(e)) => return Stop::Fatal(format!("java.io.IOException: {e}")),
                Some(Ok(l)) => l,
            };
            let text = String::from_utf8_lossy(&line).into_owned();
            let (key, value) = if s.parse_key {
                match text.find(&s.key_separator) {
                    Some(n) if !s.key_separator.is_empty() => (
                        Some(Bytes::from(text[..n].to_owned())),
                        Bytes::from(text[n + s.key_separator.len()..].to_owned()),
                    ),
                    _ if s.ignore_error => (None, Bytes::from(text)),
                    _ => {
                        return Stop::Fatal(format!(
                            "org.apache.kafka.common.KafkaException: No key found on line {line_number}: {text}"
                        ))
                    }
                }
            } else {
                (None, Bytes::from(text))
            };
            let rec = ProducerRecord {
                topic: s.topic.clone(),
                key: key.clone(),
                value: Some(value.clone()),
                ..Default::default()
            };
            if s.sync {
                if let Err(e) = producer.send_and_wait(rec).await {
                    warn_unreachable(&producer);
                    return Stop::Fatal(format!("java.util.concurrent.ExecutionException: {e}"));
                }
            } else {
                let f = failures.clone();
                let topic = s.topic.clone();
                let (k, v) = (key.clone(), Some(value.clone()));
                let cb: Callback = Box::new(move |r| {
                    if let Err(e) = r {
                        f.fetch_add(1, Ordering::SeqCst);
                        log_send_error(&topic, &k, &v, &e);
                    }
                });
                if let Err(e) = producer.send(rec, Some(cb)).await {
                    warn_unreachable(&producer);
                    failures.fetch_add(1, Ordering::SeqCst);
                    log_send_error(&s.topic, &key, &Some(value), &e);
                }
            }
        }
    };
    let stop = tokio::select! {
        stop = read_loop => Some(stop),
        code = shutdown_signal() => {
            // The JVM's shutdown hook closes the producer (sending what was read), then the
            // process ends with 128 + the signal number.
            producer.close().await;
            return code;
        }
    };
    producer.close().await;
    let _ = std::io::stdout().flush();
    match stop {
        Some(Stop::Fatal(msg)) => {
            eprintln!("{msg}");
            1
        }
        _ if failures.load(Ordering::SeqCst) > 0 => 1,
        _ => 0,
    }
}

/// Resolves on SIGINT or SIGTERM with the JVM's exit status for it.
async fn shutdown_signal() -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn codec_without_value_is_gzip() {
        let a = optional_codec(&s(&["--compression-codec", "--topic", "t"]));
        let o = parse(SPECS, &a).unwrap();
        assert_eq!(o.value("compression-codec"), Some(""));
        assert_eq!(o.value("topic"), Some("t"));
        let a = optional_codec(&s(&["--topic", "t", "--compression-codec"]));
        assert_eq!(
            parse(SPECS, &a).unwrap().value("compression-codec"),
            Some("")
        );
        let a = optional_codec(&s(&["--compression-codec", "lz4"]));
        assert_eq!(
            parse(SPECS, &a).unwrap().value("compression-codec"),
            Some("lz4")
        );
    }

    #[test]
    fn options_merge_like_kafka() {
        let o = parse(
            SPECS,
            &s(&[
                "--broker-list",
                "h:1",
                "--topic",
                "t",
                "--producer-property",
                "linger.ms=7",
                "--producer-property",
                "acks=all",
                "--request-required-acks",
                "0",
                "--compression-codec=snappy",
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
            ]),
        )
        .unwrap();
        let st = setup(&o).unwrap();
        // A property wins over an option's default, an option given wins over a property.
        assert_eq!(st.producer.linger.as_millis(), 7);
        assert_eq!(st.producer.acks, 0);
        assert_eq!(st.producer.request_timeout.as_millis(), 1500);
        assert_eq!(st.producer.retries, 3);
        assert_eq!(st.producer.client_id, "console-producer");
        assert_eq!(
            st.producer.compression,
            kafka_protocol::records::Compression::Snappy
        );
        assert!(st.parse_key);
        assert_eq!(st.key_separator, ":");
        assert!(valid_host_ports("a:1,b:22"));
        assert!(!valid_host_ports("a") && !valid_host_ports("a:") && !valid_host_ports("a:x"));
    }
}
