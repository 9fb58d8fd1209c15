#!/usr/bin/env python3
"""A Prometheus-exporter-style client of the Storm UI REST API, written the way mlf4aiur/storm_exporter
reads it: Python ``requests`` polls ``/api/v1/topology/summary``, then ``/api/v1/topology/<id>`` for
each topology, rejects any response whose Content-Type lacks ``application/json``, maps ``None`` and
``"N/A"`` to 0 and turns every value into a float (what ``prometheus_client.Gauge.set`` does).

Usage:
    ui_exporter.py HOST:PORT

Prints one JSON object: per topology id its summary gauges, its stats per window and its spout and
bolt gauges, all floats. Exits 1 (printing the reason) when a response is not JSON or a value is not
a number.
"""

import json
import sys

import requests

SUMMARY = ["uptimeSeconds", "tasksTotal", "workersTotal", "executorsTotal", "replicationCount",
           "requestedMemOnHeap", "requestedMemOffHeap", "requestedTotalMem", "requestedCpu",
           "assignedMemOnHeap", "assignedMemOffHeap", "assignedTotalMem", "assignedCpu"]
STATS = ["transferred", "emitted", "completeLatency", "acked", "failed"]
SPOUT = ["executors", "emitted", "completeLatency", "transferred", "tasks", "acked", "failed"]
BOLT = ["processLatency", "capacity", "executeLatency", "executors", "tasks", "acked", "failed",
        "emitted", "executed"]


class Rejected(Exception):
    pass


def metric(value, where):
    if value in (None, "N/A"):
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Rejected("%s is not a number: %r" % (where, value))


def get_json(url):
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    content_type = response.headers.get("Content-Type", "")
    if not content_type or "application/json" not in content_type:
        raise Rejected("%s answered Content-Type %r" % (url, content_type))
    return response.json()


def gauges(obj, names, where):
    return {n: metric(obj.get(n), "%s.%s" % (where, n)) for n in names}


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    host = argv[1]
    out = {}
    try:
        summary = get_json("http://%s/api/v1/topology/summary" % host)
        for t in summary.get("topologies", []):
            tid = t.get("id", "N/A")
            entry = {"name": t.get("name"), "summary": gauges(t, SUMMARY, tid)}
            page = get_json("http://%s/api/v1/topology/%s" % (host, tid))
            entry["stats"] = {s.get("window", "N/A"): gauges(s, STATS, tid + ".stats")
                              for s in page.get("topologyStats", [])}
            entry["spouts"] = {s.get("spoutId", "N/A"): gauges(s, SPOUT, tid + ".spout")
                               for s in page.get("spouts", [])}
            entry["bolts"] = {b.get("boltId", "N/A"): gauges(b, BOLT, tid + ".bolt")
                              for b in page.get("bolts", [])}
            out[tid] = entry
    except (Rejected, requests.RequestException, ValueError) as e:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        return 1
    print(json.dumps({"topologies": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
