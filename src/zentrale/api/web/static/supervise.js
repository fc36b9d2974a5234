// The supervisors' page follows the server's event stream (no polling) and redraws the agents'
// and queues' tables; the buttons start, switch and stop listening / whispering / barging.
(function () {
  "use strict";
  var root, words, me, csrf;

  function cell(text, field) {
    var td = document.createElement("td");
    if (field) { td.setAttribute("data-field", field); }
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function send(method, url, body) {
    var error = document.getElementById("supervise-error");
    error.textContent = "";
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (answer) {
      if (!answer.ok) {
        return answer.json().then(function (data) { error.textContent = data.error.message; });
      }
    });
  }

  function controls(call) {
    var td = cell("", "monitor");
    if (!call) { return td; }
    var session = call.monitor;
    ["listen", "whisper", "barge"].forEach(function (mode) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = words[mode];
      button.setAttribute("data-mode", mode);
      if (session && session.mode === mode) { button.setAttribute("aria-pressed", "true"); }
      button.addEventListener("click", function () {
        if (session && session.supervisor === me) {
          send("PUT", "/api/supervise/monitors/" + session.id, { mode: mode });
        } else {
          send("POST", "/api/supervise/calls/" + call.call_id + "/monitor", { mode: mode });
        }
      });
      td.appendChild(button);
    });
    if (session && session.supervisor === me) {
      var stop = document.createElement("button");
      stop.type = "button";
      stop.textContent = words.stop;
      stop.setAttribute("data-mode", "stop");
      stop.addEventListener("click", function () {
        send("DELETE", "/api/supervise/monitors/" + session.id);
      });
      td.appendChild(stop);
    }
    return td;
  }

  function agentRow(a) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-endpoint", a.endpoint);
    tr.setAttribute("data-node", a.node || "");
    tr.setAttribute("data-state", a.state);
    tr.appendChild(cell(a.name));
    tr.appendChild(cell(a.departments.join(", ")));
    tr.appendChild(cell((words[a.state] || a.state) + (a.reason ? " (" + a.reason + ")" : ""), "state"));
    tr.appendChild(cell(a.in_state_s, "in_state_s"));
    tr.appendChild(cell(a.call ? a.call.caller + " · " + (a.call.department || "") : "", "call"));
    tr.appendChild(cell(a.call ? a.call.duration_s : "", "duration_s"));
    tr.appendChild(controls(a.call));
    tr.appendChild(cell(a.node || "", "node"));
    return tr;
  }

  function queueRow(q) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-department", q.department);
    tr.appendChild(cell(q.department));
    tr.appendChild(cell(q.waiting, "waiting"));
    tr.appendChild(cell(q.longest_wait_s, "longest_wait_s"));
    return tr;
  }

  // What a row shows apart from its running counters: a row whose shape did not change only
  // has its counters updated, so its buttons stay under the pointer and keep their focus.
  function shape(a) {
    var call = a.call ? [a.call.call_id, a.call.caller, a.call.department,
      a.call.monitor ? [a.call.monitor.id, a.call.monitor.mode, a.call.monitor.supervisor] : null] : null;
    return JSON.stringify([a.node, a.endpoint, a.name, a.departments, a.state, a.reason, call]);
  }

  function update(board) {
    var agents = document.querySelector("#agents tbody");
    var queues = document.querySelector("#queues tbody");
    var old = {};
    agents.querySelectorAll("tr[data-endpoint]").forEach(function (tr) {
      old[tr.getAttribute("data-node") + " " + tr.getAttribute("data-endpoint")] = tr;
    });
    var rows = board.agents.map(function (a) {
      var tr = old[(a.node || "") + " " + a.endpoint];
      if (!tr || tr.getAttribute("data-shape") !== shape(a)) {
        tr = agentRow(a);
        tr.setAttribute("data-shape", shape(a));
      }
      tr.querySelector('[data-field="in_state_s"]').textContent = String(a.in_state_s);
      tr.querySelector('[data-field="duration_s"]').textContent = a.call ? String(a.call.duration_s) : "";
      return tr;
    });
    var same = rows.length === agents.children.length &&
      rows.every(function (tr, i) { return agents.children[i] === tr; });
    if (!same) { agents.replaceChildren.apply(agents, rows); }
    queues.replaceChildren.apply(queues, board.queues.map(queueRow));
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("supervise");
    var status = document.getElementById("supervise-status");
    if (!root || !window.EventSource) { return; }
    words = JSON.parse(root.getAttribute("data-words"));
    me = root.getAttribute("data-me");
    csrf = document.querySelector('meta[name="csrf-token"]');
    var source = new EventSource(root.getAttribute("data-stream"));
    source.onopen = function () { status.textContent = status.getAttribute("data-live"); };
    source.onmessage = function (event) { update(JSON.parse(event.data)); };
  });
})();
