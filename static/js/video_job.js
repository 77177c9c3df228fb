// A video job's page, live: static/js/job.js owns the socket and dispatches every event on #job as
// "nst:job-event"; this shows what is particular to a clip: frame N of M, frames per second, the
// latest preview frame, and at the end the result playing in a <video> with its poster and downloads.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root || root.dataset.mode !== "video") return;
  const $ = function (id) { return document.getElementById(id); };

  function make(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showFrames(ev) {
    const live = $("video-live");
    if (!live) return;
    live.hidden = ["queued", "running"].indexOf(ev.status) < 0;
    if (ev.status !== "running" || ev.step === undefined) return;
    const text = "Frame " + ev.step + " of " + ev.total_steps;
    if (typeof ev.fps === "number" && ev.fps > 0) {
      $("video-progress").firstChild.textContent = ev.total_steps + " frames";
      $("video-fps").textContent = " · stylising " + ev.fps.toFixed(1) + " frames/s";
    }
    const progressText = $("progress-text"); // job.js's line says "Stylising" for every mode but classic
    if (progressText) progressText.textContent = text;
  }

  function showPreview(url) {
    const img = $("video-preview");
    if (!img || !url) return;
    img.src = url;
    img.closest("figure").hidden = false;
  }

  function showResult(ev) {
    if (!ev.video_url || $("result-video")) return;
    const section = make("section", { class: "result", id: "result" });
    const figure = make("figure");
    const video = make("video", { id: "result-video", controls: "", playsinline: "", preload: "metadata" });
    if (ev.poster_url) video.setAttribute("poster", ev.poster_url);
    video.append(make("source", { src: ev.video_url, type: "video/mp4" }));
    figure.append(video);
    section.append(figure);
    $("result-slot").append(section); // first on the page, as templates/engine/_video_result.html
    if ((ev.downloads || []).length && !$("downloads")) {
      const downloads = make("section", { id: "downloads" });
      const list = make("ul", { class: "downloads" });
      ev.downloads.forEach(function (d) {
        const item = make("li");
        item.append(make("a", { href: d.url, id: "download-" + d.kind, download: "" }, d.label));
        list.append(item);
      });
      downloads.append(make("h2", {}, "Downloads"), list);
      section.after(downloads);
    }
  }

  root.addEventListener("nst:job-event", function (e) {
    const ev = e.detail;
    if (ev.event === "snapshot") {
      showFrames(ev);
      const previews = ev.previews || [];
      if (previews.length) showPreview(previews[previews.length - 1].url);
    } else if (ev.event === "progress" || ev.event === "started") {
      showFrames(ev);
      if (ev.preview) showPreview(ev.preview.url);
    }
    if (ev.status === "succeeded") showResult(ev);
    if (["succeeded", "failed", "cancelled"].indexOf(ev.status) >= 0 && $("video-live")) $("video-live").hidden = true;
  });
})();
