"""Bearer tokens for the JSON API (/api/v1).

A token is shown once, when issued; only its SHA-256 is stored, so a leaked database does not
leak usable tokens. Tokens act as the person they were issued to, with that person's role and
data scope, and stop working the moment the token is revoked or the person deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken, Person
from services.errors import NotFound, PermissionDenied, ValidationFailed

TOKEN_PREFIX = "yxb_"
NAME_MAX = 64
# Writing last_used_at on every call would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)


class Unauthenticated(PermissionDenied):
    """No usable credentials: HTTP 401 rather than 403 (the caller is unknown, not forbidden)."""

    code = "unauthenticated"
    http_status = 401


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_token(session: Session, person: Person, name: str, now: datetime) -> str:
    """Create a token for ``person`` and return its plaintext (the only time it is available)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("请填写令牌名称（用于识别调用方，如“区数据平台”）", fields={"name": "必填"})
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"令牌名称不能超过 {NAME_MAX} 个字", fields={"name": f"最多 {NAME_MAX} 字"})
    if not person.active:
        raise ValidationFailed(f"{person.name} 的账号已停用，不能签发访问令牌")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(person_id=person.id, name=name, token_hash=hash_token(plaintext), created_at=now))
    session.flush()
    return plaintext


def authenticate(session: Session, plaintext: str | None, now: datetime) -> Person:
    """The active person behind a valid, unrevoked token; ``Unauthenticated`` otherwise."""
    plaintext = (plaintext or "").strip()
    if not plaintext:
        raise Unauthenticated("缺少访问令牌，请在请求头中提供 Authorization: Bearer <令牌>")
    if not plaintext.startswith(TOKEN_PREFIX):
        raise Unauthenticated("访问令牌无效")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))
    if token is None:
        raise Unauthenticated("访问令牌无效")
    if token.revoked:
        raise Unauthenticated("访问令牌已被吊销，请联系系统管理员重新签发")
    person = token.person
    if person is None or not person.active:
        raise Unauthenticated("令牌所属账号已停用")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.flush()
    return person


def revoke_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"未找到访问令牌 {token_id}")
    token.revoked = True
    session.flush()
    return token


def tokens_of(session: Session, person: Person) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.person_id == person.id).order_by(ApiToken.id)))
