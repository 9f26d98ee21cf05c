"""How long a signed-in browser stays signed in, and how every session of a person is ended.

A session is the signed cookie the web layer keeps; this module only decides what it holds and
whether it still counts, so the console and the H5 pages (/m/) follow the same rules:

* it names the person and the person's ``session_version`` at sign-in. Logging out, a new
  password, deactivation and a changed platform binding bump the version, which ends every
  session of that person at once, including a cookie copied before the logout;
* it lapses after ``idle`` without a request (``SESSION_IDLE_MINUTES``) and ``ABSOLUTE_LIFETIME``
  after sign-in however busy it was.

A cookie that fails any check is cleared by the caller; the person signs in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import Person

ABSOLUTE_LIFETIME = timedelta(hours=12)
# The last-seen stamp is rewritten at most this often, so most responses send no new cookie.
TOUCH_EVERY = timedelta(minutes=1)

PERSON = "person_id"
VERSION = "session_version"
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
KEYS = (PERSON, VERSION, SIGNED_IN_AT, SEEN_AT)

VALID = "valid"
EXPIRED = "expired"  # idle too long or past the absolute lifetime
REVOKED = "revoked"  # signed out elsewhere, password changed, deactivated, or a malformed cookie


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta = ABSOLUTE_LIFETIME


def new_session(person: Person, now: datetime) -> dict[str, int]:
    """What a fresh session holds for ``person`` signing in at ``now``."""
    stamp = int(now.timestamp())
    return {PERSON: person.id, VERSION: person.session_version or 0, SIGNED_IN_AT: stamp, SEEN_AT: stamp}


def verdict(data: Mapping[str, object], person: Person | None, now: datetime, policy: SessionPolicy) -> str:
    """VALID, EXPIRED or REVOKED for the session ``data`` of ``person`` (None: gone) at ``now``."""
    if person is None or not person.active:
        return REVOKED
    try:
        version = int(data[VERSION])  # type: ignore[call-overload]
        signed_in_at = int(data[SIGNED_IN_AT])  # type: ignore[call-overload]
        seen_at = int(data[SEEN_AT])  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        return REVOKED  # a cookie from before these rules, or not ours
    if version != (person.session_version or 0):
        return REVOKED
    moment = now.timestamp()
    if moment - signed_in_at >= policy.absolute.total_seconds() or moment - seen_at >= policy.idle.total_seconds():
        return EXPIRED
    return VALID


def touched(data: Mapping[str, object], now: datetime) -> int | None:
    """The new last-seen stamp when this request should refresh it, else None."""
    stamp = int(now.timestamp())
    try:
        seen_at = int(data[SEEN_AT])  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        return stamp
    return stamp if stamp - seen_at >= TOUCH_EVERY.total_seconds() else None


def revoke_all(person: Person) -> None:
    """End every session of ``person``: each names the old version from now on."""
    person.session_version = (person.session_version or 0) + 1
