// The job page, live. Without JavaScript the page shows the state it was rendered with and
// reloads itself every few seconds; with it, a websocket (ws/jobs/<id>/, engine.consumers) brings
// every change as it happens:
// - a snapshot on (re)connect, then events: queued, started, progress, finished, failed, cancelled
//   (formats: engine/events.py);
// - the progress bar with its ETA, a strip of epoch thumbnails that grows, a loss chart (uPlot,
//   log scale, the saved plot's colours, whole steps on its x-axis) that gets every step's losses,
//   the result first on the page at the end (with its before/after slider and download buttons),
//   the publish box's text brought up to date, and a browser notification if asked for
//   (static/js/notify.js) while the page is in a background tab;
// - Cancel without leaving the page: "cancelling" until the worker says where it stopped (or that
//   it had already finished: the result is then kept); reconnection with back-off (1 s doubling to 30 s).
// - Messages shown above the page when it was rendered (e.g. "Job 12 will be in the gallery once it
//   has finished") describe the job as it was: they go once its status changes.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root || !("WebSocket" in window)) return;
  const FINAL = ["succeeded", "failed", "cancelled"];
  if (FINAL.indexOf(root.dataset.status) >= 0) return; // nothing will change any more
  const jobId = root.dataset.jobId;
  const $ = function (id) { return document.getElementById(id); };

  // --- small helpers ------------------------------------------------------------------------
  function duration(seconds) { // as the template filter "duration": "12 s", "2 min 5 s", "2 h 1 min"
    if (seconds === null || seconds === undefined) return "";
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    if (h) return h + " h " + m + " min";
    if (m) return s ? m + " min " + s + " s" : m + " min";
    return s + " s";
  }

  function make(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- status, queue, progress ----------------------------------------------------------------
  const renderedStatus = root.dataset.status;

  function showStatus(ev) {
    if (ev.status !== renderedStatus) {
      document.querySelectorAll("ul.messages").forEach(function (list) { list.remove(); });
    }
    const badge = $("job-status");
    badge.textContent = ev.status_label;
    badge.className = "status status-" + ev.status;
    badge.dataset.status = ev.status;
    root.dataset.status = ev.status;
    $("queue-info").hidden = ev.status !== "queued";
    $("progress").hidden = ev.status !== "running";
    const cancel = $("cancel-form");
    if (cancel && FINAL.indexOf(ev.status) >= 0) cancel.remove();
  }

  function showQueue(q) {
    if (!q) return;
    const box = $("queue-text");
    box.replaceChildren();
    const where = make("p");
    if (q.position === 0) {
      where.textContent = "This job is next in the queue.";
    } else {
      where.append("Position in the queue: ", make("strong", { id: "queue-position" }, String(q.position + 1)),
        " (" + q.position + " job" + (q.position === 1 ? "" : "s") + " ahead).");
    }
    box.append(where);
    if (q.workers) {
      box.append(make("p", {}, (q.wait_seconds < 1 ? "It should start right away" :
        "Estimated start in about " + duration(q.wait_seconds)) + ", finished in about " +
        duration(q.finish_seconds) + " (an estimate from recent similar jobs)."));
    } else {
      box.append(make("p", { class: "muted" }, (q.workers === 0 ?
        "No worker is running right now; the job starts as soon as one does." :
        "The queue cannot be asked right now.") + " It should take about " + duration(q.run_seconds) + "."));
    }
  }

  function showRun(ev) { // the "Run" table: worker, device and network once a worker has the job;
    // the run time once it has finished
    ["worker", "device", "network"].forEach(function (name) {
      const cell = $("run-" + name);
      if (!cell || !ev[name]) return;
      cell.textContent = ev[name];
      cell.parentElement.hidden = false;
    });
    const runTime = $("run-seconds");
    if (runTime && typeof ev.run_seconds === "number" && ev.event === "finished") {
      runTime.textContent = duration(ev.run_seconds);
      runTime.parentElement.hidden = false;
    }
  }

  function showProgress(ev) {
    const bar = $("job-progress");
    bar.max = ev.total_steps;
    bar.value = ev.step;
    bar.textContent = ev.progress_percent + "%";
    $("progress-text").textContent = ev.mode === "fast" ? "Stylising" :
      "Epoch " + ev.epoch + " of " + ev.epochs + ", step " + ev.step + " of " + ev.total_steps;
    const eta = ev.eta_seconds;
    $("progress-eta").textContent = eta === null || eta === undefined ? "" : " · about " + duration(eta) + " left";
  }

  // --- epoch thumbnails -----------------------------------------------------------------------
  function addPreview(p) {
    const strip = $("epoch-previews");
    if (!strip || !p) return;
    $("live").hidden = false;
    let item = strip.querySelector('li[data-epoch="' + p.epoch + '"]');
    if (item) {
      item.querySelector("a").href = p.url;
      item.querySelector("img").src = p.url;
      return;
    }
    item = make("li", { "data-epoch": String(p.epoch) });
    const link = make("a", { href: p.url, class: "epoch-link" });
    link.append(make("img", { src: p.url, alt: "Preview after epoch " + p.epoch, height: "144" }));
    item.append(link, make("span", {}, "Epoch " + p.epoch));
    const after = Array.prototype.find.call(strip.children, function (li) { return +li.dataset.epoch > p.epoch; });
    strip.insertBefore(item, after || null);
  }

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

  // --- the end --------------------------------------------------------------------------------
  function showEnd(ev) {
    const end = $("job-end");
    if (ev.status === "failed" && !$("job-error")) {
      const box = make("div", { class: "message message-error", id: "job-error", role: "alert" });
      box.append(make("strong", {}, "The job failed."), " ", make("span", { id: "job-error-text" }, ev.message || ""));
      end.append(box);
    }
    if (ev.status === "cancelled") {
      let note = $("job-cancelled");
      if (!note) {
        note = make("p", { class: "message message-info", id: "job-cancelled" });
        end.append(note);
      }
      // While its worker stops, the row's step is not where it stops: say so, and wait for the worker.
      note.textContent = ev.stopping ? "Cancelling: the worker stops before its next step…" :
        "Cancelled" + (ev.step ? " after step " + ev.step + " of " + ev.total_steps : "") + ".";
      note.dataset.stopping = ev.stopping ? "1" : "0";
    }
    if (ev.status === "succeeded") {
      const cancelled = $("job-cancelled");
      if (cancelled) cancelled.remove(); // a cancel that came after the last step: the result is kept
      if (ev.result_url && !$("result-image")) $("result-slot").append(resultSection(ev));
      showPublished(ev);
    }
    if (!ev.stopping && window.NST && window.NST.notifyJobEnded) window.NST.notifyJobEnded(ev, location.href);
  }

  function resultSection(ev) { // as templates/engine/_result.html
    const section = make("section", { class: "result hero", id: "result" });
    // The photo only for those who may see it (the page says so by giving its URL).
    const compare = make("div", root.dataset.contentUrl ? { class: "compare", id: "compare", "data-before": root.dataset.contentUrl }
      : { class: "compare", id: "compare" });
    compare.append(make("img", { id: "result-image", src: ev.result_url, alt: "The stylised result of job " + jobId }));
    section.append(compare);
    if ((ev.downloads || []).length && !$("downloads")) {
      const buttons = make("div", { id: "downloads", class: "download-buttons", role: "group", "aria-label": "Downloads" });
      ev.downloads.forEach(function (d, i) {
        buttons.append(make("a", { href: d.url, id: "download-" + d.kind, download: "",
          class: "button" + (i ? " button-secondary" : "") }, d.label));
      });
      section.append(buttons);
    }
    if (window.NST && window.NST.setupCompare) window.NST.setupCompare(compare);
    return section;
  }

  function showPublished(ev) { // the publish box as a reload would show it (templates/engine/_publish_toggle.html)
    const state = $("publish-state");
    if (state && ev.visibility === "public") {
      state.replaceChildren("This job is ", make("strong", {}, "in the gallery"));
      if (ev.artwork_url) {
        const link = make("a", { href: ev.artwork_url, id: "gallery-link" }, "see it there");
        state.append(" (", link, ")");
      }
      state.append(".");
    }
    const publish = $("publish-button");
    if (publish) publish.textContent = "Publish it in the gallery";
    const notify = $("job-notify");
    if (notify) notify.remove(); // nothing left to be told about
  }

  // --- events ---------------------------------------------------------------------------------
  function handle(ev) {
    if (ev.event === "snapshot") {
      showStatus(ev);
      showQueue(ev.queue);
      showProgress(ev);
      showRun(ev);
      (ev.previews || []).forEach(addPreview);
      addLosses(ev.losses, true);
      if (FINAL.indexOf(ev.status) >= 0) showEnd(ev);
      return;
    }
    if (ev.event === "queued") { showStatus(ev); showQueue(ev.queue); return; } // also: back in the queue
    showStatus(ev);
    if (ev.event === "started" || ev.event === "progress") showProgress(ev);
    if (ev.event === "started" || ev.event === "finished") showRun(ev);
    if (ev.event === "progress") addPreview(ev.preview);
    addLosses(ev.losses, false);
    if (FINAL.indexOf(ev.status) >= 0) showEnd(ev);
  }

  // --- the socket, with reconnection ----------------------------------------------------------
  const live = $("live-state");
  let delay = 1000, socket = null, finished = false;

  // The job's last word: a final status, except a cancel its worker has not acted on yet.
  function ended(ev) {
    finished = FINAL.indexOf(root.dataset.status) >= 0 && !ev.stopping;
    return finished;
  }

  function say(text) { live.hidden = !text; live.textContent = text; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/jobs/" + jobId + "/");
    socket.onmessage = function (message) {
      const ev = JSON.parse(message.data);
      if (ev.event === "snapshot") { delay = 1000; say("· live"); }
      handle(ev);
      root.dispatchEvent(new CustomEvent("nst:job-event", { detail: ev })); // e.g. static/js/video_job.js
      if (ended(ev)) { say(""); socket.close(1000); }
    };
    socket.onclose = function (e) {
      if (finished) return;
      if (e.code === 4404 || e.code === 4401) { say("· live updates are not available"); return; }
      const wait = delay * (0.8 + 0.4 * Math.random());
      say("· reconnecting in " + Math.round(wait / 1000) + " s");
      setTimeout(connect, wait);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // --- cancel without leaving the page ----------------------------------------------------------
  const cancelForm = $("cancel-form");
  if (cancelForm) {
    cancelForm.addEventListener("submit", function (e) {
      e.preventDefault();
      const button = $("cancel-job");
      button.disabled = true;
      fetch(cancelForm.action, { method: "POST", body: new FormData(cancelForm), credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); }) // the socket brings "cancelled"
        .catch(function () { cancelForm.submit(); }); // as without JavaScript
    });
  }

  connect();
})();
