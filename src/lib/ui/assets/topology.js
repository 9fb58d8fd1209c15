// The topology page: one request (/api/v1/topology/<id>) fills every table; actions post to the
// API after a confirmation and reload the page's data.
"use strict";
(() => {
  const { esc, num, mem, badge, enc, Table } = UI;
  const p = UI.params();
  const id = p.get("id") || "";
  const windowParam = p.get("window") || ":all-time";
  let tables = null;
  let topo = null;
  let graph = null;

  const componentLink = (cid) =>
    '<a href="/component.html?id=' + enc(cid) + "&topology_id=" + enc(id) +
    (windowParam !== ":all-time" ? "&window=" + enc(windowParam) : "") + '">' + esc(cid) + "</a>";

  function build(pageSize) {
    tables = {
      stats: new Table("stats-table", {
        pageSize: 10, tools: false, sort: false,
        columns: [
          { key: "window", label: "Window", sort: false, render: (r) => {
            const q = new URLSearchParams(location.search); q.set("window", r.window);
            return '<a href="?' + esc(q.toString()) + '">' + esc(UI.windowName(r.window)) + "</a>";
          } },
          { key: "emitted", label: "Emitted", num: true, sort: false },
          { key: "transferred", label: "Transferred", num: true, sort: false },
          { key: "completeLatency", label: "Complete latency (ms)", num: true, sort: false },
          { key: "acked", label: "Acked", num: true, sort: false },
          { key: "failed", label: "Failed", num: true, sort: false },
          { key: "failedTimeout", label: "Timed out", num: true, sort: false,
            title: "Failures because the tuple tree was not completed within topology.message.timeout.secs" },
          { key: "failedExplicit", label: "Failed by a bolt", num: true, sort: false,
            title: "Failures because a bolt called fail()" },
          { key: "reportedErrors", label: "Errors reported", num: true, sort: false },
        ],
      }),
      spouts: new Table("spouts-table", {
        pageSize, sortKey: "spoutId", empty: "No spouts.", rowId: (r) => r.spoutId,
        columns: [
          { key: "spoutId", label: "Id", render: (r) => componentLink(r.spoutId) },
          { key: "executors", label: "Executors", num: true },
          { key: "tasks", label: "Tasks", num: true },
          { key: "emitted", label: "Emitted", num: true },
          { key: "transferred", label: "Transferred", num: true },
          { key: "completeLatency", label: "Complete latency (ms)", num: true },
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
          { key: "failedTimeout", label: "Timed out", num: true, render: (r) => r.failedTimeout ?? "" },
          { key: "failedExplicit", label: "Failed by a bolt", num: true, render: (r) => r.failedExplicit ?? "" },
          { key: "errorHost", label: "Error host:port", render: UI.errorHost },
          { key: "lastError", label: "Last error", cls: "wrap", render: UI.lastError },
        ],
      }),
      bolts: new Table("bolts-table", {
        pageSize, sortKey: "boltId", empty: "No bolts.", rowId: (r) => r.boltId,
        columns: [
          { key: "boltId", label: "Id", render: (r) => componentLink(r.boltId) },
          { key: "executors", label: "Executors", num: true },
          { key: "tasks", label: "Tasks", num: true },
          { key: "emitted", label: "Emitted", num: true },
          { key: "transferred", label: "Transferred", num: true },
          { key: "capacity", label: "Capacity (last 10m)", num: true, cls: UI.capacityClass,
            title: "Share of the last 10 minutes the busiest executor spent executing; near 1 means the bolt is saturated" },
          { key: "executeLatency", label: "Execute latency (ms)", num: true },
          { key: "executed", label: "Executed", num: true },
          { key: "processLatency", label: "Process latency (ms)", num: true },
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
          { key: "errorHost", label: "Error host:port", render: UI.errorHost },
          { key: "lastError", label: "Last error", cls: "wrap", render: UI.lastError },
        ],
      }),
      workers: new Table("workers-table", {
        pageSize, sortKey: "host",
        columns: [
          { key: "host", label: "Host", render: (r) => '<a href="/supervisor.html?id=' + enc(r.supervisorId) + '">' + esc(r.host) + "</a>" },
          { key: "port", label: "Port", num: true, render: (r) => UI.esc(r.port) },
          { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
          { key: "executorsTotal", label: "Executors", num: true },
          { key: "assignedMemOnHeap", label: "Assigned mem", num: true, render: (r) => mem(r.assignedMemOnHeap + r.assignedMemOffHeap) },
          { key: "components", label: "Components", cls: "wrap", value: (r) => Object.keys(r.componentNumTasks || {}).join(" "),
            render: (r) => {
              const c = Object.entries(r.componentNumTasks || {});
              const shown = c.slice(0, 12).map(([k, v]) => esc(k) + (v > 1 ? " ×" + v : "")).join(", ");
              return shown + (c.length > 12 ? ' <span class="muted">+' + (c.length - 12) + " more</span>" : "");
            } },
          { key: "workerLogLink", label: "Log", sort: false, render: (r) => '<a href="' + esc(r.workerLogLink) + '">worker.log</a>' },
        ],
      }),
    };
    UI.confTable("conf-table", topo.configuration, pageSize);
  }

  function fact(k, v) {
    return '<div class="fact"><div class="k">' + esc(k) + '</div><div class="v">' + v + "</div></div>";
  }

  function render() {
    document.title = topo.name + " · Storm UI";
    document.getElementById("topology-name").textContent = topo.name;
    document.getElementById("topology-status").innerHTML = badge(topo.status);
    document.getElementById("topology-id").textContent = topo.id;
    document.getElementById("topology-facts").innerHTML =
      fact("Owner", esc(topo.owner || "")) +
      fact("Uptime", esc(topo.uptime || "0s")) +
      fact("Workers", num(topo.workersTotal)) +
      fact("Executors", num(topo.executorsTotal)) +
      fact("Tasks", num(topo.tasksTotal)) +
      fact("Message timeout", num(topo.msgTimeout) + " s") +
      fact("Replication", num(topo.replicationCount)) +
      fact("Assigned memory", mem(topo.assignedTotalMem)) +
      fact("Debug", topo.debug ? "on (" + num(topo.samplingPct) + " %)" : "off") +
      fact("Storm version", esc(topo.stormVersion || ""));
    const hint = "(" + UI.windowName(topo.window) + ")";
    document.getElementById("spouts-window").textContent = hint;
    document.getElementById("bolts-window").textContent = hint;
    UI.windowLinks("windows", topo.window);
    tables.stats.setRows(topo.topologyStats);
    tables.spouts.setRows(topo.spouts);
    tables.bolts.setRows(topo.bolts);
    tables.workers.setRows(topo.workers);
    const s = topo.status;
    const enabled = topo.uiActionsEnabled !== false;
    document.getElementById("actions-card").classList.toggle("hidden", !enabled);
    const set = (b, on) => { document.getElementById(b).disabled = !on; };
    set("btn-activate", s === "INACTIVE");
    set("btn-deactivate", s === "ACTIVE");
    set("btn-rebalance", s === "ACTIVE" || s === "INACTIVE");
    set("btn-kill", s !== "KILLED");
    set("btn-debug", s !== "KILLED");
    set("btn-stop-debug", topo.debug && s !== "KILLED");
    set("btn-log-level", s !== "KILLED");
  }

  async function load() {
    const err = document.getElementById("error");
    if (!id) {
      UI.banner(err, "error", "No topology id: open this page from the cluster summary.");
      return;
    }
    try {
      const q = "?window=" + enc(windowParam) + (UI.settings.sys ? "&sys=true" : "");
      topo = await UI.api("/topology/" + enc(id) + q);
      err.classList.add("hidden");
      if (!tables) build(UI.pageSizeOf(topo.configuration));
      render();
      document.getElementById("content").classList.remove("hidden");
      if (graph) graph.refresh();
      UI.stamp();
    } catch (e) {
      const msg = e.notAlive
        ? "Topology <span class=\"mono\">" + esc(id) + "</span> is not running (it was killed, or never submitted)."
        : "Cannot load the topology: " + esc(e.message);
      UI.banner(err, "error", msg + ' <a href="/">Back to the cluster summary</a>.');
      if (e.notAlive) document.getElementById("content").classList.add("hidden");
    }
  }

  async function act(path, what, body) {
    const notice = document.getElementById("notice");
    try {
      await UI.post("/topology/" + enc(id) + path, body);
      UI.banner(notice, "info", esc(what) + " requested.");
    } catch (e) {
      UI.banner(notice, "error", esc(what) + " failed: " + esc(e.message));
    }
    await load();
  }

  const name = () => topo ? topo.name : id;
  document.getElementById("btn-activate").onclick = () => {
    if (confirm('Activate topology "' + name() + '"?')) act("/activate", "Activation");
  };
  document.getElementById("btn-deactivate").onclick = () => {
    if (confirm('Deactivate topology "' + name() + '"? Its spouts stop emitting.')) act("/deactivate", "Deactivation");
  };
  document.getElementById("btn-kill").onclick = () => {
    const wait = prompt('Kill topology "' + name() + '"?\nSeconds to wait between deactivation and shutdown:',
      String(topo ? topo.msgTimeout : 30));
    if (wait === null) return;
    if (!/^\d+$/.test(wait.trim())) { alert("The wait time must be a whole number of seconds."); return; }
    act("/kill/" + wait.trim(), "Kill");
  };
  document.getElementById("btn-rebalance").onclick = () => {
    const d = document.getElementById("rebalance-dialog");
    document.getElementById("rebalance-name").textContent = name();
    document.getElementById("rb-wait").value = topo ? topo.msgTimeout : 30;
    document.getElementById("rb-workers").value = "";
    document.getElementById("rb-executors").value = "";
    const sel = document.getElementById("rb-component");
    const comps = topo ? topo.spouts.map((s) => s.spoutId).concat(topo.bolts.map((b) => b.boltId)) : [];
    sel.innerHTML = '<option value="">(none)</option>' + comps.map((c) => "<option>" + esc(c) + "</option>").join("");
    d.returnValue = "";
    d.showModal();
    d.onclose = () => {
      if (d.returnValue !== "ok") return;
      const options = {};
      const workers = document.getElementById("rb-workers").value.trim();
      if (workers) options.numWorkers = +workers;
      const comp = sel.value, execs = document.getElementById("rb-executors").value.trim();
      if (comp && execs) options.executors = { [comp]: +execs };
      const wait = document.getElementById("rb-wait").value.trim() || "0";
      act("/rebalance/" + enc(wait), "Rebalance", { rebalanceOptions: options });
    };
  };
  document.getElementById("btn-debug").onclick = () => {
    const pct = prompt('Sample what percentage of tuples of "' + name() + '" for debugging?', "10");
    if (pct === null) return;
    if (!/^\d+$/.test(pct.trim())) { alert("The percentage must be a whole number."); return; }
    act("/debug/enable/" + pct.trim(), "Debug");
  };
  document.getElementById("btn-stop-debug").onclick = () => {
    if (confirm('Stop debugging "' + name() + '"?')) act("/debug/disable/" + Math.round(topo.samplingPct || 0), "Stopping debug");
  };
  document.getElementById("btn-log-level").onclick = async () => {
    const d = document.getElementById("loglevel-dialog");
    const current = document.getElementById("ll-current");
    current.textContent = "";
    try {
      const lc = await UI.api("/topology/" + enc(id) + "/logconfig");
      const names = Object.entries(lc.namedLoggerLevels || {});
      current.textContent = names.length ? "Current: " + names.map(([k, v]) => k + "=" + v.target_level).join(", ") : "No log levels set.";
    } catch (_) { /* shown on apply */ }
    d.returnValue = "";
    d.showModal();
    d.onclose = () => {
      if (d.returnValue !== "ok") return;
      const logger = document.getElementById("ll-logger").value.trim() || "ROOT";
      const level = document.getElementById("ll-level").value;
      const timeout = +(document.getElementById("ll-timeout").value || 0);
      act("/logconfig", "Log level change",
        { namedLoggerLevels: { [logger]: level ? { target_level: level, timeout } : { target_level: null, timeout } } });
    };
  };
  document.getElementById("btn-viz").onclick = () => {
    const box = document.getElementById("viz");
    const b = document.getElementById("btn-viz");
    if (graph) {
      graph.stop(); graph = null; box.classList.add("hidden"); box.innerHTML = ""; b.textContent = "Show visualization";
    } else {
      box.classList.remove("hidden"); b.textContent = "Hide visualization";
      graph = new StormGraph(box, id, { sys: UI.settings.sys });
    }
  };
  document.getElementById("open-viz").href = "/visualize.html?id=" + enc(id);

  UI.header("topology", {
    sys: true, onChange: load,
    crumbs: '<a href="/topology.html?id=' + enc(id) + '" class="here">Topology</a>',
  });
  load();
})();
