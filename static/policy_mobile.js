/* One-tap copy of a forward text: <button data-copy="textarea-id">. ES5; falls back to
   execCommand("copy") in in-app browsers without the async clipboard API. */
(function () {
  "use strict";
  function done(button) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = "已复制";
    button.setAttribute("data-copied", "1");
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function fallback(area, button) {
    area.focus();
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selected for a manual copy */ }
    done(button);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var area = document.getElementById(button.getAttribute("data-copy"));
      if (!area) return;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(function () { done(button); },
          function () { fallback(area, button); });
      } else {
        fallback(area, button);
      }
    });
  });
})();
