#!/usr/bin/env bash
# storm-rs quickstart: from a fresh Debian machine (root, Rust installed) to a running word count.
#
#   scripts/quickstart.sh [start]   build (release), start ZooKeeper, nimbus, a supervisor, drpc, the Storm
#                                   UI (ui.port, 8080) and the logviewer (logviewer.port, 8000) under local/,
#                                   submit the word count as `wc`, show `storm list` and live counts, and
#                                   print the UI's and the logviewer's URLs
#   scripts/quickstart.sh status    which daemons run, their URLs, and `storm list`
#   scripts/quickstart.sh stop      kill `wc`, the workers, the daemons and ZooKeeper
#
# Everything uses conf/storm.toml (storm.local.dir = "local", logs in local/logs). Each daemon runs in the
# background with its pid in local/logs/<daemon>.pid and its console output in local/logs/<daemon>.out;
# its own log is local/logs/<daemon>.log, and each worker's is under local/logs/workers-artifacts/.
# ZooKeeper (Debian's package, installed on first use) runs from local/zookeeper on port 2181.
# Environment: TOPOLOGY (default wc), WAIT_SECS (default 90) for each readiness wait.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/target/release
CONF=$ROOT/conf/storm.toml
LOGS=$ROOT/local/logs
TOPOLOGY=${TOPOLOGY:-wc}
WAIT_SECS=${WAIT_SECS:-90}
DAEMONS=(nimbus supervisor drpc ui logviewer)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "quickstart.sh: $*" >&2; exit 1; }

storm() { "$BIN/storm" --config "$CONF" "$@"; }

pid_of() { # prints the pid of a running daemon started by this script, or nothing
  local f="$LOGS/$1.pid"
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

start_daemon() {
  local name=$1
  if [ -n "$(pid_of "$name")" ]; then
    echo "$name already running (pid $(pid_of "$name"))"
    return
  fi
  nohup "$BIN/$name" --config "$CONF" >"$LOGS/$name.out" 2>&1 </dev/null &
  echo $! >"$LOGS/$name.pid"
  echo "$name started (pid $!, log $LOGS/$name.log)"
}

stop_daemon() {
  local name=$1 pid
  pid=$(pid_of "$name")
  if [ -z "$pid" ]; then
    rm -f "$LOGS/$name.pid"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name (pid $pid) did not stop within 30 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$LOGS/$name.pid"
  echo "$name stopped"
}

# wait_for DESCRIPTION COMMAND…: runs COMMAND until it succeeds, at most WAIT_SECS seconds.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + WAIT_SECS))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "quickstart.sh: timed out after ${WAIT_SECS}s waiting for $what; see $LOGS" >&2
      return 1
    fi
    sleep 1
  done
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

conf_value() { # conf_value KEY: the value of a Storm key as the daemons see it (conf/storm.toml + defaults)
  storm localconfvalue "$1" 2>/dev/null | sed -n "s/^$1: //p"
}

urls() { # the Storm UI's and this machine's logviewer's URLs
  echo "  Storm UI:  http://localhost:$(conf_value ui.port)/"
  echo "  logviewer: http://localhost:$(conf_value logviewer.port)/"
}

topology_has_workers() { # the row of $TOPOLOGY in `storm list` shows ≥ 1 worker
  storm list 2>/dev/null | awk -v t="$TOPOLOGY" '$1 == t && $4 > 0 { found = 1 } END { exit !found }'
}

prerequisites() {
  command -v cargo >/dev/null || die "cargo not found: install Rust first (https://rustup.rs), then run me again"
  if ! command -v python3 >/dev/null; then
    # scripts/zookeeper.sh probes the server with python3.
    [ "$(id -u)" = 0 ] || die "python3 is missing; install it (apt-get install python3)"
    say "installing python3"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
  fi
}

cmd_start() {
  prerequisites
  say "building storm-rs (release): the daemons, the storm command and the word count example"
  cargo build --release --bins --example word_count
  mkdir -p "$LOGS"

  say "ZooKeeper on 127.0.0.1:2181 (local/zookeeper)"
  if scripts/zookeeper.sh status --dir local/zookeeper >/dev/null 2>&1; then
    echo "ZooKeeper already running"
  else
    scripts/zookeeper.sh start --dir local/zookeeper
  fi

  say "nimbus, supervisor, drpc, ui, logviewer"
  start_daemon nimbus
  wait_for "nimbus to answer (storm list)" storm list
  start_daemon supervisor
  start_daemon drpc
  start_daemon ui
  start_daemon logviewer
  local ui_port lv_port
  ui_port=$(conf_value ui.port)
  lv_port=$(conf_value logviewer.port)
  wait_for "drpc on port 3772" port_open 3772
  wait_for "the Storm UI on port $ui_port" port_open "$ui_port"
  wait_for "the logviewer on port $lv_port" port_open "$lv_port"

  if storm list 2>/dev/null | awk -v t="$TOPOLOGY" '$1 == t { f = 1 } END { exit !f }'; then
    say "topology $TOPOLOGY is already running"
  else
    say "storm jar target/release/examples/word_count $TOPOLOGY"
    storm jar "$BIN/examples/word_count" "$TOPOLOGY"
  fi
  wait_for "$TOPOLOGY to be scheduled on a worker" topology_has_workers

  say "storm list"
  storm list

  say "live counts: tuples emitted by the count bolt (storm monitor $TOPOLOGY -m count)"
  # The first samples come once the worker reports its stats; try a few times.
  for _ in 1 2 3 4 5; do
    if storm monitor "$TOPOLOGY" -m count -i 2 --count 3; then break; fi
    sleep 2
  done

  cat <<EOF

storm-rs is running (configuration: conf/storm.toml, files and logs: local/).
$(urls)
  target/release/storm list                          the running topologies
  target/release/storm monitor $TOPOLOGY -m count          live throughput of a component (Ctrl-C ends it)
  target/release/storm rebalance $TOPOLOGY -w 0 -n 2 -e split=3
  target/release/storm deactivate $TOPOLOGY / activate $TOPOLOGY
  target/release/storm kill $TOPOLOGY -w 1                  the worker prints the top words when it stops:
      cat local/logs/workers-artifacts/*/*/worker.log.out
  tail -f local/logs/nimbus.log local/logs/supervisor.log local/logs/ui.log
Stop everything with: scripts/quickstart.sh stop
EOF
}

cmd_status() {
  for d in "${DAEMONS[@]}"; do
    local pid
    pid=$(pid_of "$d")
    if [ -n "$pid" ]; then echo "$d: running (pid $pid)"; else echo "$d: stopped"; fi
  done
  if [ -x "$BIN/storm" ] && { [ -n "$(pid_of ui)" ] || [ -n "$(pid_of logviewer)" ]; }; then urls; fi
  scripts/zookeeper.sh status --dir local/zookeeper || true
  if [ -n "$(pid_of nimbus)" ] && [ -x "$BIN/storm" ]; then storm list || true; fi
}

cmd_stop() {
  if [ -n "$(pid_of nimbus)" ] && [ -x "$BIN/storm" ]; then
    if storm list 2>/dev/null | awk -v t="$TOPOLOGY" '$1 == t { f = 1 } END { exit !f }'; then
      say "storm kill $TOPOLOGY -w 1"
      storm kill "$TOPOLOGY" -w 1 || true
    fi
  fi
  if [ -x "$BIN/storm" ]; then
    say "stopping the workers (storm kill_workers)"
    storm kill_workers || true
  fi
  say "stopping the daemons"
  for d in ui logviewer drpc supervisor nimbus; do stop_daemon "$d"; done
  say "stopping ZooKeeper"
  scripts/zookeeper.sh stop --dir local/zookeeper || true
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help) sed -n '2,15p' "$0" ;;
  *) die "unknown command '$1'; use start, status or stop" ;;
esac
