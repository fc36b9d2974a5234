// The wallboard follows the server's event stream and updates each department's tile in place.
(function () {
  "use strict";
  function update(board) {
    board.departments.forEach(function (d) {
      var tile = document.querySelector('.tile[data-department="' + CSS.escape(d.department) + '"]');
      if (!tile) { return; }
      tile.classList.toggle("busy", d.waiting > 0);
      tile.querySelectorAll("[data-field]").forEach(function (cell) {
        var value = d[cell.getAttribute("data-field")];
        if (value !== undefined) { cell.textContent = String(value); }
      });
    });
  }
  // One row per agent, rebuilt from the board (the text is set, never parsed as HTML).
  function agents(rows) {
    var body = document.querySelector("#wallboard-agents tbody");
    if (!body || !rows) { return; }
    body.replaceChildren();
    rows.forEach(function (a) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-agent", a.endpoint);
      [a.name || a.endpoint, a.state, a.seconds, a.reason || ""].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = String(value);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("wallboard");
    var status = document.getElementById("wallboard-status");
    if (!root || !window.EventSource) { return; }
    var source = new EventSource(root.getAttribute("data-stream"));
    source.onopen = function () { status.textContent = status.getAttribute("data-live"); };
    source.onmessage = function (event) {
      var board = JSON.parse(event.data);
      update(board);
      agents(board.agents);
    };
  });
})();
