/* Policy pages: the campaign progress panel polls its JSON until the campaign is done. */
(function () {
  "use strict";
  var panel = document.getElementById("progress");
  if (!panel || !panel.getAttribute("data-progress-url")) return;
  var url = panel.getAttribute("data-progress-url");
  var wasDone = panel.getAttribute("data-done") === "1";
  var delay = 2000;

  function field(name) { return panel.querySelector('[data-field="' + name + '"]'); }
  function set(name, text) { var el = field(name); if (el) el.textContent = text; }

  function render(data) {
    set("status_label", data.status_label);
    set("sent", data.sent);
    set("waiting", data.waiting);
    set("failed", data.failed);
    set("already_pushed", data.already_pushed);
    set("capped_text", data.capped ? "（其中 " + data.capped + " 家本周已达上限）" : "");
    if (data.last_run_at) {
      var when = new Date(data.last_run_at + (data.last_run_at.match(/[Z+]/) ? "" : "Z"));
      set("last_run", "最近处理：" + when.toLocaleTimeString("zh-CN", { hour12: false }));
    }
    var bar = field("bar");
    if (bar) bar.style.width = data.percent + "%";
    var notes = field("notes");
    if (notes) {
      notes.innerHTML = "";
      (data.notes || []).forEach(function (note) {
        var li = document.createElement("li");
        li.textContent = note;
        notes.appendChild(li);
      });
    }
    panel.setAttribute("data-status", data.status);
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status === 200) {
        var data = JSON.parse(xhr.responseText);
        render(data);
        if (data.done) {
          // Finished while watching: reload once for the detail table.
          if (!wasDone) window.location.reload();
          return;
        }
      }
      setTimeout(poll, delay);
    };
    xhr.onerror = function () { setTimeout(poll, delay * 2); };
    xhr.send();
  }
  if (!wasDone) setTimeout(poll, delay);
})();
