// storm-rs UI: what every page shares — API calls, formatting, the page header and a table that
// pages, sorts and filters in the browser (only the visible page is in the DOM, so a table of a
// 500-component topology renders as fast as one of five).
"use strict";

const UI = (() => {
  const esc = (v) =>
    String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.errorMessage) || ("HTTP " + status));
      this.status = status;
      this.body = body;
      this.notAlive = !!(body && String(body.errorMessage || "").endsWith("NotAliveException"));
    }
  }

  async function call(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch("/api/v1" + path, init);
    } catch (e) {
      throw new ApiError(0, { errorMessage: "the UI cannot be reached (" + e.message + ")" });
    }
    let json = null;
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  const api = (path) => call("GET", path);
  const post = (path, body) => call("POST", path, body);
  const params = () => new URLSearchParams(location.search);
  const enc = encodeURIComponent;

  const num = (n) => (n === null || n === undefined || n === "" ? "" :
    typeof n === "number" ? n.toLocaleString("en-US") : esc(n));
  const mem = (mb) => (typeof mb === "number" ? (mb >= 1024 ? (mb / 1024).toFixed(1) + " GB" : mb.toFixed(0) + " MB") : "");
  const badge = (s) => '<span class="badge ' + esc(String(s).replace(/ /g, "-")) + '">' + esc(s) + "</span>";
  const time = (secs) => (secs ? new Date(secs * 1000).toLocaleString() : "");
  const ago = (secs) => {
    if (secs === null || secs === undefined) return "";
    if (secs < 60) return secs + "s ago";
    if (secs < 3600) return Math.floor(secs / 60) + "m ago";
    if (secs < 86400) return Math.floor(secs / 3600) + "h ago";
    return Math.floor(secs / 86400) + "d ago";
  };
  const windowName = (w) => ({ "600": "10 minutes", "10800": "3 hours", "86400": "1 day", ":all-time": "All time" })[w] || w;
  const WINDOWS = ["600", "10800", "86400", ":all-time"];

  // Settings kept across pages.
  const settings = {
    get sys() { return localStorage.getItem("storm.sys") === "true"; },
    set sys(v) { localStorage.setItem("storm.sys", v ? "true" : "false"); },
    get refresh() { return localStorage.getItem("storm.refresh") === "true"; },
    set refresh(v) { localStorage.setItem("storm.refresh", v ? "true" : "false"); },
  };

  // The page header: brand, navigation, the "system stats" and "auto refresh" switches.
  function header(here, opts) {
    opts = opts || {};
    const h = document.createElement("header");
    h.className = "top";
    h.innerHTML =
      '<a class="brand" href="/"><img src="/favicon.svg" alt="">Storm UI</a>' +
      '<nav><a href="/" class="' + (here === "cluster" ? "here" : "") + '">Cluster</a>' +
      (opts.crumbs || "") + "</nav>" +
      '<span class="spacer"></span>' +
      (opts.sys ? '<label title="Include __acker, __system and system streams"><input type="checkbox" id="sys-toggle"> System stats</label>' : "") +
      '<label title="Reload the data every 10 seconds"><input type="checkbox" id="refresh-toggle"> Auto refresh</label>' +
      '<span class="stamp" id="stamp"></span>';
    document.body.prepend(h);
    const sys = h.querySelector("#sys-toggle");
    if (sys) {
      sys.checked = settings.sys;
      sys.onchange = () => { settings.sys = sys.checked; if (opts.onChange) opts.onChange(); };
    }
    const refresh = h.querySelector("#refresh-toggle");
    refresh.checked = settings.refresh;
    let timer = null;
    const arm = () => {
      clearInterval(timer);
      if (refresh.checked && opts.onChange) timer = setInterval(() => { if (!document.hidden) opts.onChange(); }, 10000);
    };
    refresh.onchange = () => { settings.refresh = refresh.checked; arm(); };
    arm();
  }

  function stamp() {
    const s = document.getElementById("stamp");
    if (s) s.textContent = "updated " + new Date().toLocaleTimeString();
  }

  function banner(el, kind, html) {
    el.className = "banner " + kind;
    el.innerHTML = html;
    el.classList.remove("hidden");
  }

  // A table of `rows` (objects) with `columns` [{key, label, num, sort, render, cls, title}].
  // Only the current page is rendered; filter and sort apply to every row.
  class Table {
    constructor(container, opts) {
      this.el = typeof container === "string" ? document.getElementById(container) : container;
      this.columns = opts.columns;
      this.pageSize = opts.pageSize || 20;
      this.sortKey = opts.sortKey || null;
      this.sortDesc = !!opts.sortDesc;
      this.empty = opts.empty || "Nothing to show.";
      this.rowId = opts.rowId || null;
      this.filter = "";
      this.page = 0;
      this.rows = [];
      this.el.innerHTML =
        '<div class="tools"' + (opts.tools === false ? ' style="display:none"' : "") + '>' +
        '<input type="search" placeholder="Filter…" aria-label="Filter">' +
        '<span class="count"></span></div>' +
        '<div class="tablewrap"><table class="grid"><thead><tr></tr></thead><tbody></tbody></table></div>' +
        '<div class="pager"><button data-p="prev">‹ Prev</button><span class="where"></span>' +
        '<button data-p="next">Next ›</button><select aria-label="Rows per page">' +
        [10, 20, 50, 100, 500].map((n) => "<option>" + n + "</option>").join("") + "</select></div>";
      const tr = this.el.querySelector("thead tr");
      tr.innerHTML = this.columns.map((c, i) =>
        '<th data-i="' + i + '" class="' + (c.sort === false ? "" : "sortable ") + (c.num ? "num" : "") + '"' +
        (c.title ? ' title="' + esc(c.title) + '"' : "") + ">" + esc(c.label) + '<span class="arrow"></span></th>').join("");
      tr.onclick = (e) => {
        const th = e.target.closest("th");
        if (!th || !th.classList.contains("sortable")) return;
        const c = this.columns[+th.dataset.i];
        if (this.sortKey === c.key) this.sortDesc = !this.sortDesc;
        else { this.sortKey = c.key; this.sortDesc = !!c.num; }
        this.render();
      };
      const input = this.el.querySelector("input[type=search]");
      input.oninput = () => { this.filter = input.value.trim().toLowerCase(); this.page = 0; this.render(); };
      this.el.querySelector(".pager").onclick = (e) => {
        const p = e.target.dataset && e.target.dataset.p;
        if (p === "prev") this.page--;
        else if (p === "next") this.page++;
        else return;
        this.render();
      };
      const sel = this.el.querySelector(".pager select");
      if (![10, 20, 50, 100, 500].includes(this.pageSize)) {
        sel.insertAdjacentHTML("afterbegin", "<option>" + this.pageSize + "</option>");
      }
      sel.value = String(this.pageSize);
      sel.onchange = () => { this.pageSize = +sel.value; this.page = 0; this.render(); };
    }

    setRows(rows) {
      this.rows = rows || [];
      this.render();
    }

    sortValue(row, key) {
      const c = this.columns.find((x) => x.key === key);
      const v = c && c.value ? c.value(row) : row[key];
      if (typeof v === "number") return v;
      const n = parseFloat(v);
      return c && c.num && !isNaN(n) ? n : String(v === null || v === undefined ? "" : v).toLowerCase();
    }

    render() {
      let rows = this.rows;
      if (this.filter) {
        const f = this.filter;
        rows = rows.filter((r) => this.columns.some((c) => {
          const v = c.value ? c.value(r) : r[c.key];
          return v !== null && v !== undefined && String(v).toLowerCase().includes(f);
        }));
      }
      if (this.sortKey) {
        const k = this.sortKey, d = this.sortDesc ? -1 : 1;
        rows = rows.slice().sort((a, b) => {
          const x = this.sortValue(a, k), y = this.sortValue(b, k);
          return x < y ? -d : x > y ? d : 0;
        });
      }
      const pages = Math.max(1, Math.ceil(rows.length / this.pageSize));
      this.page = Math.min(Math.max(0, this.page), pages - 1);
      const start = this.page * this.pageSize;
      const visible = rows.slice(start, start + this.pageSize);
      const body = this.el.querySelector("tbody");
      if (!visible.length) {
        body.innerHTML = '<tr><td class="empty" colspan="' + this.columns.length + '">' + esc(this.empty) + "</td></tr>";
      } else {
        body.innerHTML = visible.map((r) =>
          "<tr" + (this.rowId ? ' data-id="' + esc(this.rowId(r)) + '"' : "") + ">" +
          this.columns.map((c) => {
            const cls = [c.num ? "num" : "", c.cls ? (typeof c.cls === "function" ? c.cls(r) : c.cls) : ""].join(" ").trim();
            const html = c.render ? c.render(r) : (c.num ? num(r[c.key]) : esc(r[c.key]));
            return "<td" + (cls ? ' class="' + cls + '"' : "") + ">" + html + "</td>";
          }).join("") + "</tr>").join("");
      }
      this.el.querySelectorAll("thead th").forEach((th) => {
        const c = this.columns[+th.dataset.i];
        th.querySelector(".arrow").textContent = c.key === this.sortKey ? (this.sortDesc ? "▼" : "▲") : "";
      });
      const total = this.rows.length;
      const plural = (n) => n + (n === 1 ? " row" : " rows");
      this.el.querySelector(".count").textContent = rows.length === total ? plural(total) : rows.length + " of " + plural(total);
      const pager = this.el.querySelector(".pager");
      pager.style.display = rows.length > Math.min(this.pageSize, 10) ? "" : "none";
      pager.querySelector(".where").textContent = "Page " + (this.page + 1) + " of " + pages;
      pager.querySelector('[data-p="prev"]').disabled = this.page === 0;
      pager.querySelector('[data-p="next"]').disabled = this.page >= pages - 1;
    }
  }

  // A key/value table of a configuration map.
  function confTable(container, conf, pageSize) {
    const rows = Object.keys(conf || {}).sort().map((k) => ({
      key: k,
      value: typeof conf[k] === "string" ? conf[k] : JSON.stringify(conf[k]),
    }));
    const t = new Table(container, {
      pageSize: pageSize || 20,
      sortKey: "key",
      columns: [
        { key: "key", label: "Key", render: (r) => "<code>" + esc(r.key) + "</code>" },
        { key: "value", label: "Value", cls: "wrap", render: (r) => "<code>" + esc(r.value) + "</code>" },
      ],
    });
    t.setRows(rows);
    return t;
  }

  // Links to the window choices of the current page.
  function windowLinks(container, current) {
    const p = params();
    document.getElementById(container).innerHTML = WINDOWS.map((w) => {
      p.set("window", w);
      return '<a href="?' + esc(p.toString()) + '" class="' + (w === current ? "here" : "") + '">' + esc(windowName(w)) + "</a>";
    }).join("");
  }

  // The error line of a component (host:port, age, message).
  function lastError(r) {
    if (!r.lastError) return "";
    return '<span class="err" title="' + esc(r.lastError) + '">' + esc(r.lastError.split("\n")[0].slice(0, 80)) + "</span>" +
      (r.errorLapsedSecs !== null && r.errorLapsedSecs !== undefined ? ' <span class="muted">(' + ago(r.errorLapsedSecs) + ")</span>" : "");
  }

  function errorHost(r) {
    if (!r.errorHost) return "";
    const hp = esc(r.errorHost) + (r.errorPort ? ":" + esc(r.errorPort) : "");
    return r.errorWorkerLogLink ? '<a href="' + esc(r.errorWorkerLogLink) + '">' + hp + "</a>" : hp;
  }

  // Capacity cells: warm at 0.5, hot at 0.8 and over (a bolt close to saturation).
  const capacityClass = (r) => {
    const c = parseFloat(r.capacity);
    return c >= 0.8 ? "hot" : c >= 0.5 ? "warm" : "";
  };

  function pageSizeOf(conf) {
    const n = conf && parseInt(conf["ui.pagination"], 10);
    return n > 0 ? n : 20;
  }

  return {
    esc, api, post, params, enc, num, mem, badge, time, ago, windowName, WINDOWS, settings,
    header, stamp, banner, Table, confTable, windowLinks, lastError, errorHost, capacityClass,
    pageSizeOf, ApiError,
  };
})();
