#!/usr/bin/env bash
# Benchmark zkraft against Apache ZooKeeper 3.8 on this machine (see docs/benchmarks.md).
#
#   scripts/bench-zk.sh                      # full run with the defaults below (~3 min + build)
#   scripts/bench-zk.sh --servers zkraft     # any zk-bench flag is passed through (later flags win)
#   scripts/bench-zk.sh --help               # all flags
#
# Builds the release zk-server and zk-bench, then runs every workload against each server
# (started fresh, one at a time, on free 127.0.0.1 ports, fsync on, default snapCount).
# The Markdown report goes to stdout, progress to stderr:
#
#   scripts/bench-zk.sh > bench-results.md
#
# Env: ZK_BENCH_DATA_ROOT (default <repo>/target/zk-bench; must be a real disk, not tmpfs),
#      ZK_JAVA, ZK_APACHE_CLASSPATH, ZKRAFT_ZK_SERVER, CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DATA_ROOT="${ZK_BENCH_DATA_ROOT:-$TARGET/zk-bench}"

echo "[bench-zk] building release zk-server and zk-bench" >&2
cargo build --release -p zk --bin zk-server -p bench --bin zk-bench >&2

# Defaults: 8 sessions x 64 outstanding, 100-byte values over 1000 keys, 20 s measured per
# throughput workload, 10 s of sync creates, 2 s warm-up per workload, 5 s global warm-up.
# Per server that is ~90 s; both servers ~3 minutes.
exec "$TARGET/release/zk-bench" \
    --servers zkraft,apache \
    --workloads sync,write,read,mix \
    --duration 20 \
    --sync-duration 10 \
    --warmup 2 \
    --warmup-global 5 \
    --sessions 8 \
    --outstanding 64 \
    --value-size 100 \
    --keys 1000 \
    --write-pct 10 \
    --data-root "$DATA_ROOT" \
    "$@"
