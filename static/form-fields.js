// The request form's custom fields: show the group of the chosen domain (templates/_form_fields.html).
// Without this script every group is listed under its domain's name and the server reads the right one.
(function () {
  "use strict";
  document.querySelectorAll("[data-form-fields]").forEach(function (box) {
    var form = box.closest("form");
    var select = form && form.querySelector("select[name=domain_id]");
    if (!select) return;
    function show() {
      var chosen = select.value;
      box.querySelectorAll("[data-form-domain]").forEach(function (group) {
        group.hidden = chosen !== "" && group.getAttribute("data-form-domain") !== chosen;
      });
    }
    select.addEventListener("change", show);
    show();
  });
})();
