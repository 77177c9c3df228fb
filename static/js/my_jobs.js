// "My jobs", live: while one of the listed jobs is queued or running, one websocket (ws/jobs/,
// engine.live.consumers.MyJobsConsumer, opened by static/js/live_socket.js) brings each change of any of
// the user's jobs with the job's entry as the server renders it (engine.live.job_page: a job's card's
// picture, status and progress, or its tile in its batch's card), which replaces the element of the same
// id. Without JavaScript the page reloads itself.
(function () {
  "use strict";
  const grid = document.querySelector("[data-live-jobs]");
  if (!grid || !("WebSocket" in window) || !window.NST || !window.NST.liveSocket) return;
  const ACTIVE = ["queued", "running"];
  const anyActive = function () {
    return Array.prototype.some.call(grid.querySelectorAll(".job-row, .batch-job"), function (entry) {
      return ACTIVE.indexOf(entry.dataset.status) >= 0;
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
