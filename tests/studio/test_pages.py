"""配置中心 pages: the administrator reads, imports (preview → confirm), restores and edits aliases."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from models import ConfigRevision, Role
from tests.handlers.test_console import login, page_token


def test_only_the_administrator_enters_and_an_import_is_previewed_then_applied(app, client, factory, session,
                                                                               session_factory):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度", login="dispatcher")
    session.commit()
    dispatcher = app.test_client()
    login(dispatcher, "dispatcher")
    assert dispatcher.get("/studio/").status_code == 403
    login(client, "admin")
    page = client.get("/studio/")
    assert page.status_code == 200 and "内置默认" in page.get_data(as_text=True)
    exported = client.get("/studio/export.yaml")
    assert exported.status_code == 200 and "dispatch_rules" in exported.get_data(as_text=True)

    token = page_token(client, "/studio/")
    broken = client.post("/studio/import", data={"csrf_token": token, "reason": "坏的", "file": (
        io.BytesIO("command_aliases:\n  收到: 不存在\n".encode()), "c.yaml")}, content_type="multipart/form-data")
    assert broken.status_code == 422 and "command_aliases.收到：未知命令「不存在」" in broken.get_data(as_text=True)
    preview = client.post("/studio/import", data={"csrf_token": token, "reason": "加别名", "file": (
        io.BytesIO("command_aliases:\n  收到: 报到\n".encode()), "c.yaml")}, content_type="multipart/form-data")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "新增「收到」" in html and "确认导入" in html
    with session_factory() as s:
        assert s.scalar(select(func.count(ConfigRevision.id))) == 0  # a preview writes nothing
    done = client.post("/studio/import", data={"csrf_token": token, "confirm": "1", "reason": "加别名",
                                               "text": "command_aliases:\n  收到: 报到\n"})
    assert done.status_code == 302
    with session_factory() as s:
        revision = s.scalar(select(ConfigRevision))
        assert revision.document["command_aliases"] == {"收到": "报到"} and revision.actor_label == "周管理"


def test_aliases_page_saves_a_revision_and_refuses_a_taken_word(client, factory, session, session_factory):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    session.commit()
    login(client, "admin")
    token = page_token(client, "/studio/aliases")
    saved = client.post("/studio/aliases", data={"csrf_token": token, "alias": ["收到", ""], "command": ["报到", "报到"],
                                                 "reason": "各部门习惯说收到"})
    assert saved.status_code == 302
    refused = client.post("/studio/aliases", data={"csrf_token": token, "alias": ["办结"], "command": ["报到"]})
    assert refused.status_code == 422 and "已是命令「办结」的用词" in refused.get_data(as_text=True)
    with session_factory() as s:
        assert [r.document["command_aliases"] for r in s.scalars(select(ConfigRevision))] == [{"收到": "报到"}]
    page = client.get("/studio/").get_data(as_text=True)
    assert "各部门习惯说收到" in page and "恢复到此版本" not in page  # the only revision is the current one


def test_lists_page_changes_the_2_plus_3_flag_and_a_stage_lead(client, factory, session, session_factory):
    from models import IndustryTag, ServiceStage

    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    session.commit()
    login(client, "admin")
    page = client.get("/studio/lists")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    with session_factory() as s:
        tags = list(s.scalars(select(IndustryTag).order_by(IndustryTag.sort_order, IndustryTag.id)))
        stages = list(s.scalars(select(ServiceStage).order_by(ServiceStage.sort_order, ServiceStage.id)))
    form = {"csrf_token": page_token(client, "/studio/lists"), "reason": "调整"}
    for index, tag in enumerate(tags):
        form[f"industry-{index}-name"] = tag.name
        form[f"industry-{index}-codes"] = tag.gbt_sections.replace(",", "、")
        if tag.is_key_industry != (index == 0):  # flip the first one
            form[f"industry-{index}-key"] = "1"
    assert "高端装备制造" in html or tags[0].name in html
    saved = client.post("/studio/lists", data=form)
    assert saved.status_code == 302
    with session_factory() as s:
        assert s.get(IndustryTag, tags[0].id).is_key_industry != tags[0].is_key_industry
        assert s.get(ServiceStage, stages[0].id).lead_department_id is None  # left unselected in the form
    form["industry-0-codes"] = "X99"
    refused = client.post("/studio/lists", data=form)
    assert refused.status_code == 422 and "industries[0].codes" in refused.get_data(as_text=True)


def test_forms_page_adds_reorders_removes_and_shows_every_problem(client, factory, session, session_factory):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    session.commit()
    login(client, "admin")
    page = client.get("/studio/forms?domain=公共服务").get_data(as_text=True)
    assert "表单字段" in page and "「公共服务」的字段" in page and "<script>" not in page
    token = page_token(client, "/studio/forms")
    base = {"csrf_token": token, "domain": "公共服务", "rows": "3", "reason": "增加涉及人数"}
    saved = client.post("/studio/forms", data={
        **base, "r0.key": "employees", "r0.label": "涉及人数", "r0.type": "number", "r0.required": "1",
        "r0.min": "1", "r0.unit": "人", "r0.order": "2",
        "r1.key": "kind", "r1.label": "问题类别", "r1.type": "choice", "r1.options": "用工、社保", "r1.public": "1",
        "r1.order": "1"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with session_factory() as s:
        revision = s.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc()))
        assert revision.document["forms"]["公共服务"] == [
            {"key": "kind", "label": "问题类别", "type": "choice", "options": ["用工", "社保"], "public": True},
            {"key": "employees", "label": "涉及人数", "type": "number", "required": True, "min": 1, "unit": "人"}]
        assert revision.actor_label == "周管理" and revision.reason == "增加涉及人数"
    refused = client.post("/studio/forms", data={
        **base, "r0.key": "Bad Key", "r0.label": "甲", "r0.type": "choice",
        "r1.key": "n", "r1.label": "数", "r1.type": "number", "r1.min": "5", "r1.max": "1"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "forms.公共服务[0].key" in html and "forms.公共服务[0].options" in html and "下限大于上限" in html
    removed = client.post("/studio/forms", data={
        **base, "r0.key": "kind", "r0.label": "问题类别", "r0.type": "choice", "r0.options": "用工、社保",
        "r0.remove": "1", "r1.key": "employees", "r1.label": "涉及人数", "r1.type": "number"})
    assert removed.status_code == 302
    with session_factory() as s:
        revision = s.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc()))
        assert revision.document["forms"]["公共服务"] == [{"key": "employees", "label": "涉及人数", "type": "number"}]
        assert s.scalar(select(func.count(ConfigRevision.id))) == 2
