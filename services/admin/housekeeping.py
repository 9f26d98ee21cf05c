"""Housekeeping: delete the rows that only matter for a while, once they no longer can.

Run daily by the ``housekeeping`` job. Each table is pruned in batches of ``batch_size`` rows,
one short transaction per batch (``DELETE … WHERE key IN (SELECT key … LIMIT n)``), so neither
SQLite's single writer lock nor PostgreSQL row locks are held long enough to hold up callbacks
or deliveries. On PostgreSQL the batch skips rows another transaction has locked; they are
pruned on a later run.

What goes, and why it is safe:

* ``inbound_receipt`` after 7 days — platforms retry within minutes, and WeCom's signature
  check refuses any callback older than 5 minutes;
* ``inbound_message`` done after the retention (``INBOUND_RETENTION_DAYS``), failed after
  three times as long (they are what an administrator investigates); pending never;
* ``rate_window`` once its window ended more than a day ago; ``kv_entry`` a day after it
  expired; ``channel_pause`` once the pause is over;
* ``wecom_card_code`` after 72 hours, when WeCom no longer accepts the code;
* ``sign_in_throttle`` once no counter would still remember it (a day without failures).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, inspect, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from config import INBOUND_RETENTION_MIN_DAYS
from database import is_postgres, session_scope
from integrations.wecom import RESPONSE_CODE_LIFETIME
from models import (
    ChannelPause,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    KvEntry,
    RateWindow,
    SignInThrottle,
    WeComCardCode,
)
from services.admin.sign_in import LONGEST_MEMORY

BATCH_SIZE = 5000
RECEIPT_RETENTION = timedelta(days=7)
FAILED_RETENTION_FACTOR = 3
EXPIRED_GRACE = timedelta(days=1)
# Send-rate windows (integrations' RateRule) last from 20 seconds to 8 hours (DingTalk's daily
# notice cap); a row only has its start, so any window is assumed to last at most a day.
LONGEST_RATE_WINDOW = timedelta(days=1)


LABELS = {
    "receipts": "回调去重记录",
    "inbound_done": "已处理回调",
    "inbound_failed": "处理失败回调",
    "rate_windows": "限流计数",
    "kv_entries": "过期令牌",
    "channel_pauses": "已结束的渠道暂停",
    "card_codes": "过期卡片响应码",
    "sign_in_failures": "过期的登录失败计数",
}


@dataclass
class PruneReport:
    """Rows deleted, per table (``LABELS`` names each in the job's summary)."""

    receipts: int = 0
    inbound_done: int = 0
    inbound_failed: int = 0
    rate_windows: int = 0
    kv_entries: int = 0
    channel_pauses: int = 0
    card_codes: int = 0
    sign_in_failures: int = 0

    def describe(self) -> str:
        parts = [f"{LABELS[f.name]} {getattr(self, f.name)} 条" for f in fields(self) if getattr(self, f.name)]
        return "清理：" + "、".join(parts) if parts else "无需清理"


def _conditions(now: datetime, inbound_retention: timedelta) -> dict[str, tuple[type, ColumnElement[bool]]]:
    """Per ``PruneReport`` field: the table and which of its rows may go."""

    def inbound(status: str, before: datetime) -> ColumnElement[bool]:
        # created_at is indexed; processed_at keeps a row an administrator sent round again recently.
        return and_(InboundMessage.status == status, InboundMessage.created_at < before,
                    InboundMessage.processed_at < before)

    rate_cutoff = int((now - EXPIRED_GRACE - LONGEST_RATE_WINDOW).timestamp())
    return {
        "receipts": (InboundReceipt, InboundReceipt.created_at < now - RECEIPT_RETENTION),
        "inbound_done": (InboundMessage, inbound(InboxStatus.DONE, now - inbound_retention)),
        "inbound_failed": (InboundMessage,
                           inbound(InboxStatus.FAILED, now - FAILED_RETENTION_FACTOR * inbound_retention)),
        "rate_windows": (RateWindow, RateWindow.window_start < rate_cutoff),
        "kv_entries": (KvEntry, and_(KvEntry.expires_at.is_not(None), KvEntry.expires_at < now - EXPIRED_GRACE)),
        "channel_pauses": (ChannelPause, ChannelPause.paused_until < now),
        "card_codes": (WeComCardCode, WeComCardCode.created_at < now - RESPONSE_CODE_LIFETIME),
        "sign_in_failures": (SignInThrottle, SignInThrottle.last_failure_at < now - LONGEST_MEMORY),
    }


def prune(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    inbound_retention: timedelta,
    batch_size: int = BATCH_SIZE,
) -> PruneReport:
    """Delete what has outlived its use; every batch commits on its own."""
    if inbound_retention < timedelta(days=INBOUND_RETENTION_MIN_DAYS):
        raise ValueError(f"inbound_retention must be at least {INBOUND_RETENTION_MIN_DAYS} days")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    report = PruneReport()
    for name, (model, condition) in _conditions(now, inbound_retention).items():
        setattr(report, name, _delete_in_batches(session_factory, model, condition, batch_size))
    return report


def _delete_in_batches(session_factory: sessionmaker[Session], model: type, condition: ColumnElement[bool],
                       batch_size: int) -> int:
    columns = list(inspect(model).primary_key)
    key = columns[0] if len(columns) == 1 else tuple_(*columns)
    deleted = 0
    while True:
        with session_scope(session_factory) as session:
            batch = select(*columns).where(condition).limit(batch_size)
            if is_postgres(session):
                # Locked rows are being changed (a failed message put back to pending): leave them
                # for a later run. A row locked here is re-checked against the condition first.
                batch = batch.with_for_update(skip_locked=True)
            count = session.execute(
                delete(model).where(key.in_(batch)).execution_options(synchronize_session=False)
            ).rowcount
        deleted += count
        if count < batch_size:
            return deleted
