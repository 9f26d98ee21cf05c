/* 有需必应 · small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Show sub-fields that depend on a choice: <select|input data-toggle-group="g"> and
  // <div data-show-when="g:value">.
  function syncToggles(group) {
    var value = null;
    document.querySelectorAll('[data-toggle-group="' + group + '"]').forEach(function (el) {
      if (el.type === "radio") { if (el.checked) value = el.value; } else { value = el.value; }
    });
    document.querySelectorAll('[data-show-when^="' + group + ':"]').forEach(function (box) {
      box.hidden = box.getAttribute("data-show-when") !== group + ":" + value;
    });
  }
  var groups = {};
  document.querySelectorAll("[data-toggle-group]").forEach(function (el) {
    var group = el.getAttribute("data-toggle-group");
    groups[group] = true;
    el.addEventListener("change", function () { syncToggles(group); });
  });
  Object.keys(groups).forEach(syncToggles);

  // Enterprise picker: live search as the person types.
  var query = document.getElementById("enterprise-query");
  var results = document.getElementById("enterprise-results");
  if (query && results) {
    var timer = null;
    var seq = 0;
    query.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); search(); } });
    query.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
    function search() {
      var mine = ++seq;
      var url = query.getAttribute("data-search-url") + "?q=" + encodeURIComponent(query.value.trim());
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { if (mine === seq) render(data.items || []); })
        .catch(function () {});
    }
    function render(items) {
      var checked = results.querySelector("input[name=enterprise_id]:checked");
      var keep = checked ? checked.value : null;
      results.textContent = "";
      if (!items.length) {
        var p = document.createElement("p");
        p.className = "muted small";
        p.textContent = "没有找到企业，请换个关键词。";
        results.appendChild(p);
        return;
      }
      items.forEach(function (item) {
        var label = document.createElement("label");
        label.className = "ent-option";
        var input = document.createElement("input");
        input.type = "radio";
        input.name = "enterprise_id";
        input.value = item.id;
        input.checked = String(item.id) === keep || items.length === 1;
        var span = document.createElement("span");
        var strong = document.createElement("strong");
        strong.textContent = item.name;
        var small = document.createElement("small");
        small.className = "muted";
        small.textContent = (item.uscc || "无代码") + " · " + (item.zone || "未分片区") + " · 服务人员：" + (item.staff || "未分配");
        span.appendChild(strong);
        span.appendChild(small);
        label.appendChild(input);
        label.appendChild(span);
        results.appendChild(label);
      });
    }
  }

  // Sandbox: refresh the open conversation every few seconds (only its bubbles).
  var box = document.querySelector("[data-refresh-url]");
  if (box) {
    var last = box.innerHTML;
    var atBottom = function () { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; };
    box.scrollTop = box.scrollHeight;
    setInterval(function () {
      if (document.hidden) return;
      fetch(box.getAttribute("data-refresh-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || html === last) return;
          var stick = atBottom();
          box.innerHTML = html;
          last = html;
          if (stick) box.scrollTop = box.scrollHeight;
        })
        .catch(function () {});
    }, parseInt(box.getAttribute("data-refresh-ms"), 10) || 3000);
    // Card buttons act as the person chosen in the compose box.
    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (!form.hasAttribute || !form.hasAttribute("data-card-button")) return;
      var who = document.getElementById("sb-person");
      if (who) form.querySelector("input[name=person_id]").value = who.value;
    });
  }
})();
