/* 有需必应 · the WeCom client's own abilities on the H5 pages (loaded after the JS-SDK, only there).
   The page asks for the JS-SDK signatures of its own address, configures wx.config and
   wx.agentConfig, and offers 附上当前位置 beside the photo inputs. Without the SDK, a signature or
   permission, nothing changes: the plain file inputs (with capture) still take the photos. */
(function () {
  "use strict";
  var box = document.querySelector("[data-native-media][data-jsapi]");
  var wx = window.wx;
  if (!box || !wx || !wx.config) return;
  var button = document.querySelector("[data-locate]");
  var field = document.querySelector("[data-location-field]");
  var label = document.querySelector("[data-location-label]");
  if (!button || !field) return;
  var say = function (text) { if (label) label.textContent = text; };

  var request = new XMLHttpRequest();
  request.open("GET", box.getAttribute("data-jsapi") + "?url=" + encodeURIComponent(window.location.href.split("#")[0]));
  request.setRequestHeader("Accept", "application/json");
  request.onload = function () {
    if (request.status !== 200) return;
    var c;
    try { c = JSON.parse(request.responseText); } catch (e) { return; }
    var apis = ["getLocation"];
    wx.config({ beta: true, debug: false, appId: c.corpid, timestamp: c.timestamp, nonceStr: c.nonceStr,
                signature: c.signature, jsApiList: apis });
    wx.ready(function () {
      var show = function () { button.hidden = false; };
      if (!wx.agentConfig) { show(); return; }
      wx.agentConfig({ corpid: c.corpid, agentid: c.agentid, timestamp: c.timestamp, nonceStr: c.nonceStr,
                       signature: c.agentSignature, jsApiList: apis, success: show,
                       fail: function () { say(""); } });
    });
  };
  request.send();

  button.addEventListener("click", function () {
    say("正在定位…");
    wx.getLocation({
      type: "gcj02",
      success: function (res) {
        field.value = Number(res.latitude).toFixed(6) + "," + Number(res.longitude).toFixed(6);
        say("已附上位置：" + field.value);
      },
      fail: function () { field.value = ""; say("定位失败，可以不附位置直接上传"); },
    });
  });
})();
