// The cluster page: summary, nimbuses, topologies, supervisors and the nimbus configuration.
"use strict";
(() => {
  const { esc, num, mem, badge, enc, Table } = UI;
  let tables = null;

  function build(pageSize) {
    tables = {
      nimbus: new Table("nimbus-table", {
        pageSize, tools: false, sortKey: "host",
        columns: [
          { key: "host", label: "Host" },
          { key: "port", label: "Port", num: true, render: (r) => esc(r.port) },
          { key: "status", label: "Status", render: (r) => badge(r.status) },
          { key: "version", label: "Version" },
          { key: "nimbusUpTimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.nimbusUpTime) },
          { key: "nimbusLogLink", label: "Log", sort: false, render: (r) => '<a href="' + esc(r.nimbusLogLink) + '">nimbus.log</a>' },
        ],
      }),
      topology: new Table("topology-table", {
        pageSize, sortKey: "name", empty: "No topologies running.",
        rowId: (r) => r.id,
        columns: [
          { key: "name", label: "Name", render: (r) => '<a href="/topology.html?id=' + enc(r.id) + '">' + esc(r.name) + "</a>" },
          { key: "id", label: "Id", render: (r) => '<span class="mono">' + esc(r.id) + "</span>" },
          { key: "owner", label: "Owner" },
          { key: "status", label: "Status", render: (r) => badge(r.status) },
          { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
          { key: "workersTotal", label: "Workers", num: true },
          { key: "executorsTotal", label: "Executors", num: true },
          { key: "tasksTotal", label: "Tasks", num: true },
          { key: "replicationCount", label: "Replication", num: true },
          { key: "assignedTotalMem", label: "Assigned mem", num: true, render: (r) => mem(r.assignedTotalMem) },
          { key: "schedulerInfo", label: "Scheduler info", cls: "wrap" },
        ],
      }),
      supervisor: new Table("supervisor-table", {
        pageSize, sortKey: "host", empty: "No supervisors are registered.",
        columns: [
          { key: "host", label: "Host", render: (r) => '<a href="/supervisor.html?host=' + enc(r.host) + '">' + esc(r.host) + "</a>" },
          { key: "id", label: "Id", render: (r) => '<a class="mono" href="/supervisor.html?id=' + enc(r.id) + '">' + esc(r.id) + "</a>" },
          { key: "uptimeSeconds", label: "Uptime", num: true, render: (r) => esc(r.uptime) },
          { key: "slotsTotal", label: "Slots", num: true },
          { key: "slotsUsed", label: "Used slots", num: true },
          { key: "slotsFree", label: "Free slots", num: true },
          { key: "totalMem", label: "Total mem", num: true, render: (r) => mem(r.totalMem) },
          { key: "usedMem", label: "Used mem", num: true, render: (r) => mem(r.usedMem) },
          { key: "version", label: "Version" },
          { key: "logLink", label: "Log", sort: false, render: (r) => '<a href="' + esc(r.logLink) + '">supervisor.log</a>' },
        ],
      }),
    };
  }

  function fact(k, v, id) {
    return '<div class="fact"' + (id ? ' id="' + id + '"' : "") + '><div class="k">' + esc(k) + '</div><div class="v">' + v + "</div></div>";
  }

  async function load() {
    const err = document.getElementById("error");
    try {
      const [cluster, nimbus, topologies, supervisors, conf] = await Promise.all([
        UI.api("/cluster/summary"), UI.api("/nimbus/summary"), UI.api("/topology/summary"),
        UI.api("/supervisor/summary"), UI.api("/cluster/configuration"),
      ]);
      err.classList.add("hidden");
      if (!tables) {
        build(UI.pageSizeOf(conf));
        UI.confTable("conf-table", conf, UI.pageSizeOf(conf));
      }
      document.getElementById("version").textContent = "Storm " + cluster.stormVersion;
      document.getElementById("cluster-facts").innerHTML =
        fact("Supervisors", num(cluster.supervisors), "fact-supervisors") +
        fact("Topologies", num(cluster.topologies), "fact-topologies") +
        fact("Slots used / total", num(cluster.slotsUsed) + " / " + num(cluster.slotsTotal), "fact-slots") +
        fact("Free slots", num(cluster.slotsFree)) +
        fact("Executors", num(cluster.executorsTotal)) +
        fact("Tasks", num(cluster.tasksTotal)) +
        fact("Memory assigned", esc(cluster.memAssignedPercentUtil) + " %") +
        fact("Total memory", mem(cluster.totalMem));
      tables.nimbus.setRows(nimbus.nimbuses);
      tables.topology.setRows(topologies.topologies);
      tables.supervisor.setRows(supervisors.supervisors);
      UI.stamp();
    } catch (e) {
      UI.banner(err, "error", "Cannot load the cluster summary: " + esc(e.message));
    }
  }

  UI.header("cluster", { onChange: load });
  load();
})();
