from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from database import session_scope
from jobs.definitions import JOBS_BY_NAME, LOCAL_TZ
from jobs.scheduler import run_job_now
from models import InboundMessage, InboundReceipt, InboxStatus


def test_housekeeping_runs_nightly_in_beijing_time():
    job = JOBS_BY_NAME["housekeeping"]
    trigger = job.trigger()
    assert isinstance(trigger, CronTrigger)
    after = datetime(2026, 3, 2, 12, 0, tzinfo=LOCAL_TZ)
    assert trigger.get_next_fire_time(None, after) == datetime(2026, 3, 3, 3, 40, tzinfo=LOCAL_TZ)


def test_the_housekeeping_job_prunes_with_the_configured_retention(app, session_factory):
    now = datetime.now(UTC)
    retention = app.extensions["settings"].inbound_retention_days
    with session_scope(session_factory) as session:
        session.add_all([
            InboundReceipt(platform="wecom", dedupe_key="msg:1", created_at=now - timedelta(days=8)),
            InboundReceipt(platform="wecom", dedupe_key="msg:2", created_at=now - timedelta(hours=1)),
            InboundMessage(platform="wecom", dedupe_key="msg:1", status=InboxStatus.DONE,
                           created_at=now - timedelta(days=retention + 1),
                           processed_at=now - timedelta(days=retention + 1)),
            InboundMessage(platform="wecom", dedupe_key="msg:3", status=InboxStatus.PENDING,
                           created_at=now - timedelta(days=retention + 1)),
        ])

    assert run_job_now(app, "housekeeping") == (
        "housekeeping（清理过期的回调记录、限流计数、令牌、卡片响应码与登录失败计数，以及放弃或失败的导入留下的文件与错误行）："
        "清理：回调去重记录 1 条、已处理回调 1 条")
    with session_factory() as session:
        assert list(session.scalars(select(InboundReceipt.dedupe_key))) == ["msg:2"]
        assert list(session.scalars(select(InboundMessage.dedupe_key))) == ["msg:3"]
    assert run_job_now(app, "housekeeping").endswith("：无需清理")
