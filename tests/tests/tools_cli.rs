//! Command-line conformance of every bin/ script zkraft ships for Kafka 2.4.1 and ZooKeeper
//! 3.8: `--version`, `--help`, no arguments, unknown and abbreviated options, the first
//! required-argument check -- which stream each message goes to and the exit code, as the
//! upstream tools do it.
//!
//! The upstream behaviour, from Kafka 2.4.1's sources:
//! - Tools built on `CommandDefaultOptions` (kafka-topics, kafka-configs, the console producer
//!   and consumer, kafka-consumer-groups, kafka-consumer-perf-test) accept `--help` and
//!   `--version`. `--help` and an empty command line print a message and jopt-simple's option
//!   table on stderr and exit 1 (`CommandLineUtils.printUsageAndDie`); `--version` prints
//!   `VersionInfo.getVersionString` (`2.4.1 (...)`) on stdout and exits 0.
//! - Their parsers are built with abbreviations disabled, so `--vers` is as unknown as
//!   `--bogus`. How an unknown option surfaces depends on where the tool parses: kafka-topics,
//!   kafka-consumer-groups, kafka-consumer-perf-test and GetOffsetShell let jopt-simple's
//!   exception escape `main` (`Exception in thread "main" joptsimple.UnrecognizedOptionException:
//!   x is not a recognized option`, exit 1); kafka-configs catches it and prints only the
//!   message; the console producer and consumer print the message and the option table.
//! - GetOffsetShell has neither `--help` nor `--version`; with no arguments it prints "An
//!   interactive shell for getting topic offsets." and its option table.
//! - kafka-producer-perf-test is argparse4j (`producer-performance`): no arguments print the
//!   help on stdout and exit 0; `--help` prints it on stdout and exits 1; an unknown argument
//!   (`--version` included) prints the usage and `producer-performance: error: unrecognized
//!   arguments: '--x'` on stderr and exits 1.
//! - kafka-server-start.sh, zookeeper-server-start.sh, zookeeper-shell.sh and
//!   kafka-run-class.sh print their `USAGE: $0 ...` line on stdout and exit 1 when called
//!   without arguments; `kafka.Kafka` itself handles `--help` (USAGE line and option table on
//!   stderr, exit 1) and `--version` (exit 0).
//! - ZooKeeper's zkCli.sh and zkServer.sh are compared with Apache's real scripts.

mod tools_support;

use std::path::PathBuf;
use std::process::Command;

use tests::server::workspace_root;
use tests::{ServerKind, ServerOptions, TestServer};
use tools_support::{run, wrapper, Cases, Out};

/// A Kafka tool as an operator runs it: its bin/ script and any leading arguments (the class
/// for kafka-run-class.sh).
#[derive(Clone, Copy, Debug)]
struct KafkaTool {
    script: &'static str,
    lead: &'static [&'static str],
    /// What `--help` (and, unless `no_args` says otherwise, an empty command line) prints first.
    help_message: &'static str,
    /// How the tool reports a jopt-simple parse failure.
    parse_errors: ParseErrors,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ParseErrors {
    /// The exception escapes `main`: `Exception in thread "main" joptsimple.X: message`.
    Escape,
    /// Caught; only the message on stderr.
    MessageOnly,
    /// Caught by `tryParse`: the message, then the option table.
    MessageAndTable,
}

/// The tools built on Kafka's `CommandDefaultOptions`.
const DEFAULT_OPTION_TOOLS: [KafkaTool; 6] = [
    KafkaTool {
        script: "kafka-topics.sh",
        lead: &[],
        help_message: "This tool helps to create, delete, describe, or change a topic.",
        parse_errors: ParseErrors::Escape,
    },
    KafkaTool {
        script: "kafka-configs.sh",
        lead: &[],
        help_message: "This tool helps to manipulate and describe entity config for a topic, client, user or broker",
        parse_errors: ParseErrors::MessageOnly,
    },
    KafkaTool {
        script: "kafka-console-producer.sh",
        lead: &[],
        help_message: "This tool helps to read data from standard input and publish it to Kafka.",
        parse_errors: ParseErrors::MessageAndTable,
    },
    KafkaTool {
        script: "kafka-console-consumer.sh",
        lead: &[],
        help_message: "This tool helps to read data from Kafka topics and outputs it to standard output.",
        parse_errors: ParseErrors::MessageAndTable,
    },
    KafkaTool {
        script: "kafka-consumer-groups.sh",
        lead: &[],
        help_message: "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.",
        parse_errors: ParseErrors::Escape,
    },
    KafkaTool {
        script: "kafka-consumer-perf-test.sh",
        lead: &[],
        help_message: "This tool helps in performance test for the full zookeeper consumer",
        parse_errors: ParseErrors::Escape,
    },
];

const GET_OFFSET_SHELL: KafkaTool = KafkaTool {
    script: "kafka-run-class.sh",
    lead: &["kafka.tools.GetOffsetShell"],
    help_message: "An interactive shell for getting topic offsets.",
    parse_errors: ParseErrors::Escape,
};

impl KafkaTool {
    fn run(&self, args: &[&str]) -> Out {
        let mut c = wrapper(self.script);
        c.args(self.lead).args(args);
        run(c, None)
    }

    fn name(&self) -> String {
        let mut n = self.script.to_owned();
        for l in self.lead {
            n.push(' ');
            n.push_str(l);
        }
        n
    }

    /// What an unknown (or abbreviated) option `opt` must print on stderr.
    fn check_unrecognized(&self, opt: &str) {
        let o = self.run(&[&format!("--{opt}")]);
        let name = self.name();
        let message = format!("{opt} is not a recognized option");
        assert_eq!(o.code, 1, "{name} --{opt}: {o:?}");
        assert_eq!(o.stdout, "", "{name} --{opt}: {o:?}");
        match self.parse_errors {
            ParseErrors::Escape => assert_eq!(
                o.stderr.lines().next(),
                Some(
                    format!(
                        "Exception in thread \"main\" joptsimple.UnrecognizedOptionException: {message}"
                    )
                    .as_str()
                ),
                "{name} --{opt}: {o:?}"
            ),
            ParseErrors::MessageOnly => {
                assert_eq!(o.stderr, format!("{message}\n"), "{name} --{opt}: {o:?}")
            }
            ParseErrors::MessageAndTable => {
                assert_eq!(
                    o.stderr.lines().next(),
                    Some(message.as_str()),
                    "{name} --{opt}: {o:?}"
                );
                assert_option_table(&name, &o.stderr, true);
            }
        }
    }
}

/// jopt-simple's option table follows the first line of `stderr`: a header, then one entry
/// per option, sorted, `--help` and `--version` among them when the tool has them.
fn assert_option_table(name: &str, stderr: &str, default_options: bool) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() > 3, "{name}: no option table:\n{stderr}");
    assert!(
        lines[1].starts_with("Option ") && lines[1].trim_end().ends_with("Description"),
        "{name}: table header:\n{stderr}"
    );
    assert!(
        lines[2].starts_with("------ ") && lines[2].trim_end().ends_with("-----------"),
        "{name}: table header:\n{stderr}"
    );
    let entries: Vec<&str> = lines[3..]
        .iter()
        .filter(|l| l.starts_with("--"))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "{name}: options not sorted:\n{stderr}");
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    if default_options {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("--help ") && l.ends_with("Print usage information.")),
            "{name}: --help entry:\n{stderr}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("--version ") && l.ends_with("Display Kafka version.")),
            "{name}: --version entry:\n{stderr}"
        );
    } else {
        assert!(!has("--help"), "{name}: has no --help upstream:\n{stderr}");
    }
}

/// `2.4.1 (...)`: Kafka's `VersionInfo.getVersionString` form (version, then the build in
/// parentheses) on one line.
fn assert_version_line(name: &str, o: &Out) {
    assert_eq!(o.code, 0, "{name} --version: {o:?}");
    assert_eq!(o.stderr, "", "{name} --version: {o:?}");
    let line = o.stdout.strip_suffix('\n').unwrap_or("");
    assert!(
        !line.contains('\n')
            && line.starts_with("2.4.1 (")
            && line.ends_with(')')
            && line.len() > 8,
        "{name} --version printed {:?}",
        o.stdout
    );
}

#[test]
fn t10_version() {
    let mut cases = Cases::new("case(s) differ from upstream");
    let mut seen = Vec::new();
    for t in DEFAULT_OPTION_TOOLS {
        let o = t.run(&["--version"]);
        cases.case(&t.name(), || assert_version_line(&t.name(), &o));
        seen.push((t.name(), o.stdout));
    }
    // kafka.Kafka looks for --version anywhere on its command line.
    let mut c = wrapper("kafka-server-start.sh");
    // Kafka answers before it reads the file, so none is needed (and no broker can start).
    c.args(["/nonexistent/server.properties", "--version"]);
    let o = run(c, None);
    cases.case("kafka-server-start.sh", || {
        assert_version_line("kafka-server-start.sh", &o)
    });
    seen.push(("kafka-server-start.sh".into(), o.stdout));
    // One version string for all of them.
    for (name, v) in &seen {
        cases.case(name, || {
            assert_eq!(v, &seen[0].1, "{name} and {} disagree", seen[0].0)
        });
    }
    cases.finish();
}

#[test]
fn t20_help_and_no_arguments() {
    let mut cases = Cases::new("case(s) differ from upstream");
    for t in DEFAULT_OPTION_TOOLS {
        for args in [&["--help"][..], &[]] {
            let name = format!("{} {args:?}", t.name());
            cases.case(&name.clone(), || {
                let o = t.run(args);
                assert_eq!(o.code, 1, "{name}: {o:?}");
                assert_eq!(o.stdout, "", "{name}: {o:?}");
                // kafka-topics has its own line for an empty command line.
                let first = if args.is_empty() && t.script == "kafka-topics.sh" {
                    "Create, delete, describe, or change a topic."
                } else {
                    t.help_message
                };
                assert_eq!(o.stderr.lines().next(), Some(first), "{name}: {o:?}");
                assert_option_table(&name, &o.stderr, true);
            });
        }
    }

    // GetOffsetShell: no --help or --version of its own.
    cases.case("GetOffsetShell []", || {
        let o = GET_OFFSET_SHELL.run(&[]);
        assert_eq!(o.code, 1, "{o:?}");
        assert_eq!(o.stdout, "", "{o:?}");
        assert_eq!(
            o.stderr.lines().next(),
            Some(GET_OFFSET_SHELL.help_message),
            "{o:?}"
        );
        assert_option_table("GetOffsetShell", &o.stderr, false);
    });
    for opt in ["help", "version"] {
        cases.case(&format!("GetOffsetShell --{opt}"), || {
            GET_OFFSET_SHELL.check_unrecognized(opt)
        });
    }
    cases.finish();
}

#[test]
fn t30_unknown_and_abbreviated_options() {
    let mut cases = Cases::new("case(s) differ from upstream");
    for t in DEFAULT_OPTION_TOOLS.iter().chain([&GET_OFFSET_SHELL]) {
        cases.case(&format!("{} --bogus", t.name()), || {
            t.check_unrecognized("bogus")
        });
    }
    // Abbreviations are not accepted (jopt-simple parser built with abbreviations off).
    for t in DEFAULT_OPTION_TOOLS {
        cases.case(&format!("{} --vers", t.name()), || {
            t.check_unrecognized("vers")
        });
    }
    cases.case("GetOffsetShell --brok", || {
        GET_OFFSET_SHELL.check_unrecognized("brok")
    });
    cases.finish();
}

#[test]
fn t40_first_required_argument() {
    let mut cases = Cases::new("case(s) differ from upstream");
    let mut missing = |t: &KafkaTool, args: &[&str], message: &str| {
        let name = format!("{} {args:?}", t.name());
        cases.case(&name.clone(), || {
            let o = t.run(args);
            assert_eq!(o.code, 1, "{name}: {o:?}");
            assert_eq!(o.stdout, "", "{name}: {o:?}");
            assert_eq!(o.stderr.lines().next(), Some(message), "{name}: {o:?}");
            assert_option_table(&name, &o.stderr, t.script != "kafka-run-class.sh");
        });
    };
    let [topics, configs, producer, consumer, groups, consumer_perf] = DEFAULT_OPTION_TOOLS;
    missing(
        &topics,
        &["--zookeeper", "127.0.0.1:1"],
        "Command must include exactly one action: --list, --describe, --create, --alter or --delete",
    );
    // kafka-configs checks its arguments before connecting.
    missing(
        &configs,
        &["--zookeeper", "127.0.0.1:1", "--entity-type", "topics"],
        "Command must include exactly one action: --describe, --alter",
    );
    missing(
        &producer,
        &["--topic", "t"],
        "Missing required argument \"[broker-list]\"",
    );
    missing(
        &consumer,
        &["--bootstrap-server", "127.0.0.1:1"],
        "Exactly one of whitelist/topic is required.",
    );
    missing(
        &consumer,
        &["--topic", "t"],
        "Missing required argument \"[bootstrap-server]\"",
    );
    missing(
        &groups,
        &["--bootstrap-server", "127.0.0.1:1"],
        "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets",
    );
    missing(
        &groups,
        &["--list"],
        "Missing required argument \"[bootstrap-server]\"",
    );
    missing(
        &consumer_perf,
        &["--topic", "t"],
        "Missing required argument \"[messages]\"",
    );
    missing(
        &consumer_perf,
        &["--topic", "t", "--messages", "1"],
        "Missing required argument \"[broker-list]\"",
    );
    missing(
        &GET_OFFSET_SHELL,
        &["--topic", "t"],
        "Missing required argument \"[broker-list]\"",
    );
    cases.finish();
}

/// kafka-producer-perf-test.sh is argparse4j's `producer-performance`.
#[test]
fn t50_producer_perf_test_argparse() {
    let mut cases = Cases::new("case(s) differ from upstream");
    let perf = |args: &[&str]| {
        let mut c = wrapper("kafka-producer-perf-test.sh");
        c.args(args);
        run(c, None)
    };
    let none = perf(&[]);
    cases.case("no arguments", || {
        assert_eq!(none.code, 0, "{none:?}");
        assert!(
            none.stdout.starts_with("usage: producer-performance ")
                && none
                    .stdout
                    .contains("This tool is used to verify the producer performance."),
            "{none:?}"
        );
    });
    let help = perf(&["--help"]);
    cases.case("--help", || {
        assert_eq!(help.code, 1, "{help:?}");
        assert_eq!(help.stdout, none.stdout, "--help prints the same help");
        for flag in [
            "--topic TOPIC",
            "--num-records NUM-RECORDS",
            "--record-size RECORD-SIZE",
            "--payload-file PAYLOAD-FILE",
            "--payload-delimiter PAYLOAD-DELIMITER",
            "--throughput THROUGHPUT",
            "--producer-props PROP-NAME=PROP-VALUE",
            "--producer.config CONFIG-FILE",
            "--print-metrics",
            "--transactional-id TRANSACTIONAL-ID",
            "--transaction-duration-ms TRANSACTION-DURATION",
        ] {
            assert!(
                help.stdout.contains(flag),
                "--help lacks {flag:?}:\n{}",
                help.stdout
            );
        }
    });
    for bad in ["--bogus", "--version"] {
        cases.case(bad, || {
            let o = perf(&[bad]);
            assert_eq!(o.code, 1, "{o:?}");
            assert_eq!(o.stdout, "", "{o:?}");
            assert!(
                o.stderr.starts_with("usage: producer-performance "),
                "{o:?}"
            );
            assert!(
                o.stderr.contains(&format!(
                    "producer-performance: error: unrecognized arguments: '{bad}'"
                )),
                "{o:?}"
            );
        });
    }
    cases.case("no producer properties", || {
        let o = perf(&[
            "--topic",
            "t",
            "--num-records",
            "1",
            "--throughput",
            "-1",
            "--record-size",
            "1",
        ]);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            o.stderr.contains(
                "producer-performance: error: Either --producer-props or --producer.config must be specified."
            ),
            "{o:?}"
        );
    });
    cases.finish();
}

/// `bin/<script>` as the test invokes it: what `$0` is in the USAGE lines.
fn script_path(script: &str) -> PathBuf {
    workspace_root().join("bin").join(script)
}

#[test]
fn t60_server_and_shell_scripts_without_arguments() {
    let mut cases = Cases::new("case(s) differ from upstream");
    for (script, usage) in [
        (
            "kafka-server-start.sh",
            "[-daemon] server.properties [--override property=value]*",
        ),
        (
            "zookeeper-server-start.sh",
            "[-daemon] zookeeper.properties",
        ),
        ("zookeeper-shell.sh", "zookeeper_host:port[/path] [args...]"),
        (
            "kafka-run-class.sh",
            "[-daemon] [-name servicename] [-loggc] classname [opts]",
        ),
    ] {
        cases.case(script, || {
            let o = run(wrapper(script), None);
            assert_eq!(o.code, 1, "{o:?}");
            assert_eq!(
                o.stdout,
                format!("USAGE: {} {usage}\n", script_path(script).display()),
                "{o:?}"
            );
            assert_eq!(o.stderr, "", "{o:?}");
        });
    }

    // kafka.Kafka: --help anywhere prints its own USAGE line and option table.
    cases.case("kafka-server-start.sh --help", || {
        let mut c = wrapper("kafka-server-start.sh");
        c.args(["/nonexistent/server.properties", "--help"]);
        let o = run(c, None);
        assert_eq!(o.code, 1, "{o:?}");
        assert_eq!(o.stdout, "", "{o:?}");
        assert_eq!(
            o.stderr.lines().next(),
            Some(
                "USAGE: java [options] KafkaServer server.properties [--override property=value]*"
            ),
            "{o:?}"
        );
        assert!(
            o.stderr
                .lines()
                .any(|l| l.starts_with("--override <String>")),
            "{o:?}"
        );
        assert!(
            o.stderr.lines().any(|l| l.starts_with("--version ")
                && l.ends_with("Print version information and exit.")),
            "{o:?}"
        );
    });
    cases.finish();
}

/// Runs Apache's script `path` with `args`.
fn apache(path: PathBuf, args: &[&str]) -> Out {
    let mut c = Command::new(path);
    c.args(args).current_dir(std::env::temp_dir());
    run(c, None)
}

/// Debian's zkServer.sh.
const APACHE_ZKSERVER_SH: &str = "/usr/share/zookeeper/bin/zkServer.sh";

/// The lines of zkCli's command usage (`ZooKeeper -server ...` and one tab-indented line per
/// command) and its `Command not found` line, per stream, without the logging.
fn zkcli_usage(o: &Out) -> (Vec<String>, Vec<String>) {
    let pick = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.starts_with("ZooKeeper -server ")
                    || l.starts_with('\t')
                    || l.starts_with("Command not found")
            })
            .map(str::to_owned)
            .collect()
    };
    (pick(&o.stdout), pick(&o.stderr))
}

#[test]
fn t70_zookeeper_scripts_against_apache() {
    assert!(
        ServerKind::Apache.is_available(),
        "Apache ZooKeeper is not available (scripts/install-test-deps.sh)"
    );
    let mut cases = Cases::new("case(s) differ from upstream");
    let zk = TestServer::start(ServerKind::Zkraft, ServerOptions::new()).expect("server");
    let server = zk.connect_string();
    let zkcli = |args: &[&str]| {
        let mut c = wrapper("zkCli.sh");
        c.args(["-server", &server]).args(args);
        run(c, None)
    };

    // `version`: one line on stdout, same form and ZooKeeper version as Apache's.
    cases.case("zkCli.sh version", || {
        let ours = zkcli(&["version"]);
        let theirs = apache(tests::apache::zkcli_sh(), &["-server", &server, "version"]);
        let version_line = |o: &Out| {
            o.stdout
                .lines()
                .find(|l| l.starts_with("ZooKeeper CLI version: "))
                .map(|l| l.split('-').next().unwrap_or("").to_owned())
        };
        assert_eq!(ours.code, theirs.code, "ours {ours:?}\ntheirs {theirs:?}");
        assert!(version_line(&theirs).is_some(), "{theirs:?}");
        assert_eq!(
            version_line(&ours),
            version_line(&theirs),
            "ours {ours:?}\ntheirs {theirs:?}"
        );
    });

    // An unknown command and `help`: the command list, on the same stream, exit 127.
    for cmd in ["bogus", "help"] {
        cases.case(&format!("zkCli.sh {cmd}"), || {
            let ours = zkcli(&[cmd]);
            let theirs = apache(tests::apache::zkcli_sh(), &["-server", &server, cmd]);
            assert_eq!(ours.code, theirs.code, "ours {ours:?}\ntheirs {theirs:?}");
            assert!(!zkcli_usage(&theirs).1.is_empty(), "{theirs:?}");
            assert_eq!(
                zkcli_usage(&ours),
                zkcli_usage(&theirs),
                "(stdout, stderr) lines: ours {ours:?}\ntheirs {theirs:?}"
            );
        });
    }

    // zookeeper-shell.sh is Kafka's `ZooKeeperMain -server "$@"`.
    cases.case("zookeeper-shell.sh ls /", || {
        let mut c = wrapper("zookeeper-shell.sh");
        c.args([server.as_str(), "ls", "/"]);
        let o = run(c, None);
        assert_eq!(o.code, 0, "{o:?}");
        assert_eq!(
            o.stdout,
            format!("Connecting to {server}\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n[zookeeper]\n")
        );
    });

    // zkServer.sh version: `Apache ZooKeeper, version 3.8.x <build date>`.
    cases.case("zkServer.sh version", || {
        let mut c = wrapper("zkServer.sh");
        c.arg("version");
        let ours = run(c, None);
        let theirs = apache(PathBuf::from(APACHE_ZKSERVER_SH), &["version"]);
        let line = |o: &Out| {
            o.stdout
                .lines()
                .find(|l| l.starts_with("Apache ZooKeeper, version "))
                .map(|l| {
                    l.split('-')
                        .next()
                        .unwrap_or("")
                        .split(' ')
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
        };
        assert_eq!(theirs.code, 0, "{theirs:?}");
        assert!(line(&theirs).is_some(), "{theirs:?}");
        assert_eq!(ours.code, 0, "{ours:?}");
        assert_eq!(
            line(&ours),
            line(&theirs),
            "ours {ours:?}\ntheirs {theirs:?}"
        );
    });
    cases.finish();
}
