/* 有需必应 · statistics page: typing a date switches the period to "自定义". The page works without it. */
(function () {
  "use strict";
  var select = document.getElementById("stat-period");
  if (!select) return;
  document.querySelectorAll("[data-custom-date]").forEach(function (input) {
    input.addEventListener("change", function () { select.value = "custom"; });
  });
})();
