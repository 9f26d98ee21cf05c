"""The platform's own camera and location inside the WeCom client: the JS-SDK's configuration.

``static/mobile-native.js`` asks for the signatures of the page it runs on (``wx.config`` with the
corp's jsapi_ticket, ``wx.agentConfig`` with the app's) and then offers 定位 beside the photo
inputs. Only a session signed in through WeCom gets them, only for this site's own ``/m/`` pages;
the tickets are fetched once and shared by every process through the token store.
"""

from __future__ import annotations

import logging
import secrets

from flask import current_app, jsonify, request, session

from handlers.context import now, settings
from handlers.errors import render_error
from handlers.mobile import bp
from handlers.mobile.auth import SESSION_PLATFORM, WECOM, mobile_login_required

log = logging.getLogger(__name__)
MAX_URL = 1024


@bp.get("/jsapi/wecom")
@mobile_login_required
def wecom_jsapi():
    s = settings()
    if not s.wecom.enabled or session.get(SESSION_PLATFORM) != WECOM:
        return render_error(404, "not_available", "仅在企业微信中打开的页面可以使用企业微信 JS-SDK")
    url = (request.args.get("url") or "").split("#", 1)[0]
    own = s.base_url.rstrip("/") + "/m/"
    if not url or len(url) > MAX_URL or not url.startswith(own):
        return render_error(400, "bad_url", "只能为本系统移动端页面签名")
    from extensions import wecom_api

    try:
        config = wecom_api(current_app._get_current_object()).jsapi_config(
            url, timestamp=int(now().timestamp()), nonce=secrets.token_hex(8))
    except Exception as error:  # the platform or the network: the page keeps its plain file inputs
        log.warning("wecom jsapi ticket unavailable: %s: %s", type(error).__name__, error)
        return render_error(503, "unavailable", "暂时无法使用企业微信定位，请稍后再试")
    return jsonify({"ok": True, **config})
