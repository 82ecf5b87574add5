//! The ZooKeeper shell (`zkCli.sh`, Kafka's `zookeeper-shell.sh`): Apache ZooKeeperMain's
//! options, modes, commands and output.
//!
//! Map: [`cli`] tokenizes a line and parses options → [`commands`] runs one command against the
//! `zookeeper-client` session → [`output`] prints the reply as zkCli does (or as JSON) →
//! [`watches`] prints watch and session events as zkCli's default watcher does.
//! [`interactive`] is the line editor (history, completion of commands and znode paths).
//!
//! Modes, as ZooKeeperMain: a command after the options runs once and sets the exit code;
//! otherwise lines are read from a terminal (line editor) or from stdin, one command each.

pub mod cli;
pub mod commands;
pub mod interactive;
pub mod output;
pub mod watches;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use zookeeper_client::{Client, SessionState};

use cli::{tokenize, CliError};
use commands::Ctx;
use output::{Printer, Reply};
use watches::WatchHub;

/// zkCli's defaults (`MyCommandOptions`).
pub const DEFAULT_SERVER: &str = "localhost:2181";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// What `version` reports: the protocol level we speak, and that this is not Apache's shell.
pub const CLI_VERSION: &str = concat!("3.8.0-zkraft-", env!("CARGO_PKG_VERSION"));

/// Command-line options of the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellOptions {
    pub server: String,
    /// Session timeout, and how long connecting may take.
    pub timeout_ms: u64,
    pub readonly: bool,
    pub json: bool,
    /// A command to run once instead of reading lines.
    pub command: Option<Vec<String>>,
}

impl Default for ShellOptions {
    fn default() -> Self {
        ShellOptions {
            server: DEFAULT_SERVER.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            readonly: false,
            json: false,
            command: None,
        }
    }
}

/// Parses ZooKeeperMain's options: `-server h:p`, `-timeout ms`, `-r`, `-client-configuration
/// file` (accepted, ignored), `-waitforconnection`, plus `--json`; the first word not starting
/// with `-` starts the one-shot command.
pub fn parse_options(args: &[String]) -> Result<ShellOptions, String> {
    let mut o = ShellOptions::default();
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Error: no argument found for option {name}"))
        };
        match opt.as_str() {
            "-server" => o.server = value("-server")?,
            "-timeout" => {
                let v = value("-timeout")?;
                o.timeout_ms = v
                    .parse::<u64>()
                    .ok()
                    .filter(|t| *t > 0)
                    .ok_or_else(|| format!("Error: invalid timeout {v}"))?;
            }
            "-r" => o.readonly = true,
            "-client-configuration" => {
                value("-client-configuration")?;
            }
            "-waitforconnection" => {}
            "--json" | "-json" => o.json = true,
            s if !s.starts_with('-') => {
                let mut cmd = vec![opt.clone()];
                cmd.extend(it.cloned());
                o.command = Some(cmd);
                break;
            }
            // ZooKeeperMain ignores options it does not know.
            _ => {}
        }
    }
    Ok(o)
}

/// What the caller should do after a line.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// One shell: the session (if connected), the watch printer, history and the exit code.
pub struct Shell {
    rt: tokio::runtime::Runtime,
    zk: Option<Client>,
    host: String,
    opts: ShellOptions,
    printer: Printer,
    hub: WatchHub,
    history: BTreeMap<usize, String>,
    command_count: usize,
    exit_code: i32,
}

impl Shell {
    pub fn new(opts: ShellOptions) -> std::io::Result<Shell> {
        // One worker: the client's session task and the watch hub never run at the same time,
        // so a notification is delivered to all its receivers before the hub looks (see watches).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let printer = Printer::new(opts.json);
        let hub = {
            let _g = rt.enter();
            WatchHub::start(printer.clone())
        };
        Ok(Shell {
            rt,
            zk: None,
            host: opts.server.clone(),
            opts,
            printer,
            hub,
            history: BTreeMap::new(),
            command_count: 0,
            exit_code: 0,
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.opts.timeout_ms)
    }

    /// Closes the current session (waiting for the server to confirm) and prints `Closed`.
    fn close(&mut self) {
        let Some(zk) = self.zk.take() else { return };
        let mut state = zk.state_watcher();
        drop(zk);
        let t = self.timeout();
        self.rt.block_on(async {
            let _ = tokio::time::timeout(t, async {
                while !state.state().is_terminated() {
                    state.changed().await;
                }
            })
            .await;
        });
        self.rt.block_on(self.hub.flush());
        self.hub.clear();
    }

    /// Closes the session at exit without a `Closed` event: zkCli exits at end of input or
    /// after a one-shot command without closing, so it never prints one there.
    fn close_quietly(&mut self) {
        self.hub.set_printing(false);
        self.close();
    }

    /// Opens a session to `host`; prints zkCli's connected event, or why it failed.
    fn connect(&mut self, host: &str) {
        self.close();
        self.host = host.to_owned();
        let t = self.timeout();
        let readonly = self.opts.readonly;
        let res = self.rt.block_on(async {
            let c = Client::connector()
                .with_session_timeout(t)
                .with_connection_timeout(t)
                .with_readonly(readonly);
            tokio::time::timeout(t, c.connect(host)).await
        });
        match res {
            Ok(Ok(zk)) => {
                self.hub.follow_session(zk.state_watcher());
                let state = if zk.state() == SessionState::ConnectedReadOnly {
                    "ConnectedReadOnly"
                } else {
                    "SyncConnected"
                };
                if self.hub.printing() {
                    self.printer.event(state, "None", None);
                }
                self.zk = Some(zk);
            }
            Ok(Err(e)) => self.printer.error(
                &format!("Unable to connect to {host}: {e} (KeeperErrorCode = ConnectionLoss)"),
                1,
            ),
            Err(_) => self.printer.error(
                &format!(
                    "Unable to connect to {host} within {} ms (KeeperErrorCode = ConnectionLoss)",
                    self.opts.timeout_ms
                ),
                1,
            ),
        }
    }

    /// zkCli's prompt: `[zk: host(STATE) n] `.
    pub fn prompt(&self) -> String {
        let state = match &self.zk {
            Some(zk) => match zk.state() {
                SessionState::SyncConnected => "CONNECTED",
                SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
                SessionState::Disconnected => "CONNECTING",
                SessionState::AuthFailed => "AUTH_FAILED",
                SessionState::Expired | SessionState::Closed => "CLOSED",
            },
            None => "CLOSED",
        };
        format!("[zk: {}({state}) {}] ", self.host, self.command_count)
    }

    /// ZooKeeperMain.executeLine.
    fn execute_line(&mut self, line: &str) -> Flow {
        let tokens = tokenize(line);
        if tokens.is_empty() {
            return Flow::Continue;
        }
        self.history.insert(self.command_count, line.to_owned());
        let flow = self.process(&tokens);
        self.command_count += 1;
        flow
    }

    /// ZooKeeperMain.processCmd: runs, prints, records the exit code.
    fn process(&mut self, tokens: &[String]) -> Flow {
        match self.process_zk(tokens) {
            // zkCli exits with the code the previous command left.
            Ok((Flow::Quit, _)) => Flow::Quit,
            Ok((flow, reply)) => {
                self.exit_code = 0;
                if let Some(r) = reply {
                    self.printer.reply(&r);
                }
                flow
            }
            Err(e) => {
                self.exit_code = e.exit_code;
                self.printer.error(&e.message, e.exit_code);
                Flow::Continue
            }
        }
    }

    fn process_zk(&mut self, tokens: &[String]) -> Result<(Flow, Option<Reply>), CliError> {
        let cmd = tokens[0].as_str();
        if !commands::COMMANDS.iter().any(|(c, _)| *c == cmd) {
            if !self.opts.json {
                self.printer
                    .err(commands::main_usage().trim_end_matches('\n'));
            }
            return Err(CliError {
                message: format!("Command not found: Command not found {cmd}"),
                exit_code: 127,
            });
        }
        match cmd {
            "quit" => {
                self.close();
                return Ok((Flow::Quit, None));
            }
            "redo" if tokens.len() >= 2 => {
                let i = parse_java_int(&tokens[1])
                    .ok_or_else(|| CliError::new(format!("For input string: \"{}\"", tokens[1])))?;
                if i < 0 || i as usize >= self.command_count {
                    return Err(CliError::new("Command index out of range"));
                }
                let line = self.history.get(&(i as usize)).cloned().unwrap_or_default();
                let t = tokenize(&line);
                if t.first().map(String::as_str) == Some("redo") {
                    return Err(CliError::new("No redoing redos"));
                }
                self.history.insert(self.command_count, line);
                // The redone command's outcome is printed; the redo itself then succeeds.
                let flow = self.process(&t);
                return Ok((flow, None));
            }
            "history" => {
                let from = self.command_count.saturating_sub(10);
                let h: Vec<(usize, String)> = (from..=self.command_count)
                    .filter_map(|i| self.history.get(&i).map(|l| (i, l.clone())))
                    .collect();
                self.printer.reply(&Reply::History(h));
            }
            "printwatches" => {
                if tokens.len() == 1 {
                    self.printer
                        .reply(&Reply::PrintWatches(self.hub.printing()));
                } else {
                    self.hub.set_printing(tokens[1] == "on");
                }
            }
            "connect" => {
                let host = tokens.get(1).cloned().unwrap_or_else(|| self.host.clone());
                self.connect(&host);
            }
            _ => {}
        }
        let alive = self
            .zk
            .as_ref()
            .is_some_and(|zk| !zk.state().is_terminated());
        let Some(zk) = self.zk.clone().filter(|_| alive) else {
            self.printer.out("Not connected");
            return Ok((Flow::Continue, None));
        };
        let ctx = Ctx {
            zk: &zk,
            hub: &self.hub,
            printer: &self.printer,
        };
        let t = tokens;
        let result = self.rt.block_on(async {
            let r = match cmd {
                "ls" => commands::ls(&ctx, t).await,
                "get" => commands::get(&ctx, t).await,
                "stat" => commands::stat(&ctx, t).await,
                "create" => commands::create(&ctx, t).await,
                "set" => commands::set(&ctx, t).await,
                "delete" => commands::delete(&ctx, t).await,
                "deleteall" => commands::deleteall(&ctx, t).await,
                "getAcl" => commands::get_acl(&ctx, t).await,
                "setAcl" => commands::set_acl(&ctx, t).await,
                "addauth" => commands::add_auth(&ctx, t).await,
                "sync" => commands::sync(&ctx, t).await,
                "whoami" => commands::whoami(&ctx).await,
                "getEphemerals" => commands::get_ephemerals(&ctx, t).await,
                "getAllChildrenNumber" => commands::get_all_children_number(&ctx, t).await,
                "addWatch" => commands::add_watch(&ctx, t).await,
                "removewatches" => commands::remove_watches(&ctx, t).await,
                "config" => commands::config(&ctx, t).await,
                "version" => {
                    if t.len() > 1 {
                        Err(CliError::new(commands::usage_of("version")))
                    } else {
                        Ok(Reply::Version(CLI_VERSION.into()))
                    }
                }
                "close" => Ok(Reply::Nothing),
                "setquota" | "listquota" | "delquota" | "reconfig" => Err(CliError::new(format!(
                    "{cmd} is not supported by the zkraft shell"
                ))),
                // history, printwatches, connect, redo without argument: done above.
                _ => return Ok(None),
            };
            // Notifications that preceded the reply are printed before it, as they arrived.
            self.hub.flush().await;
            r.map(Some)
        });
        if cmd == "close" {
            // Our clone must go too, or the session stays open.
            drop(zk);
            self.close();
            return Ok((Flow::Continue, None));
        }
        match result? {
            None => Ok((Flow::Continue, None)),
            Some(Reply::Nothing) if !self.opts.json => Ok((Flow::Continue, None)),
            Some(r) => Ok((Flow::Continue, Some(r))),
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }
}

/// Java's `Integer.decode` (decimal, `0x` hex, leading `0` octal, sign).
fn parse_java_int(s: &str) -> Option<i32> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(h) = body.strip_prefix('#') {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

/// Runs the shell with zkCli's arguments; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let opts = match parse_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let mut shell = match Shell::new(opts.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    if !opts.json {
        shell.printer.out(&format!("Connecting to {}", opts.server));
    }
    if let Some(cmd) = &opts.command {
        shell.connect(&opts.server);
        if shell.zk.is_none() {
            // Nothing ran: the command failed for want of a connection.
            return 1;
        }
        shell.process(cmd);
        let code = shell.exit_code();
        shell.close_quietly();
        return code;
    }
    let interactive = std::io::stdin().is_terminal() && !opts.json;
    // zkCli prints its banner while the session is still being established.
    if !opts.json {
        shell.printer.out("Welcome to ZooKeeper!");
        if !interactive {
            shell.printer.out("JLine support is disabled");
        }
    }
    shell.connect(&opts.server);
    if interactive {
        interactive::run(&mut shell);
    } else {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if shell.execute_line(&line) == Flow::Quit {
                return shell.exit_code();
            }
        }
    }
    shell.close_quietly();
    shell.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_are_zookeeper_mains() {
        let o = parse_options(&s(&["-server", "h:1", "-timeout", "500", "ls", "-s", "/"])).unwrap();
        assert_eq!(o.server, "h:1");
        assert_eq!(o.timeout_ms, 500);
        assert_eq!(o.command, Some(s(&["ls", "-s", "/"])));
        let o = parse_options(&s(&["--json"])).unwrap();
        assert!(o.json && o.command.is_none());
        assert_eq!(
            parse_options(&s(&["-server"])).unwrap_err(),
            "Error: no argument found for option -server"
        );
        assert!(parse_options(&s(&["-timeout", "x"])).is_err());
    }

    #[test]
    fn java_int_decode() {
        assert_eq!(parse_java_int("12"), Some(12));
        assert_eq!(parse_java_int("0x10"), Some(16));
        assert_eq!(parse_java_int("010"), Some(8));
        assert_eq!(parse_java_int("-3"), Some(-3));
        assert_eq!(parse_java_int("x"), None);
    }
}
