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
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("wallboard");
    var status = document.getElementById("wallboard-status");
    if (!root || !window.EventSource) { return; }
    var source = new EventSource(root.getAttribute("data-stream"));
    source.onopen = function () { status.textContent = status.getAttribute("data-live"); };
    source.onmessage = function (event) { update(JSON.parse(event.data)); };
  });
})();
