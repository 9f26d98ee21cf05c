"""Shared helpers for the grid tests: sign-in with real CSRF tokens, a small zone with people."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from models import Role

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "demo-pass-123"):
    with client.session_transaction() as cookie_session:
        cookie_session.clear()  # sign out whoever was signed in
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def page_token(client, path: str = "/grid/") -> str:
    return token_from(client.get(path).get_data(as_text=True))


@pytest.fixture(autouse=True)
def tmp_roots(app, tmp_path, monkeypatch):
    # Stored uploads go to the storage's imports/ (a LocalStorage on tmp_path).
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(tmp_path))
    (tmp_path / "imports").mkdir(exist_ok=True)
    monkeypatch.setitem(app.config, "EXPORT_TMP_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def grid(factory, session):
    """天穆镇 with two staff members and a zone admin; a sysadmin; 北仓镇 with one staff member."""
    tianmu = factory.zone("tianmu")
    beicang = factory.zone("beicang")
    ns = SimpleNamespace(
        tianmu=tianmu, beicang=beicang,
        staff=factory.person(Role.SERVICE_STAFF, zone=tianmu, name="王服务", login="staff"),
        staff2=factory.person(Role.SERVICE_STAFF, zone=tianmu, name="刘服务", login="staff2"),
        zone_admin=factory.person(Role.ZONE_ADMIN, zone=tianmu, name="陈片长", login="zoneadmin"),
        other_staff=factory.person(Role.SERVICE_STAFF, zone=beicang, name="李北仓", login="beicang"),
        admin=factory.person(Role.SYSADMIN, name="周管理", login="admin"),
        dispatcher=factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度",
                                  login="dispatcher"),
    )
    ns.staff.phone, ns.staff2.phone = "13500000001", "13500000002"
    session.commit()
    return ns
