#!/usr/bin/env bash
# Start, stop or check a standalone Apache ZooKeeper server for development and tests, without systemd.
#
#   scripts/zookeeper.sh start  [--port PORT] [--host ADDR] [--dir DIR] [--tick MS] [--foreground] [--watch-pid PID]
#                               [--id N --ensemble HOST1,HOST2,HOST3]
#   scripts/zookeeper.sh stop   [--dir DIR]
#   scripts/zookeeper.sh kill   [--dir DIR]          kill -9 (a crash: no clean shutdown)
#   scripts/zookeeper.sh status [--port PORT] [--host ADDR] [--dir DIR]
#   scripts/zookeeper.sh mode   [--port PORT] [--host ADDR]   prints leader, follower or standalone (`srvr`)
#
# Defaults: host 127.0.0.1 (the address it listens on and is probed at), port 2181, dir ./local/zookeeper, tick 2000 ms. DIR holds zoo.cfg, data/, logs/zk.out and zk.pid.
# With --id N --ensemble H1,H2,... the server is member N (1-based) of a replicated ensemble: data/myid holds N and
# zoo.cfg lists `server.K=HK:2888:3888` for every member; `start` then returns once the client port answers
# (a member alone has no quorum and does not serve yet: wait for `mode` to say leader or follower).
# Installs Debian's `zookeeper` package when /usr/share/java/zookeeper.jar is missing (needs root and apt).
# `start` returns once the server answers `ruok` with `imok` (or fails after 60 s, printing the server log).
# With --watch-pid PID the server is also stopped as soon as process PID exits (test harnesses use this so
# a killed test run never leaves a server behind).
set -euo pipefail

cmd=${1:-}
[ -n "$cmd" ] && shift || true
port=2181
host=127.0.0.1
dir=local/zookeeper
tick=2000
foreground=0
watch_pid=
server_id=
ensemble=
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --tick) tick=$2; shift 2 ;;
    --foreground) foreground=1; shift ;;
    --watch-pid) watch_pid=$2; shift 2 ;;
    --id) server_id=$2; shift 2 ;;
    --ensemble) ensemble=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "zookeeper.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$port" in ''|*[!0-9]*) echo "zookeeper.sh: --port must be a number, got '$port'" >&2; exit 2 ;; esac
if [ -n "$server_id$ensemble" ]; then
  case "$server_id" in ''|*[!0-9]*|0) echo "zookeeper.sh: --id must be a member number 1..255 with --ensemble, got '$server_id'" >&2; exit 2 ;; esac
  [ -n "$ensemble" ] || { echo "zookeeper.sh: --id needs --ensemble HOST1,HOST2,HOST3" >&2; exit 2; }
  members=$(echo "$ensemble" | tr ',' ' ' | wc -w)
  [ "$server_id" -le "$members" ] || { echo "zookeeper.sh: --id $server_id but --ensemble has $members members" >&2; exit 2; }
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile="$dir/zk.pid"
jar=/usr/share/java/zookeeper.jar

install_zookeeper() {
  [ -f "$jar" ] && return 0
  echo "zookeeper.sh: $jar missing; installing Debian's zookeeper package" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "zookeeper.sh: run as root or install it yourself: apt-get install zookeeper" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq zookeeper >/dev/null
  [ -f "$jar" ] || { echo "zookeeper.sh: installing zookeeper did not provide $jar" >&2; exit 1; }
}

# Prints the reply to a four-letter word, or nothing; every probe has a timeout (a probe sent while the
# server starts can otherwise hang forever).
probe() {
  timeout 10 python3 - "$host" "$port" "$1" <<'PY' 2>/dev/null || true
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 2.0)
s.settimeout(3.0)
s.sendall(sys.argv[3].encode())
out = b""
while len(out) < 4096:
    chunk = s.recv(4096)
    if not chunk:
        break
    out += chunk
print(out.decode(errors="replace").strip())
PY
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_cfg() {
  mkdir -p "$dir/data" "$dir/logs"
  cat > "$dir/zoo.cfg" <<EOF
tickTime=$tick
dataDir=$dir/data
clientPort=$port
clientPortAddress=$host
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons,dump
forceSync=no
preAllocSize=4096
EOF
  if [ -n "$ensemble" ]; then
    # A replicated member: initLimit/syncLimit in ticks (10 and 5, as Debian's sample), one line per member.
    echo "$server_id" > "$dir/data/myid"
    {
      echo "initLimit=10"
      echo "syncLimit=5"
      local k=0 h
      for h in $(echo "$ensemble" | tr ',' ' '); do
        k=$((k + 1))
        echo "server.$k=$h:2888:3888"
      done
    } >> "$dir/zoo.cfg"
  fi
}

java_cmd=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$jar"
          org.apache.zookeeper.server.quorum.QuorumPeerMain)

case "$cmd" in
  start)
    install_zookeeper
    if pid=$(running_pid); then
      echo "zookeeper.sh: already running (pid $pid, dir $dir)"
      exit 0
    fi
    write_cfg
    if [ "$foreground" = 1 ]; then
      echo $$ > "$pidfile"
      exec "${java_cmd[@]}" "$dir/zoo.cfg"
    fi
    nohup "${java_cmd[@]}" "$dir/zoo.cfg" > "$dir/logs/zk.out" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    if [ -n "$watch_pid" ]; then
      zk=$(cat "$pidfile")
      nohup bash -c "while kill -0 $watch_pid 2>/dev/null && kill -0 $zk 2>/dev/null; do sleep 1; done; kill $zk 2>/dev/null" \
        >/dev/null 2>&1 < /dev/null &
    fi
    for _ in $(seq 1 600); do
      if [ "$(probe ruok)" = imok ] || { [ -n "$ensemble" ] && [ -n "$(probe srvr)" ]; }; then
        echo "zookeeper.sh: serving on $host:$port (pid $(cat "$pidfile"), dir $dir)"
        exit 0
      fi
      if ! running_pid >/dev/null; then
        echo "zookeeper.sh: server exited during start-up; its output:" >&2
        cat "$dir/logs/zk.out" >&2 || true
        rm -f "$pidfile"
        exit 1
      fi
      sleep 0.1
    done
    echo "zookeeper.sh: no answer on port $port after 60 s; stopping it. Output:" >&2
    cat "$dir/logs/zk.out" >&2 || true
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
    ;;
  stop)
    if ! pid=$(running_pid); then
      rm -f "$pidfile"
      echo "zookeeper.sh: not running (dir $dir)"
      exit 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "zookeeper.sh: stopped pid $pid"
    ;;
  kill)
    if pid=$(running_pid); then
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "zookeeper.sh: killed pid $pid (kill -9)"
    else
      echo "zookeeper.sh: not running (dir $dir)"
    fi
    rm -f "$pidfile"
    ;;
  mode)
    probe srvr | sed -n 's/^Mode: //p'
    ;;
  status)
    if pid=$(running_pid) && [ "$(probe ruok)" = imok ]; then
      echo "zookeeper.sh: serving on $host:$port (pid $pid)"
      exit 0
    fi
    echo "zookeeper.sh: not serving on $host:$port (dir $dir)"
    exit 3
    ;;
  *)
    echo "usage: scripts/zookeeper.sh start|stop|kill|status|mode [--id N --ensemble H1,H2,H3] [--port PORT] [--host ADDR] [--dir DIR] [--tick MS] [--foreground] [--watch-pid PID]" >&2
    exit 2
    ;;
esac
