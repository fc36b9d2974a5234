// Transfers in the agent's workspace: blind to a department or agent, or attended (consult,
// then complete or back to the caller). The daemon carries them out over ARI, so this works the
// same whether the agent talks on the page's softphone or on a desk phone. The transfer state is
// pushed on the workspace's event stream (agent.js hands it on as "zentrale:transfer" on #agent);
// only while that stream is down and the agent on a call is it read every 10 s instead.
(function () {
  "use strict";
  var box = document.getElementById("transfer");
  if (!box) { return; }
  var words = JSON.parse(box.dataset.words);
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var $ = function (id) { return document.getElementById(id); };
  var agent = document.getElementById("agent");
  var phase = "none";
  var timer = null;
  // The transfer state is pushed when the stream is open and carries it (a node that rings
  // the agent sends it at once on every new stream); a stream served by another node carries
  // none: then the state is asked for every REMOTE_MS, and every FALLBACK_MS while no stream.
  var streamOpen = false;
  var pushed = false;
  var live = false;
  var FALLBACK_MS = 10000;
  var REMOTE_MS = 2000;

  function send(url, body) {
    $("transfer-error").textContent = "";
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { $("transfer-error").textContent = data.error ? data.error.message : r.status; }
        // While the stream is live it alone says what the state is: this answer can arrive
        // after a newer pushed state (the flow moves on while the request is audited).
        else if (!live) { show(data); }
      });
    });
  }

  function target() {
    var value = $("transfer-target").value;
    var cut = value.indexOf(":");
    return { to: value.slice(0, cut), target: value.slice(cut + 1) };
  }

  function show(state) {
    phase = state ? state.phase : "none";
    var el = $("transfer-status");
    el.dataset.phase = phase;
    if (state && state.phase === "talking" && state.call_id) {
      el.dataset.callId = state.call_id; // kept after the call: the wrap-up (wrapup.js) is for it
    }
    var text = words[phase] || phase;
    if (state && state.phase !== "talking" && (state.consulted || state.target)) {
      text += " " + (state.consulted || state.target);
    }
    if (state && state.phase === "talking" && state.last) {
      el.dataset.last = state.last;
      text += " · " + (words[state.last] || state.last);
    } else {
      delete el.dataset.last;
    }
    el.textContent = text;
    var ready = phase === "talking";
    $("transfer-blind").disabled = !ready;
    $("transfer-consult").disabled = !ready;
    $("transfer-complete").disabled = phase !== "consulting";
    $("transfer-back").disabled = !(phase === "ringing" || phase === "consulting");
  }

  function refresh() {
    return fetch(box.dataset.url, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(show, function () { show(null); });
  }

  function onCall() {
    var state = $("agent-state");
    var call = $("call-status");
    return (state && state.dataset.state === "on_call") ||
      (call && call.dataset.status === "talking") || phase !== "none";
  }

  function follow() {
    if (!live && onCall()) {
      if (timer === null) {
        timer = setInterval(function () { refresh().then(function () { if (!onCall()) { stop(); } }); },
          streamOpen ? REMOTE_MS : FALLBACK_MS);
      }
    } else {
      stop();
    }
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
  }

  function fill(targets) {
    var select = $("transfer-target");
    var group = function (label, items) {
      var g = document.createElement("optgroup");
      g.label = label;
      items.forEach(function (item) {
        var o = document.createElement("option");
        o.value = item[0];
        o.textContent = item[1];
        g.appendChild(o);
      });
      select.appendChild(g);
    };
    group(words.departments, targets.departments.map(function (d) { return ["department:" + d, d]; }));
    group(words.agents, targets.agents.map(function (a) { return ["agent:" + a.endpoint, a.name]; }));
  }

  $("transfer-blind").addEventListener("click", function () { send(box.dataset.url, target()); });
  $("transfer-consult").addEventListener("click", function () { send(box.dataset.consult, target()); });
  $("transfer-complete").addEventListener("click", function () { send(box.dataset.consult + "/complete"); });
  $("transfer-back").addEventListener("click", function () { send(box.dataset.consult + "/cancel"); });
  var watch = new MutationObserver(follow);
  ["agent-state", "call-status"].forEach(function (id) {
    if ($(id)) { watch.observe($(id), { attributes: true, attributeFilter: ["data-state", "data-status"] }); }
  });
  fetch(box.dataset.targets, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(fill);
  if (agent) {
    agent.addEventListener("zentrale:transfer", function (e) {
      pushed = true; live = streamOpen; stop(); show(e.detail); follow();
    });
    agent.addEventListener("zentrale:stream", function (e) {
      streamOpen = e.detail === true;
      if (!streamOpen) { pushed = false; }
      live = streamOpen && pushed; stop(); follow();
    });
    streamOpen = agent.streamLive === true;
    pushed = agent.transferState !== undefined;
    live = streamOpen && pushed;
  }
  show(agent && agent.transferState !== undefined ? agent.transferState : null);
  follow();
}());
