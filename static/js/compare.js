// Before/after: the photo laid over the result, cut off at a slider's position, so moving the
// slider wipes between the two. Progressive enhancement of #compare (the result image alone
// without JavaScript); also for a result that arrives while the page is open (a live page's
// "nst:swapped", static/js/live_socket.js). The overlay is clipped with a CSS variable set through the
// CSSOM (no style attribute in the HTML: the site's Content-Security-Policy forbids those).
(function () {
  "use strict";
  const NST = window.NST = window.NST || {};

  NST.setupCompare = function (box) {
    if (!box || box.dataset.ready || !box.dataset.before) return;
    const result = box.querySelector("img");
    box.dataset.ready = "1";
    const before = document.createElement("img");
    before.className = "compare-before";
    before.src = box.dataset.before;
    before.alt = "Your photo, before";
    before.setAttribute("aria-hidden", "true");
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
    caption.textContent = "Slide to compare with your photo.";

    function set() {
      box.style.setProperty("--cut", range.value + "%");
      box.classList.toggle("comparing", Number(range.value) > 0);
    }
    range.addEventListener("input", set);
    before.addEventListener("error", function () { before.remove(); range.remove(); caption.remove(); });
    result.after(before);
    box.append(range);
    box.after(caption);
    set();
  };

  NST.setupCompare(document.getElementById("compare"));
  document.addEventListener("nst:swapped", function (e) {
    NST.setupCompare(e.detail.id === "compare" ? e.detail : e.detail.querySelector("#compare"));
  });
})();
