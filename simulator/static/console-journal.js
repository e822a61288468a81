// The live journal: every 1.5 s, ask the server for entries newer than the newest row shown and
// insert them at the top of the table. The rows come as HTML rendered by the server.
(function () {
  "use strict";
  var table = document.getElementById("journal-table");
  var rows = document.getElementById("journal-rows");
  var status = document.getElementById("journal-status");
  if (!table || !rows) return;
  var base = table.getAttribute("data-since-url").replace(/0$/, "");
  var latest = parseInt(table.getAttribute("data-latest"), 10) || 0;
  var busy = false;

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(base + latest + window.location.search, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !data.rows.length) return;
        for (var i = data.rows.length - 1; i >= 0; i--) rows.insertAdjacentHTML("afterbegin", data.rows[i]);
        latest = data.latest;
        var empty = document.querySelector("[data-testid=journal-empty]");
        if (empty) empty.remove();
        if (status) status.textContent = table.getAttribute("data-new-text") + ": " + data.rows.length;
      })
      .catch(function () { /* the server may be restarting: try again on the next tick */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, 1500);
})();
