// "My jobs", live: while one of the listed jobs is queued or running, one websocket (ws/jobs/,
// engine.live.consumers.MyJobsConsumer, opened by static/js/live_socket.js) brings each change of any of
// the user's jobs with the job's row as the server renders it (engine.live.job_page), which replaces the
// row of the same id. Without JavaScript the page reloads itself.
(function () {
  "use strict";
  const table = document.querySelector("table[data-live-jobs]");
  if (!table || !("WebSocket" in window) || !window.NST || !window.NST.liveSocket) return;
  const ACTIVE = ["queued", "running"];
  const anyActive = function () {
    return Array.prototype.some.call(table.querySelectorAll("tr.job-row"), function (row) {
      return ACTIVE.indexOf(row.dataset.status) >= 0;
    });
  };
  if (!anyActive()) return;

  window.NST.liveSocket("/ws/jobs/", {
    message: function (data) {
      (data.event === "snapshot" ? data.jobs : [data]).forEach(function (line) { window.NST.swapFragments(line.html); });
    },
    done: function () { return !anyActive(); }, // everything listed has ended
  });
})();
