#!/usr/bin/env bash
# ZooKeeper's shell: zkCli.sh [-server host:port[/chroot]] [-timeout ms] [-r] [--json] [cmd args...]
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
bin="$(zkraft_bin zkraft)" || exit 1
exec "$bin" zookeeper-shell "$@"
