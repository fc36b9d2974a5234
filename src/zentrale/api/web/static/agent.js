// The agent's workspace: a JsSIP softphone registered as the agent's endpoint over Asterisk's
// WebSocket, the agent's state (available / paused with a reason), and the screen pop pushed as
// server-sent events when a call rings this agent (and the transfer state of the agent's call,
// handed on to agent_transfer.js).
(function () {
  "use strict";
  var root = document.getElementById("agent");
  if (!root) { return; }
  var words = JSON.parse(root.dataset.words);
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var $ = function (id) { return document.getElementById(id); };
  var session = null;
  var muted = false;

  function say(el, key, extra) {
    el.dataset.status = key;
    el.textContent = (words[key] || key) + (extra ? " " + extra : "");
  }

  function showState(state) {
    var el = $("agent-state");
    el.dataset.state = state.state;
    el.textContent = words[state.state] || state.state;
    $("agent-reason").textContent = state.reason || "";
  }

  function setState(body) {
    return fetch(root.dataset.stateUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (state) {
      if (state.state) { showState(state); }
    });
  }

  function buttons(inCall, ringing) {
    $("answer").disabled = !ringing;
    $("hangup").disabled = !(inCall || ringing);
    $("mute").disabled = !inCall;
    $("send-keys").disabled = !inCall;
  }

  function pop(data) {
    var box = $("screen-pop");
    var c = data.customer || {};
    var set = function (name, value) {
      box.querySelector('[data-field="' + name + '"]').textContent = value;
    };
    set("caller", data.caller || words.unknown);
    set("name", c.name || (c.id ? "" : words.unknown));
    set("customer_number", c.customer_number || "");
    set("language", c.language || "");
    set("email", c.email || "");
    set("vip", c.vip === true || c.vip === "true" ? "VIP" : "");
    set("missing", (c.missing || []).join(", "));
    set("department", data.department || "");
    set("path", (data.path || []).map(function (s) {
      return s.menu + (s.digits ? " " + s.digits : "");
    }).join(" → "));
    set("waited", Math.round(data.waited_s || 0) + " s");
    set("earlier", (data.earlier || []).map(function (e) {
      return [e.at.slice(0, 16).replace("T", " "), e.disposition || e.outcome || ""]
        .concat(e.notes || []).join(" · ");
    }).join(" | "));
    box.dataset.callId = data.call_id;
    box.hidden = false;
    // Screen readers hear who is calling (the box itself is too long to be read out on change).
    $("pop-announce").textContent = words.caller + ": " + [c.name || words.unknown,
      data.caller, data.department].filter(Boolean).join(", ");
    root.dispatchEvent(new CustomEvent("zentrale:pop", { detail: data }));
  }

  function follow() {
    var events = new EventSource(root.dataset.events);
    events.addEventListener("state", function (e) { showState(JSON.parse(e.data)); });
    events.addEventListener("ringing", function (e) { pop(JSON.parse(e.data)); });
    // The transfer panel (agent_transfer.js) follows these; the last ones stay on #agent for a
    // panel that starts listening late.
    var tell = function (name, detail) {
      root[name === "zentrale:transfer" ? "transferState" : "streamLive"] = detail;
      root.dispatchEvent(new CustomEvent(name, { detail: detail }));
    };
    events.addEventListener("transfer", function (e) { tell("zentrale:transfer", JSON.parse(e.data)); });
    events.addEventListener("open", function () { tell("zentrale:stream", true); });
    events.addEventListener("error", function () { tell("zentrale:stream", false); });
  }

  function track(s) {
    session = s;
    root.dispatchEvent(new CustomEvent("zentrale:session", { detail: s }));
    say($("call-status"), "incoming", s.remote_identity.uri.user);
    buttons(false, true);
    s.on("confirmed", function () { say($("call-status"), "talking"); buttons(true, false); });
    s.on("peerconnection", function (e) {
      e.peerconnection.addEventListener("track", function (t) {
        $("remote-audio").srcObject = t.streams[0];
      });
    });
    var end = function () {
      session = null; muted = false;
      $("mute").setAttribute("aria-pressed", "false");
      say($("call-status"), "ended");
      buttons(false, false);
    };
    s.on("ended", end);
    s.on("failed", end);
  }

  function register(config) {
    var socket = new JsSIP.WebSocketInterface(config.websocket_url);
    var ua = new JsSIP.UA({
      sockets: [socket], uri: config.uri, password: config.password,
      display_name: config.display_name, register: true, session_timers: false
    });
    ua.on("registered", function () { say($("softphone-status"), "registered"); });
    ua.on("unregistered", function () { say($("softphone-status"), "unregistered"); });
    ua.on("registrationFailed", function (e) { say($("softphone-status"), "unregistered", e.cause); });
    ua.on("newRTCSession", function (e) {
      if (e.originator === "remote") { track(e.session); }
    });
    ua.start();
  }

  $("go-available").addEventListener("click", function () { setState({ state: "available" }); });
  $("go-paused").addEventListener("click", function () {
    setState({ state: "paused", reason: $("pause-reason").value });
  });
  $("answer").addEventListener("click", function () {
    if (session) {
      var media = root.zentraleMedia ? root.zentraleMedia() : { audio: true, video: false };
      session.answer({ mediaConstraints: media, pcConfig: { iceServers: [] } });
    }
  });
  $("hangup").addEventListener("click", function () { if (session) { session.terminate(); } });
  $("mute").addEventListener("click", function () {
    if (!session) { return; }
    muted = !muted;
    if (muted) { session.mute({ audio: true }); } else { session.unmute({ audio: true }); }
    $("mute").setAttribute("aria-pressed", String(muted));
  });
  $("send-keys").addEventListener("click", function () {
    var keys = $("keys").value.replace(/[^0-9*#]/g, "");
    if (session && keys) { session.sendDTMF(keys, { transportType: "RFC2833" }); $("keys").value = ""; }
  });

  say($("call-status"), "idle");
  buttons(false, false);
  follow();
  fetch(root.dataset.softphone, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(register)
    .catch(function (status) { say($("softphone-status"), "unregistered", String(status)); });
}());
