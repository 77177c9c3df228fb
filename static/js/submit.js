// The submission form, improved when JavaScript runs (it works without):
// - shows only the chosen mode's settings;
// - a preset fills in the fields it sets; editing one of them switches the preset back to "custom"
//   (the server applies the chosen preset either way);
// - files over the upload limit are flagged before they are sent.
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;
  const presets = JSON.parse(document.getElementById("preset-data").textContent);
  const mode = form.elements.mode;
  const preset = form.elements.preset;
  let filling = false;

  function showMode() {
    form.querySelectorAll(".mode-settings").forEach(function (fieldset) {
      fieldset.hidden = fieldset.dataset.mode !== mode.value;
    });
  }

  function applyPreset() {
    const values = (presets[preset.value] || {})[mode.value];
    if (!values) return;
    filling = true;
    Object.keys(values).forEach(function (name) {
      const input = form.elements[name];
      if (!input) return;
      if (input.type === "checkbox") input.checked = Boolean(values[name]);
      else input.value = values[name];
    });
    filling = false;
  }

  function presetFieldChanged(event) {
    if (filling || preset.value === "custom") return;
    const values = (presets[preset.value] || {})[mode.value] || {};
    if (Object.prototype.hasOwnProperty.call(values, event.target.name)) preset.value = "custom";
  }

  function checkSize(event) {
    const input = event.target;
    const limit = Number(input.dataset.maxBytes || 0);
    const field = input.closest(".field");
    let note = field.querySelector(".js-size-error");
    const file = input.files && input.files[0];
    if (file && limit && file.size > limit) {
      if (!note) {
        note = document.createElement("ul");
        note.className = "errorlist js-size-error";
        field.appendChild(note);
      }
      note.innerHTML = "";
      const item = document.createElement("li");
      item.textContent = "This file is " + (file.size / 1048576).toFixed(1) + " MB; the largest file you can upload is " +
        (limit / 1048576).toFixed(0) + " MB.";
      note.appendChild(item);
      input.value = "";
    } else if (note) {
      note.remove();
    }
  }

  mode.addEventListener("change", function () { showMode(); applyPreset(); });
  preset.addEventListener("change", applyPreset);
  form.addEventListener("change", presetFieldChanged);
  form.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", checkSize);
  });
  showMode();
})();
