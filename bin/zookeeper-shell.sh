#!/usr/bin/env bash
# Kafka's script: zookeeper-shell.sh zookeeper_host:port[/path] [args...]
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
if [ $# -lt 1 ]; then
    echo "USAGE: $0 zookeeper_host:port[/path] [args...]"
    exit 1
fi
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" zookeeper-shell -server "$@"
