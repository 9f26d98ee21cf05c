"""Duplicate requests through the operations: found at intake, linked, merged, resolved by number, split."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditLog, OutboundMessage, Role, SystemSetting
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.orders import operations as wo
from services.orders.lifecycle import Action, State

H = timedelta(hours=1)
ROAD = "企业厂区门前道路破损严重，影响货车通行，请协调修复"
ROAD_AGAIN = "厂区门前的道路破损严重，货车通行受影响，请尽快协调修复"
SOCIAL = "咨询稳岗补贴的申报条件和所需材料"


@pytest.fixture
def cast(factory):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF, name="王晓燕")
    return {
        "staff": staff,
        "enterprise": factory.enterprise(staff=staff, zone=staff.zone),
        "rsj": rsj,
        "helper": factory.person(Role.CHIEF_HELPER, department=rsj, name="李建国"),
        "dispatcher": factory.person(Role.DISPATCHER, department=factory.department("grid_center")),
    }


def submit(factory, cast, when, content, **fields):
    data = wo.NewOrder(enterprise_id=cast["enterprise"].id, content=content, **fields)
    return wo.submit_order(factory.ctx(cast["staff"], when), data)


def test_a_similar_request_of_the_same_enterprise_is_reported_and_noted(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    assert submit(factory, cast, now + H, SOCIAL).duplicates == ()
    second = submit(factory, cast, now + 2 * H, ROAD_AGAIN)
    assert [m.earlier.number for m in second.duplicates] == [first.number]
    note = second.order.events[-1]
    assert note.action == Action.COMMENT and note.data["possible_duplicates"] == [first.number]
    assert f"可能与 {first.number}" in note.note
    # Another enterprise saying the same is no duplicate.
    other = factory.order(cast["staff"], now + 3 * H, content=ROAD_AGAIN)
    assert other.events[-1].action != Action.COMMENT or "possible_duplicates" not in other.events[-1].data


def test_a_form_that_asks_gets_the_earlier_orders_and_nothing_is_written(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    count = len(list(session.scalars(select(wo.WorkOrder))))
    with pytest.raises(wo.PossibleDuplicate) as excinfo:
        submit(factory, cast, now + H, ROAD_AGAIN, ask_on_duplicate=True)
    assert [m.earlier.number for m in excinfo.value.matches] == [first.number]
    assert "30 天内已有相似诉求" in excinfo.value.message and excinfo.value.http_status == 409
    assert len(list(session.scalars(select(wo.WorkOrder)))) == count


def test_window_and_threshold_are_system_settings(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    later = now + timedelta(days=20)
    session.add(SystemSetting(key="duplicate_window_days", value=10))
    session.flush()
    assert submit(factory, cast, later, ROAD_AGAIN).duplicates == ()
    session.get(SystemSetting, "duplicate_window_days").value = 30
    session.add(SystemSetting(key="duplicate_similarity_percent", value=100))
    session.flush()
    assert submit(factory, cast, later + H, ROAD_AGAIN).duplicates == ()
    session.get(SystemSetting, "duplicate_similarity_percent").value = 30
    session.flush()
    assert first.number in [m.earlier.number for m in submit(factory, cast, later + 2 * H, ROAD_AGAIN).duplicates]


def test_linking_at_submission_records_the_relation_on_both(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    second = submit(factory, cast, now + H, ROAD_AGAIN, link_to=first.number, ask_on_duplicate=True).order
    assert second.duplicate_of_id == first.id
    assert [e.action for e in second.events][-1] == Action.LINK
    assert first.events[-1].action == Action.LINK and first.events[-1].data["duplicate"] == second.number


def test_link_refuses_another_enterprise_a_later_order_and_itself(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    second = submit(factory, cast, now + H, ROAD_AGAIN).order
    other = factory.order(cast["staff"], now + 2 * H, content=ROAD)
    ctx = factory.ctx(cast["staff"], now + 3 * H)
    with pytest.raises(ValidationFailed, match="不是同一企业"):
        wo.link_duplicate(ctx, other, earlier=first.number)
    with pytest.raises(ValidationFailed, match="晚于本工单"):
        wo.link_duplicate(ctx, first, earlier=second.number)
    with pytest.raises(ValidationFailed, match="本工单自身"):
        wo.link_duplicate(ctx, second, earlier=second.number)
    with pytest.raises(ValidationFailed, match="未找到"):
        wo.link_duplicate(ctx, second, earlier="BC-20990101-0001")
    wo.link_duplicate(ctx, second, earlier=first.number, note="企业又打电话来")
    assert second.duplicate_of_id == first.id


def _merged(factory, session, now, cast):
    staff, dispatcher = cast["staff"], cast["dispatcher"]
    first = submit(factory, cast, now, ROAD, level=2, department_id=cast["rsj"].id).order
    second = submit(factory, cast, now + H, ROAD_AGAIN, level=2, department_id=cast["rsj"].id).order
    assert second.state == State.DISPATCHED and second.due_at is not None
    wo.merge(factory.ctx(dispatcher, now + 2 * H), second, into=first.number, reason="同一路段")
    del staff
    return first, second


def test_merge_closes_the_later_order_into_the_earlier_ones_history(factory, session, now, cast):
    first, second = _merged(factory, session, now, cast)
    assert second.state == State.MERGED and second.merged_into_id == first.id
    assert second.suspended_at == now + 2 * H  # its clock stopped
    assert second.events[-1].data["prior_state"] == State.DISPATCHED
    assert first.events[-1].action == Action.MERGE and first.events[-1].data["merged"] == second.number
    entries = wo.timeline(first)
    assert {t.number for t in entries} == {first.number, second.number}
    assert [t.event.id for t in entries] == sorted(t.event.id for t in entries)  # one history, in time order
    assert any(t.merged and t.event.action == Action.CREATE for t in entries)
    assert wo.merged_orders(first) == [second]


def test_both_numbers_resolve_to_the_earlier_order(factory, session, now, cast):
    first, second = _merged(factory, session, now, cast)
    assert wo.resolve_number(session, second.number) is first
    assert wo.resolve_number(session, second.number.lower()) is first
    assert wo.resolve_number(session, first.number) is first
    assert wo.get_order(session, second.number) is second  # the order itself stays reachable


def test_the_enterprise_side_is_told_once_and_the_handlers_group_learns_it(factory, session, now, cast):
    first, second = _merged(factory, session, now, cast)
    notices = [m for m in session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == first.id))
               if "重复诉求已合并" in (m.payload.get("title") or "")]
    assert [m.target_ref for m in notices] == [str(cast["staff"].id)]  # submitter and staff member: one person
    assert second.number in notices[0].payload["text"] and "同一路段" in notices[0].payload["text"]
    group = [m for m in session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == second.id,
                                                                      OutboundMessage.kind == "status"))
             if "【已合并】" in m.payload["text"]]
    assert len(group) == 1
    with pytest.raises(InvalidTransition):  # merged already: nothing happens twice
        wo.merge(factory.ctx(cast["dispatcher"], now + 3 * H), second, into=first.number)
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "order.merge")).one()
    assert audit.target_id == second.number and audit.detail["into"] == first.number


def test_only_the_grid_center_merges_and_splits(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    second = submit(factory, cast, now + H, ROAD_AGAIN).order
    with pytest.raises(PermissionDenied):
        wo.merge(factory.ctx(cast["staff"], now + 2 * H), second, into=first.number)
    assert second.state != State.MERGED


def test_merging_into_an_archived_order_is_refused(factory, session, now, cast):
    staff = cast["staff"]
    first = submit(factory, cast, now, ROAD).order
    wo.resolve(factory.ctx(staff, now + H), first, result="已协调城管修复路面")
    wo.feedback(factory.ctx(staff, now + H), first)
    wo.visit(factory.ctx(staff, now + H), first, satisfaction="满意")
    second = submit(factory, cast, now + 2 * H, ROAD_AGAIN).order
    with pytest.raises(ValidationFailed, match="不能再并入"):
        wo.merge(factory.ctx(cast["dispatcher"], now + 3 * H), second, into=first.number)


def test_split_returns_the_order_to_its_state_and_its_clock(factory, session, now, cast):
    first, second = _merged(factory, session, now, cast)
    due = second.due_at
    with pytest.raises(ValidationFailed):
        wo.split(factory.ctx(cast["dispatcher"], now + 3 * H), second, reason="")
    with pytest.raises(PermissionDenied):
        wo.split(factory.ctx(cast["staff"], now + 3 * H), second, reason="并非同一路段")
    wo.split(factory.ctx(cast["dispatcher"], now + 26 * H), second, reason="并非同一路段，位置不同")
    assert second.state == State.DISPATCHED and second.merged_into_id is None and second.suspended_at is None
    assert second.due_at > due  # the merged time does not count
    assert wo.resolve_number(session, second.number) is second
    assert first.events[-1].action == Action.SPLIT and second.events[-1].action == Action.SPLIT
    assert session.scalars(select(AuditLog).where(AuditLog.action == "order.split")).one().target_id == second.number
    with pytest.raises(InvalidTransition):
        wo.split(factory.ctx(cast["dispatcher"], now + 27 * H), second, reason="再拆一次")
    # … and it can be handled on, or merged again.
    wo.sign(factory.ctx(cast["helper"], now + 27 * H), second)
    assert second.state == State.PROCESSING


def test_candidates_of_an_existing_order_for_the_merge_form(factory, session, now, cast):
    first = submit(factory, cast, now, ROAD).order
    second = submit(factory, cast, now + H, ROAD_AGAIN).order
    assert [m.earlier.number for m in wo.duplicates_of(session, second, cast["dispatcher"])] == [first.number]
    assert wo.duplicates_of(session, first, cast["dispatcher"]) == []
    other_staff = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    assert wo.duplicates_of(session, second, other_staff) == []  # not shown what one may not see


# --------------------------------------------------------------------------------------------
# Chat: 诉求 says how to link, 关联 links, 查询 of a merged number leads to the earlier order
# --------------------------------------------------------------------------------------------
def say(factory, person, when, text):
    from services.messaging import chat as chat_inbound

    return chat_inbound.handle_text(factory.ctx(person, when, channel="sandbox"), text)


def test_chat_request_names_the_earlier_order_and_links_it(factory, session, now, cast):
    staff, enterprise = cast["staff"], cast["enterprise"]
    first = submit(factory, cast, now, ROAD).order
    created = say(factory, staff, now + H, f"诉求 {enterprise.name} {ROAD_AGAIN}")
    assert created.ok, created.reply
    second = wo.get_order(session, created.order_number)
    assert f"已有相似诉求 {first.number}" in created.reply
    assert f"「关联 {second.number[-4:]} {first.number}」" in created.reply
    linked = say(factory, staff, now + 2 * H, f"关联 {second.number[-4:]} {first.number}")
    assert linked.ok, linked.reply
    assert second.duplicate_of_id == first.id and f"关联到 {first.number}" in linked.reply
    again = say(factory, staff, now + 2 * H, f"关联 {second.number} {first.number}")
    assert not again.ok and "已关联" in again.reply


def test_chat_query_of_a_merged_number_shows_the_earlier_order(factory, session, now, cast):
    first, second = _merged(factory, session, now, cast)
    shown = say(factory, cast["staff"], now + 3 * H, f"查询 {second.number}")
    assert shown.ok, shown.reply
    assert shown.reply.startswith(f"工单 {second.number} 已并入 {first.number}")
    assert f"工单 {first.number}（" in shown.reply and f"并入本单的重复诉求：{second.number}" in shown.reply
    assert say(factory, cast["staff"], now + 3 * H, f"查 {second.number}").reply == shown.reply


def test_a_merged_duplicates_caller_gets_the_result_once_and_tracks_it_by_their_own_number(factory, session, now,
                                                                                              cast):
    from services.orders import tracking

    staff, helper = cast["staff"], cast["helper"]
    first = submit(factory, cast, now, ROAD, level=2, department_id=cast["rsj"].id,
                   contact_phone="13800001111").order
    second = submit(factory, cast, now + H, ROAD_AGAIN, level=2, department_id=cast["rsj"].id,
                    contact_phone="13900002222").order
    third = submit(factory, cast, now + H, ROAD_AGAIN + "。", level=2, department_id=cast["rsj"].id,
                   contact_phone="13800001111").order
    for later in (second, third):
        wo.merge(factory.ctx(cast["dispatcher"], now + 2 * H), later, into=first.number)
    wo.sign(factory.ctx(helper, now + 3 * H), first)
    wo.resolve(factory.ctx(helper, now + 4 * H), first, result="已协调养护单位修复路面")
    wo.feedback(factory.ctx(staff, now + 5 * H), first)
    results = [m for m in session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "sms"))
               if m.payload.get("message") == "result"]
    # One text per contact number: the earlier order's caller and the other caller; not the same number twice.
    assert sorted(m.target_ref for m in results) == ["13800001111", "13900002222"]
    view = tracking.find(session, second.number, "2222")
    assert view is not None and view.number == first.number and view.merged_from == second.number
    assert view.result == "已协调养护单位修复路面"
    assert tracking.find(session, second.number, "1111") is None  # the code is that of the number asked about
