"""Tracking: the enterprise's no-login link, applied and granted marks, uptake per policy, zone and
staff member, and the weekly uptake digest to the owner department."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import AuditLog, OutboundMessage, Role
from models.policy import PolicyPush
from services.errors import InvalidTransition, NotFound, PermissionDenied
from services.messaging.notify import Channels
from services.policies import uptake as policy_stats
from services.policies.matching import items_for_enterprise
from services.policies.push import (
    UPTAKE_KIND,
    enterprise_pushes,
    find_by_token,
    forward_text,
    mark_applied,
    mark_applied_by_token,
    mark_granted,
    open_link,
    record_open,
    send_uptake_digests,
)
from tests.policies.conftest import published_item
from tests.policies.test_push import approved_campaign, deliver, run


@pytest.fixture
def pushed(session, session_factory, desk, factory, now):
    firms = [factory.enterprise(staff=desk.staff[i % 3], zone=desk.staff[i % 3].zone, size_band="小")
             for i in range(6)]
    item = published_item(session, desk, now, {"size_bands": ["小"]}, title="科技创新券",
                          item_title="创新券补贴", apply_until=now.date() + timedelta(days=40),
                          summary="最高补贴 10 万元")
    approved_campaign(session, desk, [item.id], now)
    run(session_factory, now)
    deliver(session_factory, now)
    run(session_factory, now + timedelta(seconds=20))
    pushes = {p.enterprise_id: p for p in session.scalars(select(PolicyPush))}
    return firms, item, [pushes[f.id] for f in firms]


def test_the_open_link_is_unguessable_and_records_opens(session, pushed, now):
    _firms, _item, pushes = pushed
    tokens = {p.open_token for p in pushes}
    assert len(tokens) == len(pushes) and all(len(t) == 32 for t in tokens)
    push = pushes[0]
    assert open_link(push) == f"/p/{push.open_token}"
    assert find_by_token(session, push.open_token.upper()).id == push.id
    for bad in ("", "x" * 32, push.open_token[:-1] + ("0" if push.open_token[-1] != "0" else "1"), "../etc"):
        assert find_by_token(session, bad) is None
    with pytest.raises(NotFound):
        record_open(session, "0" * 32, now)
    record_open(session, push.open_token, now + timedelta(hours=1))
    record_open(session, push.open_token, now + timedelta(hours=2))
    assert push.opened_at == now + timedelta(hours=1) and push.open_count == 2


def test_marks_applied_and_granted_with_the_right_people(session, pushed, desk, factory, now):
    firms, _item, pushes = pushed
    push = pushes[0]  # staff[0]'s enterprise
    with pytest.raises(PermissionDenied):
        mark_applied(session, push.id, desk.staff[1], now)
    other_zone_admin = factory.person(Role.ZONE_ADMIN, zone=desk.zones[3])
    if desk.staff[0].zone_id != desk.zones[3].id:
        with pytest.raises(PermissionDenied):
            mark_applied(session, push.id, other_zone_admin, now)
    mark_applied(session, push.id, desk.staff[0], now + timedelta(days=1))
    mark_applied(session, push.id, desk.leader, now + timedelta(days=2))  # idempotent: first mark kept
    assert push.applied_at == now + timedelta(days=1) and push.applied_by_id == desk.staff[0].id
    with pytest.raises(PermissionDenied):
        mark_granted(session, push.id, desk.staff[0], now)
    mark_granted(session, push.id, desk.helper, now + timedelta(days=9), note="已拨付 5 万元")
    assert push.granted_at and push.granted_note == "已拨付 5 万元"

    mark_applied_by_token(session, pushes[1].open_token, now + timedelta(days=3))
    assert pushes[1].applied_by_label == "企业自行标记" and pushes[1].opened_at is not None
    actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("policy.push.%"))
                              .order_by(AuditLog.id)).all()
    assert actions == ["policy.push.applied", "policy.push.granted", "policy.push.applied"], actions


def test_no_application_items_are_granted_not_applied(session, desk, factory, now):
    from services.policies.library import PolicyContext
    from services.policies.push import select_targets

    factory.enterprise(staff=desk.staff[0], zone=desk.zones[0])
    item = published_item(session, desk, now, {}, no_application=True, item_title="免申即享补贴")
    from services.policies.push import create_campaign, push_settings

    campaign = create_campaign(PolicyContext(session, desk.helper, now), [item.id])
    select_targets(session, campaign, item, now, push_settings(session))
    push = session.scalars(select(PolicyPush)).one()
    with pytest.raises(InvalidTransition):
        mark_applied(session, push.id, desk.staff[0], now)
    with pytest.raises(InvalidTransition):
        mark_applied_by_token(session, push.open_token, now)
    mark_granted(session, push.id, desk.leader, now)
    assert "免申即享，无需申报" in forward_text(push, "https://qy.tjbc.gov.cn")


def test_uptake_per_policy_zone_and_staff(session, pushed, desk, now):
    firms, item, pushes = pushed
    record_open(session, pushes[0].open_token, now)
    record_open(session, pushes[1].open_token, now)
    mark_applied(session, pushes[0].id, desk.staff[0], now)
    mark_applied(session, pushes[3].id, desk.staff[0], now)  # applied without opening the link
    mark_granted(session, pushes[0].id, desk.leader, now)

    total = policy_stats.totals(session, policy_id=item.policy_id)
    assert (total.pushed, total.opened, total.applied, total.granted) == (6, 2, 2, 1)
    assert total.rate("applied") == 33.3
    (row,) = policy_stats.by_policy(session, department_id=desk.department_id)
    assert row.title == "科技创新券" and row.funnel == total
    (item_row,) = policy_stats.by_item(session, item.policy_id)
    assert item_row.funnel.pushed == 6
    staff = {r.key: r.funnel for r in policy_stats.by_staff(session, policy_id=item.policy_id)}
    assert staff[desk.staff[0].id].applied == 2 and staff[desk.staff[1].id].opened == 1
    zones = policy_stats.by_zone(session, policy_id=item.policy_id)
    assert sum(z.funnel.pushed for z in zones) == 6
    assert policy_stats.totals(session, since=now + timedelta(days=1)).pushed == 0


def test_the_enterprise_sees_its_pushes_and_the_items_it_matches(session, pushed, desk, now):
    firms, item, pushes = pushed
    assert [p.id for p in enterprise_pushes(session, firms[0].id)] == [pushes[0].id]
    matched = items_for_enterprise(session, firms[0], now.date())
    assert [i.id for i, _ in matched] == [item.id]
    assert all(r.matched for r in matched[0][1])
    text = forward_text(pushes[0], "https://qy.tjbc.gov.cn")
    assert firms[0].name in text and "《科技创新券》中的「创新券补贴」" in text
    assert f"https://qy.tjbc.gov.cn/p/{pushes[0].open_token}" in text and "最高补贴 10 万元" in text


def test_the_weekly_uptake_digest_goes_once_a_week_to_the_owner_department(session, pushed, desk, now):
    channels = Channels(sandbox=True)
    assert send_uptake_digests(session, now, channels) == 1
    assert send_uptake_digests(session, now + timedelta(days=2), channels) == 1  # same week: same key
    rows = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == UPTAKE_KIND)).all()
    assert {int(r.target_ref) for r in rows} == {desk.leader.id, desk.helper.id}
    assert "《科技创新券》推送 6 → 查看 0 → 申报 0 → 兑现 0" in rows[0].payload["text"]
    send_uptake_digests(session, now + timedelta(days=7), channels)
    assert session.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.kind == UPTAKE_KIND)) == 4


def test_the_uptake_digest_waits_for_monday_nine(session, pushed, now):
    from services.policies.push import uptake_due

    monday_0859 = now - timedelta(hours=1, minutes=1)  # now is Monday 10:00 Beijing
    assert not uptake_due(monday_0859) and uptake_due(now) and uptake_due(now + timedelta(days=6, hours=13))
    assert send_uptake_digests(session, monday_0859, Channels(sandbox=True)) == 0
