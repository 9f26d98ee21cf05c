"""Sign-in for the H5 pages inside WeCom and DingTalk: platform user id → person, never more.

The pages learn who is holding the phone from the platform (WeCom OAuth ``snsapi_base``,
DingTalk 免登 ``requestAuthCode``); the integrations turn the one-time code into a platform user
id. This module maps that id to an *active* person already bound by an administrator. An id that
matches nobody creates nothing: it leaves an audit row so an administrator can check it and bind
the person (人员管理), and the page tells the holder whom to ask.

The OAuth ``state`` is signed and carries a nonce the browser's session must hold too, so a code
obtained by someone else cannot sign a victim in (login CSRF) and a stale link cannot be replayed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditLog, Person
from services import audit
from services.errors import DomainError

WECOM = "wecom"
DINGTALK = "dingtalk"
PLATFORM_LABELS = {WECOM: "企业微信", DINGTALK: "钉钉"}
WECOM_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
STATE_MAX_AGE_SECONDS = 600  # WeCom codes live 5 minutes; the round trip must fit well inside
MAX_PENDING_NONCES = 5  # a few tabs opened at once each get their own round trip
ACCESS_REQUEST_ACTION = "person.access_request"
# One audit row per unknown id and day is enough for an administrator; retries add nothing.
ACCESS_REQUEST_QUIET = timedelta(hours=24)
NOT_REGISTERED_MESSAGE = "您的账号尚未登记，请联系片区管理员或系统管理员开通"
_STATE_SALT = "mobile-oauth-state"


class InvalidState(DomainError):
    code = "invalid_state"
    http_status = 400


def platform_from_user_agent(user_agent: str | None) -> str | None:
    """Which workbench the page is open in. WeCom's UA also says MicroMessenger: check it first."""
    ua = (user_agent or "").lower()
    if "wxwork" in ua:
        return WECOM
    if "dingtalk" in ua:
        return DINGTALK
    return None


# --------------------------------------------------------------------------------------------
# OAuth state
# --------------------------------------------------------------------------------------------
def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def remember_nonce(pending: list[str] | None, nonce: str) -> list[str]:
    """The session's list of outstanding nonces with ``nonce`` added (oldest dropped)."""
    return [*(pending or []), nonce][-MAX_PENDING_NONCES:]


def make_state(secret_key: str, nonce: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_STATE_SALT).dumps(nonce)


def check_state(secret_key: str, state: str | None, pending: list[str] | None, *,
                max_age: int = STATE_MAX_AGE_SECONDS) -> str:
    """The nonce inside a valid, fresh ``state`` that this browser asked for; raise otherwise."""
    if not state:
        raise InvalidState("登录请求缺少校验参数，请从工作台重新打开")
    try:
        nonce = URLSafeTimedSerializer(secret_key, salt=_STATE_SALT).loads(state, max_age=max_age)
    except SignatureExpired:
        raise InvalidState("登录请求已过期，请从工作台重新打开") from None
    except BadSignature:
        raise InvalidState("登录请求来源不可信，请从工作台重新打开") from None
    if not isinstance(nonce, str) or nonce not in (pending or []):
        raise InvalidState("登录请求与当前会话不符，请从工作台重新打开")
    return nonce


def wecom_authorize_url(corp_id: str, agent_id: str, redirect_uri: str, state: str) -> str:
    """WeCom's OAuth page (snsapi_base: silent, user id only); WeCom wants the parameters in this order."""
    params = [("appid", corp_id), ("redirect_uri", redirect_uri), ("response_type", "code"),
              ("scope", "snsapi_base"), ("state", state)]
    if agent_id:
        params.append(("agentid", agent_id))
    return f"{WECOM_AUTHORIZE_URL}?{urlencode(params, quote_via=quote, safe='')}#wechat_redirect"


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------
def _userid_column(platform: str):
    if platform == WECOM:
        return Person.wecom_userid
    if platform == DINGTALK:
        return Person.dingtalk_userid
    raise ValueError(f"unknown platform {platform!r}")


def person_for(session: Session, platform: str, userid: str) -> Person | None:
    """The active person bound to this platform user id, or None."""
    userid = (userid or "").strip()
    if not userid:
        return None
    column = _userid_column(platform)
    return session.scalar(select(Person).where(column == userid, Person.active.is_(True)))


def note_access_request(session: Session, platform: str, userid: str, *, ip: str, user_agent: str,
                        now: datetime) -> AuditLog | None:
    """Leave a trace of an unbound platform user for the administrators (at most once a day per id)."""
    userid = (userid or "").strip()[:64]
    recent = session.scalar(
        select(AuditLog.id).where(
            AuditLog.action == ACCESS_REQUEST_ACTION, AuditLog.target_type == platform,
            AuditLog.target_id == userid, AuditLog.created_at >= now - ACCESS_REQUEST_QUIET,
        ).limit(1)
    )
    if recent is not None:
        return None
    column = _userid_column(platform)
    inactive = session.scalar(select(Person).where(column == userid))
    detail = {
        "platform": platform,
        "platform_label": PLATFORM_LABELS.get(platform, platform),
        "userid": userid,
        "reason": "人员已停用" if inactive is not None else "未绑定任何人员",
        "person_id": inactive.id if inactive is not None else None,
        "user_agent": (user_agent or "")[:200],
        "note": "在工作台打开移动端页面时未能识别身份；核实后请在人员管理中绑定该账号",
    }
    return audit.record(session, None, ACCESS_REQUEST_ACTION, platform, userid, detail, ip, now)
