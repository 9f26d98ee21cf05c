"""Push campaigns in-process: approval, one digest per staff member, never the same item twice,
the weekly cap, quiet hours, the daily schedule, deadline reminders, cancelling."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from integrations.sandbox import SandboxAdapter
from models import Enterprise, OutboundMessage, OutboxStatus, Person, Role, SandboxMessage, SystemSetting
from models.policy import CampaignKind, CampaignStatus, PolicyPush, PushCampaign, PushStatus
from services.errors import InvalidTransition, PermissionDenied
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.policies.library import PolicyContext
from services.policies.matching import count_matches, parse_conditions
from services.policies.push import (
    DIGEST_KIND,
    EXTERNAL_SKIPPED_NOTE,
    approve_campaign,
    cancel_campaign,
    create_campaign,
    in_quiet_hours,
    parse_quiet_hours,
    push_settings,
    quiet_hours_end,
    run_campaigns,
    staff_pushes,
)
from services.ratelimit import DatabaseRateLimiter
from tests.policies.conftest import generate_profiles, published_item, release

SANDBOX = Channels(sandbox=True)
BJ = timedelta(hours=8)


def beijing(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - BJ


def run(session_factory, at: datetime):
    release()
    return run_campaigns(session_factory, now_fn=lambda: at, channels=SANDBOX)


def deliver(session_factory, at: datetime):
    release()
    total = 0
    limiter = DatabaseRateLimiter(session_factory)
    while True:
        stats = deliver_due(session_factory, {"sandbox": SandboxAdapter()}, limiter, worker_id="policy-test",
                            now_fn=lambda: at, batch_size=200, max_attempts=3)
        total += stats.sent
        if stats.claimed == 0:
            return total


def approved_campaign(session, desk, item_ids, now, **kw) -> PushCampaign:
    campaign = create_campaign(PolicyContext(session, desk.helper, now), item_ids, **kw)
    approve_campaign(PolicyContext(session, desk.leader, now), campaign.id)
    session.commit()
    return campaign


def set_setting(session, key, value):
    row = session.get(SystemSetting, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        row.value = value
    session.commit()


def digests_by_person(session_factory) -> Counter:
    release()
    with session_factory() as s:
        return Counter(int(ref) for ref in s.scalars(select(OutboundMessage.target_ref).where(
            OutboundMessage.kind == DIGEST_KIND, OutboundMessage.channel == "sandbox")))


def matched_operating(session, item) -> set[int]:
    from services.policies.matching import match_select

    return set(session.scalars(match_select(parse_conditions(item.conditions), date(2026, 3, 2), session, Enterprise.id)))


def test_a_campaign_tells_each_matched_enterprise_once_through_one_digest_per_staff_member(
        session, session_factory, desk, factory, now):
    admin = factory.person(Role.ZONE_ADMIN, zone=desk.zones[0], name="天穆片区管理员")
    generate_profiles(session, desk, 500, seed=21, unassigned_share=0.15)
    item = published_item(session, desk, now, {"size_bands": ["小", "微"]})
    campaign = approved_campaign(session, desk, [item.id], now)
    expected = matched_operating(session, item)
    release()
    with session_factory() as s:
        staff_of = dict(s.execute(select(Enterprise.id, Enterprise.service_staff_id)).all())
        zone_of = dict(s.execute(select(Enterprise.id, Enterprise.zone_id)).all())

    report = run(session_factory, now)
    assert report.started == 1 and report.targets == len(expected)

    # One digest per staff member with enterprises; the unassigned ones of 天穆镇 to its admin.
    digests = digests_by_person(session_factory)
    staff_with = {staff_of[e] for e in expected if staff_of[e] is not None}
    assert set(digests) == staff_with | {admin.id}
    assert all(n == 1 for n in digests.values())
    with session_factory() as s:
        pushes = s.scalars(select(PolicyPush).where(PolicyPush.campaign_id == campaign.id)).all()
        assert {p.enterprise_id for p in pushes} == expected
        assert all(p.digest_key for p in pushes if p.staff_id is not None)
        one = s.scalars(select(OutboundMessage).where(OutboundMessage.kind == DIGEST_KIND,
                                                      OutboundMessage.target_ref == str(desk.staff[0].id))).one()
        mine = sum(1 for e in expected if staff_of[e] == desk.staff[0].id)
        assert f"你负责的 {mine} 家企业符合《测试政策》：「测试事项」" in one.payload["text"]
        assert one.payload["url"] == f"/m/policy-campaigns/{campaign.id}"
        # Unassigned enterprises outside a zone with an administrator are on their page only.
        page_only = [p for p in pushes if p.staff_id is None and zone_of[p.enterprise_id] != desk.zones[0].id]
        assert page_only and all(p.status == PushStatus.SENT for p in page_only)

    assert deliver(session_factory, now) == sum(digests.values()) + 1  # and the department group line
    run(session_factory, now + timedelta(seconds=30))
    with session_factory() as s:
        c = s.get(PushCampaign, campaign.id)
        assert c.status == CampaignStatus.DONE
        assert (c.sent, c.waiting, c.failed, c.total) == (len(expected), 0, 0, len(expected))
        assert EXTERNAL_SKIPPED_NOTE in c.notes
        assert s.scalar(select(func.count()).select_from(PolicyPush).where(PolicyPush.status != PushStatus.SENT)) == 0
        assert len(staff_pushes(s, campaign.id, s.get(Person, desk.staff[0].id))) == mine
        # The owner department's group heard the start and the end.
        assert s.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.kind == "status", OutboundMessage.target_type == "group")) == 2

    # The same item again: every enterprise was told already, nothing is pushed or sent.
    with session_factory() as s:
        again = approved_campaign(s, desk, [item.id], now + timedelta(minutes=5))
        again_id = again.id
    before = digests_by_person(session_factory)
    run(session_factory, now + timedelta(minutes=6))
    with session_factory() as s:
        c = s.get(PushCampaign, again_id)
        assert c.status == CampaignStatus.DONE and c.sent == 0 and c.already_pushed == len(expected)
        assert s.scalar(select(func.count()).select_from(PolicyPush)) == len(expected)
    assert digests_by_person(session_factory) == before


def test_the_weekly_cap_holds_enterprises_back_until_the_window_rolls(session, session_factory, desk, factory, now):
    people = [factory.enterprise(staff=desk.staff[0], zone=desk.zones[0]) for _ in range(5)]
    items = [published_item(session, desk, now, {}, title=f"政策{i}", item_title=f"事项{i}") for i in range(3)]
    session.commit()
    ids = [approved_campaign(session, desk, [item.id], now).id for item in items]

    run(session_factory, now)
    with session_factory() as s:
        per_enterprise = Counter(s.scalars(select(PolicyPush.enterprise_id)))
        assert all(per_enterprise[e.id] == 2 for e in people)  # cap 2 a week
        third = s.get(PushCampaign, ids[2])
        assert third.status == CampaignStatus.RUNNING
        assert (third.sent, third.waiting, third.capped) == (0, 5, 5)
        assert "本周推送已达上限" in "".join(third.notes)
    deliver(session_factory, now)

    run(session_factory, now + timedelta(days=6, hours=23))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PolicyPush).where(PolicyPush.campaign_id == ids[2])) == 0
    later = now + timedelta(days=7, minutes=1)
    run(session_factory, later)
    deliver(session_factory, later)
    run(session_factory, later + timedelta(seconds=20))
    with session_factory() as s:
        third = s.get(PushCampaign, ids[2])
        assert third.status == CampaignStatus.DONE and third.sent == 5 and third.waiting == 0
        assert s.scalar(select(func.count()).select_from(PolicyPush)) == 15
    # The staff member got one digest per campaign.
    assert digests_by_person(session_factory) == Counter({desk.staff[0].id: 3})

    set_setting(session, "policy_push_weekly_cap", 0)
    assert push_settings(session).weekly_cap == 0


def test_nothing_is_sent_inside_quiet_hours(session, session_factory, desk, factory, now):
    factory.enterprise(staff=desk.staff[1], zone=desk.staff[1].zone)
    item = published_item(session, desk, now, {})
    campaign = approved_campaign(session, desk, [item.id], now)
    settings = push_settings(session)
    assert settings.quiet_hours == parse_quiet_hours("21:00-08:00")
    night = beijing(2026, 3, 2, 22, 30)
    assert in_quiet_hours(settings, night) and in_quiet_hours(settings, beijing(2026, 3, 3, 7, 59))
    assert not in_quiet_hours(settings, beijing(2026, 3, 3, 8, 0))
    assert quiet_hours_end(settings, night) == beijing(2026, 3, 3, 8, 0)

    report = run(session_factory, night)
    assert report.quiet
    with session_factory() as s:
        assert s.get(PushCampaign, campaign.id).status == CampaignStatus.APPROVED
        assert s.scalar(select(func.count()).select_from(PolicyPush)) == 0
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 0

    run(session_factory, beijing(2026, 3, 3, 8, 0))
    assert sum(digests_by_person(session_factory).values()) == 1

    set_setting(session, "policy_quiet_hours", "")
    assert not in_quiet_hours(push_settings(session), night)


def test_running_campaign_stops_writing_digests_when_quiet_hours_begin(session, session_factory, desk, factory):
    at = beijing(2026, 3, 2, 20, 59)
    for person in desk.staff:
        factory.enterprise(staff=person, zone=person.zone)
    item = published_item(session, desk, at, {})
    campaign = approved_campaign(session, desk, [item.id], at)
    ticks = iter([at, at] + [beijing(2026, 3, 2, 21, 0)] * 100)
    run_campaigns(session_factory, now_fn=lambda: next(ticks), channels=SANDBOX)
    written = sum(digests_by_person(session_factory).values())
    assert written < len(desk.staff)
    run(session_factory, beijing(2026, 3, 3, 8, 1))
    assert digests_by_person(session_factory) == Counter({p.id: 1 for p in desk.staff})
    with session_factory() as s:
        assert s.get(PushCampaign, campaign.id).digests == len(desk.staff)


def test_only_the_owner_department_approves(session, session_factory, desk, factory, now):
    item = published_item(session, desk, now, {})
    ctx = PolicyContext(session, desk.helper, now)
    campaign = create_campaign(ctx, [item.id])
    other = factory.person(Role.DEPT_LEADER, department=factory.department("kjj"))
    for outsider in (desk.staff[0], other, factory.person(Role.BIZENV_OFFICE, department=factory.department(
            "bizenv_office"))):
        with pytest.raises(PermissionDenied):
            approve_campaign(PolicyContext(session, outsider, now), campaign.id)
    with pytest.raises(PermissionDenied):
        create_campaign(PolicyContext(session, desk.staff[0], now), [item.id])
    session.commit()
    run(session_factory, now)  # a draft never runs
    with session_factory() as s:
        assert s.get(PushCampaign, campaign.id).status == CampaignStatus.DRAFT
    admin = factory.person(Role.SYSADMIN)
    approve_campaign(PolicyContext(session, admin, now), campaign.id)
    with pytest.raises(InvalidTransition):
        approve_campaign(PolicyContext(session, desk.leader, now), campaign.id)


def test_scheduled_for_is_respected(session, session_factory, desk, factory, now):
    factory.enterprise(staff=desk.staff[0], zone=desk.zones[0])
    item = published_item(session, desk, now, {})
    campaign = approved_campaign(session, desk, [item.id], now, scheduled_for=now + timedelta(hours=3))
    run(session_factory, now + timedelta(hours=2, minutes=59))
    with session_factory() as s:
        assert s.get(PushCampaign, campaign.id).status == CampaignStatus.APPROVED
    run(session_factory, now + timedelta(hours=3))
    with session_factory() as s:
        assert s.get(PushCampaign, campaign.id).status == CampaignStatus.RUNNING


def test_newly_published_items_go_out_at_the_push_time_on_working_days(session, session_factory, desk, factory):
    factory.enterprise(staff=desk.staff[0], zone=desk.zones[0])
    friday_noon = beijing(2026, 3, 6, 12, 0)
    item = published_item(session, desk, friday_noon, {})
    session.commit()
    for at in (beijing(2026, 3, 6, 12, 5), beijing(2026, 3, 7, 10, 0), beijing(2026, 3, 8, 10, 0),
               beijing(2026, 3, 9, 9, 29)):  # later on Friday, the weekend, Monday before 09:30
        assert run(session_factory, at).created == 0
    report = run(session_factory, beijing(2026, 3, 9, 9, 30))
    assert report.created == 1 and report.started == 1 and report.digests == 1
    assert run(session_factory, beijing(2026, 3, 9, 9, 31)).created == 0
    with session_factory() as s:
        campaign = s.scalars(select(PushCampaign)).one()
        assert campaign.kind == CampaignKind.NEW_ITEM and campaign.item_ids == [item.id]
        assert campaign.approved_by_id == desk.helper.id  # the publisher


def test_a_manually_pushed_item_is_not_pushed_again_by_the_daily_job(session, session_factory, desk, factory, now):
    factory.enterprise(staff=desk.staff[0], zone=desk.zones[0])
    item = published_item(session, desk, now - timedelta(days=1), {})
    approved_campaign(session, desk, [item.id], now)
    assert run(session_factory, now).created == 0


def test_a_reminder_goes_to_those_not_yet_applied_seven_days_before_the_window_closes(
        session, session_factory, desk, factory, now):
    from services.policies.push import mark_applied

    firms = [factory.enterprise(staff=desk.staff[i % 2], zone=desk.staff[i % 2].zone) for i in range(4)]
    item = published_item(session, desk, now, {}, apply_until=date(2026, 3, 20))
    approved_campaign(session, desk, [item.id], now)
    run(session_factory, now)
    deliver(session_factory, now)
    run(session_factory, now + timedelta(minutes=1))
    with session_factory() as s:
        applied = s.scalar(select(PolicyPush).where(PolicyPush.enterprise_id == firms[0].id))
        mark_applied(s, applied.id, s.get(Person, desk.staff[0].id), now + timedelta(days=1))
        s.commit()

    assert run(session_factory, beijing(2026, 3, 12, 10, 0)).created == 0  # 8 days before
    report = run(session_factory, beijing(2026, 3, 13, 9, 30))  # Friday, 7 days before the 20th
    assert report.created == 1
    with session_factory() as s:
        reminder = s.scalars(select(PushCampaign).where(PushCampaign.kind == CampaignKind.DEADLINE_REMINDER)).one()
        reminded = s.scalars(select(PolicyPush).where(PolicyPush.reminder_campaign_id == reminder.id)).all()
        assert {p.enterprise_id for p in reminded} == {f.id for f in firms[1:]}
        texts = s.scalars(select(OutboundMessage.payload).where(
            OutboundMessage.kind == DIGEST_KIND, OutboundMessage.dedupe_key.like(f"policy:{reminder.id}:%"))).all()
        assert len(texts) == 2 and all("尚未申报" in t["text"] and "2026-03-20" in t["text"] for t in texts)
        assert s.scalar(select(func.count()).select_from(PolicyPush)) == 4  # nothing pushed twice
    deliver(session_factory, beijing(2026, 3, 13, 9, 31))
    assert run(session_factory, beijing(2026, 3, 13, 9, 32)).created == 0
    assert run(session_factory, beijing(2026, 3, 16, 9, 40)).created == 0
    with session_factory() as s:
        reminder = s.get(PushCampaign, reminder.id)
        assert reminder.status == CampaignStatus.DONE and reminder.sent == 3
        assert all(p.reminded_at is not None for p in s.scalars(select(PolicyPush).where(
            PolicyPush.reminder_campaign_id == reminder.id)))


def test_cancelling_releases_enterprises_not_yet_named_in_a_digest(session, session_factory, desk, factory, now):
    factory.enterprise(staff=desk.staff[0], zone=desk.zones[0])
    item = published_item(session, desk, now, {})
    campaign = approved_campaign(session, desk, [item.id], now)
    from services.policies.push import select_targets

    with session_factory() as s:
        c = s.get(PushCampaign, campaign.id)
        c.status = CampaignStatus.RUNNING
        assert select_targets(s, c, c.items[0], now, push_settings(s)) == 1
        s.commit()
    with session_factory() as s:
        cancel_campaign(PolicyContext(s, s.get(Person, desk.leader.id), now), campaign.id)
        s.commit()
        assert s.scalar(select(func.count()).select_from(PolicyPush)) == 0
    assert count_matches(session, parse_conditions({}), date(2026, 3, 2)) == 1


def test_the_sandbox_shows_the_digest_to_the_staff_member(session, session_factory, desk, factory, now):
    factory.enterprise(staff=desk.staff[2], zone=desk.staff[2].zone, name="天津北辰精工有限公司")
    item = published_item(session, desk, now, {}, title="北辰区高端装备十条")
    approved_campaign(session, desk, [item.id], now)
    run(session_factory, now)
    deliver(session_factory, now)
    with session_factory() as s:
        text = s.scalar(select(SandboxMessage.text).where(SandboxMessage.conversation == f"person:{desk.staff[2].id}"))
    assert "你负责的 1 家企业符合《北辰区高端装备十条》" in text and "天津北辰精工有限公司" in text
    assert OutboxStatus.SENT


def test_enterprises_with_a_contact_mobile_also_get_the_item_by_text(session, session_factory, desk, factory, now):
    """Policy pushes that match the enterprise reach it directly too: one text per enterprise with
    its own absolute /p/ link; a number that replied TD gets nothing."""
    from models import SmsOptOut

    generate_profiles(session, desk, 30, seed=5, unassigned_share=0.0)
    item = published_item(session, desk, now, {})
    expected = sorted(matched_operating(session, item))
    phones = {}
    for index, enterprise_id in enumerate(expected[:3]):
        enterprise = session.get(Enterprise, enterprise_id)
        enterprise.contact_phone = f"1380000{index:04d}"
        phones[enterprise_id] = enterprise.contact_phone
    session.add(SmsOptOut(phone=phones[expected[2]], method="admin", created_at=now))
    session.commit()
    approved_campaign(session, desk, [item.id], now)
    release()
    run_campaigns(session_factory, now_fn=lambda: now, channels=SANDBOX, base_url="https://qy.tjbc.gov.cn")
    with session_factory() as s:
        texts = s.scalars(select(OutboundMessage).where(OutboundMessage.channel == "sms")).all()
        assert sorted(m.target_ref for m in texts) == sorted([phones[expected[0]], phones[expected[1]]])
        for message in texts:
            assert message.payload["message"] == "policy"
            assert message.payload["params"][1].startswith("https://qy.tjbc.gov.cn/p/")
