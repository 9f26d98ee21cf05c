"""Chat commands against the database: the whole loop by chat, refusals, ambiguity, de-duplication."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import (
    ExtensionRequest,
    InboundReceipt,
    OutboundMessage,
    Role,
    SandboxMessage,
    WorkOrder,
    WorkOrderEvent,
)
from services.messaging import chat as chat_inbound
from services.messaging import commands
from services.messaging.notify import Channels, ReplyTarget
from services.orders.lifecycle import Action, State
from services.orders.operations import OpContext


@pytest.fixture
def people(factory):
    rsj = factory.department("rsj")
    zjw = factory.department("zjw")
    return {
        "staff": factory.person(Role.SERVICE_STAFF, name="王服务"),
        "helper": factory.person(Role.CHIEF_HELPER, department=rsj, name="李帮办"),
        "helper2": factory.person(Role.CHIEF_HELPER, department=rsj, name="赵帮办"),
        "outsider": factory.person(Role.CHIEF_HELPER, department=zjw, name="周帮办"),
        "zjw_helper": factory.person(Role.CHIEF_HELPER, department=zjw, name="吴帮办"),
        "rsj": rsj,
        "zjw": zjw,
    }


def level2(factory, people, now, **kw):
    return factory.order(
        people["staff"], now, level=2, department_id=people["rsj"].id,
        content=kw.pop("content", "企业急需招聘 30 名技术工人，请协助对接招聘会"), **kw,
    )


def say(factory, person, now, text, **kw):
    return chat_inbound.handle_text(factory.ctx(person, now, channel="sandbox"), text, **kw)


def events(session, order, action):
    return session.scalar(
        select(func.count()).select_from(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == action)
    )


def test_whole_loop_by_chat(factory, session, people, now):
    staff, helper = people["staff"], people["helper"]
    enterprise = factory.enterprise(staff=staff, name="天津北辰甲科技有限公司")

    created = say(factory, staff, now, "诉求 甲科技 企业门前道路破损，影响货车通行，请协调修复")
    assert created.ok, created.reply
    first = session.scalar(select(WorkOrder).where(WorkOrder.number == created.order_number))
    assert first.enterprise_id == enterprise.id
    assert first.level == 1 and first.state == State.PROCESSING and first.assigned_person_id == staff.id
    assert first.channel == "sandbox"
    assert f"已为天津北辰甲科技有限公司提交诉求，工单 {first.number}" in created.reply

    order = level2(factory, people, now, enterprise=enterprise)
    assert order.number.endswith("0002") and order.state == State.DISPATCHED

    t = now + timedelta(minutes=10)
    signed = say(factory, helper, t, "＠有需必应 报到 ０００２")
    assert signed.ok, signed.reply
    assert signed.order_number == order.number
    assert order.state == State.PROCESSING and order.assigned_person_id == helper.id
    assert signed.reply.startswith(f"已报到工单 {order.number}，办理时限 ")
    assert "「办结 0002 结果」" in signed.reply

    replied = say(factory, helper, t, "回复 0002 已联系企业，明日召开专场招聘会")
    assert replied.ok, replied.reply
    resolved = say(factory, helper, t, "办结 0002 已举办专场招聘会，企业招到 30 人")
    assert resolved.ok, resolved.reply
    assert order.state == State.RESOLVED and order.result == "已举办专场招聘会，企业招到 30 人"

    fed_back = say(factory, staff, t, "反馈 0002 已电话告知企业负责人")
    assert fed_back.ok, fed_back.reply
    assert order.state == State.FED_BACK
    visited = say(factory, staff, t, "回访 0002 满意 问题已解决")
    assert visited.ok, visited.reply
    assert order.state == State.ARCHIVED
    assert order.visits[-1].satisfaction == "满意"
    assert f"工单 {order.number} 已归档" in visited.reply

    # Every step was recorded as done by chat, and each answer went to the sender's inbox.
    chat_steps = (Action.SIGN, Action.REPLY, Action.RESOLVE, Action.FEEDBACK, Action.VISIT, Action.ARCHIVE)
    assert [e.action for e in order.events if e.action in chat_steps] == list(chat_steps)
    channels = {e.channel for e in order.events if e.action in chat_steps}
    assert channels == {"sandbox"}
    replies = session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "reply", OutboundMessage.target_ref == str(helper.id))
    ).all()
    assert [r.payload["text"] for r in replies] == [signed.reply, replied.reply, resolved.reply]
    inbound = session.scalars(
        select(SandboxMessage).where(SandboxMessage.direction == "in", SandboxMessage.sender_person_id == helper.id)
    ).all()
    assert [m.conversation for m in inbound] == [f"person:{helper.id}"] * 3
    assert inbound[0].text == "＠有需必应 报到 ０００２"


def test_staff_can_finish_a_level1_order_by_chat(factory, session, people, now):
    staff = people["staff"]
    factory.enterprise(staff=staff, name="天津北辰乙商贸有限公司")
    created = say(factory, staff, now, "诉求 乙商贸 咨询小微企业稳岗补贴申报流程")
    number = created.order_number
    done = say(factory, staff, now, f"办结 {number[-4:]} 已现场讲解申报流程并发放指南")
    assert done.ok, done.reply
    assert session.scalar(select(WorkOrder.state).where(WorkOrder.number == number)) == State.RESOLVED


def test_wrong_role_is_refused_with_the_reason(factory, session, people, now):
    order = level2(factory, people, now)
    result = say(factory, people["staff"], now, "报到 0001")
    assert not result.ok
    assert result.reply.startswith("「报到」仅限首席帮办、部门领导使用，您的身份是为企服务人员")
    assert order.state == State.DISPATCHED


def test_wrong_department_is_refused_with_the_reason(factory, session, people, now):
    order = level2(factory, people, now)
    # Not visible to another department by its short number…
    short = say(factory, people["outsider"], now, "报到 0001")
    assert not short.ok and "没有找到尾号为 0001 的工单" in short.reply
    # …and by its full number the relational rule speaks.
    full = say(factory, people["outsider"], now, f"报到 {order.number.lower()}")
    assert not full.ok
    assert "无权" in full.reply
    assert "该工单派给了人社局，只有人社局的首席帮办可以签收报到" in full.reply
    assert order.state == State.DISPATCHED and events(session, order, Action.SIGN) == 0


def test_second_sign_is_told_who_took_it(factory, session, people, now):
    order = level2(factory, people, now)
    assert say(factory, people["helper"], now, "报到 0001").ok
    late = say(factory, people["helper2"], now + timedelta(minutes=1), "接单 0001")
    assert not late.ok
    assert f"工单 {order.number} 已由 李帮办 于 03-02 10:00 报到" in late.reply
    again = say(factory, people["helper"], now + timedelta(minutes=2), "报到 0001")
    assert "无需重复报到" in again.reply
    assert events(session, order, Action.SIGN) == 1


def test_ambiguous_short_number_lists_candidates(factory, session, people, now):
    first = level2(factory, people, now)
    second = level2(factory, people, now + timedelta(days=1))
    assert first.number[-4:] == second.number[-4:] == "0001"
    t = now + timedelta(days=1, hours=1)
    result = say(factory, people["helper"], t, "报到 0001")
    assert not result.ok
    assert "尾号 0001 对应 2 张工单" in result.reply
    assert first.number in result.reply and second.number in result.reply
    assert "请发送完整单号" in result.reply

    assert say(factory, people["helper"], t, f"报到 {second.number}").ok
    # Only one of the two can be resolved now: the short number is enough for 办结.
    resolved = say(factory, people["helper"], t, "办结 0001 已对接招聘会，企业招到工人")
    assert resolved.ok, resolved.reply
    assert second.state == State.RESOLVED and first.state == State.DISPATCHED


def test_refused_operation_leaves_no_trace(factory, session, people, now):
    order = level2(factory, people, now)
    say(factory, people["helper"], now, "报到 0001")
    result = say(factory, people["helper"], now, "办结 0001 好")  # the result is too short
    assert not result.ok and "请填写办理结果（至少 4 个字）" in result.reply
    session.flush()
    session.expire_all()
    assert session.get(WorkOrder, order.id).state == State.PROCESSING
    assert events(session, order, Action.RESOLVE) == 0


ALL_CHANNELS = Channels(sandbox=True, wecom=True, dingtalk=True)


def on_both(person):
    person.wecom_userid, person.dingtalk_userid = f"wx-{person.id}", f"dd-{person.id}"
    return person


def reply_rows(session):
    return [(r.channel, r.target_type, r.target_ref, r.dedupe_key) for r in session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "reply").order_by(OutboundMessage.id))]


def test_inbound_receipt_deduplicates(factory, session, people, now):
    order = level2(factory, people, now)
    helper = on_both(people["helper"])
    ctx = OpContext(session, helper, now, "wecom", ALL_CHANNELS)
    first = chat_inbound.handle_text(ctx, "报到 0001", dedupe=("wecom", "msg-1"))
    second = chat_inbound.handle_text(ctx, "报到 0001", dedupe=("wecom", "msg-1"))
    assert first.ok and not first.duplicate
    assert second.duplicate and second.reply == ""
    assert events(session, order, Action.SIGN) == 1
    assert session.scalar(select(func.count()).select_from(InboundReceipt)) == 1
    # Answered once, on WeCom where it was asked: not on DingTalk, not in the sandbox transcript.
    assert reply_rows(session) == [("wecom", "person", str(helper.id), f"in:wecom:msg-1:reply:{helper.id}:wecom")]
    # Not the sandbox channel: nothing in the sandbox transcript.
    assert session.scalar(select(func.count()).select_from(SandboxMessage)) == 0
    # The same message id on another platform is a different message.
    other = chat_inbound.handle_text(ctx, "查询 0001", dedupe=("dingtalk", "msg-1"))
    assert other.ok and not other.duplicate


def test_an_answer_goes_back_only_where_the_command_came_from(factory, session, people, now):
    """A person on the sandbox, WeCom and DingTalk at once hears each answer once, on the channel
    they typed on; notices about the order still reach them everywhere."""
    order = level2(factory, people, now)
    helper = on_both(people["helper"])
    sandbox = chat_inbound.handle_text(OpContext(session, helper, now, "sandbox", ALL_CHANNELS), "查询 0001")
    assert sandbox.ok
    assert [(c, t) for c, t, _r, _k in reply_rows(session)] == [("sandbox", "person")]
    session.execute(OutboundMessage.__table__.delete())

    wecom = chat_inbound.handle_button(OpContext(session, helper, now, "wecom", ALL_CHANNELS),
                                       f"sign:{order.number}", dedupe=("wecom", "click-1"))
    assert wecom.ok
    assert [(c, t) for c, t, _r, _k in reply_rows(session)] == [("wecom", "person")]
    notices = session.scalars(select(OutboundMessage.channel).where(
        OutboundMessage.kind != "reply", OutboundMessage.target_ref == str(people["staff"].id))).all()
    assert set(notices) == {"sandbox"}  # the staff member is on the sandbox only
    session.execute(OutboundMessage.__table__.delete())

    # A caller that answers somewhere else (a DingTalk group conversation) names the target.
    target = ReplyTarget("session", "cid-group", {"session_webhook": "https://example.invalid/s", "at_user_ids": ["dd"]})
    dingtalk = chat_inbound.handle_text(OpContext(session, helper, now, "dingtalk", ALL_CHANNELS), "我的工单",
                                        dedupe=("dingtalk", "m-9"), reply_target=target)
    assert dingtalk.ok
    [row] = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "reply")).all()
    assert (row.channel, row.target_type, row.target_ref) == ("dingtalk", "session", "cid-group")
    assert row.payload == {"session_webhook": "https://example.invalid/s", "at_user_ids": ["dd"],
                           "text": dingtalk.reply}
    assert row.dedupe_key == f"in:dingtalk:m-9:reply:{helper.id}:dingtalk"


def test_no_answer_on_a_channel_that_cannot_reach_the_person(factory, session, people, now, caplog):
    helper = people["helper"]  # not bound to WeCom
    result = chat_inbound.handle_text(OpContext(session, helper, now, "wecom", ALL_CHANNELS), "帮助",
                                      dedupe=("wecom", "m-1"))
    assert result.ok and reply_rows(session) == []
    assert "channel 'wecom' is off or not bound" in caplog.text


def test_transfer_by_department_name(factory, session, people, now):
    order = level2(factory, people, now)
    say(factory, people["helper"], now, "报到 0001")
    result = say(factory, people["helper"], now, "转办 0001 住建委 涉及厂房报建，属住建委职责")
    assert result.ok, result.reply
    assert order.assigned_department_id == people["zjw"].id and order.state == State.DISPATCHED
    assert "已将工单" in result.reply and "转办至住建委" in result.reply
    # The new department's helper reports; back by the official full name.
    assert say(factory, people["zjw_helper"], now, "报到 0001").ok
    back = say(factory, people["zjw_helper"], now, "转办 0001 北辰区人力资源和社会保障局 主要是招工问题")
    assert back.ok, back.reply
    assert order.assigned_department_id == people["rsj"].id
    unknown = say(factory, people["helper"], now, "转办 0001 宇宙局 随便转一下")
    assert not unknown.ok and "没有找到部门「宇宙局」" in unknown.reply


def test_resolve_department_forms(factory, session, people, now):
    ctx = factory.ctx(people["helper"], now)
    assert commands.resolve_department(ctx, "rsj").id == people["rsj"].id
    assert commands.resolve_department(ctx, "人社局").id == people["rsj"].id
    assert commands.resolve_department(ctx, "人力资源和社会保障局").id == people["rsj"].id
    assert commands.resolve_department(ctx, "住建").id == people["zjw"].id
    with pytest.raises(commands.NotFound):
        commands.resolve_department(ctx, "区网格中心")  # a hub is not a department one transfers to


def test_extension_validation(factory, session, people, now):
    order = level2(factory, people, now)
    helper = people["helper"]
    say(factory, helper, now, "报到 0001")
    for text in ("延期 0001 很多 等待企业补充材料", "延期 0001 40 等待企业补充材料"):
        bad = say(factory, helper, now, text)
        assert not bad.ok and "延期天数请填写 1–30 的数字" in bad.reply
    short_reason = say(factory, helper, now, "延期 0001 5 等待")
    assert not short_reason.ok and "延期理由" in short_reason.reply
    missing = say(factory, helper, now, "延期 0001 5")
    assert not missing.ok and "用法：延期 单号 天数 理由" in missing.reply
    ok = say(factory, helper, now, "延期 0001 5天 等待企业补充环评材料")
    assert ok.ok, ok.reply
    assert "延期 5 个工作日" in ok.reply
    request = session.scalar(select(ExtensionRequest).where(ExtensionRequest.work_order_id == order.id))
    assert request.days == 5 and request.status == "pending"
    twice = say(factory, helper, now, "延期 0001 3 再等三个工作日")
    assert not twice.ok and "已有待审批的延期申请" in twice.reply


def test_my_orders(factory, session, people, now):
    first = level2(factory, people, now)
    second = level2(factory, people, now)
    listing = say(factory, people["helper"], now, "我的工单")
    assert listing.ok
    assert listing.reply.startswith("您有 2 张在办工单")
    assert first.number in listing.reply and second.number in listing.reply
    assert "待签收" in listing.reply
    assert people["staff"].id  # the staff member sees them too
    assert first.number in say(factory, people["staff"], now, "我的工单").reply
    assert say(factory, people["outsider"], now, "我的工单").reply == "您目前没有在办工单。"


def test_query(factory, session, people, now):
    order = level2(factory, people, now)
    result = say(factory, people["helper"], now, "查询 0001")
    assert result.ok
    assert result.reply.startswith(f"工单 {order.number}（待签收）")
    assert "承办：人社局" in result.reply and "报到时限：" in result.reply
    denied = say(factory, people["outsider"], now, f"查询 {order.number}")
    assert not denied.ok and "您无权查看该工单" in denied.reply


def test_enterprise_lookup(factory, session, people, now):
    staff = people["staff"]
    a = factory.enterprise(staff=staff, name="天津北辰丙精密机械有限公司")
    factory.enterprise(staff=staff, name="天津北辰丁精密机械有限公司")
    ambiguous = say(factory, staff, now, "诉求 精密机械 需要协调用电增容，影响新产线投产")
    assert not ambiguous.ok
    assert "「精密机械」对应多家企业" in ambiguous.reply and "天津北辰丙精密机械有限公司" in ambiguous.reply
    by_code = say(factory, staff, now, f"诉求 {a.uscc.lower()} 需要协调用电增容，影响新产线投产")
    assert by_code.ok, by_code.reply
    other_zone = factory.enterprise(zone=factory.zone("beicang"), name="天津北辰戊物流有限公司")
    assert other_zone.zone_id != staff.zone_id
    not_mine = say(factory, staff, now, "诉求 戊物流 仓库周边道路需要照明")
    assert not not_mine.ok and "在您的片区没有找到企业「戊物流」" in not_mine.reply
    exact = say(factory, staff, now, "诉求 天津北辰戊物流有限公司 仓库周边道路需要照明")
    assert not exact.ok and "该企业不在您的片区" in exact.reply
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == 1


def test_unknown_input_gets_help_and_a_suggestion(factory, session, people, now):
    result = say(factory, people["helper"], now, "报道 0001")
    assert not result.ok
    assert "您是不是想输入「报到 0001」？" in result.reply
    assert "报到 单号 —— " in result.reply
    empty = say(factory, people["helper"], now, "@有需必应")
    assert "可用命令" in empty.reply
    # The answer to unknown input is sent too: never silence.
    assert session.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.kind == "reply")) == 2


def test_button_dispatch(factory, session, people, now):
    order = level2(factory, people, now)
    helper = people["helper"]
    ctx = factory.ctx(helper, now, channel="sandbox")
    ask = commands.dispatch_button(ctx, f"return:{order.number}")
    assert not ask.ok and ask.reply == "请发送「退回 0001 理由」说明退回原因。"
    ask = commands.dispatch_button(ctx, f"transfer:{order.number}")
    assert not ask.ok and "请发送「转办 0001 部门 理由」" in ask.reply
    signed = chat_inbound.handle_button(ctx, f"sign:{order.number}", dedupe=("sandbox", "click-1"))
    assert signed.ok, signed.reply
    assert order.state == State.PROCESSING and order.assigned_person_id == helper.id
    assert chat_inbound.handle_button(ctx, f"sign:{order.number}", dedupe=("sandbox", "click-1")).duplicate
    clicked = session.scalar(select(SandboxMessage).where(SandboxMessage.direction == "in"))
    assert clicked.text == f"〔点击「报到」〕{order.number}"
    returned = commands.dispatch_button(ctx, f"return:{order.number}", "该事项属于住建委职责范围")
    assert returned.ok, returned.reply
    assert order.state == State.PENDING_DISPATCH and order.return_count == 1
    assert not commands.dispatch_button(ctx, "bogus").ok


def test_button_transfer_with_text(factory, session, people, now):
    order = level2(factory, people, now)
    ctx = factory.ctx(people["helper"], now, channel="sandbox")
    result = commands.dispatch_button(ctx, f"transfer:{order.number}", "住建委 涉及厂房报建")
    assert result.ok, result.reply
    assert order.assigned_department_id == people["zjw"].id


def test_group_conversation_is_recorded(factory, session, people, now):
    level2(factory, people, now)
    conversation = f"group:{people['rsj'].id}"
    say(factory, people["helper"], now, "报到 0001", conversation=conversation)
    message = session.scalar(select(SandboxMessage).where(SandboxMessage.direction == "in"))
    assert message.conversation == conversation and message.sender_person_id == people["helper"].id


def test_escalate_and_dissatisfied_visit(factory, session, people, now):
    order = level2(factory, people, now)
    helper, staff = people["helper"], people["staff"]
    say(factory, helper, now, "报到 0001")
    up = say(factory, helper, now, "升级 0001 涉及多个部门职责，需要区级会商")
    assert up.ok, up.reply
    assert order.level == 3 and order.state == State.PENDING_DISPATCH
    assert "已升级为区级会商办理，等待区营商环境办派单" in up.reply
    # Level 4 by chat: the 12345 desk by default, asked for the city reference afterwards.
    city = say(factory, staff, now, "升级 0001 区级协调后仍无法解决，需要市级支持")
    assert city.ok, city.reply
    assert order.level == 4 and order.state == State.PROCESSING
    assert order.city_escalations[-1].route == "12345" and order.city_escalations[-1].city_reference == ""
    assert "市12345热线企业服务专席" in city.reply and "「市级编号 0001 编号」" in city.reply
    recorded = say(factory, staff, now, "市级编号 0001 GD2026030200017")
    assert recorded.ok, recorded.reply
    assert order.city_escalations[-1].city_reference == "GD2026030200017"


def test_escalate_straight_to_a_level(factory, session, people, now):
    order = level2(factory, people, now)
    helper = people["helper"]
    say(factory, helper, now, "报到 0001")
    up = say(factory, helper, now, "升级 0001 4 涉及市级审批权限，需市级部门协调 编号=GD2026001")
    assert up.ok, up.reply
    assert order.level == 4
    [escalation] = order.city_escalations
    assert (escalation.route, escalation.city_reference) == ("12345", "GD2026001")
    event = session.scalar(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                        WorkOrderEvent.action == Action.ESCALATE))
    assert event.note == "涉及市级审批权限，需市级部门协调"
    assert "市级编号 GD2026001 已登记" in up.reply

    other = level2(factory, people, now, content="企业需要协调用地指标，涉及多部门")
    say(factory, helper, now, f"报到 {other.number}")
    to_city_department = say(factory, helper, now, f"升级 {other.number} 4 需市级部门审批 市级部门=市规划资源局")
    assert to_city_department.ok, to_city_department.reply
    assert other.city_escalations[-1].route == "city_department"
    assert other.city_escalations[-1].city_department == "市规划资源局"
    assert commands.split_escalation("3 需要区级会商") == (3, "需要区级会商", {})
    assert commands.split_escalation("30 人的招聘缺口") == (None, "30 人的招聘缺口", {})


def test_request_naming_a_department_whistles_it(factory, session, people, now):
    staff = people["staff"]
    factory.enterprise(staff=staff, name="天津北辰乙机械有限公司")
    created = say(factory, staff, now, "诉求 乙机械 企业急需招聘 20 名焊工，请协助对接 @人社局")
    assert created.ok, created.reply
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == created.order_number))
    assert order.level == 2 and order.state == State.DISPATCHED and order.assigned_department_id == people["rsj"].id
    assert "@" not in order.content and order.content.endswith("请协助对接")
    assert "已向区人社局吹哨" in created.reply or "吹哨" in created.reply
    whistles = session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == order.id,
                                                             OutboundMessage.kind == "whistle"))
    assert list(whistles)
    unknown = say(factory, staff, now, "诉求 乙机械 企业用电问题 @不存在的局")
    assert not unknown.ok and "没有找到部门" in unknown.reply


def test_district_leader_instructs(factory, session, people, now):
    order = level2(factory, people, now)
    say(factory, people["helper"], now, "报到 0001")
    leader = factory.person(Role.DISTRICT_LEADER, name="区领导甲")
    done = say(factory, leader, now, "批示 0001 请人社局本周内专题研究，确保企业用工需求得到满足")
    assert done.ok, done.reply
    assert "已推送区人社局" in done.reply or "已推送" in done.reply
    assert events(session, order, Action.INSTRUCT) == 1
    texts = [m.payload.get("text", "") for m in session.scalars(
        select(OutboundMessage).where(OutboundMessage.work_order_id == order.id))]
    assert any("【领导批示】" in t for t in texts)  # the department group
    assert any("批示：请人社局本周内" in t for t in texts)  # the handler's notice
    # The leader has this one write action, nothing else.
    refused = say(factory, leader, now, "回复 0001 已知悉")
    assert not refused.ok
    helper_try = say(factory, people["helper"], now, "批示 0001 自己批示")
    assert not helper_try.ok


def test_visit_rating_validated_and_reopens(factory, session, people, now):
    order = level2(factory, people, now)
    helper, staff = people["helper"], people["staff"]
    for text in ("报到 0001", "办结 0001 已协调举办专场招聘会"):
        say(factory, helper, now, text)
    say(factory, staff, now, "反馈 0001")
    bad = say(factory, staff, now, "回访 0001 还行")
    assert not bad.ok and "满意度请填写：非常满意/满意/基本满意/不满意/非常不满意" in bad.reply
    no_comment = say(factory, staff, now, "回访 0001 不满意")
    assert not no_comment.ok and "必须填写意见" in no_comment.reply
    reopened = say(factory, staff, now, "回访 0001 不满意 招聘会没有对口岗位")
    assert reopened.ok, reopened.reply
    assert order.state == State.PROCESSING and "重新办理" in reopened.reply


def test_feedback_by_someone_else_is_refused(factory, session, people, now):
    order = level2(factory, people, now)
    for text in ("报到 0001", "办结 0001 已协调举办专场招聘会"):
        say(factory, people["helper"], now, text)
    other_staff = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    result = say(factory, other_staff, now, f"反馈 {order.number}")
    assert not result.ok and "只有该企业的为企服务人员" in result.reply
    assert order.state == State.RESOLVED


def test_no_actor_and_inactive_actor(factory, session, people, now):
    assert not commands.dispatch(factory.ctx(None, now), "帮助").ok
    people["helper"].active = False
    result = say(factory, people["helper"], now, "帮助")
    assert not result.ok and "已停用" in result.reply


def test_sign_race_across_sessions(session_factory, now):
    """Two chief helpers press 报到 from two requests: the one who commits second is told who took it."""
    from tests.factories import Factory

    with session_factory() as setup:
        f = Factory(setup)
        rsj = f.department("rsj")
        staff = f.person(Role.SERVICE_STAFF)
        first = f.person(Role.CHIEF_HELPER, department=rsj, name="钱帮办")
        second = f.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办")
        order = f.order(staff, now, level=2, department_id=rsj.id, content="企业急需招聘 30 名技术工人，请协助对接招聘会")
        ids = (first.id, second.id, order.id)
        setup.commit()

    a, b = session_factory(), session_factory()
    try:
        from models import Person
        from services.messaging.notify import Channels
        from services.orders.operations import OpContext

        if b.get_bind().dialect.name == "postgresql":
            # B holds a stale copy of the order (SQLite serialises writers, so only PostgreSQL can).
            b.get(WorkOrder, ids[2])
        ctx_a = OpContext(a, a.get(Person, ids[0]), now, "dingtalk", Channels())
        assert chat_inbound.handle_text(ctx_a, "报到 0001", dedupe=("dingtalk", "m1")).ok
        a.commit()
        ctx_b = OpContext(b, b.get(Person, ids[1]), now, "wecom", Channels())
        lost = chat_inbound.handle_text(ctx_b, "报到 0001", dedupe=("wecom", "m1"))
        b.commit()
        assert not lost.ok
        assert "已由 钱帮办 于 03-02 10:00 报到" in lost.reply
    finally:
        a.close()
        b.close()
    with session_factory() as check:
        assert check.get(WorkOrder, ids[2]).assigned_person_id == ids[0]
        assert check.scalar(select(func.count()).select_from(InboundReceipt)) == 2


def test_duplicate_delivery_across_sessions(session_factory, now):
    """A platform retry arriving in another request after the first committed does nothing."""
    from tests.factories import Factory

    with session_factory() as setup:
        f = Factory(setup)
        helper_id = f.person(Role.CHIEF_HELPER, department=f.department("rsj")).id
        setup.commit()
    results = []
    for _ in range(2):
        with session_factory() as s:
            from models import Person

            helper = s.get(Person, helper_id)
            helper.wecom_userid = "helper-wx"
            ctx = OpContext(s, helper, now, "wecom", Channels(wecom=True))
            results.append(chat_inbound.handle_text(ctx, "我的工单", dedupe=("wecom", "retry-1")))
            s.commit()
    assert [r.duplicate for r in results] == [False, True]
    with session_factory() as check:
        assert check.scalar(select(func.count()).select_from(OutboundMessage)) == 1
