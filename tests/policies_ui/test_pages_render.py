"""Every policy page renders for the roles that use it; edits of policies, attachments, events and
registrations; pausing, resuming and cancelling a campaign."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import CampaignStatus, Policy, PushCampaign, TrainingRegistration, TrainingStatus
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import training
from services.policies.library import PolicyContext
from services.policies.training import TrainingContext, local_input
from tests.policies_ui.conftest import fresh, login, page_token, settle

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def setup_world(session, world, now):
    ctx = PolicyContext(session, world.leader, now)
    policy = policies.create_policy(ctx, {"title": "装备政策", "owner_department_id": world.gxj.id})
    item = policies.add_item(ctx, policy.id, {"title": "奖励", "apply_until": "2099-01-01",
                                              "conditions": {"industries": "C34", "zone_ids": [world.tianmu.id]}})
    policies.publish(ctx, policies.submit(ctx, policy.id).id)
    campaign = policy_push.create_campaign(ctx, [item.id])
    real_now = datetime.now(UTC)
    tctx = TrainingContext(session, world.helper, real_now)
    event = training.save_event(tctx, None, {
        "title": "装备政策培训", "kind": "培训", "place": "会议室", "department_id": str(world.gxj.id),
        "policy_id": str(policy.id), "starts_at": local_input(real_now + timedelta(days=2)),
        "ends_at": local_input(real_now + timedelta(days=2, hours=1))}, {"industries": "C34"})
    training.set_status(tctx, event, TrainingStatus.OPEN)
    registration = training.register(TrainingContext(session, world.staff, real_now), event, world.precision,
                                      {"contact_name": "张经理", "contact_phone": "13800001111"})
    session.commit()
    return policy.id, item.id, campaign.id, event.id, registration.id


def test_every_page_renders(client, session, world, now):
    policy_id, item_id, campaign_id, event_id, _ = setup_world(session, world, now)
    pages = ["/policies/", f"/policies/{policy_id}", f"/policies/items/{item_id}/preview", "/policies/import",
             "/policies/campaigns", f"/policies/campaigns?policy_id={policy_id}", f"/policies/campaigns/{campaign_id}",
             "/policies/uptake", f"/policies/uptake?policy_id={policy_id}&days=30", "/policies/trainings",
             f"/policies/trainings?policy_id={policy_id}&status=open", f"/policies/trainings/{event_id}",
             "/policies/questions", "/policies/questions?tab=all", "/policies/questions?tab=kb"]
    for username in ("admin", "leader", "staff", "zoneadmin", "bizenv"):
        login(client, username)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, (username, path, response.get_data(as_text=True)[:300])
    login(client, "leader")
    for path in (f"/policies/{policy_id}/edit", f"/policies/items/{item_id}/edit", "/policies/new",
                 f"/policies/campaigns/new?policy_id={policy_id}", "/policies/trainings/new",
                 f"/policies/trainings/{event_id}/edit"):
        assert client.get(path).status_code == 200, path
    assert client.get("/policies/999999").status_code == 404
    assert client.get("/policies/trainings/999999").status_code == 404


def test_edit_policy_and_attachments(client, session, world, now, upload_root):
    policy_id, *_ = setup_world(session, world, now)
    login(client, "helper")
    token = page_token(client, f"/policies/{policy_id}/edit")
    bad = client.post(f"/policies/{policy_id}/edit", data={"csrf_token": token, "title": "",
                                                          "owner_department_id": world.gxj.id})
    assert bad.status_code == 422 and "请填写政策名称" in bad.get_data(as_text=True)
    ok = client.post(f"/policies/{policy_id}/edit", data={"csrf_token": token, "title": "装备政策（修订）",
                                                         "owner_department_id": world.gxj.id, "level": "city"})
    assert ok.status_code == 302
    empty = client.post(f"/policies/{policy_id}/attachments", data={"csrf_token": token},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择要上传的文件" in empty.get_data(as_text=True)
    uploaded = client.post(f"/policies/{policy_id}/attachments", data={
        "csrf_token": token, "attachments": (io.BytesIO(PDF), "政策原文.pdf")}, content_type="multipart/form-data")
    assert uploaded.status_code == 302
    fresh(session)
    policy = session.get(Policy, policy_id)
    assert policy.title == "装备政策（修订）" and policy.level == "city"
    sha = policy.attachments[0]["sha256"]
    settle(session)
    download = client.get(f"/policies/{policy_id}/attachments/{sha}")
    assert download.status_code == 200 and download.data == PDF
    login(client, "staff")
    assert client.post(f"/policies/{policy_id}/attachments/{sha}/remove",
                       data={"csrf_token": page_token(client)}).status_code == 403
    login(client, "helper")
    assert client.post(f"/policies/{policy_id}/attachments/{sha}/remove",
                       data={"csrf_token": page_token(client)}).status_code == 302
    assert client.get(f"/policies/{policy_id}/attachments/{sha}").status_code == 404


def test_campaign_pause_resume_cancel(client, session, world, now):
    _, _, campaign_id, _, _ = setup_world(session, world, now)
    url = f"/policies/campaigns/{campaign_id}"
    login(client, "leader")
    token = page_token(client, url)
    paused = client.post(f"{url}/pause", data={"csrf_token": token}, follow_redirects=True)
    assert "不能暂停" in paused.get_data(as_text=True)
    client.post(f"{url}/approve", data={"csrf_token": token, "scheduled_for": "2099-01-01T09:30"})
    fresh(session)
    assert session.get(PushCampaign, campaign_id).scheduled_for == datetime(2099, 1, 1, 1, 30, tzinfo=UTC)
    settle(session)
    client.post(f"{url}/pause", data={"csrf_token": token})
    client.post(f"{url}/resume", data={"csrf_token": token})
    client.post(f"{url}/cancel", data={"csrf_token": token})
    fresh(session)
    assert session.get(PushCampaign, campaign_id).status == CampaignStatus.CANCELLED


def test_edit_event_and_cancel_registration(client, session, world, now):
    _, _, _, event_id, registration_id = setup_world(session, world, now)
    url = f"/policies/trainings/{event_id}"
    login(client, "helper")
    token = page_token(client, url)
    bad = client.post(f"{url}/edit", data={"csrf_token": token, "title": "装备政策培训", "kind": "培训",
                                           "department_id": world.gxj.id, "starts_at": "明天", "ends_at": "",
                                           "place": "会议室"})
    assert bad.status_code == 422 and "请填写开始时间" in bad.get_data(as_text=True)
    start = datetime.now(UTC) + timedelta(days=3)
    ok = client.post(f"{url}/edit", data={"csrf_token": token, "title": "装备政策培训（改期）", "kind": "培训",
                                          "department_id": world.gxj.id, "starts_at": local_input(start),
                                          "ends_at": local_input(start + timedelta(hours=2)), "place": "会议室",
                                          "c_submitted": "1", "c_active_only": "1", "c_industries": "C34"})
    assert ok.status_code == 302
    login(client, "staff2")
    assert client.post(f"{url}/registrations/{registration_id}/cancel",
                       data={"csrf_token": page_token(client)}).status_code == 403
    login(client, "staff")
    assert client.post(f"{url}/registrations/{registration_id}/cancel",
                       data={"csrf_token": page_token(client)}).status_code == 302
    fresh(session)
    assert session.scalar(select(TrainingRegistration)) is None
