// harvestd dashboard: small, dependency-free enhancements of server-rendered pages.
// - the API token (when the daemon has one) is kept in this tab's sessionStorage and put
//   into every action form; - the overview refreshes its numbers every 5 s;
// - uploads by drag and drop, with the answer shown in the page.
(function () {
  "use strict";
  var KEY = "harvestd-api-token";
  function token() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function fillForms() {
    var t = token();
    document.querySelectorAll("input.api-token").forEach(function (el) {
      if (t) { el.value = t; el.type = "hidden"; }
    });
  }
  var field = document.getElementById("api-token");
  if (field) {
    field.value = token();
    field.addEventListener("change", function () {
      try { sessionStorage.setItem(KEY, field.value); } catch (e) { /* private mode */ }
      fillForms();
    });
  }
  fillForms();

  var live = document.querySelector("[data-live]");
  if (live) {
    setInterval(function () {
      fetch(live.getAttribute("data-live"), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (o) {
          if (!o) { return; }
          var status = document.getElementById("status");
          if (status) { status.textContent = o.status; status.className = "badge " + o.status; }
          var gen = document.getElementById("generated");
          if (gen) { gen.textContent = o.generated_at.replace("T", " ").slice(0, 16) + " UTC"; }
          var busy = document.getElementById("busy");
          if (busy) { busy.textContent = o.downloader.busy; }
          var lag = document.getElementById("lag");
          if (lag) { lag.textContent = (o.event_loop.lag_s || 0).toFixed(3) + " s"; }
          o.sources.forEach(function (s) {
            var card = document.querySelector('[data-source="' + CSS.escape(s.name) + '"]');
            if (!card) { return; }
            var total = card.querySelector('[data-field="items-total"]');
            if (total) { total.textContent = s.items_total; }
            Object.keys(s.items).forEach(function (st) {
              var cell = card.querySelector('[data-status="' + st + '"]');
              if (cell) { cell.textContent = s.items[st]; }
            });
          });
        })
        .catch(function () { /* the next tick tries again */ });
    }, 5000);
  }

  var drop = document.getElementById("upload");
  if (drop) {
    var out = document.getElementById("upload-result");
    function send(file) {
      var body = new FormData();
      body.append("file", file);
      var headers = {};
      if (token()) { headers.Authorization = "Bearer " + token(); }
      out.textContent = "uploading " + file.name + "…";
      fetch(drop.action, { method: "POST", body: body, headers: headers })
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (res) {
          out.textContent = res[0] === 202 ? "received: item " + res[1].id + " (" + res[1].path + ")"
                                           : "refused (" + res[0] + "): " + res[1].error;
        })
        .catch(function (e) { out.textContent = "failed: " + e; });
    }
    drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault(); drop.classList.remove("over");
      if (e.dataTransfer.files.length) { send(e.dataTransfer.files[0]); }
    });
    drop.addEventListener("submit", function (e) {
      var input = drop.querySelector("input[type=file]");
      if (input.files.length) { e.preventDefault(); send(input.files[0]); }
    });
  }
})();
