#!/bin/bash
# The benchmark sweep behind BENCHMARKS.md "Results": every workload of issue 8, each command preceded
# by its time and load average. Build first: cargo build --release --bins --examples. Takes ~12 minutes.
# Usage: scripts/bench_sweep.sh | tee sweep.log
P=target/release/examples/storm_perf
C5="--warmup 2 --duration 5 --runs 5 --ceiling-secs 1"
C="--warmup 2 --duration 5 --runs 3 --ceiling-secs 1"
run() { echo "### $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) :: storm_perf $*"; $P "$@" 2>&1 ; }
cd "$(dirname "$0")/.."
run const-spout-null-bolt --acking off $C5
run const-spout-null-bolt --mode cluster --workers 1 --acking off $C5
run const-spout-null-bolt --acking on $C5
run const-spout-null-bolt --mode cluster --workers 1 --acking on $C5
run const-spout-null-bolt --mode cluster --workers 2 --acking off $C5
run const-spout-null-bolt --mode cluster --workers 2 --acking on $C5
run word-count --acking off $C5
run word-count --mode cluster --workers 1 --acking off $C
run word-count --mode cluster --workers 2 --acking off $C
run word-count --acking on $C
run word-count --mode cluster --workers 2 --acking on $C
run const-spout-only --acking off $C
run const-spout-id-bolt-null-bolt --acking on $C
run low-throughput-latency --rate 20000 $C
run low-throughput-latency --mode cluster --rate 20000 $C
run startup --mode cluster --runs 3 --ceiling-secs 0
run recovery --mode cluster --warmup 3 --duration 5 --runs 3 --ceiling-secs 0
run drpc --runs 3 --duration 5 --ceiling-secs 0
run drpc --mode cluster --runs 3 --duration 5 --ceiling-secs 0
echo "### end $(date -u +%H:%M:%S)"
