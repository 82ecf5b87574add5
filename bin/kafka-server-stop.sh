#!/usr/bin/env bash
# Kafka's script: stops every zkraft broker of this user with SIGTERM (clean shutdown).
pids=$(pgrep -u "$(id -u)" -f 'kafka-server( |$)' || true)
if [ -z "$pids" ]; then
    echo "No kafka server to stop"
    exit 1
fi
kill -s TERM $pids
