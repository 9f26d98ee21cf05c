"""The rules of a signed-in session and of sign-in throttling, without a clock or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import Person
from services.admin import sessions, sign_in
from services.admin.sessions import EXPIRED, REVOKED, VALID, SessionPolicy

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(hours=2))


def person(version: int = 0, active: bool = True) -> Person:
    return Person(id=7, name="王服务", role="service_staff", active=active, session_version=version)


def test_a_fresh_session_is_valid_until_idle_or_twelve_hours():
    data = sessions.new_session(person(), T0)
    assert sessions.verdict(data, person(), T0 + timedelta(hours=1, minutes=59), POLICY) == VALID
    assert sessions.verdict(data, person(), T0 + timedelta(hours=2), POLICY) == EXPIRED
    busy = {**data, sessions.SEEN_AT: int((T0 + timedelta(hours=11, minutes=59)).timestamp())}
    assert sessions.verdict(busy, person(), T0 + timedelta(hours=11, minutes=59), POLICY) == VALID
    assert sessions.verdict(busy, person(), T0 + timedelta(hours=12), POLICY) == EXPIRED


def test_a_bumped_version_a_stopped_person_or_an_old_cookie_revokes():
    data = sessions.new_session(person(), T0)
    assert sessions.verdict(data, person(version=1), T0, POLICY) == REVOKED
    assert sessions.verdict(data, person(active=False), T0, POLICY) == REVOKED
    assert sessions.verdict(data, None, T0, POLICY) == REVOKED
    assert sessions.verdict({sessions.PERSON: 7}, person(), T0, POLICY) == REVOKED  # before these rules
    assert sessions.verdict({**data, sessions.VERSION: "x"}, person(), T0, POLICY) == REVOKED


def test_revoke_all_moves_the_version_on():
    someone = person(version=3)
    sessions.revoke_all(someone)
    assert someone.session_version == 4


def test_last_seen_is_rewritten_at_most_once_a_minute():
    data = sessions.new_session(person(), T0)
    assert sessions.touched(data, T0 + timedelta(seconds=59)) is None
    assert sessions.touched(data, T0 + timedelta(seconds=60)) == int(T0.timestamp()) + 60


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(1, 0), (4, 0), (5, 1), (6, 2), (7, 4), (8, 8), (9, 15), (40, 15)],
)
def test_account_delays_grow_after_four_free_failures(failures, minutes):
    assert sign_in.delay_after(failures, sign_in.ACCOUNT) == timedelta(minutes=minutes)


def test_an_address_gets_a_wider_allowance_over_all_usernames():
    assert sign_in.delay_after(30, sign_in.ADDRESS) == timedelta(0)
    assert sign_in.delay_after(31, sign_in.ADDRESS) == timedelta(minutes=1)


def test_the_throttled_message_rounds_up_and_names_no_account():
    assert sign_in.throttled_message(timedelta(seconds=30)) == "登录失败次数过多，请 30 秒后再试"
    assert sign_in.throttled_message(timedelta(seconds=61)) == "登录失败次数过多，请 2 分钟后再试"
    assert sign_in.throttled_message(timedelta(minutes=15)) == "登录失败次数过多，请 15 分钟后再试"
    assert sign_in.account_key(" Staff ") == sign_in.account_key("staff")
