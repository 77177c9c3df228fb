// The submission form, improved when JavaScript runs (it works without):
// - shows only the chosen mode's settings (classic's preset menu among them);
// - a preset fills in the fields it sets; editing one of them switches the preset back to "custom"
//   (the server applies the chosen preset either way);
// - the size box and its slider go up to the chosen mode's largest size for this user (their quota
//   within what the mode makes: data-max-<mode>, from the form);
// - the submit button says how many jobs the chosen files make ("Submit 3 jobs");
// - files over the upload limit are flagged as soon as they are chosen;
// - before anything is uploaded, the numbers are checked against their ranges and a photo and a
//   style are asked for, next to the fields concerned (the server checks all of it again).
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;
  const presets = JSON.parse(document.getElementById("preset-data").textContent);
  const mode = form.elements.mode;
  const preset = form.elements.preset;
  let filling = false;

  // A box of settings names the modes that use them (data-mode: one, or several with spaces).
  function forMode(box) { return box.dataset.mode.split(" ").indexOf(mode.value) >= 0; }

  function showMode() {
    form.querySelectorAll(".mode-settings").forEach(function (box) { box.hidden = !forMode(box); });
    boundSize();
  }

  function boundSize() {
    const size = form.elements.size;
    const max = size && size.dataset["max" + mode.value.charAt(0).toUpperCase() + mode.value.slice(1)];
    if (!max || size.max === max) return;
    size.max = max;
    if (Number(size.value) > Number(max)) size.value = max;
    size.dispatchEvent(new CustomEvent("nst:bounds", { bubbles: true })); // static/js/sliders.js follows
    size.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function nameJobs() {
    const button = document.getElementById("submit-job");
    const content = form.elements.content;
    const count = content && content.files ? content.files.length : 0;
    if (button) button.textContent = count > 1 ? "Submit " + count + " jobs" : "Submit job";
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
      input.dispatchEvent(new Event("input", { bubbles: true })); // sliders and the estimate follow
    });
    filling = false;
  }

  function presetFieldChanged(event) {
    if (filling || preset.value === "custom") return;
    const values = (presets[preset.value] || {})[mode.value] || {};
    if (Object.prototype.hasOwnProperty.call(values, event.target.name)) preset.value = "custom";
  }

  function note(field, text, cls) {
    let list = field.querySelector("." + cls);
    if (!text) { if (list) list.remove(); return; }
    if (!list) {
      list = document.createElement("ul");
      list.className = "errorlist " + cls;
      field.appendChild(list);
    }
    list.replaceChildren();
    const item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function checkSize(event) {
    const input = event.target;
    const limit = Number(input.dataset.maxBytes || 0);
    const file = input.files && input.files[0];
    if (file && limit && file.size > limit) {
      note(input.closest(".field"), "This file is " + (file.size / 1048576).toFixed(1) + " MB; the largest file you can upload is " +
        (limit / 1048576).toFixed(0) + " MB.", "js-size-error");
      input.value = "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
    } else {
      note(input.closest(".field"), "", "js-size-error");
    }
  }

  // --- checks before uploading ----------------------------------------------------------------
  function inUse(input) { // a control of the other mode's settings does not count
    const box = input.closest(".mode-settings");
    return !box || forMode(box);
  }

  function label(input) {
    const l = form.querySelector('label[for="' + input.id + '"]');
    return l ? l.textContent.replace("*", "").trim() : input.name;
  }

  function rangeProblem(input) {
    if (input.value === "") return "Give a value.";
    const value = Number(input.value), min = input.min === "" ? -Infinity : Number(input.min),
      max = input.max === "" ? Infinity : Number(input.max);
    if (!isFinite(value)) return "Give a number.";
    if (value < min || value > max) return label(input) + " must be between " + min + " and " + max + ".";
    if (input.step === "1" && Math.round(value) !== value) return "Give a whole number.";
    return "";
  }

  function hasImage(name) {
    const input = form.elements[name];
    const kept = form.querySelector('input[type=checkbox][name="' + name + '_staged"]');
    return Boolean((input && input.files && input.files.length) || (kept && kept.checked));
  }

  function hasStyle() {
    return [1, 2, 3].some(function (n) {
      const library = form.elements["style_" + n + "_library"];
      const remixed = form.elements["style_" + n + "_remix"];
      return hasImage("style_" + n) || (library && library.value) || (remixed && remixed.checked);
    });
  }

  function checkBeforeUpload(event) {
    let first = null;
    form.querySelectorAll("input[type=number]").forEach(function (input) {
      const problem = inUse(input) ? rangeProblem(input) : "";
      note(input.closest(".field"), problem, "js-range-error");
      if (problem && !first) first = input;
    });
    const content = form.elements.content;
    note(content.closest(".field"), hasImage("content") ? "" : "Choose your photo.", "js-range-error");
    if (!hasImage("content") && !first) first = content;
    const slot = form.elements.style_1;
    note(slot.closest(".style-slot"), hasStyle() ? "" : "Pick a painting or choose a style image.", "js-range-error");
    if (!hasStyle() && !first) first = document.getElementById("style-library") || slot;
    if (first) {
      event.preventDefault();
      const advanced = first.closest("details");
      if (advanced) advanced.open = true;
      first.scrollIntoView({ block: "center" });
      if (first.focus) first.focus();
    }
  }

  mode.addEventListener("change", function () { showMode(); applyPreset(); });
  preset.addEventListener("change", applyPreset);
  form.addEventListener("change", presetFieldChanged);
  form.addEventListener("submit", checkBeforeUpload);
  form.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", checkSize);
  });
  form.addEventListener("nst:images", nameJobs);
  showMode();
  nameJobs();
})();
