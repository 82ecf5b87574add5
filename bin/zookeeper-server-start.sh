#!/usr/bin/env bash
# Kafka's script name: zookeeper-server-start.sh [-daemon] zookeeper.properties
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
daemon=0
if [ "${1:-}" = "-daemon" ]; then daemon=1; shift; fi
if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-daemon] zookeeper.properties"
    exit 1
fi
bin="$(zkraft_bin zk-server)" || exit 1
if [ $daemon = 1 ]; then
    logdir="${LOG_DIR:-$ZKRAFT_HOME/logs}"
    mkdir -p "$logdir"
    nohup "$bin" "$1" >>"$logdir/zookeeper.out" 2>&1 < /dev/null &
    echo $! > "${ZKRAFT_PID_FILE:-$logdir/zookeeper.pid}"
    exit 0
fi
exec "$bin" "$1"
