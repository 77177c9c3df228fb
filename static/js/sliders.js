// Sliders over the form's number boxes (progressive enhancement: the boxes keep their names, stay
// editable and are what is submitted). Every input[type=number][data-slider] gets a range input
// beside it over its min..max (data-slider-min / data-slider-max narrow that), on a linear or a
// log scale (data-slider="log": quantities spanning decades, such as the style weight 1e-4..1e-1).
// Moving the slider writes the box (rounded to two significant digits on a log scale); typing in
// the box moves the slider. Both fire the usual input/change events, so other scripts follow.
(function () {
  "use strict";
  const LOG_STEPS = 1000; // positions of a log slider

  function bound(box, name, fallback) {
    const raw = box.dataset["slider" + name] !== undefined ? box.dataset["slider" + name] : box.getAttribute(name.toLowerCase());
    const value = Number(raw);
    return raw === null || raw === "" || !isFinite(value) ? fallback : value;
  }

  function tidy(value) { // 2 significant digits on a log scale: 0.0123 -> 0.012, 12345 -> 12000
    return Number(value.toPrecision(2));
  }

  function setup(box) {
    const log = box.dataset.slider === "log";
    const min = bound(box, "Min", NaN);
    let max = bound(box, "Max", NaN);
    if (!isFinite(min) || !isFinite(max) || max <= min || (log && min <= 0)) return;
    const range = document.createElement("input");
    range.type = "range";
    range.className = "slider";
    range.id = box.id + "-slider";
    const label = document.querySelector('label[for="' + box.id + '"]');
    range.setAttribute("aria-label", (label ? label.textContent.trim() : box.name) + " (slider)");
    const lmin = Math.log10(min);
    let lmax = Math.log10(max);
    if (log) {
      range.min = "0"; range.max = String(LOG_STEPS); range.step = "1";
    } else {
      range.min = String(min); range.max = String(max);
      range.step = box.step && box.step !== "any" ? box.step : String((max - min) / LOG_STEPS);
    }

    function toRange() {
      const value = Number(box.value);
      if (box.value === "" || !isFinite(value)) return;
      if (log) {
        const v = Math.min(max, Math.max(min, value));
        range.value = String(Math.round((Math.log10(v) - lmin) / (lmax - lmin) * LOG_STEPS));
      } else {
        range.value = String(Math.min(max, Math.max(min, value)));
      }
    }

    function fromRange() {
      if (!log) return range.value;
      return String(tidy(Math.pow(10, lmin + (lmax - lmin) * Number(range.value) / LOG_STEPS)));
    }

    range.addEventListener("input", function () {
      box.value = fromRange();
      box.dispatchEvent(new Event("input", { bubbles: true }));
    });
    range.addEventListener("change", function () { box.dispatchEvent(new Event("change", { bubbles: true })); });
    box.addEventListener("input", toRange);
    box.addEventListener("change", toRange);
    box.addEventListener("nst:bounds", function () { // the box's max changed (the mode's largest size)
      max = bound(box, "Max", max);
      lmax = Math.log10(max);
      if (!log) range.max = String(max);
      toRange();
    });

    const row = document.createElement("div");
    row.className = "slider-row";
    box.before(row);
    row.append(range, box);
    box.classList.add("slider-readout");
    toRange();
  }

  document.querySelectorAll("input[type=number][data-slider]").forEach(setup);
})();
