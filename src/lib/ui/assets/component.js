// The component page: /api/v1/topology/<id>/component/<component> in one request.
"use strict";
(() => {
  const { esc, num, badge, enc, Table } = UI;
  const p = UI.params();
  const id = p.get("id") || "";
  const topologyId = p.get("topology_id") || "";
  const windowParam = p.get("window") || ":all-time";
  let tables = null;

  const link = (host, port, href) => {
    const hp = esc(host) + (port ? ":" + esc(port) : "");
    return href ? '<a href="' + esc(href) + '">' + hp + "</a>" : hp;
  };

  function build(c) {
    const bolt = c.componentType === "bolt";
    const pageSize = 20;
    const windowCol = { key: "window", label: "Window", sort: false, render: (r) => {
      const q = new URLSearchParams(location.search); q.set("window", r.window);
      return '<a href="?' + esc(q.toString()) + '">' + esc(UI.windowName(r.window)) + "</a>";
    } };
    const counts = [
      { key: "emitted", label: "Emitted", num: true },
      { key: "transferred", label: "Transferred", num: true },
    ];
    tables = {
      window: new Table("window-table", {
        pageSize: 10, tools: false,
        columns: [windowCol].concat(counts, bolt ? [
          { key: "capacity", label: "Capacity", num: true, cls: UI.capacityClass },
          { key: "executeLatency", label: "Execute latency (ms)", num: true },
          { key: "executed", label: "Executed", num: true },
          { key: "processLatency", label: "Process latency (ms)", num: true },
        ] : [
          { key: "completeLatency", label: "Complete latency (ms)", num: true,
            render: (r) => typeof r.completeLatency === "number" ? r.completeLatency.toFixed(3) : esc(r.completeLatency) },
          { key: "failedTimeout", label: "Timed out", num: true, render: (r) => r.failedTimeout ?? "" },
          { key: "failedExplicit", label: "Failed by a bolt", num: true, render: (r) => r.failedExplicit ?? "" },
        ], [
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
        ]).map((col) => Object.assign({ sort: false }, col)),
      }),
      inputs: bolt ? new Table("inputs-table", {
        pageSize, sortKey: "component", empty: "No input received in this window.",
        columns: [
          { key: "component", label: "Component", render: (r) =>
            '<a href="/component.html?id=' + enc(r.component) + "&topology_id=" + enc(topologyId) + '">' + esc(r.component) + "</a>" },
          { key: "stream", label: "Stream" },
          { key: "executeLatency", label: "Execute latency (ms)", num: true },
          { key: "processLatency", label: "Process latency (ms)", num: true },
          { key: "executed", label: "Executed", num: true },
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
        ],
      }) : null,
      outputs: new Table("outputs-table", {
        pageSize, sortKey: "stream", empty: "Nothing emitted in this window.",
        columns: [{ key: "stream", label: "Stream" }].concat(counts, bolt ? [] : [
          { key: "completeLatency", label: "Complete latency (ms)", num: true },
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
        ]),
      }),
      executors: new Table("executors-table", {
        pageSize, sortKey: "id", empty: "No executor has reported stats yet.",
        columns: [
          { key: "id", label: "Executor (tasks)" },
          { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
          { key: "host", label: "Host:port (worker log)", value: (r) => r.host + ":" + r.port,
            render: (r) => link(r.host, r.port, r.workerLogLink) },
        ].concat(counts, bolt ? [
          { key: "capacity", label: "Capacity", num: true, cls: UI.capacityClass },
          { key: "executeLatency", label: "Execute latency (ms)", num: true },
          { key: "executed", label: "Executed", num: true },
          { key: "processLatency", label: "Process latency (ms)", num: true },
        ] : [
          { key: "completeLatency", label: "Complete latency (ms)", num: true },
        ], [
          { key: "acked", label: "Acked", num: true },
          { key: "failed", label: "Failed", num: true },
        ]),
      }),
      errors: new Table("errors-table", {
        pageSize: 10, sortKey: "errorTime", sortDesc: false, empty: "No errors reported.",
        columns: [
          { key: "errorTime", label: "Time", num: true, render: (r) => esc(UI.time(r.errorTime)) + ' <span class="muted">(' + UI.ago(r.errorLapsedSecs) + ")</span>" },
          { key: "errorHost", label: "Host:port (worker log)", value: (r) => r.errorHost + ":" + r.errorPort,
            render: (r) => link(r.errorHost, r.errorPort, r.errorWorkerLogLink) },
          { key: "error", label: "Error", cls: "wrap", render: (r) => '<pre class="error-text err">' + esc(r.error) + "</pre>" },
        ],
      }),
    };
    document.getElementById("inputs-card").classList.toggle("hidden", !bolt);
  }

  function fact(k, v) {
    return '<div class="fact"><div class="k">' + esc(k) + '</div><div class="v">' + v + "</div></div>";
  }

  async function load() {
    const err = document.getElementById("error");
    if (!id || !topologyId) {
      UI.banner(err, "error", "Open this page from a topology: it needs a component id and a topology id.");
      return;
    }
    try {
      const q = "?window=" + enc(windowParam) + (UI.settings.sys ? "&sys=true" : "");
      const c = await UI.api("/topology/" + enc(topologyId) + "/component/" + enc(id) + q);
      err.classList.add("hidden");
      if (!tables) build(c);
      document.title = c.id + " · " + c.name + " · Storm UI";
      document.getElementById("component-name").textContent = c.id;
      document.getElementById("component-type").textContent = c.componentType;
      const tl = document.getElementById("topology-link");
      tl.textContent = c.name;
      tl.href = "/topology.html?id=" + enc(topologyId);
      document.getElementById("topology-status").innerHTML = badge(c.topologyStatus);
      document.getElementById("component-facts").innerHTML =
        fact("Executors", num(c.executors)) + fact("Tasks", num(c.tasks)) +
        fact("Type", esc(c.componentType)) +
        fact("Debug", c.debug ? "on (" + num(c.samplingPct) + " %)" : "off") +
        fact("Errors", num((c.componentErrors || []).length));
      const hint = "(" + UI.windowName(c.window) + ")";
      ["inputs-window", "outputs-window", "executors-window"].forEach((k) => { document.getElementById(k).textContent = hint; });
      UI.windowLinks("windows", c.window);
      if (c.componentType !== "bolt") {
        // The window links sit in the inputs card; spouts have none, so move them.
        document.getElementById("outputs-table").before(document.getElementById("windows"));
      }
      tables.window.setRows(c.componentType === "bolt" ? c.boltStats : c.spoutSummary);
      if (tables.inputs) tables.inputs.setRows(c.inputStats);
      tables.outputs.setRows(c.outputStats);
      tables.executors.setRows(c.executorStats);
      tables.errors.setRows(c.componentErrors);
      document.getElementById("content").classList.remove("hidden");
      UI.stamp();
    } catch (e) {
      const msg = e.notAlive
        ? "Topology <span class=\"mono\">" + esc(topologyId) + "</span> is not running."
        : "Cannot load the component: " + esc(e.message);
      UI.banner(err, "error", msg + ' <a href="/">Back to the cluster summary</a>.');
    }
  }

  UI.header("component", {
    sys: true, onChange: load,
    crumbs: '<a href="/topology.html?id=' + enc(topologyId) + '">Topology</a><a href="#" class="here">Component</a>',
  });
  load();
})();
