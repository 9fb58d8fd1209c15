#!/usr/bin/env bash
# A storm-rs cluster on one machine: ZooKeeper, nimbus and N supervisors.
#
#   scripts/cluster.sh up N      start ZooKeeper, nimbus and supervisors 1..N (adds supervisors to a
#                                running cluster; never starts one twice)
#   scripts/cluster.sh status    which processes run, and `storm list`
#   scripts/cluster.sh down      kill every worker, the supervisors, nimbus and ZooKeeper
#
# Layout (under $CLUSTER_DIR, default local/cluster): zookeeper/ (data, zk.pid), nimbus/ (its
# storm.local.dir), supervisor-I/ (the storm.local.dir of supervisor I), each with logs/ (the daemon's
# log, its console output <daemon>.out, its pid file <daemon>.pid, workers-artifacts/ of its workers).
# Supervisor I gets the slot ports $SLOT_BASE+10*(I-1) … +SLOTS-1 (default 6700.., 4 slots).
# Every daemon reads conf/storm.toml plus -c overrides for its directories, ports and ZooKeeper port
# ($ZK_PORT, default 2181). Talk to the cluster with:
#   target/release/storm -c storm.zookeeper.port=$ZK_PORT list        (2181: plain `storm list`)
# Binaries: $BIN (default target/release; built with `cargo build --release --bins` if missing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-$ROOT/target/release}
CONF=$ROOT/conf/storm.toml
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/local/cluster}
ZK_PORT=${ZK_PORT:-2181}
SLOT_BASE=${SLOT_BASE:-6700}
SLOTS=${SLOTS:-4}
WAIT_SECS=${WAIT_SECS:-60}

die() { echo "cluster.sh: $*" >&2; exit 1; }

mkdir -p "$CLUSTER_DIR"
CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)

# Configuration options shared by every process of this cluster.
common_opts() {
  printf '%s\n' -c "storm.zookeeper.port=$ZK_PORT" -c 'storm.zookeeper.servers=["127.0.0.1"]' \
    -c 'nimbus.seeds=["127.0.0.1"]'
}

# Options of daemon NAME (nimbus or supervisor-I): its own local and log directories, and slot ports.
daemon_opts() {
  local name=$1 dir=$CLUSTER_DIR/$1
  common_opts
  printf '%s\n' -c "storm.local.dir=$dir" -c "storm.log.dir=$dir/logs"
  case "$name" in
    supervisor-*)
      local i=${name#supervisor-} ports='' p
      local first=$((SLOT_BASE + 10 * (i - 1)))
      for p in $(seq "$first" $((first + SLOTS - 1))); do ports="$ports${ports:+,}$p"; done
      printf '%s\n' -c "supervisor.slots.ports=[$ports]"
      ;;
  esac
}

storm_for() { # storm_for NAME ARGS…: the storm command as daemon NAME sees the cluster
  local name=$1
  shift
  local opts=()
  mapfile -t opts < <(daemon_opts "$name")
  "$BIN/storm" --config "$CONF" "${opts[@]}" "$@"
}

pidfile() { echo "$CLUSTER_DIR/$1/logs/$(program "$1").pid"; }
program() { case "$1" in supervisor-*) echo supervisor ;; *) echo "$1" ;; esac; }

pid_of() {
  local f
  f=$(pidfile "$1")
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

start_daemon() {
  local name=$1 prog
  prog=$(program "$name")
  if [ -n "$(pid_of "$name")" ]; then
    echo "$name: already running (pid $(pid_of "$name"))"
    return
  fi
  mkdir -p "$CLUSTER_DIR/$name/logs"
  local opts=()
  mapfile -t opts < <(daemon_opts "$name")
  nohup "$BIN/$prog" --config "$CONF" "${opts[@]}" \
    >"$CLUSTER_DIR/$name/logs/$prog.out" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  echo "$name: started (pid $!)"
}

stop_daemon() {
  local name=$1 pid
  pid=$(pid_of "$name")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name: did not stop within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "$name: stopped"
  fi
  rm -f "$(pidfile "$name")"
}

supervisors() { # the supervisor-I directories of this cluster, in order
  local d
  for d in "$CLUSTER_DIR"/supervisor-*; do
    [ -d "$d" ] && basename "$d"
  done | sort -t- -k2 -n
}

cmd_up() {
  local n=${1:-}
  case "$n" in '' | *[!0-9]* | 0) die "usage: cluster.sh up N (N ≥ 1 supervisors)" ;; esac
  if [ ! -x "$BIN/storm" ] || [ ! -x "$BIN/nimbus" ] || [ ! -x "$BIN/supervisor" ] || [ ! -x "$BIN/worker" ]; then
    [ "$BIN" = "$ROOT/target/release" ] || die "no storm binaries in $BIN"
    cargo build --release --bins
  fi
  if ! scripts/zookeeper.sh status --port "$ZK_PORT" --dir "$CLUSTER_DIR/zookeeper" >/dev/null 2>&1; then
    scripts/zookeeper.sh start --port "$ZK_PORT" --dir "$CLUSTER_DIR/zookeeper"
  fi
  start_daemon nimbus
  local deadline=$((SECONDS + WAIT_SECS))
  until storm_for nimbus list >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "nimbus did not answer within ${WAIT_SECS}s; see $CLUSTER_DIR/nimbus/logs"
    sleep 0.5
  done
  local i
  for i in $(seq 1 "$n"); do start_daemon "supervisor-$i"; done
  echo "cluster up: nimbus + $n supervisor(s), ZooKeeper on port $ZK_PORT; files in $CLUSTER_DIR"
}

cmd_down() {
  local s
  for s in $(supervisors); do
    # Workers outlive their supervisor (as in Storm): kill them with the supervisor's own view.
    if [ -d "$CLUSTER_DIR/$s/workers" ] && [ -x "$BIN/storm" ]; then
      storm_for "$s" kill_workers || echo "$s: storm kill_workers failed" >&2
    fi
    stop_daemon "$s"
  done
  stop_daemon nimbus
  scripts/zookeeper.sh stop --dir "$CLUSTER_DIR/zookeeper" || true
  echo "cluster down"
}

cmd_status() {
  local name pid
  for name in nimbus $(supervisors); do
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
  done
  scripts/zookeeper.sh status --port "$ZK_PORT" --dir "$CLUSTER_DIR/zookeeper" || true
  if [ -n "$(pid_of nimbus)" ]; then storm_for nimbus list || true; fi
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  -h | --help) sed -n '2,17p' "$0" ;;
  *) die "usage: cluster.sh up N | down | status" ;;
esac
