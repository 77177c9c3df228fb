// File fields as drop zones with an instant preview. The file input stays the real control, so the
// page works without this script; with it the input is hidden from sight only (CSS: .drop-ready),
// keeps its label and the keyboard focus (Enter or Space opens the chooser), and the zone shows the
// choice once: a photo as a picture, a clip as its first frame (with its length), several files (a
// batch) as a list in which each one can be removed (a DataTransfer rebuilds the input's FileList).
// An image kept from an earlier try, or a remixed work's own style image (a ticked box in the
// field), is shown the same way; choosing a new file unticks it.
// What the estimate needs goes on the input (data-width, data-height: the first picture's size;
// data-photos: how many photos; data-frames: each clip's frames, its length times its frame rate,
// comma-separated) and the form hears "nst:images" (the estimate, the style picker and the submit
// button's wording follow).
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;
  const CLIP_NAME = /\.(mp4|m4v|mov|qt|webm|mkv|avi|3gp)$/i;
  const ASSUMED_FPS = 30; // a clip whose frame rate the browser did not tell: a phone's usual rate
  const facts = new Map(); // file key -> {width, height, seconds, fps} once read

  function announce() { form.dispatchEvent(new CustomEvent("nst:images", { bubbles: true })); }
  function keyOf(file) { return file.name + "|" + file.size + "|" + file.lastModified; }
  function isClip(file) { return (file.type || "").indexOf("video/") === 0 || CLIP_NAME.test(file.name); }
  function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB"; }
  function seconds(value) { return (value < 10 ? value.toFixed(1) : String(Math.round(value))) + " s"; }

  // The frame rate, from the times of a few frames played (muted) from the start: the shortest gap
  // between two is one frame. null where the browser cannot tell (no requestVideoFrameCallback).
  function measureFps(video) {
    if (!video.requestVideoFrameCallback) return Promise.resolve(null);
    return new Promise(function (resolve) {
      const times = [];
      let done = false;
      function finish(fps) {
        if (done) return;
        done = true;
        video.pause();
        video.currentTime = 0;
        resolve(fps);
      }
      function onFrame(now, meta) {
        times.push(meta.mediaTime);
        if (times.length < 6) { video.requestVideoFrameCallback(onFrame); return; }
        let gap = Infinity;
        for (let i = 1; i < times.length; i++) if (times[i] > times[i - 1]) gap = Math.min(gap, times[i] - times[i - 1]);
        finish(isFinite(gap) ? 1 / gap : null);
      }
      video.requestVideoFrameCallback(onFrame);
      const playing = video.play();
      if (playing && playing.catch) playing.catch(function () { finish(null); });
      setTimeout(function () { finish(null); }, 2000);
    });
  }

  // A clip's length, size and frame rate, read once per file with a <video> element of its own.
  function readClip(file, url) {
    const key = keyOf(file);
    if (facts.has(key)) return;
    facts.set(key, {});
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.addEventListener("loadedmetadata", function () {
      const known = { width: video.videoWidth, height: video.videoHeight,
        seconds: isFinite(video.duration) ? video.duration : null, fps: null };
      facts.set(key, known);
      announce();
      measureFps(video).then(function (fps) {
        known.fps = fps;
        video.removeAttribute("src");
        video.load();
        announce();
      });
    }, { once: true });
    video.addEventListener("error", function () { facts.set(key, { unreadable: true }); announce(); }, { once: true });
    video.src = url;
  }

  function setup(zone) {
    const field = zone.closest(".field");
    const input = zone.querySelector("input[type=file]");
    const preview = zone.querySelector(".upload-preview");
    const clip = zone.querySelector(".upload-clip");
    const hint = zone.querySelector(".drop-hint");
    const chosen = zone.querySelector(".drop-chosen");
    const list = field.querySelector(".drop-files");
    const kept = field.querySelector(".kept-image input[type=checkbox]");
    let urls = [];
    zone.classList.add("drop-ready");
    hint.hidden = false;

    function urlFor(file) { const url = URL.createObjectURL(file); urls.push(url); return url; }

    function clearShown() {
      preview.hidden = true;
      preview.removeAttribute("src");
      if (clip) { clip.hidden = true; clip.removeAttribute("src"); }
      chosen.hidden = true;
      zone.classList.remove("has-image");
    }

    function showPicture(src, text) {
      preview.onload = function () {
        input.dataset.width = String(preview.naturalWidth);
        input.dataset.height = String(preview.naturalHeight);
        chosen.textContent = text + " · " + preview.naturalWidth + "×" + preview.naturalHeight;
        announce();
      };
      preview.onerror = function () {
        preview.hidden = true; // not a picture the browser shows: no broken image
        chosen.textContent = text + " · the browser cannot show this file as a picture; the server will check it.";
        announce();
      };
      preview.src = src;
      preview.alt = "Preview of " + text;
      preview.hidden = false;
      chosen.hidden = false;
      chosen.textContent = text;
      zone.classList.add("has-image");
    }

    function showClip(file) {
      const url = urlFor(file);
      readClip(file, url);
      clip.src = url;
      clip.setAttribute("aria-label", "First frame of " + file.name);
      clip.hidden = false;
      chosen.hidden = false;
      chosen.textContent = file.name + " · " + mb(file.size);
      zone.classList.add("has-image");
    }

    // The batch: every file with its picture (a clip: its first frame) and a button that removes it.
    function showList(files) {
      if (!list) return;
      list.replaceChildren();
      list.hidden = files.length < 2;
      if (files.length < 2) return;
      files.forEach(function (file, index) {
        const item = document.createElement("li");
        item.className = "drop-file";
        const url = urlFor(file);
        let thumb;
        if (isClip(file)) {
          readClip(file, url);
          thumb = document.createElement("video");
          thumb.muted = true;
          thumb.preload = "metadata";
        } else {
          thumb = document.createElement("img");
          thumb.alt = "";
        }
        thumb.className = "drop-file-thumb";
        thumb.src = url;
        const name = document.createElement("span");
        name.className = "drop-file-name";
        name.textContent = file.name + " · " + mb(file.size);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link-button drop-file-remove";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + file.name);
        remove.addEventListener("click", function () {
          const rest = new DataTransfer();
          Array.prototype.forEach.call(input.files, function (other, i) { if (i !== index) rest.items.add(other); });
          input.files = rest.files;
          input.dispatchEvent(new Event("change", { bubbles: true }));
          input.focus();
        });
        item.append(thumb, name, remove);
        list.appendChild(item);
      });
    }

    // What the estimate needs, from the files and what has been read of them.
    function describe(files) {
      let photos = 0;
      const frames = [];
      files.forEach(function (file) {
        if (!isClip(file)) { photos += 1; return; }
        const known = facts.get(keyOf(file)) || {};
        if (known.seconds) frames.push(Math.max(1, Math.round(known.seconds * (known.fps || ASSUMED_FPS))));
        if (known.width && !input.dataset.width) {
          input.dataset.width = String(known.width);
          input.dataset.height = String(known.height);
        }
      });
      const lengths = files.filter(isClip).map(function (file) { return (facts.get(keyOf(file)) || {}).seconds; });
      input.dataset.clipSeconds = lengths.length === 1 && lengths[0] ? lengths[0].toFixed(1) : "";
      input.dataset.photos = String(photos);
      input.dataset.frames = frames.join(",");
      input.dataset.files = String(files.length);
      const first = files.length === 1 && isClip(files[0]) ? facts.get(keyOf(files[0])) : null;
      if (first && first.seconds) {
        chosen.textContent = files[0].name + " · " + seconds(first.seconds) + (first.width ? " · " + first.width + "×" + first.height : "") +
          " · " + mb(files[0].size);
      }
    }

    function showFile() {
      const previous = urls;
      urls = [];
      const files = Array.prototype.slice.call(input.files || []);
      delete input.dataset.width;
      delete input.dataset.height;
      clearShown();
      if (files.length) {
        if (kept) { kept.checked = false; kept.closest(".kept-image").classList.add("replaced"); }
        if (files.length > 1) {
          const clips = files.filter(isClip).length;
          chosen.hidden = false;
          chosen.textContent = files.length + " files: " + (files.length - clips) + " photo" + (files.length - clips === 1 ? "" : "s") +
            (clips ? ", " + clips + " clip" + (clips === 1 ? "" : "s") : "") + ", a job each.";
          zone.classList.add("has-image");
          const photo = files.find(function (file) { return !isClip(file); });
          if (photo) showPicture(urlFor(photo), chosen.textContent);
        } else if (isClip(files[0]) && clip) {
          showClip(files[0]);
        } else {
          showPicture(urlFor(files[0]), files[0].name);
        }
      } else if (kept && kept.checked) {
        const box = kept.closest(".kept-image");
        box.classList.remove("replaced");
        showPicture(box.querySelector("img").src, box.dataset.caption || "Kept from your last try");
      }
      showList(files);
      describe(files);
      announce();
      previous.forEach(function (url) { URL.revokeObjectURL(url); });
    }

    input.addEventListener("change", showFile);
    if (kept) kept.addEventListener("change", showFile);
    form.addEventListener("nst:images", function () {
      const files = Array.prototype.slice.call(input.files || []);
      if (files.some(isClip)) describe(files); // a clip's facts arrived
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      const files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      const taken = new DataTransfer();
      Array.prototype.slice.call(files, 0, input.multiple ? files.length : 1).forEach(function (file) { taken.items.add(file); });
      input.files = taken.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    zone.addEventListener("click", function (e) {
      if (e.target === input || e.target.closest("label")) return;
      input.click();
    });
    showFile();
  }

  form.querySelectorAll(".drop-zone").forEach(setup);
})();
