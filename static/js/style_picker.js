// The style library and the three style slots of the submission form. Without this script each
// slot offers a file input and a select of the library's paintings; with it, the paintings are a
// grid of cards: a click puts one into the first free slot (its select) or takes it out again, and
// a slot holding a painting shows it instead of its file input. Slots 2 and 3 appear when needed
// ("Add a style image of my own", or a second painting), and the weights only with two styles or more.
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  const dataNode = document.getElementById("library-data");
  if (!form || !dataNode) return;
  const paintings = JSON.parse(dataNode.textContent);
  const library = document.getElementById("style-library");
  const cards = Array.prototype.slice.call(form.querySelectorAll(".library-card"));
  const slots = Array.prototype.slice.call(form.querySelectorAll(".style-slot"));
  const addButton = document.getElementById("add-style-slot");
  const weightsHelp = document.getElementById("weights-help");
  const revealed = new Set([0]);
  let note = null;

  function parts(slot) {
    const n = slot.dataset.slot;
    return {
      select: form.elements["style_" + n + "_library"] || null,
      file: form.elements["style_" + n],
      kept: slot.querySelector(".kept-image input[type=checkbox]"),
      painting: slot.querySelector(".slot-painting"),
      upload: slot.querySelector(".slot-upload"),
      weight: slot.querySelector(".slot-weight"),
      choice: document.getElementById("field-style_" + n + "_library"),
    };
  }

  function pickedIn(slot) { const p = parts(slot); return p.select && p.select.value ? p.select.value : ""; }

  function used(slot) {
    const p = parts(slot);
    return Boolean(pickedIn(slot) || (p.file.files && p.file.files.length) || (p.kept && p.kept.checked));
  }

  function say(text) {
    if (!note) {
      note = document.createElement("p");
      note.className = "help library-note";
      note.id = "library-note";
      note.setAttribute("role", "status");
      library.append(note);
    }
    note.textContent = text;
  }

  function render() {
    const picked = slots.map(pickedIn).filter(Boolean);
    cards.forEach(function (card) { card.setAttribute("aria-pressed", String(picked.indexOf(card.dataset.style) >= 0)); });
    slots.forEach(function (slot, i) {
      const p = parts(slot);
      const id = pickedIn(slot);
      p.painting.hidden = !id;
      p.upload.hidden = Boolean(id);
      if (p.choice) { // the cards replace the select; its error (a painting retired meanwhile) stays in view
        const errors = p.choice.querySelector(".errorlist");
        if (errors) p.painting.before(errors);
        p.choice.hidden = true;
      }
      if (id && paintings[id]) {
        const art = paintings[id];
        p.painting.querySelector("img").src = art.thumb;
        p.painting.querySelector("img").alt = art.title + " by " + art.painter;
        p.painting.querySelector(".slot-painting-name").textContent = art.painter + ", " + art.title;
      }
      if (used(slot) || slot.querySelector(".errorlist")) revealed.add(i);
      slot.hidden = !revealed.has(i);
    });
    if (addButton) addButton.hidden = slots.every(function (slot) { return !slot.hidden; });
    const count = slots.filter(used).length;
    slots.forEach(function (slot) { parts(slot).weight.hidden = count < 2; });
    if (weightsHelp) weightsHelp.hidden = count < 2;
    form.dataset.styleCount = String(count);
    form.dispatchEvent(new CustomEvent("nst:styles", { bubbles: true }));
  }

  function pick(card) {
    const id = card.dataset.style;
    const holder = slots.find(function (slot) { return pickedIn(slot) === id; });
    if (holder) {
      parts(holder).select.value = "";
    } else {
      const free = slots.find(function (slot) { return !used(slot) && parts(slot).select; });
      if (!free) { say("Three styles at most: remove one to add another."); return; }
      parts(free).select.value = id;
      revealed.add(slots.indexOf(free));
    }
    if (note) note.textContent = "";
    render();
  }

  if (library) library.hidden = false;
  cards.forEach(function (card) { card.addEventListener("click", function () { pick(card); }); });
  slots.forEach(function (slot) {
    slot.querySelector(".slot-clear").addEventListener("click", function () {
      parts(slot).select.value = "";
      render();
    });
  });
  if (addButton) {
    addButton.addEventListener("click", function () {
      const next = slots.findIndex(function (slot) { return slot.hidden; });
      if (next >= 0) revealed.add(next);
      render();
      if (next >= 0) parts(slots[next]).file.focus();
    });
  }
  form.addEventListener("nst:images", render);
  render();
})();
