// The supervisor page: /api/v1/supervisor?id=<id> or ?host=<host>.
"use strict";
(() => {
  const { esc, mem, enc, Table } = UI;
  const p = UI.params();
  const sid = p.get("id"), host = p.get("host");
  const supervisors = new Table("supervisors-table", {
    tools: false, sortKey: "host",
    columns: [
      { key: "host", label: "Host" },
      { key: "id", label: "Id", render: (r) => '<span class="mono">' + esc(r.id) + "</span>" },
      { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
      { key: "slotsTotal", label: "Slots", num: true },
      { key: "slotsUsed", label: "Used slots", num: true },
      { key: "totalMem", label: "Total mem", num: true, render: (r) => mem(r.totalMem) },
      { key: "version", label: "Version" },
      { key: "logLink", label: "Log", sort: false, render: (r) => '<a href="' + esc(r.logLink) + '">supervisor.log</a>' },
    ],
  });
  const workers = new Table("workers-table", {
    sortKey: "topologyName", empty: "No workers run here.",
    columns: [
      { key: "topologyName", label: "Topology", render: (r) => '<a href="/topology.html?id=' + enc(r.topologyId) + '">' + esc(r.topologyName) + "</a>" },
      { key: "port", label: "Port", num: true, render: (r) => UI.esc(r.port) },
      { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
      { key: "executorsTotal", label: "Executors", num: true },
      { key: "components", label: "Components", cls: "wrap", value: (r) => Object.keys(r.componentNumTasks || {}).join(" "),
        render: (r) => esc(Object.keys(r.componentNumTasks || {}).join(", ")) },
      { key: "workerLogLink", label: "Log", sort: false, render: (r) => '<a href="' + esc(r.workerLogLink) + '">worker.log</a>' },
    ],
  });

  async function load() {
    const err = document.getElementById("error");
    if (!sid && !host) { UI.banner(err, "error", "Open this page from the cluster summary."); return; }
    document.getElementById("supervisor-name").textContent = sid || host;
    try {
      const q = (sid ? "id=" + enc(sid) : "host=" + enc(host)) + (UI.settings.sys ? "&sys=true" : "");
      const s = await UI.api("/supervisor?" + q);
      err.classList.add("hidden");
      supervisors.setRows(s.supervisors);
      workers.setRows(s.workers);
      UI.stamp();
    } catch (e) {
      UI.banner(err, "error", "Cannot load the supervisor: " + esc(e.message) + ' <a href="/">Back to the cluster summary</a>.');
    }
  }
  UI.header("supervisor", { sys: true, onChange: load, crumbs: '<a href="#" class="here">Supervisor</a>' });
  load();
})();
