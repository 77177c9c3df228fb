// The estimate on the submission form: as the mode, size, epochs, steps, styles or photo change,
// ask the server (engine:estimate, a cheap GET) what such a job costs on the live workers: its run
// time, its peak memory against what the workers have free, and the queue's current wait. A job
// that fits in no worker's memory gets a warning here (the server refuses it on submission too).
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  const box = document.getElementById("estimate");
  if (!form || !box || !window.fetch) return;
  const FIELDS = ["mode", "size", "epochs", "steps_per_epoch", "multiscale", "init", "optimizer", "network",
    "preserve_colors", "fast_network", "strength"];
  const $ = function (id) { return document.getElementById(id); };
  let timer = null, controller = null, lastQuery = "";

  function duration(seconds) { // as the template filter "duration"
    const total = Math.max(1, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    if (h) return h + " h " + m + " min";
    if (m) return s && m < 10 ? m + " min " + s + " s" : m + " min";
    return s + " s";
  }

  function gb(bytes) { return (bytes / 1e9).toFixed(bytes < 1e10 ? 1 : 0) + " GB"; }

  // What the time is for: a batch's jobs, a clip of the length read from the file, or (a clip not
  // chosen or not read yet) the ten seconds at 24 frames/s the server then assumes.
  function scope(data) {
    const content = form.elements.content;
    const files = content ? Number(content.dataset.files || 0) : 0;
    const frames = content ? (content.dataset.frames || "").split(",").filter(Boolean) : [];
    if (data.jobs > 1) return " for " + data.jobs + " jobs, one after the other";
    if (form.elements.mode.value !== "video") return "";
    if (files && frames.length) return content.dataset.clipSeconds ? " for this " + content.dataset.clipSeconds + " s clip" : "";
    return files && !frames.length && Number(content.dataset.photos || 0) ? "" : " for a 10 s clip at 24 frames/s";
  }

  function query() {
    const params = new URLSearchParams();
    FIELDS.forEach(function (name) {
      const input = form.elements[name];
      if (!input) return;
      if (input.type === "checkbox") params.set(name, input.checked ? "1" : "0");
      else if (input.value !== "") params.set(name, input.value);
    });
    params.set("styles", form.dataset.styleCount || "1");
    const content = form.elements.content;
    if (content && content.dataset.width) {
      params.set("width", content.dataset.width);
      params.set("height", content.dataset.height);
    }
    // The files chosen (static/js/uploads.js): how many photos, and each clip's frames once read.
    if (content && Number(content.dataset.files || 0) > 0) {
      params.set("photos", content.dataset.photos || "0");
      (content.dataset.frames || "").split(",").filter(Boolean).forEach(function (n) { params.append("frames", n); });
    }
    return params.toString();
  }

  function show(data) {
    box.hidden = false;
    box.classList.toggle("estimate-too-big", !data.fits_somewhere);
    const spread = data.seconds_min && data.seconds - data.seconds_min > 0.15 * data.seconds;
    $("estimate-time").textContent = spread ? "about " + duration(data.seconds_min) + " to " + duration(data.seconds)
      : "about " + duration(data.seconds);
    $("estimate-time").textContent += scope(data);
    const free = data.per_device.length ? Math.max.apply(null, data.per_device.map(function (w) { return w.memory_bytes; })) : null;
    $("estimate-memory").textContent = "· peak memory " + gb(data.peak_bytes) + (free ? " of " + gb(free) + " free" : "");
    const wait = $("estimate-wait");
    if (data.workers === null) wait.textContent = "The queue cannot be asked right now.";
    else if (!data.workers) wait.textContent = "No worker is running right now: the job starts as soon as one does.";
    else if (data.wait_seconds < 1) wait.textContent = "It would start right away.";
    else wait.textContent = "It would wait about " + duration(data.wait_seconds) + " in the queue first.";
    const warning = $("estimate-warning");
    if (!data.fits_somewhere) {
      warning.textContent = "Too large for the memory the workers have free right now" +
        (data.largest_fitting_size ? ": choose " + data.largest_fitting_size + " px or smaller" : "") +
        (form.elements.mode.value === "classic" ? ", or fast mode." : ".");
      warning.hidden = false;
    } else if (!data.fits_everywhere) {
      warning.textContent = "Only some workers have the memory for it: it may fail if a smaller one takes it.";
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }
    box.dataset.seconds = String(data.seconds);
    box.dataset.query = lastQuery;
  }

  function refresh() {
    const q = query();
    if (q === lastQuery) return;
    lastQuery = q;
    if (controller) controller.abort();
    controller = new AbortController();
    box.classList.add("estimate-busy");
    fetch(box.dataset.url + "?" + q, { credentials: "same-origin", signal: controller.signal })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        box.classList.remove("estimate-busy");
        if (data && !data.error) show(data);
      })
      .catch(function () { box.classList.remove("estimate-busy"); });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }

  ["input", "change", "nst:images", "nst:styles"].forEach(function (type) { form.addEventListener(type, soon); });
  refresh();
})();
