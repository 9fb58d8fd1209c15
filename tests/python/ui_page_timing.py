#!/usr/bin/env python3
"""How long storm-rs's UI pages take in a real browser (headless Chromium through Selenium).

Usage:
    ui_page_timing.py BASE_URL TOPOLOGY_ID LOADS

Loads the topology page LOADS times and measures, per load, the time from navigation start until
the spouts and bolts tables are rendered (the page's one API request included) and the API request
alone (Resource Timing); then the visualization page until every component is drawn. Prints one
JSON line with the medians.
"""

import json
import shutil
import statistics
import sys
import tempfile

from selenium.webdriver.support.ui import WebDriverWait

import ui_browser

RENDERED = """
const rows = document.querySelectorAll('#bolts-table tbody tr[data-id]').length;
if (!rows || document.getElementById('content').classList.contains('hidden')) return null;
const api = performance.getEntriesByType('resource').find(e => e.name.includes('/api/v1/topology/'));
return {page_ms: performance.now(), api_ms: api ? api.responseEnd - api.startTime : null,
        api_bytes: api ? api.transferSize : null, rows: rows};
"""

GRAPH = """
const n = document.querySelectorAll('.graph .node').length;
return n >= arguments[0] ? {graph_ms: performance.now(), nodes: n} : null;
"""


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, topology_id, loads = argv[1].rstrip("/"), argv[2], int(argv[3])
    profile = tempfile.mkdtemp(prefix="storm-ui-timing-")
    driver = ui_browser.browser(profile)
    driver.set_page_load_timeout(300)
    try:
        # A first, unmeasured load: Chromium's first page in a fresh profile pays its own start-up.
        driver.get(base + "/")
        samples = []
        for _ in range(loads):
            print("loading the topology page", file=sys.stderr, flush=True)
            driver.get(base + "/topology.html?id=" + topology_id)
            samples.append(WebDriverWait(driver, 120, poll_frequency=0.01)
                           .until(lambda d: d.execute_script(RENDERED)))
        first = samples[0]
        graphs = []
        expected = int(driver.execute_script(
            "return parseInt(document.querySelector('#bolts-table .count').textContent)")) + 1
        for _ in range(max(1, loads // 2)):
            print("loading the visualization", file=sys.stderr, flush=True)
            driver.get(base + "/visualize.html?id=" + topology_id)
            graphs.append(WebDriverWait(driver, 120, poll_frequency=0.01)
                          .until(lambda d: d.execute_script(GRAPH, expected)))
        print(json.dumps({
            "loads": loads,
            "topology_page_ms": statistics.median(s["page_ms"] for s in samples),
            "topology_api_ms": statistics.median(s["api_ms"] for s in samples if s["api_ms"]),
            "api_transfer_bytes": first["api_bytes"],
            "visualization_ms": statistics.median(g["graph_ms"] for g in graphs),
            "graph_nodes": graphs[0]["nodes"],
        }))
        return 0
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
