"""Shared set-up for the policy pages: people with sign-in, a small registry, CSRF helpers."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

from models import Role, SystemSetting

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "demo-pass-123"):
    with client.session_transaction() as cookie_session:
        cookie_session.clear()
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def page_token(client, path: str = "/policies/") -> str:
    return token_from(client.get(path).get_data(as_text=True))


def settle(session):
    """End the test's transaction so the app can write (SQLite: one writer at a time)."""
    session.commit()


def fresh(session):
    session.commit()
    session.expire_all()


@pytest.fixture(autouse=True)
def upload_root(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def world(factory, session):
    """工信局 (owner) with a chief helper and a leader; 人社局's helper; two zones with staff; a
    registry of six enterprises with different profiles; no quiet hours (tests run at any hour)."""
    gxj, rsj = factory.department("gxj"), factory.department("rsj")
    tianmu, beicang = factory.zone("tianmu"), factory.zone("beicang")
    ns = SimpleNamespace(gxj=gxj, rsj=rsj, tianmu=tianmu, beicang=beicang)
    ns.helper = factory.person(Role.CHIEF_HELPER, department=gxj, name="工信帮办", login="helper")
    ns.leader = factory.person(Role.DEPT_LEADER, department=gxj, name="工信局长", login="leader")
    ns.other_helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="人社帮办", login="other")
    ns.staff = factory.person(Role.SERVICE_STAFF, zone=tianmu, name="王服务", login="staff")
    ns.staff2 = factory.person(Role.SERVICE_STAFF, zone=beicang, name="李服务", login="staff2")
    ns.zone_admin = factory.person(Role.ZONE_ADMIN, zone=tianmu, name="陈片长", login="zoneadmin")
    ns.bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), name="营商办",
                               login="bizenv")
    ns.admin = factory.person(Role.SYSADMIN, name="周管理", login="admin")
    ns.staff.phone = "13500000001"
    e = factory.enterprise
    ns.precision = e(zone=tianmu, staff=ns.staff, name="天津天穆精密机械有限公司", industry_code="C3484",
                     industry_name="机械零部件加工", size_band="小", chain_position="核心配套", key_industry=True,
                     qualifications=["高新技术企业"], established_on=date(2015, 5, 1),
                     contact_name="张经理", contact_phone="13800001111")
    ns.gears = e(zone=tianmu, staff=ns.staff, name="天津天穆齿轮有限公司", industry_code="C3453", size_band="中",
                 chain_position="链主", key_industry=True, qualifications=["专精特新中小企业"],
                 established_on=date(2008, 3, 1))
    ns.beicang_parts = e(zone=beicang, staff=ns.staff2, name="天津北仓配件有限公司", industry_code="C3670",
                         size_band="小", chain_position="一般配套", key_industry=True, established_on=date(2019, 1, 1))
    ns.orphan = e(zone=beicang, name="天津北仓无人服务机械有限公司", industry_code="C3420", size_band="微",
                  key_industry=True, established_on=date(2022, 6, 1))
    ns.shop = e(zone=tianmu, staff=ns.staff, name="天穆便利店", industry_code="F5212", size_band="微",
                entity_type="individual", established_on=date(2020, 1, 1))
    ns.closed = e(zone=tianmu, staff=ns.staff, name="天津已注销机械有限公司", industry_code="C3484", size_band="小",
                  key_industry=True, status="注销")
    quiet = session.get(SystemSetting, "policy_quiet_hours")
    if quiet is None:
        session.add(SystemSetting(key="policy_quiet_hours", value=""))
    else:
        quiet.value = ""
    session.commit()
    return ns
