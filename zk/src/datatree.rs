//! The data tree: znodes, their stats, the ACL cache, ephemeral/container/TTL indexes and
//! the tree digest, with transactions applied exactly as ZooKeeper 3.8's `DataTree` does.
//!
//! Applying a txn reports which watches it triggers (`Trigger`); the watch manager turns
//! those into events. No I/O and no clocks here.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::jute::{Acl, Buffer, Id, Stat, StatPersisted};
use crate::path;
use crate::proto::{err, perm, EphemeralKind, CONTAINER_EPHEMERAL_OWNER, MAX_TTL, TTL_MASK};
use crate::txn::TxnBody;

/// One znode.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub data: Buffer,
    /// Index into the ACL cache; -1 is OPEN_ACL_UNSAFE and is never stored.
    pub acl: i64,
    pub stat: StatPersisted,
    pub children: HashSet<Box<str>>,
}

/// An ACL list shared between the cache, triggers and watch events; `None` is
/// OPEN_ACL_UNSAFE (index -1).
pub type SharedAcl = Option<Arc<Vec<Acl>>>;

/// A watch trigger produced by applying a txn. Each carries the ACLs that decide who may
/// see the event: a watcher without READ on them is not told (the CVE-2024-23944 fix,
/// which Debian's 3.8.0 carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Created {
        path: String,
        acl: SharedAcl,
        parent_acl: SharedAcl,
    },
    Deleted {
        path: String,
        acl: SharedAcl,
        parent_acl: SharedAcl,
    },
    DataChanged {
        path: String,
        acl: SharedAcl,
    },
}

/// A node as it was before a multi sub-op, for rollback.
#[derive(Debug, Clone)]
pub struct SavedNode {
    path: String,
    node: Option<Node>,
    acl: Vec<Acl>,
}

/// The outcome of one applied (sub-)transaction, as `ProcessTxnResult`.
#[derive(Debug, Clone, Default)]
pub struct TxnResult {
    pub err: i32,
    pub path: String,
    pub stat: Option<Stat>,
    /// The sub-op type for multi results.
    pub ty: i32,
    pub multi: Vec<TxnResult>,
}

/// `ReferenceCountedACLCache`: ACL lists shared by index, as stored in snapshots.
#[derive(Debug, Default, Clone)]
pub struct AclCache {
    by_index: HashMap<i64, (Arc<Vec<Acl>>, u64)>,
    by_acl: HashMap<Vec<Acl>, i64>,
    next: i64,
}

/// The ACL stored for index -1.
pub fn open_acl_unsafe() -> Vec<Acl> {
    vec![Acl {
        perms: perm::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

impl AclCache {
    /// Returns the index for `acl`, adding one usage.
    pub fn convert(&mut self, acl: &[Acl]) -> i64 {
        if let Some(&i) = self.by_acl.get(acl) {
            if let Some(e) = self.by_index.get_mut(&i) {
                e.1 += 1;
            }
            return i;
        }
        self.next += 1;
        let i = self.next;
        self.by_index.insert(i, (Arc::new(acl.to_vec()), 1));
        self.by_acl.insert(acl.to_vec(), i);
        i
    }

    /// The shared list for an index (cheap to clone into triggers).
    pub fn shared(&self, index: i64) -> SharedAcl {
        if index == -1 {
            return None;
        }
        Some(
            self.by_index
                .get(&index)
                .map(|e| e.0.clone())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, index: i64) -> Vec<Acl> {
        if index == -1 {
            return open_acl_unsafe();
        }
        self.by_index
            .get(&index)
            .map(|e| e.0.as_ref().clone())
            .unwrap_or_default()
    }

    /// Borrowing form of `get` for checks on the hot path; `None` means OPEN_ACL_UNSAFE.
    pub fn lookup(&self, index: i64) -> Option<&[Acl]> {
        if index == -1 {
            return None;
        }
        Some(
            self.by_index
                .get(&index)
                .map(|e| e.0.as_slice())
                .unwrap_or(&[]),
        )
    }

    pub fn remove_usage(&mut self, index: i64) {
        if index == -1 {
            return;
        }
        let gone = match self.by_index.get_mut(&index) {
            Some(e) => {
                e.1 = e.1.saturating_sub(1);
                e.1 == 0
            }
            None => false,
        };
        if gone {
            if let Some((acl, _)) = self.by_index.remove(&index) {
                self.by_acl.remove(acl.as_ref());
            }
        }
    }

    /// Loads the cache from a snapshot; usages are counted as nodes load.
    pub fn load(&mut self, entries: Vec<(i64, Vec<Acl>)>) {
        self.by_index.clear();
        self.by_acl.clear();
        self.next = 0;
        for (i, acl) in entries {
            self.next = self.next.max(i);
            self.by_acl.insert(acl.clone(), i);
            self.by_index.insert(i, (Arc::new(acl), 0));
        }
    }

    fn add_usage(&mut self, index: i64) {
        if let Some(e) = self.by_index.get_mut(&index) {
            e.1 += 1;
        }
    }

    /// Drops entries no node uses (after a snapshot load).
    pub fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .by_index
            .iter()
            .filter(|(_, e)| e.1 == 0)
            .map(|(i, _)| *i)
            .collect();
        for i in unused {
            if let Some((acl, _)) = self.by_index.remove(&i) {
                self.by_acl.remove(acl.as_ref());
            }
        }
    }

    /// Entries in index order, for snapshots.
    pub fn entries(&self) -> Vec<(i64, Vec<Acl>)> {
        let mut v: Vec<_> = self
            .by_index
            .iter()
            .map(|(i, e)| (*i, e.0.as_ref().clone()))
            .collect();
        v.sort_by_key(|e| e.0);
        v
    }

    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }
}

/// CRC32 digest of one node (`DigestCalculator.calculateDigest`, version 2).
pub fn node_digest(path: &str, data: Option<&[u8]>, s: &StatPersisted) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let p = if path == "/" { "" } else { path };
    let mut h = crc32fast::Hasher::new();
    h.update(p.as_bytes());
    if let Some(d) = data {
        h.update(d);
    }
    let mut b = [0u8; 60];
    b[0..8].copy_from_slice(&s.czxid.to_be_bytes());
    b[8..16].copy_from_slice(&s.mzxid.to_be_bytes());
    b[16..24].copy_from_slice(&s.pzxid.to_be_bytes());
    b[24..32].copy_from_slice(&s.ctime.to_be_bytes());
    b[32..40].copy_from_slice(&s.mtime.to_be_bytes());
    b[40..44].copy_from_slice(&s.version.to_be_bytes());
    b[44..48].copy_from_slice(&s.cversion.to_be_bytes());
    b[48..52].copy_from_slice(&s.aversion.to_be_bytes());
    b[52..60].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    h.update(&b);
    h.finalize() as u64
}

/// See [`DataTree::preorder`].
pub struct Preorder<'a> {
    tree: &'a DataTree,
    stack: Vec<(&'a str, std::collections::hash_set::Iter<'a, Box<str>>)>,
    pending_root: Option<(&'a String, &'a Node)>,
    scratch: String,
}

impl<'a> Iterator for Preorder<'a> {
    type Item = (&'a str, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((p, n)) = self.pending_root.take() {
            self.stack.push((p.as_str(), n.children.iter()));
            return Some((p.as_str(), n));
        }
        loop {
            let (parent, it) = self.stack.last_mut()?;
            let Some(child) = it.next() else {
                self.stack.pop();
                continue;
            };
            self.scratch.clear();
            if *parent != "/" {
                self.scratch.push_str(parent);
            }
            self.scratch.push('/');
            self.scratch.push_str(child);
            if let Some((p, n)) = self.tree.nodes.get_key_value(self.scratch.as_str()) {
                self.stack.push((p.as_str(), n.children.iter()));
                return Some((p.as_str(), n));
            }
        }
    }
}

/// The tree.
#[derive(Debug)]
pub struct DataTree {
    nodes: HashMap<String, Node>,
    pub acls: AclCache,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: HashSet<String>,
    ttls: HashSet<String>,
    /// Sessions and their timeouts (the tree owns them so snapshots are consistent).
    pub sessions: HashMap<i64, i32>,
    pub last_processed_zxid: i64,
    digest: u64,
    data_size: i64,
    /// Whether TTL markers are honoured (`zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// Paths with a quota (`zookeeper_limits` node), ZooKeeper's `pTrie`.
    quota_paths: BTreeSet<String>,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new(false)
    }
}

impl DataTree {
    /// A tree with no nodes at all (not even the root).
    fn empty(extended_types: bool) -> Self {
        DataTree {
            nodes: HashMap::new(),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            sessions: HashMap::new(),
            last_processed_zxid: 0,
            digest: 0,
            data_size: 0,
            extended_types,
            quota_paths: BTreeSet::new(),
        }
    }

    /// A fresh tree: "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config".
    pub fn new(extended_types: bool) -> Self {
        let mut t = DataTree::empty(extended_types);
        let empty = || Node {
            data: Some(Vec::new()),
            acl: -1,
            ..Default::default()
        };
        t.insert("/".into(), empty());
        t.insert("/zookeeper".into(), empty());
        t.insert("/zookeeper/quota".into(), empty());
        t.insert("/zookeeper/config".into(), empty());
        t.link_child("/", "zookeeper");
        t.link_child("/zookeeper", "quota");
        t.link_child("/zookeeper", "config");
        // The config node is READ-only for everyone, set with version -1 (aversion -1).
        let read = vec![Acl {
            perms: perm::READ,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }];
        let idx = t.acls.convert(&read);
        if let Some(n) = t.nodes.get_mut("/zookeeper/config") {
            n.acl = idx;
            n.stat.aversion = -1;
        }
        t
    }

    fn link_child(&mut self, parent: &str, child: &str) {
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(child.into());
        }
    }

    fn insert(&mut self, path: String, node: Node) {
        self.digest =
            self.digest
                .wrapping_add(node_digest(&path, node.data.as_deref(), &node.stat));
        self.data_size += (path.len() + node.data.as_ref().map_or(0, |d| d.len())) as i64;
        self.nodes.insert(path, node);
    }

    /// Runs `f` on a node while keeping the digest right.
    fn modify<R>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        let n = self.nodes.get_mut(path)?;
        let before = node_digest(path, n.data.as_deref(), &n.stat);
        let old_len = n.data.as_ref().map_or(0, |d| d.len()) as i64;
        let r = f(n);
        let after = node_digest(path, n.data.as_deref(), &n.stat);
        let new_len = n.data.as_ref().map_or(0, |d| d.len()) as i64;
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        self.data_size += new_len - old_len;
        Some(r)
    }

    /// Looks a node up; "" is the root too, as ZooKeeper keeps the root under both keys.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The tree digest (sum of node digests), as `DataTree.getTreeDigest`.
    pub fn digest(&self) -> i64 {
        self.digest as i64
    }

    /// Bytes of paths and data, as `approximateDataSize`.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// A session's ephemerals in the order ZooKeeper lists them in its closeSession txn:
    /// the iteration order of a clone of Java's `HashSet<String>` (bucket of the spread
    /// String.hashCode in a table sized for the set, then insertion, i.e. creation, order).
    /// Followers delete, and notify, in this order.
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        let Some(set) = self.ephemerals.get(&session) else {
            return Vec::new();
        };
        // HashMap.putMapEntries: tableSizeFor((int)(size / 0.75f + 1)).
        let t = (set.len() as f32 / 0.75 + 1.0) as u32;
        let cap = t.max(1).next_power_of_two();
        let mut v: Vec<(u32, i64, String)> = set
            .iter()
            .map(|p| {
                let h = Self::java_string_hash(p) as u32;
                let bucket = (h ^ (h >> 16)) & (cap - 1);
                let czxid = self.nodes.get(p.as_str()).map_or(0, |n| n.stat.czxid);
                (bucket, czxid, p.clone())
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, _, p)| p).collect()
    }

    /// All sessions that own ephemerals, with their paths.
    pub fn all_ephemerals(&self) -> Vec<(i64, Vec<String>)> {
        let mut v: Vec<_> = self
            .ephemerals
            .iter()
            .map(|(s, p)| (*s, p.iter().cloned().collect()))
            .collect();
        v.sort();
        v
    }

    pub fn containers(&self) -> Vec<String> {
        self.containers.iter().cloned().collect()
    }

    pub fn ttls(&self) -> Vec<String> {
        self.ttls.iter().cloned().collect()
    }

    /// The client-visible Stat of a node (wire cversion, hidden container/TTL owner).
    pub fn stat_of(&self, n: &Node) -> Stat {
        let mut s = Stat::from(&n.stat);
        let nc = n.children.len() as i32;
        s.cversion = n.stat.cversion.wrapping_mul(2).wrapping_sub(nc);
        s.num_children = nc;
        s.data_length = n.data.as_ref().map_or(0, |d| d.len() as i32);
        s.ephemeral_owner = match EphemeralKind::of(n.stat.ephemeral_owner, self.extended_types) {
            EphemeralKind::Normal(o) => o,
            EphemeralKind::Void => 0,
            EphemeralKind::Container | EphemeralKind::Ttl(_) => 0,
        };
        s
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.get(path).map(|n| self.stat_of(n))
    }

    /// Number of all descendants (`getAllChildrenNumber`).
    pub fn all_children_number(&self, path: &str) -> i32 {
        if path == "/" {
            return self.nodes.len() as i32 - 1;
        }
        if path.is_empty() {
            // Every key but "" starts with "/": the root and all its descendants.
            return self.nodes.len() as i32;
        }
        let prefix = format!("{path}/");
        self.nodes.keys().filter(|k| k.starts_with(&prefix)).count() as i32
    }

    fn owner_kind(&self, owner: i64) -> EphemeralKind {
        EphemeralKind::of(owner, self.extended_types)
    }

    /// `DataTree.createNode`.
    #[allow(clippy::too_many_arguments)]
    pub fn create_node(
        &mut self,
        path: &str,
        data: Buffer,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, i32> {
        let slash = path.rfind('/').ok_or(err::NO_NODE)?;
        let parent_name = if slash == 0 { "/" } else { &path[..slash] };
        let child = &path[slash + 1..];
        match self.nodes.get(parent_name) {
            None => return Err(err::NO_NODE),
            Some(p) if p.children.contains(child) => return Err(err::NODE_EXISTS),
            Some(_) => {}
        }
        let acl_index = self.acls.convert(acl);
        self.modify(parent_name, |p| {
            let cv = if parent_cversion == -1 {
                p.stat.cversion + 1
            } else {
                parent_cversion
            };
            if cv > p.stat.cversion {
                p.stat.cversion = cv;
                p.stat.pzxid = zxid;
            }
            p.children.insert(child.into());
        });
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let node = Node {
            data,
            acl: acl_index,
            stat,
            children: HashSet::new(),
        };
        let out = self.stat_of(&node);
        let bytes = node.data.as_ref().map_or(0, |d| d.len()) as i64;
        self.insert(path.to_owned(), node);
        self.index(path, owner);
        if parent_name.starts_with(crate::quota::QUOTA_ROOT) {
            let quoted = crate::quota::trim_quota_path(parent_name).to_owned();
            if child == crate::quota::LIMIT_NODE {
                self.quota_paths.insert(quoted.clone());
            }
            if child == crate::quota::STAT_NODE {
                self.update_quota_for_path(&quoted);
            }
        }
        self.update_quota_stat(path, bytes, 1);
        let parent_acl = self
            .nodes
            .get(parent_name)
            .map_or(None, |p| self.acls.shared(p.acl));
        triggers.push(Trigger::Created {
            path: path.to_owned(),
            acl: self.acls.shared(acl_index),
            parent_acl,
        });
        Ok(out)
    }

    /// `DataTree.deleteNode`.
    pub fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), i32> {
        let slash = path.rfind('/').ok_or(err::NO_NODE)?;
        let parent_name = if slash == 0 { "/" } else { &path[..slash] };
        if path == "/" {
            return Err(err::NO_NODE);
        }
        let child = &path[slash + 1..];
        self.modify(parent_name, |p| {
            p.children.remove(child);
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        })
        .ok_or(err::NO_NODE)?;
        let node = self.nodes.remove(path).ok_or(err::NO_NODE)?;
        let acl = self.acls.shared(node.acl);
        let parent_acl = self
            .nodes
            .get(parent_name)
            .map_or(None, |p| self.acls.shared(p.acl));
        self.digest = self
            .digest
            .wrapping_sub(node_digest(path, node.data.as_deref(), &node.stat));
        self.data_size -= (path.len() + node.data.as_ref().map_or(0, |d| d.len())) as i64;
        self.acls.remove_usage(node.acl);
        self.unindex(path, node.stat.ephemeral_owner);
        if parent_name.starts_with("/zookeeper") && child == crate::quota::LIMIT_NODE {
            self.quota_paths
                .remove(crate::quota::trim_quota_path(parent_name));
        }
        self.update_quota_stat(
            path,
            -(node.data.as_ref().map_or(0, |d| d.len()) as i64),
            -1,
        );
        triggers.push(Trigger::Deleted {
            path: path.to_owned(),
            acl,
            parent_acl,
        });
        Ok(())
    }

    /// Java's `String.hashCode` (over UTF-16 code units, wrapping).
    pub fn java_string_hash(s: &str) -> i32 {
        s.encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
    }

    /// `DataTree.setData`.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Buffer,
        version: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, i32> {
        let diff = self
            .modify(path, |n| {
                let old = n.data.as_ref().map_or(0, |d| d.len()) as i64;
                n.data = data;
                n.stat.mtime = time;
                n.stat.mzxid = zxid;
                n.stat.version = version;
                n.data.as_ref().map_or(0, |d| d.len()) as i64 - old
            })
            .ok_or(err::NO_NODE)?;
        self.update_quota_stat(path, diff, 0);
        let acl = self
            .nodes
            .get(path)
            .map_or(None, |n| self.acls.shared(n.acl));
        triggers.push(Trigger::DataChanged {
            path: path.to_owned(),
            acl,
        });
        Ok(self.stat(path).unwrap_or_default())
    }

    /// `getMaxPrefixWithQuota`: the deepest quota'd path that is `path` or an ancestor of
    /// it ("/" never counts).
    fn quota_prefix(&self, path: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut cur = Some(path);
        while let Some(p) = cur {
            if p != "/" && self.quota_paths.contains(p) {
                return Some(p.to_owned());
            }
            cur = path::parent(p);
        }
        None
    }

    /// The stats node a change at `path` would update, if any (for multi rollback).
    pub fn quota_stat_node(&self, path: &str) -> Option<String> {
        self.quota_prefix(path).map(|p| crate::quota::stat_path(&p))
    }

    /// `updateQuotaStat`: adjusts the stats node's text in place (no stat change, as in
    /// ZooKeeper).
    fn update_quota_stat(&mut self, path: &str, bytes: i64, count: i64) {
        let Some(prefix) = self.quota_prefix(path) else {
            return;
        };
        let stat_path = crate::quota::stat_path(&prefix);
        let Some(n) = self.nodes.get_mut(&stat_path) else {
            tracing::error!("missing node for stat {stat_path}");
            return;
        };
        let mut t = crate::quota::StatsTrack::parse(&String::from_utf8_lossy(
            n.data.as_deref().unwrap_or(&[]),
        ));
        t.set(t.count() + count, t.bytes() + bytes);
        n.data = Some(t.to_text().into_bytes());
    }

    /// `updateQuotaForPath`: recounts a subtree into its stats node.
    fn update_quota_for_path(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![path.to_owned()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(&p) {
                count += 1;
                bytes += n.data.as_ref().map_or(0, |d| d.len()) as i64;
                stack.extend(n.children.iter().map(|c| path::join(&p, c)));
            }
        }
        let stat_path = crate::quota::stat_path(path);
        let mut t = crate::quota::StatsTrack::default();
        t.set(count, bytes);
        if self.nodes.contains_key(&stat_path) {
            self.modify(&stat_path, |n| n.data = Some(t.to_text().into_bytes()));
        } else {
            tracing::warn!("missing quota stat node {stat_path}");
        }
    }

    /// `setupQuota` after a snapshot load: every `zookeeper_limits` leaf under
    /// /zookeeper/quota registers its path and recounts it.
    fn setup_quota(&mut self) {
        let limits: Vec<String> = self
            .nodes
            .keys()
            .filter(|k| {
                k.starts_with(crate::quota::QUOTA_ROOT)
                    && k.ends_with(&format!("/{}", crate::quota::LIMIT_NODE))
            })
            .cloned()
            .collect();
        for l in limits {
            let real =
                crate::quota::trim_quota_path(&l[..l.len() - crate::quota::LIMIT_NODE.len() - 1])
                    .to_owned();
            self.update_quota_for_path(&real);
            self.quota_paths.insert(real);
        }
    }

    /// `DataTree.setACL`.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, i32> {
        let old = self.nodes.get(path).ok_or(err::NO_NODE)?.acl;
        self.acls.remove_usage(old);
        let idx = self.acls.convert(acl);
        self.modify(path, |n| {
            n.acl = idx;
            n.stat.aversion = version;
        });
        Ok(self.stat(path).unwrap_or_default())
    }

    /// Applies one transaction (`DataTree.processTxn` plus the session bookkeeping of
    /// `ZooKeeperServer.processTxn`).
    pub fn apply(
        &mut self,
        client_id: i64,
        zxid: i64,
        time: i64,
        body: &TxnBody,
        triggers: &mut Vec<Trigger>,
    ) -> TxnResult {
        let rc = self.apply_inner(client_id, zxid, time, body, triggers);
        if zxid > self.last_processed_zxid {
            self.last_processed_zxid = zxid;
        }
        rc
    }

    /// Applies a sub-transaction of a multi without moving lastProcessedZxid.
    pub fn apply_sub(
        &mut self,
        client_id: i64,
        zxid: i64,
        time: i64,
        body: &TxnBody,
        triggers: &mut Vec<Trigger>,
    ) -> TxnResult {
        self.apply_inner(client_id, zxid, time, body, triggers)
    }

    /// Remembers a node (or its absence) so a failed multi can be rolled back.
    pub fn save(&self, path: &str) -> SavedNode {
        let node = self.nodes.get(path).cloned();
        let acl = node
            .as_ref()
            .map(|n| self.acls.get(n.acl))
            .unwrap_or_default();
        SavedNode {
            path: path.to_owned(),
            node,
            acl,
        }
    }

    /// Puts a saved node back, keeping every index and the digest right.
    pub fn restore(&mut self, s: SavedNode) {
        if let Some(cur) = self.nodes.remove(&s.path) {
            self.digest =
                self.digest
                    .wrapping_sub(node_digest(&s.path, cur.data.as_deref(), &cur.stat));
            self.data_size -= (s.path.len() + cur.data.as_ref().map_or(0, |d| d.len())) as i64;
            self.acls.remove_usage(cur.acl);
            self.unindex(&s.path, cur.stat.ephemeral_owner);
        }
        if let Some(mut n) = s.node {
            if n.acl != -1 {
                n.acl = self.acls.convert(&s.acl);
            }
            self.index(&s.path, n.stat.ephemeral_owner);
            self.insert(s.path, n);
        }
    }

    fn index(&mut self, path: &str, owner: i64) {
        match self.owner_kind(owner) {
            EphemeralKind::Container => {
                self.containers.insert(path.to_owned());
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.insert(path.to_owned());
            }
            EphemeralKind::Normal(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_owned());
            }
            EphemeralKind::Void => {}
        }
    }

    fn unindex(&mut self, path: &str, owner: i64) {
        match self.owner_kind(owner) {
            EphemeralKind::Container => {
                self.containers.remove(path);
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            EphemeralKind::Normal(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            EphemeralKind::Void => {}
        }
    }

    fn apply_inner(
        &mut self,
        client_id: i64,
        zxid: i64,
        time: i64,
        body: &TxnBody,
        triggers: &mut Vec<Trigger>,
    ) -> TxnResult {
        let mut rc = TxnResult {
            ty: body.type_code(),
            ..Default::default()
        };
        let res: Result<(), i32> = match body {
            TxnBody::CreateSession(t) => {
                self.sessions.insert(client_id, t.time_out);
                Ok(())
            }
            TxnBody::CloseSession(t) => {
                let mut local = self.ephemerals.remove(&client_id).unwrap_or_default();
                if let Some(t) = t {
                    for p in &t.paths2_delete {
                        local.remove(p);
                        let _ = self.delete_ephemeral(client_id, p, zxid, triggers);
                    }
                }
                for p in local {
                    let _ = self.delete_ephemeral(client_id, &p, zxid, triggers);
                }
                self.sessions.remove(&client_id);
                Ok(())
            }
            TxnBody::Create(t) | TxnBody::Create2(t) => {
                rc.path = t.path.clone();
                let owner = if t.ephemeral { client_id } else { 0 };
                let r = self.create_node(
                    &t.path,
                    t.data.clone(),
                    &t.acl,
                    owner,
                    t.parent_c_version,
                    zxid,
                    time,
                    triggers,
                );
                if matches!(body, TxnBody::Create2(_)) {
                    rc.stat = r.as_ref().ok().cloned();
                }
                let r = r.map(|_| ());
                if r == Err(err::NODE_EXISTS) && matches!(body, TxnBody::Create(_)) {
                    // Fuzzy-snapshot replay: still move the parent's cversion/pzxid forward.
                    self.set_cversion_pzxid(&t.path, t.parent_c_version, zxid);
                }
                r
            }
            TxnBody::CreateTtl(t) => {
                rc.path = t.path.clone();
                let owner = TTL_MASK | (t.ttl & MAX_TTL);
                let r = self.create_node(
                    &t.path,
                    t.data.clone(),
                    &t.acl,
                    owner,
                    t.parent_c_version,
                    zxid,
                    time,
                    triggers,
                );
                rc.stat = r.as_ref().ok().cloned();
                r.map(|_| ())
            }
            TxnBody::CreateContainer(t) => {
                rc.path = t.path.clone();
                let r = self.create_node(
                    &t.path,
                    t.data.clone(),
                    &t.acl,
                    CONTAINER_EPHEMERAL_OWNER,
                    t.parent_c_version,
                    zxid,
                    time,
                    triggers,
                );
                rc.stat = r.as_ref().ok().cloned();
                r.map(|_| ())
            }
            TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => {
                rc.path = t.path.clone();
                self.delete_node(&t.path, zxid, triggers)
            }
            TxnBody::SetData(t) | TxnBody::Reconfig(t) => {
                rc.path = t.path.clone();
                self.set_data(&t.path, t.data.clone(), t.version, zxid, time, triggers)
                    .map(|s| rc.stat = Some(s))
            }
            TxnBody::SetAcl(t) => {
                rc.path = t.path.clone();
                self.set_acl(&t.path, &t.acl, t.version)
                    .map(|s| rc.stat = Some(s))
            }
            TxnBody::Error(t) => Err(t.err),
            TxnBody::Check(t) => {
                rc.path = t.path.clone();
                Ok(())
            }
            TxnBody::Multi(subs) => {
                let failed = subs.iter().any(|s| matches!(s, TxnBody::Error(_)));
                let mut post_failed = false;
                for s in subs {
                    if matches!(s, TxnBody::Error(_)) {
                        post_failed = true;
                    }
                    let sub = if failed && !matches!(s, TxnBody::Error(_)) {
                        let ec = if post_failed {
                            err::RUNTIME_INCONSISTENCY
                        } else {
                            err::OK
                        };
                        TxnBody::Error(crate::jute::ErrorTxn { err: ec })
                    } else {
                        s.clone()
                    };
                    let sr = self.apply_inner(client_id, zxid, time, &sub, triggers);
                    if sr.err != 0 && rc.err == 0 {
                        rc.err = sr.err;
                    }
                    rc.multi.push(sr);
                }
                Ok(())
            }
        };
        if let Err(e) = res {
            rc.err = e;
        }
        rc
    }

    fn delete_ephemeral(
        &mut self,
        session: i64,
        p: &str,
        zxid: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), i32> {
        let r = self.delete_node(p, zxid, triggers);
        if r.is_err() {
            tracing::warn!("ignoring NoNode for path {p} while removing ephemeral for dead session 0x{session:x}");
        }
        r
    }

    fn set_cversion_pzxid(&mut self, path: &str, parent_cversion: i32, zxid: i64) {
        let Some(parent) = path::parent(path) else {
            return;
        };
        let parent = parent.to_owned();
        self.modify(&parent, |p| {
            let cv = if parent_cversion == -1 {
                p.stat.cversion + 1
            } else {
                parent_cversion
            };
            if cv > p.stat.cversion {
                p.stat.cversion = cv;
                p.stat.pzxid = zxid;
            }
        });
    }

    /// Nodes in pre-order (parents before children), root first, borrowing paths from the
    /// tree: only the current branch is held, so a snapshot of a large or flat tree does not
    /// copy every path first.
    pub fn preorder(&self) -> Preorder<'_> {
        let root = self.nodes.get_key_value("/");
        Preorder {
            tree: self,
            stack: Vec::new(),
            pending_root: root,
            scratch: String::new(),
        }
    }

    /// Rebuilds a tree from snapshot contents. Children are linked from paths.
    pub fn from_snapshot(
        extended_types: bool,
        sessions: Vec<(i64, i32)>,
        acls: Vec<(i64, Vec<Acl>)>,
        nodes: Vec<(String, Buffer, i64, StatPersisted)>,
        zxid: i64,
    ) -> Result<Self, String> {
        let mut t = DataTree::empty(extended_types);
        t.nodes.reserve(nodes.len());
        t.sessions = sessions.into_iter().collect();
        t.last_processed_zxid = zxid;
        t.acls.load(acls);
        for (p, data, acl, stat) in nodes {
            if p != "/" {
                let parent =
                    path::parent(&p).ok_or_else(|| format!("invalid path {p:?} in snapshot"))?;
                let child = path::basename(&p).to_owned();
                match t.nodes.get_mut(parent) {
                    Some(pn) => {
                        pn.children.insert(child.into());
                    }
                    None => return Err(format!("snapshot node {p:?} precedes its parent")),
                }
            }
            if acl != -1 && t.acls.lookup(acl).is_some_and(|a| a.is_empty()) {
                return Err(format!("snapshot node {p:?} uses unknown ACL index {acl}"));
            }
            t.acls.add_usage(acl);
            t.index(&p, stat.ephemeral_owner);
            t.insert(
                p,
                Node {
                    data,
                    acl,
                    stat,
                    children: HashSet::new(),
                },
            );
        }
        if !t.nodes.contains_key("/") {
            return Err("snapshot has no root node".into());
        }
        t.acls.purge_unused();
        t.setup_quota();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::CreateTxn;

    fn create(t: &mut DataTree, path: &str, zxid: i64) -> TxnResult {
        let body = TxnBody::Create2(CreateTxn {
            path: path.into(),
            data: None,
            acl: open_acl_unsafe(),
            ephemeral: false,
            parent_c_version: -1,
        });
        t.apply(1, zxid, 1000, &body, &mut Vec::new())
    }

    #[test]
    fn fresh_tree() {
        let t = DataTree::new(false);
        assert_eq!(t.node_count(), 4);
        assert_eq!(t.all_children_number("/"), 3);
        assert_eq!(t.stat("/zookeeper/config").unwrap().aversion, -1);
        assert_eq!(t.stat("/").unwrap().num_children, 1);
    }

    #[test]
    fn cversion_on_wire_counts_creates_and_deletes() {
        let mut t = DataTree::new(false);
        create(&mut t, "/a", 1);
        create(&mut t, "/a/b", 2);
        create(&mut t, "/a/c", 3);
        t.delete_node("/a/b", 4, &mut Vec::new()).unwrap();
        let s = t.stat("/a").unwrap();
        assert_eq!(s.cversion, 3); // 2 creates + 1 delete
        assert_eq!(s.num_children, 1);
        assert_eq!(s.pzxid, 4);
        assert_eq!(t.get("/a").unwrap().stat.cversion, 2);
    }

    #[test]
    fn digest_tracks_changes() {
        let mut t = DataTree::new(false);
        let d0 = t.digest();
        create(&mut t, "/a", 1);
        assert_ne!(t.digest(), d0);
        t.delete_node("/a", 2, &mut Vec::new()).unwrap();
        // The root's pzxid/cversion changed, so the digest differs from the start,
        // but must equal a from-scratch recomputation.
        let mut sum = 0u64;
        for (p, n) in t.preorder() {
            sum = sum.wrapping_add(node_digest(p, n.data.as_deref(), &n.stat));
        }
        assert_eq!(sum as i64, t.digest());
    }

    #[test]
    fn failed_multi_turns_into_errors() {
        let mut t = DataTree::new(false);
        let body = TxnBody::Multi(vec![
            TxnBody::Create(CreateTxn {
                path: "/x".into(),
                data: None,
                acl: open_acl_unsafe(),
                ephemeral: false,
                parent_c_version: 1,
            }),
            TxnBody::Error(crate::jute::ErrorTxn { err: err::NO_NODE }),
            TxnBody::Error(crate::jute::ErrorTxn {
                err: err::RUNTIME_INCONSISTENCY,
            }),
        ]);
        let rc = t.apply(1, 5, 0, &body, &mut Vec::new());
        assert!(t.get("/x").is_none());
        let errs: Vec<i32> = rc.multi.iter().map(|r| r.err).collect();
        assert_eq!(errs, vec![0, err::NO_NODE, err::RUNTIME_INCONSISTENCY]);
    }
}
