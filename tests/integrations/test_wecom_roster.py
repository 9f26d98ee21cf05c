"""Roster sync: bind people to WeCom members by mobile number, never create anyone, follow leavers."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from integrations.wecom import WeComApi
from models import AuditLog, OutboundMessage, Person, Role, WorkOrderEvent
from services.grid.wecom_roster import REASSIGN_NOTE, mask_mobile, normalise_mobile, sync_wecom_roster
from services.kvstore import TokenStore
from services.messaging.notify import Channels
from services.orders import operations as wo
from tests.emulators.fixtures import wecom_settings_for


@pytest.mark.parametrize("raw, expected", [
    ("13900001111", "13900001111"), ("+86 139-0000-1111", "13900001111"), ("008613900001111", "13900001111"),
    ("86 13900001111", "13900001111"), ("022-26391234", ""), ("", ""), (None, ""), ("2390000111", ""),
])
def test_normalise_mobile(raw, expected):
    assert normalise_mobile(raw) == expected


def test_mask_mobile():
    assert mask_mobile("13900001111") == "139****1111"


def with_phone(person, phone):
    person.phone = phone
    return person


@pytest.fixture
def api(wecom_emulator):
    wecom_emulator.add_department(2, "区人社局")
    wecom_emulator.add_department(21, "就业促进科", parent=2)
    wecom_emulator.add_department(3, "区住建委")
    return WeComApi(wecom_settings_for(wecom_emulator), TokenStore())


def test_sync_binds_by_mobile_and_reports_the_rest(session, factory, api, wecom_emulator, now):
    rsj = factory.department("rsj")
    sun = with_phone(factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办"), "139 0000 1111")
    li = with_phone(factory.person(Role.CHIEF_HELPER, department=rsj, name="李帮办"), "13900002222")
    zhou = with_phone(factory.person(Role.DEPT_LEADER, department=rsj, name="周领导"), "13900003333")
    twin_a = with_phone(factory.person(Role.SERVICE_STAFF, name="重号甲"), "13900004444")
    twin_b = with_phone(factory.person(Role.SERVICE_STAFF, name="重号乙"), "13900004444")
    bound = with_phone(factory.person(Role.CHIEF_HELPER, department=rsj, name="王已绑", wecom_userid="wang"), "13900005555")
    session.flush()
    wecom_emulator.add_user("sunbb", "孙帮办", "+86 13900001111", [2])
    wecom_emulator.add_user("libb", "李帮办", "13900002222", [21])  # a sub-department
    wecom_emulator.add_user("wang", "王已绑", "13900005555", [2])
    wecom_emulator.add_user("stranger", "陌生人", "13911112222", [2])
    wecom_emulator.add_user("twin", "重号", "13900004444", [2])
    wecom_emulator.add_user("nomobile", "无手机", "", [2])
    wecom_emulator.add_user("zhouzjw", "周领导", "13900003333", [3])  # not in the synced departments

    persons_before = session.scalar(select(func.count()).select_from(Person))
    report = sync_wecom_roster(session, api, [2], now)

    assert (sun.wecom_userid, li.wecom_userid, bound.wecom_userid) == ("sunbb", "libb", "wang")
    assert zhou.wecom_userid is None and twin_a.wecom_userid is None and twin_b.wecom_userid is None
    assert session.scalar(select(func.count()).select_from(Person)) == persons_before  # nobody created
    assert report.members == 6 and report.already_bound == 1
    assert {b[2] for b in report.bound} == {"sunbb", "libb"}
    assert {m[0] for m in report.unknown_members} == {"stranger", "nomobile"}
    assert ("stranger", "陌生人", "139****2222") in report.unknown_members
    assert len(report.conflicts) == 1 and "重号甲" in report.conflicts[0]
    assert (zhou.id, "周领导") in report.unmatched_people
    assert report.deactivated == []
    audit_rows = list(session.scalars(select(AuditLog).where(AuditLog.action == "wecom.binding_created")))
    assert {r.detail["userid"] for r in audit_rows} == {"sunbb", "libb"}
    text = report.describe()
    assert "新绑定 2 人" in text and "stranger" in text and "不会自动创建" in text


def test_sync_deactivates_bindings_of_members_who_left(session, factory, api, wecom_emulator, now):
    staff = factory.person(Role.SERVICE_STAFF, name="赵服务")
    dispatcher = factory.person(Role.DISPATCHER, name="钱调度")
    rsj = factory.department("rsj")
    gone = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙离职", wecom_userid="sun")
    disabled = factory.person(Role.CHIEF_HELPER, department=rsj, name="李停用", wecom_userid="li")
    elsewhere = factory.person(Role.CHIEF_HELPER, department=rsj, name="王调岗", wecom_userid="wang")
    order = factory.order(staff, now, level=2, department_id=rsj.id)
    wo.sign(factory.ctx(gone, now + timedelta(minutes=5)), order)
    wecom_emulator.add_user("li", "李停用", disabled.phone, [2], status=2)
    wecom_emulator.add_user("wang", "王调岗", elsewhere.phone, [3])  # moved outside the synced tree
    session.flush()

    report = sync_wecom_roster(session, api, [2], now, channels=Channels(sandbox=True))
    assert gone.wecom_userid is None and disabled.wecom_userid is None
    assert elsewhere.wecom_userid == "wang"
    assert {d[2] for d in report.deactivated} == {"sun", "li"}
    assert report.flagged_orders == [order.number]
    [note] = session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.note == REASSIGN_NOTE))
    assert note.work_order_id == order.id and note.actor_id is None and note.data["person_id"] == gone.id
    notices = list(session.scalars(select(OutboundMessage).where(
        OutboundMessage.target_ref == str(dispatcher.id), OutboundMessage.kind == "notice")))
    assert len(notices) == 1 and "重新指派" in notices[0].payload["text"]
    assert [c.path for c in wecom_emulator.requests].count("user/get") == 2  # sun (60111) and wang


def test_cli_wecom_sync(wecom_app, session_factory, wecom_emulator):
    from database import session_scope

    with session_scope(session_factory) as session:
        session.add(Person(name="孙帮办", role=Role.CHIEF_HELPER, phone="13900001111"))
    wecom_emulator.add_user("sunbb", "孙帮办", "13900001111", [2])
    result = wecom_app.test_cli_runner().invoke(args=["wecom-sync", "2"])
    assert result.exit_code == 0, result.output
    assert "新绑定 1 人" in result.output and "sunbb" in result.output
    with session_factory() as s:
        assert s.scalar(select(Person.wecom_userid).where(Person.name == "孙帮办")) == "sunbb"
    failed = wecom_app.test_cli_runner().invoke(args=["wecom-sync", "404"])
    assert failed.exit_code != 0 and "60123" in failed.output


def test_cli_wecom_sync_needs_wecom(app):
    result = app.test_cli_runner().invoke(args=["wecom-sync", "2"])
    assert result.exit_code != 0 and "未配置企业微信" in result.output
