//! `kafka-consumer-perf-test.sh` as Kafka 2.4's `ConsumerPerformance`: a group consumer reads
//! `--messages` records of `--topic` (from the earliest offset unless `--from-latest`) and
//! prints Kafka's header and comma-separated result line (or, with `--show-detailed-stats`,
//! one line per `--reporting-interval`), with its number formats. `--threads` and
//! `--num-fetch-threads` are accepted and ignored, as 2.4 ignores them; `--bootstrap-server`
//! is accepted as another name for 2.4's `--broker-list`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

use super::args::{help_table, parse, Options, Spec, UsageError};
use super::console_consumer::load_props;
use super::{print_usage_error, version_string};
use crate::kclient::consumer::{Consumer, ConsumerConfig, Subscription};

const SPECS: &[Spec] = &[
    Spec { name: "bootstrap-server", arg: Some("String: host"), help: "The server(s) to connect to (zkraft: the same as --broker-list)." },
    Spec { name: "broker-list", arg: Some("String: host"), help: "REQUIRED: The server(s) to connect to." },
    Spec { name: "consumer.config", arg: Some("String: config file"), help: "Consumer config properties file." },
    Spec { name: "date-format", arg: Some("String: date format"), help: "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options. (default: yyyy-MM-dd HH:mm:ss:SSS)" },
    Spec { name: "fetch-size", arg: Some("Integer: size"), help: "The amount of data to fetch in a single request. (default: 1048576)" },
    Spec { name: "from-latest", arg: None, help: "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message." },
    Spec { name: "group", arg: Some("String: gid"), help: "The group id to consume on. (default: perf-consumer-<random>)" },
    Spec { name: "help", arg: None, help: "Print usage information." },
    Spec { name: "hide-header", arg: None, help: "If set, skips printing the header for the stats " },
    Spec { name: "messages", arg: Some("Long: count"), help: "REQUIRED: The number of messages to send or consume" },
    Spec { name: "num-fetch-threads", arg: Some("Integer: count"), help: "Number of fetcher threads. (default: 1)" },
    Spec { name: "print-metrics", arg: None, help: "Print out the metrics." },
    Spec { name: "reporting-interval", arg: Some("Integer: interval_ms"), help: "Interval in milliseconds at which to print progress info. (default: 5000)" },
    Spec { name: "show-detailed-stats", arg: None, help: "If set, stats are reported for each reporting interval as configured by reporting-interval" },
    Spec { name: "socket-buffer-size", arg: Some("Integer: size"), help: "The size of the tcp RECV size. (default: 2097152)" },
    Spec { name: "threads", arg: Some("Integer: count"), help: "Number of processing threads. (default: 10)" },
    Spec { name: "timeout", arg: Some("Long: milliseconds"), help: "The maximum allowed time in milliseconds between returned records. (default: 10000)" },
    Spec { name: "topic", arg: Some("String: topic"), help: "REQUIRED: The topic to consume from." },
    Spec { name: "version", arg: None, help: "Display Kafka version." },
];

const HELP_MESSAGE: &str = "This tool helps in performance test for the full zookeeper consumer";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `String.format("%.4f")` as Java prints it (Infinity and NaN included).
pub fn java_f4(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{x:.4}")
    }
}

/// Local broken-down time of `ms` since the epoch.
fn local_tm(ms: i64) -> (libc::tm, i64) {
    let secs = ms.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r only writes the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        libc::localtime_r(&secs, &mut tm);
    }
    (tm, ms.rem_euclid(1000))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `new SimpleDateFormat(pattern).format(ms)` in the local time zone, for the pattern letters
/// G y M d H k K h m s S E D a z Z X and quoted text.
pub fn java_date(pattern: &str, ms: i64) -> String {
    let (tm, millis) = local_tm(ms);
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is literal.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        let num = |v: i64| format!("{v:0n$}");
        let hour = i64::from(tm.tm_hour);
        let offset_min = tm.tm_gmtoff / 60;
        match c {
            'G' => out.push_str(if tm.tm_year + 1900 > 0 { "AD" } else { "BC" }),
            'y' | 'Y' => {
                let year = i64::from(tm.tm_year) + 1900;
                if n == 2 {
                    out.push_str(&format!("{:02}", year % 100));
                } else {
                    out.push_str(&num(year));
                }
            }
            'M' | 'L' => {
                let m = tm.tm_mon.clamp(0, 11) as usize;
                match n {
                    1 | 2 => out.push_str(&num(m as i64 + 1)),
                    3 => out.push_str(&MONTHS[m][..3]),
                    _ => out.push_str(MONTHS[m]),
                }
            }
            'd' => out.push_str(&num(i64::from(tm.tm_mday))),
            'D' => out.push_str(&num(i64::from(tm.tm_yday) + 1)),
            'H' => out.push_str(&num(hour)),
            'k' => out.push_str(&num(if hour == 0 { 24 } else { hour })),
            'K' => out.push_str(&num(hour % 12)),
            'h' => out.push_str(&num(if hour % 12 == 0 { 12 } else { hour % 12 })),
            'm' => out.push_str(&num(i64::from(tm.tm_min))),
            's' => out.push_str(&num(i64::from(tm.tm_sec))),
            'S' => out.push_str(&num(millis)),
            'E' => {
                let d = DAYS[tm.tm_wday.clamp(0, 6) as usize];
                out.push_str(if n >= 4 { d } else { &d[..3] });
            }
            'u' => out.push_str(&num(if tm.tm_wday == 0 {
                7
            } else {
                i64::from(tm.tm_wday)
            })),
            'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'Z' => out.push_str(&format!(
                "{}{:02}{:02}",
                if offset_min < 0 { '-' } else { '+' },
                offset_min.abs() / 60,
                offset_min.abs() % 60
            )),
            'X' if offset_min == 0 => out.push('Z'),
            'X' => out.push_str(&format!(
                "{}{:02}{}",
                if offset_min < 0 { '-' } else { '+' },
                offset_min.abs() / 60,
                if n >= 2 {
                    format!(
                        "{}{:02}",
                        if n >= 3 { ":" } else { "" },
                        offset_min.abs() % 60
                    )
                } else {
                    String::new()
                }
            )),
            'z' => {
                let name = if tm.tm_zone.is_null() {
                    "GMT".to_owned()
                } else {
                    // SAFETY: tm_zone points at a NUL-terminated static string from libc.
                    unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
                        .to_string_lossy()
                        .into_owned()
                };
                out.push_str(&name);
            }
            other => {
                for _ in 0..n {
                    out.push(other);
                }
            }
        }
    }
    out
}

/// The checked options.
struct PerfConf {
    consumer: ConsumerConfig,
    topic: String,
    messages: i64,
    timeout_ms: i64,
    reporting_interval: i64,
    detailed: bool,
    hide_header: bool,
    date_format: String,
    print_metrics: bool,
}

fn long_opt(o: &Options, name: &str, default: i64) -> Result<i64, String> {
    match o.value(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            format!("Exception in thread \"main\" joptsimple.OptionArgumentConversionException: Cannot parse argument '{v}' of option {name}")
        }),
    }
}

fn int_opt(o: &Options, name: &str, default: i32) -> Result<i32, String> {
    match o.value(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<i32>().map_err(|_| {
            format!("Exception in thread \"main\" joptsimple.OptionArgumentConversionException: Cannot parse argument '{v}' of option {name}")
        }),
    }
}

enum Setup {
    Run(Box<PerfConf>),
    Exit(i32),
}

fn configure(args: &[String]) -> Setup {
    let o = match parse(SPECS, args) {
        Ok(o) => o,
        Err(e) => return Setup::Exit(print_usage_error(&e, SPECS)),
    };
    if args.is_empty() || o.has("help") {
        return Setup::Exit(print_usage_error(&UsageError::usage(HELP_MESSAGE), SPECS));
    }
    if o.has("version") {
        println!("{}", version_string());
        return Setup::Exit(0);
    }
    let broker_list = o.value("broker-list").or(o.value("bootstrap-server"));
    if let Err(e) = o.require(&["topic", "messages"]) {
        return Setup::Exit(print_usage_error(&e, SPECS));
    }
    if broker_list.is_none() {
        return Setup::Exit(print_usage_error(
            &UsageError::usage("Missing required argument \"[broker-list]\""),
            SPECS,
        ));
    }
    let fail = |m: String| {
        eprintln!("{m}");
        Setup::Exit(1)
    };
    let mut props = match o.value("consumer.config") {
        Some(p) => match load_props(p) {
            Ok(p) => p,
            Err(m) => return fail(m),
        },
        None => BTreeMap::new(),
    };
    let nums = (|| -> Result<(i64, i32, i64, i32), String> {
        // --threads, --num-fetch-threads and --socket-buffer-size are parsed and ignored.
        int_opt(&o, "threads", 10)?;
        int_opt(&o, "num-fetch-threads", 1)?;
        int_opt(&o, "socket-buffer-size", 2 * 1024 * 1024)?;
        Ok((
            long_opt(&o, "messages", 0)?,
            int_opt(&o, "fetch-size", 1024 * 1024)?,
            long_opt(&o, "timeout", 10_000)?,
            int_opt(&o, "reporting-interval", 5000)?,
        ))
    })();
    let (messages, fetch_size, timeout_ms, reporting_interval) = match nums {
        Ok(n) => n,
        Err(m) => return fail(m),
    };
    let group = o
        .value("group")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("perf-consumer-{}", rand::thread_rng().gen_range(0..100_000)));
    props.insert(
        "bootstrap.servers".into(),
        broker_list.unwrap_or_default().into(),
    );
    props.insert("group.id".into(), group);
    props.insert("max.partition.fetch.bytes".into(), fetch_size.to_string());
    props.insert(
        "auto.offset.reset".into(),
        if o.has("from-latest") {
            "latest"
        } else {
            "earliest"
        }
        .into(),
    );
    if reporting_interval <= 0 {
        return fail("Exception in thread \"main\" java.lang.IllegalArgumentException: Reporting interval must be greater than 0.".into());
    }
    let mut consumer = match ConsumerConfig::from_properties(&props) {
        Ok(c) => c,
        Err(e) => {
            return fail(format!(
                "Exception in thread \"main\" org.apache.kafka.common.config.ConfigException: {e}"
            ))
        }
    };
    if consumer.client_id.is_empty() {
        consumer.client_id = "consumer-1".into();
    }
    Setup::Run(Box::new(PerfConf {
        consumer,
        topic: o.value("topic").unwrap_or_default().to_owned(),
        messages,
        timeout_ms,
        reporting_interval: i64::from(reporting_interval),
        detailed: o.has("show-detailed-stats"),
        hide_header: o.has("hide-header"),
        date_format: o
            .value("date-format")
            .unwrap_or("yyyy-MM-dd HH:mm:ss:SSS")
            .to_owned(),
        print_metrics: o.has("print-metrics"),
    }))
}

/// `kafka-consumer-perf-test.sh`; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let conf = match configure(args) {
        Setup::Run(c) => c,
        Setup::Exit(code) => return code,
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
    rt.block_on(run(*conf))
}

const MB: f64 = 1024.0 * 1024.0;

/// The `--show-detailed-stats` line for one reporting interval.
#[allow(clippy::too_many_arguments)]
fn progress_line(
    date_format: &str,
    bytes: i64,
    last_bytes: i64,
    msgs: i64,
    last_msgs: i64,
    start_ms: i64,
    end_ms: i64,
    join_ms: i64,
) -> String {
    let elapsed = (end_ms - start_ms) as f64;
    let total_mb = bytes as f64 / MB;
    let interval_mb = (bytes - last_bytes) as f64 / MB;
    let fetch_ms = end_ms - start_ms - join_ms;
    let (fetch_mb_sec, fetch_msg_sec) = if fetch_ms <= 0 {
        (0.0, 0.0)
    } else {
        (
            1000.0 * interval_mb / fetch_ms as f64,
            1000.0 * (msgs - last_msgs) as f64 / fetch_ms as f64,
        )
    };
    format!(
        "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
        java_date(date_format, end_ms),
        0,
        java_f4(total_mb),
        java_f4(1000.0 * interval_mb / elapsed),
        msgs,
        java_f4((msgs - last_msgs) as f64 / elapsed * 1000.0),
        join_ms,
        fetch_ms,
        java_f4(fetch_mb_sec),
        java_f4(fetch_msg_sec),
    )
}

async fn run(conf: PerfConf) -> i32 {
    if !conf.hide_header {
        let extra = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
        if conf.detailed {
            println!("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec{extra}");
        } else {
            println!("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec{extra}");
        }
    }
    let start_ms = now_ms();
    let mut consumer = match Consumer::connect(
        conf.consumer.clone(),
        Subscription::Topics(vec![conf.topic.clone()]),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Exception in thread \"main\" org.apache.kafka.common.KafkaException: {e}");
            return 1;
        }
    };
    let mut bytes: i64 = 0;
    let mut msgs: i64 = 0;
    let mut last_bytes: i64 = 0;
    let mut last_msgs: i64 = 0;
    let mut now = now_ms();
    let mut last_report = now;
    let mut last_consumed = now;
    let mut join_reported = Duration::ZERO;
    while msgs < conf.messages && now - last_consumed <= conf.timeout_ms {
        let records = match consumer.poll(Duration::from_millis(100)).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "Exception in thread \"main\" org.apache.kafka.common.KafkaException: {e}"
                );
                return 1;
            }
        };
        now = now_ms();
        if !records.is_empty() {
            last_consumed = now;
        }
        for r in records {
            msgs += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len() as i64);
            bytes += r.value.as_ref().map_or(0, |v| v.len() as i64);
            if now - last_report >= conf.reporting_interval {
                let join_round = consumer.rebalance_time() - join_reported;
                if conf.detailed {
                    println!(
                        "{}",
                        progress_line(
                            &conf.date_format,
                            bytes,
                            last_bytes,
                            msgs,
                            last_msgs,
                            last_report,
                            now,
                            join_round.as_millis() as i64,
                        )
                    );
                }
                join_reported = consumer.rebalance_time();
                last_report = now;
                last_msgs = msgs;
                last_bytes = bytes;
            }
        }
    }
    if msgs < conf.messages {
        println!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.",
            conf.timeout_ms
        );
    }
    let end_ms = now_ms();
    let join_ms = consumer.rebalance_time().as_millis() as i64;
    let _ = consumer.close().await;
    let elapsed_secs = (end_ms - start_ms) as f64 / 1000.0;
    let fetch_ms = (end_ms - start_ms) - join_ms;
    if !conf.detailed {
        let mb = bytes as f64 / MB;
        println!(
            "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
            java_date(&conf.date_format, start_ms),
            java_date(&conf.date_format, end_ms),
            java_f4(mb),
            java_f4(mb / elapsed_secs),
            msgs,
            java_f4(msgs as f64 / elapsed_secs),
            join_ms,
            fetch_ms,
            java_f4(mb / (fetch_ms as f64 / 1000.0)),
            java_f4(msgs as f64 / (fetch_ms as f64 / 1000.0)),
        );
    }
    if conf.print_metrics {
        let tags = format!("{{client-id={}}}", conf.consumer.client_id);
        let metrics = [
            (
                "consumer-coordinator-metrics:rebalance-latency-total",
                join_ms as f64,
            ),
            (
                "consumer-fetch-manager-metrics:bytes-consumed-total",
                bytes as f64,
            ),
            (
                "consumer-fetch-manager-metrics:records-consumed-total",
                msgs as f64,
            ),
        ];
        let names: Vec<String> = metrics.iter().map(|(n, _)| format!("{n}:{tags}")).collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        println!("\n{:<width$}   Value", "Metric Name");
        for (name, (_, v)) in names.iter().zip(metrics.iter()) {
            println!("{name:<width$} : {v:.3}");
        }
    }
    0
}

/// The option table, for the docs.
pub fn help() -> String {
    help_table(SPECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formats() {
        assert_eq!(java_f4(f64::INFINITY), "Infinity");
        assert_eq!(java_f4(f64::NAN), "NaN");
        assert_eq!(java_f4(1.23456), "1.2346");
        // Only the fields that do not depend on the local zone's date are checked exactly.
        let s = java_date("yyyy-MM-dd HH:mm:ss:SSS", 1_700_000_000_123);
        assert_eq!(s.len(), "2023-11-14 22:13:20:123".len(), "{s}");
        assert!(s.ends_with(":20:123"), "{s}");
        assert_eq!(java_date("'at' ''S''", 5), "at '5'");
        assert_eq!(java_date("SSS", 7), "007");
    }

    #[test]
    fn progress_line_has_ten_fields() {
        let l = progress_line("SSS", 2 * 1024 * 1024, 0, 100, 0, 0, 1000, 0);
        let f: Vec<&str> = l.split(", ").collect();
        assert_eq!(f.len(), 10, "{l}");
        assert_eq!(f[1], "0");
        assert_eq!(f[2], "2.0000");
        assert_eq!(f[3], "2.0000");
        assert_eq!(f[4], "100");
        assert_eq!(f[5], "100.0000");
        assert_eq!(f[7], "1000");
    }
}
