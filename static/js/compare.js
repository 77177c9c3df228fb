// The result as large as the screen allows, and before/after: the photo laid over the result, cut off
// at a position, so moving the cut wipes between the two. The cut follows a drag across the picture
// itself (mouse, pen or finger: pointer events; a vertical swipe still scrolls the page) and the
// slider under it, which is also the keyboard's way (arrow keys, Home, End).
// Progressive enhancement of #compare (the result image alone without JavaScript), also for a result
// that arrives while the page is open (a live page's "nst:swapped", static/js/live_socket.js).
// The picture's shape (--ratio: its width over its height, from the width and height the server
// gives it) and the cut (--cut) are CSS variables set through the CSSOM: the site's
// Content-Security-Policy forbids style attributes in the HTML. static/css/site.css sizes the picture
// from --ratio to fit the screen's height.
(function () {
  "use strict";
  const NST = window.NST = window.NST || {};

  function ratioOf(img) {
    const w = Number(img.getAttribute("width")) || img.naturalWidth;
    const h = Number(img.getAttribute("height")) || img.naturalHeight;
    return w > 0 && h > 0 ? w / h : 0;
  }

  function fit(box, img) {
    const ratio = ratioOf(img);
    if (ratio) box.style.setProperty("--ratio", String(ratio));
    else img.addEventListener("load", function () { fit(box, img); }, { once: true });
  }

  NST.setupCompare = function (box) {
    if (!box || box.dataset.ready) return;
    const result = box.querySelector("img");
    if (!result) return;
    box.dataset.ready = "1";
    fit(box, result);
    if (!box.dataset.before) return;

    const before = document.createElement("img");
    before.className = "compare-before";
    before.src = box.dataset.before;
    before.alt = "Your photo, before";
    before.draggable = false;
    result.draggable = false;
    before.setAttribute("aria-hidden", "true");
    const handle = document.createElement("span");
    handle.className = "compare-handle";
    handle.setAttribute("aria-hidden", "true");
    const range = document.createElement("input");
    range.type = "range";
    range.min = "0";
    range.max = "100";
    range.step = "1";
    range.value = "0";
    range.className = "compare-range";
    range.id = "compare-range";
    range.setAttribute("aria-label", "Before and after: slide to show your photo over the result");
    const caption = document.createElement("p");
    caption.className = "compare-caption muted";
    caption.textContent = "Drag across the picture to compare it with your photo.";

    function show(cut) {
      box.style.setProperty("--cut", cut + "%");
      box.classList.toggle("comparing", cut > 0);
    }

    function atPointer(e) {
      const rect = box.getBoundingClientRect();
      const cut = Math.min(100, Math.max(0, (e.clientX - rect.left) / rect.width * 100));
      range.value = String(Math.round(cut));
      show(Math.round(cut * 10) / 10);
    }

    let dragging = null; // the pointer that drags the cut
    box.addEventListener("pointerdown", function (e) {
      if (e.button !== 0 || !box.contains(before)) return;
      dragging = e.pointerId;
      atPointer(e);
      box.classList.add("dragging");
      try { box.setPointerCapture(e.pointerId); } catch (err) { /* a pointer already gone */ }
      e.preventDefault(); // no text selection, no image drag
    });
    box.addEventListener("pointermove", function (e) { if (e.pointerId === dragging) atPointer(e); });
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (type) {
      box.addEventListener(type, function (e) {
        if (e.pointerId !== dragging) return;
        dragging = null;
        box.classList.remove("dragging");
      });
    });
    range.addEventListener("input", function () { show(Number(range.value)); });
    before.addEventListener("error", function () {
      before.remove(); handle.remove(); range.remove(); caption.remove();
      box.classList.remove("comparable");
    });
    result.after(before, handle);
    box.classList.add("comparable");
    box.after(range, caption);
    show(0);
  };

  NST.setupCompare(document.getElementById("compare"));
  document.addEventListener("nst:swapped", function (e) {
    NST.setupCompare(e.detail.id === "compare" ? e.detail : e.detail.querySelector("#compare"));
  });
})();
