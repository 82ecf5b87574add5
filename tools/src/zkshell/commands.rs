//! The shell's ZooKeeper commands (Apache's `CliCommand` classes): option letters, argument
//! checks, messages and exit codes as zkCli 3.8 has them. Each takes the tokenized line
//! (command name first) and returns a [`Reply`] or a [`CliError`].

use std::time::Duration;

use zookeeper_client::{Acl, AddWatchMode, AuthId, Client, CreateMode, Error as ZkErr, Permission};

use super::cli::{flag, parse, validate_path, valued, CliError, OptSpec, Parsed};
use super::output::{Printer, Reply};
use super::watches::{Removal, WatchHub, WatchKind};

/// Largest TTL ZooKeeper accepts (`EphemeralType.TTL`: 40 bits of milliseconds).
pub const MAX_TTL_MS: i64 = 0xFF_FFFF_FFFF;
/// zkCli's `SyncCommand.SYNC_TIMEOUT`.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// zkCli's default batch size for `deleteall`.
pub const DELETEALL_BATCH: usize = 1000;

/// The commands ZooKeeperMain knows, with their usage strings, sorted as its usage prints them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("addWatch", "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    ("reconfig", "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]"),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// `cmd options`, as zkCli prints a command's usage.
pub fn usage_of(cmd: &str) -> String {
    let opts = COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map(|(_, o)| *o)
        .unwrap_or("");
    format!("{cmd} {opts}")
}

/// ZooKeeperMain's usage text (printed on stderr).
pub fn main_usage() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (c, o) in COMMANDS {
        s.push_str(&format!("\t{c} {o}\n"));
    }
    s
}

/// `KeeperException.getCodeMessage` names.
fn code_message(e: &ZkErr) -> String {
    match e {
        ZkErr::NoNode => "NoNode".into(),
        ZkErr::NoAuth => "NoAuth".into(),
        ZkErr::BadVersion => "BadVersion".into(),
        ZkErr::NoChildrenForEphemerals => "NoChildrenForEphemerals".into(),
        ZkErr::NodeExists => "NodeExists".into(),
        ZkErr::NotEmpty => "Directory not empty".into(),
        ZkErr::SessionExpired => "Session expired".into(),
        ZkErr::InvalidAcl => "InvalidACL".into(),
        ZkErr::AuthFailed => "AuthFailed".into(),
        ZkErr::SessionMoved => "Session moved".into(),
        ZkErr::NotReadOnly => "Not a read-only call".into(),
        ZkErr::NoWatcher => "No such watcher".into(),
        ZkErr::QuotaExceeded => "Quota has exceeded".into(),
        ZkErr::Throttled => "Op throttled due to high load".into(),
        ZkErr::MarshallingError => "MarshallingError".into(),
        ZkErr::Unimplemented => "Unimplemented".into(),
        ZkErr::ConnectionLoss | ZkErr::ClientClosed | ZkErr::Timeout => "ConnectionLoss".into(),
        ZkErr::ReconfigDisabled => "Reconfig is disabled".into(),
        ZkErr::RuntimeInconsistent => "RuntimeInconsistency".into(),
        ZkErr::BadArguments(_) => "BadArguments".into(),
        ZkErr::UnexpectedErrorCode(c) => format!("Unknown error {c}"),
        _ => "SystemError".into(),
    }
}

/// `KeeperException.getMessage()`.
pub fn keeper_message(e: &ZkErr, path: &str) -> String {
    if path.is_empty() {
        format!("KeeperErrorCode = {}", code_message(e))
    } else {
        format!("KeeperErrorCode = {} for {path}", code_message(e))
    }
}

/// `CliWrapperException`'s message for a failed request on `path`.
pub fn wrap(e: ZkErr, path: &str) -> CliError {
    CliError::new(match e {
        ZkErr::NoNode => format!("Node does not exist: {path}"),
        ZkErr::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        ZkErr::NodeExists => format!("Node already exists: {path}"),
        ZkErr::NotEmpty => format!("Node not empty: {path}"),
        ZkErr::NotReadOnly => format!("Not a read-only call: {path}"),
        ZkErr::InvalidAcl => format!("Acl is not valid : {path}"),
        ZkErr::NoAuth => format!("Insufficient permission : {path}"),
        ZkErr::BadVersion => format!("version No is not valid : {path}"),
        ZkErr::QuotaExceeded => format!("Quota has exceeded : {path}"),
        other => keeper_message(&other, path),
    })
}

fn parse_args(specs: &[OptSpec], tokens: &[String]) -> Result<Parsed, CliError> {
    parse(specs, tokens)
}

/// `cmd path [watch]` (deprecated form): the third word becomes `-w`, with zkCli's warning.
fn retain_compat(
    cmd: &str,
    specs: &[OptSpec],
    tokens: &[String],
    parsed: Parsed,
    printer: &Printer,
    advice: &str,
) -> Result<Parsed, CliError> {
    if parsed.args.len() <= 2 {
        return Ok(parsed);
    }
    let mut t = tokens.to_vec();
    if t.len() > 2 {
        t[2] = "-w".into();
    }
    printer.warn(&format!(
        "'{cmd} path [watch]' has been deprecated. Please use '{advice}' instead."
    ));
    parse_args(specs, &t)
}

fn int_option(p: &Parsed, letter: char) -> Result<Option<i32>, CliError> {
    match p.value(letter) {
        None => Ok(None),
        // Apache's shell dies with a NumberFormatException here; we refuse the command instead.
        Some(v) => v
            .parse::<i32>()
            .map(Some)
            .map_err(|_| CliError::new(format!("-{letter} argument must be an int value"))),
    }
}

fn path_arg(p: &Parsed) -> Result<String, CliError> {
    let path = p.args.get(1).cloned().unwrap_or_default();
    validate_path(&path)?;
    Ok(path)
}

/// `AclParser.parse`: `scheme:id:perm,...`; malformed entries are reported and skipped.
pub fn parse_acl(s: &str, printer: &Printer) -> Vec<Acl> {
    let mut out = Vec::new();
    for a in s.split(',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            printer.warn(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            printer.warn(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        }
        let mut perm = Permission::NONE;
        for c in a[last + 1..].chars() {
            perm = perm
                | match c {
                    'r' => Permission::READ,
                    'w' => Permission::WRITE,
                    'c' => Permission::CREATE,
                    'd' => Permission::DELETE,
                    'a' => Permission::ADMIN,
                    other => {
                        printer.warn(&format!("Unknown perm type: {other}"));
                        Permission::NONE
                    }
                };
        }
        out.push(Acl::new(
            perm,
            AuthId::new(&a[..first], &a[first + 1..last]),
        ));
    }
    out
}

/// The connection and watch hub a command runs against.
pub struct Ctx<'a> {
    pub zk: &'a Client,
    pub hub: &'a WatchHub,
    pub printer: &'a Printer,
}

pub async fn ls(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let specs = [flag('?'), flag('s'), flag('w'), flag('R')];
    let p = parse_args(&specs, tokens)?;
    if p.has('?') {
        c.printer
            .out("usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch");
    }
    let p = retain_compat("ls", &specs, tokens, p, c.printer, "ls [-w] path")?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("ls")));
    }
    let path = path_arg(&p)?;
    let watch = p.has('w');
    if p.has('R') {
        return ls_recursive(c, &path, watch).await;
    }
    let (mut children, stat) = if watch {
        let (ch, st, w) =
            c.zk.get_and_watch_children(&path)
                .await
                .map_err(|e| wrap(e, &path))?;
        c.hub.add_oneshot(&path, WatchKind::Child, w);
        (ch, st)
    } else {
        c.zk.get_children(&path).await.map_err(|e| wrap(e, &path))?
    };
    children.sort();
    Ok(Reply::Children {
        children,
        stat: p.has('s').then_some(stat),
    })
}

/// `ZKUtil.visitSubTreeDFS`: the path, then each level's sorted children before descending.
async fn ls_recursive(c: &Ctx<'_>, root: &str, watch: bool) -> Result<Reply, CliError> {
    if watch {
        let (_, _, w) =
            c.zk.get_and_watch_data(root)
                .await
                .map_err(|e| wrap(e, root))?;
        c.hub.add_oneshot(root, WatchKind::Data, w);
    } else {
        c.zk.get_data(root).await.map_err(|e| wrap(e, root))?;
    }
    let mut out = vec![root.to_owned()];
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let listed = if watch {
            match c.zk.get_and_watch_children(&path).await {
                Ok((ch, _, w)) => {
                    c.hub.add_oneshot(&path, WatchKind::Child, w);
                    Ok(ch)
                }
                Err(e) => Err(e),
            }
        } else {
            c.zk.list_children(&path).await
        };
        let mut children = match listed {
            Ok(ch) => ch,
            // Deleted between listing and visiting: skipped, as Apache does.
            Err(ZkErr::NoNode) => continue,
            Err(e) => return Err(wrap(e, &path)),
        };
        children.sort();
        let full: Vec<String> = children
            .iter()
            .map(|ch| {
                if path == "/" {
                    format!("/{ch}")
                } else {
                    format!("{path}/{ch}")
                }
            })
            .collect();
        out.extend(full.iter().cloned());
        // Depth first, children in order: push in reverse.
        stack.extend(full.into_iter().rev());
    }
    Ok(Reply::Paths(out))
}

pub async fn get(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let specs = [flag('s'), flag('w')];
    let p = parse_args(&specs, tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("get")));
    }
    let p = retain_compat("get", &specs, tokens, p, c.printer, "get [-s] [-w] path")?;
    let path = path_arg(&p)?;
    let (data, stat) = if p.has('w') {
        let (d, s, w) =
            c.zk.get_and_watch_data(&path)
                .await
                .map_err(|e| wrap(e, &path))?;
        c.hub.add_oneshot(&path, WatchKind::Data, w);
        (d, s)
    } else {
        c.zk.get_data(&path).await.map_err(|e| wrap(e, &path))?
    };
    Ok(Reply::Data {
        data: null_if_empty(data),
        stat: p.has('s').then_some(stat),
        key: "data",
    })
}

/// The client library returns null data as empty; zkCli prints null data as `null`.
fn null_if_empty(d: Vec<u8>) -> Option<Vec<u8>> {
    (!d.is_empty()).then_some(d)
}

pub async fn stat(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let specs = [flag('w')];
    let p = parse_args(&specs, tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("stat")));
    }
    let p = retain_compat("stat", &specs, tokens, p, c.printer, "stat [-w] path")?;
    let path = path_arg(&p)?;
    let stat = if p.has('w') {
        let (s, w) =
            c.zk.check_and_watch_stat(&path)
                .await
                .map_err(|e| wrap(e, &path))?;
        c.hub.add_oneshot(&path, WatchKind::Data, w);
        s
    } else {
        c.zk.check_stat(&path).await.map_err(|e| wrap(e, &path))?
    };
    match stat {
        Some(s) => Ok(Reply::Stat(s)),
        None => Err(wrap(ZkErr::NoNode, &path)),
    }
}

pub async fn create(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('e'), flag('s'), flag('c'), valued('t')], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("create")));
    }
    let (e, s, cont, t) = (p.has('e'), p.has('s'), p.has('c'), p.has('t'));
    if cont && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl = match p.value('t') {
        Some(v) if t => v
            .parse::<i64>()
            .map_err(|_| CliError::new("-t argument must be a long value"))?,
        _ => 0,
    };
    if t && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if t && cont {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    if t && (ttl <= 0 || ttl > MAX_TTL_MS) {
        return Err(CliError::new(format!(
            "ttl must be positive and cannot be larger than: {MAX_TTL_MS}"
        )));
    }
    let mode = match (e, s, cont) {
        (true, true, _) => CreateMode::EphemeralSequential,
        (true, false, _) => CreateMode::Ephemeral,
        (false, true, _) => CreateMode::PersistentSequential,
        (false, false, true) => CreateMode::Container,
        _ => CreateMode::Persistent,
    };
    let path = p.args[1].clone();
    // Sequential paths get a counter appended, so they may end with '/'.
    validate_path(&if s { format!("{path}1") } else { path.clone() })?;
    let data = p
        .args
        .get(2)
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default();
    let acl = match p.args.get(3) {
        Some(a) => parse_acl(a, c.printer),
        None => vec![Acl::new(Permission::ALL, AuthId::anyone())],
    };
    let acls = zookeeper_client::Acls::new(&acl);
    let mut opts = mode.with_acls(acls);
    if t {
        opts = opts.with_ttl(Duration::from_millis(ttl as u64));
    }
    match c.zk.create(&path, &data, &opts).await {
        Ok((_, seq)) => {
            let created = if s { format!("{path}{seq}") } else { path };
            Ok(Reply::Created(created))
        }
        Err(ZkErr::InvalidAcl) => {
            c.printer.warn(&keeper_message(&ZkErr::InvalidAcl, &path));
            Err(wrap(ZkErr::InvalidAcl, &path))
        }
        Err(e) => Err(wrap(e, &path)),
    }
}

pub async fn set(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('s'), valued('v')], tokens)?;
    if p.args.len() < 3 {
        return Err(CliError::new(usage_of("set")));
    }
    let path = path_arg(&p)?;
    let version = int_option(&p, 'v')?.filter(|v| *v != -1);
    let stat =
        c.zk.set_data(&path, p.args[2].as_bytes(), version)
            .await
            .map_err(|e| wrap(e, &path))?;
    Ok(if p.has('s') {
        Reply::Stat(stat)
    } else {
        Reply::Nothing
    })
}

pub async fn delete(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[valued('v')], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("delete")));
    }
    if p.args.len() > 2 {
        c.printer.warn(
            "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.",
        );
    }
    let path = path_arg(&p)?;
    let version = int_option(&p, 'v')?.filter(|v| *v != -1);
    c.zk.delete(&path, version)
        .await
        .map_err(|e| wrap(e, &path))?;
    Ok(Reply::Nothing)
}

pub async fn deleteall(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[valued('b')], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("deleteall")));
    }
    let batch = match p.value('b') {
        None => DELETEALL_BATCH,
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|b| *b > 0)
            .map(|b| b as usize)
            .ok_or_else(|| CliError::new("-b argument must be an int value"))?,
    };
    let path = path_arg(&p)?;
    // ZKUtil.deleteRecursive: list the subtree breadth first, delete deepest first in
    // multi batches; a failed batch is retried one by one and reported once.
    let mut tree = vec![path.clone()];
    let mut i = 0;
    while i < tree.len() {
        let node = tree[i].clone();
        match c.zk.list_children(&node).await {
            Ok(mut ch) => {
                ch.sort();
                for x in ch {
                    tree.push(if node == "/" {
                        format!("/{x}")
                    } else {
                        format!("{node}/{x}")
                    });
                }
            }
            Err(ZkErr::NoNode) if node != path => {}
            Err(e) => return Err(wrap(e, &node)),
        }
        i += 1;
    }
    let mut ok = true;
    for chunk in tree.iter().rev().collect::<Vec<_>>().chunks(batch) {
        let mut w = c.zk.new_multi_writer();
        for n in chunk {
            w.add_delete(n, None).map_err(|e| wrap(e, n))?;
        }
        if w.commit().await.is_err() {
            for n in chunk {
                match c.zk.delete(n, None).await {
                    Ok(()) | Err(ZkErr::NoNode) => {}
                    Err(_) => ok = false,
                }
            }
        }
    }
    if !ok {
        c.printer
            .warn("Failed to delete some node(s) in the subtree!");
    }
    Ok(Reply::Nothing)
}

pub async fn get_acl(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('s')], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("getAcl")));
    }
    let path = path_arg(&p)?;
    let (acl, stat) = c.zk.get_acl(&path).await.map_err(|e| wrap(e, &path))?;
    Ok(Reply::Acl {
        acl,
        stat: p.has('s').then_some(stat),
    })
}

pub async fn set_acl(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('s'), valued('v'), flag('R')], tokens)?;
    if p.args.len() < 3 {
        return Err(CliError::new(usage_of("setAcl")));
    }
    let path = path_arg(&p)?;
    let acl = parse_acl(&p.args[2], c.printer);
    let version = int_option(&p, 'v')?.filter(|v| *v != -1);
    if p.has('R') {
        let Reply::Paths(paths) = ls_recursive(c, &path, false).await? else {
            return Ok(Reply::Nothing);
        };
        for node in paths {
            if let Err(e) = c.zk.set_acl(&node, &acl, version).await {
                // Apache prints the message without a newline here.
                c.printer.out(&keeper_message(&e, &node));
            }
        }
        return Ok(Reply::Nothing);
    }
    let stat =
        c.zk.set_acl(&path, &acl, version)
            .await
            .map_err(|e| wrap(e, &path))?;
    Ok(if p.has('s') {
        Reply::Stat(stat)
    } else {
        Reply::Nothing
    })
}

pub async fn add_auth(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("addauth")));
    }
    let auth = p
        .args
        .get(2)
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();
    // Apache's addAuthInfo is fire-and-forget: a failure ends the session later (AuthFailed).
    if let Err(e) = c.zk.auth(&p.args[1], &auth).await {
        c.printer.warn(&keeper_message(&e, ""));
    }
    Ok(Reply::Nothing)
}

pub async fn sync(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("sync")));
    }
    let path = path_arg(&p)?;
    match tokio::time::timeout(SYNC_TIMEOUT, c.zk.sync(&path)).await {
        Err(_) => Err(CliError::new("java.util.concurrent.TimeoutException")),
        Ok(Ok(())) => Ok(Reply::Synced),
        Ok(Err(e)) => {
            c.printer
                .out(&format!("Sync has failed. rc={}", error_code(&e)));
            Ok(Reply::Nothing)
        }
    }
}

/// ZooKeeper's numeric error codes, for `sync`'s failure line.
fn error_code(e: &ZkErr) -> i32 {
    match e {
        ZkErr::NoNode => -101,
        ZkErr::NoAuth => -102,
        ZkErr::SessionExpired => -112,
        ZkErr::ConnectionLoss => -4,
        ZkErr::UnexpectedErrorCode(c) => *c,
        _ => -1,
    }
}

pub async fn whoami(c: &Ctx<'_>) -> Result<Reply, CliError> {
    let users =
        c.zk.list_auth_users()
            .await
            .map_err(|e| CliError::new(keeper_message(&e, "")))?;
    Ok(Reply::WhoAmI(
        users
            .iter()
            .map(|u| (u.scheme().to_owned(), u.user().to_owned()))
            .collect(),
    ))
}

pub async fn get_ephemerals(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[], tokens)?;
    let path = match p.args.get(1) {
        None => "/".to_owned(),
        Some(_) => path_arg(&p)?,
    };
    // Printed in the server's order, as zkCli prints it.
    let list =
        c.zk.list_ephemerals(&path)
            .await
            .map_err(|e| wrap(e, &path))?;
    Ok(Reply::Ephemerals(list))
}

pub async fn get_all_children_number(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("getAllChildrenNumber")));
    }
    let path = path_arg(&p)?;
    let n =
        c.zk.count_descendants_number(&path)
            .await
            .map_err(|e| wrap(e, &path))?;
    Ok(Reply::Count(n))
}

pub async fn add_watch(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[valued('m')], tokens)?;
    if p.args.len() != 2 {
        return Err(CliError::new(usage_of("addWatch")));
    }
    let (mode, kind) = match p.value('m').map(|m| m.to_uppercase()) {
        None => (
            AddWatchMode::PersistentRecursive,
            WatchKind::PersistentRecursive,
        ),
        Some(m) if m == "PERSISTENT_RECURSIVE" => (
            AddWatchMode::PersistentRecursive,
            WatchKind::PersistentRecursive,
        ),
        Some(m) if m == "PERSISTENT" => (AddWatchMode::Persistent, WatchKind::Persistent),
        Some(_) => return Err(CliError::new(usage_of("addWatch"))),
    };
    let path = p.args[1].clone();
    validate_path(&path)?;
    let w = c.zk.watch(&path, mode).await.map_err(|e| wrap(e, &path))?;
    c.hub.add_persistent(&path, kind, w);
    Ok(Reply::Nothing)
}

pub async fn remove_watches(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('c'), flag('d'), flag('a'), flag('l')], tokens)?;
    if p.args.len() < 2 {
        return Err(CliError::new(usage_of("removewatches")));
    }
    let path = path_arg(&p)?;
    let which = if p.has('c') {
        Removal::Children
    } else if p.has('d') {
        Removal::Data
    } else {
        Removal::Any
    };
    let removed = c.hub.remove(&path, which).await;
    if removed.is_empty() {
        return Err(CliError::new(keeper_message(&ZkErr::NoWatcher, &path)));
    }
    if c.hub.printing() {
        for k in removed {
            c.printer
                .event("SyncConnected", k.removed_event(), Some(&path));
        }
    }
    Ok(Reply::Nothing)
}

pub async fn config(c: &Ctx<'_>, tokens: &[String]) -> Result<Reply, CliError> {
    let p = parse_args(&[flag('s'), flag('w'), flag('c')], tokens)?;
    let (data, stat) = if p.has('w') {
        let (d, s, w) =
            c.zk.get_and_watch_config()
                .await
                .map_err(|e| wrap(e, "/zookeeper/config"))?;
        c.hub.add_oneshot("/zookeeper/config", WatchKind::Data, w);
        (d, s)
    } else {
        c.zk.get_config()
            .await
            .map_err(|e| wrap(e, "/zookeeper/config"))?
    };
    let data = if p.has('c') {
        Some(client_config_string(&String::from_utf8_lossy(&data)).into_bytes())
    } else {
        Some(data)
    };
    Ok(Reply::Data {
        data,
        stat: p.has('s').then_some(stat),
        key: "config",
    })
}

/// `ConfigUtils.getClientConfigStr`: `version host:clientPort,...` from a dynamic config.
fn client_config_string(cfg: &str) -> String {
    let mut version = String::new();
    let mut servers = Vec::new();
    for line in cfg.lines() {
        if let Some(v) = line.strip_prefix("version=") {
            version = v.trim().to_owned();
        } else if let Some((_, rest)) = line.split_once('=') {
            // server.N=host:quorum:election[:role];[clientHost:]clientPort
            if let Some((quorum, client)) = rest.split_once(';') {
                let host = quorum.split(':').next().unwrap_or("");
                let client = if client.contains(':') {
                    client.to_owned()
                } else {
                    format!("{host}:{client}")
                };
                servers.push(client);
            }
        }
    }
    format!("{version} {}", servers.join(","))
}
