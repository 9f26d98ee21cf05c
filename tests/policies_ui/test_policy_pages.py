"""The policy library pages: list, create and edit with items and conditions, review → publish →
retire by role, the match preview, xlsx import with its template, campaigns and their approval."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from jobs.scheduler import run_job_now
from models import (
    AuditLog,
    CampaignStatus,
    ImportJob,
    OutboundMessage,
    Policy,
    PolicyItem,
    PolicyPush,
    PolicyStatus,
    PushCampaign,
)
from services.policies import library as policies
from services.policies.library import PolicyContext
from tests.policies_ui.conftest import fresh, login, page_token, settle, token_from


def published_policy(session, world, now, **item):
    ctx = PolicyContext(session, world.leader, now)
    policy = policies.create_policy(ctx, {"title": "北辰区促进高端装备制造业发展若干措施", "level": "district",
                                          "owner_department_id": world.gxj.id, "summary": "支持装备制造企业做大做强"})
    values = {"title": "首台（套）重大技术装备奖励", "apply_until": "2099-06-30",
              "conditions": {"industries": ["C34"], "key_industry": True}}
    values.update(item)
    policies.add_item(ctx, policy.id, values)
    policies.submit(ctx, policy.id)
    policies.publish(ctx, policy.id)
    session.commit()
    return policy


def test_list_and_navigation_by_role(client, session, world, now):
    published_policy(session, world, now)
    settle(session)
    login(client, "staff")
    html = client.get("/policies/").get_data(as_text=True)
    assert ">政策</a>" in html and "北辰区促进高端装备制造业发展若干措施" in html
    assert "录入政策" not in html and "/policies/trainings" in html
    assert client.get("/policies/new").status_code == 403
    assert client.get("/policies/?status=draft").get_data(as_text=True).count("高端装备") == 0
    login(client, "helper")
    assert "录入政策" in client.get("/policies/").get_data(as_text=True)


def test_create_policy_validates_in_chinese_and_needs_csrf(client, session, world):
    settle(session)
    login(client, "helper")
    assert client.post("/policies/new", data={"title": "x"}).status_code == 400
    token = page_token(client, "/policies/new")
    bad = client.post("/policies/new", data={"csrf_token": token, "title": "", "owner_department_id": "",
                                             "source_url": "ftp://x", "valid_from": "2026-05-01",
                                             "valid_until": "2026-01-01"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for message in ("请填写政策名称", "请选择牵头部门", "原文链接应以 http:// 或 https:// 开头", "失效日期不能早于生效日期"):
        assert message in html
    other = client.post("/policies/new", data={"csrf_token": token, "title": "人社政策", "owner_department_id": world.rsj.id})
    assert other.status_code == 422 and "只能以本部门" in other.get_data(as_text=True)
    created = client.post("/policies/new", data={"csrf_token": token, "title": "北辰区科技型企业培育办法",
                                                 "level": "district", "owner_department_id": world.gxj.id,
                                                 "doc_number": "北辰工信规〔2026〕1号"})
    assert created.status_code == 302
    fresh(session)
    policy = session.scalar(select(Policy).where(Policy.title == "北辰区科技型企业培育办法"))
    assert policy.status == PolicyStatus.DRAFT and policy.created_by_id == world.helper.id
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "policy.create")) == 1


def _item_form(token, **over):
    data = {"csrf_token": token, "title": "研发投入后补助", "summary": "按研发投入的 10% 给予补助",
            "apply_from": "2026-03-01", "apply_until": "2026-05-31", "c_submitted": "1", "c_active_only": "1",
            "c_industries": "C34、C35", "c_size_bands": ["小", "中"], "c_chain_positions": ["链主", "核心配套"],
            "c_key_industry": "yes", "c_qualifications": "高新技术企业，专精特新中小企业", "c_age_min_years": "3"}
    data.update(over)
    return data


def test_item_with_conditions_preview_then_save(client, session, world):
    ctx = PolicyContext(session, world.helper, world.helper.created_at)
    policy_id = policies.create_policy(ctx, {"title": "装备政策", "owner_department_id": world.gxj.id}).id
    session.commit()
    login(client, "helper")
    token = page_token(client, f"/policies/{policy_id}/items/new")
    invalid = client.post(f"/policies/{policy_id}/items/new",
                          data=_item_form(token, c_industries="机械", c_age_min_years="9", c_age_max_years="2"))
    html = invalid.get_data(as_text=True)
    assert invalid.status_code == 422
    assert "行业代码应为 GB/T 4754 门类或代码" in html and "成立年限上限不能小于下限" in html
    assert 'value="机械"' in html  # what was typed stays

    preview = client.post(f"/policies/{policy_id}/items/new", data=_item_form(token, intent="preview"))
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "匹配预览（未保存）" in html
    # 精密机械 (小, 核心配套, 高企, 2015) and 齿轮 (中, 链主, 专精特新, 2008) match; 注销 one does not.
    assert re.search(r'data-testid="match-total">2<', html)
    assert "天津天穆精密机械有限公司" in html and "天津已注销机械有限公司" not in html
    fresh(session)
    assert session.scalar(select(func.count(PolicyItem.id))) == 0
    settle(session)

    saved = client.post(f"/policies/{policy_id}/items/new", data=_item_form(token))
    assert saved.status_code == 302
    fresh(session)
    item = session.scalar(select(PolicyItem))
    item_id = item.id
    assert item.conditions == {
        "industries": ["C34", "C35"], "size_bands": ["中", "小"], "chain_positions": ["链主", "核心配套"],
        "key_industry": True, "qualifications": ["高新技术企业", "专精特新中小企业"], "age_min_years": 3,
        "active_only": True,
    }
    settle(session)
    edit = client.get(f"/policies/items/{item_id}/edit").get_data(as_text=True)
    assert 'name="c_size_bands" value="小" checked' in edit and 'value="yes" checked' in edit


def test_review_publish_retire_by_role(client, session, world, now):
    ctx = PolicyContext(session, world.helper, now)
    policy = policies.create_policy(ctx, {"title": "装备政策", "owner_department_id": world.gxj.id})
    session.commit()
    login(client, "helper")
    token = page_token(client, f"/policies/{policy.id}")
    early = client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "publish"})
    assert early.status_code == 409 and "不能发布" in early.get_data(as_text=True)
    assert client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "submit"}).status_code == 302
    no_items = client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "publish"})
    assert no_items.status_code == 422 and "至少要有一个申报事项" in no_items.get_data(as_text=True)
    policies.add_item(PolicyContext(session, world.helper, now), policy.id, {"title": "奖励", "conditions": {}})
    session.commit()

    for outsider in ("other", "bizenv", "staff"):
        login(client, outsider)
        token = page_token(client, f"/policies/{policy.id}")
        refused = client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "publish"})
        assert refused.status_code == 403, outsider
    login(client, "leader")
    token = page_token(client, f"/policies/{policy.id}")
    page = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "发布</button>" in page and "退回修改" in page
    assert client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "publish"}).status_code == 302
    no_reason = client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "retire"})
    assert no_reason.status_code == 302  # a reason is optional for 废止
    fresh(session)
    assert session.get(Policy, policy.id).status == PolicyStatus.RETIRED
    assert {a for (a,) in session.execute(select(AuditLog.action).where(AuditLog.action.like("policy.%")))} >= {
        "policy.create", "policy.submit", "policy.publish", "policy.retire"}


def test_send_back_needs_a_note(client, session, world, now):
    ctx = PolicyContext(session, world.helper, now)
    policy = policies.create_policy(ctx, {"title": "装备政策", "owner_department_id": world.gxj.id})
    policies.submit(ctx, policy.id)
    session.commit()
    login(client, "leader")
    token = page_token(client, f"/policies/{policy.id}")
    empty = client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "send_back"})
    assert empty.status_code == 422 and "请说明需要修改的地方" in empty.get_data(as_text=True)
    client.post(f"/policies/{policy.id}/transition", data={"csrf_token": token, "action": "send_back", "note": "补充文号"})
    login(client, "helper")
    assert "审核退回意见：补充文号" in client.get(f"/policies/{policy.id}").get_data(as_text=True)


def test_item_preview_page_counts_and_explains(client, session, world, now):
    policy = published_policy(session, world, now)
    item = policy.items[0]
    login(client, "staff")
    html = client.get(f"/policies/items/{item.id}/preview").get_data(as_text=True)
    # C34 + "2+3": 精密机械 (天穆, 王服务), 齿轮 (天穆, 王服务), 无人服务机械 (北仓, no staff); 北仓配件 is C36.
    assert re.search(r'data-testid="match-total">3<', html)
    assert "天穆镇" in html and "北仓镇" in html and "王服务" in html and "未分配服务人员" in html
    assert "C3484" in html and "（要求 C34）" in html
    assert "发起推送" not in html  # a service staff member does not start pushes


def test_import_template_and_upload(client, session, world):
    settle(session)
    login(client, "helper")
    template = client.get("/policies/import/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    token = page_token(client, "/policies/import")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["政策名称", "发文机关", "政策层级", "文号", "牵头部门", "申报事项", "申报截止日期", "行业代码", "企业规模",
                  "片区"])
    sheet.append(["北辰区智能制造专项", "北辰区工信局", "北辰区", "北辰工信〔2026〕2号", "工信局", "智能化改造补助",
                  "2026-09-30", "C34", "中,小", "天穆镇"])
    sheet.append(["北辰区智能制造专项", "北辰区工信局", "北辰区", "北辰工信〔2026〕2号", "工信局", "数字化车间奖励",
                  "2026-09-30", "C34", "特大", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    response = client.post("/policies/import", data={"csrf_token": token, "file": (buffer, "政策.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302  # queued: the jobs process reads the file
    job_url = response.headers["Location"]
    assert "正在导入" in client.get(job_url).get_data(as_text=True)
    settle(session)
    assert "已完成" in run_job_now(client.application, "run_imports")
    html = client.get(job_url).get_data(as_text=True)
    assert "新增政策 1 个" in html and "新增事项 1 个" in html and "未导入 1 行" in html
    assert "企业规模只能是" in html
    report = re.search(r'href="(/policies/import/\d+/errors\.xlsx)"', html).group(1)
    rows = list(load_workbook(io.BytesIO(client.get(report).data), read_only=True).active.values)
    assert rows[1][0] == 3 and "企业规模只能是" in rows[1][3]
    login(client, "staff")
    assert client.get(job_url).status_code == 404  # another person's import
    login(client, "helper")
    token = page_token(client, "/policies/import")
    missing = client.post("/policies/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择要导入的 Excel 文件" in missing.get_data(as_text=True)
    fresh(session)
    item = session.scalar(select(PolicyItem).where(PolicyItem.title == "智能化改造补助"))
    assert item.conditions["zone_ids"] == [world.tianmu.id] and item.policy.status == PolicyStatus.DRAFT


def test_campaign_only_owner_department_approves_and_progress_is_polled(app, client, session, world, now):
    policy = published_policy(session, world, now)
    item = policy.items[0]
    policy_id = policy.id
    login(client, "staff")
    assert client.get(f"/policies/campaigns/new?policy_id={policy.id}").status_code == 403
    login(client, "helper")
    page = client.get(f"/policies/campaigns/new?policy_id={policy.id}&item_id={item.id}").get_data(as_text=True)
    assert "匹配预览：首台（套）重大技术装备奖励" in page
    token = token_from(page)
    none = client.post("/policies/campaigns/new", data={"csrf_token": token, "policy_id": policy.id})
    assert none.status_code == 422 and "请选择要推送的申报事项" in none.get_data(as_text=True)
    created = client.post("/policies/campaigns/new", data={"csrf_token": token, "policy_id": policy.id,
                                                           "item_ids": [item.id]})
    assert created.status_code == 302
    fresh(session)
    campaign = session.scalar(select(PushCampaign))
    assert campaign.status == CampaignStatus.DRAFT
    url = f"/policies/campaigns/{campaign.id}"
    settle(session)

    for outsider in ("staff", "other", "bizenv"):
        login(client, outsider)
        html = client.get(url).get_data(as_text=True)
        assert "审批通过" not in html
        refused = client.post(f"{url}/approve", data={"csrf_token": token_from(html)})
        assert refused.status_code == 403 and "只有牵头部门" in refused.get_data(as_text=True), outsider
    login(client, "leader")
    html = client.get(url).get_data(as_text=True)
    assert "审批通过" in html and "审批前预览" in html
    assert client.post(f"{url}/approve", data={}).status_code == 400  # CSRF
    assert client.post(f"{url}/approve", data={"csrf_token": token_from(html)}).status_code == 302
    progress = client.get(f"{url}/progress", headers={"Accept": "application/json"}).get_json()
    assert progress["status"] == "approved" and progress["done"] is False

    from jobs.scheduler import run_job_now

    run_job_now(app, "policy_campaigns")
    run_job_now(app, "deliver_outbox")
    run_job_now(app, "policy_campaigns")
    progress = client.get(f"{url}/progress").get_json()
    # Three matches: two through 王服务's digest, one (no staff, 北仓 has no zone admin) page only.
    assert progress["status"] == "done" and progress["sent"] == 3 and progress["failed"] == 0, progress
    fresh(session)
    digests = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "policy_digest")).all()
    assert [m.target_ref for m in digests] == [str(world.staff.id)]
    settle(session)
    html = client.get(url).get_data(as_text=True)
    assert "天津天穆精密机械有限公司" in html and "标记已兑现" in html
    push = session.scalar(select(PolicyPush).where(PolicyPush.enterprise_id == world.precision.id))
    settle(session)
    token = token_from(html)
    assert client.post(f"/policies/pushes/{push.id}/granted", data={"csrf_token": token, "next": url}).status_code == 302
    login(client, "staff")
    assert client.post(f"/policies/pushes/{push.id}/granted",
                       data={"csrf_token": page_token(client)}).status_code == 403
    uptake = client.get(f"/policies/uptake?policy_id={policy_id}").get_data(as_text=True)
    assert re.search(r'data-testid="pushed">3<', uptake) and re.search(r'data-testid="granted">1<', uptake)


def test_a_zip_bomb_policy_file_is_refused_at_upload(client, session, world, zip_bomb_file):
    settle(session)
    login(client, "helper")
    token = page_token(client, "/policies/import")
    with open(zip_bomb_file, "rb") as handle:
        response = client.post("/policies/import", data={"csrf_token": token, "file": (handle, "政策.xlsx")},
                               content_type="multipart/form-data")
    assert response.status_code == 422 and "压缩炸弹" in response.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(func.count(ImportJob.id))) == 0
