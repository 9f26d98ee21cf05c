"""Every scheduled job, in one table. Each job runs in the app context with its own session,
commits its own work and selects work by state, so a re-run or an overlap is harmless."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from database import session_scope
from jobs import worker_id
from jobs.wakes import wake_delivery
from services.messaging.notify import Channels

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# One delivery run keeps taking full batches for at most this long (the next run follows anyway).
DELIVERY_BUDGET_SECONDS = 10.0
HEARTBEAT_SECONDS = 5


@dataclass(frozen=True)
class JobDefinition:
    name: str
    description: str
    func: Callable[[Flask], str]
    interval_seconds: int | None = None
    cron: dict[str, str | int] = field(default_factory=dict)  # CronTrigger fields, Beijing time

    def trigger(self):
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.interval_seconds is not None:
            return IntervalTrigger(seconds=self.interval_seconds, timezone=LOCAL_TZ)
        return CronTrigger(timezone=LOCAL_TZ, **self.cron)

    @property
    def schedule_label(self) -> str:
        if self.interval_seconds is not None:
            seconds = self.interval_seconds
            return f"每 {seconds // 60} 分钟" if seconds % 60 == 0 and seconds >= 60 else f"每 {seconds} 秒"
        return "定时：" + " ".join(f"{k}={v}" for k, v in self.cron.items())


def utc_now() -> datetime:
    return datetime.now(UTC)


def channels_for(app: Flask) -> Channels:
    settings = app.extensions["settings"]
    return Channels.from_settings(settings)


def _adapters(app: Flask):
    from extensions import chat_adapters

    return chat_adapters(app)


def _limiter(app: Flask):
    from services.ratelimit import make_limiter

    if "rate_limiter" not in app.extensions:
        app.extensions["rate_limiter"] = make_limiter(app.extensions["settings"], app.extensions["db_sessionmaker"])
    return app.extensions["rate_limiter"]


# --- The jobs -------------------------------------------------------------------------------------


def heartbeat(app: Flask) -> str:
    """Tell /readyz this jobs process is alive."""
    from services.admin.health import beat

    with session_scope(app.extensions["db_sessionmaker"]) as session:
        beat(session, worker_id(), utc_now())
    return "ok"


def deliver_outbox(app: Flask, now_fn: Callable[[], datetime] = utc_now) -> str:
    """``now_fn``: the clock the outbox and the rate windows are read by (a benchmark speeds it up)."""
    from services.messaging.delivery import DeliveryStats, deliver_due

    settings = app.extensions["settings"]
    total = DeliveryStats()
    started = time.monotonic()
    while True:
        stats = deliver_due(
            app.extensions["db_sessionmaker"], _adapters(app), _limiter(app),
            worker_id=worker_id(), now_fn=now_fn, batch_size=settings.outbox_batch_size,
            max_attempts=settings.outbox_max_attempts,
            lease=timedelta(seconds=settings.outbox_claim_lease_seconds),
        )
        total.add(stats)
        if stats.claimed < settings.outbox_batch_size or time.monotonic() - started > DELIVERY_BUDGET_SECONDS:
            break
    return total.describe()


def sla_watchdog(app: Flask) -> str:
    from services.orders.alerts import run_sla_watchdog

    with session_scope(app.extensions["db_sessionmaker"]) as session:
        fired = run_sla_watchdog(session, utc_now(), channels_for(app))
    return f"发出时限提醒/督办 {fired} 条"


def send_surveys(app: Flask) -> str:
    from services.admin import settings as system_settings
    from services.orders.surveys import send_due_surveys

    settings = app.extensions["settings"]
    with session_scope(app.extensions["db_sessionmaker"]) as session:
        # Read on every run: the administrator's values win over the environment's defaults.
        values = system_settings.current(session, settings.setting_defaults())
        sent = send_due_surveys(
            session, utc_now(), channels_for(app), values["survey_delay_hours"], values["survey_reminder_hours"],
            base_url=settings.base_url,
        )
    return f"发送满意度回访邀请/提醒 {sent} 件"


def process_inbound(app: Flask) -> str:
    """Act on the platform messages the callbacks stored (commands, card clicks, contact events)."""
    from services.messaging.inbound import processors_for
    from services.messaging.inbox import InboxStats, process_due

    total = InboxStats()
    processors = processors_for(app.extensions["settings"])
    if not processors:
        return "未启用企业微信或钉钉回调"
    started = time.monotonic()
    while True:
        stats = process_due(app.extensions["db_sessionmaker"], processors, now_fn=utc_now)
        total.add(stats)
        # Until nothing is due, so a message stored while this run was busy is not left for the next tick.
        if not stats.claimed or time.monotonic() - started > DELIVERY_BUDGET_SECONDS:
            break
    if total.done or total.failed:
        wake_delivery(app)  # the answers are in the outbox now
    return total.describe()


def run_imports(app: Flask) -> str:
    from extensions import storage
    from services.registry.import_jobs import run_queued

    lease = timedelta(seconds=app.extensions["settings"].import_lease_seconds)
    return run_queued(app.extensions["db_sessionmaker"], worker=worker_id(), clock=utc_now, lease=lease,
                      storage=storage(app))


def policy_campaigns(app: Flask) -> str:
    from services.policies.push import run_campaigns

    report = run_campaigns(app.extensions["db_sessionmaker"], now_fn=utc_now, channels=channels_for(app),
                           base_url=app.extensions["settings"].base_url)
    return report.describe()


def policy_uptake_weekly(app: Flask) -> str:
    from services.policies.push import send_uptake_digests

    with session_scope(app.extensions["db_sessionmaker"]) as session:
        sent = send_uptake_digests(session, utc_now(), channels_for(app))
    return f"发送政策推送成效周报 {sent} 份"


def housekeeping(app: Flask) -> str:
    from extensions import storage
    from services.admin.housekeeping import prune

    settings = app.extensions["settings"]
    return prune(app.extensions["db_sessionmaker"], now=utc_now(),
                 inbound_retention=timedelta(days=settings.inbound_retention_days),
                 outbox_retention=timedelta(days=settings.outbox_retention_days), storage=storage(app)).describe()


def handbook_refresh(app: Flask) -> str:
    """Count the last 90 days of orders into the handbook's topics; propose the new ones."""
    from services.knowledge.handbook import refresh

    with session_scope(app.extensions["db_sessionmaker"]) as session:
        return refresh(session, utc_now()).describe()


def statistics_rollup(app: Flask) -> str:
    """Recompute the daily statistics rollup of the days touched since the last run (``services.statistics.rollup``)."""
    from services.statistics.rollup import refresh

    return refresh(app.extensions["db_sessionmaker"], utc_now(), max_days=400).describe()


def statistics_bulletin(app: Flask) -> str:
    """The monthly (and weekly, if configured) 统计通报: xlsx + chart image, sent through the outbox."""
    from extensions import storage
    from services.statistics.bulletin import send_due

    cadences = app.extensions["settings"].statistics_bulletin
    if not cadences:
        return "统计通报未开启（STATISTICS_BULLETIN=off）"
    with session_scope(app.extensions["db_sessionmaker"]) as session:
        sent = send_due(session, utc_now(), channels_for(app), cadences, storage(app))
    if sent:
        wake_delivery(app)
    return f"发送统计通报 {len(sent)} 期" + (f"（{'、'.join(sent)}）" if sent else "")


JOBS: tuple[JobDefinition, ...] = (
    # /readyz is not ready once the newest beat is older than JOBS_HEARTBEAT_MAX_AGE_SECONDS (120 s).
    JobDefinition("heartbeat", "任务进程心跳（供 /readyz 检查任务进程是否在运行）", heartbeat,
                  interval_seconds=HEARTBEAT_SECONDS),
    JobDefinition("process_inbound", "处理企业微信、钉钉回调收到的消息（指令、卡片点击、通讯录变更）", process_inbound,
                  interval_seconds=1),
    JobDefinition("deliver_outbox", "投递待发消息（沙箱、企业微信、钉钉）", deliver_outbox, interval_seconds=2),
    JobDefinition("sla_watchdog", "时限监控：到期提醒、超期督办、逐级通报", sla_watchdog, interval_seconds=60),
    JobDefinition("send_surveys", "发送满意度回访邀请与提醒", send_surveys, interval_seconds=300),
    JobDefinition("run_imports", "执行已上传的表格导入（预检与正式导入）", run_imports, interval_seconds=5),
    # The push time is a run-time setting, so the campaign job checks it on every run instead of a cron.
    JobDefinition("policy_campaigns", "政策精准推送：按时创建、分批推送、截止提醒", policy_campaigns,
                  interval_seconds=20),
    # Sent once per ISO week from Monday 09:00 (Beijing); hourly runs after that are no-ops.
    JobDefinition("policy_uptake_weekly", "向牵头部门发送政策推送成效周报", policy_uptake_weekly,
                  interval_seconds=3600),
    # At night, when callbacks and deliveries are few; batches keep each lock short anyway.
    JobDefinition("housekeeping", "清理过期的回调记录、限流计数、令牌、卡片响应码与登录失败计数，以及放弃或失败的导入留下的文件与错误行",
                  housekeeping,
                  cron={"hour": 3, "minute": 40}),
    # Daily, after housekeeping: yesterday's orders are all in; the counts are per day anyway.
    # Reports read the rollup only for days it is up to date on, so a late run costs speed, not exactness.
    JobDefinition("statistics_rollup", "更新统计日汇总：重算有变化的日期（报表按日汇总加当天实时计算）", statistics_rollup,
                  interval_seconds=60),
    # Hourly: sent once per month (from the 1st, 09:00) / week (from Monday 09:00); later runs are no-ops.
    JobDefinition("statistics_bulletin", "发送统计通报（月报，可配置周报）：Excel 与图表", statistics_bulletin,
                  interval_seconds=3600),
    JobDefinition("handbook_refresh", "更新高频事项应答手册：统计近90天工单、提议新的高频事项", handbook_refresh,
                  cron={"hour": 4, "minute": 10}),
)
JOBS_BY_NAME: dict[str, JobDefinition] = {job.name: job for job in JOBS}
