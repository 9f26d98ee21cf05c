/* 有需必应 · what the console (app.js) and the H5 pages (mobile.js) share. Loaded before either.
   ES5 and XMLHttpRequest only: in-app browsers on older phones lag behind. Every page works without it. */
var YXBY = (function () {
  "use strict";

  function each(selector, fn, root) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  // Sub-fields shown for one choice: <select|input data-toggle-group="g"> and <div data-show-when="g:value">.
  function syncToggles(group) {
    var value = null;
    each('[data-toggle-group="' + group + '"]', function (el) {
      if (el.type === "radio") { if (el.checked) value = el.value; } else { value = el.value; }
    });
    each('[data-show-when^="' + group + ':"]', function (box) {
      box.hidden = box.getAttribute("data-show-when") !== group + ":" + value;
    });
  }
  var groups = {};
  each("[data-toggle-group]", function (el) {
    var group = el.getAttribute("data-toggle-group");
    groups[group] = true;
    el.addEventListener("change", function () { syncToggles(group); });
  });
  Object.keys(groups).forEach(syncToggles);

  // Enterprise picker: search as the person types (the server decides whose enterprises) and
  // redraw the radio list, keeping the one chosen. o: {query, results (element ids), delay,
  // optionClass, emptyClass, emptyText, detail(item) → the small line, detailClass, onRender}.
  function enterprisePicker(o) {
    var query = document.getElementById(o.query);
    var results = document.getElementById(o.results);
    if (!query || !results) return;
    var timer = null;
    var seq = 0;
    var render = function (items) {
      var checked = results.querySelector("input[name=enterprise_id]:checked");
      var keep = checked ? checked.value : null;
      results.textContent = "";
      if (!items.length) {
        var p = document.createElement("p");
        p.className = o.emptyClass;
        p.textContent = o.emptyText;
        results.appendChild(p);
        return;
      }
      items.forEach(function (item) {
        var label = document.createElement("label");
        label.className = o.optionClass;
        var input = document.createElement("input");
        input.type = "radio";
        input.name = "enterprise_id";
        input.value = item.id;
        input.checked = String(item.id) === keep || items.length === 1;
        var span = document.createElement("span");
        var strong = document.createElement("strong");
        strong.textContent = item.name;
        var small = document.createElement("small");
        if (o.detailClass) small.className = o.detailClass;
        small.textContent = o.detail(item);
        span.appendChild(strong);
        span.appendChild(small);
        label.appendChild(input);
        label.appendChild(span);
        results.appendChild(label);
      });
      if (o.onRender) o.onRender();
    };
    // data-search-hint: an empty box lists nothing but the hint (and the enterprise already chosen).
    var hint = query.getAttribute("data-search-hint");
    var clear = function () {
      seq++;
      Array.prototype.forEach.call(results.children, function (child) {
        var box = child.querySelector && child.querySelector("input[name=enterprise_id]");
        if (!box || !box.checked) child.hidden = true;
      });
      if (!results.querySelector("input[name=enterprise_id]:checked")) {
        var p = document.createElement("p");
        p.className = o.emptyClass;
        p.textContent = hint;
        results.textContent = "";
        results.appendChild(p);
      }
    };
    var search = function () {
      if (hint && !query.value.replace(/^\s+|\s+$/g, "")) { clear(); return; }
      var mine = ++seq;
      var xhr = new XMLHttpRequest();
      xhr.open("GET", query.getAttribute("data-search-url") + "?q=" + encodeURIComponent(query.value.replace(/^\s+|\s+$/g, "")));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.onload = function () {
        if (mine !== seq || xhr.status !== 200) return;
        try { render(JSON.parse(xhr.responseText).items || []); } catch (err) { /* keep the server's list */ }
      };
      xhr.send();
    };
    query.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.keyCode === 13) { e.preventDefault(); clearTimeout(timer); search(); }
    });
    query.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, o.delay); });
  }

  return { each: each, enterprisePicker: enterprisePicker };
})();
