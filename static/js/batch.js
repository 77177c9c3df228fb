// A batch's page, live: each job's entry (its status, progress, and its result's thumbnail once it
// has succeeded) as the server renders it again when the job changes (engine.live.job_page), swapped in by
// static/js/live_socket.js; the count of jobs done and the zip link follow. No protocol of its own:
// the owner's "my jobs" socket (ws/jobs/) carries each of their jobs' entries; anyone else watching
// a public batch gets the job sockets (ws/jobs/<id>/) of the jobs still running, whose events carry
// the entry too. Without JavaScript the page reloads itself while a job is active.
(function () {
  "use strict";
  const root = document.getElementById("batch");
  if (!root || !("WebSocket" in window) || !window.NST || !window.NST.liveSocket) return;
  const FINAL = ["succeeded", "failed", "cancelled"];
  const items = function () { return Array.prototype.slice.call(root.querySelectorAll(".batch-job")); };
  const ended = function (li) { return FINAL.indexOf(li.dataset.status) >= 0; };
  const active = function () { return !items().every(ended); };
  if (!active()) return;
  const state = document.getElementById("live-state");

  function update(ev) {
    window.NST.swapFragments(ev.html);
    // The summary counts the entries on this page (those the viewer may see), as the page's own render does.
    const done = items().filter(function (li) { return li.dataset.status === "succeeded"; }).length;
    document.getElementById("batch-done").textContent = String(done);
    document.getElementById("batch-zip").hidden = done === 0;
  }

  if (root.dataset.owner === "1") {
    window.NST.liveSocket("/ws/jobs/", {
      message: function (data) { if (data.event === "snapshot") (data.jobs || []).forEach(update); else update(data); },
      done: function () { return !active(); }, state: state,
    });
  } else {
    items().filter(function (li) { return !ended(li); }).forEach(function (li) {
      const id = li.dataset.jobId;
      window.NST.liveSocket("/ws/jobs/" + id + "/", {
        message: update, state: state,
        done: function () { return ended(root.querySelector('.batch-job[data-job-id="' + id + '"]')); },
      });
    });
  }
})();
