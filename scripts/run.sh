#!/usr/bin/env bash
# Runs the zkraft stack on its embedded defaults: one standalone ZooKeeper on 127.0.0.1:2181
# with data under ./data/zookeeper (conf/zoo.cfg), then one Kafka broker on 127.0.0.1:9092
# with logs under ./data/kafka-logs (config/server.properties). Ctrl-C stops both (the
# broker first, cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p zk --bin zk-server -p broker --bin kafka-server
mkdir -p data/zookeeper data/kafka-logs
# Each server runs in its own session (setsid) so that Ctrl-C on the terminal reaches only
# this script, which then stops the broker before ZooKeeper; otherwise both get SIGINT at
# once and the broker waits a whole session timeout for a ZooKeeper that is gone.
setsid bin/zookeeper-server-start.sh conf/zoo.cfg &
zk_pid=$!
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
    kill -TERM "$zk_pid" 2>/dev/null || true
    wait "$zk_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
zk_ok() {
    local reply=""
    exec 3<>/dev/tcp/127.0.0.1/2181 || return 1
    printf ruok >&3
    read -r -t 1 -n 4 reply <&3 || true
    exec 3<&-
    [ "$reply" = "imok" ]
}
# The broker needs ZooKeeper serving first.
for _ in $(seq 1 100); do
    if zk_ok 2>/dev/null; then break; fi
    if ! kill -0 "$zk_pid" 2>/dev/null; then echo "run.sh: ZooKeeper exited" >&2; exit 1; fi
    sleep 0.1
done
setsid bin/kafka-server-start.sh config/server.properties &
broker_pid=$!
wait "$broker_pid"
