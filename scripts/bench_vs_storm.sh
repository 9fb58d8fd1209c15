#!/usr/bin/env bash
# storm-rs beside Apache Storm 2.8.3, same machine, same run (issue 20; BENCHMARKS.md, first section).
# Builds everything it needs, then runs `storm_perf vs-storm`, which interleaves, round after round,
# the same Java topology jar (benches/storm-peer) on Storm's LocalCluster, on real Storm daemons
# (launched from the Maven Central jars) and on a storm-rs cluster, and storm-rs's native Rust
# workloads, and prints one Markdown table per workload.
#
#   scripts/bench_vs_storm.sh [storm_perf vs-storm options…]
#   scripts/bench_vs_storm.sh --rounds 5 --warmup 30 --duration 30          # the defaults
#   scripts/bench_vs_storm.sh --cases word-count:off --variants storm-local,rs-java --rounds 1 \
#       --warmup 5 --duration 5 --max-outside-load 2                          # a quick check
#   scripts/bench_vs_storm.sh --help                                         # every option
#   scripts/bench_vs_storm.sh scaling|idle [options…]   # `storm_perf scaling|idle` instead of vs-storm
#                                                        # (what scripts/scaling.sh runs)
#
# Builds: `cargo build --release --bins --examples` (SKIP_CARGO_BUILD=1 skips it), storm-rs's Java
# bridge (scripts/build-java.sh bridge), the peer jar and its two classpaths (Maven; Storm 2.8.3's
# storm-client and storm-server come from Maven Central into ~/.m2).
# Needs: a JDK 11+ and Maven; ZooKeeper (scripts/zookeeper.sh installs Debian's package when missing).
# With the defaults (4 workloads × 5 rounds × 5 systems, 30 s warm-up + 30 s window each) it takes
# about two hours; run it on a quiet machine: rounds with a run under outside load (CPU used by other
# processes, see --max-outside-load) are left out of the tables.
# Cleans up: every process it started is stopped on exit, on Ctrl-C and on SIGTERM (storm_perf's own
# sweep, then this script's: everything left in storm_perf's session, and any ZooKeeper under the
# scratch directory). KEEP_SCRATCH=1 keeps the logs of every run.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h|--help)
    sed -n '2,25p' "$0"
    [ -x target/release/examples/storm_perf ] && target/release/examples/storm_perf vs-storm --help || true
    exit 0 ;;
esac

die() { echo "bench_vs_storm.sh: $*" >&2; exit 1; }
command=vs-storm
case "${1:-}" in
  scaling|idle) command=$1; shift ;;
esac
command -v mvn >/dev/null || die "Maven (mvn) is needed (Debian: apt-get install maven)"
command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || die "a JDK 11+ is needed (Debian: apt-get install default-jdk-headless)"

log=$(mktemp)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/storm-vs-storm.XXXXXX")
pid=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$pid" ]; then
    # storm_perf made itself a session leader: whatever is left in its session is ours.
    for p in $(ps -o pid= -s "$pid" 2>/dev/null || true); do
      [ "$p" = "$$" ] || kill -KILL "$p" 2>/dev/null || true
    done
  fi
  while IFS= read -r zk; do
    scripts/zookeeper.sh stop --dir "$(dirname "$zk")" >/dev/null 2>&1 || true
  done < <(find "$scratch" -name zk.pid 2>/dev/null || true)
  if [ "${KEEP_SCRATCH:-0}" = 1 ] || [ "$rc" != 0 ]; then
    [ -d "$scratch" ] && echo "bench_vs_storm.sh: logs kept in $scratch" >&2
  else
    rm -rf "$scratch"
  fi
  rm -f "$log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mvn_q() {
  if ! mvn -q -B -Dstyle.color=never "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "mvn $* failed"
  fi
}

if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  echo "bench_vs_storm.sh: cargo build --release --bins --examples" >&2
  cargo build --release --bins --examples >"$log" 2>&1 || { tail -40 "$log" >&2; die "cargo build failed"; }
fi
echo "bench_vs_storm.sh: Java bridge and peer jar (Maven)" >&2
scripts/build-java.sh bridge
peer=benches/storm-peer
mvn_q -f "$peer/pom.xml" package
mvn_q -f "$peer/pom.xml" dependency:build-classpath -DincludeScope=provided \
  -Dmdep.outputFile=target/client-classpath.txt
mvn_q -f "$peer/pom.xml" dependency:build-classpath -DincludeScope=test \
  -Dmdep.outputFile=target/server-classpath.txt
grep -q storm-client-2.8.3.jar "$peer/target/client-classpath.txt" || die "no storm-client 2.8.3 on the client classpath"
grep -q storm-server-2.8.3.jar "$peer/target/client-classpath.txt" && die "storm-server leaked into the client classpath"
grep -q storm-server-2.8.3.jar "$peer/target/server-classpath.txt" || die "no storm-server 2.8.3 on the server classpath"

keep=()
[ "${KEEP_SCRATCH:-0}" = 1 ] && keep=(--keep-scratch)
echo "bench_vs_storm.sh: storm_perf $command $* (scratch $scratch)" >&2
target/release/examples/storm_perf "$command" --scratch "$scratch" "${keep[@]}" "$@" &
pid=$!
wait "$pid"
