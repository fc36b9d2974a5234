// zentrale QA pages: CSRF header for htmx, the player (wavesurfer.js on the <audio> element,
// peaks from the server), the speech lanes, seek buttons, and keyboard control. No inline scripts (CSP).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });

  function setupPlayer() {
    var audio = document.getElementById("audio");
    var box = document.getElementById("waveform");
    if (!audio) { return; }
    if (box && window.WaveSurfer) {
      fetch(box.dataset.peaks, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.peaks.length) { return; }
          var duration = data.duration_s || data.peaks.length * data.interval_s;
          window.zentraleWave = window.WaveSurfer.create({
            container: box, media: audio, peaks: [data.peaks], duration: duration,
            height: 80, waveColor: "#7a8fa6", progressColor: "#1f4e79", cursorColor: "#c0392b",
            normalize: true, dragToSeek: true
          });
        });
    }
    placeMarks(audio);
    document.querySelectorAll("button.seek").forEach(function (button) {
      button.addEventListener("click", function () {
        audio.currentTime = parseFloat(button.dataset.at) || 0;
        audio.play().catch(function () {});
      });
    });
    var useNow = document.getElementById("use-now");
    if (useNow) {
      useNow.addEventListener("click", function () {
        document.getElementById("offset").value = audio.currentTime.toFixed(1);
      });
    }
    document.addEventListener("keydown", function (event) {
      var tag = (event.target && event.target.tagName) || "";
      if (/INPUT|TEXTAREA|SELECT|BUTTON/.test(tag) || event.target === audio) { return; }
      if (event.key === " ") { event.preventDefault(); if (audio.paused) { audio.play(); } else { audio.pause(); } }
      else if (event.key === "ArrowRight") { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 5); }
      else if (event.key === "ArrowLeft") { audio.currentTime = Math.max(0, audio.currentTime - 5); }
      else if (event.key === "Home") { audio.currentTime = 0; }
    });
  }
  // The lanes under the waveform: each mark spans start..end of the recording's duration,
  // the scale wavesurfer draws the peaks to (both fill the same width).
  function placeMarks(audio) {
    var lanes = document.getElementById("lanes");
    if (!lanes) { return; }
    function place(duration) {
      if (!(duration > 0)) { return; }
      lanes.querySelectorAll(".mark").forEach(function (mark) {
        var start = parseFloat(mark.dataset.at) || 0;
        var end = parseFloat(mark.dataset.end) || start;
        mark.style.left = (100 * start / duration) + "%";
        mark.style.width = (100 * Math.max(0, end - start) / duration) + "%";
      });
      lanes.classList.add("placed");
    }
    var given = parseFloat(lanes.dataset.duration);
    if (given > 0) { place(given); }
    else { audio.addEventListener("loadedmetadata", function () { place(audio.duration); }); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setupPlayer); }
  else { setupPlayer(); }
})();
