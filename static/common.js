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

  // Checkbox pickers (参会部门, in the console and on the phone): a filter box narrows the list;
  // ticked boxes always stay in view.
  each("[data-check-picker]", function (picker) {
    var filter = picker.querySelector("[data-check-filter]");
    if (!filter) return;
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.replace(/^\s+|\s+$/g, "");
      each("label", function (label) {
        var box = label.querySelector("input");
        label.hidden = !!words && !(box && box.checked) && label.textContent.indexOf(words) < 0;
      }, picker);
    });
  });

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

  // What templates ask for with data attributes, since the Content-Security-Policy runs no inline
  // handler: data-confirm (a form, or a submit button) asks before sending; data-print prints;
  // data-autosubmit sends its form on change; data-check-all="name" ticks every box of that name in
  // its form; data-back returns to the previous page when there is one (else the link is followed).
  function closest(el, selector) {
    var matches = Element.prototype.matches || Element.prototype.msMatchesSelector ||
      Element.prototype.webkitMatchesSelector;
    for (; el && el.nodeType === 1; el = el.parentNode) {
      if (matches.call(el, selector)) return el;
    }
    return null;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.hasAttribute && form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
  document.addEventListener("click", function (e) {
    var el = closest(e.target, "button[data-confirm], input[data-confirm], [data-print], [data-back], [data-check-all]");
    if (!el) return;
    if (el.hasAttribute("data-confirm")) {
      if (!window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
    } else if (el.hasAttribute("data-print")) {
      window.print();
    } else if (el.hasAttribute("data-back")) {
      if (window.history.length > 1) { e.preventDefault(); window.history.back(); }
    } else if (el.hasAttribute("data-check-all")) {
      var name = el.getAttribute("data-check-all");
      each("input[type=checkbox]", function (box) {
        if (box.name === name) box.checked = el.checked;
      }, el.form || document);
    }
  });
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  return { each: each, enterprisePicker: enterprisePicker };
})();
