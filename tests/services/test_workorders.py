"""The 有需必应 loop through the operations, level by level, with the rules that guard it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from models import OutboundMessage, Role, WorkOrderEvent
from services.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from services.orders import operations as wo
from services.orders.lifecycle import Action, State
from services.orders.screening import CATEGORIES

H = timedelta(hours=1)


@pytest.fixture
def cast(factory):
    """The people of one small story: a zone staff member, a department and its helpers, the hubs."""
    rsj = factory.department("rsj")
    return {
        "staff": factory.person(Role.SERVICE_STAFF, name="王晓燕"),
        "other_staff": factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang")),
        "rsj": rsj,
        "helper": factory.person(Role.CHIEF_HELPER, department=rsj, name="李建国"),
        "helper2": factory.person(Role.CHIEF_HELPER, department=rsj, name="赵敏"),
        "leader": factory.person(Role.DEPT_LEADER, department=rsj, name="孙局长"),
        "dispatcher": factory.person(Role.DISPATCHER, department=factory.department("grid_center")),
        "bizenv": factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office")),
    }


def messages(session, order, kind=None):
    query = select(OutboundMessage).where(OutboundMessage.work_order_id == order.id)
    if kind:
        query = query.where(OutboundMessage.kind == kind)
    return list(session.scalars(query))


def test_level_1_solved_by_the_service_staff_member(factory, session, now, cast):
    staff = cast["staff"]
    order = factory.order(staff, now, level=1, content="企业咨询片区内公共停车位申请流程，请告知办理方式")
    assert order.number.startswith("BC-20260302-")
    assert (order.state, order.level, order.assigned_person_id) == (State.PROCESSING, 1, staff.id)
    assert order.due_at is not None and order.sign_due_at is None
    wo.resolve(factory.ctx(staff, now + H), order, result="已告知企业停车位申请流程并协助提交材料")
    wo.feedback(factory.ctx(staff, now + 2 * H), order, note="电话告知")
    wo.visit(factory.ctx(staff, now + 3 * H), order, satisfaction="非常满意")
    assert order.state == State.ARCHIVED
    actions = [e.action for e in order.events]
    assert actions == [Action.CREATE, Action.ACCEPT, Action.RESOLVE, Action.FEEDBACK, Action.VISIT, Action.ARCHIVE]


def test_level_2_whistle_sign_resolve_reopen_and_archive(factory, session, now, cast):
    staff, helper, rsj = cast["staff"], cast["helper"], cast["rsj"]
    order = factory.order(
        staff, now, level=2, department_id=rsj.id, content="企业扩产急需招聘 30 名数控技术工人，请协助对接招聘资源"
    )
    assert order.state == State.DISPATCHED and order.assigned_department_id == rsj.id
    whistle = messages(session, order, "whistle")
    assert [m.target_ref for m in whistle] == [str(rsj.id)]
    assert set(whistle[0].payload["mentions"]) == {helper.id, cast["helper2"].id}
    assert "@李建国" in whistle[0].payload["text"]
    cards = messages(session, order, "card")
    assert {m.target_ref for m in cards} == {str(helper.id), str(cast["helper2"].id)}
    assert [b["label"] for b in cards[0].payload["buttons"]] == ["报到", "退回", "转办"]

    wo.sign(factory.ctx(helper, now + H), order)
    assert order.state == State.PROCESSING and order.assigned_person_id == helper.id
    assert {m.target_ref for m in messages(session, order, "card_update")} == {str(helper.id), str(cast["helper2"].id)}
    wo.reply(factory.ctx(helper, now + 2 * H), order, text="已联系区人才市场，下周专场招聘会预留展位")
    wo.resolve(factory.ctx(helper, now + 3 * H), order, result="已安排企业参加 3 月 9 日专场招聘会")
    assert order.state == State.RESOLVED
    wo.feedback(factory.ctx(staff, now + 4 * H), order, note="上门告知")
    assert order.state == State.FED_BACK and order.survey_token

    with pytest.raises(ValidationFailed):
        wo.visit(factory.ctx(staff, now + 5 * H), order, satisfaction="不满意")  # no comment
    wo.visit(factory.ctx(staff, now + 5 * H), order, satisfaction="不满意", comment="招聘会人数少，未招到人")
    assert order.state == State.PROCESSING and order.reopen_count == 1
    assert order.assigned_person_id == helper.id and order.due_at > now + 5 * H

    wo.resolve(factory.ctx(helper, now + 30 * H), order, result="协调两所职业院校定向输送 20 名毕业生")
    wo.feedback(factory.ctx(staff, now + 31 * H), order)
    wo.visit(factory.ctx(staff, now + 32 * H), order, satisfaction="满意")
    assert order.state == State.ARCHIVED
    assert len(order.visits) == 2
    actions = [e.action for e in order.events]
    assert actions.count(Action.REOPEN) == 1 and actions[-1] == Action.ARCHIVE


def test_green_channel_goes_straight_to_level_3_with_a_lead_department(factory, session, now, cast):
    staff = cast["staff"]
    enterprise = factory.enterprise(staff=staff, key_industry=True, name="天津辰新生物医药有限公司")
    order = factory.order(
        staff, now, enterprise=enterprise, level=1, is_complex=True, stage_id=factory.stage("construction").id,
        content="新建 GMP 厂房涉及规划调整、施工许可和电力增容，需多部门协同",
    )
    assert (order.level, order.green_channel, order.state) == (3, True, State.PENDING_DISPATCH)
    lead = wo.lead_department_for(order)
    assert lead is not None and lead.code == "zjw"
    with pytest.raises(PermissionDenied):
        wo.joint_meeting(factory.ctx(staff, now), order, held_on=date(2026, 3, 3), department_ids=[lead.id],
                         decisions="x", lead_department_id=lead.id)
    planning = factory.department("ghzy")
    power = factory.department("power_chengdong")
    wo.joint_meeting(
        factory.ctx(cast["bizenv"], now + H), order, held_on=date(2026, 3, 3),
        department_ids=[lead.id, planning.id, power.id], decisions="住建委牵头，规划资源分局 5 日内出具意见，城东供电同步增容",
        lead_department_id=lead.id,
    )
    assert order.state == State.DISPATCHED and order.assigned_department_id == lead.id
    assert order.joint_meetings[0].departments
    status_groups = {m.target_ref for m in messages(session, order, "status")}
    assert {str(planning.id), str(power.id)} <= status_groups


def test_level_4_carries_the_12345_number(factory, session, now, cast):
    staff = cast["staff"]
    order = factory.order(staff, now, level=1, content="跨区物流车辆通行证办理涉及市级交管部门，区内无法办理")
    with pytest.raises(ValidationFailed):
        wo.escalate(factory.ctx(staff, now + H), order, reason="涉及市级权限", level=4)
    wo.escalate(
        factory.ctx(staff, now + H), order, reason="涉及市级交管部门权限", level=4,
        city=wo.CityInfo(route="12345", city_reference="", city_deadline=date(2026, 3, 20)),
    )
    assert (order.level, order.state) == (4, State.PROCESSING)
    wo.record_city_reference(factory.ctx(staff, now + 2 * H), order, city_reference="TJ12345-20260302-0088")
    assert order.city_escalations[-1].city_reference == "TJ12345-20260302-0088"
    assert order.due_at.astimezone(wo.LOCAL_TZ).date() == date(2026, 3, 20)
    wo.resolve(factory.ctx(staff, now + 48 * H), order, result="市交管部门已核发通行证")
    assert order.state == State.RESOLVED


def test_returns_and_designation_after_three(factory, session, now, cast):
    staff, helper, dispatcher = cast["staff"], cast["helper"], cast["dispatcher"]
    order = factory.order(staff, now, level=2, content="企业反映园区道路积水，需要协调排水设施改造")
    assert order.state == State.PENDING_DISPATCH
    for n, code in enumerate(["rsj", "czj", "jyj"], start=1):
        department = factory.department(code)
        wo.dispatch(factory.ctx(dispatcher, now + n * H), order, department_id=department.id)
        returner = helper if code == "rsj" else factory.person(Role.CHIEF_HELPER, department=department)
        with pytest.raises(ValidationFailed):
            wo.return_order(factory.ctx(returner, now + n * H), order, reason="")
        wo.return_order(factory.ctx(returner, now + n * H), order, reason="不属于本部门职责")
        assert order.return_count == n
    water = factory.department("water")
    wo.dispatch(factory.ctx(dispatcher, now + 5 * H), order, department_id=water.id)
    assert order.designated is True
    water_helper = factory.person(Role.CHIEF_HELPER, department=water)
    with pytest.raises(ValidationFailed, match="指定承办"):
        wo.return_order(factory.ctx(water_helper, now + 6 * H), order, reason="不属于本部门职责")


def test_max_returns_setting_applies_at_once(factory, session, now, cast):
    """系统参数「退单次数上限」: saved on the admin page, the next dispatch already follows it."""
    from services.admin import operations as admin

    staff, helper, dispatcher = cast["staff"], cast["helper"], cast["dispatcher"]
    order = factory.order(staff, now, level=2, content="企业反映园区道路积水，需要协调排水设施改造")
    wo.dispatch(factory.ctx(dispatcher, now + H), order, department_id=cast["rsj"].id)
    wo.return_order(factory.ctx(helper, now + H), order, reason="不属于本部门职责")
    ac = admin.AdminContext(session=session, actor=factory.person(Role.SYSADMIN), now=now + H)
    admin.update_settings(ac, {**{k: str(v) for k, v in admin.current_settings(session).items()}, "max_returns": "1"})
    czj = factory.department("czj")
    wo.dispatch(factory.ctx(dispatcher, now + 2 * H), order, department_id=czj.id)
    assert order.designated is True  # one return is now the limit


def test_return_window_is_one_working_day(factory, session, now, cast):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id,
                          content="企业员工社保转移接续问题需要协调办理")
    friday_night = now + timedelta(days=4, hours=12)
    with pytest.raises(ValidationFailed, match="退单时限"):
        wo.return_order(factory.ctx(cast["helper"], friday_night), order, reason="不属于本部门职责范围")


def test_transfer_suspend_resume_and_extension(factory, session, now, cast):
    staff, helper, dispatcher = cast["staff"], cast["helper"], cast["dispatcher"]
    order = factory.order(staff, now, level=2, department_id=cast["rsj"].id, content="企业申请稳岗补贴，材料审核进度缓慢")
    wo.sign(factory.ctx(helper, now + H), order)
    due = order.due_at
    wo.suspend(factory.ctx(helper, now + 2 * H), order, reason="等待企业补充社保缴费明细")
    with pytest.raises(InvalidTransition):
        wo.resolve(factory.ctx(helper, now + 3 * H), order, result="已办结")
    wo.resume(factory.ctx(helper, now + 26 * H), order)  # one working day paused
    assert order.due_at == due + timedelta(hours=24)
    request = wo.request_extension(factory.ctx(helper, now + 27 * H), order, days=2, reason="需市级系统核验数据")
    with pytest.raises(Conflict):
        wo.request_extension(factory.ctx(helper, now + 27 * H), order, days=1, reason="需市级系统核验数据")
    with pytest.raises(PermissionDenied):
        wo.decide_extension(factory.ctx(helper, now + 28 * H), order, approve=True)
    before = order.due_at
    wo.decide_extension(factory.ctx(dispatcher, now + 28 * H), order, approve=True)
    assert request.status == "approved" and order.due_at > before
    czj = factory.department("czj")
    wo.transfer(factory.ctx(helper, now + 29 * H), order, department_id=czj.id, reason="补贴资金拨付属财政局")
    assert order.state == State.DISPATCHED and order.assigned_department_id == czj.id
    assert order.assigned_person_id is None


def test_extension_is_refused_after_the_deadline(factory, session, now, cast):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id, content="企业咨询人才公寓申请条件")
    wo.sign(factory.ctx(cast["helper"], now), order)
    with pytest.raises(ValidationFailed, match="超期"):
        wo.request_extension(factory.ctx(cast["helper"], now + timedelta(days=10)), order, days=2, reason="材料不全等待中")


def test_only_the_assigned_department_may_sign(factory, session, now, cast):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id, content="企业咨询技能培训补贴政策")
    outsider = factory.person(Role.CHIEF_HELPER, department=factory.department("czj"))
    with pytest.raises(PermissionDenied):
        wo.sign(factory.ctx(outsider, now), order)
    with pytest.raises(PermissionDenied):
        wo.sign(factory.ctx(cast["staff"], now), order)
    wo.sign(factory.ctx(cast["helper"], now), order)
    with pytest.raises(Conflict, match="李建国"):
        wo.sign(factory.ctx(cast["helper2"], now), order)


def test_illegal_moves_change_nothing(factory, session, now, cast):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id, content="企业咨询技能培训补贴政策")
    events = session.scalar(select(func.count()).select_from(WorkOrderEvent))
    with pytest.raises(InvalidTransition):
        wo.feedback(factory.ctx(cast["staff"], now), order)
    with pytest.raises(InvalidTransition):
        wo.archive(factory.ctx(cast["dispatcher"], now), order)
    assert order.state == State.DISPATCHED
    assert session.scalar(select(func.count()).select_from(WorkOrderEvent)) == events


SCOPE_CASES = {
    "litigation": ("公司与供应商合同纠纷已向法院起诉，请帮忙催促法院尽快判决", "诉讼"),
    "petition": ("我们准备组织员工集体上访，请政府出面解决欠薪信访问题", "信访"),
    "state_secret": ("请提供军工单位涉密项目的国家秘密文件给我们参考", "保密"),
    "trade_secret": ("想获取竞争对手的客户名单和报价底价等商业秘密", "市场监"),
    "privacy": ("请帮我们查询前员工的家庭住址和身份证号，方便追讨欠款", ""),
    "unlawful": ("希望帮忙虚开发票抵扣税款，减少今年的纳税额", ""),
}


@pytest.mark.parametrize("category", list(SCOPE_CASES))
def test_out_of_scope_requests_are_caught_with_the_right_channel(factory, session, now, cast, category):
    content, channel_hint = SCOPE_CASES[category]
    order = factory.order(cast["staff"], now, level=2, content=content)
    assert order.state == State.RECEIVED
    assert order.screening_category == category
    assert order.screening_channel
    if channel_hint:
        assert channel_hint in order.screening_channel
    with pytest.raises(ValidationFailed):
        wo.confirm_screening(factory.ctx(cast["staff"], now), order, decision="override", reason="")
    assert order.state == State.RECEIVED
    wo.confirm_screening(factory.ctx(cast["staff"], now + H), order, decision="reject")
    assert order.state == State.REJECTED
    assert CATEGORIES[category] in order.events[-1].note
    assert order.reject_channel == order.screening_channel


def test_screening_override_with_a_reason_accepts(factory, session, now, cast):
    order = factory.order(cast["staff"], now, level=1, content="申请劳动仲裁前想咨询社保政策和补缴办法")
    assert order.state == State.RECEIVED
    wo.confirm_screening(factory.ctx(cast["staff"], now), order, decision="override", reason="仅咨询社保补缴政策，不涉及仲裁本身")
    assert order.state == State.PROCESSING and order.screening_decision == "overridden"


def test_numbers_count_up_per_beijing_day(factory, session, now, cast):
    first = factory.order(cast["staff"], now, content="企业咨询一般纳税人资格登记")
    second = factory.order(cast["staff"], now, content="企业咨询出口退税办理进度")
    late_evening_utc = now.replace(hour=17)  # 01:00 the next day in Beijing
    third = factory.order(cast["staff"], late_evening_utc, content="企业咨询出口退税办理进度")
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1
    assert third.number.startswith("BC-20260303-0001")


def test_staff_cannot_submit_for_another_zone(factory, session, now, cast):
    enterprise = factory.enterprise(zone=factory.zone("beicang"))
    with pytest.raises(PermissionDenied):
        factory.order(cast["staff"], now, enterprise=enterprise, content="企业咨询一般纳税人资格登记")
