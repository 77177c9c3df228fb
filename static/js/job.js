// The job page, live. Without JavaScript the page shows the state it was rendered with and
// reloads itself every few seconds; with it, a websocket (ws/jobs/<id>/, engine.live.consumers, opened by
// static/js/live_socket.js) brings every change as it happens: a snapshot on (re)connect, then
// events (queued, started, progress, finished, failed, cancelled; engine/live/events.py). Each carries
// the server's rendering of the parts of the page that changed (status, queue, progress, previews,
// the result with its downloads, the run table, delete and publish boxes: engine.live.job_page), which
// NST.swapFragments puts in place, so the end of a live run shows what a reload would. This script
// adds what only a browser does:
// - the loss chart (uPlot, log scale, the saved plot's colours, whole steps on its x-axis), which
//   gets every step's losses;
// - Cancel without leaving the page (the socket then says "cancelling" until the worker says where
//   it stopped, or that it had already finished: the result is then kept);
// - a browser notification, if asked for (static/js/notify.js), while the page is in a background tab;
// - messages shown above the page when it was rendered (e.g. "Job 12 will be in the gallery once it
//   has finished") describe the job as it was: they go once its status changes.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root || !("WebSocket" in window) || !window.NST || !window.NST.liveSocket) return;
  const FINAL = ["succeeded", "failed", "cancelled"];
  if (FINAL.indexOf(root.dataset.status) >= 0) return; // nothing will change any more
  const jobId = root.dataset.jobId;
  const renderedStatus = root.dataset.status;
  const $ = function (id) { return document.getElementById(id); };

  // --- the loss chart -------------------------------------------------------------------------
  // Points arrive as [step, content, style, tv, total]; uPlot wants columns. A log scale cannot
  // show 0 (e.g. a TV weight of 0), so such values are left out (null).
  const chart = { plot: null, columns: [[], [], [], [], []], lastStep: 0 };
  const ORDER = [2, 1, 3, 4]; // style, content, tv, total from a point

  function positive(v) { return v > 0 && isFinite(v) ? v : null; }

  function addLosses(points, replace) {
    const box = $("loss-chart");
    if (!box || !window.uPlot) return;
    if (replace) { chart.columns = [[], [], [], [], []]; chart.lastStep = 0; }
    let added = 0;
    (points || []).forEach(function (p) {
      if (p[0] <= chart.lastStep) return; // already drawn (a snapshot and an event overlap)
      chart.columns[0].push(p[0]);
      ORDER.forEach(function (k, i) { chart.columns[i + 1].push(positive(p[k])); });
      chart.lastStep = p[0];
      added += 1;
    });
    if (!added && !replace) return;
    if (chart.columns[0].length) {
      box.hidden = false;
      $("live").hidden = false;
    }
    if (!chart.plot && chart.columns[0].length) chart.plot = new window.uPlot(chartOptions(box), chart.columns, box);
    else if (chart.plot) chart.plot.setData(chart.columns);
    box.dataset.points = String(chart.columns[0].length);
  }

  // The saved loss plot's colours (engine.nst.history.SERIES_COLOURS), so a term looks the same in both.
  const COLOURS = JSON.parse(($("series-colours") || { textContent: "{}" }).textContent);
  // Steps are whole numbers: the x-axis ticks at 1, 2, 5, 10, 20, ... never at 1.2 or 1.4.
  const STEP_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

  function chartOptions(box) {
    return {
      width: Math.max(280, box.clientWidth || 600), height: 280,
      scales: { x: { time: false }, y: { distr: 3, log: 10 } },
      axes: [
        { label: "step", incrs: STEP_INCREMENTS, values: stepTicks },
        { label: "loss (weighted)", size: 64, values: logTicks },
      ],
      legend: { live: false },
      series: [
        { label: "step" },
        { label: "style", stroke: COLOURS.style || "#3d5afe", width: 1.5 },
        { label: "content", stroke: COLOURS.content || "#2e7d32", width: 1.5 },
        { label: "TV", stroke: COLOURS.tv || "#b26a00", width: 1.5 },
        { label: "total", stroke: COLOURS.total || "#1d2330", width: 2.5 },
      ],
    };
  }

  function stepTicks(u, splits) { // whole steps; the page notes what it drew (data-x-ticks)
    const ticks = splits.map(function (v) { return Number.isInteger(v) ? String(v) : ""; });
    $("loss-chart").dataset.xTicks = splits.filter(function (v) { return v !== null && v !== undefined; }).join(",");
    return ticks;
  }

  function logTicks(u, splits) { // 100, 10, 1, 0.1, 0.01, then 1e-3 ... (the default writes 1e-4 as "0")
    return splits.map(function (v) {
      if (v === null || v === undefined) return "";
      return v >= 0.01 && v < 1e5 ? String(+v.toPrecision(1)) : v.toExponential(0);
    });
  }

  window.addEventListener("resize", function () {
    const box = $("loss-chart");
    if (chart.plot && box) chart.plot.setSize({ width: Math.max(280, box.clientWidth), height: 280 });
  });

  // --- events ---------------------------------------------------------------------------------
  let finished = false; // the job's last word: a final status, except a cancel its worker has not acted on yet

  function handle(ev) {
    if (ev.status !== renderedStatus) {
      document.querySelectorAll("ul.messages").forEach(function (list) { list.remove(); });
    }
    root.dataset.status = ev.status;
    window.NST.swapFragments(ev.html);
    addLosses(ev.losses, ev.event === "snapshot");
    if (FINAL.indexOf(ev.status) >= 0 && !ev.stopping) {
      finished = true;
      if (window.NST.notifyJobEnded) window.NST.notifyJobEnded(ev, location.href);
    }
  }

  // --- cancel without leaving the page ----------------------------------------------------------
  // Delegated: the cancel form is part of the state the server sends again.
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (form.id !== "cancel-form") return;
    e.preventDefault();
    $("cancel-job").disabled = true;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); }) // the socket brings "cancelled"
      .catch(function () { form.submit(); }); // as without JavaScript
  });

  window.NST.liveSocket("/ws/jobs/" + jobId + "/", {
    message: handle, done: function () { return finished; }, state: $("live-state"),
  });
})();
