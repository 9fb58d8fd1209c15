#!/usr/bin/env bash
# A multi-host storm-rs cluster on one machine: N Linux network namespaces ("hosts") joined by a bridge,
# each with its own address and host name. Needs root and iproute2 (`ip netns`, veth, bridge).
#
#   scripts/hosts.sh up N [--name PFX] [--subnet A.B.C] [--zk 1|3]
#                                                         N >= 4 hosts: hosts 1..3 run a 3-node ZooKeeper
#                                                         ensemble (--zk 1: host 1 only), hosts 2 and 3 run
#                                                         nimbus (HA), hosts 4..N run a supervisor
#   scripts/hosts.sh status                               the hosts, their daemons and `storm list`
#   scripts/hosts.sh down                                 kill every daemon and worker, delete the hosts
#   scripts/hosts.sh kill I | start I                     kill -9 / (re)start the daemon of host I (2..N)
#   scripts/hosts.sh cut I | heal I                       take host I's link down (a partition) / up again
#   scripts/hosts.sh zk-stop | zk-start                   stop / start every ZooKeeper node (data kept)
#   scripts/hosts.sh zk-kill I | zk-start I               kill -9 / restart the ZooKeeper node of host I; zk-start I
#                                                         returns once it serves again (rejoined the quorum)
#   scripts/hosts.sh zk-mode I                            leader, follower or standalone
#   scripts/hosts.sh reset I [K]                          reset (`ss -K`) the K-th (mod count) established
#                                                         worker-to-worker TCP connection of host I
#   scripts/hosts.sh slow I [RATE] | unslow I             a slow host: tbf rate limit (default 200kbit) both
#                                                         ways on host I's link / removed
#   scripts/hosts.sh net-up N --name PFX --subnet A.B.C [--watch-pid PID]
#   scripts/hosts.sh net-down --name PFX                  only the namespaces (the integration tests'
#                                                         harness, tests/it/hosts_support.rs, uses these)
#
# Host I (1..N) is the namespace PFX-hI with address A.B.C.(I+1)/24 on eth0 and host name PFXhI (loopback
# up). The bridge PFX-br in the root namespace has A.B.C.1, so the CLI runs from the root namespace.
# Host names resolve everywhere: `ip netns exec` mounts /etc/netns/PFX-hI/hosts over /etc/hosts inside a
# host, and the root namespace's /etc/hosts gets a block between "# storm-rs hosts.sh PFX begin/end"
# (removed by net-down). With --watch-pid PID the hosts are deleted as soon as process PID exits.
# Defaults: PFX storm (hosts stormh1…), subnet 10.77.0. `up` writes $HOSTS_DIR (default local/hosts; --dir DIR): storm.toml
# (the cluster's configuration: storm.zookeeper.servers = the ZooKeeper hosts, nimbus.seeds = hosts 2 and 3, then the lines of
# --conf FILE, e.g. shorter timeouts) and one directory per host (storm.local.dir, logs, daemon.pid);
# --zk-tick MS sets ZooKeeper's tickTime (default 2000; session timeouts must be 2..20 ticks).
# Use the cluster from the root namespace with
#   target/release/storm --config local/hosts/storm.toml list
# Binaries: $BIN (default target/release).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
HOSTS_DIR=${HOSTS_DIR:-$ROOT/local/hosts}
WAIT_SECS=${WAIT_SECS:-60}

die() { echo "hosts.sh: $*" >&2; exit 1; }

cmd=${1:-}
[ -n "$cmd" ] && shift || true
case "$cmd" in -h|--help) sed -n '2,37p' "$0"; exit 0 ;; esac
n=
name=storm
subnet=10.77.0
watch_pid=
conf_extra=
zk_tick=2000
zk_n=3
extra_arg=
rate_arg=
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --subnet) subnet=$2; shift 2 ;;
    --watch-pid) watch_pid=$2; shift 2 ;;
    --dir) HOSTS_DIR=$2; shift 2 ;;
    --conf) conf_extra=$2; shift 2 ;;
    --zk-tick) zk_tick=$2; shift 2 ;;
    --zk) zk_n=$2; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    [0-9]*[a-z]*bit) rate_arg=$1; shift ;;
    [0-9]*) if [ -z "$n" ]; then n=$1; else extra_arg=$1; fi; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$name" in ''|*[!a-z0-9]*) die "--name must be lower-case letters and digits, got '$name'" ;; esac
[ ${#name} -le 10 ] || die "--name '$name' is longer than 10 characters (interface names are limited to 15)"
case "$zk_n" in 1|3) ;; *) die "--zk must be 1 or 3 (ZooKeeper nodes), got '$zk_n'" ;; esac
[[ "$subnet" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--subnet must be the first three octets, e.g. 10.77.0; got '$subnet'"

bridge=${name}-br
ns() { echo "${name}-h$1"; }
addr() { echo "$subnet.$(($1 + 1))"; }
host() { echo "${name}h$1"; }
hosts_lock=/run/storm-rs-hosts.lock

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth, bridge)"
  command -v ip >/dev/null || die "iproute2's ip is missing: apt-get install iproute2"
}

# Rewrites the root namespace's /etc/hosts in place (it may be a bind mount: no rename), under a lock.
edit_root_hosts() { # edit_root_hosts add|remove
  local begin="# storm-rs hosts.sh $name begin" end="# storm-rs hosts.sh $name end" tmp
  tmp=$(mktemp)
  (
    flock 9
    awk -v b="$begin" -v e="$end" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' /etc/hosts > "$tmp"
    if [ "$1" = add ]; then
      echo "$begin" >> "$tmp"
      for i in $(seq 1 "$n"); do echo "$(addr "$i") $(host "$i")" >> "$tmp"; done
      echo "$end" >> "$tmp"
    fi
    cat "$tmp" > /etc/hosts
  ) 9> "$hosts_lock"
  rm -f "$tmp"
}

net_down() {
  local i
  for nsname in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${name}-h[0-9]+$" || true); do
    # Every process still in the namespace dies with it (daemons, workers, ZooKeeper).
    for pid in $(ip netns pids "$nsname" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$nsname" 2>/dev/null || true
    rm -rf "/etc/netns/$nsname"
  done
  for i in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${name}-v[0-9]+$" || true); do
    ip link del "$i" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  n=0
  edit_root_hosts remove
}

net_up() {
  [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "net-up needs N (1..250) hosts"
  if ip link show "$bridge" >/dev/null 2>&1; then die "$bridge exists: run 'scripts/hosts.sh net-down --name $name' first"; fi
  if ip -o addr show | grep -q " $subnet\.1/"; then die "subnet $subnet.0/24 is already in use on this machine; pick another --subnet"; fi
  trap 'net_down; exit 1' ERR
  ip link add "$bridge" type bridge
  ip addr add "$subnet.1/24" dev "$bridge"
  ip link set "$bridge" up
  local hosts_file
  hosts_file=$(printf '127.0.0.1 localhost\n::1 localhost\n'; for i in $(seq 1 "$n"); do echo "$(addr "$i") $(host "$i")"; done)
  for i in $(seq 1 "$n"); do
    local nsname
    nsname=$(ns "$i")
    ip netns add "$nsname"
    ip link add "${name}-v$i" type veth peer name "${name}-e$i"
    ip link set "${name}-e$i" netns "$nsname"
    ip -n "$nsname" link set "${name}-e$i" name eth0
    ip -n "$nsname" addr add "$(addr "$i")/24" dev eth0
    ip -n "$nsname" link set eth0 up
    ip -n "$nsname" link set lo up
    ip link set "${name}-v$i" master "$bridge"
    ip link set "${name}-v$i" up
    mkdir -p "/etc/netns/$nsname"
    echo "$hosts_file" > "/etc/netns/$nsname/hosts"
    echo "$(host "$i")" > "/etc/netns/$nsname/hostname"
  done
  edit_root_hosts add
  trap - ERR
  if [ -n "$watch_pid" ]; then
    nohup bash -c "while kill -0 $watch_pid 2>/dev/null; do sleep 1; done; '$0' net-down --name '$name'" \
      >/dev/null 2>&1 < /dev/null &
  fi
  echo "hosts.sh: $n hosts ${name}h1..${name}h$n on $subnet.2..$(addr "$n") (bridge $bridge, $subnet.1)"
}

program() { case $1 in 1) echo zookeeper ;; 2|3) echo nimbus ;; *) echo supervisor ;; esac; }
programs() { # what host I runs, for status
  local p
  p=$(program "$1")
  if [ "$1" -ge 2 ] && [ "$1" -le "$zk_n" ]; then p="$p+zookeeper"; fi
  echo "$p"
}

start_daemon() { # start_daemon I: nimbus (hosts 2, 3) or supervisor (4..N) in host I's namespace
  local i=$1 prog dir=$HOSTS_DIR/h$1
  prog=$(program "$i")
  mkdir -p "$dir/logs"
  [ -x "$BIN/$prog" ] || die "$BIN/$prog is missing: cargo build --release --bins (or set BIN)"
  ip netns exec "$(ns "$i")" nohup "$BIN/$prog" --config "$HOSTS_DIR/storm.toml" \
    -c "storm.local.hostname=\"$(host "$i")\"" -c "storm.local.dir=$dir/local" -c "storm.log.dir=$dir/logs" \
    >> "$dir/logs/$prog.out" 2>&1 < /dev/null &
  echo $! > "$dir/daemon.pid"
  echo "$prog on $(host "$i") ($(addr "$i")): pid $!"
}

zk_hosts() { seq 1 "$zk_n"; }

zk_node() { # zk_node start|stop|kill|mode I: one ZooKeeper node in host I's namespace
  local op=$1 i=$2 args
  args=(--host "$(addr "$i")" --dir "$HOSTS_DIR/h$i/zookeeper")
  if [ "$op" = start ]; then
    args+=(--tick "$(cat "$HOSTS_DIR/zk-tick")")
    if [ "$zk_n" -gt 1 ]; then
      args+=(--id "$i" --ensemble "$(for k in $(zk_hosts); do printf '%s,' "$(host "$k")"; done | sed 's/,$//')")
    fi
  fi
  ip netns exec "$(ns "$i")" "$ROOT/scripts/zookeeper.sh" "$op" "${args[@]}"
}

zk_wait() { # zk_wait I...: until each node serves (leader, follower or standalone)
  local deadline=$((SECONDS + WAIT_SECS)) i mode
  for i in "$@"; do
    until mode=$(zk_node mode "$i" 2>/dev/null) && [ -n "$mode" ]; do
      [ $SECONDS -lt $deadline ] || die "ZooKeeper on $(host "$i") does not serve after ${WAIT_SECS}s; see $HOSTS_DIR/h$i/zookeeper/logs/zk.out"
      sleep 0.2
    done
    echo "zookeeper on $(host "$i"): $mode"
  done
}

zk_start() { # zk_start [I]: every node (then waits for the quorum) or node I (then waits until it serves)
  local i
  if [ -n "${1:-}" ]; then
    zk_node start "$1"
    zk_wait "$1"
    return
  fi
  for i in $(zk_hosts); do zk_node start "$i"; done
  zk_wait $(zk_hosts)
}

zk_host_arg() {
  [[ "$n_arg" =~ ^[0-9]+$ ]] && [ "$n_arg" -ge 1 ] && [ "$n_arg" -le "$zk_n" ] || die "$cmd needs a ZooKeeper host number 1..$zk_n"
}

# The established TCP connections of host I between its address and another supervisor host's (workers'
# connections to their peers; supervisors and workers talk to ZooKeeper and nimbus on hosts 1..3 only),
# as "LOCAL REMOTE" lines in a stable order.
peer_connections() {
  local i=$1 k peers=()
  for k in $(seq 4 "$n"); do [ "$k" = "$i" ] || peers+=("$(addr "$k")"); done
  ip netns exec "$(ns "$i")" ss -tnH state established | awk '{print $(NF-1), $NF}' | while read -r l r; do
    for p in "${peers[@]}"; do
      if [ "${r%:*}" = "$p" ]; then echo "$l $r"; fi
    done
  done | sort
}

reset_connection() { # reset_connection I [K]
  local i=$1 k=${2:-0} conns count l r
  conns=$(peer_connections "$i")
  count=$(echo -n "$conns" | grep -c . || true)
  [ "$count" -gt 0 ] || die "no worker-to-worker connection on $(host "$i")"
  read -r l r <<< "$(echo "$conns" | sed -n "$((k % count + 1))p")"
  ip netns exec "$(ns "$i")" ss -tnKH state established src "$l" dst "$r" >/dev/null
  echo "reset $l -> $r (1 of $count connections on $(host "$i"))"
}

slow() { # slow I RATE: tbf on host I's eth0 (egress) and on its bridge port (ingress to it)
  local i=$1 rate=$2
  ip netns exec "$(ns "$i")" tc qdisc replace dev eth0 root tbf rate "$rate" burst 16kb latency 500ms
  tc qdisc replace dev "${name}-v$i" root tbf rate "$rate" burst 16kb latency 500ms
  echo "$(host "$i") slowed to $rate both ways"
}

unslow() {
  local i=$1
  ip netns exec "$(ns "$i")" tc qdisc del dev eth0 root 2>/dev/null || true
  tc qdisc del dev "${name}-v$i" root 2>/dev/null || true
  echo "$(host "$i") at full speed"
}

up() {
  need_root
  [ -n "$n" ] && [ "$n" -ge 4 ] || die "up needs N >= 4 hosts (ZooKeeper, two nimbus, supervisors)"
  mkdir -p "$HOSTS_DIR"
  HOSTS_DIR=$(cd "$HOSTS_DIR" && pwd)
  if ip netns list | grep -q "^$(ns 1)\b"; then die "hosts of '$name' exist: scripts/hosts.sh down first"; fi
  net_up
  {
    echo "# Written by scripts/hosts.sh up $n: ZooKeeper on $(for k in $(zk_hosts); do printf '%s ' "$(host "$k")"; done)nimbus on $(host 2) and $(host 3)."
    echo "\"storm.zookeeper.servers\" = [$(for k in $(zk_hosts); do printf '"%s", ' "$(host "$k")"; done | sed 's/, $//')]"
    echo "\"storm.zookeeper.port\" = 2181"
    echo "\"nimbus.seeds\" = [\"$(host 2)\", \"$(host 3)\"]"
    echo "\"storm.local.dir\" = \"$HOSTS_DIR/client\""
    if [ -n "$conf_extra" ]; then cat "$conf_extra"; fi
  } > "$HOSTS_DIR/storm.toml"
  echo "$name $n $subnet $zk_n" > "$HOSTS_DIR/hosts"
  echo "$zk_tick" > "$HOSTS_DIR/zk-tick"
  # A new cluster: no ZooKeeper data or daemon state left from an earlier one in the same directory.
  for i in $(seq 1 "$n"); do rm -rf "$HOSTS_DIR/h$i/zookeeper/data" "$HOSTS_DIR/h$i/local"; done
  zk_start
  for i in $(seq 2 "$n"); do start_daemon "$i"; done
  local deadline=$((SECONDS + WAIT_SECS))
  until "$BIN/storm" --config "$HOSTS_DIR/storm.toml" list >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "nimbus did not answer within ${WAIT_SECS}s; see $HOSTS_DIR/h2/logs"
    sleep 0.5
  done
  echo "hosts.sh: cluster up; try: $BIN/storm --config $HOSTS_DIR/storm.toml list"
}

load_hosts() {
  [ -f "$HOSTS_DIR/hosts" ] || die "no cluster under $HOSTS_DIR (scripts/hosts.sh up N first)"
  n_arg=$n
  read -r name n subnet zk_n < "$HOSTS_DIR/hosts"
  zk_n=${zk_n:-1}
  bridge=${name}-br
}

host_arg() {
  [[ "$n_arg" =~ ^[0-9]+$ ]] && [ "$n_arg" -ge 1 ] && [ "$n_arg" -le "$n" ] || die "$cmd needs a host number 1..$n"
}

down() {
  need_root
  if [ ! -f "$HOSTS_DIR/hosts" ]; then echo "hosts.sh: nothing under $HOSTS_DIR"; exit 0; fi
  load_hosts
  for i in $(zk_hosts); do zk_node stop "$i" >/dev/null 2>&1 || true; done
  for i in $(seq 4 "$n"); do tc qdisc del dev "${name}-v$i" root 2>/dev/null || true; done
  net_down # kills every process left in the namespaces (daemons and their workers)
  rm -f "$HOSTS_DIR/hosts"
  echo "hosts.sh: down"
}

status() {
  load_hosts
  for i in $(seq 1 "$n"); do
    local pids
    pids=$(ip netns pids "$(ns "$i")" 2>/dev/null | tr '\n' ' ')
    echo "$(host "$i") $(addr "$i") $(programs "$i"): pids ${pids:-none}"
  done
  for i in $(zk_hosts); do echo "zookeeper on $(host "$i"): $(zk_node mode "$i" 2>/dev/null || true)"; done
  "$BIN/storm" --config "$HOSTS_DIR/storm.toml" list || true
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  kill) load_hosts; host_arg
    if [ -f "$HOSTS_DIR/h$n_arg/daemon.pid" ]; then kill -9 "$(cat "$HOSTS_DIR/h$n_arg/daemon.pid")" 2>/dev/null || true; fi ;;
  start) load_hosts; host_arg; [ "$n_arg" -ge 2 ] || die "host 1 runs ZooKeeper: use zk-start"; start_daemon "$n_arg" ;;
  cut) load_hosts; host_arg; ip link set "${name}-v$n_arg" down ;;
  heal) load_hosts; host_arg; ip link set "${name}-v$n_arg" up ;;
  zk-stop) load_hosts; for i in $(zk_hosts); do zk_node stop "$i"; done ;;
  zk-start) load_hosts; if [ -n "$n_arg" ]; then zk_host_arg; zk_start "$n_arg"; else zk_start; fi ;;
  zk-kill) load_hosts; zk_host_arg; zk_node kill "$n_arg" ;;
  zk-mode) load_hosts; zk_host_arg; zk_node mode "$n_arg" ;;
  reset) load_hosts; k_arg=${extra_arg:-0}; host_arg; [ "$n_arg" -ge 4 ] || die "reset needs a supervisor host 4..$n"
    reset_connection "$n_arg" "$k_arg" ;;
  slow) load_hosts; host_arg; slow "$n_arg" "${rate_arg:-200kbit}" ;;
  unslow) load_hosts; host_arg; unslow "$n_arg" ;;
  net-up) need_root; net_up ;;
  net-down) need_root; net_down; echo "hosts.sh: hosts of '$name' deleted" ;;
  *) die "usage: scripts/hosts.sh up N [--zk 1|3] | status | down | kill I | start I | cut I | heal I | zk-stop | zk-start [I] | zk-kill I | zk-mode I | reset I [K] | slow I [RATE] | unslow I | net-up N --name PFX --subnet A.B.C [--watch-pid PID] | net-down --name PFX" ;;
esac
