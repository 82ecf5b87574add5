//! Linearizability checker for a versioned compare-and-set register (the Jepsen/Knossos
//! "cas-register" workload, adapted to ZooKeeper's versioned `setData`).
//!
//! # Model
//!
//! Every key (e.g. one znode) is an independent [`Register`] holding `(value, version)`:
//!
//! | call | succeeds when | new state |
//! | --- | --- | --- |
//! | [`Call::Read`] | state == observed `(value, version)` (version optional) | unchanged |
//! | [`Call::Write`]`(v)` | always (reported new version must be `version + 1`, if given) | `(v, version + 1)` |
//! | [`Call::CasVersion`]` { expected, new }` | `version == expected` | `(new, version + 1)` |
//! | [`Call::CasValue`]` { expected, new }` | `value == expected` | `(new, version + 1)` |
//!
//! A CAS that returned [`Ret::CasFailed`] (ZooKeeper `BadVersion`) is a definite answer too:
//! at its linearization point the precondition did *not* hold, and it changed nothing.
//!
//! Mapping ZooKeeper results (times from one monotonic clock shared by all clients, taken right
//! before sending and right after receiving):
//!
//! * `getData` → `Read` / [`Ret::Read`]` { value: data, version: Some(stat.version) }`;
//! * `setData(path, data, -1)` → `Write(data)` / [`Ret::Ok`]` { version: Some(stat.version) }`;
//! * `setData(path, data, v)` → `CasVersion { expected: v, new: data }` / `Ok` or, on
//!   `BadVersion`, [`Ret::CasFailed`];
//! * `ConnectionLoss`, `OperationTimeout`, `SessionExpired`, a crash … on a write →
//!   [`Ret::Indeterminate`]: the operation may or may not take effect, at any time after its
//!   invocation (its completion is treated as +∞). Indeterminate reads carry no information and
//!   are dropped.
//!
//! Operations `a` and `b` are ordered (`a` must be linearized before `b`) iff
//! `a.complete < b.invoke`; equal timestamps count as concurrent (the lenient choice).
//!
//! # Algorithm
//!
//! The history is split by key (P-compositionality: a history of independent registers is
//! linearizable iff each per-key sub-history is). Each sub-history is checked with the
//! Wing & Gong search as improved by Lowe ("Testing for linearizability", 2017) and used by
//! Porcupine / "linearizability checking in practice" (Horn & Kroening): the call/return
//! events form a doubly-linked list; the search repeatedly linearizes a pending call whose model
//! step is legal, lifting it out of the list, and backtracks when it reaches a return event whose
//! call has not been linearized. A cache of `(set of linearized ops, model state)` configurations
//! already explored prunes the search (the set is a bitset, hashed incrementally with Zobrist
//! hashing and stored compactly as "all ops below word w are linearized, then these words").
//!
//! Indeterminate operations have no return event: the search may linearize them anywhere after
//! their invocation or never; the search succeeds once every *definite* operation is linearized.
//!
//! Three reductions keep real histories cheap, all exact (they never change the verdict):
//!
//! * values nobody observes (never returned by a read, never a value-CAS's expected value) are
//!   merged into one "unobserved" value, so states differing only in such values share cache
//!   entries;
//! * indeterminate operations with identical calls are interchangeable, so only the
//!   earliest-invoked unlinearized one of each such class is tried (k lost writes of unobserved
//!   values give k+1 choices instead of 2^k);
//! * versions never decrease, so a configuration whose version already exceeds the version some
//!   unlinearized definite operation needs (a read's version, a CAS's expected version, a
//!   write's reported new version − 1) is dead and pruned at once.
//!
//! When a history is rejected, the explanation comes from a re-run without the version pruning
//! (if that fits in a step budget), because the pruned search tends to stop at the write that
//! "must not happen yet" rather than at the read that contradicts it.
//!
//! Typical histories (a handful of client processes, thousands of operations per key, some lost
//! writes) check in milliseconds (4000 ops, 8 clients, 1–5% lost writes: ~5–70 ms in a release
//! build); pathological ones (many indeterminate operations whose effect is invisible) can
//! be exponential, so the search is bounded by [`Limits`] and then reports
//! [`CheckError::Inconclusive`] rather than a verdict.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::{Duration, Instant};

/// The state of one register: the value and its version (ZooKeeper's `Stat.version`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Register<V> {
    pub value: V,
    pub version: i32,
}

impl<V> Register<V> {
    pub fn new(value: V, version: i32) -> Self {
        Register { value, version }
    }
}

/// What an operation asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call<V> {
    /// Read value and version.
    Read,
    /// Unconditional write (`setData` with version -1).
    Write(V),
    /// Write iff the current version is `expected` (`setData` with a version).
    CasVersion { expected: i32, new: V },
    /// Write iff the current value is `expected` (Knossos-style CAS).
    CasValue { expected: V, new: V },
}

/// What the client observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret<V> {
    /// Result of a [`Call::Read`]; `version: None` if the client did not look at the version.
    Read { value: V, version: Option<i32> },
    /// A write or CAS succeeded; `version` is the new version reported by the server, if known.
    Ok { version: Option<i32> },
    /// A CAS was definitively rejected (`BadVersion`): its precondition did not hold at its
    /// linearization point.
    CasFailed,
    /// No response arrived (connection loss, timeout, crash): the operation may or may not take
    /// effect, at any time after its invocation.
    Indeterminate,
}

impl<V> Ret<V> {
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, Ret::Indeterminate)
    }
}

/// One completed (or abandoned) operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op<K, V> {
    /// The client that issued it. Only used in reports: the checker does not assume one
    /// operation at a time per process (pipelined clients are fine), nor that a process stops
    /// after an indeterminate operation.
    pub process: u64,
    pub key: K,
    pub call: Call<V>,
    /// Invocation time (any monotonic unit shared by all processes, e.g. ns since start).
    pub invoke: u64,
    /// Completion time; required for definite results, ignored for [`Ret::Indeterminate`].
    pub complete: Option<u64>,
    pub ret: Ret<V>,
}

impl<K, V> Op<K, V> {
    pub fn new(
        process: u64,
        key: K,
        call: Call<V>,
        invoke: u64,
        complete: Option<u64>,
        ret: Ret<V>,
    ) -> Self {
        Op {
            process,
            key,
            call,
            invoke,
            complete,
            ret,
        }
    }

    /// A read in `[invoke, complete]` that returned `(value, version)`.
    pub fn read(
        process: u64,
        key: K,
        invoke: u64,
        complete: u64,
        value: V,
        version: impl Into<Option<i32>>,
    ) -> Self {
        Self::new(
            process,
            key,
            Call::Read,
            invoke,
            Some(complete),
            Ret::Read {
                value,
                version: version.into(),
            },
        )
    }

    /// An acknowledged unconditional write; `new_version` as reported by the server, if known.
    pub fn write(
        process: u64,
        key: K,
        invoke: u64,
        complete: u64,
        value: V,
        new_version: impl Into<Option<i32>>,
    ) -> Self {
        Self::new(
            process,
            key,
            Call::Write(value),
            invoke,
            Some(complete),
            Ret::Ok {
                version: new_version.into(),
            },
        )
    }

    /// A versioned CAS (`setData(key, new, expected)`) that succeeded (`ok`) or got `BadVersion`.
    pub fn cas(
        process: u64,
        key: K,
        invoke: u64,
        complete: u64,
        expected: i32,
        new: V,
        ok: bool,
    ) -> Self {
        let ret = if ok {
            Ret::Ok { version: None }
        } else {
            Ret::CasFailed
        };
        Self::new(
            process,
            key,
            Call::CasVersion { expected, new },
            invoke,
            Some(complete),
            ret,
        )
    }

    /// A value CAS that succeeded (`ok`) or was rejected.
    pub fn cas_value(
        process: u64,
        key: K,
        invoke: u64,
        complete: u64,
        expected: V,
        new: V,
        ok: bool,
    ) -> Self {
        let ret = if ok {
            Ret::Ok { version: None }
        } else {
            Ret::CasFailed
        };
        Self::new(
            process,
            key,
            Call::CasValue { expected, new },
            invoke,
            Some(complete),
            ret,
        )
    }

    /// An operation whose response never arrived.
    pub fn indeterminate(process: u64, key: K, invoke: u64, call: Call<V>) -> Self {
        Self::new(process, key, call, invoke, None, Ret::Indeterminate)
    }

    fn is_definite(&self) -> bool {
        !self.ret.is_indeterminate()
    }
}

/// Bounds on the search for one key.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum number of search steps per key.
    pub max_steps: u64,
    /// Maximum number of cached configurations per key (memory bound).
    pub max_states: usize,
    /// Wall-clock budget for the whole check.
    pub time_limit: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 50_000_000,
            max_states: 2_000_000,
            time_limit: Some(Duration::from_secs(60)),
        }
    }
}

/// Statistics of a successful check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub keys: usize,
    /// Operations considered (indeterminate reads are dropped).
    pub ops: usize,
    pub steps: u64,
    /// Configurations cached, summed over keys.
    pub states: usize,
}

/// Why an operation could not be linearized.
#[derive(Clone, Debug)]
pub struct Violation<K, V> {
    pub key: K,
    /// Index of the offending operation in the input history.
    pub index: usize,
    /// The operation that could not be linearized before its completion: the search got furthest
    /// (in real time) when it reached this operation's return and found no legal way on.
    pub op: Op<K, V>,
    /// Model states the register could be in at that point (deduplicated, at most 16). A value
    /// of `None` stands for "some value that no operation of the history ever observed" (the
    /// checker does not distinguish such values).
    pub states: Vec<Register<Option<V>>>,
    /// How many operations of the key had been linearized in the first attempt reaching it.
    pub linearized: usize,
    /// The last (at most 8) operations of that partial linearization, oldest first, as
    /// `(index in history, op, state after it)`.
    pub recent: Vec<LinearizedOp<K, V>>,
}

/// `(index in history, op, register state after it)`.
pub type LinearizedOp<K, V> = (usize, Op<K, V>, Register<Option<V>>);

/// Result of a failed check.
#[derive(Clone, Debug)]
pub enum CheckError<K, V> {
    /// The history itself is invalid (e.g. a read without a read result).
    Malformed { index: usize, reason: String },
    /// The history is not linearizable.
    NotLinearizable(Box<Violation<K, V>>),
    /// The search exceeded [`Limits`]; no verdict.
    Inconclusive {
        key: K,
        steps: u64,
        states: usize,
        reason: String,
    },
}

impl<K, V> CheckError<K, V> {
    pub fn is_violation(&self) -> bool {
        matches!(self, CheckError::NotLinearizable(_))
    }

    pub fn violation(&self) -> Option<&Violation<K, V>> {
        match self {
            CheckError::NotLinearizable(v) => Some(v),
            _ => None,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Display for Op<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p{} {:?} {:?} [{}, ",
            self.process, self.key, self.call, self.invoke
        )?;
        match self.complete {
            Some(c) if self.is_definite() => write!(f, "{c}]")?,
            _ => write!(f, "∞)")?,
        }
        write!(f, " -> {:?}", self.ret)
    }
}

impl<V: fmt::Debug> fmt::Display for Register<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:?}, v{})", self.value, self.version)
    }
}

/// `Register<Option<V>>` as used in [`Violation`]: `None` = an unobserved value.
fn fmt_state<V: fmt::Debug>(s: &Register<Option<V>>) -> String {
    match &s.value {
        Some(v) => format!("({v:?}, v{})", s.version),
        None => format!("(<unobserved value>, v{})", s.version),
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Display for Violation<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "not linearizable: key {:?}: op #{} cannot be linearized: {}",
            self.key, self.index, self.op
        )?;
        write!(f, "  possible register states before it:")?;
        for s in &self.states {
            write!(f, " {}", fmt_state(s))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  one partial linearization ({} ops) ends with:",
            self.linearized
        )?;
        for (i, op, s) in &self.recent {
            writeln!(f, "    #{i} {op}  => {}", fmt_state(s))?;
        }
        Ok(())
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Display for CheckError<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Malformed { index, reason } => {
                write!(f, "malformed history: op #{index}: {reason}")
            }
            CheckError::NotLinearizable(v) => write!(f, "{v}"),
            CheckError::Inconclusive {
                key,
                steps,
                states,
                reason,
            } => {
                write!(f, "inconclusive: key {key:?}: {reason} after {steps} steps, {states} cached states")
            }
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> std::error::Error for CheckError<K, V> {}

/// Checks that `history` is linearizable. `initial(key)` is the register state of `key` before
/// the history (e.g. the data and version of the znode right after the test created it).
pub fn check<K, V>(
    history: &[Op<K, V>],
    initial: impl Fn(&K) -> Register<V>,
    limits: &Limits,
) -> Result<Stats, CheckError<K, V>>
where
    K: Ord + Clone + fmt::Debug,
    V: Clone + Eq + Hash + fmt::Debug,
{
    let deadline = limits.time_limit.map(|d| Instant::now() + d);
    let mut by_key: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        validate(op).map_err(|reason| CheckError::Malformed { index: i, reason })?;
        if matches!((&op.call, &op.ret), (Call::Read, Ret::Indeterminate)) {
            continue; // carries no information
        }
        by_key.entry(&op.key).or_default().push(i);
    }
    let mut stats = Stats {
        keys: by_key.len(),
        ..Stats::default()
    };
    for (key, idx) in by_key {
        stats.ops += idx.len();
        let init = initial(key);
        let mut search = Search::new(history, idx.clone(), init.clone(), limits, deadline, true);
        let res = search.run();
        stats.steps += search.steps;
        stats.states += search.cache.len;
        match res {
            Outcome::Linearizable => {}
            Outcome::Violation => {
                // Version pruning makes the search fail early, typically at the write that
                // "must not happen yet" rather than at the read that contradicts it. For the
                // explanation, re-run without pruning if that is affordable.
                let budget = Limits {
                    max_steps: search.steps.saturating_mul(8).max(2_000_000),
                    ..limits.clone()
                };
                let mut plain = Search::new(history, idx, init, &budget, deadline, false);
                let explained = match plain.run() {
                    Outcome::Violation => &plain,
                    _ => &search,
                };
                return Err(CheckError::NotLinearizable(Box::new(
                    explained.violation(key),
                )));
            }
            Outcome::Exhausted(reason) => {
                return Err(CheckError::Inconclusive {
                    key: key.clone(),
                    steps: search.steps,
                    states: search.cache.len,
                    reason,
                })
            }
        }
    }
    Ok(stats)
}

fn validate<K, V>(op: &Op<K, V>) -> Result<(), String> {
    let compatible = matches!(
        (&op.call, &op.ret),
        (_, Ret::Indeterminate)
            | (Call::Read, Ret::Read { .. })
            | (Call::Write(_), Ret::Ok { .. })
            | (
                Call::CasVersion { .. } | Call::CasValue { .. },
                Ret::Ok { .. } | Ret::CasFailed
            )
    );
    if !compatible {
        return Err("result does not match the call".into());
    }
    if op.is_definite() {
        match op.complete {
            None => return Err("definite result without a completion time".into()),
            Some(c) if c < op.invoke => {
                return Err(format!(
                    "completes at {c} before its invocation at {}",
                    op.invoke
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

// ---- search internals ---------------------------------------------------------------------
//
// Values are interned per key. Only values that some operation *observes* (a read's result, a
// value-CAS's expected value) get their own id; every other value -- written but never looked at
// -- maps to `JUNK`. Two states differing only in which unobserved value they hold behave the same
// for the rest of the history, so merging them is sound and makes the cache far more effective.
//
// Symmetry: indeterminate operations with identical (interned) calls are interchangeable -- they
// have no return event, so once invoked each can be linearized at any later point. The search
// only linearizes the earliest-invoked unlinearized member of such a class (any linearization can
// be rearranged into that form), which turns e.g. 2^k subsets of k lost unobserved writes into
// k+1 prefixes.

type Vid = u32;
const JUNK: Vid = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct St {
    val: Vid,
    ver: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ICall {
    Read,
    Write(Vid),
    CasVer(i32, Vid),
    CasVal(Vid, Vid),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IRet {
    Read(Vid, Option<i32>),
    Ok(Option<i32>),
    Failed,
    Indet,
}

/// The model's transition: `Some(next state)` if `call` returning `ret` is legal in state `s`.
fn step(s: St, call: ICall, ret: IRet) -> Option<St> {
    let next = s.ver.wrapping_add(1);
    let bumped = |val: Vid| St { val, ver: next };
    let version_ok = |reported: Option<i32>| reported.is_none_or(|v| v == next);
    match (call, ret) {
        (ICall::Read, IRet::Read(val, version)) => {
            (val == s.val && version.is_none_or(|v| v == s.ver)).then_some(s)
        }
        (ICall::Write(v), IRet::Ok(version)) => version_ok(version).then(|| bumped(v)),
        (ICall::Write(v), IRet::Indet) => Some(bumped(v)),
        (ICall::CasVer(expected, new), IRet::Ok(version)) => {
            (s.ver == expected && version_ok(version)).then(|| bumped(new))
        }
        // An indeterminate CAS whose precondition fails is a no-op, the same as not linearizing
        // it at all, so only its effectful outcome needs exploring.
        (ICall::CasVer(expected, new), IRet::Indet) => (s.ver == expected).then(|| bumped(new)),
        (ICall::CasVer(expected, _), IRet::Failed) => (s.ver != expected).then_some(s),
        (ICall::CasVal(expected, new), IRet::Ok(version)) => {
            (s.val == expected && version_ok(version)).then(|| bumped(new))
        }
        (ICall::CasVal(expected, new), IRet::Indet) => (s.val == expected).then(|| bumped(new)),
        (ICall::CasVal(expected, _), IRet::Failed) => (s.val != expected).then_some(s),
        _ => None,
    }
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

enum Outcome {
    Linearizable,
    Violation,
    Exhausted(String),
}

/// Identity hasher for keys that already are good 64-bit hashes.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// `(first word not full, words from there to the last non-empty one, state)`.
type CacheEntry = (u32, Box<[u64]>, St);

/// Cache of explored `(linearized set, state)` configurations. Sets are stored as
/// `(w, words[w..e])`: every op in words `< w` is linearized, words `>= e` are empty.
#[derive(Default)]
struct Cache {
    map: HashMap<u64, Vec<CacheEntry>, BuildHasherDefault<IdHasher>>,
    len: usize,
}

impl Cache {
    /// Inserts; false if already present.
    fn insert(&mut self, hash: u64, words: &[u64], state: St) -> bool {
        let start = words.iter().position(|&w| w != !0).unwrap_or(words.len());
        let end = words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(0, |e| e + 1)
            .max(start);
        let span = &words[start..end];
        let bucket = self.map.entry(hash).or_default();
        if bucket
            .iter()
            .any(|(s, w, st)| *s as usize == start && **w == *span && *st == state)
        {
            return false;
        }
        bucket.push((start as u32, span.into(), state));
        self.len += 1;
        true
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_state(s: St) -> u64 {
    splitmix64((u64::from(s.val) << 32) ^ u64::from(s.ver as u32) ^ 0xA5A5_0000_0000_0000)
}

struct Furthest {
    /// List node of the return event reached.
    node: usize,
    op: usize,
    states: Vec<St>,
    linearized: usize,
    recent: Vec<(usize, St)>,
}

struct Search<'h, K, V> {
    history: &'h [Op<K, V>],
    /// Local op index -> index in `history`.
    idx: Vec<usize>,
    /// Observed values by id.
    values: Vec<V>,
    initial: St,
    calls: Vec<ICall>,
    rets: Vec<IRet>,
    /// Previous member (by invocation) of the op's symmetry class, or NIL.
    class_prev: Vec<usize>,
    /// Largest register version in which the (definite) op could still be linearized.
    bound: Vec<Option<i32>>,
    /// Multiset of `bound` over the definite ops not linearized yet; `None` if version pruning
    /// is off (versions could wrap around).
    bounds: Option<BTreeMap<i32, u32>>,
    // Event list: node 0 is the head sentinel; nodes 1.. are events in time order.
    next: Vec<usize>,
    prev: Vec<usize>,
    node_op: Vec<usize>,
    node_is_call: Vec<bool>,
    call_node: Vec<usize>,
    ret_node: Vec<usize>,
    zobrist: Vec<u64>,
    cache: Cache,
    steps: u64,
    max_steps: u64,
    max_states: usize,
    deadline: Option<Instant>,
    furthest: Option<Furthest>,
}

impl<'h, K, V> Search<'h, K, V>
where
    K: Clone,
    V: Clone + Eq + Hash,
{
    fn new(
        history: &'h [Op<K, V>],
        idx: Vec<usize>,
        initial: Register<V>,
        limits: &Limits,
        deadline: Option<Instant>,
        version_pruning: bool,
    ) -> Self {
        let n = idx.len();
        // Intern observed values.
        let mut ids: HashMap<&'h V, Vid> = HashMap::new();
        let mut values = Vec::new();
        for &i in &idx {
            let observed = match (&history[i].call, &history[i].ret) {
                (Call::Read, Ret::Read { value, .. }) => value,
                (Call::CasValue { expected, .. }, _) => expected,
                _ => continue,
            };
            ids.entry(observed).or_insert_with(|| {
                values.push(observed.clone());
                (values.len() - 1) as Vid
            });
        }
        let id = |v: &V| ids.get(v).copied().unwrap_or(JUNK);
        let init = St {
            val: id(&initial.value),
            ver: initial.version,
        };
        let mut calls = Vec::with_capacity(n);
        let mut rets = Vec::with_capacity(n);
        for &i in &idx {
            let op = &history[i];
            calls.push(match &op.call {
                Call::Read => ICall::Read,
                Call::Write(v) => ICall::Write(id(v)),
                Call::CasVersion { expected, new } => ICall::CasVer(*expected, id(new)),
                Call::CasValue { expected, new } => ICall::CasVal(id(expected), id(new)),
            });
            rets.push(match &op.ret {
                Ret::Read { value, version } => IRet::Read(id(value), *version),
                Ret::Ok { version } => IRet::Ok(*version),
                Ret::CasFailed => IRet::Failed,
                Ret::Indeterminate => IRet::Indet,
            });
        }
        // Symmetry classes of indeterminate ops.
        let mut indet: Vec<usize> = (0..n).filter(|&l| rets[l] == IRet::Indet).collect();
        indet.sort_by_key(|&l| (history[idx[l]].invoke, l));
        let mut class_prev = vec![NIL; n];
        let mut last: HashMap<ICall, usize> = HashMap::new();
        for l in indet {
            if let Some(p) = last.insert(calls[l], l) {
                class_prev[l] = p;
            }
        }
        // Version pruning: versions never decrease (unless they wrap around), so a configuration
        // whose version exceeds the version some unlinearized definite op needs is dead.
        let bound: Vec<Option<i32>> = (0..n)
            .map(|l| match (calls[l], rets[l]) {
                (ICall::Read, IRet::Read(_, v)) => v,
                (ICall::CasVer(e, _), IRet::Ok(_)) => Some(e),
                (ICall::Write(_) | ICall::CasVal(..), IRet::Ok(Some(v))) => Some(v.wrapping_sub(1)),
                _ => None,
            })
            .collect();
        let no_wrap = i64::from(init.ver) + n as i64 + 1 < i64::from(i32::MAX);
        let bounds = (version_pruning && no_wrap).then(|| {
            let mut m = BTreeMap::new();
            for b in bound.iter().flatten() {
                *m.entry(*b).or_insert(0) += 1;
            }
            m
        });
        // (time, 0 = call / 1 = return, local op): calls sort before returns at equal times,
        // so touching intervals count as concurrent.
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
        for (l, &i) in idx.iter().enumerate() {
            let op = &history[i];
            events.push((op.invoke, 0, l));
            if op.is_definite() {
                events.push((op.complete.expect("validated"), 1, l));
            }
        }
        events.sort_unstable();
        let m = events.len();
        let mut s = Search {
            history,
            idx,
            values,
            initial: init,
            calls,
            rets,
            class_prev,
            bound,
            bounds,
            next: (1..=m + 1).map(|x| if x > m { NIL } else { x }).collect(),
            prev: (0..=m).map(|x| if x == 0 { NIL } else { x - 1 }).collect(),
            node_op: vec![NIL; m + 1],
            node_is_call: vec![false; m + 1],
            call_node: vec![NIL; n],
            ret_node: vec![NIL; n],
            zobrist: (0..n as u64)
                .map(|i| splitmix64(i ^ 0x5EED_0F2B_1E5E_ED00))
                .collect(),
            cache: Cache::default(),
            steps: 0,
            max_steps: limits.max_steps,
            max_states: limits.max_states,
            deadline,
            furthest: None,
        };
        for (e, &(_, kind, l)) in events.iter().enumerate() {
            let node = e + 1;
            s.node_op[node] = l;
            s.node_is_call[node] = kind == 0;
            if kind == 0 {
                s.call_node[l] = node;
            } else {
                s.ret_node[l] = node;
            }
        }
        s
    }

    fn op(&self, l: usize) -> &'h Op<K, V> {
        &self.history[self.idx[l]]
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        if n != NIL {
            self.prev[n] = x;
        }
    }

    fn lift(&mut self, l: usize) {
        self.unlink(self.call_node[l]);
        if self.ret_node[l] != NIL {
            self.unlink(self.ret_node[l]);
        }
    }

    fn unlift(&mut self, l: usize) {
        if self.ret_node[l] != NIL {
            self.relink(self.ret_node[l]);
        }
        self.relink(self.call_node[l]);
    }

    /// Whether version `ver` is still compatible with every unlinearized definite op other
    /// than `l` (which is being linearized).
    fn version_feasible(&self, ver: i32, l: usize) -> bool {
        let Some(bounds) = &self.bounds else {
            return true;
        };
        for (&b, &count) in bounds {
            if Some(b) == self.bound[l] && count == 1 {
                continue; // that is `l` itself
            }
            return ver <= b;
        }
        true
    }

    fn take_bound(&mut self, l: usize) {
        if let (Some(bounds), Some(b)) = (&mut self.bounds, self.bound[l]) {
            let c = bounds.get_mut(&b).expect("bound present");
            *c -= 1;
            if *c == 0 {
                bounds.remove(&b);
            }
        }
    }

    fn put_bound(&mut self, l: usize) {
        if let (Some(bounds), Some(b)) = (&mut self.bounds, self.bound[l]) {
            *bounds.entry(b).or_insert(0) += 1;
        }
    }

    fn run(&mut self) -> Outcome {
        let n = self.idx.len();
        let mut remaining = self.rets.iter().filter(|&&r| r != IRet::Indet).count();
        if remaining == 0 {
            return Outcome::Linearizable;
        }
        let bit = |words: &[u64], l: usize| words[l / 64] >> (l % 64) & 1 == 1;
        let mut words = vec![0u64; n.div_ceil(64)];
        let mut zob = 0u64;
        let mut state = self.initial;
        let mut stack: Vec<(usize, St)> = Vec::new();
        let mut entry = self.next[HEAD];
        loop {
            self.steps += 1;
            if self.steps > self.max_steps {
                return Outcome::Exhausted(format!("step limit {} exceeded", self.max_steps));
            }
            if self.steps.is_multiple_of(4096) {
                if let Some(d) = self.deadline {
                    if Instant::now() > d {
                        return Outcome::Exhausted("time limit exceeded".into());
                    }
                }
            }
            if entry != NIL && self.node_is_call[entry] {
                let l = self.node_op[entry];
                let cp = self.class_prev[l];
                if cp == NIL || bit(&words, cp) {
                    let next = step(state, self.calls[l], self.rets[l]);
                    if let Some(ns) =
                        next.filter(|ns| ns.ver == state.ver || self.version_feasible(ns.ver, l))
                    {
                        words[l / 64] |= 1 << (l % 64);
                        zob ^= self.zobrist[l];
                        if self.cache.insert(zob ^ hash_state(ns), &words, ns) {
                            if self.cache.len > self.max_states {
                                return Outcome::Exhausted(format!(
                                    "state limit {} exceeded",
                                    self.max_states
                                ));
                            }
                            stack.push((l, state));
                            state = ns;
                            self.lift(l);
                            self.take_bound(l);
                            if self.rets[l] != IRet::Indet {
                                remaining -= 1;
                                if remaining == 0 {
                                    return Outcome::Linearizable;
                                }
                            }
                            entry = self.next[HEAD];
                            continue;
                        }
                        words[l / 64] &= !(1 << (l % 64));
                        zob ^= self.zobrist[l];
                    }
                }
                entry = self.next[entry];
            } else {
                // A return event of an op not yet linearized (or, defensively, the end of the list):
                // no legal way forward from here; backtrack.
                if entry != NIL {
                    self.note_failure(entry, state, &stack);
                }
                let Some((l, prev_state)) = stack.pop() else {
                    return Outcome::Violation;
                };
                state = prev_state;
                words[l / 64] &= !(1 << (l % 64));
                zob ^= self.zobrist[l];
                self.unlift(l);
                self.put_bound(l);
                if self.rets[l] != IRet::Indet {
                    remaining += 1;
                }
                entry = self.next[self.call_node[l]];
            }
        }
    }

    fn note_failure(&mut self, node: usize, state: St, stack: &[(usize, St)]) {
        const MAX_STATES: usize = 16;
        const RECENT: usize = 8;
        match &mut self.furthest {
            Some(f) if f.node > node => {}
            Some(f) if f.node == node => {
                if f.states.len() < MAX_STATES && !f.states.contains(&state) {
                    f.states.push(state);
                }
            }
            _ => {
                // `stack[i].1` is the state *before* op i; the state after it is the next entry's
                // saved state, or the current state for the top of the stack.
                let from = stack.len().saturating_sub(RECENT);
                let recent = (from..stack.len())
                    .map(|i| (stack[i].0, stack.get(i + 1).map_or(state, |e| e.1)))
                    .collect();
                self.furthest = Some(Furthest {
                    node,
                    op: self.node_op[node],
                    states: vec![state],
                    linearized: stack.len(),
                    recent,
                });
            }
        }
    }

    fn external(&self, s: St) -> Register<Option<V>> {
        Register {
            value: (s.val != JUNK).then(|| self.values[s.val as usize].clone()),
            version: s.ver,
        }
    }

    fn violation(&self, key: &K) -> Violation<K, V> {
        let f = self
            .furthest
            .as_ref()
            .expect("a violation always reaches a return event");
        Violation {
            key: key.clone(),
            index: self.idx[f.op],
            op: self.op(f.op).clone(),
            states: f.states.iter().map(|&s| self.external(s)).collect(),
            linearized: f.linearized,
            recent: f
                .recent
                .iter()
                .map(|&(l, s)| (self.idx[l], self.op(l).clone(), self.external(s)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    // `LIN_DEBUG=1` prints the corruptions the randomized tests found undetectable.
    use super::*;

    type H = Vec<Op<&'static str, i64>>;

    fn zero(_: &&'static str) -> Register<i64> {
        Register::new(0, 0)
    }

    fn run(h: &H) -> Result<Stats, CheckError<&'static str, i64>> {
        check(h, zero, &Limits::default())
    }

    fn assert_ok(h: &H) {
        if let Err(e) = run(h) {
            panic!("expected linearizable, got {e}");
        }
    }

    fn assert_bad(h: &H) -> Violation<&'static str, i64> {
        match run(h) {
            Err(CheckError::NotLinearizable(v)) => {
                eprintln!("{v}");
                *v
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_trivial() {
        assert_ok(&vec![]);
        assert_ok(&vec![Op::read(1, "x", 0, 1, 0, 0)]);
        assert_bad(&vec![Op::read(1, "x", 0, 1, 7, 0)]);
    }

    #[test]
    fn correct_concurrent_history_passes() {
        // p1 writes 1 while p2 reads twice (old then new) and p3 CASes on version 1.
        let h = vec![
            Op::write(1, "x", 0, 10, 1, 1),
            Op::read(2, "x", 1, 3, 0, 0),
            Op::read(2, "x", 4, 12, 1, 1),
            Op::cas(3, "x", 2, 20, 1, 5, true),
            Op::read(1, "x", 21, 22, 5, 2),
            Op::cas(1, "x", 23, 24, 1, 9, false),
            Op::cas_value(2, "x", 25, 30, 5, 6, true),
            Op::cas_value(3, "x", 26, 31, 5, 7, false),
            Op::read(1, "x", 32, 33, 6, 3),
        ];
        let st = run(&h).unwrap();
        assert_eq!(st.ops, 9);
        // Overlapping reads may see either side of a concurrent write.
        let h = vec![
            Op::write(1, "x", 0, 100, 1, None),
            Op::read(2, "x", 10, 20, 1, None),
            Op::read(3, "x", 10, 20, 0, None),
            Op::read(3, "x", 30, 40, 1, None),
        ];
        assert_ok(&h);
    }

    #[test]
    fn stale_read_after_completed_write_fails() {
        let h = vec![
            Op::write(1, "x", 0, 10, 1, 1),
            Op::read(2, "x", 11, 12, 0, 0),
        ];
        let v = assert_bad(&h);
        assert_eq!(v.index, 1);
        // The written value is never observed by any op, so the checker reports it as `None`.
        assert_eq!(v.states, vec![Register::new(None, 1)]);
        // Version-only staleness (right value, old version) also fails.
        let h = vec![
            Op::write(1, "x", 0, 10, 0, None),
            Op::read(2, "x", 11, 12, 0, 0),
        ];
        assert_bad(&h);
        // Monotonic-read violation between two processes, with the write concurrent to both:
        // once p2 saw 1 (completed at 5), p3's later read cannot see 0.
        let h = vec![
            Op::write(1, "x", 0, 100, 1, None),
            Op::read(2, "x", 1, 5, 1, None),
            Op::read(3, "x", 6, 7, 0, None),
        ];
        assert_bad(&h);
    }

    #[test]
    fn two_cas_on_same_version_fail() {
        let h = vec![
            Op::cas(1, "x", 0, 10, 0, 1, true),
            Op::cas(2, "x", 0, 10, 0, 2, true),
        ];
        let v = assert_bad(&h);
        // Neither new value is observed, so both orders end in the same model state.
        assert_eq!(v.states, vec![Register::new(None, 1)]);
        // ... but one success and one BadVersion is fine, in either real-time order.
        assert_ok(&vec![
            Op::cas(1, "x", 0, 10, 0, 1, true),
            Op::cas(2, "x", 0, 10, 0, 2, false),
        ]);
        assert_ok(&vec![
            Op::cas(1, "x", 0, 10, 0, 1, false),
            Op::cas(2, "x", 0, 10, 0, 2, true),
        ]);
        // Two value-CAS from the same expected value both succeeding fails as well.
        let h = vec![
            Op::cas_value(1, "x", 0, 10, 0, 1, true),
            Op::cas_value(2, "x", 0, 10, 0, 2, true),
        ];
        assert_bad(&h);
        // A BadVersion answer when the version did match is a violation too.
        assert_bad(&vec![Op::cas(1, "x", 0, 1, 0, 1, false)]);
    }

    #[test]
    fn read_of_value_never_written_fails() {
        let h = vec![
            Op::write(1, "x", 0, 10, 1, None),
            Op::write(2, "x", 0, 10, 2, None),
            Op::read(3, "x", 0, 10, 3, None),
        ];
        let v = assert_bad(&h);
        assert_eq!(v.index, 2);
    }

    #[test]
    fn write_observed_before_its_invocation_fails() {
        let h = vec![
            Op::read(1, "x", 0, 5, 1, None),
            Op::write(2, "x", 6, 10, 1, None),
        ];
        let v = assert_bad(&h);
        assert_eq!(v.index, 0);
        assert_eq!(v.states, vec![Register::new(None, 0)]);
        // Touching intervals are concurrent: the same with the write invoked at 5 passes.
        assert_ok(&vec![
            Op::read(1, "x", 0, 5, 1, None),
            Op::write(2, "x", 5, 10, 1, None),
        ]);
    }

    #[test]
    fn lost_acknowledged_write_fails() {
        // Two acknowledged writes, then a read that shows the first one: the second was lost.
        let h = vec![
            Op::write(1, "x", 0, 10, 1, 1),
            Op::write(1, "x", 11, 20, 2, 2),
            Op::read(2, "x", 30, 31, 1, 1),
        ];
        assert_bad(&h);
        // The value survived but its version says a write was lost in between.
        let h = vec![
            Op::write(1, "x", 0, 10, 1, None),
            Op::write(1, "x", 11, 20, 2, None),
            Op::read(2, "x", 30, 31, 2, 1),
        ];
        assert_bad(&h);
        // The server acknowledged the second write with a version that skips one.
        let h = vec![
            Op::write(1, "x", 0, 10, 1, 1),
            Op::write(1, "x", 11, 20, 2, 3),
        ];
        assert_bad(&h);
    }

    #[test]
    fn indeterminate_ops_may_or_may_not_take_effect() {
        let lost = |v: i64| Op::indeterminate(1, "x", 0, Call::Write(v));
        // Took effect.
        assert_ok(&vec![lost(1), Op::read(2, "x", 10, 11, 1, 1)]);
        // Did not take effect.
        assert_ok(&vec![lost(1), Op::read(2, "x", 10, 11, 0, 0)]);
        // Took effect late: after reads that did not see it.
        assert_ok(&vec![
            lost(1),
            Op::read(2, "x", 10, 11, 0, 0),
            Op::read(2, "x", 100, 101, 1, 1),
        ]);
        // ... but once seen, it cannot be undone.
        assert_bad(&vec![
            lost(1),
            Op::read(2, "x", 10, 11, 1, 1),
            Op::read(2, "x", 100, 101, 0, 0),
        ]);
        // It takes effect at most once.
        assert_bad(&vec![
            lost(1),
            Op::read(2, "x", 10, 11, 1, 1),
            Op::write(2, "x", 12, 13, 2, 2),
            Op::read(2, "x", 14, 15, 1, 3),
        ]);
        // Never before its invocation.
        assert_bad(&vec![
            Op::read(2, "x", 0, 5, 1, 1),
            Op::indeterminate(1, "x", 6, Call::Write(1)),
        ]);
        // An indeterminate CAS applies only if its precondition holds.
        let cas = Op::indeterminate(
            1,
            "x",
            0,
            Call::CasVersion {
                expected: 0,
                new: 5,
            },
        );
        assert_ok(&vec![cas.clone(), Op::read(2, "x", 10, 11, 5, 1)]);
        assert_ok(&vec![cas.clone(), Op::read(2, "x", 10, 11, 0, 0)]);
        assert_bad(&vec![
            Op::write(3, "x", 0, 1, 9, 1),
            cas.clone(),
            Op::read(2, "x", 10, 11, 5, 2),
        ]);
        // Indeterminate reads are ignored whatever they "returned".
        assert_ok(&vec![Op::indeterminate(1, "x", 0, Call::Read)]);
        // Many unresolved writes from one crashed-and-restarted process stay cheap to check.
        let mut h: H = (0..40)
            .map(|i| Op::indeterminate(i, "x", i * 10, Call::Write(1000 + i as i64)))
            .collect();
        h.push(Op::read(99, "x", 1000, 1001, 0, 0));
        assert_ok(&h);
    }

    #[test]
    fn keys_are_independent() {
        let h: Vec<Op<&str, i64>> = vec![
            Op::write(1, "a", 0, 10, 1, 1),
            Op::read(2, "b", 11, 12, 0, 0),
            Op::read(2, "a", 13, 14, 1, 1),
        ];
        let st = run(&h).unwrap();
        assert_eq!(st.keys, 2);
        let mut h = h;
        h.push(Op::read(3, "b", 20, 21, 1, 1));
        let v = assert_bad(&h);
        assert_eq!(v.key, "b");
    }

    #[test]
    fn per_key_initial_state_and_malformed_input() {
        let h: H = vec![Op::read(1, "x", 0, 1, 42, 7), Op::read(1, "y", 0, 1, 0, 0)];
        check(
            &h,
            |k| {
                if *k == "x" {
                    Register::new(42, 7)
                } else {
                    Register::new(0, 0)
                }
            },
            &Limits::default(),
        )
        .unwrap();
        let bad: H = vec![Op::read(1, "x", 5, 4, 0, 0)];
        assert!(matches!(
            run(&bad),
            Err(CheckError::Malformed { index: 0, .. })
        ));
        let bad: H = vec![Op::new(
            1,
            "x",
            Call::Read,
            0,
            Some(1),
            Ret::Ok { version: None },
        )];
        assert!(matches!(
            run(&bad),
            Err(CheckError::Malformed { index: 0, .. })
        ));
        let bad: H = vec![Op::new(
            1,
            "x",
            Call::Write(1),
            0,
            None,
            Ret::Ok { version: None },
        )];
        assert!(matches!(
            run(&bad),
            Err(CheckError::Malformed { index: 0, .. })
        ));
    }

    #[test]
    fn limits_give_inconclusive_not_a_verdict() {
        let h = random_history(
            &mut XorShift::new(7),
            &Gen {
                ops: 2000,
                ..Gen::default()
            },
        );
        let tiny = Limits {
            max_steps: 10,
            ..Limits::default()
        };
        match check(&h.ops, |_| Register::new(0, 0), &tiny) {
            Err(CheckError::Inconclusive { .. }) => {}
            other => panic!("expected inconclusive, got {other:?}"),
        }
    }

    // ---- randomized: histories from a simulated atomic register -------------------------------

    /// xorshift64* PRNG.
    pub(super) struct XorShift(u64);

    impl XorShift {
        pub(super) fn new(seed: u64) -> Self {
            XorShift(splitmix64(seed) | 1)
        }
        pub(super) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Uniform in `0..n` (n > 0).
        pub(super) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// True with probability `p` per mille.
        pub(super) fn permille(&mut self, p: u64) -> bool {
            self.below(1000) < p
        }
    }

    #[derive(Clone)]
    struct Gen {
        processes: u64,
        ops: usize,
        keys: u32,
        /// Per mille of writes/CASes whose response is lost.
        lost_permille: u64,
        /// Draw written values from 0..4 (duplicates, ABA) instead of unique ones.
        small_values: bool,
        /// Per mille of reads that do not report the version.
        no_version_permille: u64,
        /// Latencies up to this many ticks (with rare 10x outliers).
        max_latency: u64,
    }

    impl Default for Gen {
        fn default() -> Self {
            Gen {
                processes: 5,
                ops: 300,
                keys: 1,
                lost_permille: 20,
                small_values: false,
                no_version_permille: 100,
                max_latency: 20,
            }
        }
    }

    struct Generated {
        ops: Vec<Op<u32, i64>>,
        /// One read per key after everything took effect (a "final read" in Jepsen terms).
        final_reads: Vec<Op<u32, i64>>,
    }

    impl Generated {
        fn with_final_reads(&self) -> Vec<Op<u32, i64>> {
            self.ops.iter().chain(&self.final_reads).cloned().collect()
        }
    }

    /// Simulates `g.processes` clients against an atomic register per key: each op takes effect
    /// at a random instant strictly inside its interval (or, if its response is lost, at any
    /// later instant or never), and its result is what the register returned at that instant.
    fn random_history(rng: &mut XorShift, g: &Gen) -> Generated {
        struct Pending {
            op: Op<u32, i64>,
            lin: Option<u64>,
        }
        let mut pending: Vec<Pending> = Vec::new();
        let mut clock = vec![0u64; g.processes as usize];
        let mut next_value = 1000i64;
        for _ in 0..g.ops {
            // Pick the process that is free earliest (ties random): a closed-loop client pool.
            let p = (0..g.processes as usize)
                .min_by_key(|&p| (clock[p], rng.below(1 << 20)))
                .unwrap();
            let invoke = clock[p] + rng.below(3);
            let mut lat = 1 + rng.below(g.max_latency);
            if rng.permille(20) {
                lat *= 10;
            }
            let complete = invoke + lat;
            clock[p] = complete;
            let key = rng.below(u64::from(g.keys)) as u32;
            let value = if g.small_values {
                rng.below(4) as i64
            } else {
                next_value += 1;
                next_value
            };
            let r = rng.below(100);
            let call = if r < 40 {
                Call::Read
            } else if r < 65 {
                Call::Write(value)
            } else if r < 90 {
                // The expected version is fixed when applying (see below).
                Call::CasVersion {
                    expected: -1,
                    new: value,
                }
            } else {
                Call::CasValue {
                    expected: if g.small_values {
                        rng.below(4) as i64
                    } else {
                        -1
                    },
                    new: value,
                }
            };
            let lost = !matches!(call, Call::Read) && rng.permille(g.lost_permille);
            // Times are scaled by 4; linearization points are odd, strictly inside intervals.
            let (inv, comp) = (invoke * 4, complete * 4);
            let lin = if lost {
                rng.permille(500)
                    .then(|| inv + 1 + 2 * rng.below(4 * lat * 3))
            } else {
                Some(inv + 1 + 2 * rng.below(2 * lat))
            };
            let ret = if lost {
                Ret::Indeterminate
            } else {
                Ret::Ok { version: None }
            };
            let op = Op::new(
                p as u64,
                key,
                call,
                inv,
                if lost { None } else { Some(comp) },
                ret,
            );
            pending.push(Pending { op, lin });
        }
        let end = pending
            .iter()
            .map(|p| p.lin.unwrap_or(0).max(p.op.complete.unwrap_or(0)))
            .max()
            .unwrap_or(0);
        // Apply in linearization order.
        let mut order: Vec<usize> = (0..pending.len())
            .filter(|&i| pending[i].lin.is_some())
            .collect();
        order.sort_by_key(|&i| pending[i].lin);
        let mut regs: HashMap<u32, Register<i64>> = HashMap::new();
        let mut values_seen: HashMap<u32, Vec<i64>> = HashMap::new();
        for i in order {
            let reg = regs.entry(pending[i].op.key).or_insert(Register::new(0, 0));
            let lost = pending[i].op.ret.is_indeterminate();
            let op = &mut pending[i].op;
            match &mut op.call {
                Call::Read => {
                    let version = (!rng.permille(g.no_version_permille)).then_some(reg.version);
                    op.ret = Ret::Read {
                        value: reg.value,
                        version,
                    };
                }
                Call::Write(v) => {
                    *reg = Register::new(*v, reg.version + 1);
                    if !lost {
                        op.ret = Ret::Ok {
                            version: rng.permille(700).then_some(reg.version),
                        };
                    }
                }
                Call::CasVersion { expected, new } => {
                    // Usually the current version (success), sometimes a near miss.
                    *expected = reg.version
                        + if rng.permille(600) {
                            0
                        } else {
                            rng.below(5) as i32 - 2
                        };
                    let ok = reg.version == *expected;
                    if ok {
                        *reg = Register::new(*new, reg.version + 1);
                    }
                    if !lost {
                        op.ret = if ok {
                            Ret::Ok {
                                version: rng.permille(500).then_some(reg.version),
                            }
                        } else {
                            Ret::CasFailed
                        };
                    }
                }
                Call::CasValue { expected, new } => {
                    if *expected == -1 {
                        let seen = values_seen.entry(op.key).or_default();
                        *expected = if rng.permille(600) || seen.is_empty() {
                            reg.value
                        } else {
                            seen[rng.below(seen.len() as u64) as usize]
                        };
                    }
                    let ok = reg.value == *expected;
                    if ok {
                        *reg = Register::new(*new, reg.version + 1);
                    }
                    if !lost {
                        op.ret = if ok {
                            Ret::Ok { version: None }
                        } else {
                            Ret::CasFailed
                        };
                    }
                }
            }
            values_seen.entry(op.key).or_default().push(reg.value);
        }
        // Lost ops that never took effect keep their arbitrary arguments; give unresolved
        // CasValue ops a concrete expected value.
        for p in &mut pending {
            if let Call::CasValue { expected, .. } = &mut p.op.call {
                if *expected == -1 {
                    *expected = 0;
                }
            }
        }
        let final_reads = (0..g.keys)
            .map(|k| {
                let r = regs.get(&k).cloned().unwrap_or(Register::new(0, 0));
                Op::read(999, k, end + 4, end + 8, r.value, r.version)
            })
            .collect();
        // Shuffle: the checker must not depend on the input order.
        let mut ops: Vec<Op<u32, i64>> = pending.into_iter().map(|p| p.op).collect();
        for i in (1..ops.len()).rev() {
            ops.swap(i, rng.below(i as u64 + 1) as usize);
        }
        Generated { ops, final_reads }
    }

    /// Changes one definite result so that it disagrees with the simulation. Returns the index
    /// changed, or None if the randomly chosen op has nothing to corrupt.
    fn corrupt(rng: &mut XorShift, ops: &mut [Op<u32, i64>]) -> Option<usize> {
        let i = rng.below(ops.len() as u64) as usize;
        let op = &mut ops[i];
        match (&op.call, &mut op.ret) {
            (Call::Read, Ret::Read { value, version }) => match (rng.below(3), version.as_mut()) {
                (0, Some(v)) | (1, Some(v)) => *v += if rng.permille(500) { 1 } else { -1 },
                _ => *value = if rng.permille(500) { *value + 1 } else { 77 },
            },
            (Call::Write(_), Ret::Ok { version: Some(v) }) => *v += 1,
            (Call::CasVersion { .. } | Call::CasValue { .. }, r @ Ret::Ok { .. }) => {
                *r = Ret::CasFailed
            }
            (Call::CasVersion { .. } | Call::CasValue { .. }, r @ Ret::CasFailed) => {
                *r = Ret::Ok { version: None }
            }
            _ => return None,
        }
        Some(i)
    }

    fn check_generated(ops: &[Op<u32, i64>]) -> Result<Stats, CheckError<u32, i64>> {
        check(ops, |_| Register::new(0, 0), &Limits::default())
    }

    #[test]
    fn random_valid_histories_pass_and_corrupted_ones_fail() {
        let configs = [
            Gen::default(),
            Gen {
                keys: 3,
                ops: 600,
                ..Gen::default()
            },
            Gen {
                processes: 10,
                max_latency: 50,
                ..Gen::default()
            },
            Gen {
                small_values: true,
                ..Gen::default()
            },
            Gen {
                small_values: true,
                no_version_permille: 1000,
                lost_permille: 0,
                ..Gen::default()
            },
            Gen {
                lost_permille: 100,
                ops: 200,
                ..Gen::default()
            },
        ];
        let (mut corrupted, mut rejected, mut inconclusive) = (0u32, 0u32, 0u32);
        for (c, g) in configs.iter().enumerate() {
            for seed in 0..40u64 {
                let mut rng = XorShift::new(seed * 31 + c as u64);
                let h = random_history(&mut rng, g);
                if let Err(e) = check_generated(&h.ops) {
                    panic!("config {c} seed {seed}: valid history rejected: {e}");
                }
                let full = h.with_final_reads();
                if let Err(e) = check_generated(&full) {
                    panic!("config {c} seed {seed}: valid history with final reads rejected: {e}");
                }
                let mut bad = if seed % 2 == 0 { full } else { h.ops.clone() };
                let i = loop {
                    if let Some(i) = corrupt(&mut rng, &mut bad) {
                        break i;
                    }
                };
                corrupted += 1;
                match check_generated(&bad) {
                    Err(CheckError::NotLinearizable(_)) => rejected += 1,
                    Ok(_) if std::env::var("LIN_DEBUG").is_ok() => {
                        eprintln!(
                            "config {c} seed {seed}: accepted {} (was {})",
                            bad[i],
                            h.with_final_reads()[i]
                        )
                    }
                    Err(CheckError::Inconclusive { .. }) => inconclusive += 1,
                    Err(e) => panic!("{e}"),
                    Ok(_) => {}
                }
            }
        }
        eprintln!("corrupted {corrupted}, rejected {rejected}, inconclusive {inconclusive}");
        assert_eq!(inconclusive, 0);
        // Some corruptions are undetectable (e.g. a value-only read moved to a concurrent write's
        // value, or a flipped CAS compensated by a lost write); nearly all are caught.
        assert!(
            rejected * 100 >= corrupted * 90,
            "only {rejected} of {corrupted} corrupted histories rejected"
        );
    }

    #[test]
    fn corruptions_without_lost_ops_are_caught() {
        // Unique values, versions on every read, no lost operations, and a final read: almost
        // every corruption is detectable. (Exceptions: a write's reported version moved to that
        // of a concurrent write whose own version was not reported.)
        let g = Gen {
            no_version_permille: 0,
            lost_permille: 0,
            ..Gen::default()
        };
        let (mut corrupted, mut rejected) = (0, 0);
        for seed in 0..100u64 {
            let mut rng = XorShift::new(5000 + seed);
            let mut h = random_history(&mut rng, &g).with_final_reads();
            while corrupt(&mut rng, &mut h).is_none() {}
            corrupted += 1;
            if check_generated(&h).is_err_and(|e| e.is_violation()) {
                rejected += 1;
            } else if std::env::var("LIN_DEBUG").is_ok() {
                let mut sorted = h.clone();
                sorted.sort_by_key(|o| o.invoke);
                for o in &sorted[sorted.len() - 12..] {
                    eprintln!("  {o}");
                }
                eprintln!("seed {seed} accepted");
            }
        }
        eprintln!("{rejected} of {corrupted} rejected");
        assert!(rejected >= 98, "only {rejected} of {corrupted} rejected");
    }

    /// Reference: try every order (respecting real time) of every subset containing all definite
    /// ops, with an independently written model. Exponential; for tiny histories only.
    fn brute_force(ops: &[Op<u32, i64>], init: &Register<i64>) -> bool {
        fn model(s: &Register<i64>, op: &Op<u32, i64>) -> Vec<Register<i64>> {
            let (applies, new) = match &op.call {
                Call::Read => {
                    return match &op.ret {
                        Ret::Read { value, version }
                            if *value == s.value && version.is_none_or(|v| v == s.version) =>
                        {
                            vec![s.clone()]
                        }
                        _ => vec![],
                    }
                }
                Call::Write(v) => (true, *v),
                Call::CasVersion { expected, new } => (s.version == *expected, *new),
                Call::CasValue { expected, new } => (s.value == *expected, *new),
            };
            let written = Register::new(new, s.version + 1);
            match &op.ret {
                Ret::Indeterminate => vec![s.clone(), written]
                    .into_iter()
                    .filter(|r| applies || r == s)
                    .collect(),
                Ret::Ok { version } if applies && version.is_none_or(|v| v == written.version) => {
                    vec![written]
                }
                Ret::CasFailed if !applies => vec![s.clone()],
                _ => vec![],
            }
        }
        fn go(ops: &[Op<u32, i64>], done: &mut [bool], s: &Register<i64>) -> bool {
            if (0..ops.len()).all(|i| done[i] || ops[i].ret.is_indeterminate()) {
                return true;
            }
            for c in 0..ops.len() {
                let blocked = (0..ops.len()).any(|d| {
                    !done[d]
                        && d != c
                        && ops[d]
                            .complete
                            .is_some_and(|t| !ops[d].ret.is_indeterminate() && t < ops[c].invoke)
                });
                if done[c] || blocked {
                    continue;
                }
                for ns in model(s, &ops[c]) {
                    done[c] = true;
                    if go(ops, done, &ns) {
                        return true;
                    }
                    done[c] = false;
                }
            }
            false
        }
        go(ops, &mut vec![false; ops.len()], init)
    }

    #[test]
    fn agrees_with_brute_force_on_small_histories() {
        let mut rng = XorShift::new(99);
        let (mut ok, mut bad) = (0, 0);
        for round in 0..3000 {
            let ops: Vec<Op<u32, i64>> = if round % 2 == 0 {
                // Simulated, then maybe corrupted.
                let g = Gen {
                    processes: 3,
                    ops: 3 + rng.below(5) as usize,
                    small_values: rng.permille(500),
                    lost_permille: 150,
                    no_version_permille: 300,
                    max_latency: 6,
                    ..Gen::default()
                };
                let mut h = random_history(&mut rng, &g).ops;
                if rng.permille(600) {
                    for _ in 0..20 {
                        if corrupt(&mut rng, &mut h).is_some() {
                            break;
                        }
                    }
                }
                h
            } else {
                // Arbitrary results from small domains.
                (0..2 + rng.below(5))
                    .map(|p| {
                        let invoke = rng.below(10);
                        let complete = invoke + rng.below(6);
                        let v = rng.below(3) as i64;
                        let (ver, ver2) = (rng.below(3) as i32, rng.below(3) as i32);
                        match rng.below(5) {
                            0 | 1 => Op::read(
                                p,
                                0,
                                invoke,
                                complete,
                                v,
                                if rng.permille(700) { Some(ver) } else { None },
                            ),
                            2 => {
                                if rng.permille(200) {
                                    Op::indeterminate(p, 0, invoke, Call::Write(v))
                                } else {
                                    Op::write(
                                        p,
                                        0,
                                        invoke,
                                        complete,
                                        v,
                                        if rng.permille(500) { Some(ver2) } else { None },
                                    )
                                }
                            }
                            3 => {
                                let (e, ok) = (ver, rng.permille(500));
                                if rng.permille(200) {
                                    Op::indeterminate(
                                        p,
                                        0,
                                        invoke,
                                        Call::CasVersion {
                                            expected: e,
                                            new: v,
                                        },
                                    )
                                } else {
                                    Op::cas(p, 0, invoke, complete, e, v, ok)
                                }
                            }
                            _ => Op::cas_value(
                                p,
                                0,
                                invoke,
                                complete,
                                rng.below(3) as i64,
                                v,
                                rng.permille(500),
                            ),
                        }
                    })
                    .collect()
            };
            let expected = brute_force(&ops, &Register::new(0, 0));
            let got = check_generated(&ops);
            match (&got, expected) {
                (Ok(_), true) => ok += 1,
                (Err(CheckError::NotLinearizable(_)), false) => bad += 1,
                _ => panic!(
                    "round {round}: brute force says {expected}, checker says {got:?}\n{ops:#?}"
                ),
            }
        }
        eprintln!("{ok} linearizable, {bad} not");
        assert!(
            ok > 600 && bad > 600,
            "{ok} linearizable, {bad} not: both verdicts must be exercised"
        );
    }

    #[test]
    fn corrupting_versioned_reads_always_fails() {
        // With unique values and versions on every read, a read reporting a (value, version)
        // pair the register never held must always be caught.
        let g = Gen {
            no_version_permille: 0,
            ..Gen::default()
        };
        for seed in 0..50u64 {
            let mut rng = XorShift::new(1000 + seed);
            let mut h = random_history(&mut rng, &g).ops;
            let reads: Vec<usize> = (0..h.len())
                .filter(|&i| matches!(h[i].ret, Ret::Read { .. }))
                .collect();
            let i = reads[rng.below(reads.len() as u64) as usize];
            if let Ret::Read {
                version: Some(v), ..
            } = &mut h[i].ret
            {
                *v += 1;
            }
            let e = check_generated(&h).expect_err("corrupted read accepted");
            let v = e.violation().unwrap_or_else(|| panic!("{e}"));
            assert!(
                v.op.invoke <= h[i].complete.unwrap(),
                "blamed op starts after the corrupted one"
            );
        }
    }

    /// Every shape of generated history checks, and in bounded time (`--nocapture` shows
    /// the timings).
    #[test]
    fn perf_matrix() {
        for lost in [0, 10, 50] {
            for procs in [3, 5, 8] {
                for nv in [0, 100, 1000] {
                    let g = Gen {
                        processes: procs,
                        ops: 4000,
                        lost_permille: lost,
                        no_version_permille: nv,
                        ..Gen::default()
                    };
                    let h = random_history(&mut XorShift::new(42), &g);
                    let t = Instant::now();
                    let st = check_generated(&h.ops);
                    let took = t.elapsed();
                    eprintln!(
                        "lost {lost} procs {procs} nover {nv}: {took:?} {:?}",
                        st.as_ref().map(|s| (s.steps, s.states))
                    );
                    assert!(
                        st.is_ok(),
                        "valid history rejected: lost {lost} procs {procs} nover {nv}"
                    );
                    assert!(took < Duration::from_secs(20), "check too slow: {took:?}");
                }
            }
        }
    }

    #[test]
    fn large_history_is_fast() {
        // 4000 ops on one key, 8 clients, 1% lost writes: must finish quickly even in a debug build.
        let g = Gen {
            processes: 8,
            ops: 4000,
            lost_permille: 10,
            ..Gen::default()
        };
        let h = random_history(&mut XorShift::new(42), &g);
        let t = Instant::now();
        let st = check_generated(&h.ops).unwrap();
        let el = t.elapsed();
        eprintln!("4000 ops: {el:?}, {st:?}");
        assert!(el < Duration::from_secs(20), "took {el:?}");
    }
}
