#!/usr/bin/env bash
# Cost as work grows (issue 20, item 5; BENCHMARKS.md, "Cost as work grows"): storm-rs and Apache
# Storm 2.8.3 on this machine as executors and workers grow, and what each burns idle.
#
#   scripts/scaling.sh [storm_perf scaling options…]   # the sweeps (defaults: about 20-25 minutes), then
#                                                      # docs/scaling-executors.svg, docs/scaling-workers.svg
#   scripts/scaling.sh idle [storm_perf idle options…] # idle CPU% (defaults: 60 s windows, ~3 minutes)
#   scripts/scaling.sh --help | scripts/scaling.sh idle --help
#   scripts/scaling.sh --sweeps executors --executors 1,2 --cases word-count:off --warmup 3 \
#       --duration 3 --max-outside-load 2                                      # a quick check
#
# The sweep: `storm_perf scaling` through scripts/bench_vs_storm.sh (which builds everything: cargo,
# the Java bridge, the peer jar with Maven; SKIP_CARGO_BUILD=1 skips cargo, KEEP_SCRATCH=1 keeps the
# logs), one CSV row per run in --csv (default target/scaling/scaling-<UTC date-time>.csv), then
# scripts/scaling_plot.py renders the SVGs into $OUT_DIR (default docs) and prints Markdown tables,
# also saved beside the CSV (.md). Run it on a quiet machine: points of a round with a run under
# outside load (CPU used by other processes above --max-outside-load cores) are drawn hollow.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,17p' "$0"; }
bin=target/release/examples/storm_perf

case "${1:-}" in
  -h|--help)
    usage
    [ -x "$bin" ] && "$bin" scaling --help || true
    exit 0 ;;
  idle)
    shift
    case "${1:-}" in
      -h|--help)
        usage
        [ -x "$bin" ] && "$bin" idle --help || true
        exit 0 ;;
    esac
    exec scripts/bench_vs_storm.sh idle "$@" ;;
esac

command -v python3 >/dev/null || { echo "scaling.sh: python3 is needed (scripts/scaling_plot.py)" >&2; exit 1; }
csv=
prev=
for a in "$@"; do
  [ "$prev" = --csv ] && csv=$a
  prev=$a
done
args=("$@")
if [ -z "$csv" ]; then
  csv=target/scaling/scaling-$(date -u +%Y%m%d-%H%M%S).csv
  args+=(--csv "$csv")
fi
mkdir -p "$(dirname "$csv")"
scripts/bench_vs_storm.sh scaling "${args[@]}"
python3 scripts/scaling_plot.py "$csv" --out-dir "${OUT_DIR:-docs}" | tee "${csv%.csv}.md"
