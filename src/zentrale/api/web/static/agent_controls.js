// Call controls of the workspace: hold and resume (JsSIP re-INVITE; the daemon writes it on the
// call's timeline), pausing the recording (POST /api/agent/recording), click-to-call (POST
// /api/calls rings this page first, then the number), and the microphone and speaker choice
// (kept in localStorage; the microphone for the next answered call, the speaker via setSinkId).
(function () {
  "use strict";
  var root = document.getElementById("agent");
  var box = document.getElementById("controls");
  if (!root || !box) { return; }
  var words = JSON.parse(box.dataset.words);
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var $ = function (id) { return document.getElementById(id); };
  var MIC = "zentrale.mic", SPEAKER = "zentrale.speaker";
  var session = null;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return r.ok ? data : Promise.reject(data); });
    });
  }

  function problem(data) {
    var error = data && data.error;
    $("controls-error").textContent = error ? error.message : String(data);
  }

  // -- hold ---------------------------------------------------------------------------------
  function pressed(id, on) { $(id).setAttribute("aria-pressed", String(on)); }

  function inCall(on) {
    $("hold").disabled = !on;
    $("record-pause").disabled = !on;
    if (!on) { pressed("hold", false); pressed("record-pause", false); showRecording(null); }
  }

  $("hold").addEventListener("click", function () {
    if (!session) { return; }
    if (session.isOnHold().local) { session.unhold(); } else { session.hold(); }
  });

  root.addEventListener("zentrale:session", function (e) {
    var s = e.detail;
    session = s;
    s.on("confirmed", function () {
      inCall(true);
      $("controls-error").textContent = "";
      setTimeout(readRecording, 1500);  // the conversation's recording starts after the answer
    });
    s.on("hold", function (h) { if (h.originator === "local") { pressed("hold", true); } });
    s.on("unhold", function (h) { if (h.originator === "local") { pressed("hold", false); } });
    var end = function () { if (session === s) { session = null; inCall(false); } };
    s.on("ended", end);
    s.on("failed", end);
  });

  // -- recording pause ----------------------------------------------------------------------
  function showRecording(state) {
    var el = $("record-status");
    var key = !state ? "none" : !state.recording ? "not_recorded" : state.paused ? "paused" : "recording";
    el.dataset.state = key;
    el.textContent = key === "none" ? "" : words[key];
    pressed("record-pause", Boolean(state && state.paused));
  }

  function readRecording() {
    fetch(box.dataset.recording, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (session) { showRecording(state); } });
  }

  $("record-pause").addEventListener("click", function () {
    var paused = $("record-pause").getAttribute("aria-pressed") !== "true";
    $("controls-error").textContent = "";
    post(box.dataset.recording, { paused: paused }).then(showRecording, problem);
  });

  // -- click-to-call ------------------------------------------------------------------------
  function call(number) {
    var status = $("dial-status");
    var body = { number: number.replace(/[\s()\/-]/g, "") };
    if ($("dial-department").value) { body.department = $("dial-department").value; }
    status.dataset.status = "dialling";
    status.textContent = words.dialling;
    $("controls-error").textContent = "";
    post(box.dataset.calls, body).then(function (placed) {
      status.dataset.status = placed.result;
      status.textContent = placed.result === "answered"
        ? words.answered + " " + body.number : words.failed + " (" + placed.result + ")";
    }, function (data) {
      status.dataset.status = "failed";
      status.textContent = words.failed;
      problem(data);
    });
  }

  $("dial-call").addEventListener("click", function () {
    if ($("dial-number").value.trim()) { call($("dial-number").value.trim()); }
  });

  // A Call button beside the caller's number in the Caller box: call them (back) later.
  var callerField = document.querySelector('#screen-pop [data-field="caller"]');
  if (callerField) {
    var again = document.createElement("button");
    again.type = "button";
    again.id = "call-caller";
    again.textContent = $("dial-call").textContent;
    // In a <dd> of its own (a <dl> holds only <dt> and <dd>): the number's dd is rewritten.
    var holder = document.createElement("dd");
    holder.hidden = true;
    holder.appendChild(again);
    callerField.insertAdjacentElement("afterend", holder);
    root.addEventListener("zentrale:pop", function (e) {
      again.dataset.number = e.detail.caller || "";
      holder.hidden = !/^\+?[0-9]{3,}$/.test(again.dataset.number);
    });
    again.addEventListener("click", function () {
      if (!session && again.dataset.number) { call(again.dataset.number); }
    });
  }

  // -- microphone and speaker ---------------------------------------------------------------
  var sinks = typeof HTMLMediaElement.prototype.setSinkId === "function";

  root.zentraleMedia = function () {
    var mic = localStorage.getItem(MIC);
    return { audio: mic ? { deviceId: mic } : true, video: false };
  };

  function fill(select, devices, kind, saved) {
    var chosen = select.value || saved;
    select.textContent = "";
    devices.filter(function (d) { return d.kind === kind; }).forEach(function (d, i) {
      var option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || (words["default"] + " " + (i + 1));
      select.appendChild(option);
    });
    if (chosen && select.querySelector('option[value="' + CSS.escape(chosen) + '"]')) {
      select.value = chosen;
    }
  }

  function speaker(id) {
    if (sinks && id) { $("remote-audio").setSinkId(id).catch(problem); }
  }

  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      fill($("mic-select"), devices, "audioinput", localStorage.getItem(MIC));
      fill($("speaker-select"), devices, "audiooutput", localStorage.getItem(SPEAKER));
      speaker($("speaker-select").value);
      return devices;
    });
  }

  if (navigator.mediaDevices && navigator.mediaDevices.enumerateDevices) {
    listDevices().then(function (devices) {
      var unnamed = devices.some(function (d) { return d.kind === "audioinput" && !d.label; });
      if (!unnamed) { return null; }
      // The browser names its devices once the page may use the microphone.
      return navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        return listDevices();
      });
    }).catch(problem);
    navigator.mediaDevices.addEventListener("devicechange", listDevices);
  }
  if (!sinks) {
    $("speaker-select").disabled = true;
    $("speaker-note").textContent = words.no_sink;
  }
  $("mic-select").addEventListener("change", function () {
    localStorage.setItem(MIC, $("mic-select").value);
  });
  $("speaker-select").addEventListener("change", function () {
    localStorage.setItem(SPEAKER, $("speaker-select").value);
    speaker($("speaker-select").value);
  });
}());
