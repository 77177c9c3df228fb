// A batch's page, live: each job's status and progress as they change, its result's thumbnail when it
// succeeds, and the zip link once there is something in it. No protocol of its own: the owner's
// "my jobs" socket (ws/jobs/) carries a status line for each of their jobs; anyone else watching a
// public batch gets the job sockets (ws/jobs/<id>/) of the jobs still running. Without JavaScript the
// page reloads itself while a job is active.
(function () {
  "use strict";
  const root = document.getElementById("batch");
  if (!root || !("WebSocket" in window)) return;
  const FINAL = ["succeeded", "failed", "cancelled"];
  const items = function () { return Array.prototype.slice.call(root.querySelectorAll(".batch-job")); };
  const active = function () { return items().some(function (li) { return FINAL.indexOf(li.dataset.status) < 0; }); };
  if (!active()) return;
  const live = document.getElementById("live-state");

  function update(ev) {
    const item = root.querySelector('.batch-job[data-job-id="' + ev.job + '"]');
    if (!item || !ev.status) return;
    item.dataset.status = ev.status;
    const badge = item.querySelector(".status");
    badge.className = "status status-" + ev.status;
    if (ev.status_label) badge.textContent = ev.status_label;
    const bar = item.querySelector("progress");
    if (ev.total_steps) bar.max = ev.total_steps;
    if (ev.step !== undefined) bar.value = ev.status === "succeeded" ? bar.max : ev.step;
    if (ev.status === "succeeded" && !item.querySelector(".thumb img")) {
      const img = document.createElement("img");
      img.src = item.dataset.resultUrl;
      img.alt = "Result of job " + ev.job;
      item.querySelector(".thumb").append(img);
      document.getElementById("batch-zip").hidden = false;
    }
    document.getElementById("batch-done").textContent =
      String(items().filter(function (li) { return li.dataset.status === "succeeded"; }).length);
    if (!active()) { live.hidden = true; closeAll(); }
  }

  const sockets = [];
  function closeAll() { sockets.forEach(function (s) { s.close(1000); }); }

  function open(path, onSnapshot) {
    let delay = 1000;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + path);
      sockets.push(socket);
      socket.onmessage = function (message) {
        const data = JSON.parse(message.data);
        if (data.event === "snapshot") { delay = 1000; live.hidden = false; live.textContent = "· live"; onSnapshot(data); }
        else update(data);
      };
      socket.onclose = function (e) {
        if (!active() || e.code === 4404 || e.code === 4401) return;
        setTimeout(connect, delay * (0.8 + 0.4 * Math.random()));
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  if (root.dataset.owner === "1") {
    open("/ws/jobs/", function (snapshot) { (snapshot.jobs || []).forEach(update); });
  } else {
    items().filter(function (li) { return FINAL.indexOf(li.dataset.status) < 0; }).forEach(function (li) {
      open("/ws/jobs/" + li.dataset.jobId + "/", update);
    });
  }
})();
