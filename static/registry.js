/* 有需必应 · registry import progress: poll the job's status and refresh when it is finished. */
(function () {
  "use strict";
  var box = document.getElementById("job-status");
  if (!box || !box.getAttribute("data-active")) return;
  var url = box.getAttribute("data-status-url");
  function update(job) {
    var bar = document.getElementById("job-progress");
    if (bar) { bar.style.width = job.percent + "%"; bar.parentNode.setAttribute("aria-valuenow", job.percent); }
    var processed = document.getElementById("job-processed");
    if (processed) processed.textContent = job.processed;
    ["total", "new", "changed", "unchanged", "errors", "missing", "status_changes"].forEach(function (key) {
      var el = box.querySelector('[data-count="' + key + '"]');
      if (el) el.textContent = job[key];
    });
    var label = document.getElementById("job-status-label");
    if (label) label.textContent = job.status_label;
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.ok) return setTimeout(poll, 3000);
        update(data.job);
        if (data.job.active) setTimeout(poll, 1000); else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
