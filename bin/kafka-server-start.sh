#!/usr/bin/env bash
# Kafka's script: kafka-server-start.sh [-daemon] server.properties [--override property=value]*
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
daemon=0
if [ "${1:-}" = "-daemon" ]; then daemon=1; shift; fi
if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
    exit 1
fi
bin="$(zkraft_bin kafka-server)" || exit 1
if [ $daemon = 1 ]; then
    logdir="${LOG_DIR:-$ZKRAFT_HOME/logs}"
    mkdir -p "$logdir"
    nohup "$bin" "$@" >>"$logdir/kafkaServer.out" 2>&1 < /dev/null &
    echo $! > "${ZKRAFT_KAFKA_PID_FILE:-$logdir/kafka.pid}"
    exit 0
fi
# exec, so signals (SIGTERM from kafka-server-stop.sh) reach the broker itself.
exec "$bin" "$@"
