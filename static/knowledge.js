/* 有需必应 · the new-request form: as the request is typed, show up to three published knowledge
   entries or cases like it (GET /knowledge/similar, debounced). ES5 and XMLHttpRequest only, like
   common.js; without JavaScript the server shows the same box when the form comes back. */
(function () {
  "use strict";
  var box = document.getElementById("knowledge-suggest");
  var list = document.getElementById("knowledge-suggest-list");
  var content = document.querySelector("textarea[name=content]");
  var title = document.querySelector("input[name=title]");
  if (!box || !list || !content) return;
  var timer = null;
  var seq = 0;
  var last = null;

  function render(items) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = item.label;
      var link = document.createElement("a");
      link.href = item.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = item.title;
      var note = document.createElement("span");
      note.className = "muted small";
      note.textContent = item.snippet;
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(link);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(note);
      list.appendChild(li);
    });
    box.hidden = !items.length;
  }

  function lookup() {
    var text = ((title ? title.value : "") + " " + content.value).replace(/^\s+|\s+$/g, "");
    if (text === last) return;
    last = text;
    if (text.length < 4) { render([]); return; }
    var mine = ++seq;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", box.getAttribute("data-url") + "?text=" + encodeURIComponent(text.slice(0, 2000)));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (mine !== seq || xhr.status !== 200) return;
      try { render(JSON.parse(xhr.responseText).items || []); } catch (err) { /* keep what is shown */ }
    };
    xhr.send();
  }

  function later() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(lookup, 400);
  }
  content.addEventListener("input", later);
  if (title) title.addEventListener("input", later);
}());
