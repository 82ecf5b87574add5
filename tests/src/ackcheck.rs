//! "Every acknowledged write survived" checker for crash/recovery tests.
//!
//! While the workload runs, record every write with its outcome in an [`AckLog`]:
//! acknowledged creates / setData (with the new version from the returned `Stat`) / deletes,
//! and *indeterminate* ones (connection loss, timeout: the write may or may not have been
//! applied). After recovery, read the tree from one or several servers into [`Tree`]s
//! (`path -> (data, version)`, built by the caller) and check:
//!
//! * [`AckLog::check`]: every path's final state is explained by its acknowledged writes plus
//!   possibly some of its indeterminate ones. Reported: a path whose acknowledged create/set
//!   is missing ([`Problem::Missing`]), whose version went back below an acknowledged version
//!   ([`Problem::RolledBack`]), whose data at the acknowledged version differs
//!   ([`Problem::Overwritten`]), whose version moved past the acknowledged one without enough
//!   indeterminate writes to explain it ([`Problem::UnexplainedWrite`]), a path whose deletion
//!   was acknowledged that exists again ([`Problem::Resurrected`]), acknowledgements that
//!   contradict each other ([`Problem::ConflictingAcks`], e.g. two setData acknowledged with the
//!   same new version but different data), and, with a scope, nodes nobody wrote
//!   ([`Problem::Phantom`]).
//! * [`divergences`]: servers that should hold identical trees (same path set, same data and
//!   versions) but do not ([`Problem::Divergent`]).
//! * [`check_recovery`]: both, over several servers, as one [`Report`].
//!
//! Paths with only indeterminate writes are not checked. Ephemeral nodes disappear with their
//! session: record them as [`AckLog::maybe_delete`] too (or not at all) if sessions may expire.
//!
//! Ordering assumption: for one path, acknowledged creates and deletes are recorded in the order
//! they took effect, i.e. a create or delete of a path is never concurrent with another
//! acknowledged write of the same path (the usual case: a path is created/deleted by one client,
//! or the workload serializes them). Concurrent `setData`s of one path from many clients are fine:
//! their order is recovered from the versions. Indeterminate writes are assumed to have happened
//! at any time, or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A node as read from a server: (data, `Stat.version`).
pub type Node = (Vec<u8>, i32);

/// A tree as read from one server: path -> (data, `Stat.version`).
pub type Tree = BTreeMap<String, Node>;

/// One recorded write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// `create` (the new node has version 0).
    Create {
        data: Vec<u8>,
    },
    /// `setData`; `version` is the new version reported by an acknowledgement (unused for
    /// indeterminate ones).
    Set {
        data: Vec<u8>,
        version: Option<i32>,
    },
    Delete,
}

/// A recorded write and whether it was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub path: String,
    pub write: Write,
    /// False: no answer arrived; the write may or may not have been applied.
    pub acked: bool,
}

/// The log of writes of a workload, in acknowledgement order.
#[derive(Clone, Debug, Default)]
pub struct AckLog {
    events: Vec<Event>,
}

/// A finding. `server` names the tree the problem was found in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The node should exist (acknowledged create/set, no acknowledged or possible delete after)
    /// but does not.
    Missing {
        server: String,
        path: String,
        acked_version: i32,
        acked_data: Vec<u8>,
    },
    /// Deletion was acknowledged and nothing could have re-created the node, yet it exists.
    Resurrected {
        server: String,
        path: String,
        found: Node,
    },
    /// The node's version is below the highest acknowledged version: acknowledged writes lost.
    /// `older_ack` tells whether `found` is an older acknowledged state.
    RolledBack {
        server: String,
        path: String,
        acked_version: i32,
        acked_data: Vec<u8>,
        found: Node,
        older_ack: bool,
    },
    /// The node is at the highest acknowledged version but holds different data.
    Overwritten {
        server: String,
        path: String,
        acked_version: i32,
        acked_data: Vec<u8>,
        found: Node,
    },
    /// The node's version is above the highest acknowledged one, and the extra versions / data
    /// are not explained by indeterminate writes of this path.
    UnexplainedWrite {
        server: String,
        path: String,
        acked_version: i32,
        found: Node,
        indeterminate_sets: usize,
    },
    /// The node exists under the checked scope but no write of it was recorded.
    Phantom {
        server: String,
        path: String,
        found: Node,
    },
    /// Two acknowledgements of the log contradict each other (independently of any tree).
    ConflictingAcks { path: String, detail: String },
    /// Servers disagree about a path (`None`: absent on that server).
    Divergent {
        path: String,
        values: Vec<(String, Option<Node>)>,
    },
}

impl Problem {
    pub fn path(&self) -> &str {
        match self {
            Problem::Missing { path, .. }
            | Problem::Resurrected { path, .. }
            | Problem::RolledBack { path, .. }
            | Problem::Overwritten { path, .. }
            | Problem::UnexplainedWrite { path, .. }
            | Problem::Phantom { path, .. }
            | Problem::ConflictingAcks { path, .. }
            | Problem::Divergent { path, .. } => path,
        }
    }
}

/// Data for humans: UTF-8 if printable, else hex; long values truncated.
pub fn show_data(d: &[u8]) -> String {
    const MAX: usize = 48;
    let cut = &d[..d.len().min(MAX)];
    let ell = if d.len() > MAX {
        format!("…({} bytes)", d.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(cut) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}{ell}"),
        _ => format!(
            "0x{}{ell}",
            cut.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

fn show_node(n: &Node) -> String {
    format!("{} v{}", show_data(&n.0), n.1)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { server, path, acked_version, acked_data } => write!(
                f,
                "{server}: {path}: missing, but {} v{acked_version} was acknowledged",
                show_data(acked_data)
            ),
            Problem::Resurrected { server, path, found } => {
                write!(f, "{server}: {path}: deletion was acknowledged, but it exists: {}", show_node(found))
            }
            Problem::RolledBack { server, path, acked_version, acked_data, found, older_ack } => write!(
                f,
                "{server}: {path}: rolled back to {}{} although {} v{acked_version} was acknowledged",
                show_node(found),
                if *older_ack { " (an older acknowledged state)" } else { "" },
                show_data(acked_data)
            ),
            Problem::Overwritten { server, path, acked_version, acked_data, found } => write!(
                f,
                "{server}: {path}: acknowledged {} v{acked_version} was overwritten: found {}",
                show_data(acked_data),
                show_node(found)
            ),
            Problem::UnexplainedWrite { server, path, acked_version, found, indeterminate_sets } => write!(
                f,
                "{server}: {path}: found {} past acknowledged v{acked_version}, not explained by the \
                 {indeterminate_sets} indeterminate setData of this path",
                show_node(found)
            ),
            Problem::Phantom { server, path, found } => {
                write!(f, "{server}: {path}: exists ({}) but was never written", show_node(found))
            }
            Problem::ConflictingAcks { path, detail } => write!(f, "{path}: conflicting acknowledgements: {detail}"),
            Problem::Divergent { path, values } => {
                write!(f, "{path}: servers diverge:")?;
                for (server, v) in values {
                    match v {
                        Some(n) => write!(f, " {server}={}", show_node(n))?,
                        None => write!(f, " {server}=<absent>")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Problems found by [`check_recovery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub problems: Vec<Problem>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// What the acknowledged writes of one path say about its final state.
#[derive(Clone, Debug, Default)]
struct PathState {
    /// Whether any write of the path was acknowledged (else its state is unknown and unchecked).
    known: bool,
    /// Whether the node must exist (after the last acknowledged create/set/delete).
    present: bool,
    /// Acknowledged (version -> data) of the current incarnation (when `present`).
    versions: BTreeMap<i32, Vec<u8>>,
    /// All acknowledged states ever, to recognize rollbacks to them.
    history: BTreeSet<Node>,
    maybe_create: Vec<Vec<u8>>,
    maybe_set: Vec<Vec<u8>>,
    maybe_delete: usize,
}

impl AckLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, path: impl Into<String>, write: Write, acked: bool) {
        self.events.push(Event {
            path: path.into(),
            write,
            acked,
        });
    }

    /// An acknowledged `create` (version 0). For sequential nodes record the returned path.
    pub fn ack_create(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.record(path, Write::Create { data: data.into() }, true);
    }

    /// An acknowledged `setData`; `new_version` from the returned `Stat`.
    pub fn ack_set(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>, new_version: i32) {
        self.record(
            path,
            Write::Set {
                data: data.into(),
                version: Some(new_version),
            },
            true,
        );
    }

    /// An acknowledged `delete`.
    pub fn ack_delete(&mut self, path: impl Into<String>) {
        self.record(path, Write::Delete, true);
    }

    /// A `create` whose outcome is unknown.
    pub fn maybe_create(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.record(path, Write::Create { data: data.into() }, false);
    }

    /// A `setData` whose outcome is unknown.
    pub fn maybe_set(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.record(
            path,
            Write::Set {
                data: data.into(),
                version: None,
            },
            false,
        );
    }

    /// A `delete` whose outcome is unknown.
    pub fn maybe_delete(&mut self, path: impl Into<String>) {
        self.record(path, Write::Delete, false);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Appends another log (e.g. one per client thread). Order is only kept within each log,
    /// so under the ordering assumption of the module docs all acknowledged creates/deletes of
    /// a path, and the acknowledged sets between them, must be in the same log.
    pub fn extend(&mut self, other: &AckLog) {
        self.events.extend(other.events.iter().cloned());
    }

    /// Contradictions among the acknowledgements themselves, plus the per-path expectations.
    fn analyze(&self) -> (BTreeMap<&str, PathState>, Vec<Problem>) {
        let mut paths: BTreeMap<&str, PathState> = BTreeMap::new();
        // Indeterminate writes first: they relax what acknowledged ones may conflict with.
        for e in self.events.iter().filter(|e| !e.acked) {
            let st = paths.entry(&e.path).or_default();
            match &e.write {
                Write::Create { data } => st.maybe_create.push(data.clone()),
                Write::Set { data, .. } => st.maybe_set.push(data.clone()),
                Write::Delete => st.maybe_delete += 1,
            }
        }
        let mut problems = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for e in self.events.iter().filter(|e| e.acked) {
            let st = paths.entry(&e.path).or_default();
            let first = seen.insert(&e.path);
            st.known = true;
            let mut conflict = |detail: String| {
                problems.push(Problem::ConflictingAcks {
                    path: e.path.clone(),
                    detail,
                })
            };
            match &e.write {
                Write::Create { data } => {
                    if st.present && st.maybe_delete == 0 {
                        conflict(format!(
                            "create of an existing node acknowledged (data {})",
                            show_data(data)
                        ));
                    }
                    st.present = true;
                    st.versions = BTreeMap::from([(0, data.clone())]);
                    st.history.insert((data.clone(), 0));
                }
                Write::Set { data, version } => {
                    let Some(v) = *version else {
                        conflict("acknowledged setData recorded without its new version".into());
                        continue;
                    };
                    if !st.present && !first && st.maybe_create.is_empty() {
                        conflict(format!(
                            "setData v{v} acknowledged after the deletion was acknowledged"
                        ));
                    }
                    if !st.present {
                        // Pre-existing node (first event), or re-created by an indeterminate create.
                        st.present = true;
                        st.versions.clear();
                    }
                    match st.versions.get(&v) {
                        Some(d) if d != data => conflict(format!(
                            "two writes acknowledged with version {v}: {} and {}",
                            show_data(d),
                            show_data(data)
                        )),
                        _ => {
                            st.versions.insert(v, data.clone());
                        }
                    }
                    st.history.insert((data.clone(), v));
                }
                Write::Delete => {
                    if !st.present && !first && st.maybe_create.is_empty() {
                        conflict("delete of a deleted node acknowledged".into());
                    }
                    st.present = false;
                    st.versions.clear();
                }
            }
        }
        (paths, problems)
    }

    /// Checks one server's tree against the log. Paths the log never mentions are ignored.
    /// Conflicting acknowledgements are included (they do not depend on the tree).
    pub fn check(&self, server: &str, tree: &Tree) -> Vec<Problem> {
        self.check_impl(server, tree, None)
    }

    /// Like [`check`](Self::check), and also reports as [`Problem::Phantom`] every node strictly
    /// below `scope` (e.g. the test's root znode) that the log never mentions.
    pub fn check_scoped(&self, server: &str, tree: &Tree, scope: &str) -> Vec<Problem> {
        self.check_impl(server, tree, Some(scope))
    }

    fn check_impl(&self, server: &str, tree: &Tree, scope: Option<&str>) -> Vec<Problem> {
        let (paths, mut problems) = self.analyze();
        for (path, st) in &paths {
            if let Some(p) = check_path(server, path, st, tree.get(*path)) {
                problems.push(p);
            }
        }
        if let Some(scope) = scope {
            for (path, node) in tree {
                if is_strictly_below(path, scope) && !paths.contains_key(path.as_str()) {
                    problems.push(Problem::Phantom {
                        server: server.into(),
                        path: path.clone(),
                        found: node.clone(),
                    });
                }
            }
        }
        problems
    }
}

fn check_path(server: &str, path: &str, st: &PathState, found: Option<&Node>) -> Option<Problem> {
    if !st.known {
        return None; // only indeterminate writes: any state is possible
    }
    let server = server.to_string();
    let path = path.to_string();
    // Could `found` be an incarnation created by an indeterminate create (after the node was
    // deleted), modified only by indeterminate sets?
    let fresh = |(data, ver): &Node| {
        !st.maybe_create.is_empty()
            && *ver >= 0
            && (*ver as usize) <= st.maybe_set.len()
            && if *ver == 0 {
                st.maybe_create.contains(data)
            } else {
                st.maybe_set.contains(data)
            }
    };
    if !st.present {
        let node = found?;
        return (!fresh(node)).then(|| Problem::Resurrected {
            server,
            path,
            found: node.clone(),
        });
    }
    let Some((&acked_version, acked_data)) = st.versions.last_key_value() else {
        return None; // present but nothing acknowledged about the data: nothing to check
    };
    let Some(node) = found else {
        return (st.maybe_delete == 0).then(|| Problem::Missing {
            server,
            path,
            acked_version,
            acked_data: acked_data.clone(),
        });
    };
    let (data, ver) = node;
    let extra = i64::from(*ver) - i64::from(acked_version);
    let explained = (extra == 0 && data == acked_data)
        || (extra > 0 && extra as usize <= st.maybe_set.len() && st.maybe_set.contains(data))
        || (st.maybe_delete > 0 && fresh(node));
    if explained {
        return None;
    }
    Some(match extra {
        e if e < 0 => Problem::RolledBack {
            server,
            path,
            acked_version,
            acked_data: acked_data.clone(),
            older_ack: st.history.contains(node),
            found: node.clone(),
        },
        0 => Problem::Overwritten {
            server,
            path,
            acked_version,
            acked_data: acked_data.clone(),
            found: node.clone(),
        },
        _ => Problem::UnexplainedWrite {
            server,
            path,
            acked_version,
            found: node.clone(),
            indeterminate_sets: st.maybe_set.len(),
        },
    })
}

fn is_strictly_below(path: &str, scope: &str) -> bool {
    let scope = scope.trim_end_matches('/');
    path.len() > scope.len() + 1 && path.starts_with(scope) && path.as_bytes()[scope.len()] == b'/'
}

/// The nodes of `tree` at or below `root`.
pub fn subtree(tree: &Tree, root: &str) -> Tree {
    tree.iter()
        .filter(|(p, _)| p.as_str() == root || is_strictly_below(p, root))
        .map(|(p, n)| (p.clone(), n.clone()))
        .collect()
}

/// Paths on which the given trees (`(server name, tree)`) disagree: present on some but not
/// all, or with different data or version. Restrict the trees first (see [`subtree`]) if they
/// contain server-specific nodes (e.g. `/zookeeper/config`).
pub fn divergences(trees: &[(&str, &Tree)]) -> Vec<Problem> {
    let all: BTreeSet<&String> = trees.iter().flat_map(|(_, t)| t.keys()).collect();
    let mut problems = Vec::new();
    for path in all {
        let values: Vec<(String, Option<Node>)> = trees
            .iter()
            .map(|(s, t)| (s.to_string(), t.get(path).cloned()))
            .collect();
        if values.windows(2).any(|w| w[0].1 != w[1].1) {
            problems.push(Problem::Divergent {
                path: path.clone(),
                values,
            });
        }
    }
    problems
}

/// Checks every server's tree against the log and the trees against each other. With `scope`,
/// only nodes at or below it are compared between servers, and unrecorded nodes strictly below
/// it are reported as phantoms. Conflicting acknowledgements are reported once.
pub fn check_recovery(
    log: &AckLog,
    trees: &[(&str, &Tree)],
    scope: Option<&str>,
) -> Result<(), Report> {
    let mut problems: Vec<Problem> = Vec::new();
    for (server, tree) in trees {
        for p in log.check_impl(server, tree, scope) {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    if let Some(scope) = scope {
        let scoped: Vec<(&str, Tree)> =
            trees.iter().map(|(s, t)| (*s, subtree(t, scope))).collect();
        let refs: Vec<(&str, &Tree)> = scoped.iter().map(|(s, t)| (*s, t)).collect();
        problems.extend(divergences(&refs));
    } else {
        problems.extend(divergences(trees));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Report { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(nodes: &[(&str, &str, i32)]) -> Tree {
        nodes
            .iter()
            .map(|(p, d, v)| (p.to_string(), (d.as_bytes().to_vec(), *v)))
            .collect()
    }

    fn kinds(ps: &[Problem]) -> Vec<String> {
        ps.iter()
            .map(|p| {
                let d = format!("{p:?}");
                format!("{} {}", &d[..d.find(' ').unwrap_or(d.len())], p.path())
            })
            .collect()
    }

    /// A workload: create /t/a, set it twice, create and delete /t/b, create /t/c.
    fn base_log() -> AckLog {
        let mut log = AckLog::new();
        log.ack_create("/t", "");
        log.ack_create("/t/a", "a0");
        log.ack_set("/t/a", "a1", 1);
        log.ack_set("/t/a", "a2", 2);
        log.ack_create("/t/b", "b0");
        log.ack_delete("/t/b");
        log.ack_create("/t/c", "c0");
        log
    }

    fn good_tree() -> Tree {
        tree(&[
            ("/", "", 0),
            ("/t", "", 0),
            ("/t/a", "a2", 2),
            ("/t/c", "c0", 0),
            ("/zookeeper", "", 0),
        ])
    }

    #[test]
    fn intact_tree_passes() {
        let log = base_log();
        assert_eq!(log.check("s1", &good_tree()), vec![]);
        assert_eq!(log.check_scoped("s1", &good_tree(), "/t"), vec![]);
        let t = good_tree();
        check_recovery(&log, &[("s1", &t), ("s2", &t), ("s3", &t)], Some("/t")).unwrap();
        check_recovery(&log, &[("s1", &t)], None).unwrap();
    }

    #[test]
    fn missing_acked_create_or_set_is_reported() {
        let log = base_log();
        let mut t = good_tree();
        t.remove("/t/c");
        assert_eq!(kinds(&log.check("s1", &t)), ["Missing /t/c"]);
        let mut t = good_tree();
        t.remove("/t/a");
        let ps = log.check("s1", &t);
        assert_eq!(
            ps,
            vec![Problem::Missing {
                server: "s1".into(),
                path: "/t/a".into(),
                acked_version: 2,
                acked_data: b"a2".to_vec()
            }]
        );
        assert!(ps[0].to_string().contains("missing"), "{}", ps[0]);
    }

    #[test]
    fn rollback_and_overwrite_are_reported() {
        let log = base_log();
        // Back to an older acknowledged state.
        let mut t = good_tree();
        t.insert("/t/a".into(), (b"a1".to_vec(), 1));
        let ps = log.check("s1", &t);
        assert_eq!(kinds(&ps), ["RolledBack /t/a"]);
        assert!(matches!(
            ps[0],
            Problem::RolledBack {
                older_ack: true,
                ..
            }
        ));
        // Same version, other data: the acknowledged write was overwritten by another value.
        let mut t = good_tree();
        t.insert("/t/a".into(), (b"zz".to_vec(), 2));
        assert_eq!(kinds(&log.check("s1", &t)), ["Overwritten /t/a"]);
        // The old value with a newer version: overwritten by an older value, no explanation.
        let mut t = good_tree();
        t.insert("/t/a".into(), (b"a1".to_vec(), 3));
        assert_eq!(kinds(&log.check("s1", &t)), ["UnexplainedWrite /t/a"]);
    }

    #[test]
    fn resurrected_and_phantom_nodes_are_reported() {
        let log = base_log();
        let mut t = good_tree();
        t.insert("/t/b".into(), (b"b0".to_vec(), 0));
        assert_eq!(kinds(&log.check("s1", &t)), ["Resurrected /t/b"]);
        let mut t = good_tree();
        t.insert("/t/x".into(), (b"?".to_vec(), 0));
        // Unscoped: unknown paths are ignored; scoped: reported (but not the scope root or
        // paths outside it).
        assert_eq!(log.check("s1", &t), vec![]);
        assert_eq!(kinds(&log.check_scoped("s1", &t, "/t")), ["Phantom /t/x"]);
        assert_eq!(kinds(&log.check_scoped("s1", &t, "/t/")), ["Phantom /t/x"]);
        assert_eq!(log.check_scoped("s1", &t, "/t/x"), vec![]);
    }

    #[test]
    fn indeterminate_writes_relax_the_check_exactly_as_far_as_they_can() {
        let mut log = base_log();
        log.maybe_set("/t/a", "a3");
        // It may have been applied ...
        let mut t = good_tree();
        t.insert("/t/a".into(), (b"a3".to_vec(), 3));
        assert_eq!(log.check("s1", &t), vec![]);
        // ... or not.
        assert_eq!(log.check("s1", &good_tree()), vec![]);
        // But only once, and only with its own data.
        t.insert("/t/a".into(), (b"a3".to_vec(), 4));
        assert_eq!(kinds(&log.check("s1", &t)), ["UnexplainedWrite /t/a"]);
        t.insert("/t/a".into(), (b"zz".to_vec(), 3));
        assert_eq!(kinds(&log.check("s1", &t)), ["UnexplainedWrite /t/a"]);
        // It does not excuse losing the acknowledged version.
        t.insert("/t/a".into(), (b"a1".to_vec(), 1));
        assert_eq!(kinds(&log.check("s1", &t)), ["RolledBack /t/a"]);

        // An indeterminate delete excuses absence; an indeterminate create excuses presence.
        let mut log = base_log();
        log.maybe_delete("/t/c");
        log.maybe_create("/t/b", "b1");
        let mut t = good_tree();
        t.remove("/t/c");
        t.insert("/t/b".into(), (b"b1".to_vec(), 0));
        assert_eq!(log.check("s1", &t), vec![]);
        // ... but not with other data.
        t.insert("/t/b".into(), (b"b0".to_vec(), 0));
        assert_eq!(kinds(&log.check("s1", &t)), ["Resurrected /t/b"]);
        // Delete + create both indeterminate: a fresh incarnation at a lower version is fine.
        let mut log = base_log();
        log.maybe_delete("/t/a");
        log.maybe_create("/t/a", "new");
        let mut t = good_tree();
        t.insert("/t/a".into(), (b"new".to_vec(), 0));
        assert_eq!(log.check("s1", &t), vec![]);
        t.insert("/t/a".into(), (b"a0".to_vec(), 0));
        assert_eq!(kinds(&log.check("s1", &t)), ["RolledBack /t/a"]);
    }

    #[test]
    fn concurrent_sets_are_ordered_by_version() {
        // Acknowledgements arrive out of version order (different clients).
        let mut log = AckLog::new();
        log.ack_create("/k", "0");
        log.ack_set("/k", "x", 2);
        log.ack_set("/k", "y", 1);
        assert_eq!(log.check("s", &tree(&[("/k", "x", 2)])), vec![]);
        assert_eq!(
            kinds(&log.check("s", &tree(&[("/k", "y", 2)]))),
            ["Overwritten /k"]
        );
        assert_eq!(
            kinds(&log.check("s", &tree(&[("/k", "y", 1)]))),
            ["RolledBack /k"]
        );
    }

    #[test]
    fn conflicting_acknowledgements_are_reported() {
        // Two conditional setData both acknowledged with the same new version.
        let mut log = AckLog::new();
        log.ack_create("/k", "0");
        log.ack_set("/k", "x", 1);
        log.ack_set("/k", "y", 1);
        let ps = log.check("s", &tree(&[("/k", "x", 1)]));
        assert_eq!(kinds(&ps), ["ConflictingAcks /k"]);
        // The same write recorded twice is not a conflict.
        let mut log = AckLog::new();
        log.ack_create("/k", "0");
        log.ack_set("/k", "x", 1);
        log.ack_set("/k", "x", 1);
        assert_eq!(log.check("s", &tree(&[("/k", "x", 1)])), vec![]);
        // Two creates of one path without a delete between.
        let mut log = AckLog::new();
        log.ack_create("/lock", "c1");
        log.ack_create("/lock", "c2");
        assert_eq!(
            kinds(&log.check("s", &tree(&[("/lock", "c2", 0)]))),
            ["ConflictingAcks /lock"]
        );
        // ... fine if an indeterminate delete may have happened between.
        log.maybe_delete("/lock");
        assert_eq!(log.check("s", &tree(&[("/lock", "c2", 0)])), vec![]);
        // A second delete, and a set after the delete.
        let mut log = AckLog::new();
        log.ack_create("/k", "0");
        log.ack_delete("/k");
        log.ack_delete("/k");
        log.ack_set("/k", "z", 1);
        assert_eq!(
            kinds(&log.check("s", &tree(&[("/k", "z", 1)]))),
            ["ConflictingAcks /k", "ConflictingAcks /k"]
        );
    }

    #[test]
    fn paths_with_only_indeterminate_writes_are_unchecked() {
        let mut log = AckLog::new();
        log.maybe_set("/pre", "x");
        log.maybe_create("/new", "n");
        let t = tree(&[("/t", "", 0), ("/pre", "old", 5), ("/new", "zz", 3)]);
        assert_eq!(log.check("s", &t), vec![]);
        assert_eq!(log.check("s", &tree(&[])), vec![]);
        // Mentioned paths are not phantoms; /t is.
        assert_eq!(kinds(&log.check_scoped("s", &t, "/")), ["Phantom /t"]);
    }

    #[test]
    fn pre_existing_nodes() {
        // Nodes created outside the log: first event a set or a delete.
        let mut log = AckLog::new();
        log.ack_set("/pre", "p", 7);
        log.ack_delete("/gone");
        assert_eq!(log.check("s", &tree(&[("/pre", "p", 7)])), vec![]);
        assert_eq!(
            kinds(&log.check("s", &tree(&[("/pre", "p", 6), ("/gone", "", 0)]))),
            ["Resurrected /gone", "RolledBack /pre"]
        );
    }

    #[test]
    fn divergence_between_servers_is_reported() {
        let a = tree(&[("/x", "1", 1), ("/y", "2", 0), ("/z", "3", 0)]);
        let b = tree(&[
            ("/x", "1", 1),
            ("/y", "2", 1),
            ("/z", "3", 0),
            ("/w", "", 0),
        ]);
        let c = tree(&[("/x", "9", 1), ("/y", "2", 0), ("/z", "3", 0)]);
        assert_eq!(divergences(&[("a", &a), ("a2", &a)]), vec![]);
        let ps = divergences(&[("a", &a), ("b", &b), ("c", &c)]);
        assert_eq!(kinds(&ps), ["Divergent /w", "Divergent /x", "Divergent /y"]);
        assert_eq!(
            ps[0],
            Problem::Divergent {
                path: "/w".into(),
                values: vec![
                    ("a".into(), None),
                    ("b".into(), Some((vec![], 0))),
                    ("c".into(), None)
                ]
            }
        );
        assert!(ps[1].to_string().contains("c=\"9\" v1"), "{}", ps[1]);
    }

    #[test]
    fn check_recovery_combines_everything() {
        let log = base_log();
        let good = good_tree();
        let mut lagging = good_tree();
        lagging.insert("/t/a".into(), (b"a1".to_vec(), 1));
        let mut other_server_node = good_tree();
        other_server_node.insert("/zookeeper/quota".into(), (vec![], 0));
        // Differences outside the scope are ignored with a scope...
        check_recovery(
            &log,
            &[("s1", &good), ("s2", &other_server_node)],
            Some("/t"),
        )
        .unwrap();
        // ... and reported without one.
        let err =
            check_recovery(&log, &[("s1", &good), ("s2", &other_server_node)], None).unwrap_err();
        assert_eq!(kinds(&err.problems), ["Divergent /zookeeper/quota"]);
        // A lagging server: its rollback and the divergence.
        let err = check_recovery(&log, &[("s1", &good), ("s2", &lagging)], Some("/t")).unwrap_err();
        assert_eq!(kinds(&err.problems), ["RolledBack /t/a", "Divergent /t/a"]);
        let text = err.to_string();
        assert!(
            text.contains("2 problem(s)") && text.contains("s2: /t/a: rolled back"),
            "{text}"
        );
        // Conflicts in the log are reported once, not once per server.
        let mut log = base_log();
        log.ack_set("/t/a", "other", 2);
        let err = check_recovery(&log, &[("s1", &good), ("s2", &good)], Some("/t")).unwrap_err();
        assert_eq!(kinds(&err.problems), ["ConflictingAcks /t/a"]);
    }

    #[test]
    fn subtree_and_data_display() {
        let t = tree(&[
            ("/", "", 0),
            ("/t", "", 0),
            ("/t/a", "", 0),
            ("/tt", "", 0),
            ("/t/a/b", "", 0),
        ]);
        assert_eq!(
            subtree(&t, "/t").keys().collect::<Vec<_>>(),
            ["/t", "/t/a", "/t/a/b"]
        );
        assert_eq!(show_data(b"abc"), "\"abc\"");
        assert_eq!(show_data(&[0, 255]), "0x00ff");
        assert!(show_data(&[b'x'; 100]).ends_with("…(100 bytes)"));
    }
}
