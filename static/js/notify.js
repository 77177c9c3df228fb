// Browser notifications (the Notification API): a job's end is shown as a notification when its
// page is in a background tab, for people who asked for it here. Asking the browser for permission
// only ever happens on a click (the "Also tell me in this browser" box of the form, the button on a
// job's page); the choice is remembered in this browser (localStorage). static/js/job.js calls
// NST.notifyJobEnded when a job it follows ends.
(function () {
  "use strict";
  const KEY = "nst-browser-notify";
  const NST = window.NST = window.NST || {};
  const supported = "Notification" in window;

  function wanted() {
    try { return supported && window.localStorage.getItem(KEY) === "1" && Notification.permission === "granted"; }
    catch (e) { return false; }
  }

  function remember(on) { try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode */ } }

  // Ask (on a user gesture), then call done(true|false, message).
  function ask(done) {
    if (!supported) { done(false, "This browser cannot show notifications."); return; }
    const asked = Notification.requestPermission(function (p) { finish(p); }); // old Safari: callback
    if (asked && asked.then) asked.then(finish);
    let told = false;
    function finish(permission) {
      if (told) return;
      told = true;
      const ok = permission === "granted";
      remember(ok);
      done(ok, ok ? "This browser will tell you." : "This browser blocks notifications from this site; " +
        "allow them in its site settings to be told.");
    }
  }

  NST.notifyJobEnded = function (ev, url) {
    if (!wanted() || document.visibilityState !== "hidden") return null;
    const done = ev.status === "succeeded";
    const title = done ? "Your picture is ready (job #" + ev.job + ")" : "Job #" + ev.job + " " + (ev.status_label || ev.status).toLowerCase();
    const note = new Notification(title, {
      body: done ? "Open the tab to see it." : (ev.message || ""), tag: "nst-job-" + ev.job, icon: "/static/apple-touch-icon.png",
    });
    note.onclick = function () { window.focus(); if (url) window.location.href = url; note.close(); };
    return note;
  };

  // The form's box.
  const box = document.getElementById("browser-notify");
  if (box && supported) {
    const field = document.getElementById("field-browser-notify");
    const state = document.getElementById("browser-notify-state");
    field.hidden = false;
    box.checked = wanted();
    box.addEventListener("change", function () {
      if (!box.checked) { remember(false); state.textContent = ""; return; }
      ask(function (ok, message) { box.checked = ok; state.textContent = message; });
    });
  }

  // The job page's button; set up again when a live page gets its box anew (static/js/live_socket.js).
  function setupButton(button) {
    if (!button || !supported) return;
    const state = document.getElementById("browser-notify-state");
    button.hidden = false;
    function label() {
      button.textContent = wanted() ? "Stop telling me in this browser" : "Tell me in this browser when it ends";
      button.setAttribute("aria-pressed", String(wanted()));
    }
    button.addEventListener("click", function () {
      if (wanted()) { remember(false); state.textContent = ""; label(); return; }
      ask(function (ok, message) { state.textContent = message; label(); });
    });
    label();
  }
  setupButton(document.getElementById("browser-notify-button"));
  document.addEventListener("nst:swapped", function (e) { setupButton(e.detail.querySelector("#browser-notify-button")); });
})();
