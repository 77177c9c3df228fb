// "Made here before?": a result PNG dropped on #settings-drop (or chosen there) fills in the form
// with the settings it carries, as a remix does. The server reads the file's nstsite chunk
// (POST /api/v1/settings/ with this page's session and CSRF token: engine.studio.settings_from) and
// answers the form's field values; this script only puts them in and tells the other scripts.
(function () {
  "use strict";
  const zone = document.getElementById("settings-drop");
  const form = document.getElementById("job-form");
  if (!zone || !form || !window.fetch || !window.FormData) return;
  const input = document.getElementById("settings-file");
  const status = document.getElementById("settings-drop-status");

  function csrfToken() {
    const field = form.elements.csrfmiddlewaretoken;
    return field ? field.value : "";
  }

  function fill(fields) {
    Object.keys(fields).forEach(function (name) {
      const element = form.elements[name];
      if (!element || element.type === "file") return;
      if (element.type === "checkbox") {
        element.checked = Boolean(fields[name]);
      } else {
        element.value = String(fields[name]);
      }
      element.dispatchEvent(new Event("input", { bubbles: true }));
      element.dispatchEvent(new Event("change", { bubbles: true }));
    });
    form.dispatchEvent(new CustomEvent("nst:images", { bubbles: true }));  // the style picker redraws
  }

  function read(file) {
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    status.textContent = "Reading its settings…";
    fetch(zone.dataset.url, { method: "POST", body: body, credentials: "same-origin",
                              headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" } })
      .then(function (response) { return response.json().then(function (data) { return [response.ok, data]; }); })
      .then(function (answer) {
        const ok = answer[0], data = answer[1];
        if (!ok) { status.textContent = data.detail || "This file's settings could not be read."; return; }
        fill(data.fields);
        const missing = data.missing_styles || [];
        status.textContent = "Its settings are filled in" + (missing.length
          ? ". Style " + missing.join(" and ") + " was an image of its maker's own, which the file does not carry: choose a style there."
          : ", with its paintings from the library.") + " Choose your photo as the content image.";
      })
      .catch(function () { status.textContent = "This file's settings could not be read just now."; });
  }

  zone.hidden = false;
  input.addEventListener("change", function () { read(input.files[0]); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("drag-over"); });
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("drag-over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("drag-over");
    read(event.dataTransfer.files[0]);
  });
})();
