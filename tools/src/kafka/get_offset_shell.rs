//! `kafka-run-class.sh kafka.tools.GetOffsetShell` as Kafka 2.4's: the latest, earliest or
//! by-time offset of each partition of one topic, printed `topic:partition:offset` in
//! partition order (an empty offset when no record is at or after the time).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::kclient::offsets::{EARLIEST, LATEST};
use crate::kclient::{ClientConfig, ClientError, KafkaClient};

use super::args::{parse, Spec, UsageError};
use super::consumer_groups::{check_exact_names, order};
use super::print_usage_error;

/// Overrides how long the tool waits for the cluster (Kafka's consumer waits
/// `default.api.timeout.ms`, 60 s, for the topic metadata).
pub const API_TIMEOUT_ENV: &str = "ZKRAFT_KAFKA_API_TIMEOUT_MS";
const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);
const CLIENT_ID: &str = "GetOffsetShell";

const SPECS: &[Spec] = &[
    Spec { name: "broker-list", arg: Some("String: hostname:port,...,hostname:port"), help: "REQUIRED: The list of hostname and port of the server to connect to." },
    Spec { name: "max-wait-ms", arg: Some("Integer: ms"), help: "DEPRECATED AND IGNORED: The max amount of time each fetch request waits. (default: 1000)" },
    Spec { name: "offsets", arg: Some("Integer: count"), help: "DEPRECATED AND IGNORED: number of offsets returned (default: 1)" },
    Spec { name: "partitions", arg: Some("String: partition ids"), help: "comma separated list of partition ids. If not specified, it will find offsets for all partitions (default: )" },
    Spec { name: "time", arg: Some("Long: timestamp/-1(latest)/-2(earliest)"), help: "timestamp of the offsets before that. [Note: No offset is returned, if the timestamp greater than recently commited record timestamp is given.] (default: -1)" },
    Spec { name: "topic", arg: Some("String: topic"), help: "REQUIRED: The topic to get offset from." },
];

/// Kafka's `Utils.getPort` test of one `host:port`: a port of digits after the last colon.
pub fn valid_host_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(host, port)| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-%._:".contains(c))
    })
}

/// The cluster timeout: `$ZKRAFT_KAFKA_API_TIMEOUT_MS` or 60 s.
pub fn api_timeout() -> Duration {
    std::env::var(API_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_API_TIMEOUT)
}

/// An uncaught Java exception, as the JVM reports it on stderr; exit code 1.
fn uncaught(class: &str, msg: &str) -> i32 {
    eprintln!("Exception in thread \"main\" {class}: {msg}");
    1
}

pub fn main(args: &[String]) -> i32 {
    if args.is_empty() {
        return print_usage_error(
            &UsageError::usage("An interactive shell for getting topic offsets."),
            SPECS,
        );
    }
    let o = match check_exact_names(SPECS, args).and_then(|()| parse(SPECS, args)) {
        Ok(o) => o,
        Err(e) => return print_usage_error(&e, SPECS),
    };
    if let Err(e) = o.require(&["broker-list", "topic"]) {
        return print_usage_error(&e, SPECS);
    }
    let brokers = o.value("broker-list").unwrap_or_default().to_owned();
    if !brokers.split(',').all(valid_host_port) {
        return print_usage_error(
            &UsageError::usage("Please provide valid host:port like host1:9091,host2:9092\n "),
            SPECS,
        );
    }
    let topic = o.value("topic").unwrap_or_default().to_owned();
    let raw = o.value("partitions").unwrap_or_default().to_owned();
    // Kafka keeps the requested ids as a Scala Set: duplicates go, and messages list them in
    // that set's order.
    let mut requested: Vec<i32> = Vec::new();
    if !raw.is_empty() {
        for s in raw.split(',') {
            match s.parse::<i32>() {
                Ok(p) if !requested.contains(&p) => requested.push(p),
                Ok(_) => {}
                Err(_) => {
                    eprintln!("--partitions expects a comma separated list of numeric partition ids, but received: {raw}");
                    return 1;
                }
            }
        }
    }
    let requested = order::scala_set(requested, |p| *p);
    let time = match o.value("time") {
        None => LATEST,
        Some(v) => match v.parse::<i64>() {
            Ok(t) => t,
            Err(_) => {
                return uncaught(
                    "joptsimple.OptionArgumentConversionException",
                    &format!("Cannot parse argument '{v}' of option time"),
                )
            }
        },
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
    rt.block_on(run(&brokers, &topic, &requested, time))
}

async fn run(brokers: &str, topic: &str, requested: &[i32], time: i64) -> i32 {
    let mut cfg = ClientConfig::new(brokers, CLIENT_ID);
    cfg.request_timeout = api_timeout();
    let timeout = |e: &ClientError| {
        eprintln!("Exception in thread \"main\" org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata");
        eprintln!("({e})");
        1
    };
    let mut client = match KafkaClient::connect(cfg).await {
        Ok(c) => c,
        Err(e) => return timeout(&e),
    };
    let info = match client.metadata(Some(&[topic.to_owned()])).await {
        Ok(mut ts) => ts.pop().filter(|t| t.name == topic && t.error_code != 3),
        Err(e) => return timeout(&e),
    };
    let Some(info) = info else {
        eprintln!("Topic {topic} does not exist");
        return 1;
    };
    let existing: BTreeSet<i32> = info.partitions.iter().map(|p| p.partition).collect();
    let chosen: Vec<_> = info
        .partitions
        .iter()
        .filter(|p| requested.is_empty() || requested.contains(&p.partition))
        .collect();
    if chosen.is_empty() {
        if requested.is_empty() {
            eprintln!("Topic {topic} has 0 partitions");
        } else {
            let list: Vec<String> = requested.iter().map(i32::to_string).collect();
            eprintln!(
                "Topic {topic} does not have any of the requested partitions {}",
                list.join(",")
            );
        }
        return 1;
    }
    for p in requested.iter().filter(|p| !existing.contains(p)) {
        eprintln!("Error: partition {p} does not exist");
    }
    let mut with_leader = Vec::new();
    for p in &chosen {
        if p.leader < 0 {
            eprintln!(
                "Error: partition {} does not have a leader. Skip getting offsets",
                p.partition
            );
        } else {
            with_leader.push(p.partition);
        }
    }
    if time < 0 && time != LATEST && time != EARLIEST {
        if let Some(p) = with_leader.first() {
            return uncaught(
                "java.lang.IllegalArgumentException",
                &format!("The target time for partition {topic}-{p} is {time}. The target time cannot be negative."),
            );
        }
    }
    if with_leader.is_empty() {
        return 0;
    }
    match client.list_offsets(topic, &with_leader, time).await {
        Ok(offsets) => {
            for p in with_leader {
                match offsets.get(&p) {
                    Some(o) if *o >= 0 => println!("{topic}:{p}:{o}"),
                    _ => println!("{topic}:{p}:"),
                }
            }
            0
        }
        Err(e) => {
            eprintln!("Exception in thread \"main\" org.apache.kafka.common.KafkaException: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_are_checked_like_kafka() {
        assert!(valid_host_port("localhost:9092"));
        assert!(valid_host_port("[::1]:9092"));
        assert!(!valid_host_port("localhost"));
        assert!(!valid_host_port("localhost:"));
        assert!(!valid_host_port("localhost:90a"));
    }
}
