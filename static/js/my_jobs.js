// "My jobs", live: while one of the listed jobs is queued or running, one websocket (ws/jobs/,
// engine.consumers.MyJobsConsumer) brings a status line for each change of any of the user's jobs,
// and the row's status and progress cells follow. Without JavaScript the page reloads itself.
(function () {
  "use strict";
  const table = document.querySelector("table[data-live-jobs]");
  if (!table || !("WebSocket" in window)) return;
  const ACTIVE = ["queued", "running"];
  const rows = function () { return Array.prototype.slice.call(table.querySelectorAll("tr.job-row")); };
  const anyActive = function () { return rows().some(function (r) { return ACTIVE.indexOf(r.dataset.status) >= 0; }); };
  if (!anyActive()) return;

  function update(line) {
    const row = table.querySelector('tr[data-job-id="' + line.job + '"]');
    if (!row) return; // not on this page
    row.dataset.status = line.status;
    const badge = row.querySelector(".job-status-cell .status");
    badge.className = "status status-" + line.status;
    badge.textContent = line.status_label;
    if (line.step === undefined) return; // a queue move: no progress in it
    row.querySelector(".job-progress-cell").textContent = line.mode === "classic" ?
      line.step + " / " + line.total_steps + " steps" : line.progress_percent + "%";
  }

  let delay = 1000, socket = null;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/jobs/");
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.event === "snapshot") { delay = 1000; data.jobs.forEach(update); } else update(data);
      if (!anyActive()) socket.close(1000); // everything listed has ended
    };
    socket.onclose = function (e) {
      if (e.code === 4401 || !anyActive()) return;
      setTimeout(connect, delay * (0.8 + 0.4 * Math.random()));
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
