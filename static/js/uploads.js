// Image fields as drop zones with an instant preview (the file input stays the real control, so
// the page works without this script): drag an image onto a zone or choose one, and the zone shows
// it with its name and size. An image kept from an earlier try (a ticked "Keep ..." box) is shown
// the same way; choosing a new file unticks it. The chosen image's size goes on the input
// (data-width, data-height) and the form hears "nst:images" (the estimate and the style picker follow).
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;

  function announce() { form.dispatchEvent(new CustomEvent("nst:images", { bubbles: true })); }

  function setup(zone) {
    const field = zone.closest(".field");
    const input = zone.querySelector("input[type=file]");
    const preview = zone.querySelector(".upload-preview");
    const hint = zone.querySelector(".drop-hint");
    const chosen = zone.querySelector(".drop-chosen");
    const kept = field.querySelector(".kept-image input[type=checkbox]");
    let url = null;
    zone.classList.add("drop-ready");
    hint.hidden = false;

    function show(src, text) {
      if (!src) {
        preview.hidden = true;
        preview.removeAttribute("src");
        chosen.hidden = true;
        zone.classList.remove("has-image");
        delete input.dataset.width;
        delete input.dataset.height;
        announce();
        return;
      }
      preview.onload = function () {
        input.dataset.width = String(preview.naturalWidth);
        input.dataset.height = String(preview.naturalHeight);
        chosen.textContent = text + " · " + preview.naturalWidth + "×" + preview.naturalHeight;
        announce();
      };
      preview.onerror = function () {
        preview.hidden = true; // not a picture the browser shows (a clip): no broken image
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

    function showFile() {
      const previous = url;
      url = null;
      const file = input.files && input.files[0];
      if (file) {
        if (kept) { kept.checked = false; kept.closest(".kept-image").classList.add("replaced"); }
        url = URL.createObjectURL(file);
        show(url, file.name);
      } else if (kept && kept.checked) {
        show(kept.closest(".kept-image").querySelector("img").src, "Kept from your last try");
      } else {
        show(null);
      }
      if (previous) URL.revokeObjectURL(previous);
    }

    input.addEventListener("change", showFile);
    if (kept) kept.addEventListener("change", showFile);
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
      const one = new DataTransfer();
      one.items.add(files[0]);
      input.files = one.files;
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
