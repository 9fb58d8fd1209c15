#!/usr/bin/env bash
# The screenshots of the Storm UI and the logviewer in docs/ (README, "The Storm UI"), taken from the real
# pages of the quickstart's running word count.
#
#   scripts/ui-screenshots.sh [OUT_DIR]       (default docs)
#
# Starts the quickstart cluster (scripts/quickstart.sh: ZooKeeper, nimbus, a supervisor, drpc, the ui and
# the logviewer, the word count submitted by `storm jar` as `wc`) unless it already runs, waits until the
# topology has run for RUN_SECS (default 120) with acked tuples in the UI, then drives Debian's headless
# Chromium (/usr/bin/chromium and /usr/bin/chromedriver, installed by scripts/test.sh) through Selenium:
# tests/python/ui_browser.py loads the cluster, topology, component (`split`) and visualization pages,
# checks that they show the topology with non-zero stats and saves ui-cluster.png, ui-topology.png,
# ui-component.png and ui-visualization.png (1440 px wide, full page); then the worker's log in the
# logviewer, reached through the topology page's worker.log link, as ui-logviewer.png. pngquant, when
# installed (apt-get install pngquant), makes each image smaller. Stops the cluster again when this
# script started it (KEEP=1 leaves it running).
#
# Environment: PYTHON (a python with selenium; default $STORM_TEST_PYTHON, else target/test-venv/bin/python
# as scripts/test.sh makes it), RUN_SECS, KEEP.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-docs}
RUN_SECS=${RUN_SECS:-120}
KEEP=${KEEP:-0}
PYTHON=${PYTHON:-${STORM_TEST_PYTHON:-$ROOT/target/test-venv/bin/python}}
STORM="$ROOT/target/release/storm --config $ROOT/conf/storm.toml"

die() { echo "ui-screenshots.sh: $*" >&2; exit 1; }

[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
  die "needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)"
"$PYTHON" -c 'import selenium' 2>/dev/null ||
  die "$PYTHON has no selenium: run scripts/test.sh once (it makes target/test-venv) or set PYTHON"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

started=0
if [ -x target/release/storm ] && scripts/quickstart.sh status 2>/dev/null | grep -q '^ui: running'; then
  echo "the quickstart cluster is running; using it"
else
  scripts/quickstart.sh start
  started=1
fi
cleanup() { if [ "$started" = 1 ] && [ "$KEEP" != 1 ]; then scripts/quickstart.sh stop; fi; }
trap cleanup EXIT

UI_PORT=$($STORM localconfvalue ui.port | sed -n 's/^ui.port: //p')
BASE=http://127.0.0.1:$UI_PORT

# Waits (at most RUN_SECS + 300 s) until `wc` has been up RUN_SECS seconds and its spout has acked
# tuples in the 10-minute window; prints its id and the link to its first worker's log.
read -r ID WORKER_LOG < <("$PYTHON" - "$BASE" "$RUN_SECS" <<'PY'
import sys, time, requests
base, run_secs = sys.argv[1], int(sys.argv[2])
deadline = time.time() + run_secs + 300
while True:
    try:
        tops = requests.get(base + "/api/v1/topology/summary", timeout=10).json()["topologies"]
        wc = [t for t in tops if t["name"] == "wc"]
        if wc:
            t = requests.get(base + "/api/v1/topology/" + wc[0]["id"] + "?window=600", timeout=30).json()
            acked = sum(int(s["acked"] or 0) for s in t["spouts"])
            if t["uptimeSeconds"] >= run_secs and acked > 0 and t["workers"]:
                print(t["id"], t["workers"][0]["workerLogLink"])
                break
    except (requests.RequestException, KeyError, ValueError):
        pass
    if time.time() > deadline:
        sys.exit("the word count did not show acked tuples in the UI in time")
    print("waiting for the word count's stats", file=sys.stderr)
    time.sleep(10)
PY
)
[ -n "${ID:-}" ] || die "no word count topology in the UI at $BASE"
echo "topology $ID; worker log $WORKER_LOG"

# The UI's pages, checked and saved by the browser test's driver.
# A second try when the first fails (once, a fresh Chromium's first page stayed at "Loading…").
ok=0
for try in 1 2; do
  if PYTHONPATH=tests/python "$PYTHON" tests/python/ui_browser.py "$BASE" "$ID" wc spout split "$OUT"; then
    ok=1
    break
  fi
  echo "ui_browser.py failed (try $try; see $OUT/failure.png)" >&2
done
[ "$ok" = 1 ] || die "the UI pages did not show the word count; see $OUT/failure.png and failure.html"
rm -f "$OUT/failure.png" "$OUT/failure.html"

# The logviewer's page of the worker log, as the topology page links it (the window's height only).
PYTHONPATH=tests/python "$PYTHON" - "$WORKER_LOG" "$OUT/ui-logviewer.png" <<'PY'
import shutil, sys, tempfile
from selenium.webdriver.support.ui import WebDriverWait
import ui_browser
link, out = sys.argv[1], sys.argv[2]
profile = tempfile.mkdtemp(prefix="storm-ui-shots-")
driver = ui_browser.browser(profile)
try:
    driver.get(link)
    WebDriverWait(driver, 30).until(lambda d: "worker.log" in d.title or "worker.log" in d.page_source)
    driver.set_window_size(1440, 900)
    driver.save_screenshot(out)
finally:
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
PY

shots=(ui-cluster ui-topology ui-component ui-visualization ui-logviewer)
if command -v pngquant >/dev/null; then
  for s in "${shots[@]}"; do pngquant --force --skip-if-larger --quality 70-95 --output "$OUT/$s.png" "$OUT/$s.png" || true; done
fi
for s in "${shots[@]}"; do ls -l "$OUT/$s.png"; done
