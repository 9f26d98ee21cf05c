/* 有需必应 · the WeCom or DingTalk client's own abilities on the H5 pages (loaded after the
   platform's script, only inside that client). The page asks for the signature of its own address
   (/m/jsapi/wecom or /m/jsapi/dingtalk), configures the bridge (WeCom: wx.config and
   wx.agentConfig; DingTalk: dd.config) and offers 附上当前位置 beside the photo inputs. Without the
   script, a signature or permission, nothing changes: the plain file inputs (with capture) still
   take the photos — in both clients the camera is that file input. (DingTalk's
   dd.biz.util.chooseImage answers with URLs of pictures on DingTalk's side, not files the form could
   upload, so it is not used.) */
(function () {
  "use strict";
  var box = document.querySelector("[data-native-media][data-jsapi]");
  var button = document.querySelector("[data-locate]");
  var field = document.querySelector("[data-location-field]");
  var label = document.querySelector("[data-location-label]");
  if (!box || !button || !field) return;
  var say = function (text) { if (label) label.textContent = text; };
  var show = function () { button.hidden = false; };
  var located = function (latitude, longitude) {
    field.value = Number(latitude).toFixed(6) + "," + Number(longitude).toFixed(6);
    say("已附上位置：" + field.value);
  };
  var failed = function () { field.value = ""; say("定位失败，可以不附位置直接上传"); };

  // One bridge per platform: configure(c) with the server's signature, then locate() on a tap.
  var bridges = {
    wecom: function () {
      var wx = window.wx;
      if (!wx || !wx.config) return null;
      var apis = ["getLocation"];
      return {
        configure: function (c) {
          wx.config({ beta: true, debug: false, appId: c.corpid, timestamp: c.timestamp, nonceStr: c.nonceStr,
                      signature: c.signature, jsApiList: apis });
          wx.ready(function () {
            if (!wx.agentConfig) { show(); return; }
            wx.agentConfig({ corpid: c.corpid, agentid: c.agentid, timestamp: c.timestamp, nonceStr: c.nonceStr,
                             signature: c.agentSignature, jsApiList: apis, success: show,
                             fail: function () { say(""); } });
          });
        },
        locate: function () {
          wx.getLocation({ type: "gcj02", success: function (res) { located(res.latitude, res.longitude); },
                           fail: failed });
        },
      };
    },
    dingtalk: function () {
      var dd = window.dd;
      if (!dd || !dd.config || !dd.device || !dd.device.geolocation) return null;
      return {
        configure: function (c) {
          dd.config({ agentId: c.agentId, corpId: c.corpId, timeStamp: c.timeStamp, nonceStr: c.nonceStr,
                      signature: c.signature, type: 0, jsApiList: ["device.geolocation.get"] });
          if (dd.error) dd.error(function () { button.hidden = true; say(""); });
          if (dd.ready) { dd.ready(show); } else { show(); }
        },
        locate: function () {
          dd.device.geolocation.get({
            targetAccuracy: 200, coordinate: 1, withReGeocode: false, useCache: true,
            onSuccess: function (res) { located(res.latitude, res.longitude); }, onFail: failed,
          });
        },
      };
    },
  };
  var make = bridges[box.getAttribute("data-platform") || "wecom"];
  var bridge = make ? make() : null;
  if (!bridge) return;

  var request = new XMLHttpRequest();
  request.open("GET", box.getAttribute("data-jsapi") + "?url=" + encodeURIComponent(window.location.href.split("#")[0]));
  request.setRequestHeader("Accept", "application/json");
  request.onload = function () {
    if (request.status !== 200) return;
    var c;
    try { c = JSON.parse(request.responseText); } catch (e) { return; }
    bridge.configure(c);
  };
  request.send();

  button.addEventListener("click", function () {
    say("正在定位…");
    bridge.locate();
  });
})();
