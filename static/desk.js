/* 有需必应 · the 86912345 desk's intake screen: the caller's number looks up their enterprises and
   earlier orders (GET /desk/caller, debounced); the answer and department fields show for the
   outcome that needs them. ES5 and XMLHttpRequest only; the page works without this file. */
(function () {
  "use strict";
  var phone = document.getElementById("desk-phone");
  var caller = document.getElementById("desk-caller");
  var history = document.getElementById("desk-history");
  if (!phone || !caller) return;
  var timer = null;
  var seq = 0;
  var last = null;

  function text(tag, value, className) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (className) el.className = className;
    return el;
  }

  function render(data) {
    caller.textContent = "";
    (data.enterprises || []).forEach(function (e, index) {
      var label = document.createElement("label");
      label.className = "ent-option";
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "enterprise_id";
      radio.value = e.id;
      radio.checked = index === 0;
      var span = document.createElement("span");
      span.appendChild(text("strong", e.name));
      span.appendChild(document.createTextNode(" "));
      span.appendChild(text("small", (e.uscc || "无代码") + " · 服务人员：" + (e.staff || "未分配"), "muted"));
      label.appendChild(radio);
      label.appendChild(span);
      caller.appendChild(label);
    });
    if (!(data.enterprises || []).length) {
      caller.appendChild(text("p", "该号码没有对应的名录企业，请在下方搜索企业。", "muted small"));
    }
    history.textContent = "";
    if ((data.orders || []).length) {
      history.appendChild(text("strong", "该号码的既往工单："));
      var list = document.createElement("ul");
      list.className = "plain";
      data.orders.forEach(function (o) {
        var li = document.createElement("li");
        var link = text("a", o.number);
        link.href = o.url;
        li.appendChild(link);
        li.appendChild(document.createTextNode(" " + o.title + " "));
        li.appendChild(text("span", o.state_label, "badge"));
        list.appendChild(li);
      });
      history.appendChild(list);
    }
  }

  function lookup() {
    var value = phone.value.replace(/\s+/g, "");
    if (value === last) return;
    last = value;
    if (value.length < 7) return;
    var mine = ++seq;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", phone.getAttribute("data-lookup-url") + "?phone=" + encodeURIComponent(value));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (mine !== seq || xhr.status !== 200) return;
      try { render(JSON.parse(xhr.responseText)); } catch (err) { /* keep what is shown */ }
    };
    xhr.send();
  }

  phone.addEventListener("input", function () {
    if (timer) clearTimeout(timer);
    timer = setTimeout(lookup, 300);
  });

  var outcomes = document.querySelectorAll("input[name=outcome]");
  function sync() {
    var chosen = "";
    Array.prototype.forEach.call(outcomes, function (radio) { if (radio.checked) chosen = radio.value; });
    Array.prototype.forEach.call(document.querySelectorAll("[data-outcome]"), function (el) {
      el.style.display = el.getAttribute("data-outcome") === chosen ? "" : "none";
    });
  }
  Array.prototype.forEach.call(outcomes, function (radio) { radio.addEventListener("change", sync); });
  sync();
})();
