"""The platform's own abilities (location) inside the WeCom and DingTalk clients: the JS bridge's
configuration.

``static/mobile-native.js`` asks for the signature of the page it runs on — WeCom: ``wx.config``
with the corp's jsapi_ticket and ``wx.agentConfig`` with the app's; DingTalk: ``dd.config`` with the
app's jsapi_ticket — and then offers 附上当前位置 beside the photo inputs. Only a session signed in
through that platform gets them, only for this site's own ``/m/`` pages; the tickets are fetched
once and shared by every process through the token store.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app, jsonify, request, session

from handlers.context import now, settings
from handlers.errors import render_error
from handlers.mobile import bp
from handlers.mobile.auth import DINGTALK, SESSION_PLATFORM, WECOM, mobile_login_required

log = logging.getLogger(__name__)
MAX_URL = 1024
PLATFORM_NAMES = {WECOM: "企业微信", DINGTALK: "钉钉"}


def native_platform(s) -> str:
    """The platform whose JS bridge this session's pages may use: the one it signed in through, when
    that platform is switched on (and, for DingTalk, its corp id is known); else ""."""
    platform = session.get(SESSION_PLATFORM)
    if platform == WECOM and s.wecom.enabled:
        return WECOM
    if platform == DINGTALK and s.dingtalk.enabled and s.dingtalk.corp_id:
        return DINGTALK
    return ""


def _signed(platform: str, sign: Callable[[Any, str, int, str], dict[str, Any]]):
    s = settings()
    name = PLATFORM_NAMES[platform]
    if native_platform(s) != platform:
        return render_error(404, "not_available", f"仅在{name}中打开的页面可以使用{name}的定位")
    url = (request.args.get("url") or "").split("#", 1)[0]
    own = s.base_url.rstrip("/") + "/m/"
    if not url or len(url) > MAX_URL or not url.startswith(own):
        return render_error(400, "bad_url", "只能为本系统移动端页面签名")
    try:
        config = sign(current_app._get_current_object(), url, int(now().timestamp()), secrets.token_hex(8))
    except Exception as error:  # the platform or the network: the page keeps its plain file inputs
        log.warning("%s jsapi ticket unavailable: %s: %s", platform, type(error).__name__, error)
        return render_error(503, "unavailable", f"暂时无法使用{name}定位，请稍后再试")
    return jsonify({"ok": True, **config})


def _wecom_config(app, url: str, timestamp: int, nonce: str) -> dict[str, Any]:
    from extensions import wecom_api

    return wecom_api(app).jsapi_config(url, timestamp=timestamp, nonce=nonce)


def _dingtalk_config(app, url: str, timestamp: int, nonce: str) -> dict[str, Any]:
    from extensions import dingtalk_api

    return dingtalk_api(app).jsapi_config(url, timestamp=timestamp, nonce=nonce)


@bp.get("/jsapi/wecom")
@mobile_login_required
def wecom_jsapi():
    return _signed(WECOM, _wecom_config)


@bp.get("/jsapi/dingtalk")
@mobile_login_required
def dingtalk_jsapi():
    return _signed(DINGTALK, _dingtalk_config)
