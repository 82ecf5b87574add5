//! The terminal line editor: zkCli's prompt, a history file, and tab completion of command
//! names and of znode paths (children listed from the server, as JLineZNodeCompleter does).

use std::path::PathBuf;
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use zookeeper_client::Client;

use super::{commands, Flow, Shell};

/// How long completion may wait for the server before offering nothing.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(2);
/// History entries kept in the history file.
const HISTORY_MAX: usize = 1000;

/// The history file: `$ZKRAFT_SHELL_HISTORY`, else `~/.zkraft_shell_history`.
fn history_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ZKRAFT_SHELL_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".zkraft_shell_history"))
}

struct ZkHelper {
    zk: Option<Client>,
    handle: tokio::runtime::Handle,
}

/// Splits `word` (a path being typed) into the parent to list and the child prefix.
fn split_path(word: &str) -> (String, &str) {
    let i = word.rfind('/').unwrap_or(0);
    let parent = if i == 0 {
        "/".to_owned()
    } else {
        word[..i].to_owned()
    };
    (parent, &word[i + 1..])
}

impl ZkHelper {
    fn children(&self, parent: &str) -> Vec<String> {
        let Some(zk) = self.zk.clone() else {
            return Vec::new();
        };
        let parent = parent.to_owned();
        self.handle
            .block_on(async move {
                tokio::time::timeout(COMPLETION_TIMEOUT, zk.list_children(&parent)).await
            })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(char::is_whitespace)
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[start..];
        if start == 0 || before[..start].trim().is_empty() {
            let c = commands::COMMANDS
                .iter()
                .filter(|(c, _)| c.starts_with(word))
                .map(|(c, _)| Pair {
                    display: c.to_string(),
                    replacement: format!("{c} "),
                })
                .collect();
            return Ok((start, c));
        }
        if !word.starts_with('/') {
            return Ok((pos, Vec::new()));
        }
        let (parent, prefix) = split_path(word);
        let mut children: Vec<String> = self
            .children(&parent)
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        children.sort();
        let base = if parent == "/" { String::new() } else { parent };
        let c = children
            .into_iter()
            .map(|ch| Pair {
                display: ch.clone(),
                replacement: format!("{base}/{ch}"),
            })
            .collect();
        Ok((start, c))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}
impl Highlighter for ZkHelper {}
impl Validator for ZkHelper {}
impl Helper for ZkHelper {}

/// Reads lines from the terminal until `quit` or end of input.
pub(super) fn run(shell: &mut Shell) {
    let mut rl: Editor<ZkHelper, DefaultHistory> = match Editor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("line editor unavailable ({e}); reading plain lines");
            return;
        }
    };
    let _ = rl.history_mut().set_max_len(HISTORY_MAX);
    rl.set_helper(Some(ZkHelper {
        zk: None,
        handle: shell.rt.handle().clone(),
    }));
    let hist = history_file();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    loop {
        if let Some(h) = rl.helper_mut() {
            h.zk = shell.zk.clone();
        }
        match rl.readline(&shell.prompt()) {
            Ok(line) => {
                // The completer's handle on the session must not outlive a `close` or `quit`.
                if let Some(h) = rl.helper_mut() {
                    h.zk = None;
                }
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                if shell.execute_line(&line) == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &hist {
        let _ = rl.save_history(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_splits_paths() {
        assert_eq!(split_path("/"), ("/".to_owned(), ""));
        assert_eq!(split_path("/bro"), ("/".to_owned(), "bro"));
        assert_eq!(split_path("/brokers/i"), ("/brokers".to_owned(), "i"));
        assert_eq!(split_path("/brokers/"), ("/brokers".to_owned(), ""));
    }
}
