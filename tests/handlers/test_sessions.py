"""Signed-in sessions end when they should: logout and password resets end every copy, idle
sessions lapse, none outlives 12 hours; wrong passwords slow down the guesser, not the person.

Only HTTP in and out, with real cookies and CSRF tokens; the clock is moved with time-machine.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from models import Person, Role

PASSWORD = "demo-pass-123"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_ALERT = re.compile(r'<div class="alert alert-error" role="alert">([^<]*)</div>')
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing

HOME = "郑服务"  # on every page of the signed-in person


@pytest.fixture
def people(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name=HOME, login="staff")
    admin = factory.person(Role.SYSADMIN, name="冯管理", login="admin")
    session.commit()
    return staff, admin


def token(client, path: str = "/login") -> str:
    return _TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str = PASSWORD, address: str = "10.1.2.3", forwarded_for: str = ""):
    environ = {"REMOTE_ADDR": address}
    if forwarded_for:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    csrf = _TOKEN.search(client.get("/login", environ_base=environ).get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                       environ_base=environ)


def signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200 and HOME in response.get_data(as_text=True)


def sign_out(client) -> None:
    assert client.post("/logout", data={"csrf_token": token(client, "/")}).status_code == 302


def alert(response) -> str:
    match = _ALERT.search(response.get_data(as_text=True))
    return match.group(1) if match else ""


# --------------------------------------------------------------------------------------------
# Ending sessions
# --------------------------------------------------------------------------------------------
def test_a_cookie_copied_before_logout_does_not_work_after_it(app, client, people):
    assert sign_in(client, "staff").status_code == 302
    copied = client.get_cookie("session").value
    sign_out(client)

    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert not signed_in(replay)
    assert HOME not in replay.get("/m/").get_data(as_text=True)


def test_logout_ends_the_sessions_on_other_devices_too(app, client, people):
    phone = app.test_client()
    assert sign_in(client, "staff").status_code == 302
    assert sign_in(phone, "staff").status_code == 302
    assert HOME in phone.get("/m/").get_data(as_text=True)  # the H5 pages on the console session
    sign_out(client)
    assert not signed_in(phone)
    assert HOME not in phone.get("/m/").get_data(as_text=True)
    assert sign_in(phone, "staff").status_code == 302 and signed_in(phone)


def test_a_password_reset_ends_the_persons_sessions_but_not_the_admins(app, client, people):
    staff, _ = people
    assert sign_in(client, "staff").status_code == 302
    admin = app.test_client()
    assert sign_in(admin, "admin").status_code == 302
    path = f"/admin/people/{staff.id}"
    response = admin.post(f"{path}/login", data={"csrf_token": token(admin, path), "username": "staff",
                                                "password": "new-pass-456"})
    assert response.status_code == 302
    assert not signed_in(client)
    assert admin.get(path).status_code == 200
    assert sign_in(client, "staff", "new-pass-456").status_code == 302 and signed_in(client)


def test_an_admin_resetting_their_own_password_stays_signed_in_here_only(app, client, people):
    _, admin = people
    other_tab = app.test_client()
    assert sign_in(client, "admin").status_code == 302
    assert sign_in(other_tab, "admin").status_code == 302
    path = f"/admin/people/{admin.id}"
    response = client.post(f"{path}/login", data={"csrf_token": token(client, path), "username": "admin",
                                                 "password": "new-pass-456"})
    assert response.status_code == 302
    assert client.get(path).status_code == 200
    assert other_tab.get(path).status_code == 302


def test_deactivation_ends_the_sessions_for_good(app, client, people, session_factory):
    staff, _ = people
    assert sign_in(client, "staff").status_code == 302
    admin = app.test_client()
    assert sign_in(admin, "admin").status_code == 302
    path = f"/admin/people/{staff.id}"
    assert admin.post(f"{path}/deactivate", data={"csrf_token": token(admin, path)}).status_code == 302
    assert not signed_in(client)
    # Back on duty: the old cookie still does not count.
    with session_factory() as s:
        s.get(Person, staff.id).active = True
        s.commit()
    assert not signed_in(client)


# --------------------------------------------------------------------------------------------
# Idle and absolute lifetime
# --------------------------------------------------------------------------------------------
def test_an_idle_session_expires_after_two_hours(client, people):
    with time_machine.travel(START, tick=False) as clock:
        assert sign_in(client, "staff").status_code == 302
        clock.shift(timedelta(hours=1, minutes=58))
        assert signed_in(client)  # activity keeps it alive …
        clock.shift(timedelta(hours=1, minutes=58))
        assert signed_in(client)
        clock.shift(timedelta(hours=2, minutes=1))
        response = client.get("/orders")  # … two idle hours end it
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert "登录已超时" in client.get(response.headers["Location"]).get_data(as_text=True)
        assert not signed_in(client)


def test_the_idle_timeout_is_configurable(app, client, people, monkeypatch):
    settings = app.extensions["settings"]
    monkeypatch.setitem(app.extensions, "settings", settings.with_overrides({"session_idle_minutes": 30}))
    with time_machine.travel(START, tick=False) as clock:
        assert sign_in(client, "staff").status_code == 302
        clock.shift(timedelta(minutes=29))
        assert signed_in(client)
        clock.shift(timedelta(minutes=31))
        assert not signed_in(client)


def test_no_session_outlives_twelve_hours_however_busy(client, people):
    with time_machine.travel(START, tick=False) as clock:
        assert sign_in(client, "staff").status_code == 302
        for _ in range(11):
            clock.shift(timedelta(hours=1))
            assert signed_in(client)
        clock.shift(timedelta(minutes=59))
        assert signed_in(client)
        clock.shift(timedelta(minutes=1))
        assert not signed_in(client)


def test_the_sandbox_refreshing_itself_does_not_count_as_activity(client, people):
    staff, _ = people
    bubbles = f"/sandbox/messages?c=person:{staff.id}"  # what the open sandbox page polls
    with time_machine.travel(START, tick=False) as clock:
        assert sign_in(client, "admin").status_code == 302
        for minutes in (30, 30, 30, 29):
            clock.shift(timedelta(minutes=minutes))
            assert client.get(bubbles).status_code == 200
        clock.shift(timedelta(minutes=1))  # two hours since the person last did anything
        assert client.get(bubbles).status_code == 302


def test_the_h5_pages_follow_the_same_idle_rule(client, people):
    with time_machine.travel(START, tick=False) as clock:
        assert sign_in(client, "staff").status_code == 302
        assert HOME in client.get("/m/").get_data(as_text=True)
        clock.shift(timedelta(hours=2, minutes=1))
        assert HOME not in client.get("/m/").get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# Wrong passwords
# --------------------------------------------------------------------------------------------
def test_guessing_from_one_address_does_not_lock_out_the_person_at_another(app, client, people):
    attacker = app.test_client()
    for _ in range(8):
        sign_in(attacker, "staff", "guess", address="203.0.113.5")
    # The person signs in from their own address …
    assert sign_in(client, "staff", address="10.1.2.3").status_code == 302 and signed_in(client)
    # … while the guesser's is refused, even with the right password.
    response = sign_in(attacker, "staff", address="203.0.113.5")
    assert response.status_code == 200 and "登录失败次数过多" in alert(response)


def test_behind_the_proxy_the_forwarded_address_is_the_one_counted(app, people):
    from application import create_app

    proxied = create_app(settings=app.extensions["settings"].with_overrides({"trusted_proxies": 1}))
    try:
        attacker, person = proxied.test_client(), proxied.test_client()
        # Both arrive from Nginx on 127.0.0.1; only X-Forwarded-For tells them apart.
        for _ in range(8):
            sign_in(attacker, "staff", "guess", address="127.0.0.1", forwarded_for="203.0.113.5")
        assert sign_in(person, "staff", address="127.0.0.1", forwarded_for="10.1.2.3").status_code == 302
    finally:
        proxied.extensions["db_engine"].dispose()


def test_the_throttled_answer_is_the_same_for_unknown_and_real_usernames(app, people):
    answers = {}
    for username in ("staff", "no-such-user"):
        guesser = app.test_client()
        answers[username] = [alert(sign_in(guesser, username, "guess", address="203.0.113.9")) for _ in range(7)]
        answers[username].append(alert(sign_in(guesser, username, PASSWORD, address="203.0.113.9")))
    assert answers["staff"] == answers["no-such-user"]
    assert answers["staff"][0] == "用户名或密码错误"
    assert "登录失败次数过多" in answers["staff"][-1]


def test_delays_grow_with_each_failure_and_end(app, client, people):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            assert alert(sign_in(client, "staff", "guess")) == "用户名或密码错误"  # typos are free
        assert alert(sign_in(client, "staff", "guess")) == "用户名或密码错误。登录失败次数过多，请 1 分钟后再试"
        clock.shift(timedelta(seconds=30))
        assert alert(sign_in(client, "staff")) == "登录失败次数过多，请 30 秒后再试"
        clock.shift(timedelta(seconds=31))
        assert alert(sign_in(client, "staff", "guess")) == "用户名或密码错误。登录失败次数过多，请 2 分钟后再试"
        clock.shift(timedelta(minutes=2, seconds=1))
        assert alert(sign_in(client, "staff", "guess")).endswith("请 4 分钟后再试")
        clock.shift(timedelta(minutes=4, seconds=1))
        assert sign_in(client, "staff").status_code == 302
        sign_out(client)
        # A success starts the count again.
        assert alert(sign_in(client, "staff", "guess")) == "用户名或密码错误"
