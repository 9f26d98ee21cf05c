"""The configuration in force changes what the desk does, at once in this process."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboundMessage, Role
from services.messaging import chat
from services.orders.lifecycle import State
from services.studio import store


def test_an_alias_and_an_edited_whistle_template_take_effect(session, factory, now):
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="赵帮办")
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    store.apply(session, None, {
        "command_aliases": {"收到": "报到"},
        "templates": {"whistle": "【请报到】{{ mentions }} 工单 {{ number }}：{{ summary }}。回复「收到 {{ short_number }}」接单。"},
    }, reason="区里改口径", now=now)
    order = factory.order(staff, now, level=2, department_id=rsj.id)
    whistle = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "whistle",
                                                           OutboundMessage.work_order_id == order.id))
    assert whistle.payload["text"].startswith("【请报到】@赵帮办 工单 " + order.number)
    result = chat.handle_text(factory.ctx(helper, now, channel="sandbox"), f"收到 {order.number[-4:]}")
    assert result.ok and result.command == "报到" and order.state == State.PROCESSING
    # Restoring the defaults: the built-in text again, and 收到 is no longer a command.
    store.apply(session, None, {"command_aliases": {}, "templates": {}}, reason="恢复默认", now=now)
    other = factory.order(staff, now, level=2, department_id=rsj.id)
    text = session.scalar(select(OutboundMessage.payload).where(OutboundMessage.kind == "whistle",
                                                               OutboundMessage.work_order_id == other.id))["text"]
    assert text.startswith("【吹哨报到】@赵帮办")
    assert not chat.handle_text(factory.ctx(helper, now, channel="sandbox"), f"收到 {other.number[-4:]}").ok


def test_another_process_sees_a_new_revision_within_the_refresh_interval(session, now):
    """A revision written elsewhere (no invalidation here) is seen after at most REFRESH_SECONDS."""
    from models import ConfigRevision

    store.invalidate()
    assert store.runtime(session, clock=lambda: 100.0).revision_id is None
    written = ConfigRevision(kind="edit", actor_label="另一个进程", document={"command_aliases": {"收到": "报到"}},
                             digest="x", changes=["测试"], created_at=now)
    session.add(written)
    session.flush()
    assert store.runtime(session, clock=lambda: 101.0).revision_id is None  # still within the interval
    later = store.runtime(session, clock=lambda: 100.0 + store.REFRESH_SECONDS + 0.1)
    assert later.revision_id == written.id and later.command_aliases == {"收到": "报到"}


def test_card_fields_hint_and_button_words_come_from_templates(session, factory, now):
    """What a chief helper's card and a notice's button say is the district's wording on every platform."""
    from datetime import datetime

    from integrations import dingtalk, wecom_cards

    rsj = factory.department("rsj")
    factory.person(Role.CHIEF_HELPER, department=rsj, name="赵帮办")
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    store.apply(session, None, {"templates": {
        "whistle_card_fields": "层级：{{ level }}\n请在 {{ sign_due }} 前报到\n时限：{{ due }}",
        "card_sign_hint": "群里发「收到 {{ short_number }}」即可",
        "button_sign": "马上处理", "button_details": "看一看", "label_sender": "北辰有需必应",
        "whistle_group_card": "请接单：{{ number }}\n{{ enterprise }}\n{{ long_summary }}",
    }}, reason="改卡片文字", now=now)
    order = factory.order(staff, now, level=2, department_id=rsj.id)
    rows = {m.kind: m for m in session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == order.id))}
    card, whistle = rows["card"].payload, rows["whistle"].payload
    # A line without 「名称：内容」 is not a field.
    assert [name for name, _ in card["fields"]] == ["层级", "时限"]
    stamp = datetime(2026, 3, 2, 10, 0)
    ding = dingtalk.card_body(card, "https://desk.example/m/x", "https://desk.example", stamp)["action_card"]
    assert ding["single_title"] == "马上处理" and f"群里发「收到 {order.number[-4:]}」即可" in ding["markdown"]
    wecom = wecom_cards.button_card_message(card, "https://desk.example")["template_card"]
    assert wecom["source"]["desc"] == "北辰有需必应" and wecom["button_list"][-1]["text"] == "看一看"
    group = dingtalk.whistle_card_body(whistle, "https://desk.example/m/x", "https://desk.example")["actionCard"]
    assert group["title"] == f"请接单：{order.number}" and group["singleTitle"] == "打开工单"
