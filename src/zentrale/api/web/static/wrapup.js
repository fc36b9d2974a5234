// Wrap-up in the agent's workspace: when a call pops up (#screen-pop gets its call id) the
// agent can pick the department's disposition, write notes, a suggestion for management and a
// callback time, and save it (PUT /api/calls/{id}/wrapup). A call taken over by a transfer (no
// pop-up) opens the box from the transfer box's call id. Each agent who took the call files
// their own; the call's wrap-ups the agent may read (after a transfer: the colleague's too) are
// listed under the form (GET /api/calls/{id}/wrapups). The agent's open callbacks are listed
// below and can be cancelled. Kept apart from agent.js so both can change independently.
(function () {
  "use strict";
  var box = document.getElementById("wrapup");
  var pop = document.getElementById("screen-pop");
  if (!box || !pop) { return; }
  var words = JSON.parse(box.dataset.words);
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var $ = function (id) { return document.getElementById(id); };
  var codes = { departments: {} };
  var callId = null;

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (data) { return r.ok ? data : Promise.reject(data); });
    });
  }

  function status(key, text) {
    $("wrapup-status").dataset.status = key;
    $("wrapup-status").textContent = text;
  }

  function options(department) {
    var select = $("wrapup-disposition");
    var list = codes.departments[department] || [];
    select.textContent = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = list.length ? words.pick : words.none;
    select.appendChild(first);
    list.forEach(function (d) {
      var option = document.createElement("option");
      option.value = d.code;
      option.textContent = d.label;
      select.appendChild(option);
    });
  }

  function open(source) {
    var from = source || pop;
    var id = from.dataset.callId;
    if (!id || id === callId) { return; }
    callId = id;
    // A call taken over by a transfer pops up nowhere: its id comes from the transfer box, and
    // the codes are those of the agent's department when they sit in one.
    var department = from === pop ? pop.querySelector('[data-field="department"]').textContent : "";
    var mine = Object.keys(codes.departments);
    if (!department && mine.length === 1) { department = mine[0]; }
    $("wrapup-call").textContent = id;
    $("wrapup-form").reset();
    options(department);
    status("open", "");
    box.hidden = false;
    listWrapups();
  }

  function listWrapups() {
    var list = $("wrapup-list");
    if (!callId) { return Promise.resolve(); }
    return fetch("/api/calls/" + encodeURIComponent(callId) + "/wrapups", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        list.textContent = "";
        rows.forEach(function (w) {
          var item = document.createElement("li");
          item.dataset.agent = w.agent_endpoint;
          item.textContent = [w.agent_endpoint, w.department || "", w.disposition_label || w.disposition || "",
            (w.notes || []).join(" ")].join(" · ");
          list.appendChild(item);
        });
      });
  }

  function when(iso) {
    return new Date(iso).toLocaleString();
  }

  function listCallbacks() {
    return fetch(box.dataset.callbacks, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        var list = $("callback-list");
        list.textContent = "";
        rows.forEach(function (c) {
          var item = document.createElement("li");
          item.dataset.callbackId = c.id;
          item.dataset.state = c.state;
          item.textContent = when(c.due_at) + " · " + c.number + " · " + (c.department || "") + " ";
          if (c.state === "scheduled") {
            var cancel = document.createElement("button");
            cancel.type = "button";
            cancel.textContent = words.cancel;
            cancel.addEventListener("click", function () {
              send("DELETE", box.dataset.callbacks + "/" + c.id).then(listCallbacks);
            });
            item.appendChild(cancel);
          }
          list.appendChild(item);
        });
      });
  }

  $("wrapup-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!callId) { return; }
    var at = $("wrapup-callback").value;
    var body = {
      disposition: $("wrapup-disposition").value || null,
      notes: $("wrapup-notes").value || null,
      suggestion: $("wrapup-suggestion").value || null,
      callback_at: at ? at + ":00" : null,
      ready: $("wrapup-ready").checked
    };
    send("PUT", "/api/calls/" + encodeURIComponent(callId) + "/wrapup", body)
      .then(function () { status("saved", words.saved); return Promise.all([listCallbacks(), listWrapups()]); })
      .catch(function (data) {
        var error = (data && data.error) || {};
        status("error", error.message || String(data));
      });
  });

  fetch(box.dataset.dispositions, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : codes; })
    .then(function (data) {
      codes = data;
      if (data.calling_hours) { $("wrapup-hours").textContent = data.calling_hours + " (" + data.timezone + ")"; }
      open();
    });
  var observer = new MutationObserver(function (records) {
    records.forEach(function (record) { open(record.target); });
  });
  observer.observe(pop, { attributes: true, attributeFilter: ["data-call-id"] });
  var transfer = $("transfer-status");
  if (transfer) { observer.observe(transfer, { attributes: true, attributeFilter: ["data-call-id"] }); }
  listCallbacks();
}());
