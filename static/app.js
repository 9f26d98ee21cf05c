/* 有需必应 · small progressive enhancements of the console (after common.js). Every page works without this file. */
(function () {
  "use strict";

  // Enterprise picker: live search as the person types.
  YXBY.enterprisePicker({
    query: "enterprise-query", results: "enterprise-results", delay: 250,
    optionClass: "ent-option", emptyClass: "muted small", emptyText: "没有找到企业，请换个关键词。",
    detailClass: "muted",
    detail: function (item) {
      return (item.uscc || "无代码") + " · " + (item.zone || "未分片区") + " · 服务人员：" + (item.staff || "未分配");
    },
  });

  // Person form: show the zone, department or stage fields the chosen role needs. Hidden controls
  // are disabled, so a stale choice the server would refuse is not submitted.
  var roleSelect = document.getElementById("role-select");
  if (roleSelect && roleSelect.hasAttribute("data-zone-roles")) {
    var zoneRoles = JSON.parse(roleSelect.getAttribute("data-zone-roles"));
    var syncRole = function () {
      var role = roleSelect.value;
      YXBY.each("#person-form [data-for]", function (el) {
        var kind = el.getAttribute("data-for");
        var show = kind === "zone" ? zoneRoles.indexOf(role) >= 0
          : kind === "stages" ? role === "chief_helper"
            : zoneRoles.indexOf(role) < 0;
        el.style.display = show ? "" : "none";
        YXBY.each("select, input", function (input) { input.disabled = !show; }, el);
      });
    };
    roleSelect.addEventListener("change", syncRole);
    syncRole();
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
