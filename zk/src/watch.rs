//! Watches: ZooKeeper 3.8's two tables (data and child), with standard, persistent and
//! persistent-recursive modes (one mode per connection and path, as in 3.8).

use std::collections::{HashMap, HashSet};

use crate::datatree::{SharedAcl, Trigger};
use crate::proto::event;

/// A connection's identity in the watch tables.
pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standard,
    Persistent,
    PersistentRecursive,
}

/// One watch table (`WatchManager`).
#[derive(Debug, Default)]
pub struct WatchTable {
    by_path: HashMap<String, HashMap<ConnId, Mode>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive: usize,
}

impl WatchTable {
    pub fn add(&mut self, path: &str, conn: ConnId, mode: Mode) {
        let e = self.by_path.entry(path.to_owned()).or_default();
        if let Some(old) = e.insert(conn, mode) {
            if old == Mode::PersistentRecursive {
                self.recursive -= 1;
            }
        }
        if mode == Mode::PersistentRecursive {
            self.recursive += 1;
        }
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_owned());
    }

    pub fn contains(&self, path: &str, conn: ConnId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|m| m.contains_key(&conn))
    }

    /// `WatchManager.containsWatcher` as 3.8 has it: true when *any* connection watches
    /// `path` (the connection argument is not consulted). With recursive watches present
    /// it walks the parents, which fails (Err) on a relative path.
    pub fn contains_any(&self, path: &str) -> Result<bool, ()> {
        let here = self.by_path.get(path).is_some_and(|m| !m.is_empty());
        // The parent walk ("" has none) cuts at the last '/': a path without one fails at
        // once, a relative one only when nothing was found at the path itself.
        let walk_fails =
            !path.is_empty() && (!path.contains('/') || (!here && !path.starts_with('/')));
        if self.recursive > 0 && walk_fails {
            return Err(());
        }
        Ok(here)
    }

    pub fn remove(&mut self, path: &str, conn: ConnId) -> bool {
        let Some(m) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = m.remove(&conn) else {
            return false;
        };
        if mode == Mode::PersistentRecursive {
            self.recursive -= 1;
        }
        if m.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(s) = self.by_conn.get_mut(&conn) {
            s.remove(path);
            if s.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        true
    }

    pub fn remove_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(m) = self.by_path.get_mut(&p) {
                    if m.remove(&conn) == Some(Mode::PersistentRecursive) {
                        self.recursive -= 1;
                    }
                    if m.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// `WatchManager.triggerWatch`: the connections to notify; one-shot watches are removed.
    fn trigger(&mut self, path: &str, ty: i32, out: &mut Vec<ConnId>) {
        let mut cur = Some(path.to_owned());
        let mut at_parent = false;
        while let Some(p) = cur {
            if let Some(m) = self.by_path.get_mut(&p) {
                let mut fired_once = Vec::new();
                for (&c, &mode) in m.iter() {
                    match mode {
                        Mode::PersistentRecursive => {
                            if ty != event::NODE_CHILDREN_CHANGED {
                                out.push(c);
                            }
                        }
                        _ if !at_parent => {
                            out.push(c);
                            if mode == Mode::Standard {
                                fired_once.push(c);
                            }
                        }
                        _ => {}
                    }
                }
                for c in fired_once {
                    m.remove(&c);
                    if let Some(s) = self.by_conn.get_mut(&c) {
                        s.remove(&p);
                        if s.is_empty() {
                            self.by_conn.remove(&c);
                        }
                    }
                }
                if m.is_empty() {
                    self.by_path.remove(&p);
                }
            }
            if self.recursive == 0 {
                break;
            }
            at_parent = true;
            cur = crate::path::parent(&p).map(str::to_owned);
        }
    }

    pub fn watch_count(&self) -> usize {
        self.by_path.values().map(|m| m.len()).sum()
    }

    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }

    pub fn conn_count(&self) -> usize {
        self.by_conn.len()
    }

    /// conn → paths, for wchc.
    pub fn by_conn(&self) -> &HashMap<ConnId, HashSet<String>> {
        &self.by_conn
    }

    /// path → conns, for wchp.
    pub fn by_path(&self) -> impl Iterator<Item = (&String, Vec<ConnId>)> {
        self.by_path
            .iter()
            .map(|(p, m)| (p, m.keys().copied().collect()))
    }
}

/// A notification to deliver: connection, event type, path, and the ACL the watcher
/// needs READ on to be told.
pub type Event = (ConnId, i32, String, SharedAcl);

/// Both tables.
#[derive(Debug, Default)]
pub struct WatchManager {
    pub data: WatchTable,
    pub child: WatchTable,
}

impl WatchManager {
    /// Turns a tree change into notifications, in ZooKeeper's order.
    pub fn fire(&mut self, t: &Trigger, out: &mut Vec<Event>) {
        let mut conns = Vec::new();
        match t {
            Trigger::Created {
                path,
                acl,
                parent_acl,
            } => {
                self.emit(true, path, event::NODE_CREATED, acl, &[], out, &mut conns);
                let parent = crate::path::parent(path).unwrap_or("/");
                self.emit(
                    false,
                    parent,
                    event::NODE_CHILDREN_CHANGED,
                    parent_acl,
                    &[],
                    out,
                    &mut conns,
                );
            }
            Trigger::Deleted {
                path,
                acl,
                parent_acl,
            } => {
                self.emit(true, path, event::NODE_DELETED, acl, &[], out, &mut conns);
                let notified = std::mem::take(&mut conns);
                self.emit(
                    false,
                    path,
                    event::NODE_DELETED,
                    acl,
                    &notified,
                    out,
                    &mut conns,
                );
                let parent = crate::path::parent(path).unwrap_or("/");
                self.emit(
                    false,
                    parent,
                    event::NODE_CHILDREN_CHANGED,
                    parent_acl,
                    &[],
                    out,
                    &mut conns,
                );
            }
            Trigger::DataChanged { path, acl } => {
                self.emit(
                    true,
                    path,
                    event::NODE_DATA_CHANGED,
                    acl,
                    &[],
                    out,
                    &mut conns,
                );
            }
        }
    }

    /// Triggers one table; `scratch` returns the connections that were notified (before
    /// ACL filtering, which the caller applies: a filtered one-shot watch is still used up).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        data: bool,
        path: &str,
        ty: i32,
        acl: &SharedAcl,
        suppress: &[ConnId],
        out: &mut Vec<Event>,
        scratch: &mut Vec<ConnId>,
    ) {
        scratch.clear();
        let table = if data {
            &mut self.data
        } else {
            &mut self.child
        };
        table.trigger(path, ty, scratch);
        scratch.sort_unstable();
        scratch.dedup();
        for c in scratch.iter() {
            if !suppress.contains(c) {
                out.push((*c, ty, path.to_owned(), acl.clone()));
            }
        }
    }

    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// `DataTree.addWatch` (3.8): both modes go into both tables. A recursive watch in the
    /// child table never fires NodeChildrenChanged, but does see deletions.
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        let mode = if recursive {
            Mode::PersistentRecursive
        } else {
            Mode::Persistent
        };
        self.data.add(path, conn, mode);
        self.child.add(path, conn, mode);
    }

    pub fn total(&self) -> usize {
        self.data.watch_count() + self.child.watch_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> Trigger {
        Trigger::DataChanged {
            path: p.into(),
            acl: None,
        }
    }

    fn ev(c: ConnId, ty: i32, p: &str) -> Event {
        (c, ty, p.into(), None)
    }

    #[test]
    fn one_shot_and_persistent() {
        let mut w = WatchManager::default();
        w.data.add("/a", 1, Mode::Standard);
        w.add_persistent("/a", 2, false);
        w.add_persistent("/", 3, true);
        let mut out = Vec::new();
        w.fire(&data("/a"), &mut out);
        out.sort_by_key(|e| e.0);
        assert_eq!(out, vec![ev(1, 3, "/a"), ev(2, 3, "/a"), ev(3, 3, "/a")]);
        out.clear();
        w.fire(&data("/a"), &mut out);
        out.sort_by_key(|e| e.0);
        assert_eq!(out, vec![ev(2, 3, "/a"), ev(3, 3, "/a")]);
        out.clear();
        // Recursive watches never see NodeChildrenChanged.
        w.fire(
            &Trigger::Created {
                path: "/a/b".into(),
                acl: None,
                parent_acl: None,
            },
            &mut out,
        );
        out.sort_by_key(|e| e.0);
        assert_eq!(out, vec![ev(2, 4, "/a"), ev(3, 1, "/a/b")]);
    }

    #[test]
    fn delete_suppresses_duplicate() {
        let mut w = WatchManager::default();
        w.data.add("/a", 1, Mode::Standard);
        w.child.add("/a", 1, Mode::Standard);
        w.child.add("/a", 2, Mode::Standard);
        let mut out = Vec::new();
        w.fire(
            &Trigger::Deleted {
                path: "/a".into(),
                acl: None,
                parent_acl: None,
            },
            &mut out,
        );
        assert_eq!(out, vec![ev(1, 2, "/a"), ev(2, 2, "/a")]);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn standard_watch_downgrades_persistent_in_its_table_only() {
        // 3.8: one mode per (connection, path) in each table; the child table keeps the
        // recursive watch, so removeWatches(Any) still finds it.
        let mut w = WatchManager::default();
        w.add_persistent("/w", 1, true);
        w.data.add("/w", 1, Mode::Standard);
        let mut out = Vec::new();
        w.fire(&data("/w"), &mut out);
        assert_eq!(out, vec![ev(1, 3, "/w")]);
        assert!(!w.data.contains("/w", 1));
        assert!(w.child.contains("/w", 1));
    }
}
