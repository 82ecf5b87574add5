//! `kafka-producer-perf-test.sh` as Kafka 2.4's ProducerPerformance: argparse4j-style
//! arguments, records of `--record-size` random capital letters (Java's `Random(0)`, so the
//! payload is Kafka's) or payloads from a file, ThroughputThrottler's pacing, and the same
//! progress and summary lines (every 5 s, then the total with sampled latency percentiles).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::console_producer::load_props;
use crate::kclient::producer::{Callback, Producer, ProducerConfig, ProducerRecord, SendError};

const PROG: &str = "producer-performance";

const USAGE: &str = "usage: producer-performance [-h] --topic TOPIC --num-records NUM-RECORDS
                            [--payload-delimiter PAYLOAD-DELIMITER]
                            --throughput THROUGHPUT
                            [--producer-props PROP-NAME=PROP-VALUE [PROP-NAME=PROP-VALUE ...]]
                            [--producer.config CONFIG-FILE] [--print-metrics]
                            [--transactional-id TRANSACTIONAL-ID]
                            [--transaction-duration-ms TRANSACTION-DURATION]
                            (--record-size RECORD-SIZE | --payload-file PAYLOAD-FILE)
";

const HELP: &str = "
This tool is used to verify the producer performance.

optional arguments:
  -h, --help             show this help message and exit
  --topic TOPIC          produce messages to this topic
  --num-records NUM-RECORDS
                         number of messages to produce
  --payload-delimiter PAYLOAD-DELIMITER
                         provides delimiter to be used when --payload-file is
                         provided. Defaults to new line. Note that this
                         parameter will be ignored if --payload-file is not
                         provided. (default: \\n)
  --throughput THROUGHPUT
                         throttle  maximum  message  throughput  to
                         *approximately* THROUGHPUT messages/sec. Set this to
                         -1 to disable throttling.
  --producer-props PROP-NAME=PROP-VALUE [PROP-NAME=PROP-VALUE ...]
                         kafka producer related configuration properties like
                         bootstrap.servers,client.id etc. These configs take
                         precedence over those passed via --producer.config.
  --producer.config CONFIG-FILE
                         producer config properties file.
  --print-metrics        print out metrics at the end of the test. (default:
                         false)
  --transactional-id TRANSACTIONAL-ID
                         The transactionalId to use if transaction-duration-ms
                         is > 0. Useful when testing the performance of
                         concurrent transactions. (default: performance-
                         producer-default-transactional-id)
  --transaction-duration-ms TRANSACTION-DURATION
                         The max age of each transaction. The
                         commitTransaction will be called after this time has
                         elapsed. Transactions are only enabled if this value
                         is positive. (default: 0)

  either --record-size or --payload-file must be specified but not both.

  --record-size RECORD-SIZE
                         message size in bytes. Note that you must provide
                         exactly one of --record-size or --payload-file.
  --payload-file PAYLOAD-FILE
                         file to read the message payloads from. This works
                         only for UTF-8 encoded text files. Payloads will be
                         read from this file and a payload will be randomly
                         selected when sending messages. Note that you must
                         provide exactly one of --record-size or --payload-
                         file.
";

/// (flag, takes a value)
const FLAGS: &[(&str, bool)] = &[
    ("--topic", true),
    ("--num-records", true),
    ("--record-size", true),
    ("--payload-file", true),
    ("--payload-delimiter", true),
    ("--throughput", true),
    ("--producer-props", true),
    ("--producer.config", true),
    ("--print-metrics", false),
    ("--transactional-id", true),
    ("--transaction-duration-ms", true),
    ("--help", false),
    ("-h", false),
];

/// An argparse4j failure: printed after the usage as `producer-performance: error: ...`.
struct ArgError(String);

#[derive(Debug, Default)]
struct Args {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Args {
    fn one(&self, k: &str) -> Option<&str> {
        self.values
            .get(k)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
    fn has(&self, k: &str) -> bool {
        self.values.contains_key(k)
    }
}

/// argparse4j's parsing: `--flag value`, `--flag=value`, unique prefixes, `nargs("+")` for
/// `--producer-props` (values up to the next flag).
fn parse_args(args: &[String]) -> Result<Args, ArgError> {
    let mut out = Args::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            return Err(ArgError(format!("unrecognized arguments: '{a}'")));
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let flag = match FLAGS.iter().find(|(f, _)| *f == name) {
            Some(f) => *f,
            None => {
                let m: Vec<_> = FLAGS
                    .iter()
                    .filter(|(f, _)| f.starts_with(name) && name.len() > 2)
                    .collect();
                match m.as_slice() {
                    [one] => **one,
                    [] => return Err(ArgError(format!("unrecognized arguments: '{a}'"))),
                    many => {
                        let names: Vec<&str> = many.iter().map(|(f, _)| *f).collect();
                        return Err(ArgError(format!(
                            "ambiguous option: {name} could match {}",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        let key = if flag.0 == "-h" { "--help" } else { flag.0 };
        let slot = out.values.entry(key).or_default();
        if !flag.1 {
            slot.push(String::new());
            continue;
        }
        if key == "--producer-props" {
            let before = slot.len();
            if let Some(v) = inline {
                slot.push(v);
            }
            while i < args.len() && !args[i].starts_with("--") {
                slot.push(args[i].clone());
                i += 1;
            }
            if slot.len() == before {
                return Err(ArgError(format!(
                    "argument {key}: expected at least one argument"
                )));
            }
            continue;
        }
        match inline {
            Some(v) => slot.push(v),
            None if i < args.len() && !args[i].starts_with("--") => {
                slot.push(args[i].clone());
                i += 1;
            }
            None => return Err(ArgError(format!("argument {key}: expected one argument"))),
        }
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(a: &Args, k: &str, ty: &str) -> Result<Option<T>, ArgError> {
    match a.one(k) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|_| {
            ArgError(format!(
                "argument {k}: could not convert '{v}' to {ty} (For input string: \"{v}\")"
            ))
        }),
    }
}

/// Java's `java.util.Random`, so that payloads are the bytes Kafka's tool sends.
struct JavaRandom(u64);

impl JavaRandom {
    fn new(seed: i64) -> JavaRandom {
        JavaRandom((seed as u64 ^ 0x5DEE_CE66D) & ((1 << 48) - 1))
    }
    fn next(&mut self, bits: u32) -> i32 {
        self.0 = (self.0.wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        (self.0 >> (48 - bits)) as i32
    }
    fn next_int(&mut self, bound: i32) -> i32 {
        if bound <= 0 {
            return 0;
        }
        if bound & -bound == bound {
            return ((bound as i64 * self.next(31) as i64) >> 31) as i32;
        }
        loop {
            let bits = self.next(31);
            let val = bits % bound;
            if bits.wrapping_sub(val).wrapping_add(bound - 1) >= 0 {
                return val;
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Java's `%.Nf` for the values printed here (Infinity/NaN as Java spells them).
fn jf(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        half_up(
            &format!("{}", v.abs()),
            decimals,
            v.is_sign_negative() && v != 0.0,
        )
    }
}

/// Rounds a plain decimal string (Rust's shortest round-trip form, which is the digit string
/// Java's Formatter starts from) half-up to `decimals` places.
fn half_up(plain: &str, decimals: usize, negative: bool) -> String {
    let (int, frac) = plain.split_once('.').unwrap_or((plain, ""));
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let int_len = int.len();
    let keep = int_len + decimals;
    let round_up = digits.get(keep).is_some_and(|d| *d >= 5);
    digits.resize(keep.max(digits.len()), 0);
    digits.truncate(keep);
    let mut int_len = int_len;
    if round_up {
        let mut i = keep;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                int_len += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let text: String = digits.iter().map(|d| (b'0' + d) as char).collect();
    let (i, f) = text.split_at(int_len);
    let sign = if negative { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

/// ProducerPerformance.Stats.
struct Stats {
    start: i64,
    window_start: i64,
    latencies: Vec<i32>,
    sampling: i64,
    index: usize,
    count: i64,
    bytes: i64,
    max_latency: i32,
    total_latency: i64,
    window_count: i64,
    window_max_latency: i32,
    window_total_latency: i64,
    window_bytes: i64,
    reporting_interval: i64,
}

impl Stats {
    fn new(num_records: i64, reporting_interval: i64) -> Stats {
        let sampling = (num_records / num_records.clamp(1, 500_000)).max(1);
        let now = now_ms();
        Stats {
            start: now,
            window_start: now,
            latencies: vec![0; (num_records / sampling) as usize + 1],
            sampling,
            index: 0,
            count: 0,
            bytes: 0,
            max_latency: 0,
            total_latency: 0,
            window_count: 0,
            window_max_latency: 0,
            window_total_latency: 0,
            window_bytes: 0,
            reporting_interval,
        }
    }

    fn record(&mut self, iter: i64, latency: i32, bytes: i64, time: i64) {
        self.count += 1;
        self.bytes += bytes;
        self.total_latency += latency as i64;
        self.max_latency = self.max_latency.max(latency);
        self.window_count += 1;
        self.window_bytes += bytes;
        self.window_total_latency += latency as i64;
        self.window_max_latency = self.window_max_latency.max(latency);
        if iter % self.sampling == 0 && self.index < self.latencies.len() {
            self.latencies[self.index] = latency;
            self.index += 1;
        }
        if time - self.window_start >= self.reporting_interval {
            self.print_window();
            self.new_window();
        }
    }

    fn print_window(&self) {
        let elapsed = (now_ms() - self.window_start) as f64;
        let recs = 1000.0 * self.window_count as f64 / elapsed;
        let mb = 1000.0 * self.window_bytes as f64 / elapsed / (1024.0 * 1024.0);
        println!(
            "{} records sent, {} records/sec ({} MB/sec), {} ms avg latency, {} ms max latency.",
            self.window_count,
            jf(recs, 1),
            jf(mb, 2),
            jf(
                self.window_total_latency as f64 / self.window_count as f64,
                1
            ),
            jf(self.window_max_latency as f64, 1)
        );
    }

    fn new_window(&mut self) {
        self.window_start = now_ms();
        self.window_count = 0;
        self.window_max_latency = 0;
        self.window_total_latency = 0;
        self.window_bytes = 0;
    }

    fn total_line(&mut self) -> String {
        let elapsed = (now_ms() - self.start) as f64;
        let recs = 1000.0 * self.count as f64 / elapsed;
        let mb = 1000.0 * self.bytes as f64 / elapsed / (1024.0 * 1024.0);
        let p = percentiles(&mut self.latencies, self.index, &[0.5, 0.95, 0.99, 0.999]);
        format!(
            "{} records sent, {} records/sec ({} MB/sec), {} ms avg latency, {} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.count,
            jf(recs, 6),
            jf(mb, 2),
            jf(self.total_latency as f64 / self.count as f64, 2),
            jf(self.max_latency as f64, 2),
            p[0],
            p[1],
            p[2],
            p[3]
        )
    }
}

/// Stats.percentiles: the sampled latencies sorted, each percentile at `(int)(p * size)`.
fn percentiles(latencies: &mut [i32], count: usize, ps: &[f64]) -> Vec<i32> {
    let size = count.min(latencies.len());
    latencies[..size].sort_unstable();
    ps.iter()
        .map(|p| {
            let i = ((p * size as f64) as usize).min(latencies.len().saturating_sub(1));
            latencies.get(i).copied().unwrap_or(0)
        })
        .collect()
}

/// ThroughputThrottler: sleeps on average 1/throughput s per record once the rate so far is
/// above the target.
struct Throttler {
    start_ms: i64,
    sleep_time_ns: i64,
    target: i64,
    deficit_ns: i64,
}

const MIN_SLEEP_NS: i64 = 2_000_000;

impl Throttler {
    fn new(target: i64, start_ms: i64) -> Throttler {
        Throttler {
            start_ms,
            sleep_time_ns: if target > 0 {
                1_000_000_000 / target
            } else {
                i64::MAX
            },
            target,
            deficit_ns: 0,
        }
    }

    fn should_throttle(&self, so_far: i64, send_start_ms: i64) -> bool {
        if self.target < 0 {
            return false;
        }
        let elapsed = (send_start_ms - self.start_ms) as f32 / 1000.0;
        elapsed > 0.0 && (so_far as f32 / elapsed) > self.target as f32
    }

    async fn throttle(&mut self) {
        if self.target == 0 {
            // Kafka waits forever here (until interrupted).
            std::future::pending::<()>().await;
        }
        self.deficit_ns = self.deficit_ns.saturating_add(self.sleep_time_ns);
        if self.deficit_ns >= MIN_SLEEP_NS {
            let start = Instant::now();
            tokio::time::sleep(Duration::from_nanos(self.deficit_ns as u64)).await;
            let _ = start;
            self.deficit_ns = 0;
        }
    }
}

fn arg_error(msg: &str) -> i32 {
    eprint!("{USAGE}");
    eprintln!("{PROG}: error: {msg}");
    1
}

/// The parsed test.
struct Test {
    topic: String,
    num_records: i64,
    record_size: Option<i32>,
    payloads: Vec<Bytes>,
    throughput: i64,
    print_metrics: bool,
    producer: ProducerConfig,
}

/// Splits a payload file as Java's `String.split(regex)`: trailing empty pieces dropped.
fn split_payloads(text: &str, delimiter: &str) -> Vec<String> {
    let mut pieces: Vec<String> = match regex::Regex::new(delimiter) {
        Ok(re) if !delimiter.is_empty() => re.split(text).map(str::to_owned).collect(),
        _ => text.split(delimiter).map(str::to_owned).collect(),
    };
    while pieces.len() > 1 && pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

fn setup(a: &Args) -> Result<Result<Test, String>, ArgError> {
    for req in ["--topic", "--num-records"] {
        if !a.has(req) {
            return Err(ArgError(format!("argument {req} is required")));
        }
    }
    match (a.has("--record-size"), a.has("--payload-file")) {
        (false, false) => {
            return Err(ArgError(
                "one of the arguments --record-size --payload-file is required".into(),
            ))
        }
        (true, true) => {
            return Err(ArgError(
                "argument --payload-file: not allowed with argument --record-size".into(),
            ))
        }
        _ => {}
    }
    if !a.has("--throughput") {
        return Err(ArgError("argument --throughput is required".into()));
    }
    let num_records: i64 = number(a, "--num-records", "Long")?.unwrap_or(0);
    let record_size: Option<i32> = number(a, "--record-size", "Integer")?;
    let throughput: i32 = number(a, "--throughput", "Integer")?.unwrap_or(-1);
    let duration: i64 = number(a, "--transaction-duration-ms", "Long")?.unwrap_or(0);
    if !a.has("--producer-props") && !a.has("--producer.config") {
        return Err(ArgError(
            "Either --producer-props or --producer.config must be specified.".into(),
        ));
    }
    if duration > 0 {
        return Ok(Err(
            "Transactions (--transaction-duration-ms > 0) are not supported by zkraft's producer perf test"
                .into(),
        ));
    }
    let mut payloads = Vec::new();
    if let Some(path) = a.one("--payload-file") {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.into());
        println!("Reading payloads from: {}", abs.display());
        let text = match std::fs::read(path) {
            Ok(t) if !t.is_empty() => String::from_utf8_lossy(&t).into_owned(),
            _ => {
                return Ok(Err(
                    "Exception in thread \"main\" java.lang.IllegalArgumentException: File does not exist or empty file provided."
                        .into(),
                ))
            }
        };
        let delim = match a.one("--payload-delimiter").unwrap_or("\\n") {
            "\\n" => "\n",
            d => d,
        };
        let pieces = split_payloads(&text, delim);
        println!("Number of messages read: {}", pieces.len());
        payloads = pieces.into_iter().map(Bytes::from).collect();
    }
    let mut props = match a.one("--producer.config") {
        Some(p) => match load_props(p) {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("Exception in thread \"main\" {e}"))),
        },
        None => BTreeMap::new(),
    };
    for prop in a
        .values
        .get("--producer-props")
        .cloned()
        .unwrap_or_default()
    {
        let pieces: Vec<&str> = prop.split('=').collect();
        let trimmed: Vec<&str> = {
            let mut p = pieces.clone();
            while p.len() > 1 && p.last().is_some_and(|s| s.is_empty()) {
                p.pop();
            }
            p
        };
        if trimmed.len() != 2 {
            return Ok(Err(format!(
                "Exception in thread \"main\" java.lang.IllegalArgumentException: Invalid property: {prop}"
            )));
        }
        props.insert(trimmed[0].to_owned(), trimmed[1].to_owned());
    }
    let mut producer = ProducerConfig::default();
    if let Err(e) = producer.apply(&props) {
        return Ok(Err(format!("Exception in thread \"main\" {e}")));
    }
    if let Err(e) = producer.validate() {
        return Ok(Err(format!("Exception in thread \"main\" {e}")));
    }
    if let Some(size) = record_size {
        if size < 0 {
            return Ok(Err(format!(
                "Exception in thread \"main\" java.lang.NegativeArraySizeException: {size}"
            )));
        }
    }
    Ok(Ok(Test {
        topic: a.one("--topic").unwrap_or_default().to_owned(),
        num_records,
        record_size,
        payloads,
        throughput: throughput as i64,
        print_metrics: a.has("--print-metrics"),
        producer,
    }))
}

/// `kafka-producer-perf-test.sh`; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let parsed = match parse_args(args) {
        Ok(a) => a,
        Err(_) if args.is_empty() => {
            print!("{USAGE}{HELP}");
            return 0;
        }
        Err(ArgError(m)) => return arg_error(&m),
    };
    if parsed.has("--help") {
        // argparse4j prints the help and throws; ProducerPerformance then exits 1 whenever
        // there were arguments.
        print!("{USAGE}{HELP}");
        return 1;
    }
    let test = match setup(&parsed) {
        Err(_) if args.is_empty() => {
            print!("{USAGE}{HELP}");
            return 0;
        }
        Err(ArgError(m)) => return arg_error(&m),
        Ok(Err(msg)) => {
            eprintln!("{msg}");
            return 1;
        }
        Ok(Ok(t)) => t,
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
    rt.block_on(run(test))
}

async fn run(t: Test) -> i32 {
    let producer = match Producer::new(t.producer.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Exception in thread \"main\" {e}");
            return 1;
        }
    };
    let mut random = JavaRandom::new(0);
    let fixed: Option<Bytes> = t.record_size.map(|size| {
        let v: Vec<u8> = (0..size)
            .map(|_| (random.next_int(26) + 65) as u8)
            .collect();
        Bytes::from(v)
    });
    let stats = Arc::new(Mutex::new(Stats::new(t.num_records, 5000)));
    let start_ms = now_ms();
    let mut throttler = Throttler::new(t.throughput, start_ms);
    let mut failed = false;
    for i in 0..t.num_records {
        let payload = match &fixed {
            Some(p) => p.clone(),
            None => t.payloads[random.next_int(t.payloads.len() as i32) as usize].clone(),
        };
        let len = payload.len() as i64;
        let send_start = now_ms();
        let st = stats.clone();
        let completion = move |r: Result<_, SendError>| {
            let now = now_ms();
            let latency = (now - send_start) as i32;
            st.lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(i, latency, len, now);
            if let Err(e) = r {
                eprintln!("{e}");
            }
        };
        let cb: Callback = Box::new(completion.clone());
        let rec = ProducerRecord {
            topic: t.topic.clone(),
            value: Some(payload),
            ..Default::default()
        };
        if let Err(e) = producer.send(rec, Some(cb)).await {
            // Kafka hands errors raised by send() to the callback too.
            failed = true;
            completion(Err(e));
        }
        if throttler.should_throttle(i, send_start) {
            throttler.throttle().await;
        }
    }
    producer.close().await;
    let line = stats.lock().unwrap_or_else(|e| e.into_inner()).total_line();
    println!("{line}");
    if t.print_metrics {
        println!();
        println!(
            "(zkraft: producer metrics are not available; --print-metrics prints nothing more)"
        );
    }
    if failed {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn java_random_matches_java() {
        // new Random(0).nextInt(26), five times, on a JVM: 18, 18, 23, 21, 13.
        let mut r = JavaRandom::new(0);
        let got: Vec<i32> = (0..5).map(|_| r.next_int(26)).collect();
        assert_eq!(got, [18, 18, 23, 21, 13]);
        // new Random(0).nextInt(16) uses the power-of-two path: 11.
        assert_eq!(JavaRandom::new(0).next_int(16), 11);
    }

    #[test]
    fn numbers_format_like_java() {
        // String.format on a JVM: "%f" 1234.5678 -> 1234.567800, "%.2f" 0.125 -> 0.13,
        // "%.1f" 2.25 -> 2.3, "%.1f" 0.05 -> 0.1.
        assert_eq!(jf(1234.5678, 6), "1234.567800");
        assert_eq!(jf(0.125, 2), "0.13");
        assert_eq!(jf(2.25, 1), "2.3");
        assert_eq!(jf(0.05, 1), "0.1");
        assert_eq!(jf(9.96, 1), "10.0");
        assert_eq!(jf(3.0, 2), "3.00");
        assert_eq!(jf(f64::INFINITY, 1), "Infinity");
    }

    #[test]
    fn percentiles_like_kafka() {
        let mut l = vec![5, 1, 4, 2, 3, 0, 0];
        assert_eq!(
            percentiles(&mut l, 5, &[0.5, 0.95, 0.99, 0.999]),
            [3, 5, 5, 5]
        );
        let mut e = vec![0];
        assert_eq!(percentiles(&mut e, 0, &[0.5]), [0]);
    }

    #[test]
    fn parses_like_argparse4j() {
        let a = parse_args(&s(&[
            "--topic",
            "t",
            "--num-records=10",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-props",
            "bootstrap.servers=h:1",
            "acks=all",
            "--print-metrics",
        ]));
        // `-1` is a value here although it starts with '-'.
        let a = a.unwrap_or_else(|e| panic!("{}", e.0));
        assert_eq!(a.one("--throughput"), Some("-1"));
        assert_eq!(a.values["--producer-props"].len(), 2);
        let t = setup(&a).ok().unwrap().unwrap();
        assert_eq!(t.producer.acks, -1);
        assert_eq!(t.num_records, 10);
        let a = parse_args(&s(&[
            "--topic",
            "t",
            "--num-records",
            "1",
            "--throughput",
            "1",
            "--producer-props",
            "bootstrap.servers=h:1",
        ]))
        .ok()
        .unwrap();
        assert_eq!(
            setup(&a).err().unwrap().0,
            "one of the arguments --record-size --payload-file is required"
        );
        assert!(parse_args(&s(&["--bogus"])).is_err());
        assert_eq!(split_payloads("a\nb\n\n", "\n"), ["a", "b"]);
    }

    #[test]
    fn throttler_paces() {
        let t = Throttler::new(100, 0);
        assert!(!t.should_throttle(50, 1000));
        assert!(t.should_throttle(150, 1000));
        assert!(!Throttler::new(-1, 0).should_throttle(1_000_000, 1));
    }
}
