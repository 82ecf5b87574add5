#!/usr/bin/env bash
# ZooKeeper's script: zkServer.sh start|start-foreground|stop|status|restart [CONFIG]
source "$(dirname "${BASH_SOURCE[0]}")/zk-common.sh"
cmd="${1:-}"
cfg="${2:-${ZOOCFG:-$ZKRAFT_HOME/conf/zoo.cfg}}"
echo "ZooKeeper JMX enabled by default" >&2
echo "Using config: $cfg" >&2
bin="$(zkraft_bin zk-server)" || exit 1
# The pid file lives in dataDir, as ZooKeeper keeps zookeeper_server.pid there.
datadir=$(sed -n 's/^[[:space:]]*dataDir[[:space:]]*[=:][[:space:]]*//p' "$cfg" 2>/dev/null | tail -n1)
pidfile="${ZOOPIDFILE:-${datadir:-/tmp}/zookeeper_server.pid}"
port=$(sed -n 's/^[[:space:]]*clientPort[[:space:]]*[=:][[:space:]]*//p' "$cfg" 2>/dev/null | tail -n1)
host=$(sed -n 's/^[[:space:]]*clientPortAddress[[:space:]]*[=:][[:space:]]*//p' "$cfg" 2>/dev/null | tail -n1)
case "$cmd" in
start)
    echo -n "Starting zookeeper ... " >&2
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "already running as process $(cat "$pidfile")." >&2
        exit 1
    fi
    mkdir -p "$(dirname "$pidfile")"
    logdir="${ZOO_LOG_DIR:-$ZKRAFT_HOME/logs}"
    mkdir -p "$logdir"
    nohup "$bin" "$cfg" >>"$logdir/zookeeper.out" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    echo "STARTED" >&2
    ;;
start-foreground)
    exec "$bin" "$cfg"
    ;;
stop)
    echo -n "Stopping zookeeper ... " >&2
    if [ ! -f "$pidfile" ]; then
        echo "no zookeeper to stop (could not find file $pidfile)" >&2
        exit 0
    fi
    pid=$(cat "$pidfile")
    kill -s TERM "$pid" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
    echo "STOPPED" >&2
    ;;
restart)
    "$0" stop "$cfg"; sleep 1; exec "$0" start "$cfg"
    ;;
status)
    out=$(exec 3<>"/dev/tcp/${host:-127.0.0.1}/${port:-2181}" && printf srvr >&3 && cat <&3) 2>/dev/null
    mode=$(printf '%s\n' "$out" | sed -n 's/^Mode: //p')
    if [ -z "$mode" ]; then
        echo "Error contacting service. It is probably not running." >&2
        exit 1
    fi
    echo "Client port found: ${port:-2181}. Client address: ${host:-localhost}. Client SSL: false." >&2
    echo "Mode: $mode" >&2
    ;;
version)
    # ZooKeeper's VersionInfoMain line.
    echo "Apache ZooKeeper, version $("$bin" --version)"
    ;;
*)
    echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd}" >&2
    exit 1
    ;;
esac
