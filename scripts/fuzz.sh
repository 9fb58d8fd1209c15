#!/usr/bin/env bash
# Builds the cargo-fuzz targets under fuzz/ and runs each for a fixed budget, printing per target the
# runs (execs), coverage, corpus size and crashes. Not part of CI's run.
#   scripts/fuzz.sh [SECONDS] [TARGET…]     (default 600 s, every target; FUZZ_JOBS=2 at a time)
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Crashing inputs land in
# fuzz/artifacts/<target>/; logs in fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-600}
shift || true
ALL="thrift_frames thrift_calls thrift_structs znode_payloads multilang worker_wire tuple_values storm_toml http_urls logviewer_requests artifacts jar_resources blob_archives"
TARGETS=${*:-$ALL}
JOBS=${FUZZ_JOBS:-2}
for t in $TARGETS; do cargo +nightly fuzz build -O "$t" >/dev/null 2>&1; done
mkdir -p logs
max_len() {
  case $1 in
    jar_resources|blob_archives|thrift_frames|znode_payloads) echo 65536 ;;
    *) echo 8192 ;;
  esac
}
run() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  nice -n 10 "target/x86_64-unknown-linux-gnu/release/$t" "corpus/$t" \
    -max_total_time="$SECS" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"logs/$t.log" 2>&1 || true
  local execs cov corpus crashes
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  corpus=$(ls "corpus/$t" | wc -l)
  crashes=$(ls "artifacts/$t" | wc -l)
  printf '%-20s %6ss execs=%-12s cov=%-6s corpus=%-6s crashes=%s\n' "$t" "$SECS" "$execs" "$cov" "$corpus" "$crashes"
}
set -- $TARGETS
while [ $# -gt 0 ]; do
  pids=()
  for _ in $(seq "$JOBS"); do
    [ $# -gt 0 ] || break
    run "$1" & pids+=($!)
    shift
  done
  wait "${pids[@]}"
done
