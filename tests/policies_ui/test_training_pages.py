"""Training and consultation pages: create (organisers only), invite, sign-up by staff in the
console and on the phone, attendance after the start, questions answered and kept for the KB;
and the staff member's H5 digest of a policy campaign with its forward texts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from models import (
    OutboundMessage,
    PolicyPush,
    PolicyQuestion,
    PushCampaign,
    TrainingEvent,
    TrainingInvitation,
    TrainingRegistration,
    TrainingStatus,
)
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import training
from services.policies.library import PolicyContext
from services.policies.training import TrainingContext, local_input
from tests.policies_ui.conftest import fresh, login, page_token, settle, token_from


def event_form(token, world, start, **over):
    data = {"csrf_token": token, "title": "高端装备企业政策培训", "kind": "培训", "department_id": str(world.gxj.id),
            "starts_at": local_input(start), "ends_at": local_input(start + timedelta(hours=2)),
            "place": "区政务服务中心三楼", "capacity": "20", "c_submitted": "1", "c_active_only": "1",
            "c_industries": "C34", "c_key_industry": "yes"}
    data.update(over)
    return data


def test_organiser_creates_opens_and_invites(client, session, world):
    settle(session)
    login(client, "staff")
    assert client.get("/policies/trainings/new").status_code == 403
    assert "新建活动" not in client.get("/policies/trainings").get_data(as_text=True)
    login(client, "helper")
    token = page_token(client, "/policies/trainings/new")
    start = datetime.now(UTC) + timedelta(days=7)
    invalid = client.post("/policies/trainings/new", data=event_form(
        token, world, start, title="", ends_at=local_input(start - timedelta(hours=1)), place="", c_industries="机械"))
    html = invalid.get_data(as_text=True)
    assert invalid.status_code == 422
    for message in ("请填写活动名称", "结束时间必须晚于开始时间", "请填写活动地点或线上会议链接", "行业代码应为"):
        assert message in html
    created = client.post("/policies/trainings/new", data=event_form(token, world, start))
    assert created.status_code == 302
    url = created.headers["Location"]
    html = client.get(url).get_data(as_text=True)
    # Audience: C34 + "2+3", operating → 精密机械, 齿轮 (王服务) and 无人服务机械 (no staff).
    assert "邀请范围预览" in html and re.search(r'data-testid="match-total">3<', html)
    token = token_from(html)
    event_id = int(url.rsplit("/", 1)[1])
    early = client.post(f"{url}/invite", data={"csrf_token": token})
    assert early.status_code == 302
    assert "请先开放报名" in client.get(url).get_data(as_text=True)
    client.post(f"{url}/status", data={"csrf_token": token, "status": "open"})
    invited = client.post(f"{url}/invite", data={"csrf_token": token}, follow_redirects=True)
    assert "已邀请 3 家企业，向 1 名为企服务人员发送了名单" in invited.get_data(as_text=True)
    assert "1 家未配备服务人员" in invited.get_data(as_text=True)
    again = client.post(f"{url}/invite", data={"csrf_token": token}, follow_redirects=True)
    assert "均已邀请过" in again.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.count(TrainingInvitation.id))) == 3
    notices = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "notice")).all()
    assert [m.target_ref for m in notices] == [str(world.staff.id)]
    assert notices[0].payload["url"] == f"/m/trainings/{event_id}"
    settle(session)

    login(client, "other")
    html = client.get(url).get_data(as_text=True)
    assert "发送邀请" not in html
    refused = client.post(f"{url}/invite", data={"csrf_token": token_from(html)})
    assert refused.status_code == 403


def _open_event(session, world, start, **over):
    ctx = TrainingContext(session, world.helper, start - timedelta(days=3))
    form = {"title": "高端装备企业政策培训", "kind": "培训", "place": "区政务服务中心", "department_id": str(world.gxj.id),
            "starts_at": local_input(start), "ends_at": local_input(start + timedelta(hours=2)), "capacity": "2"}
    form.update(over)
    event = training.save_event(ctx, None, form, {"industries": "C34", "key_industry": True})
    training.set_status(ctx, event, TrainingStatus.OPEN)
    training.invite(ctx, event)
    session.commit()
    return event


def test_staff_signs_up_in_console_and_on_the_phone(client, session, world):
    start = datetime.now(UTC) + timedelta(days=3)
    event = _open_event(session, world, start)
    event_id = event.id
    settle(session)
    login(client, "staff")
    url = f"/policies/trainings/{event_id}"
    html = client.get(url).get_data(as_text=True)
    assert "我负责的受邀企业（2 家）" in html and "代企业报名" in html
    token = token_from(html)
    unknown = client.post(f"{url}/register", data={"csrf_token": token, "enterprise": "不存在的公司",
                                                   "contact_name": "张", "contact_phone": "13800001111"})
    assert unknown.status_code == 422 and "未找到该企业" in unknown.get_data(as_text=True)
    not_mine = client.post(f"{url}/register", data={"csrf_token": token, "enterprise": world.beicang_parts.uscc,
                                                    "contact_name": "张", "contact_phone": "13800001111"})
    assert not_mine.status_code == 403
    ok = client.post(f"{url}/register", data={"csrf_token": token, "enterprise": world.precision.name,
                                              "contact_name": "张经理", "contact_phone": "13800001111"})
    assert ok.status_code == 302

    phone = client.get(f"/m/trainings/{event_id}")
    html = phone.get_data(as_text=True)
    assert phone.status_code == 200 and "你负责的 2 家企业受邀参加培训《高端装备企业政策培训》" in html
    assert 'data-copy="tw-' in html and "已报名：张经理" in html and "policy_mobile.js" in html
    assert "style=" not in html.split("<main", 1)[1]  # CSP: no inline styles under /m
    bad = client.post(f"/m/trainings/{event_id}/register", data={
        "csrf_token": token_from(html), "enterprise_id": world.gears.id, "contact_name": "", "contact_phone": ""})
    assert bad.status_code == 422 and "请填写参会联系人" in bad.get_data(as_text=True)
    done = client.post(f"/m/trainings/{event_id}/register", data={
        "csrf_token": token_from(html), "enterprise_id": world.gears.id, "contact_name": "刘总",
        "contact_phone": "13900002222"})
    assert done.status_code == 302
    fresh(session)
    rows = session.scalars(select(TrainingRegistration).order_by(TrainingRegistration.id)).all()
    assert [(r.enterprise_id, r.registered_by_id) for r in rows] == [
        (world.precision.id, world.staff.id), (world.gears.id, world.staff.id)]
    shop_name = world.shop.name
    settle(session)
    login(client, "zoneadmin")
    full = client.post(f"{url}/register", data={"csrf_token": page_token(client, url), "enterprise": shop_name,
                                                "contact_name": "店主", "contact_phone": "13700003333"})
    assert full.status_code == 409 and "名额（2 个）已满" in full.get_data(as_text=True)


def test_attendance_after_the_start_and_questions(client, session, world):
    start = datetime.now(UTC) + timedelta(days=1)
    event = _open_event(session, world, start)
    ctx = TrainingContext(session, world.staff, start - timedelta(days=1))
    a = training.register(ctx, event, world.precision, {"contact_name": "甲", "contact_phone": "13800000001"})
    b = training.register(ctx, event, world.gears, {"contact_name": "乙", "contact_phone": "13800000002"})
    event_id, a_id, b_id = event.id, a.id, b.id
    precision_id, precision_uscc = world.precision.id, world.precision.uscc
    session.commit()
    url = f"/policies/trainings/{event_id}"
    login(client, "helper")
    token = page_token(client, url)
    early = client.post(f"{url}/attendance", data={"csrf_token": token, "attended": [a_id]}, follow_redirects=True)
    assert "活动尚未开始，不能登记签到" in early.get_data(as_text=True)
    # The event began an hour ago.
    fresh(session)
    moved = session.get(TrainingEvent, event_id)
    moved.starts_at = datetime.now(UTC) - timedelta(hours=1)
    moved.ends_at = datetime.now(UTC) + timedelta(hours=1)
    session.commit()
    html = client.get(url).get_data(as_text=True)
    assert 'name="attended"' in html
    saved = client.post(f"{url}/attendance", data={"csrf_token": token, "attended": [a_id]}, follow_redirects=True)
    assert "已登记签到：1 家到场" in saved.get_data(as_text=True)
    login(client, "staff")
    assert client.post(f"{url}/attendance", data={"csrf_token": page_token(client, url), "attended": [b_id]}).status_code == 403
    fresh(session)
    assert [session.get(TrainingRegistration, i).attended for i in (a_id, b_id)] == [True, False]
    settle(session)

    # A staff member records a question put at the event; the organiser answers it for the KB.
    short = client.post(f"{url}/questions", data={"csrf_token": page_token(client, url), "question": "好"})
    assert short.status_code == 422 and "至少 5 个字" in short.get_data(as_text=True)
    asked = client.post(f"{url}/questions", data={"csrf_token": page_token(client, url), "asked_by": "张经理",
                                                  "enterprise": precision_uscc,
                                                  "question": "首台套认定需要第三方检测报告吗？"})
    assert asked.status_code == 302
    fresh(session)
    question = session.scalar(select(PolicyQuestion))
    question_id = question.id
    assert (question.event_id, question.enterprise_id, question.channel) == (event_id, precision_id, "event")
    settle(session)
    assert client.post(f"/policies/questions/{question_id}/answer", data={
        "csrf_token": page_token(client, url), "answer": "需要"}).status_code == 403
    login(client, "helper")
    listing = client.get("/policies/questions").get_data(as_text=True)
    token = token_from(listing)
    assert "首台套认定需要第三方检测报告吗？" in listing and "答复</button>" in listing
    empty = client.post(f"/policies/questions/{question_id}/answer", data={"csrf_token": token, "answer": ""},
                        follow_redirects=True)
    assert "请填写答复内容" in empty.get_data(as_text=True)
    client.post(f"/policies/questions/{question_id}/answer", data={
        "csrf_token": token, "answer": "需要省级以上检测机构出具的报告。", "published_to_kb": "1"})
    kb = client.get("/policies/questions?tab=kb").get_data(as_text=True)
    assert "需要省级以上检测机构出具的报告。" in kb and "已纳入知识库" in kb
    client.post(f"/policies/questions/{question_id}/publish", data={"csrf_token": token, "published_to_kb": "0"})
    fresh(session)
    assert session.get(PolicyQuestion, question_id).published_to_kb is False


def test_mobile_digest_lists_my_enterprises_with_forward_texts(app, client, session, world, now):
    ctx = PolicyContext(session, world.leader, now)
    policy = policies.create_policy(ctx, {"title": "北辰区促进高端装备制造业发展若干措施",
                                          "owner_department_id": world.gxj.id})
    item = policies.add_item(ctx, policy.id, {"title": "首台（套）重大技术装备奖励", "apply_until": "2099-06-30",
                                              "conditions": {"industries": ["C34"], "key_industry": True}})
    policies.publish(ctx, policies.submit(ctx, policy.id).id)
    campaign = policy_push.create_campaign(ctx, [item.id])
    policy_push.approve_campaign(ctx, campaign.id)
    campaign_id = campaign.id
    session.commit()
    from jobs.scheduler import run_job_now

    run_job_now(app, "policy_campaigns")
    run_job_now(app, "deliver_outbox")
    run_job_now(app, "policy_campaigns")
    fresh(session)
    digest = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "policy_digest"))
    assert digest.target_ref == str(world.staff.id) and "你负责的 2 家企业符合" in digest.payload["text"]
    push = session.scalar(select(PolicyPush).where(PolicyPush.enterprise_id == world.precision.id))
    push_id, open_token = push.id, push.open_token
    assert session.get(PushCampaign, campaign_id).status == "done"
    names = (world.precision.name, world.gears.name, world.orphan.name)
    staff_id = world.staff.id
    settle(session)

    login(client, "staff")
    for path in (f"/m/policies/{campaign_id}", digest.payload["url"]):
        html = client.get(path).get_data(as_text=True)
        assert "你负责的 2 家企业符合《北辰区促进高端装备制造业发展若干措施》" in html, path
    assert names[0] in html and names[1] in html and names[2] not in html
    assert f"http://127.0.0.1:5000/p/{open_token}" in html and "复制转发语" in html
    assert "符合：行业（C3484 机械零部件加工）；“2+3”产业体系（是）" in html
    marked = client.post(f"/m/policies/pushes/{push_id}/applied", data={
        "csrf_token": token_from(html), "campaign_id": campaign_id})
    assert marked.status_code == 302
    login(client, "staff2")
    html = client.get(f"/m/policies/{campaign_id}").get_data(as_text=True)
    assert "你负责的 0 家企业" in html and names[0] not in html
    refused = client.post(f"/m/policies/pushes/{push_id}/applied", data={"csrf_token": page_token(client)})
    assert refused.status_code == 403
    fresh(session)
    assert session.get(PolicyPush, push_id).applied_by_id == staff_id
