"""/p/<token>: the enterprise's own policy page — matched items and why, deadlines, open recorded,
"已申报", training sign-up and questions; bad tokens, CSRF and rate limits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    PolicyPush,
    PolicyQuestion,
    PushStatus,
    TrainingInvitation,
    TrainingRegistration,
    TrainingStatus,
)
from services.policies import library as policies
from services.policies import training
from services.policies.library import PolicyContext
from services.policies.training import TrainingContext, local_input
from tests.policies_ui.conftest import fresh, settle, token_from

IP = {"REMOTE_ADDR": "203.0.113.40"}


@pytest.fixture
def pushed(session, world, now):
    """A published policy with two items; the first pushed to 精密机械 (and to 北仓配件), the second not."""
    ctx = PolicyContext(session, world.leader, now)
    policy = policies.create_policy(ctx, {"title": "北辰区促进高端装备制造业发展若干措施",
                                          "owner_department_id": world.gxj.id, "doc_number": "北辰政办规〔2026〕1号",
                                          "summary": "支持装备制造企业做大做强"})
    first = policies.add_item(ctx, policy.id, {
        "title": "首台（套）重大技术装备奖励", "summary": "最高奖励 200 万元", "apply_until": "2099-06-30",
        "how_to_apply": "登录天津市政务服务网申报", "contact": "工信局 26391234",
        "conditions": {"industries": ["C34"], "size_bands": ["小", "中"]}})
    second = policies.add_item(ctx, policy.id, {
        "title": "“2+3”产业企业贷款贴息", "no_application": "是", "conditions": {"key_industry": True}})
    policies.submit(ctx, policy.id)
    policies.publish(ctx, policy.id)
    rows = {}
    for enterprise in (world.precision, world.beicang_parts):
        rows[enterprise.id] = PolicyPush(
            enterprise_id=enterprise.id, item_id=first.id, staff_id=enterprise.service_staff_id,
            zone_id=enterprise.zone_id, status=PushStatus.SENT, open_token=secrets.token_hex(16), created_at=now,
            sent_at=now)
        session.add(rows[enterprise.id])
    session.commit()
    return {"policy": policy, "first": first, "second": second, "push": rows[world.precision.id],
            "other": rows[world.beicang_parts.id]}


def page(client, token, environ=IP):
    return client.get(f"/p/{token}", environ_base=environ)


def test_page_shows_matched_items_why_and_deadlines_and_records_opens(client, session, world, pushed):
    token = pushed["push"].open_token
    settle(session)
    response = page(client, token)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert world.precision.name in html and world.beicang_parts.name not in html
    assert "首台（套）重大技术装备奖励" in html and "申报截止 2099-06-30" in html and "最高奖励 200 万元" in html
    assert "为什么推荐给您" in html and "行业：C3484" in html and "企业规模：小型" in html
    # The second item was never pushed, but the enterprise matches it today ("2+3", 免申即享).
    assert "“2+3”产业企业贷款贴息" in html and "免申即享" in html and "新匹配" in html
    assert "为企服务专员：王服务" in html and "13500000001" in html
    assert html.index("首台（套）") < html.index("贷款贴息")  # the pushed item of this link first
    page(client, token)
    fresh(session)
    push = session.get(PolicyPush, pushed["push"].id)
    assert push.opened_at is not None and push.open_count == 2
    assert session.get(PolicyPush, pushed["other"].id).opened_at is None


@pytest.mark.parametrize("token", ["0" * 32, "not-a-token", "A" * 32 + "'--"])
def test_bad_token_is_a_friendly_404_and_writes_nothing(client, session, world, pushed, token):
    settle(session)
    response = page(client, token)
    assert response.status_code == 404 and "链接无效" in response.get_data(as_text=True)
    assert "86912345" in response.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.sum(PolicyPush.open_count))) == 0


def test_enterprise_marks_applied_only_its_own_items_with_csrf(client, session, world, pushed):
    token = pushed["push"].open_token
    own_id, other_id = pushed["push"].id, pushed["other"].id
    settle(session)
    html = page(client, token).get_data(as_text=True)
    csrf = token_from(html)
    assert client.post(f"/p/{token}/applied", data={"push_id": own_id}, environ_base=IP).status_code == 400
    foreign = client.post(f"/p/{token}/applied", data={"csrf_token": csrf, "push_id": other_id}, environ_base=IP)
    assert foreign.status_code == 403 and "只能标记本企业" in foreign.get_data(as_text=True)
    done = client.post(f"/p/{token}/applied", data={"csrf_token": csrf, "push_id": own_id}, environ_base=IP)
    assert done.status_code == 302
    html = client.get(done.headers["Location"], environ_base=IP).get_data(as_text=True)
    assert "已记录：贵企业已申报该事项" in html and "✓ 已申报" in html
    fresh(session)
    push = session.get(PolicyPush, own_id)
    assert push.applied_at is not None and push.applied_by_label == "企业自行标记"
    assert session.get(PolicyPush, other_id).applied_at is None


def test_training_sign_up_from_the_page(client, session, world, pushed):
    real_now = datetime.now(UTC)
    ctx = TrainingContext(session, world.helper, real_now)
    form = {"title": "首台套政策申报培训", "kind": "培训", "place": "区政务服务中心", "department_id": str(world.gxj.id),
            "starts_at": local_input(real_now + timedelta(days=5)),
            "ends_at": local_input(real_now + timedelta(days=5, hours=2)), "capacity": "30"}
    invited = training.save_event(ctx, None, form)
    training.set_status(ctx, invited, TrainingStatus.OPEN)
    about_policy = training.save_event(ctx, None, {**form, "title": "装备政策咨询会", "kind": "咨询会",
                                                   "policy_id": str(pushed["policy"].id)})
    training.set_status(ctx, about_policy, TrainingStatus.OPEN)
    elsewhere = training.save_event(ctx, None, {**form, "title": "与本企业无关的宣讲"})
    training.set_status(ctx, elsewhere, TrainingStatus.OPEN)
    session.add(TrainingInvitation(event_id=invited.id, enterprise_id=world.precision.id, staff_id=world.staff.id,
                                   invited_at=real_now))
    session.commit()
    ids = invited.id, about_policy.id, elsewhere.id
    token = pushed["push"].open_token
    html = page(client, token).get_data(as_text=True)
    assert "首台套政策申报培训" in html and "装备政策咨询会" in html and "与本企业无关的宣讲" not in html
    csrf = token_from(html)
    bad = client.post(f"/p/{token}/events/{ids[0]}/register", data={"csrf_token": csrf, "contact_name": "",
                                                                     "contact_phone": "abc"}, environ_base=IP)
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "请填写参会联系人" in text and "联系电话格式不正确" in text
    ok = client.post(f"/p/{token}/events/{ids[0]}/register",
                     data={"csrf_token": csrf, "contact_name": "张经理", "contact_phone": "13800001111"}, environ_base=IP)
    assert ok.status_code == 302
    assert client.post(f"/p/{token}/events/{ids[1]}/register", data={
        "csrf_token": csrf, "contact_name": "李会计", "contact_phone": "022-26391234"}, environ_base=IP).status_code == 302
    refused = client.post(f"/p/{token}/events/{ids[2]}/register", data={
        "csrf_token": csrf, "contact_name": "张经理", "contact_phone": "13800001111"}, environ_base=IP)
    assert refused.status_code == 403 and "未邀请贵企业" in refused.get_data(as_text=True)
    again = client.post(f"/p/{token}/events/{ids[0]}/register", data={
        "csrf_token": csrf, "contact_name": "张经理", "contact_phone": "13800001111"}, environ_base=IP)
    assert again.status_code == 409 and "无需重复报名" in again.get_data(as_text=True)
    assert "✓ 已报名（联系人 张经理）" in page(client, token).get_data(as_text=True)
    fresh(session)
    rows = session.scalars(select(TrainingRegistration).order_by(TrainingRegistration.id)).all()
    assert [(r.event_id, r.channel, r.registered_by_id) for r in rows] == [
        (ids[0], "policy_page", None), (ids[1], "policy_page", None)]


def test_question_from_the_page_is_kept_and_answered(client, session, world, pushed):
    token = pushed["push"].open_token
    policy_id = pushed["policy"].id
    settle(session)
    csrf = token_from(page(client, token).get_data(as_text=True))
    short = client.post(f"/p/{token}/questions", data={"csrf_token": csrf, "question": "能报吗"}, environ_base=IP)
    assert short.status_code == 422 and "至少 5 个字" in short.get_data(as_text=True)
    asked = client.post(f"/p/{token}/questions", data={
        "csrf_token": csrf, "question": "去年已获首台套奖励，今年新产品还能申报吗？", "asked_by": "财务部 张女士",
        "contact_phone": "13800001111", "policy_id": "999999"}, environ_base=IP)
    assert asked.status_code == 302
    fresh(session)
    question = session.scalar(select(PolicyQuestion))
    assert (question.enterprise_id, question.policy_id, question.channel, question.asked_by) == (
        world.precision.id, policy_id, "policy_page", "财务部 张女士")
    training.answer(TrainingContext(session, world.helper, datetime.now(UTC)), question,
                    {"answer": "新产品可以单独申报。", "published_to_kb": "1"})
    session.commit()
    html = page(client, token).get_data(as_text=True)
    assert "答：</strong>新产品可以单独申报。" in html


def test_rate_limited_per_address_with_chinese_429(client, session, world, pushed):
    token = pushed["push"].open_token
    settle(session)
    with time_machine.travel(datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC), tick=False):
        other = {"REMOTE_ADDR": "203.0.113.41"}
        for _ in range(60):
            assert page(client, token, other).status_code == 200
        refused = page(client, token, other)
        assert refused.status_code == 429 and "访问过于频繁" in refused.get_data(as_text=True)
        assert int(refused.headers["Retry-After"]) >= 1
        assert page(client, token, {"REMOTE_ADDR": "203.0.113.42"}).status_code == 200
    fresh(session)
    assert session.get(PolicyPush, pushed["push"].id).open_count == 61
