"""Retention: sent outbox rows and sandbox messages go after the configured period; pending,
sending and dead messages, work-order events and the audit log stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import AuditLog, OutboundMessage, OutboxStatus, SandboxMessage
from services import audit
from services.admin.housekeeping import prune


def message(session, now, key, status, age, *, sandbox=False):
    row = OutboundMessage(dedupe_key=key, channel="sandbox", kind="notice", target_type="person", target_ref="p1",
                          payload={"text": key}, status=status, created_at=now - age,
                          sent_at=now - age if status == OutboxStatus.SENT else None)
    session.add(row)
    session.flush()
    if sandbox:
        session.add(SandboxMessage(conversation="person:1", direction="out", text=key, outbound_id=row.id,
                                   created_at=now - age))
    return row


def test_sent_messages_and_the_sandbox_transcript_go_after_the_retention(session_factory, now):
    with session_factory() as session:
        message(session, now, "old-sent", OutboxStatus.SENT, timedelta(days=200), sandbox=True)
        message(session, now, "old-sent-2", OutboxStatus.SENT, timedelta(days=181))
        message(session, now, "new-sent", OutboxStatus.SENT, timedelta(days=100), sandbox=True)
        message(session, now, "old-dead", OutboxStatus.DEAD, timedelta(days=400))
        message(session, now, "old-pending", OutboxStatus.PENDING, timedelta(days=400))
        audit.record(session, None, "order.create", "work_order", 1, {}, "", now - timedelta(days=900))
        session.commit()

    report = prune(session_factory, now=now, inbound_retention=timedelta(days=90))
    assert (report.sandbox_messages, report.sent_messages) == (1, 2)
    assert "过期的已发送消息 2 条" in report.describe()
    with session_factory() as session:
        assert sorted(session.scalars(select(OutboundMessage.dedupe_key))) == ["new-sent", "old-dead", "old-pending"]
        assert list(session.scalars(select(SandboxMessage.text))) == ["new-sent"]
        assert session.scalar(select(func.count(AuditLog.id))) == 1

    # A shorter period configured (OUTBOX_RETENTION_DAYS=30) takes the rest of the sent ones.
    report = prune(session_factory, now=now, inbound_retention=timedelta(days=90), outbox_retention=timedelta(days=30))
    assert (report.sandbox_messages, report.sent_messages) == (1, 1)
