#!/usr/bin/env python3
"""Drives storm-rs's UI pages in a real browser: Debian's headless Chromium through chromedriver and
Selenium's WebDriver client.

Usage:
    ui_browser.py BASE_URL TOPOLOGY_ID TOPOLOGY_NAME SPOUT BOLT OUT_DIR [--kill]

Loads the cluster page, the topology page, the component page of BOLT and the visualization, checks
what a user must see on each (the topology's name, its spouts and bolts, a non-zero acked count,
executors, the graph with live rates) and saves a full-page screenshot of each under OUT_DIR
(ui-cluster.png, ui-topology.png, ui-component.png, ui-visualization.png). With --kill it then clicks
the topology page's Kill button, accepts the confirmation (the wait it proposes is the topology's
message timeout) and waits for the page to show the topology KILLED. Prints one JSON line with what
it saw; exits 1 (after saving failure.png and failure.html) when a check fails.
"""

import json
import os
import re
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 60


def browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1440,900",
        "--user-data-dir=" + profile,
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(driver, what, cond, timeout=TIMEOUT):
    """Waits for cond(driver) to be truthy; its value, or an AssertionError naming what."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: cond(d))
    except Exception as e:
        raise AssertionError("timed out waiting for " + what) from e


def text(driver, css):
    els = driver.find_elements(By.CSS_SELECTOR, css)
    return els[0].text if els else ""


def cell_int(driver, table, row_id, column):
    """The integer in column `column` (0-based) of the row data-id=row_id of table `table`."""
    rows = driver.find_elements(By.CSS_SELECTOR, "#%s tbody tr[data-id='%s']" % (table, row_id))
    if not rows:
        return None
    cells = rows[0].find_elements(By.TAG_NAME, "td")
    if len(cells) <= column:
        return None
    digits = re.sub(r"[^0-9]", "", cells[column].text)
    return int(digits) if digits else None


def screenshot(driver, path):
    """A full-page screenshot: the window grows to the page's height first."""
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(1440, max(900, min(int(height) + 20, 5000)))
    # Two animation frames: the resized page has been laid out and painted.
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));")
    driver.save_screenshot(path)
    driver.set_window_size(1440, 900)


def run(driver, base, topology_id, name, spout, bolt, out, kill):
    seen = {}
    # Cluster page: the topology is listed, with a link to its page.
    driver.get(base + "/")
    wait(driver, "the topology in the cluster page",
         lambda d: topology_id in text(d, "#topology-table"))
    wait(driver, "the supervisors in the cluster page",
         lambda d: "supervisor.log" in text(d, "#supervisor-table"))
    wait(driver, "the leader nimbus", lambda d: "Leader" in text(d, "#nimbus-table"))
    seen["cluster"] = text(driver, "#cluster-facts").replace("\n", " ")
    screenshot(driver, os.path.join(out, "ui-cluster.png"))

    # Topology page: name, spouts, bolts and a non-zero acked count.
    driver.get(base + "/topology.html?id=" + topology_id)
    wait(driver, "the topology name", lambda d: text(d, "#topology-name") == name)
    wait(driver, "the spout " + spout, lambda d: spout in text(d, "#spouts-table"))
    wait(driver, "the bolt " + bolt, lambda d: bolt in text(d, "#bolts-table"))
    acked = wait(driver, "a non-zero acked count of " + spout,
                 lambda d: cell_int(d, "spouts-table", spout, 6))
    seen["spout_acked"] = acked
    seen["bolt_executed"] = cell_int(driver, "bolts-table", bolt, 7)
    seen["status"] = text(driver, "#topology-status")
    seen["workers"] = text(driver, "#workers-table").count("worker.log")
    screenshot(driver, os.path.join(out, "ui-topology.png"))

    # Component page of the bolt: its executors and stats.
    driver.get(base + "/component.html?id=%s&topology_id=%s" % (bolt, topology_id))
    wait(driver, "the component name", lambda d: text(d, "#component-name") == bolt)
    wait(driver, "the executors of " + bolt,
         lambda d: "worker" not in text(d, "#executors-table tbody td.empty")
         and len(d.find_elements(By.CSS_SELECTOR, "#executors-table tbody tr td.num")) > 0)
    seen["component_executors"] = len(driver.find_elements(By.CSS_SELECTOR, "#executors-table tbody tr"))
    screenshot(driver, os.path.join(out, "ui-component.png"))

    # Visualization: every component drawn, and after two polls a live rate on an edge.
    driver.get(base + "/visualize.html?id=" + topology_id)
    wait(driver, "the graph's nodes",
         lambda d: len(d.find_elements(By.CSS_SELECTOR, ".graph .node")) >= 2)
    wait(driver, "a live rate on a stream",
         lambda d: any(re.search(r"[1-9][0-9.]*[kM]?/s", e.text)
                       for e in d.find_elements(By.CSS_SELECTOR, ".graph .edge text")),
         timeout=30)
    seen["graph_nodes"] = len(driver.find_elements(By.CSS_SELECTOR, ".graph .node"))
    screenshot(driver, os.path.join(out, "ui-visualization.png"))

    if kill:
        driver.get(base + "/topology.html?id=" + topology_id)
        wait(driver, "the kill button",
             lambda d: d.find_element(By.ID, "btn-kill").is_enabled()
             and text(d, "#topology-name") == name)
        driver.find_element(By.ID, "btn-kill").click()
        alert = wait(driver, "the kill confirmation", lambda d: d.switch_to.alert)
        seen["kill_prompt"] = alert.text
        alert.accept()
        wait(driver, "the topology shown KILLED",
             lambda d: text(d, "#topology-status") == "KILLED" or "not running" in text(d, "#error"))
        seen["after_kill"] = text(driver, "#topology-status") or text(driver, "#error")
    return seen


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    base, topology_id, name, spout, bolt, out = args
    kill = "--kill" in argv
    os.makedirs(out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="storm-ui-chromium-")
    driver = None
    try:
        driver = browser(profile)
        driver.set_page_load_timeout(TIMEOUT)
        seen = run(driver, base.rstrip("/"), topology_id, name, spout, bolt, out, kill)
        print(json.dumps({"ok": True, **seen}))
        return 0
    except Exception as e:
        if driver is not None:
            try:
                driver.save_screenshot(os.path.join(out, "failure.png"))
                with open(os.path.join(out, "failure.html"), "w") as f:
                    f.write(driver.page_source)
            except Exception:
                pass
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}))
        return 1
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
