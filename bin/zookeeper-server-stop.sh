#!/usr/bin/env bash
# Kafka's script name: stops every zkraft ZooKeeper server of this user with SIGTERM.
pids=$(pgrep -u "$(id -u)" -f 'zk-server( |$)' || true)
if [ -z "$pids" ]; then
    echo "No zookeeper server to stop"
    exit 1
fi
kill -s TERM $pids
