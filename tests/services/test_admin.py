"""Administration operations on a real session: validation, effects on the rules, audit rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from models import (
    AuditLog,
    ChatGroup,
    ConsoleLogin,
    DepartmentKind,
    HolidayOverride,
    OutboundMessage,
    OutboxStatus,
    RequestDomain,
    Role,
    ScreeningRule,
    SignInThrottle,
    SlaPolicy,
    SystemSetting,
)
from services.admin import operations as admin
from services.admin import sign_in
from services.errors import Conflict, ValidationFailed
from services.messaging import outbox
from services.orders.deadlines import load_calendar, rule_for
from services.orders.lifecycle import State


@pytest.fixture
def sysadmin(factory):
    return factory.person(Role.SYSADMIN, name="管理员")


@pytest.fixture
def ac(session, sysadmin, now):
    return admin.AdminContext(session=session, actor=sysadmin, now=now, ip="10.0.0.9")


def audit_actions(session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def fields_of(excinfo) -> dict:
    return excinfo.value.fields


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "zone", "department", "field"),
    [
        (Role.SERVICE_STAFF, None, None, "zone_id"),  # zone role without a zone
        (Role.SERVICE_STAFF, "tianmu", "rsj", "department_id"),  # zone role with a department too
        (Role.CHIEF_HELPER, None, None, "department_id"),  # department role without a department
        (Role.CHIEF_HELPER, "tianmu", "rsj", "zone_id"),  # department role with a zone too
        (Role.CHIEF_HELPER, None, "grid_center", "department_id"),  # a hub is not a department
        (Role.DISPATCHER, "tianmu", None, "zone_id"),  # hub roles have no zone
        (Role.DISPATCHER, None, "rsj", "department_id"),  # and belong to a hub, if anything
    ],
)
def test_person_unit_must_match_role(ac, factory, role, zone, department, field):
    data = {"name": "张三", "role": role,
            "zone_id": str(factory.zone(zone).id) if zone else "",
            "department_id": str(factory.department(department).id) if department else ""}
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_person(ac, None, data)
    assert field in fields_of(excinfo)


def test_create_people_of_each_kind(ac, factory, session):
    staff = admin.save_person(ac, None, {"name": "王芳", "role": Role.SERVICE_STAFF,
                                         "zone_id": str(factory.zone("beicang").id), "phone": "13800001111",
                                         "wecom_userid": "wangfang"})
    assert staff.zone.name == "北仓镇" and staff.department is None and staff.active
    helper = admin.save_person(ac, None, {
        "name": "李强", "role": Role.CHIEF_HELPER, "department_id": str(factory.department("rsj").id),
        "stage_ids": [str(factory.stage(code).id) for code in ("startup", "operation")],
        "dingtalk_userid": "liqiang",
    })
    assert sorted(s.name for s in helper.stages) == ["企业开办", "生产经营"]
    dispatcher = admin.save_person(ac, None, {"name": "赵调度", "role": Role.DISPATCHER,
                                              "department_id": str(factory.department("grid_center").id)})
    assert dispatcher.zone_id is None
    assert audit_actions(session).count("person.create") == 3


def test_stages_only_for_chief_helpers(ac, factory):
    leader = admin.save_person(ac, None, {
        "name": "钱领导", "role": Role.DEPT_LEADER, "department_id": str(factory.department("rsj").id),
        "stage_ids": [str(factory.stage("startup").id)],
    })
    assert leader.stages == []


def test_platform_userids_are_unique(ac, factory):
    factory.person(Role.SERVICE_STAFF, dingtalk_userid="ding-1", wecom_userid="wx-1")
    data = {"name": "孙", "role": Role.SERVICE_STAFF, "zone_id": str(factory.zone().id),
            "dingtalk_userid": "ding-1", "wecom_userid": "wx-1"}
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_person(ac, None, data)
    assert {"dingtalk_userid", "wecom_userid"} <= set(fields_of(excinfo))


def test_edit_keeps_own_userid_and_records_changes(ac, factory, session):
    person = factory.person(Role.SERVICE_STAFF, dingtalk_userid="ding-7")
    admin.save_person(ac, person.id, {"name": person.name, "role": Role.ZONE_ADMIN, "zone_id": str(person.zone_id),
                                      "dingtalk_userid": "ding-7", "active": "1"})
    assert person.role == Role.ZONE_ADMIN
    row = session.scalars(select(AuditLog).where(AuditLog.action == "person.update")).one()
    assert row.detail["changes"]["role"] == [Role.SERVICE_STAFF, Role.ZONE_ADMIN]
    assert row.ip == "10.0.0.9" and row.actor_id == ac.actor.id


def test_admin_cannot_lock_themselves_out(ac, sysadmin):
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_person(ac, sysadmin.id, {"name": sysadmin.name, "role": Role.DISPATCHER, "active": "1"})
    assert "role" in fields_of(excinfo)
    with pytest.raises(ValidationFailed):
        admin.deactivate_person(ac, sysadmin.id)


def test_deactivate_reports_enterprises_left_without_staff(ac, factory, session):
    staff = factory.person(Role.SERVICE_STAFF)
    factory.enterprise(staff=staff)
    person, enterprises = admin.deactivate_person(ac, staff.id)
    assert not person.active and enterprises == 1
    assert person.session_version == 1  # every session of the person ends with it
    assert "person.deactivate" in audit_actions(session)


def test_login_create_and_reset(ac, factory, session):
    person = factory.person(Role.SERVICE_STAFF)
    with pytest.raises(ValidationFailed) as excinfo:
        admin.set_login(ac, person.id, {"username": "wang", "password": ""})
    assert "password" in fields_of(excinfo)
    with pytest.raises(ValidationFailed) as excinfo:
        admin.set_login(ac, person.id, {"username": "wang", "password": "12345678"})
    assert "password" in fields_of(excinfo)

    login = admin.set_login(ac, person.id, {"username": "wang", "password": "first-pass-1"})
    assert check_password_hash(login.password_hash, "first-pass-1")
    version = person.session_version
    throttled = SignInThrottle(account=sign_in.account_key("wang"), address="203.0.113.5", failures=9,
                               last_failure_at=ac.now, blocked_until=ac.now + timedelta(minutes=15))
    session.add(throttled)
    admin.set_login(ac, person.id, {"username": "wang", "password": "second-pass-2"})
    assert check_password_hash(login.password_hash, "second-pass-2")
    # A reset ends the person's sessions and lifts the throttle on the username from every address.
    assert person.session_version == version + 1
    assert session.scalar(select(func.count()).select_from(SignInThrottle)) == 0
    admin.set_login(ac, person.id, {"username": "wang", "password": ""})  # a rename only: sessions stay
    assert person.session_version == version + 1

    other = factory.person(Role.SERVICE_STAFF)
    with pytest.raises(ValidationFailed) as excinfo:
        admin.set_login(ac, other.id, {"username": "WANG", "password": "third-pass-3"})
    assert "username" in fields_of(excinfo)
    assert session.scalar(select(func.count(ConsoleLogin.id))) == 1
    details = [r.detail for r in session.scalars(select(AuditLog).where(AuditLog.action.like("login.%")))]
    assert all("pass-" not in str(d) for d in details)  # never the password


# --------------------------------------------------------------------------------------------
# Zones, departments, chat groups
# --------------------------------------------------------------------------------------------
def test_zone_edit(ac, factory, session):
    zone = factory.zone("tianmu")
    with pytest.raises(ValidationFailed) as excinfo:
        admin.update_zone(ac, zone.id, {"name": "北仓镇", "sort_order": "1", "active": "1"})
    assert "name" in fields_of(excinfo)
    admin.update_zone(ac, zone.id, {"name": "天穆镇", "sort_order": "30"})
    assert zone.sort_order == 30 and zone.active is False
    assert audit_actions(session) == ["zone.update"]


def test_department_edit_and_unit(ac, factory, session):
    dept = factory.department("rsj")
    admin.update_department(ac, dept.id, {"duty": "就业与社保", "keywords": "招聘，社保 、 招聘\n工资",
                                          "sort_order": "8", "active": "1"})
    assert dept.keywords == "招聘,社保,工资"
    unit = admin.create_unit(ac, dept.id, {"name": "人力资源服务中心", "keywords": "招聘会"})
    assert unit.kind == DepartmentKind.UNIT and unit.parent_id == dept.id and unit.code.startswith("rsj_u")
    with pytest.raises(ValidationFailed):
        admin.create_unit(ac, unit.id, {"name": "孙单位"})  # units have no units
    with pytest.raises(ValidationFailed) as excinfo:
        admin.create_unit(ac, dept.id, {"name": "财政局"})
    assert "name" in fields_of(excinfo)
    nodes, hubs = admin.department_tree(session)
    node = next(n for n in nodes if n.department.id == dept.id)
    assert unit in node.units and all(h.kind == DepartmentKind.HUB for h in hubs)
    assert all(n.department.kind != DepartmentKind.UNIT for n in nodes)


def test_chat_group_secrets_kept_masked_and_not_audited(ac, factory, session):
    dept = factory.department("rsj")
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_chat_group(ac, dept.id, "dingtalk", {"name": "人社局群"})
    assert "robot_key" in fields_of(excinfo)
    group = admin.save_chat_group(ac, dept.id, "dingtalk", {
        "name": "人社局群", "robot_key": "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789",
        "robot_secret": "SECsupersecretvalue", "active": "1"})
    assert group.robot_key == "abcdef0123456789" and group.robot_secret == "SECsupersecretvalue"
    admin.save_chat_group(ac, dept.id, "dingtalk", {"name": "人社局服务群", "robot_key": "", "robot_secret": "",
                                                    "active": "1"})
    assert group.robot_key == "abcdef0123456789" and group.robot_secret == "SECsupersecretvalue"
    assert group.name == "人社局服务群"
    assert admin.mask_secret(group.robot_secret) == "SECs****"
    assert admin.mask_secret("short") == "****" and admin.mask_secret("") == ""
    with pytest.raises(ValidationFailed):
        admin.save_chat_group(ac, dept.id, "dingtalk", {"robot_secret": "not-sec-prefixed"})
    assert session.scalar(select(func.count(ChatGroup.id))) == 1
    details = str([r.detail for r in session.scalars(select(AuditLog))])
    assert "supersecret" not in details and "abcdef0123456789" not in details


# --------------------------------------------------------------------------------------------
# SLA policies
# --------------------------------------------------------------------------------------------
def sla_data(**overrides):
    data = {"sign_workdays": "1", "sign_minutes": "", "handle_workdays": "3", "remind_percents": "50,80",
            "leader_after_workdays": "1", "bizenv_after_workdays": "2", "return_limit_workdays": "1",
            "return_limit_workdays_complex": "2"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sign_workdays": "", "sign_minutes": ""}, "sign_minutes"),
        ({"sign_minutes": "30"}, "sign_minutes"),  # both kinds of sign limit
        ({"handle_workdays": "0"}, "handle_workdays"),
        ({"handle_workdays": ""}, "handle_workdays"),
        ({"handle_workdays": "三"}, "handle_workdays"),
        ({"remind_percents": "0,80"}, "remind_percents"),
        ({"remind_percents": "50,100"}, "remind_percents"),
        ({"remind_percents": "abc"}, "remind_percents"),
        ({"leader_after_workdays": "-1"}, "leader_after_workdays"),
        ({"leader_after_workdays": "3", "bizenv_after_workdays": "2"}, "bizenv_after_workdays"),
        ({"return_limit_workdays": "2", "return_limit_workdays_complex": "1"}, "return_limit_workdays_complex"),
    ],
)
def test_sla_policy_validation(ac, session, overrides, field):
    policy = session.scalars(select(SlaPolicy).where(SlaPolicy.domain_id.is_(None), SlaPolicy.priority == "normal",
                                                     SlaPolicy.level == 1)).one()
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_sla_policy(ac, policy.id, sla_data(**overrides))
    assert field in fields_of(excinfo)
    session.refresh(policy)
    assert policy.handle_workdays == 3


def test_level4_may_follow_the_city(ac, session):
    policy = session.scalars(select(SlaPolicy).where(SlaPolicy.domain_id.is_(None), SlaPolicy.priority == "normal",
                                                     SlaPolicy.level == 4)).one()
    admin.save_sla_policy(ac, policy.id, sla_data(handle_workdays="", remind_percents="30， 60、90"))
    assert policy.handle_workdays is None and policy.remind_percents == [30, 60, 90]


def test_domain_policy_overrides_generic(ac, factory, session, now):
    domain = session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order)).first()
    policy = admin.save_sla_policy(ac, None, sla_data(domain_id=str(domain.id), priority="normal", level="2",
                                                      handle_workdays="7"))
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_sla_policy(ac, None, sla_data(domain_id=str(domain.id), priority="normal", level="2"))
    assert "domain_id" in fields_of(excinfo)
    with pytest.raises(ValidationFailed):  # the generic one exists too (NULL is not caught by the unique key)
        admin.save_sla_policy(ac, None, sla_data(domain_id="", priority="normal", level="2"))

    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now, domain_id=domain.id, level=2, department_id=factory.department("rsj").id,
                          content="企业急需招聘 30 名技术工人，请协助对接招聘会")
    assert rule_for(session, order).handle_workdays == 7
    admin.delete_sla_policy(ac, policy.id)
    assert rule_for(session, order).handle_workdays == 5
    generic = session.scalars(select(SlaPolicy).where(SlaPolicy.domain_id.is_(None))).first()
    with pytest.raises(Conflict):
        admin.delete_sla_policy(ac, generic.id)
    assert audit_actions(session) == ["sla.create", "sla.delete"]


# --------------------------------------------------------------------------------------------
# Holidays
# --------------------------------------------------------------------------------------------
def test_holiday_add_and_delete_change_the_calendar(ac, session):
    day = date(2027, 1, 4)  # a Monday in a year the package does not know yet
    assert load_calendar(session).is_workday(day)
    row = admin.add_holiday(ac, {"day": "2027-01-04", "kind": "off", "note": "元旦调休"})
    assert not load_calendar(session).is_workday(day)
    with pytest.raises(ValidationFailed) as excinfo:
        admin.add_holiday(ac, {"day": "2027-01-04", "kind": "work"})
    assert "day" in fields_of(excinfo)
    saturday = admin.add_holiday(ac, {"day": "2027-01-09", "kind": "work"})
    assert load_calendar(session).is_workday(date(2027, 1, 9))
    admin.delete_holiday(ac, row.id)
    assert load_calendar(session).is_workday(day)
    assert session.scalar(select(func.count(HolidayOverride.id))) == 1 and saturday.is_workday
    assert audit_actions(session) == ["holiday.add", "holiday.add", "holiday.delete"]


@pytest.mark.parametrize("data", [{"day": "2027-13-01", "kind": "off"}, {"day": "", "kind": "off"},
                                  {"day": "2027-01-04", "kind": "maybe"}, {"day": "2040-01-01", "kind": "off"}])
def test_holiday_validation(ac, data):
    with pytest.raises(ValidationFailed):
        admin.add_holiday(ac, data)


def test_calendar_status_flags_unknown_next_year(session, now):
    years = admin.calendar_status(session, now.date())
    assert [(y.year, y.known) for y in years] == [(2026, True), (2027, False)]
    assert admin.builtin_is_workday(date(2026, 10, 1)) is False
    assert admin.builtin_is_workday(date(2027, 10, 1)) is None


# --------------------------------------------------------------------------------------------
# Screening rules
# --------------------------------------------------------------------------------------------
def test_screening_edit_changes_what_intake_flags(ac, factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF)
    text = "我们想了解一下跨境电商刷流量的具体做法，请安排培训"
    assert admin.try_screening(session, text) is None
    first = factory.order(staff, now, content=text)
    assert first.screening_category is None and first.state != State.RECEIVED

    rule = session.scalars(select(ScreeningRule).where(ScreeningRule.category == "unlawful")).first()
    admin.save_screening_rule(ac, rule.id, {"keywords": rule.keywords + "\n刷流量", "reason": rule.reason,
                                            "proper_channel": rule.proper_channel, "active": "1"})
    suggestion = admin.try_screening(session, text)
    assert suggestion is not None and suggestion.category == "unlawful" and "刷流量" in suggestion.matched
    second = factory.order(staff, now, content=text)
    assert second.screening_category == "unlawful" and second.state == State.RECEIVED

    admin.save_screening_rule(ac, rule.id, {"keywords": rule.keywords, "reason": rule.reason,
                                            "proper_channel": rule.proper_channel})  # switched off
    assert not rule.active
    assert admin.try_screening(session, text) is None
    change = session.scalars(select(AuditLog).where(AuditLog.action == "screening.update")).first()
    assert "关键词" in change.detail["changes"]["keywords"][1]


def test_screening_rule_create_and_validation(ac, session):
    with pytest.raises(ValidationFailed) as excinfo:
        admin.save_screening_rule(ac, None, {"category": "nonsense", "keywords": "!只有排除词", "reason": "短",
                                             "proper_channel": ""})
    assert {"category", "keywords", "reason", "proper_channel"} <= set(fields_of(excinfo))
    rule = admin.save_screening_rule(ac, None, {
        "category": "petition", "keywords": "到市里反映|进京反映", "reason": "属于信访事项，应通过信访渠道反映",
        "proper_channel": "区信访办", "active": "1"})
    assert rule.category == "petition" and 20 < rule.sort_order < 30
    assert admin.try_screening(session, "我准备进京反映这个问题").category == "petition"


# --------------------------------------------------------------------------------------------
# Settings, outbox
# --------------------------------------------------------------------------------------------
def test_settings_validation_and_update(ac, session):
    with pytest.raises(ValidationFailed) as excinfo:
        admin.update_settings(ac, {"max_returns": "0", "survey_delay_hours": "x", "survey_reminder_hours": ""})
    assert set(fields_of(excinfo)) == {"max_returns", "survey_delay_hours", "survey_reminder_hours",
                                       "duplicate_window_days", "duplicate_similarity_percent"}
    admin.update_settings(ac, {"max_returns": "4", "survey_delay_hours": "12", "survey_reminder_hours": "48",
                               "duplicate_window_days": "14", "duplicate_similarity_percent": "40"})
    assert session.get(SystemSetting, "max_returns").value == 4
    assert admin.current_settings(session) == {"max_returns": 4, "survey_delay_hours": 12,
                                               "survey_reminder_hours": 48, "duplicate_window_days": 14,
                                               "duplicate_similarity_percent": 40}
    assert session.get(SystemSetting, "duplicate_similarity_percent") is None  # unchanged: no row
    row = session.scalars(select(AuditLog).where(AuditLog.action == "setting.update")).one()
    assert row.detail["changes"]["max_returns"] == [3, 4]


def test_retry_dead_letter(ac, session, now):
    message = outbox.enqueue(session, outbox.Envelope("wecom", "notice", "person", "7", {"text": "hi"}, "k1"),
                             now=now)
    with pytest.raises(Conflict):
        admin.retry_dead_letter(ac, message.id)
    outbox.mark_failed(session, message, error="errcode 60020 ip not allowed", now=now, max_attempts=1)
    assert message.status == OutboxStatus.DEAD
    later = now + timedelta(hours=1)
    admin.retry_dead_letter(admin.AdminContext(session, ac.actor, later, ac.ip), message.id)
    assert message.status == OutboxStatus.PENDING and message.attempts == 0 and message.next_attempt_at == later
    assert admin.list_outbox(session, status=OutboxStatus.PENDING) == [message]
    assert session.get(OutboundMessage, message.id) is message
    row = session.scalars(select(AuditLog).where(AuditLog.action == "outbox.retry")).one()
    assert "60020" in row.detail["last_error"]


def test_overview_counts(ac, session, now):
    counts = admin.overview_counts(session, now)
    assert counts["zones"] == 17 and counts["hubs"] >= 2 and counts["sla_policies"] == 12
    assert counts["screening_rules"] == 6 and counts["outbox_dead"] == 0
