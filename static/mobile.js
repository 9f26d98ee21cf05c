/* 有需必应 · H5 pages (after common.js). ES5 and XMLHttpRequest only: in-app browsers on older phones lag behind.
   Every form works without this file except the DingTalk 免登 page, which needs the client's JSAPI. */
(function () {
  "use strict";

  var each = YXBY.each;

  // Highlight the chosen card of a radio list (for webviews without CSS :has()).
  function syncChoices() {
    each(".m-choice", function (label) {
      var input = label.querySelector("input");
      label.className = "m-choice" + (input && input.checked ? " checked" : "");
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.type === "radio") syncChoices();
  });
  syncChoices();

  // One tap, one submission: slow mobile networks tempt people to tap again.
  each("form[data-once]", function (form) {
    form.addEventListener("submit", function (e) {
      if (form.getAttribute("data-sent")) { e.preventDefault(); return; }
      var button = e.submitter || form.querySelector("button[type=submit]");
      if (button && button.name === "do") return;  // the enterprise search button
      form.setAttribute("data-sent", "1");
      each("button[type=submit]", function (b) {
        b.setAttribute("data-label", b.textContent);
        b.disabled = true;
        if (b === button || !button) b.textContent = "正在提交…";
      }, form);
    });
  });
  // Coming back with the browser's back button must not leave the buttons disabled.
  window.addEventListener("pageshow", function () {
    each("form[data-sent]", function (form) {
      form.removeAttribute("data-sent");
      each("button[disabled]", function (b) {
        b.disabled = false;
        if (b.getAttribute("data-label")) b.textContent = b.getAttribute("data-label");
      }, form);
    });
  });

  // Enterprise picker: search as the person types (the zone's enterprises only, the server decides).
  YXBY.enterprisePicker({
    query: "m-enterprise-query", results: "m-enterprise-results", delay: 300,
    optionClass: "m-choice", emptyClass: "m-empty", emptyText: "没有找到本片区的企业，请换个关键词",
    detail: function (item) { return (item.zone || "未分片区") + " · 服务人员：" + (item.staff || "未分配"); },
    onRender: syncChoices,
  });

  // Thumbnails of the photos picked from the camera or the album.
  each("input[type=file][data-preview]", function (input) {
    input.addEventListener("change", function () {
      var box = document.getElementById(input.getAttribute("data-preview"));
      if (!box) return;
      box.textContent = "";
      each("input[type=file][data-preview]", function (source) {
        Array.prototype.forEach.call(source.files || [], function (file) {
          if (/^image\//.test(file.type) && window.URL && URL.createObjectURL) {
            var img = document.createElement("img");
            img.src = URL.createObjectURL(file);
            img.alt = file.name;
            box.appendChild(img);
          } else {
            var span = document.createElement("span");
            span.textContent = file.name;
            box.appendChild(span);
          }
        });
      });
    });
  });

  // Bring a form that came back with an error into view.
  var failed = document.querySelector(".m-action-error");
  if (failed && failed.scrollIntoView) failed.scrollIntoView({ block: "start" });

  // DingTalk 免登: ask the client for an auth code, post it, follow the answer.
  var dd_box = document.getElementById("dd-login");
  if (dd_box) {
    var status = document.getElementById("dd-status");
    var detail = document.getElementById("dd-detail");
    var retry = document.getElementById("dd-retry");
    var fail = function (title, text) {
      status.textContent = title;
      detail.textContent = text || "";
      retry.hidden = false;
    };
    var post = function (code) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", dd_box.getAttribute("data-post-url"));
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", dd_box.getAttribute("data-csrf"));
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        if (data && data.ok && data.redirect) { window.location.replace(data.redirect); return; }
        fail("登录未成功", data && data.error ? data.error.message : "服务器暂时无法处理，请稍后重试");
      };
      xhr.onerror = function () { fail("网络连接失败", "请检查网络后重试"); };
      xhr.send(JSON.stringify({ code: code, next: dd_box.getAttribute("data-next") }));
    };
    var start = function () {
      retry.hidden = true;
      status.textContent = "正在通过钉钉识别您的身份…";
      var dd = window.dd;
      if (!dd) {
        fail("无法连接钉钉客户端", "请从钉钉工作台打开本页面；如仍不行，请联系管理员检查钉钉 JSAPI 地址。");
        return;
      }
      var corpId = dd_box.getAttribute("data-corp-id");
      var onError = function (err) {
        fail("钉钉未能提供登录授权", (err && (err.errorMessage || err.message)) || "请确认从本单位钉钉工作台打开");
      };
      var run = function () {
        if (typeof dd.requestAuthCode === "function" && !(dd.runtime && dd.runtime.permission)) {
          dd.requestAuthCode({
            corpId: corpId, clientId: dd_box.getAttribute("data-client-id"),
            success: function (res) { post(res.code || res.authCode); }, fail: onError,
          });
        } else {
          dd.runtime.permission.requestAuthCode({
            corpId: corpId, onSuccess: function (res) { post(res.code); }, onFail: onError,
          });
        }
      };
      if (typeof dd.ready === "function") { dd.ready(run); } else { run(); }
      if (typeof dd.error === "function") dd.error(onError);
    };
    retry.addEventListener("click", start);
    start();
  }
})();
