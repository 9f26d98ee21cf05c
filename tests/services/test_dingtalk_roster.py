"""Roster sync: DingTalk members bound to people by mobile number, through the real API client."""

from __future__ import annotations

from sqlalchemy import select

from integrations.dingtalk import DingTalkApi
from models import AuditLog, Person, Role
from services.grid.dingtalk_roster import apply_contact_event, normalize_mobile, sync_dingtalk_roster


def test_normalize_mobile():
    assert normalize_mobile("+86-139 0000 0001") == "13900000001"
    assert normalize_mobile("8613900000001") == "13900000001"
    assert normalize_mobile("(022) 2639-0000") == "02226390000"
    assert normalize_mobile(None) == ""


def test_sync_binds_by_mobile_and_reports_the_rest(dingtalk_app, dingtalk_emulator, session, factory, now):
    rsj = factory.department("rsj")

    def person(name, phone, role=Role.CHIEF_HELPER, **kw):
        found = factory.person(role, department=rsj, name=name, **kw)
        found.phone = phone  # the factory numbers people 139…; these are 177…
        return found

    alice = person("王帮办", "177-0000-0001")
    bound = person("赵帮办", "17700000002", dingtalk_userid="zhaobb")
    twin1 = person("孙一", "17700000003", Role.DEPT_LEADER)
    person("孙二", "17700000003", Role.DEPT_LEADER)
    elsewhere = person("周帮办", "17700000004", dingtalk_userid="zhou-old")
    gone = person("钱离岗", "17700000005", active=False)
    session.flush()

    dingtalk_emulator.add_user("wangbb", "王帮办", "+86-17700000001", [10, 11])
    dingtalk_emulator.add_user("zhaobb", "赵帮办", "17700000002", 10)
    dingtalk_emulator.add_user("sun", "孙某", "17700000003", 10)
    dingtalk_emulator.add_user("zhou-new", "周帮办", "17700000004", 10)
    dingtalk_emulator.add_user("qian", "钱离岗", "17700000005", 11)
    dingtalk_emulator.add_user("stranger", "陌生人", "13800000000", 11)
    dingtalk_emulator.add_user("nomobile", "无手机号", "", 11)

    api = DingTalkApi(dingtalk_app.extensions["settings"].dingtalk).in_session(session)
    report = sync_dingtalk_roster(session, api, [10, 11], now)

    assert report.seen == 7
    assert report.bound == [("王帮办", "wangbb")]
    assert report.already == 1
    reasons = {userid: reason for userid, _name, reason in report.unmatched}
    assert set(reasons) == {"sun", "zhou-new", "qian", "stranger", "nomobile"}
    assert "多名人员" in reasons["sun"] and "已绑定其他钉钉账号" in reasons["zhou-new"]
    assert "没有手机号为 138****0000" in reasons["stranger"] and "手机号权限" in reasons["nomobile"]
    assert alice.dingtalk_userid == "wangbb" and bound.dingtalk_userid == "zhaobb"
    assert twin1.dingtalk_userid is None and elsewhere.dingtalk_userid == "zhou-old" and gone.dingtalk_userid is None
    [audit] = session.scalars(select(AuditLog).where(AuditLog.action == "person.dingtalk_bound")).all()
    assert audit.target_id == str(alice.id) and audit.detail["userid"] == "wangbb"
    assert "新绑定 1" in report.describe()

    again = sync_dingtalk_roster(session, api, [10, 11], now)
    assert again.bound == [] and again.already == 2


def test_leaving_the_organisation_removes_the_binding(session, factory, now):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="wangbb")
    other = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="libb")
    assert apply_contact_event(session, "user_add_org", {"userId": ["wangbb"]}, now) == 0
    assert apply_contact_event(session, "user_leave_org", {"userId": ["wangbb", "unknown"]}, now) == 1
    assert person.dingtalk_userid is None and person.active and other.dingtalk_userid == "libb"
    assert session.scalar(select(Person).where(Person.dingtalk_userid == "wangbb")) is None
    [audit] = session.scalars(select(AuditLog).where(AuditLog.action == "person.dingtalk_unbound")).all()
    assert audit.detail["reason"] == "钉钉通讯录：成员离职"


def test_roster_and_stream_commands(app, dingtalk_app, dingtalk_emulator, session, session_factory, factory):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="王帮办")
    person.phone = "17700000009"
    session.commit()
    dingtalk_emulator.add_user("wangbb", "王帮办", "17700000009", 30)

    result = dingtalk_app.test_cli_runner().invoke(args=["dingtalk-roster", "30"])
    assert result.exit_code == 0, result.output
    assert "新绑定 1" in result.output
    with session_factory() as s:
        assert s.get(Person, person.id).dingtalk_userid == "wangbb"

    dingtalk_emulator.ip_whitelisted = False
    result = dingtalk_app.test_cli_runner().invoke(args=["dingtalk-roster", "30"])
    assert result.exit_code != 0 and "60020" in result.output

    for command in (["dingtalk-stream"], ["dingtalk-roster", "1"]):
        result = app.test_cli_runner().invoke(args=command)
        assert result.exit_code != 0 and "DINGTALK_APP_KEY" in result.output
