"""Who holds the phone: WeCom OAuth, DingTalk 免登, or the console's own session.

A page opened without a session starts the sign-in of the workbench it is open in (told by the
User-Agent): WeCom redirects through its OAuth page and back to ``/m/auth/wecom/callback``;
DingTalk gets a small page whose script asks the client for a 免登 code and posts it to
``/m/auth/dingtalk``. An ordinary browser may use a console session, or is told to open the page
from the workbench. A platform user id bound to no active person creates nothing (see
``services.admin.mobile_auth``).
"""

from __future__ import annotations

import functools
import logging

from flask import current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from handlers.console.auth import NotSignedIn
from handlers.context import current_person, db, now, settings, start_session
from handlers.errors import http_message, wants_json
from handlers.mobile import bp
from handlers.redirects import allow_external_redirect, safe_next
from services.admin import mobile_auth, sessions
from services.admin.mobile_auth import DINGTALK, PLATFORM_LABELS, WECOM
from services.errors import DomainError, NotFound, ValidationFailed

log = logging.getLogger("youxubiying.mobile")

SESSION_NONCES = "m_oauth_nonces"
SESSION_PLATFORM = "platform"
SESSION_UNREGISTERED = "m_unregistered"


class CodeRejected(DomainError):
    code = "auth_code_rejected"
    http_status = 400


class PlatformUnavailable(DomainError):
    code = "platform_unavailable"
    http_status = 502


def signed_in_channel() -> str:
    """The work-order channel of this session: the platform the person signed in through, or the
    mobile pages themselves for a console session opened on a phone (not 网页工作台)."""
    platform = session.get(SESSION_PLATFORM)
    return platform if platform in PLATFORM_LABELS else "mobile"


def _home() -> str:
    return url_for("mobile.home")


def mobile_login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_person() is not None:
            return view(*args, **kwargs)
        if request.method != "GET" or wants_json():
            raise NotSignedIn("登录已失效，请从工作台重新打开页面")
        return sign_in_page(request.full_path.rstrip("?"))

    return wrapper


def sign_in_page(next_url: str):
    """Start the sign-in of the workbench the page is open in, or explain where to open it."""
    next_url = safe_next(next_url, _home())
    s = settings()
    platform = mobile_auth.platform_from_user_agent(request.headers.get("User-Agent"))
    if platform == WECOM and s.wecom.enabled:
        return _start_wecom(next_url)
    if platform == DINGTALK and s.dingtalk.enabled:
        if not s.dingtalk.corp_id:
            log.warning("DINGTALK_CORP_ID is not set: the DingTalk client will refuse requestAuthCode")
        return render_template(
            "mobile/dingtalk_login.html", next=next_url, corp_id=s.dingtalk.corp_id, client_id=s.dingtalk.app_key,
            jsapi_url=s.dingtalk.jsapi_url, title="钉钉登录",
        )
    return render_template("mobile/open_in_app.html", login_url=url_for("console.login", next=next_url),
                           platform=platform, title="请在工作台中打开")


def _start_wecom(next_url: str):
    s = settings()
    nonce = mobile_auth.new_nonce()
    session[SESSION_NONCES] = mobile_auth.remember_nonce(session.get(SESSION_NONCES), nonce)
    state = mobile_auth.make_state(current_app.secret_key, nonce)
    redirect_uri = s.base_url + url_for("mobile.wecom_callback", next=next_url)
    allow_external_redirect()
    return redirect(mobile_auth.wecom_authorize_url(s.wecom.corp_id, s.wecom.agent_id, redirect_uri, state))


def _exchange_code(platform: str, code: str) -> str:
    """The platform user id behind a one-time code; the integration calls the platform."""
    app = current_app._get_current_object()
    label = PLATFORM_LABELS[platform]
    rejected = f"{label}身份校验未通过（登录码无效、已使用或已过期，或不是本单位账号），请从工作台重新打开页面"
    try:
        if platform == WECOM:
            from extensions import wecom_api

            userid = wecom_api(app).user_id_from_code(code)
        else:
            from extensions import dingtalk_api

            userid = dingtalk_api(app).user_id_from_code(code)
    except DomainError:
        raise
    except Exception as error:  # the platform's answer or the network: never shown to the person
        log.warning("%s code exchange failed: %s: %s", platform, type(error).__name__, error)
        # Both integrations raise errors with ``errcode`` None when the platform could not be reached.
        if getattr(error, "errcode", 0) is None:
            raise PlatformUnavailable(f"暂时无法连接{label}，请稍后重新打开页面") from None
        raise CodeRejected(rejected) from None
    userid = (userid or "").strip()
    if not userid:  # WeCom: an invalid code, or a visitor from outside the corp (an openid only)
        raise CodeRejected(rejected)
    return userid


def _sign_in(platform: str, userid: str) -> bool:
    """Sign in the person bound to ``userid``; otherwise leave an access request. True when signed in."""
    person = mobile_auth.person_for(db(), platform, userid)
    if person is None:
        mobile_auth.note_access_request(
            db(), platform, userid, ip=request.remote_addr or "", user_agent=request.headers.get("User-Agent", ""),
            now=now(),
        )
        for key in sessions.KEYS:
            session.pop(key, None)
        session[SESSION_UNREGISTERED] = {"platform": platform, "userid": userid[:64]}
        g.pop("person", None)
        log.info("unregistered %s user %s asked for the mobile pages", platform, userid)
        return False
    start_session(person)
    session[SESSION_PLATFORM] = platform
    return True


@bp.get("/auth/wecom/callback")
def wecom_callback():
    if not settings().wecom.enabled:
        raise NotFound("未启用企业微信登录")
    next_url = safe_next(request.args.get("next"), _home())
    pending = session.get(SESSION_NONCES) or []
    nonce = mobile_auth.check_state(current_app.secret_key, request.args.get("state"), pending)
    session[SESSION_NONCES] = [n for n in pending if n != nonce]  # each state works once
    code = (request.args.get("code") or "").strip()
    if not code:
        raise CodeRejected("企业微信未返回登录码，请从工作台重新打开页面")
    if not _sign_in(WECOM, _exchange_code(WECOM, code)):
        return redirect(url_for("mobile.unregistered"))
    return redirect(next_url)


@bp.post("/auth/dingtalk")
def dingtalk_sign_in():
    """免登: the page's script posts the client's auth code here (JSON, CSRF header)."""
    if not settings().dingtalk.enabled:
        raise NotFound("未启用钉钉登录")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求格式有误", fields={"code": "必填"})
    code = str(body.get("code") or "").strip()
    if not code or len(code) > 256:
        raise ValidationFailed("缺少钉钉免登授权码", fields={"code": "必填"})
    next_url = safe_next(str(body.get("next") or ""), _home())
    if not _sign_in(DINGTALK, _exchange_code(DINGTALK, code)):
        # The exchange itself worked: 200 so the access request is kept; the page says the rest.
        return jsonify({"ok": True, "signed_in": False, "redirect": url_for("mobile.unregistered")})
    return jsonify({"ok": True, "signed_in": True, "redirect": next_url})


@bp.get("/auth/unregistered")
def unregistered():
    info = session.get(SESSION_UNREGISTERED) or {}
    return render_template(
        "mobile/unregistered.html", message=mobile_auth.NOT_REGISTERED_MESSAGE,
        platform_label=PLATFORM_LABELS.get(info.get("platform"), ""), userid=info.get("userid", ""),
        title="账号尚未登记",
    )


# --------------------------------------------------------------------------------------------
# Errors and headers of the mobile pages
# --------------------------------------------------------------------------------------------
def _error_page(status: int, code: str, message: str):
    if wants_json() or request.is_json:
        return jsonify({"ok": False, "error": {"code": code, "message": message, "fields": {}}}), status
    return render_template("mobile/error.html", status=status, message=message, title="无法完成"), status


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    if wants_json() or request.is_json:
        return jsonify({"ok": False, "error": error.to_dict()}), error.http_status
    return _error_page(error.http_status, error.code, error.message)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    log.warning("csrf rejected path=%s reason=%s", request.path, error.description)
    return _error_page(400, "csrf_failed", "页面已过期，请返回后刷新页面再操作")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    # Code-specific app handlers (413 with its limit) take precedence over this one.
    status = error.code or 500
    return _error_page(status, f"http_{status}", http_message(status))


@bp.after_request
def _headers(response):
    # The Content-Security-Policy of these pages is handlers.security_headers.h5_policy.
    if response.mimetype in ("text/html", "application/json"):
        # In-app browsers cache hard; personal pages must never be shown from a cache.
        response.headers["Cache-Control"] = "private, no-store"
    return response
