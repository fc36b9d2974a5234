// The agent's call script, the articles and completing the caller's record: follows the screen
// pops of agent.js (the "zentrale:pop" event on #agent), fetches the script of the call with the
// caller's fields filled in, searches and opens articles, and saves the fields the agent fills in
// the pop. The HTML of scripts and articles comes from the server rendered without raw HTML.
(function () {
  "use strict";
  var root = document.getElementById("knowledge");
  var agent = document.getElementById("agent");
  if (!root || !agent) { return; }
  var words = JSON.parse(root.dataset.words);
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var $ = function (id) { return document.getElementById(id); };
  var pop = $("screen-pop");
  var callId = null;
  var COMPLETABLE = ["name", "customer_number", "language"];
  // Optional fields: offered while empty, but not asked for (not in the record's `missing`).
  var OPTIONAL = ["email"];
  var FIELDS = COMPLETABLE.concat(OPTIONAL);

  function request(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf ? csrf.content : "";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error((data.error && data.error.message) || String(r.status)); }
        return data;
      });
    });
  }

  function callUrl(what) { return root.dataset.calls + encodeURIComponent(callId) + "/" + what; }

  function field(name) { return pop.querySelector('[data-field="' + name + '"]'); }

  function showMissing(missing, record) {
    OPTIONAL.forEach(function (name) {
      document.querySelector('[data-complete="' + name + '"]').hidden = Boolean(record[name]);
    });
    COMPLETABLE.forEach(function (name) {
      var gone = missing.indexOf(name) < 0;
      var dd = field(name);
      if (dd) { dd.classList.toggle("missing-field", !gone); }
      document.querySelector('[data-complete="' + name + '"]').hidden = gone;
    });
    field("missing").textContent = missing.join(", ");
  }

  function onPop(data) {
    var c = data.customer || {};
    callId = data.call_id;
    var form = $("complete-form");
    form.reset();
    $("complete-status").textContent = "";
    pop.appendChild($("complete"));  // the record is completed in the screen pop itself
    $("complete").hidden = false;
    showMissing(c.id ? (c.missing || []) : COMPLETABLE.slice(), c);
    $("open-script").disabled = false;
    $("call-script").hidden = true;
    $("script-status").textContent = "";
  }

  function save(event) {
    event.preventDefault();
    var body = {};
    FIELDS.forEach(function (name) {
      var input = $("complete-" + name);
      input.removeAttribute("aria-invalid");
      if (!input.closest("[data-complete]").hidden && input.value.trim()) {
        body[name] = input.value.trim();
      }
    });
    var number = $("complete-number").value.trim();
    if (number) { body.add_numbers = [number]; }
    var status = $("complete-status");
    if (!Object.keys(body).length) {
      status.dataset.ok = "false"; status.textContent = words.nothing; return;
    }
    request("PATCH", callUrl("customer"), body).then(function (record) {
      FIELDS.forEach(function (name) {
        if (record[name] && field(name)) { field(name).textContent = record[name]; }
        $("complete-" + name).value = "";
      });
      $("complete-number").value = "";
      showMissing(record.missing, record);
      status.dataset.ok = "true"; status.textContent = words.saved;
      if (!$("call-script").hidden) { openScript(); }
    }).catch(function (error) {
      status.dataset.ok = "false"; status.textContent = words.failed + " " + error.message;
      Object.keys(body).forEach(function (name) {
        var input = $("complete-" + (name === "add_numbers" ? "number" : name));
        if (error.message.indexOf(name === "add_numbers" ? "phone" : name.replace("_", " ")) >= 0 ||
            error.message.indexOf(name) >= 0) { input.setAttribute("aria-invalid", "true"); }
      });
    });
  }

  function openScript() {
    if (!callId) { return; }
    request("GET", callUrl("script")).then(function (script) {
      var box = $("call-script");
      box.innerHTML = script.html;  // rendered by the server with raw HTML disabled
      box.dataset.script = script.id;
      box.hidden = false;
      $("script-status").textContent = script.title;
    }).catch(function (error) {
      $("script-status").textContent = words.no_script + " " + error.message;
    });
  }

  function search(event) {
    event.preventDefault();
    var url = root.dataset.articles + "?q=" + encodeURIComponent($("article-q").value);
    request("GET", url).then(function (hits) {
      var list = $("article-results");
      list.textContent = "";
      if (!hits.length) {
        var none = document.createElement("li");
        none.textContent = words.no_hits;
        list.appendChild(none);
      }
      hits.forEach(function (hit) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = hit.title;
        button.dataset.article = hit.id;
        button.addEventListener("click", function () { openArticle(hit.id); });
        var snippet = document.createElement("p");
        snippet.textContent = hit.snippet;
        item.appendChild(button);
        item.appendChild(snippet);
        list.appendChild(item);
      });
    });
  }

  function openArticle(id) {
    request("GET", root.dataset.articles + "/" + encodeURIComponent(id)).then(function (article) {
      $("article-title").textContent = article.title;
      $("article-body").innerHTML = article.html;  // rendered by the server, raw HTML disabled
      $("article-view").dataset.article = article.id;
      $("article-view").hidden = false;
    });
  }

  agent.addEventListener("zentrale:pop", function (e) { onPop(e.detail); });
  $("complete-form").addEventListener("submit", save);
  $("open-script").addEventListener("click", openScript);
  $("article-search").addEventListener("submit", search);
}());
