"""Console sign-in with a username and password, throttled without locking anyone out.

Wrong passwords are counted per typed username *and* client address: a few are free (typos),
then each one refuses that pair for longer (1, 2, 4, 8, then 15 minutes). Someone guessing from
one address therefore slows down only themselves; the real person signing in from their own
address is not affected. A second counter per address, over every username, slows down one
address trying many usernames.

Nothing here tells whether a username exists: counters are keyed by what was typed, an unknown
username costs the same password hash as a known one, and the throttled answer is the same text
for both.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models import ConsoleLogin, Person, SignInThrottle
from services import audit

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "用户名或密码错误"
FIRST_DELAY = timedelta(minutes=1)
LONGEST_DELAY = timedelta(minutes=15)
THROTTLED_ACTION = "login.throttled"
# Compared against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


@dataclass(frozen=True)
class Scope:
    name: str
    free: int  # failures in a row before the first delay
    forget_after: timedelta  # a counter without a failure for this long starts again from zero


ACCOUNT = Scope("account", free=4, forget_after=timedelta(hours=24))
# Many people may share one address (an office behind NAT): a wider allowance and a short memory.
ADDRESS = Scope("address", free=30, forget_after=timedelta(hours=1))
ANY_ACCOUNT = ""  # the ``account`` of the per-address counter
# After this long without a failure no counter remembers anything (housekeeping deletes the row).
LONGEST_MEMORY = max(ACCOUNT.forget_after, ADDRESS.forget_after)


@dataclass(frozen=True)
class SignInResult:
    person: Person | None
    error: str | None = None


def delay_after(failures: int, scope: Scope) -> timedelta:
    """How long the ``failures``-th failure in a row refuses further tries."""
    if failures <= scope.free:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - scope.free - 1, 16), LONGEST_DELAY)


def throttled_message(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    when = f"{math.ceil(seconds / 60)} 分钟" if seconds >= 60 else f"{seconds} 秒"
    return f"登录失败次数过多，请 {when}后再试"


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def authenticate(session: Session, username: str, password: str, *, address: str, now: datetime) -> SignInResult:
    """The person whose console login this is, or why not. Failures are counted in ``session``."""
    address = (address or "unknown")[:64]
    account = account_key(username)
    wait = _waiting(session, [(account, address), (ANY_ACCOUNT, address)], now)
    if wait:
        return SignInResult(None, throttled_message(wait))

    login = session.scalar(select(ConsoleLogin).where(ConsoleLogin.username == username)) if username else None
    if login is None:
        check_password_hash(_DUMMY_HASH, password)
        valid = False
    else:
        valid = check_password_hash(login.password_hash, password) and login.person.active
    if not valid:
        wait = max(
            _count_failure(session, account, address, ACCOUNT, now, login),
            _count_failure(session, ANY_ACCOUNT, address, ADDRESS, now, None),
        )
        return SignInResult(None, f"{BAD_CREDENTIALS}。{throttled_message(wait)}" if wait else BAD_CREDENTIALS)

    session.execute(delete(SignInThrottle).where(SignInThrottle.account == account, SignInThrottle.address == address))
    login.last_login_at = now
    return SignInResult(login.person)


def forget_failures(session: Session, username: str) -> None:
    """Lift every throttle on ``username`` (all addresses): its password was just reset."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.account == account_key(username)))


def _waiting(session: Session, keys: list[tuple[str, str]], now: datetime) -> timedelta:
    longest = timedelta(0)
    for account, address in keys:
        row = session.get(SignInThrottle, (account, address))
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            longest = max(longest, row.blocked_until - now)
    return longest


def _count_failure(session: Session, account: str, address: str, scope: Scope, now: datetime,
                   login: ConsoleLogin | None) -> timedelta:
    """One more failure on the counter (one atomic upsert); the delay it now imposes."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stale = SignInThrottle.last_failure_at < now - scope.forget_after
    failures = session.execute(
        insert(SignInThrottle)
        .values(account=account, address=address, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[SignInThrottle.account, SignInThrottle.address],
            set_={"failures": case((stale, 1), else_=SignInThrottle.failures + 1), "last_failure_at": now},
        )
        .returning(SignInThrottle.failures)
    ).scalar_one()
    delay = delay_after(failures, scope)
    if not delay:
        return delay
    session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.account == account, SignInThrottle.address == address)
        .values(blocked_until=now + delay)
        .execution_options(synchronize_session=False)
    )
    log.warning("sign-in throttled: %s scope, address %s, %d failures, %s", scope.name, address, failures, delay)
    person = login.person if login is not None else None
    audit.record(session, None, "login.throttled", "person", person.id if person else None,
                 {"scope": scope.name, "failures": failures, "wait_seconds": int(delay.total_seconds())}, address, now)
    return delay
