// Live pages' one websocket module: every page that follows jobs (a job's page, a batch's, "my jobs")
// opens its sockets here, and swaps in the markup the server sends.
//
// NST.liveSocket(path, options) opens ws(s)://<host><path> (engine.live.consumers) and keeps it open:
// when it drops, it reconnects after 1 s, doubling to 30 s (with some jitter, so that a restarted
// server is not met by every page at once); the server sends a snapshot on every (re)connection, so
// a page that was away has missed nothing. It stops for good when the server refuses the socket
// (4404: no such job or not yours; 4401: not logged in) or when options.done() says that nothing
// will change any more. options.message(data) gets each message; options.state, an element, says
// how the connection is ("· live", "· reconnecting in 3 s").
//
// NST.swapFragments(html) puts the server's rendering of parts of the page in place: each top-level
// element of `html` replaces the page's element of the same id (engine.live.job_page; elements the
// page does not have are skipped). The job's state is rendered on the server only: the pages'
// scripts build none of it. After each swap a "nst:swapped" event (detail: the new element) goes to
// the document, for scripts that enhance what is in it (static/js/compare.js, notify.js).
(function () {
  "use strict";
  const NST = window.NST = window.NST || {};
  const REFUSED = [4401, 4404];
  const FIRST_DELAY = 1000, LONGEST_DELAY = 30000;

  NST.liveSocket = function (path, options) {
    let delay = FIRST_DELAY;
    const stateBox = options.state || null;
    const done = options.done || function () { return false; };

    function say(text) {
      if (!stateBox) return;
      stateBox.hidden = !text;
      stateBox.textContent = text;
    }

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + path);
      socket.onmessage = function (message) {
        const data = JSON.parse(message.data);
        if (data.event === "snapshot") { delay = FIRST_DELAY; say("· live"); }
        options.message(data);
        if (done()) { say(""); socket.close(1000); }
      };
      socket.onclose = function (e) {
        if (done()) return;
        if (REFUSED.indexOf(e.code) >= 0) { say("· live updates are not available"); return; }
        const wait = delay * (0.8 + 0.4 * Math.random());
        say("· reconnecting in " + Math.round(wait / 1000) + " s");
        setTimeout(connect, wait);
        delay = Math.min(delay * 2, LONGEST_DELAY);
      };
    }
    connect();
  };

  // fragment-swap: begin (the one place where the live pages' scripts put markup into the page)
  NST.swapFragments = function (html) {
    if (!html) return;
    const parsed = document.createElement("template");
    parsed.innerHTML = html; // the server's own rendering: user text in it is escaped there
    Array.prototype.slice.call(parsed.content.children).forEach(function (node) {
      const old = node.id ? document.getElementById(node.id) : null;
      if (!old || old.isEqualNode(node)) return; // not on this page, or unchanged: keep what is loaded
      old.replaceWith(node);
      document.dispatchEvent(new CustomEvent("nst:swapped", { detail: node }));
    });
  };
  // fragment-swap: end
})();
