from datetime import timedelta

import pytest
from sqlalchemy import func, select

from database import session_scope
from integrations.base import OutboundView, PermanentError
from integrations.registry import adapters_for
from integrations.sandbox import SandboxAdapter
from models import OutboundMessage, OutboxStatus, Role, SandboxMessage
from services.messaging.delivery import deliver_due
from services.messaging.outbox import Envelope, enqueue
from services.orders import operations as wo
from services.ratelimit import DatabaseRateLimiter


def deliver(session_factory, at):
    return deliver_due(session_factory, {"sandbox": SandboxAdapter()}, DatabaseRateLimiter(session_factory),
                       worker_id="sandbox-test", now_fn=lambda: at, batch_size=100, max_attempts=3)


def transcript(session_factory, conversation):
    with session_factory() as session:
        return list(session.scalars(
            select(SandboxMessage).where(SandboxMessage.conversation == conversation).order_by(SandboxMessage.id)
        ))


def test_whistle_card_and_sign_end_to_end(session_factory, session, factory, now):
    staff = factory.person(Role.SERVICE_STAFF)
    dept = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=dept, name="王帮办")
    order = factory.order(staff, now, level=2, department_id=dept.id, content="企业急需招聘 30 名技术工人，请协助对接招聘会")
    session.commit()

    stats = deliver(session_factory, now)
    assert stats.sent == stats.claimed > 0 and stats.dead == 0

    group = transcript(session_factory, f"group:{dept.id}")
    whistle = next(m for m in group if "【吹哨报到】" in m.text)
    assert helper.id in whistle.mentions
    assert f"@{helper.name}" in whistle.text and order.number in whistle.text

    inbox = transcript(session_factory, f"person:{helper.id}")
    card = next(m for m in inbox if m.card is not None)
    assert [b["label"] for b in card.card["buttons"]] == ["报到", "退回", "转办"]
    assert card.card_task_id == f"{order.number}-{order.deadline_version}-{dept.id}"
    assert card.card_closed_label == ""

    signed_at = now + timedelta(minutes=20)
    wo.sign(factory.ctx(helper, signed_at), order)
    session.commit()
    deliver(session_factory, signed_at)

    card = next(m for m in transcript(session_factory, f"person:{helper.id}") if m.card is not None)
    assert card.card_closed_label == "已由王帮办报到"
    assert any("【已报到】" in m.text and order.number in m.text for m in transcript(session_factory, f"group:{dept.id}"))
    # The enterprise side (the service staff member) hears about it too.
    assert any("首席帮办已报到" in m.text for m in transcript(session_factory, f"person:{staff.id}"))
    with session_factory() as s:
        statuses = set(s.scalars(select(OutboundMessage.status)))
    assert statuses == {OutboxStatus.SENT}


def _message(session_factory, now, **kw):
    fields = {"channel": "sandbox", "kind": "notice", "target_type": "person", "target_ref": "1",
              "payload": {"title": "标题", "text": "正文"}, "dedupe_key": kw.pop("key", "k1")} | kw
    with session_scope(session_factory) as session:
        message = enqueue(session, Envelope(**fields), now=now)
        return OutboundView.from_model(message)


def test_redelivery_of_the_same_outbound_row_shows_once(session_factory, now):
    view = _message(session_factory, now)
    adapter = SandboxAdapter()
    for _ in range(2):
        with session_scope(session_factory) as session:
            adapter.deliver(view, session, now=now)
    rows = transcript(session_factory, "person:1")
    assert len(rows) == 1 and rows[0].text == "【标题】\n正文" and rows[0].outbound_id == view.id


def test_card_closed_before_it_arrives_is_shown_greyed(session_factory, now):
    card = _message(session_factory, now, kind="card", key="card",
                    payload={"title": "吹哨报到", "text": "x", "buttons": [{"key": "sign:X", "label": "报到"}],
                             "task_id": "T-1"})
    update = _message(session_factory, now, kind="card_update", key="upd",
                      payload={"task_id": "T-1", "label": "已由他人报到"})
    adapter = SandboxAdapter()
    with session_scope(session_factory) as session:
        adapter.deliver(update, session, now=now)
        session.get(OutboundMessage, update.id).status = OutboxStatus.SENT
    with session_scope(session_factory) as session:
        adapter.deliver(card, session, now=now)
    [row] = transcript(session_factory, "person:1")
    assert row.card_task_id == "T-1" and row.card_closed_label == "已由他人报到"


def test_group_and_survey_bubbles(session_factory, now):
    status = _message(session_factory, now, kind="status", key="s", target_type="group", target_ref="7",
                      payload={"text": "【已办结】BC-1"})
    survey = _message(session_factory, now, kind="survey", key="v",
                      payload={"title": "满意度回访", "text": "请邀请企业评价", "url": "/s/abc"})
    adapter = SandboxAdapter()
    with session_scope(session_factory) as session:
        adapter.deliver(status, session, now=now)
        adapter.deliver(survey, session, now=now)
    assert [m.text for m in transcript(session_factory, "group:7")] == ["【已办结】BC-1"]
    [bubble] = transcript(session_factory, "person:1")
    assert bubble.text == "【满意度回访】\n请邀请企业评价\n/s/abc"


def test_empty_message_is_a_permanent_error(session_factory, now):
    view = _message(session_factory, now, payload={})
    with session_scope(session_factory) as session, pytest.raises(PermanentError):
        SandboxAdapter().deliver(view, session, now=now)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxMessage)) == 0


def test_registry_switches_the_sandbox(app):
    settings = app.extensions["settings"]
    # Texts to enterprises always have a backend: the sandbox SMS unless a provider is configured.
    assert set(adapters_for(settings)) == {"sandbox", "sms"}
    assert set(adapters_for(settings.with_overrides({"sandbox_enabled": False}))) == {"sms"}


# The calls that put a message in the outbox (services.messaging.notify.Notifier, outbox.Envelope).
_PRODUCERS = {"to_person", "to_people", "to_group", "notice", "notice_many", "notify", "Envelope", "_put"}


def _kinds_written_in_source() -> set[str]:
    """Every message kind the code hands to the outbox, read from the source of services/ and
    integrations/: ``kind="..."`` given to a producer, and a producer's default ``kind``."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for path in [*root.glob("services/**/*.py"), *root.glob("integrations/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in _PRODUCERS:
                    found.update(k.value.value for k in node.keywords
                                 if k.arg == "kind" and isinstance(k.value, ast.Constant))
            elif isinstance(node, ast.FunctionDef) and node.name in _PRODUCERS:
                args = node.args
                for arg, default in zip(args.args[len(args.args) - len(args.defaults):], args.defaults, strict=True):
                    if arg.arg == "kind" and isinstance(default, ast.Constant):
                        found.add(default.value)
    return found


def test_every_kind_the_code_sends_is_known_to_the_outbox_and_the_sandbox():
    from integrations.sandbox import BUBBLE_KINDS
    from models import MessageKind

    sent = _kinds_written_in_source()
    assert {"whistle", "card", "card_update", "status", "notice", "reply", "supervise", "reminder", "survey"} <= sent
    assert sent <= MessageKind.ALL, f"message kinds not in MessageKind: {sent - MessageKind.ALL}"
    assert BUBBLE_KINDS | MessageKind.CARDS == MessageKind.ALL
    assert set(MessageKind.LABELS) == MessageKind.ALL
    assert all(label and not label.isascii() for label in MessageKind.LABELS.values())


def test_enqueue_refuses_a_kind_no_adapter_knows(session, now):
    with pytest.raises(ValueError, match="unknown message kind"):
        enqueue(session, Envelope(channel="sandbox", kind="fax", target_type="person", target_ref="1",
                                  payload={"text": "x"}, dedupe_key="fax-1"), now=now)


@pytest.mark.parametrize("kind", ["policy_digest", "policy_uptake", "notice", "supervise", "reminder", "reply"])
def test_every_bubble_kind_is_shown_without_an_unknown_kind_log_line(session_factory, now, kind, caplog):
    view = _message(session_factory, now, kind=kind, key=f"k-{kind}",
                    payload={"title": "政策精准推送", "text": "你负责的 3 家企业符合条件", "url": "/m/policy-campaigns/1"})
    with caplog.at_level("INFO", logger="integrations.sandbox"), session_scope(session_factory) as session:
        SandboxAdapter().deliver(view, session, now=now)
    assert "unknown message kind" not in caplog.text
    [bubble] = transcript(session_factory, "person:1")
    assert bubble.text.startswith("【政策精准推送】" if kind != "reply" else "你负责的")
