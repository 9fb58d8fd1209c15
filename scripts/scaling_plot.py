#!/usr/bin/env python3
"""Renders `storm_perf scaling`'s CSV as SVG figures and prints a Markdown table (BENCHMARKS.md,
"Cost as work grows"). Python 3 standard library only.

    python3 scripts/scaling_plot.py RESULTS.csv [--out-dir docs] [--prefix scaling]

Writes <out-dir>/<prefix>-executors.svg and <out-dir>/<prefix>-workers.svg (for the sweeps present):
one row of panels per case, throughput (tuples/s, linear) and peak RSS (MB, log scale) against the
sweep's parallelism, one line per system. A point is the median of its kept runs (rounds whose runs
all had at most --max-outside-load cores used outside); when a point has no kept run, the median of
all its runs is drawn hollow and the table marks it "(load)". Failed runs are left out.
"""

import argparse
import csv
import math
import os
import statistics
import sys
from collections import OrderedDict

LABELS = {
    "storm-local": "Apache Storm 2.8.3, LocalCluster",
    "rs-native-local": "storm-rs local mode, native",
    "storm-cluster": "Apache Storm 2.8.3 daemons",
    "rs-native": "storm-rs cluster, native",
    "rs-java": "storm-rs cluster, same Java jar",
}
COLORS = {
    "storm-local": "#d62728",
    "storm-cluster": "#d62728",
    "rs-native-local": "#1f77b4",
    "rs-native": "#1f77b4",
    "rs-java": "#2ca02c",
}
DASH = {"rs-java": "6,3"}
SWEEP_AXIS = {
    "executors": "executors per component (1 worker)",
    "workers": "workers",
}
UNITS = {
    "const-spout-null-bolt": "null bolt executes/s",
    "word-count": "words/s",
    "const-spout-id-bolt-null-bolt": "null bolt executes/s",
}


def read(path):
    meta, rows = [], []
    with open(path, newline="") as f:
        lines = [l for l in f if l.strip()]
    meta = [l[2:].rstrip("\n") for l in lines if l.startswith("# ")]
    body = [l for l in lines if not l.startswith("#")]
    for r in csv.DictReader(body):
        rows.append(r)
    return meta, rows


def aggregate(rows):
    """{sweep: {case: {variant: {point: (tps, rss, kept?, n, workers, executors)}}}}"""
    groups = OrderedDict()
    for r in rows:
        if r.get("error") or not r.get("tuples_per_sec"):
            continue
        key = (r["sweep"], r["case"], r["variant"], int(r["point"]))
        groups.setdefault(key, []).append(r)
    out = OrderedDict()
    # Sweeps, cases and systems in the order they ran; points in increasing order.
    for (sweep, case, variant, point), rs in sorted(groups.items(), key=lambda kv: kv[0][3]):
        kept = [r for r in rs if r["kept"] == "1"]
        use = kept or rs
        tps = statistics.median(float(r["tuples_per_sec"]) for r in use)
        rss = statistics.median(float(r["peak_rss_mb"]) for r in use)
        cpu = statistics.median(float(r["cpu_s_per_M"] or 0) for r in use)
        out.setdefault(sweep, OrderedDict()).setdefault(case, OrderedDict()).setdefault(
            variant, OrderedDict()
        )[point] = {
            "tps": tps,
            "rss": rss,
            "cpu": cpu,
            "kept": bool(kept),
            "n": len(use),
            "workers": use[0]["workers"],
            "executors": use[0]["executors_per_component"],
        }
    return out


def fmt_rate(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_tick(v):
    for div, suffix in ((1e6, "M"), (1e3, "k"), (1, "")):
        if v >= div or div == 1:
            return f"{v / div:.3g}{suffix}" if v else "0"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_max(v):
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def panel(x0, y0, w, h, title, points_by_variant, xs, key, log):
    """One panel: axes, grid, lines. points_by_variant: {variant: {x: figures}}."""
    s = []
    left, right, top, bottom = 62, 12, 26, 40
    pw, ph = w - left - right, h - top - bottom
    ox, oy = x0 + left, y0 + top
    vals = [p[key] for pts in points_by_variant.values() for p in pts.values() if p[key] > 0]
    if not vals:
        vals = [1.0]
    if log:
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if hi <= lo:
            hi = lo * 10
        ticks = []
        t = lo
        while t <= hi * 1.0001:
            ticks.append(t)
            t *= 10

        def ymap(v):
            return oy + ph - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

        tick_label = lambda t: f"{t:g}"
    else:
        hi = nice_max(max(vals) * 1.05)
        ticks = [hi * i / 5 for i in range(6)]

        def ymap(v):
            return oy + ph - v / hi * ph

        tick_label = fmt_tick
    # x: the sweep's points, log2-spaced (1, 2, 4, 8) as categories.
    xs = sorted(xs)

    def xmap(x):
        if len(xs) == 1:
            return ox + pw / 2
        return ox + xs.index(x) / (len(xs) - 1) * pw

    s.append(f'<text x="{x0 + w / 2:.1f}" y="{y0 + 16}" text-anchor="middle" font-size="13" font-weight="bold">{esc(title)}</text>')
    s.append(f'<rect x="{ox}" y="{oy}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in ticks:
        y = ymap(t)
        s.append(f'<line x1="{ox}" y1="{y:.1f}" x2="{ox + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        s.append(f'<text x="{ox - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick_label(t)}</text>')
    for x in xs:
        X = xmap(x)
        s.append(f'<line x1="{X:.1f}" y1="{oy + ph}" x2="{X:.1f}" y2="{oy + ph + 4}" stroke="#999"/>')
        s.append(f'<text x="{X:.1f}" y="{oy + ph + 17}" text-anchor="middle" font-size="11">{x}</text>')
    for variant, pts in points_by_variant.items():
        color = COLORS.get(variant, "#555")
        dash = DASH.get(variant)
        coords = [(xmap(x), ymap(p[key]), p) for x, p in sorted(pts.items()) if p[key] > 0]
        if len(coords) > 1:
            path = " ".join(f"{X:.1f},{Y:.1f}" for X, Y, _ in coords)
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            s.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{extra}/>')
        for X, Y, p in coords:
            fill = color if p["kept"] else "white"
            value = fmt_rate(p[key]) if key == "tps" else f"{p[key]:.0f} MB"
            s.append(
                f'<circle cx="{X:.1f}" cy="{Y:.1f}" r="3.5" fill="{fill}" stroke="{color}" stroke-width="1.5">'
                f"<title>{esc(LABELS.get(variant, variant))}: {value}</title></circle>"
            )
    return s


def render(sweep, cases, meta, path):
    case_names = list(cases)
    variants = []
    for c in case_names:
        for v in cases[c]:
            if v not in variants:
                variants.append(v)
    pw, ph = 405, 250
    W = 2 * pw + 30
    head = 46
    legend = 22 * len(variants) + 40
    H = head + ph * len(case_names) + legend
    s = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">'
        f"storm-rs vs Apache Storm 2.8.3: cost as {esc(sweep)} grow</text>",
    ]
    sub = next((m for m in meta if m.startswith("storm_perf scaling")), "")
    if sub:
        s.append(f'<text x="{W / 2}" y="37" text-anchor="middle" font-size="11" fill="#555">{esc(sub)}</text>')
    for i, case in enumerate(case_names):
        pts = cases[case]
        xs = sorted({x for p in pts.values() for x in p})
        y0 = head + i * ph
        unit = UNITS.get(case.split(":")[0], "tuples/s")
        axis = SWEEP_AXIS.get(sweep, sweep)
        if sweep == "workers":
            per = sorted({p["executors"] for v in pts.values() for p in v.values()}, key=int)
            axis = f"workers ({'/'.join(per)} executors per component)"
        s += panel(10, y0, pw, ph, f"{case}: throughput ({unit})", pts, xs, "tps", False)
        s += panel(10 + pw, y0, pw, ph, f"{case}: peak RSS (MB, log)", pts, xs, "rss", True)
        for x0 in (10, 10 + pw):
            s.append(
                f'<text x="{x0 + 62 + (pw - 74) / 2:.1f}" y="{y0 + ph - 6}" text-anchor="middle" font-size="11">'
                f"{esc(axis)}</text>"
            )
    y = head + ph * len(case_names) + 14
    for v in variants:
        color = COLORS.get(v, "#555")
        dash = DASH.get(v)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        s.append(f'<line x1="40" y1="{y:.1f}" x2="70" y2="{y:.1f}" stroke="{color}" stroke-width="2"{extra}/>')
        s.append(f'<circle cx="55" cy="{y:.1f}" r="3.5" fill="{color}"/>')
        s.append(f'<text x="78" y="{y + 4:.1f}" font-size="12">{esc(LABELS.get(v, v))}</text>')
        y += 22
    s.append(
        f'<text x="40" y="{y + 4:.1f}" font-size="11" fill="#555">Median of kept runs; hollow: no run of that '
        "point passed the outside-load check.</text>"
    )
    s.append(
        f'<text x="40" y="{y + 19:.1f}" font-size="11" fill="#555">Peak RSS (VmHWM): local mode, the process '
        "(Storm: the LocalCluster JVM); cluster mode, the sum over the worker processes (daemons not included).</text>"
    )
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def table(sweep, cases):
    print(f"\n### {sweep} sweep: {SWEEP_AXIS.get(sweep, sweep)}\n")
    for case, pts in cases.items():
        variants = list(pts)
        xs = sorted({x for p in pts.values() for x in p})
        print(f"#### {case}\n")
        print("| " + sweep + " | " + " | ".join(
            f"{LABELS.get(v, v)}: tuples/s · peak RSS · CPU s/M" for v in variants) + " |")
        print("|---" * (len(variants) + 1) + "|")
        for x in xs:
            cells = []
            for v in variants:
                p = pts[v].get(x)
                if p is None:
                    cells.append("failed / not run")
                else:
                    mark = "" if p["kept"] else " (load)"
                    cells.append(f"{fmt_rate(p['tps'])} · {p['rss']:.0f} MB · {p['cpu']:.2f}{mark}")
            print(f"| {x} | " + " | ".join(cells) + " |")
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--out-dir", default="docs")
    ap.add_argument("--prefix", default="scaling")
    a = ap.parse_args()
    meta, rows = read(a.csv)
    if not rows:
        sys.exit(f"scaling_plot.py: {a.csv}: no runs")
    data = aggregate(rows)
    if not data:
        sys.exit(f"scaling_plot.py: {a.csv}: every run failed")
    os.makedirs(a.out_dir, exist_ok=True)
    for m in meta:
        print(m)
    for sweep, cases in data.items():
        path = os.path.join(a.out_dir, f"{a.prefix}-{sweep}.svg")
        render(sweep, cases, meta, path)
        print(f"wrote {path}", file=sys.stderr)
        table(sweep, cases)
    failed = [r for r in rows if r.get("error")]
    if failed:
        print(f"{len(failed)} failed run(s):")
        for r in failed:
            print(f"  round {r['round']} {r['case']} {r['sweep']} {r['point']} {r['variant']}: {r['error']}")


if __name__ == "__main__":
    main()
