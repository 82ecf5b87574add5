//! What a shell command produced, and its two renderings: zkCli's text (byte for byte, stdout
//! vs. stderr as Apache's shell splits them) and one JSON object per line for scripts.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use zookeeper_client::{Acl, Permission, Stat};

/// The result of one successful command.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Nothing to print (set, delete, addauth, ...).
    Nothing,
    /// `ls`: sorted children and, with `-s`, the parent's stat.
    Children {
        children: Vec<String>,
        stat: Option<Stat>,
    },
    /// `ls -R`: every path of the subtree, parents first.
    Paths(Vec<String>),
    /// `get` / `config`: the data (`None` prints as `null`) and, with `-s`, its stat.
    Data {
        data: Option<Vec<u8>>,
        stat: Option<Stat>,
        key: &'static str,
    },
    /// `stat`, `set -s`, `setAcl -s`.
    Stat(Stat),
    /// `create`: the created path (zkCli prints it on stderr).
    Created(String),
    /// `getAcl`.
    Acl { acl: Vec<Acl>, stat: Option<Stat> },
    /// `getEphemerals`: printed as Java prints a list.
    Ephemerals(Vec<String>),
    /// `getAllChildrenNumber`.
    Count(usize),
    /// `whoami`: (scheme, user) pairs.
    WhoAmI(Vec<(String, String)>),
    /// `sync`.
    Synced,
    /// `history`: (index, line).
    History(Vec<(usize, String)>),
    /// `printwatches` without an argument.
    PrintWatches(bool),
    /// `version`.
    Version(String),
}

/// Java's `Date.toString()` in the local time zone: `Sat Nov 21 09:40:39 UTC 2026`.
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed tm we own; strftime writes at most buf.len()
    // bytes into buf and returns how many it wrote.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return ms.to_string();
        }
        let mut buf = [0u8; 128];
        let fmt = b"%a %b %d %H:%M:%S %Z %Y\0";
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr() as *const libc::c_char,
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// zkCli's `StatPrinter` lines.
pub fn stat_lines(s: &Stat) -> Vec<String> {
    vec![
        format!("cZxid = 0x{:x}", s.czxid),
        format!("ctime = {}", java_date(s.ctime)),
        format!("mZxid = 0x{:x}", s.mzxid),
        format!("mtime = {}", java_date(s.mtime)),
        format!("pZxid = 0x{:x}", s.pzxid),
        format!("cversion = {}", s.cversion),
        format!("dataVersion = {}", s.version),
        format!("aclVersion = {}", s.aversion),
        format!("ephemeralOwner = 0x{:x}", s.ephemeral_owner),
        format!("dataLength = {}", s.data_length),
        format!("numChildren = {}", s.num_children),
    ]
}

pub fn stat_json(s: &Stat) -> Value {
    json!({
        "cZxid": s.czxid, "ctime": s.ctime, "mZxid": s.mzxid, "mtime": s.mtime,
        "pZxid": s.pzxid, "cversion": s.cversion, "dataVersion": s.version,
        "aclVersion": s.aversion, "ephemeralOwner": s.ephemeral_owner,
        "dataLength": s.data_length, "numChildren": s.num_children,
    })
}

/// `ZKUtil.getPermString`: the letters of `perm` in the order c, d, r, w, a.
pub fn perm_string(perm: Permission) -> String {
    [
        (Permission::CREATE, 'c'),
        (Permission::DELETE, 'd'),
        (Permission::READ, 'r'),
        (Permission::WRITE, 'w'),
        (Permission::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(p, _)| perm.has(*p))
    .map(|(_, c)| *c)
    .collect()
}

/// Jute's CSV escaping, which `Id.toString()` applies to each field.
fn csv(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Where output goes: stdout and stderr, one lock so event lines never split a reply.
#[derive(Clone)]
pub struct Printer {
    lock: Arc<Mutex<()>>,
    pub json: bool,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        Printer {
            lock: Arc::new(Mutex::new(())),
            json,
        }
    }

    fn write(&self, to_err: bool, text: &str) {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // A closed pipe is not worth a panic: the reader went away.
        if to_err {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text.as_bytes());
            let _ = e.flush();
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }

    pub fn out(&self, line: &str) {
        self.write(false, &format!("{line}\n"));
    }

    pub fn err(&self, line: &str) {
        self.write(true, &format!("{line}\n"));
    }

    /// A warning zkCli prints on stderr; kept on stderr in JSON mode too.
    pub fn warn(&self, line: &str) {
        self.err(line);
    }

    /// A failed command: zkCli's message on stderr, or `{"error":..}` on stdout with `--json`.
    pub fn error(&self, message: &str, exit_code: i32) {
        if self.json {
            self.out(&json!({"error": message, "exit_code": exit_code}).to_string());
        } else {
            self.err(message);
        }
    }

    /// A watch or session event, as zkCli's watcher prints it.
    pub fn event(&self, state: &str, ty: &str, path: Option<&str>) {
        if self.json {
            self.out(&json!({"event": {"state": state, "type": ty, "path": path}}).to_string());
        } else {
            self.write(
                false,
                &format!(
                    "\nWATCHER::\n\nWatchedEvent state:{state} type:{ty} path:{}\n",
                    path.unwrap_or("null")
                ),
            );
        }
    }

    pub fn reply(&self, reply: &Reply) {
        if self.json {
            if let Some(v) = reply_json(reply) {
                self.out(&v.to_string());
            }
            return;
        }
        let mut out = Vec::new();
        match reply {
            Reply::Nothing => {}
            Reply::Children { children, stat } => {
                out.push(format!("[{}]", children.join(", ")));
                if let Some(s) = stat {
                    out.extend(stat_lines(s));
                }
            }
            Reply::Paths(paths) => out.extend(paths.iter().cloned()),
            Reply::Data { data, stat, .. } => {
                out.push(match data {
                    Some(d) => String::from_utf8_lossy(d).into_owned(),
                    None => "null".into(),
                });
                if let Some(s) = stat {
                    out.extend(stat_lines(s));
                }
            }
            Reply::Stat(s) => out.extend(stat_lines(s)),
            Reply::Created(path) => self.err(&format!("Created {path}")),
            Reply::Acl { acl, stat } => {
                for a in acl {
                    // Id.toString() ends with a newline, so the id and the perms take two lines.
                    out.push(format!("{},{}", csv(a.scheme()), csv(a.id())));
                    out.push(format!(": {}", perm_string(a.permission())));
                }
                if let Some(s) = stat {
                    out.extend(stat_lines(s));
                }
            }
            Reply::Ephemerals(list) => out.push(format!("[{}]", list.join(", "))),
            Reply::Count(n) => out.push(n.to_string()),
            Reply::WhoAmI(ids) => {
                out.push("Auth scheme: User".into());
                out.extend(ids.iter().map(|(s, u)| format!("{s}: {u}")));
            }
            Reply::Synced => out.push("Sync is OK".into()),
            Reply::History(h) => out.extend(h.iter().map(|(i, l)| format!("{i} - {l}"))),
            Reply::PrintWatches(on) => out.push(format!(
                "printwatches is {}",
                if *on { "on" } else { "off" }
            )),
            Reply::Version(v) => out.push(format!("ZooKeeper CLI version: {v}")),
        }
        if !out.is_empty() {
            let mut text = out.join("\n");
            text.push('\n');
            self.write(false, &text);
        }
    }
}

fn with_stat(mut v: Value, stat: &Option<Stat>) -> Value {
    if let (Some(s), Some(obj)) = (stat, v.as_object_mut()) {
        obj.insert("stat".into(), stat_json(s));
    }
    v
}

/// The JSON object of a reply; `None` for commands with nothing to say.
pub fn reply_json(reply: &Reply) -> Option<Value> {
    Some(match reply {
        Reply::Nothing => json!({"ok": true}),
        Reply::Children { children, stat } => with_stat(json!({"children": children}), stat),
        Reply::Paths(p) => json!({"paths": p}),
        Reply::Data { data, stat, key } => {
            let d = data
                .as_ref()
                .map(|d| Value::String(String::from_utf8_lossy(d).into_owned()));
            with_stat(json!({ *key: d }), stat)
        }
        Reply::Stat(s) => json!({"stat": stat_json(s)}),
        Reply::Created(p) => json!({"created": p}),
        Reply::Acl { acl, stat } => {
            let list: Vec<Value> = acl
                .iter()
                .map(|a| json!({"scheme": a.scheme(), "id": a.id(), "perms": perm_string(a.permission())}))
                .collect();
            with_stat(json!({"acl": list}), stat)
        }
        Reply::Ephemerals(l) => json!({"ephemerals": l}),
        Reply::Count(n) => json!({"count": n}),
        Reply::WhoAmI(ids) => {
            let list: Vec<Value> = ids
                .iter()
                .map(|(s, u)| json!({"scheme": s, "user": u}))
                .collect();
            json!({"auth": list})
        }
        Reply::Synced => json!({"sync": "OK"}),
        Reply::History(h) => {
            let list: Vec<Value> = h
                .iter()
                .map(|(i, l)| json!({"index": i, "command": l}))
                .collect();
            json!({"history": list})
        }
        Reply::PrintWatches(on) => json!({"printwatches": if *on { "on" } else { "off" }}),
        Reply::Version(v) => json!({"version": v}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_print_in_zookeeper_order() {
        assert_eq!(perm_string(Permission::ALL), "cdrwa");
        assert_eq!(perm_string(Permission::READ | Permission::ADMIN), "ra");
        assert_eq!(perm_string(Permission::NONE), "");
    }

    #[test]
    fn csv_escapes_like_jute() {
        assert_eq!(csv("a,b%}"), "'a%2Cb%25%7D");
    }

    #[test]
    fn dates_look_like_java() {
        let d = java_date(0);
        // e.g. "Thu Jan 01 00:00:00 UTC 1970"
        assert_eq!(d.split(' ').count(), 6, "{d}");
        assert!(d.ends_with("1970") || d.ends_with("1969"), "{d}");
    }
}
