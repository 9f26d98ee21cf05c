"""Every outbound text comes from an editable template: defaults keep the old wording, an edit takes
effect and can be undone, a bad edit is refused naming the template, the sandbox holds, and the
editor previews a real order on every channel."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2.exceptions import SecurityError, UndefinedError
from sqlalchemy import func, select

from models import ConfigRevision, OutboundMessage, Role
from services.errors import ValidationFailed
from services.messaging import message_templates  # noqa: F401  (the registry, complete)
from services.messaging.notify import Channels, local_time, order_summary
from services.orders import operations as wo
from services.orders.alerts import run_sla_watchdog
from services.studio import store, templates
from services.studio.templates import TEMPLATES
from tests.handlers.test_console import login, page_token

ROOT = Path(__file__).resolve().parents[2]
BJ = ZoneInfo("Asia/Shanghai")


def bj(month, day, hour):
    return datetime(2026, month, day, hour, tzinfo=BJ)


def outbox(session, order, kind, target_type="person"):
    return list(session.scalars(select(OutboundMessage).where(
        OutboundMessage.work_order_id == order.id, OutboundMessage.kind == kind,
        OutboundMessage.target_type == target_type).order_by(OutboundMessage.id)))


@pytest.fixture
def cast(factory):
    rsj = factory.department("rsj")
    return {"rsj": rsj, "staff": factory.person(Role.SERVICE_STAFF, name="张服务"),
            "helper": factory.person(Role.CHIEF_HELPER, department=rsj, name="王帮办")}


def test_defaults_send_the_wording_of_before(session, factory, cast, now):
    store.invalidate()
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id)
    card = outbox(session, order, "card")[0].payload
    assert card["title"] == f"吹哨报到：{order.number}"
    assert card["text"] == f"{order.enterprise.name}：{order_summary(order, 120)}"
    ctx = factory.ctx(cast["helper"], now)
    wo.sign(ctx, order)
    status = [m.payload["text"] for m in outbox(session, order, "status", "group")]
    assert f"【已报到】{ctx.actor_label} 已报到 {order.number}，办理时限 {local_time(order.due_at)}。" in status
    signed = [m.payload for m in outbox(session, order, "notice") if m.payload["title"] == "首席帮办已报到"]
    assert signed and signed[0]["text"].startswith(f"{ctx.actor_label} 已报到并牵头办理，办理时限 {local_time(order.due_at)}。\n工单 ")
    assert templates.render("alert_remind", {"label": "办理时限已过半", "title": "道路", "due": "办理时限 03-09"}) == \
        "办理时限已过半\n道路\n办理时限 03-09，请抓紧办理。"
    done = {"kind": "政策精准推送", "subject": "《稳岗》", "sent": 3, "failed": 0, "already": 2}
    assert templates.render("policy_campaign_done", done) == "【政策精准推送】《稳岗》 已完成：送达 3 家次，另有 2 家此前已推送。"
    assert templates.render("chat_text_only", {}).startswith("目前只能识别文字指令")


def test_an_edited_reminder_is_used_then_the_default_again(session, factory, cast, now):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id)
    wo.sign(factory.ctx(cast["helper"], bj(3, 2, 11)), order)
    store.apply(session, None, {"templates": {"alert_remind": "{{ label }}\n请尽快办理「{{ title }}」：{{ due }}。"}},
                reason="改提醒口径", now=now)
    assert run_sla_watchdog(session, bj(3, 5, 0), Channels(sandbox=True)) == 1
    half = outbox(session, order, "reminder")[-1].payload
    assert half["title"] == "办理时限已过半" and half["text"].startswith(f"请尽快办理「{order.title}」：办理时限 ")
    store.apply(session, None, {"templates": {}}, reason="恢复默认", now=now)
    assert run_sla_watchdog(session, bj(3, 6, 11), Channels(sandbox=True)) == 1
    eighty = outbox(session, order, "reminder")[-1].payload
    assert eighty["text"].startswith(f"{order.title}\n办理时限 ") and "，请抓紧办理。" in eighty["text"]


def test_an_unknown_placeholder_or_private_attribute_is_refused_naming_the_template(session, now):
    with pytest.raises(ValidationFailed) as refused:
        store.apply(session, None, {"templates": {"alert_remind": "{{ label }} {{ boss }}"}}, reason="x", now=now)
    assert "templates.alert_remind：未知占位符「boss」" in refused.value.message
    problems = templates.validate_text(TEMPLATES["order_signed"], "{{ ''.__class__.__mro__ }}")
    assert problems and "不允许访问内部属性" in problems[0] and "order_signed" in problems[0]
    assert templates.validate_text(TEMPLATES["order_signed"], "{{ actor") [0].startswith("templates.order_signed：模板语法错误")
    assert session.scalar(select(func.count(ConfigRevision.id))) == 0


def test_the_sandbox_does_not_reach_python_internals():
    """Even a text that skipped validation renders nothing of Python's insides."""
    env = templates._ENV
    for text in ("{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                 "{{ actor.__init__.__globals__ }}"):
        with pytest.raises((SecurityError, UndefinedError)):
            env.from_string(text).render(actor="x")
    # A broken edit in force falls back to the default: a message still goes out.
    out = templates.render("order_suspended", {"reason": "缺材料"}, {"order_suspended": "{{ reason.__class__ }}"})
    assert out == "工单已挂起\n等待企业补充：缺材料"


def test_the_editor_lists_edits_previews_and_restores(client, factory, cast, session, session_factory, now):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id)
    session.commit()
    login(client, "admin")
    listing = client.get("/studio/templates").get_data(as_text=True)
    assert all(spec.label in listing for spec in TEMPLATES.values()) and "时限提醒与督办" in listing
    page = client.get(f"/studio/templates/order_dispatched?order={order.number}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"工单 {order.number}" in html
    assert "【诉求已派单】" in html  # the sandbox bubble
    assert "textcard" in html and "action_card" in html  # WeCom and DingTalk bodies
    assert "已派至 " in html and "<script>" not in html  # no inline script (CSP)

    token = page_token(client, "/studio/templates/alert_remind")
    refused = client.post("/studio/templates/alert_remind", data={"csrf_token": token, "text": "{{ boss }}"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "时限提醒（50 % / 80 %，经办人）" in text and "未知占位符「boss」" in text

    draft = "{{ label }}\n预览：{{ title }}"
    preview = client.post("/studio/templates/alert_remind", data={"csrf_token": token, "text": draft,
                                                                  "action": "preview", "order": order.number})
    assert preview.status_code == 200 and f"预览：{order.title}" in preview.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalar(select(func.count(ConfigRevision.id))) == 0  # a preview saves nothing
    saved = client.post("/studio/templates/alert_remind", data={"csrf_token": token, "text": draft, "reason": "试改"})
    assert saved.status_code == 302
    with session_factory() as s:
        assert s.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc())).document["templates"] == {
            "alert_remind": draft}
    reset = client.post("/studio/templates/alert_remind", data={"csrf_token": token, "action": "reset"})
    assert reset.status_code == 302
    with session_factory() as s:
        assert s.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc())).document["templates"] == {}


def test_every_template_previews_on_a_real_order(client, factory, cast, session, now):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    order = factory.order(cast["staff"], now, level=2, department_id=cast["rsj"].id)
    session.commit()
    login(client, "admin")
    assert "没有工单 BC-19990101-0001" in client.get("/studio/templates/order_signed?order=BC-19990101-0001").get_data(
        as_text=True)
    for name in TEMPLATES:
        page = client.get(f"/studio/templates/{name}")  # the newest order by default
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "preview-wecom" in html and "preview-dingtalk" in html, name
    whistle = client.get("/studio/templates/whistle").get_data(as_text=True)
    assert "【吹哨报到】" in whistle and "actionCard" in whistle and order.number in whistle


# --------------------------------------------------------------------------------------------
# No hard-coded outbound text
# --------------------------------------------------------------------------------------------
TEXT_KEYS = {"text", "title"}


def _literal_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def hard_coded_texts(root: Path) -> list[str]:
    """Calls that put a written-out sentence into a message: ``notice``/``notice_many``/``status_line``
    outside notify.py (use ``notify``/``status`` with a template), and ``to_person``/``to_people``/
    ``to_group`` payloads whose text or title is a literal or an f-string, ``close_cards`` labels likewise."""
    found = []
    for path in sorted((root / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(root)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            if name in ("notice", "notice_many", "status_line") and where.name != "notify.py":
                found.append(f"{where}:{node.lineno} {name}()")
            if name == "close_cards" and len(node.args) > 1 and _literal_text(node.args[1]):
                found.append(f"{where}:{node.lineno} close_cards(label=…)")
            if name in ("to_person", "to_people", "to_group"):
                for keyword in node.keywords:
                    if keyword.arg == "payload" and isinstance(keyword.value, ast.Dict):
                        for key, value in zip(keyword.value.keys, keyword.value.values, strict=False):
                            if isinstance(key, ast.Constant) and key.value in TEXT_KEYS and _literal_text(value):
                                found.append(f"{where}:{node.lineno} {name}(payload={key.value}=…)")
    return found


def test_no_outbound_text_is_written_out_in_code():
    assert hard_coded_texts(ROOT) == []


def test_the_scan_notices_a_written_out_text(tmp_path):
    services = tmp_path / "services" / "orders"
    services.mkdir(parents=True)
    (services / "x.py").write_text(
        'def f(n, p, o):\n    n.to_person(p, kind="notice", payload={"title": "已办结", "text": f"{o}"}, key="k")\n'
        '    n.notice_many([p], o, "标题", "正文", "k")\n'
        '    n.close_cards(o, f"已由{p}报到", "k", None, [])\n', encoding="utf-8")
    assert len(hard_coded_texts(tmp_path)) == 4


def test_docs_list_every_template_as_the_registry_has_it():
    text = (ROOT / "docs" / "studio.md").read_text(encoding="utf-8")
    block = text.split("<!-- message-templates:begin -->\n", 1)[1].split("<!-- message-templates:end -->", 1)[0]
    assert block == templates.reference_markdown(), "regenerate the table in docs/studio.md (command above it)"
    # The worked example is a text the editor accepts.
    example = text.split("改为：\n\n```\n", 1)[1].split("\n```", 1)[0]
    assert templates.validate_text(TEMPLATES["alert_remind"], example) == []
