// Epoch previews in a viewer: a click on a thumbnail of the strip opens it large in a <dialog>,
// with the previous and next epochs a click (or an arrow key) away; Escape closes it. Without
// JavaScript (or <dialog>) the thumbnail is a link to the preview itself. The strip is looked up
// at each use: a live page gets it anew from the server as epochs end (static/js/live_socket.js).
(function () {
  "use strict";
  const dialog = document.getElementById("preview-viewer");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const img = dialog.querySelector("img");
  const caption = dialog.querySelector("figcaption");
  const epochs = document.getElementById("job").dataset.epochs;
  let current = null;

  function items() { return Array.prototype.slice.call(document.querySelectorAll("#epoch-previews li")); }

  function show(item) {
    current = item;
    const link = item.querySelector("a");
    img.src = link.href;
    img.alt = "Preview after epoch " + item.dataset.epoch;
    caption.textContent = "Epoch " + item.dataset.epoch + " of " + epochs;
    const list = items(), at = list.indexOf(item);
    dialog.querySelector('[data-go="-1"]').disabled = at <= 0;
    dialog.querySelector('[data-go="1"]').disabled = at >= list.length - 1;
  }

  function go(step) {
    const list = items(), at = list.indexOf(current) + step;
    if (at >= 0 && at < list.length) show(list[at]);
  }

  document.addEventListener("click", function (e) {
    const link = e.target.closest("#epoch-previews a");
    if (!link) return;
    e.preventDefault();
    show(link.closest("li"));
    dialog.showModal();
  });
  dialog.addEventListener("click", function (e) {
    const button = e.target.closest("[data-go]");
    if (button) {
      if (button.dataset.go === "close") dialog.close();
      else go(Number(button.dataset.go));
    } else if (e.target === dialog) {
      dialog.close(); // a click on the backdrop
    }
  });
  dialog.addEventListener("keydown", function (e) {
    if (e.key === "ArrowLeft") go(-1);
    if (e.key === "ArrowRight") go(1);
  });
})();
