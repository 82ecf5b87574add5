#!/usr/bin/env bash
# Kafka's script: kafka-run-class.sh (kafka-run-class, Kafka 2.4)
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]"
    exit 1
fi
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" kafka-run-class "$@"
