// The topology graph: components as boxes in layers from the spouts (longest path, crossings reduced
// by barycenter sweeps), streams as curves labelled with their live rate. It polls
// /api/v1/topology/<id>/visualization every few seconds; a rate is the change of the stream's
// all-time transferred count between two polls (the first poll shows the average since start).
// Bolts are coloured by capacity (green idle, yellow busy, red saturated). Drag to pan, wheel to zoom.
"use strict";

class StormGraph {
  constructor(el, topologyId, opts) {
    opts = opts || {};
    this.el = el;
    this.id = topologyId;
    this.sys = !!opts.sys;
    this.interval = opts.interval || 5000;
    this.stopped = false;
    this.paused = false;
    this.prev = null;
    this.layoutKey = null;
    this.view = { x: 20, y: 20, k: 1 };
    this.fitted = false;
    el.innerHTML =
      '<svg xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" ' +
      'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7d8ea3"/></marker></defs>' +
      '<g class="viewport"><g class="edges"></g><g class="nodes"></g></g></svg>' +
      '<div class="controls"><button data-a="fit">Fit</button><button data-a="pause">Pause</button></div>' +
      '<div class="legend"><span class="sw" style="background:#dbe9ff;margin-left:0"></span>spout · bolt capacity:' +
      '<span class="sw" style="background:' + StormGraph.capColor(0) + '"></span>idle' +
      '<span class="sw" style="background:' + StormGraph.capColor(0.5) + '"></span>busy' +
      '<span class="sw" style="background:' + StormGraph.capColor(1) + '"></span>saturated ' +
      '<span class="status"></span></div>';
    this.svg = el.querySelector("svg");
    this.viewport = el.querySelector(".viewport");
    this.status = el.querySelector(".legend .status");
    el.querySelector(".controls").onclick = (e) => {
      const a = e.target.dataset && e.target.dataset.a;
      if (a === "fit") this.fit();
      if (a === "pause") {
        this.paused = !this.paused;
        e.target.textContent = this.paused ? "Resume" : "Pause";
        if (!this.paused) this.refresh();
      }
    };
    this.panZoom();
    this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  static capColor(c) {
    c = Math.max(0, Math.min(1, c || 0));
    const stops = [[0, [216, 243, 220]], [0.5, [255, 236, 153]], [1, [255, 168, 168]]];
    const [a, b] = c <= 0.5 ? [stops[0], stops[1]] : [stops[1], stops[2]];
    const t = (c - a[0]) / (b[0] - a[0]);
    const m = a[1].map((v, i) => Math.round(v + (b[1][i] - v) * t));
    return "rgb(" + m.join(",") + ")";
  }

  static rate(r) {
    if (!isFinite(r) || r <= 0) return "0/s";
    if (r >= 1e6) return (r / 1e6).toFixed(1) + "M/s";
    if (r >= 1e3) return (r / 1e3).toFixed(1) + "k/s";
    return (r >= 10 ? r.toFixed(0) : r.toFixed(1)) + "/s";
  }

  async refresh() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    try {
      const data = await UI.api("/topology/" + encodeURIComponent(this.id) + "/visualization" + (this.sys ? "?sys=true" : ""));
      if (this.stopped) return;
      this.draw(data);
      this.status.textContent = "· updated " + new Date().toLocaleTimeString();
    } catch (e) {
      this.status.textContent = "· " + e.message;
    }
    if (!this.paused && !this.stopped) this.timer = setTimeout(() => this.refresh(), this.interval);
  }

  // Per component and sanitized stream: the all-time transferred count and the executors' longest uptime.
  static counts(data) {
    const out = new Map();
    for (const [comp, c] of Object.entries(data)) {
      let uptime = 0;
      const streams = new Map();
      for (const s of c[":stats"] || []) {
        uptime = Math.max(uptime, s[":uptime_secs"] || 0);
        const all = s[":transferred"] && s[":transferred"][":all-time"];
        for (const [k, v] of Object.entries(all || {})) streams.set(k, (streams.get(k) || 0) + v);
      }
      out.set(comp, { uptime, streams });
    }
    return out;
  }

  layout(nodes, edges) {
    const preds = new Map(nodes.map((n) => [n, []]));
    const succs = new Map(nodes.map((n) => [n, []]));
    for (const e of edges) {
      if (e.from === e.to) continue;
      preds.get(e.to).push(e.from);
      succs.get(e.from).push(e.to);
    }
    // Longest-path layers (Kahn's order; a cycle is broken at its node with fewest unplaced inputs).
    const layer = new Map();
    const missing = new Map(nodes.map((n) => [n, new Set(preds.get(n)).size]));
    const ready = nodes.filter((n) => missing.get(n) === 0);
    const placed = new Set();
    const place = (n) => {
      placed.add(n);
      const ls = preds.get(n).filter((p) => layer.has(p)).map((p) => layer.get(p) + 1);
      layer.set(n, ls.length ? Math.max(...ls) : 0);
      for (const s of new Set(succs.get(n))) {
        missing.set(s, missing.get(s) - 1);
        if (missing.get(s) === 0 && !placed.has(s)) ready.push(s);
      }
    };
    while (placed.size < nodes.length) {
      const n = ready.shift();
      if (n !== undefined) { if (!placed.has(n)) place(n); continue; }
      let best = null;
      for (const m of nodes) if (!placed.has(m) && (best === null || missing.get(m) < missing.get(best))) best = m;
      place(best);
    }
    const layers = [];
    for (const n of nodes) (layers[layer.get(n)] = layers[layer.get(n)] || []).push(n);
    // Barycenter sweeps to reduce crossings.
    const pos = new Map();
    const index = () => layers.forEach((l) => l.forEach((n, i) => pos.set(n, i)));
    index();
    const bary = (n, nbrs) => {
      const ps = nbrs.get(n).filter((m) => pos.has(m));
      return ps.length ? ps.reduce((a, m) => a + pos.get(m), 0) / ps.length : pos.get(n);
    };
    for (let sweep = 0; sweep < 6; sweep++) {
      const down = sweep % 2 === 0;
      const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
      for (const l of order) {
        const key = new Map(l.map((n) => [n, bary(n, down ? preds : succs)]));
        l.sort((a, b) => key.get(a) - key.get(b));
        l.forEach((n, i) => pos.set(n, i));
      }
    }
    const W = 180, H = 56, GX = 110, GY = 26;
    const tallest = Math.max(...layers.map((l) => l.length));
    const at = new Map();
    layers.forEach((l, li) => {
      const offset = ((tallest - l.length) * (H + GY)) / 2;
      l.forEach((n, i) => at.set(n, { x: li * (W + GX), y: offset + i * (H + GY), w: W, h: H, layer: li }));
    });
    return at;
  }

  draw(data) {
    const esc = UI.esc;
    const nodes = Object.keys(data).sort();
    const edges = [];
    for (const to of nodes) {
      for (const i of data[to][":inputs"] || []) {
        const from = i[":component"];
        if (data[from]) edges.push({ from, to, stream: i[":stream"], sani: i[":sani-stream"], grouping: i[":grouping"] });
      }
    }
    const key = JSON.stringify([nodes, edges.map((e) => [e.from, e.to, e.stream])]);
    if (key !== this.layoutKey) {
      this.at = this.layout(nodes, edges);
      this.layoutKey = key;
      this.fitted = false;
    }
    const now = performance.now() / 1000;
    const counts = StormGraph.counts(data);
    const rate = (comp, sani) => {
      const c = counts.get(comp);
      const cur = c ? c.streams.get(sani) || 0 : 0;
      if (this.prev && this.prev.counts.has(comp)) {
        const before = this.prev.counts.get(comp).streams.get(sani) || 0;
        const dt = now - this.prev.t;
        return dt > 0 ? Math.max(0, cur - before) / dt : 0;
      }
      return c && c.uptime > 0 ? cur / c.uptime : 0;
    };
    const labels = edges.length <= 250;
    let eh = "";
    for (const e of edges) {
      const a = this.at.get(e.from), b = this.at.get(e.to);
      const r = rate(e.from, e.sani);
      const width = Math.min(6, 1.2 + Math.log10(1 + r) * 0.9);
      let d, lx, ly;
      if (e.from === e.to) {
        d = "M" + (a.x + a.w - 30) + "," + (a.y + a.h) + " C" + (a.x + a.w - 30) + "," + (a.y + a.h + 40) + " " +
          (a.x + 30) + "," + (a.y + a.h + 40) + " " + (a.x + 30) + "," + (a.y + a.h);
        lx = a.x + a.w / 2; ly = a.y + a.h + 40;
      } else if (b.layer > a.layer) {
        const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
        d = "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2;
        lx = mx; ly = (y1 + y2) / 2 - 4;
      } else {
        const x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y + b.h, dip = Math.max(y1, y2) + 60;
        d = "M" + x1 + "," + y1 + " C" + x1 + "," + dip + " " + x2 + "," + dip + " " + x2 + "," + y2;
        lx = (x1 + x2) / 2; ly = dip - 12;
      }
      const sys = e.stream.startsWith("__");
      eh += '<g class="edge' + (sys ? " sys" : "") + '"><title>' + esc(e.from + " → " + e.to + " on " + e.stream + " (" + e.grouping + ")") +
        '</title><path d="' + d + '" stroke-width="' + width.toFixed(2) + '" marker-end="url(#arrow)"/>' +
        (labels ? '<text x="' + lx + '" y="' + ly + '" text-anchor="middle">' +
          esc((e.stream === "default" ? "" : e.stream + " · ") + StormGraph.rate(r)) + "</text>" : "") + "</g>";
    }
    let nh = "";
    for (const n of nodes) {
      const c = data[n], a = this.at.get(n);
      const bolt = c[":type"] === "bolt";
      const cap = bolt ? Number(c[":capacity"]) || 0 : 0;
      const lat = typeof c[":latency"] === "number" ? c[":latency"] : 0;
      const fill = bolt ? StormGraph.capColor(cap) : "#dbe9ff";
      const label = n.length > 24 ? n.slice(0, 23) + "…" : n;
      const stat = bolt ? "capacity " + cap.toFixed(3) + " · " + lat.toFixed(2) + " ms" : "complete " + lat.toFixed(2) + " ms";
      nh += '<a href="' + esc(c[":link"]) + '"><g class="node ' + (bolt ? "bolt" : "spout") + '" transform="translate(' + a.x + "," + a.y + ')">' +
        "<title>" + esc(n + " (" + c[":type"] + ")") + "</title>" +
        '<rect width="' + a.w + '" height="' + a.h + '" rx="' + (bolt ? 8 : 26) + '" fill="' + fill + '"/>' +
        '<text class="id" x="12" y="22">' + esc(label) + "</text>" +
        '<text class="stat" x="12" y="41">' + esc(stat) + "</text></g></a>";
    }
    this.viewport.querySelector(".edges").innerHTML = eh;
    this.viewport.querySelector(".nodes").innerHTML = nh;
    this.prev = { t: now, counts };
    if (!this.fitted) { this.fit(); this.fitted = true; }
  }

  apply() {
    const v = this.view;
    this.viewport.setAttribute("transform", "translate(" + v.x + "," + v.y + ") scale(" + v.k + ")");
  }

  fit() {
    if (!this.at || !this.at.size) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const a of this.at.values()) {
      x0 = Math.min(x0, a.x); y0 = Math.min(y0, a.y);
      x1 = Math.max(x1, a.x + a.w); y1 = Math.max(y1, a.y + a.h + 50);
    }
    const w = this.svg.clientWidth || 800, h = this.svg.clientHeight || 600, pad = 30;
    const k = Math.min(1.5, (w - 2 * pad) / (x1 - x0), (h - 2 * pad) / (y1 - y0));
    this.view = {
      k,
      x: pad - x0 * k + (w - 2 * pad - (x1 - x0) * k) / 2,
      y: pad - y0 * k + Math.max(0, (h - 2 * pad - (y1 - y0) * k) / 3),
    };
    this.apply();
  }

  panZoom() {
    let drag = null;
    this.svg.addEventListener("mousedown", (e) => {
      if (e.target.closest("a")) return;
      drag = { x: e.clientX - this.view.x, y: e.clientY - this.view.y };
      this.svg.classList.add("dragging");
    });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      this.view.x = e.clientX - drag.x;
      this.view.y = e.clientY - drag.y;
      this.apply();
    });
    window.addEventListener("mouseup", () => { drag = null; this.svg.classList.remove("dragging"); });
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = this.svg.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      const k = Math.max(0.05, Math.min(4, this.view.k * Math.exp(-e.deltaY * 0.0015)));
      this.view.x = mx - ((mx - this.view.x) * k) / this.view.k;
      this.view.y = my - ((my - this.view.y) * k) / this.view.k;
      this.view.k = k;
      this.apply();
    }, { passive: false });
  }
}
