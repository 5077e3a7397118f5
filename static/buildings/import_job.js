// Follows a background import: polls its state every second, reloads when done.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  function field(name, value) {
    var element = box.querySelector('[data-field="' + name + '"]');
    if (element) { element.textContent = value; }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.finished) { window.location.reload(); return; }
        field("phase", state.phase || state.status);
        field("rows_done", state.rows_done);
        field("rows_total", state.rows_total === null ? "?" : state.rows_total);
        if (state.rows_total) { bar.max = state.rows_total; }
        bar.value = state.rows_done;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
