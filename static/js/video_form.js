// Clips and batches on the submission form (the form works without this):
// - each chosen content file is checked against its kind's size limit, and the number of files
//   against the batch limit, before anything is sent (the server checks again);
// - choosing a clip switches the mode to video;
// - in video mode, fast mode's settings (style strength) are shown too: video mode uses them on
//   every frame. static/js/submit.js shows one mode's settings; this runs after it.
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  const input = form && form.elements.content;
  if (!input || !form.elements.mode) return;
  const mode = form.elements.mode;
  const CLIP_NAME = /\.(mp4|m4v|mov|qt|webm|mkv|avi|3gp|gif)$/i;

  function isClip(file) {
    return (file.type || "").indexOf("video/") === 0 || file.type === "image/gif" || CLIP_NAME.test(file.name);
  }

  function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB"; }

  function showErrors(messages) {
    const field = input.closest(".field");
    let list = field.querySelector(".js-content-errors");
    if (!messages.length) { if (list) list.remove(); return; }
    if (!list) {
      list = document.createElement("ul");
      list.className = "errorlist js-content-errors";
      field.appendChild(list);
    }
    list.replaceChildren();
    messages.forEach(function (text) {
      const item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
  }

  function check() {
    const files = Array.prototype.slice.call(input.files || []);
    const maxFiles = Number(input.dataset.maxFiles || 0);
    const problems = [];
    if (maxFiles && files.length > maxFiles) {
      problems.push("You chose " + files.length + " files; one submission can take up to " + maxFiles + ".");
    }
    let clips = 0;
    files.forEach(function (file) {
      const clip = isClip(file);
      clips += clip ? 1 : 0;
      const limit = Number(clip ? input.dataset.maxClipBytes : input.dataset.maxPhotoBytes);
      if (limit && file.size > limit) {
        problems.push(file.name + " is " + mb(file.size) + "; the largest " + (clip ? "clip" : "photo") +
          " you can upload is " + mb(limit) + ".");
      }
    });
    showErrors(problems);
    if (problems.length) { input.value = ""; return; }
    if (clips && mode.value !== "video") {
      mode.value = "video";
      mode.dispatchEvent(new Event("change", { bubbles: true }));
      // A clip's own settings (temporal stability) are under "Advanced settings": show them.
      const advanced = document.getElementById("advanced-settings");
      if (advanced) advanced.open = true;
    }
  }

  function showVideoSettings() {
    const video = mode.value === "video";
    const fast = document.getElementById("fast-settings");
    if (fast && video) fast.hidden = false;
    const legendNote = fast && fast.querySelector(".legend-note");
    if (legendNote) {
      legendNote.dataset.fastOnly = legendNote.dataset.fastOnly || legendNote.textContent;
      legendNote.textContent = video ? "(used in fast and video modes)" : legendNote.dataset.fastOnly;
    }
    const note = document.getElementById("video-mode-note");
    if (note) note.hidden = !video;
  }

  input.addEventListener("change", check);
  mode.addEventListener("change", function () { setTimeout(showVideoSettings, 0); });
  document.addEventListener("DOMContentLoaded", function () { setTimeout(showVideoSettings, 0); });
})();
