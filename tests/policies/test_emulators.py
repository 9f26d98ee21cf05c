"""Campaigns through the WeCom and DingTalk emulators: one digest per staff member per campaign, the
department's robots and each member kept within their rates by the shared limiter."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from integrations.registry import adapters_for
from models import ChatGroup, OutboundMessage, OutboxStatus, Role, SystemSetting
from models.policy import CampaignStatus, PolicyPush, PushCampaign, PushStatus
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.policies.push import DIGEST_KIND, run_campaigns
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.dingtalk_fixtures import dingtalk_settings_for
from tests.emulators.fixtures import wecom_settings_for
from tests.policies.conftest import published_item, release
from tests.policies.test_push import approved_campaign

WECOM_ROBOT = "wecom-robot-gxj-policy"
DING_ROBOT, DING_SECRET = "dingrobotgxjpolicy01", "SECdingrobotgxjpolicysecret0123456789"
CAMPAIGNS = 12
CHANNELS = Channels(sandbox=False, wecom=True, dingtalk=True)


@pytest.fixture
def both_app(app, dingtalk_emulator, wecom_emulator):
    from application import create_app

    settings = app.extensions["settings"].with_overrides({
        "dingtalk": dingtalk_settings_for(dingtalk_emulator), "wecom": wecom_settings_for(wecom_emulator)})
    flask_app = create_app(settings=settings)
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


def test_digests_reach_each_staff_member_once_per_campaign_within_the_rates(
        both_app, session, session_factory, desk, factory, now, wecom_emulator, dingtalk_emulator):
    # The emulator's sliding minute follows the test's clock, which moves a window at a time.
    offset = [0.0]
    started = time.time()
    dingtalk_emulator.clock = lambda: started + offset[0]

    wx_staff = [factory.person(Role.SERVICE_STAFF, zone=desk.zones[0], name=f"企微专员{i}", wecom_userid=f"wx{i}")
                for i in range(4)]
    dd_staff = [factory.person(Role.SERVICE_STAFF, zone=desk.zones[1], name=f"钉钉专员{i}", dingtalk_userid=f"dd{i}")
                for i in range(4)]
    for person in wx_staff:
        wecom_emulator.add_user(person.wecom_userid, person.name)
        for _ in range(3):
            factory.enterprise(staff=person, zone=person.zone)
    for person in dd_staff:
        dingtalk_emulator.add_user(person.dingtalk_userid, person.name)
        for _ in range(3):
            factory.enterprise(staff=person, zone=person.zone)
    session.add_all([
        ChatGroup(platform="wecom", department_id=desk.department_id, name="工信局企微群", robot_key=WECOM_ROBOT),
        ChatGroup(platform="dingtalk", department_id=desk.department_id, name="工信局钉钉群", robot_key=DING_ROBOT,
                  robot_secret=DING_SECRET),
    ])
    wecom_emulator.add_robot(WECOM_ROBOT)
    dingtalk_emulator.add_robot(DING_ROBOT, DING_SECRET)
    session.merge(SystemSetting(key="policy_push_weekly_cap", value=CAMPAIGNS))
    items = [published_item(session, desk, now, {}, title=f"惠企政策{i}", item_title=f"事项{i}")
             for i in range(CAMPAIGNS)]
    session.commit()
    campaign_ids = [approved_campaign(session, desk, [item.id], now).id for item in items]
    release()

    run_campaigns(session_factory, now_fn=lambda: now, channels=CHANNELS)
    with session_factory() as s:
        digests = s.scalars(select(OutboundMessage).where(OutboundMessage.kind == DIGEST_KIND)).all()
        per = Counter((m.channel, m.target_ref, m.payload["campaign_id"]) for m in digests)
    assert len(per) == CAMPAIGNS * 8 and set(per.values()) == {1}

    adapters = adapters_for(both_app.extensions["settings"])
    limiter = DatabaseRateLimiter(session_factory)
    member_sends: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    robot_sends: dict[int, int] = defaultdict(int)
    ding_sends: dict[int, int] = defaultdict(int)
    step = 10
    for k in range(60):
        at = now + timedelta(seconds=k * step)
        offset[0] = k * step
        before_members = Counter(u for m in wecom_emulator.messages for u in m["touser"])
        before_robot = len(wecom_emulator.robot_messages(WECOM_ROBOT))
        before_ding = len(dingtalk_emulator.robot_messages(DING_ROBOT))
        while True:
            stats = deliver_due(session_factory, adapters, limiter, worker_id="policy-emu", now_fn=lambda at=at: at,
                                batch_size=100, max_attempts=3)
            assert stats.dead == 0, stats.errors
            if stats.claimed == 0:
                break
        after_members = Counter(u for m in wecom_emulator.messages for u in m["touser"])
        for user, n in (after_members - before_members).items():
            member_sends[user][k] += n
        robot_sends[k] += len(wecom_emulator.robot_messages(WECOM_ROBOT)) - before_robot
        ding_sends[k] += len(dingtalk_emulator.robot_messages(DING_ROBOT)) - before_ding
        with session_factory() as s:
            if not s.scalars(select(OutboundMessage.id).where(OutboundMessage.status != OutboxStatus.SENT)).first():
                break
    else:
        pytest.fail("the outbox did not drain")

    def busiest_minute(sends: dict[int, int]) -> int:
        """The most sends in any 60 s (six steps of 10 s)."""
        return max(sum(sends.get(k, 0) for k in range(first, first + 60 // step)) for first in range(60))

    # WeCom: each member at most 30 app messages in any minute, the robot 20; DingTalk's robot 20.
    assert max(busiest_minute(sends) for sends in member_sends.values()) <= 30
    assert busiest_minute(robot_sends) <= 20 and busiest_minute(ding_sends) <= 20
    assert max(sum(sends.values()) for sends in member_sends.values()) == CAMPAIGNS
    assert len(dingtalk_emulator.robot_messages(DING_ROBOT)) == CAMPAIGNS  # "started" lines

    # One digest per staff member per campaign, on their own platform.
    cards = Counter(u for m in wecom_emulator.messages if m["msgtype"] == "textcard" for u in m["touser"])
    assert cards == Counter({p.wecom_userid: CAMPAIGNS for p in wx_staff})
    for person in dd_staff:
        notices = dingtalk_emulator.notices_for(person.dingtalk_userid)
        assert len(notices) == CAMPAIGNS
        assert sum("你负责的 3 家企业符合" in str(n["msg"]) for n in notices) == CAMPAIGNS
    wecom_texts = [m["textcard"]["description"] for m in wecom_emulator.messages if m["msgtype"] == "textcard"]
    assert all("你负责的 3 家企业符合" in t for t in wecom_texts)

    run_campaigns(session_factory, now_fn=lambda: now + timedelta(minutes=15), channels=CHANNELS)
    assert len(wecom_emulator.robot_messages(WECOM_ROBOT)) == CAMPAIGNS
    with session_factory() as s:
        campaigns = s.scalars(select(PushCampaign).where(PushCampaign.id.in_(campaign_ids))).all()
        assert {c.status for c in campaigns} == {CampaignStatus.DONE}
        assert all((c.sent, c.failed, c.waiting) == (24, 0, 0) for c in campaigns)
        assert {p.status for p in s.scalars(select(PolicyPush))} == {PushStatus.SENT}
