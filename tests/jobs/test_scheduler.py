from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from jobs import worker_id
from jobs.definitions import JOBS, JOBS_BY_NAME
from jobs.scheduler import (
    UnknownJob,
    build_scheduler,
    run_job_now,
    start_in_background,
)
from jobs.wakes import wake_delivery, wake_inbound
from models import OutboxStatus, SandboxMessage
from tests.jobs.conftest import put_messages


def test_every_job_in_the_table_is_scheduled(app):
    blocking = build_scheduler(app, background=False)
    assert isinstance(blocking, BlockingScheduler)
    assert {job.id for job in blocking.get_jobs()} == {d.name for d in JOBS}

    scheduler = build_scheduler(app, background=True)
    assert isinstance(scheduler, BackgroundScheduler)
    scheduler.start(paused=True)  # job defaults are applied when the scheduler takes the jobs
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {d.name for d in JOBS}
        for definition in JOBS:
            job = jobs[definition.name]
            assert job.name == definition.description
            assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time > 0
            if definition.interval_seconds is None:
                assert isinstance(job.trigger, CronTrigger) and definition.cron
            else:
                assert isinstance(job.trigger, IntervalTrigger)
                assert job.trigger.interval.total_seconds() == definition.interval_seconds
    finally:
        scheduler.shutdown(wait=False)
    assert [JOBS_BY_NAME[n].interval_seconds for n in ("deliver_outbox", "sla_watchdog", "send_surveys")] == [2, 60, 300]
    assert JOBS_BY_NAME["process_inbound"].interval_seconds == 1  # platform messages wait at most a second


@pytest.mark.parametrize("name", [job.name for job in JOBS])
def test_run_job_now_runs_each_job(app, session_factory, name):
    summary = run_job_now(app, name)
    assert summary.startswith(name)


def test_run_job_now_delivers_the_outbox(app, session_factory):
    ids = put_messages(session_factory, datetime.now(UTC), 3, channel="sandbox")
    assert "已送达 3" in run_job_now(app, "deliver_outbox")
    with session_factory() as session:
        assert sorted(session.scalars(select(SandboxMessage.outbound_id))) == ids
        from models import OutboundMessage

        assert set(session.scalars(select(OutboundMessage.status))) == {OutboxStatus.SENT}


def test_unknown_job_is_refused(app):
    with pytest.raises(UnknownJob, match="未知任务"):
        run_job_now(app, "nope")


def test_background_scheduler_only_outside_production(app, session_factory):
    from application import create_app

    production = create_app(settings=app.extensions["settings"].with_overrides({"app_env": "production"}))
    with pytest.raises(RuntimeError, match="生产环境"):
        start_in_background(production)
    production.extensions["db_engine"].dispose()

    scheduler = start_in_background(app)
    try:
        assert start_in_background(app) is scheduler  # one per process
        assert wake_delivery(app) is True
        assert wake_inbound(app) is True
    finally:
        scheduler.shutdown(wait=True)
        app.extensions.pop("scheduler", None)
    assert wake_delivery(app) is False
    assert wake_inbound(app) is False


def test_worker_id_is_stable_per_process():
    import os

    assert worker_id() == worker_id()
    assert f"-{os.getpid()}-" in worker_id() and len(worker_id()) <= 64


def test_claim_lease_is_configurable(tmp_path):
    from config import ConfigError, load_settings

    base = {"SECRET_KEY": "x" * 40, "INSTANCE_DIR": str(tmp_path)}
    assert load_settings(base, read_dotenv=False).outbox_claim_lease_seconds == 300
    assert load_settings({**base, "OUTBOX_CLAIM_LEASE_SECONDS": "5"}, read_dotenv=False).outbox_claim_lease_seconds == 5
    with pytest.raises(ConfigError, match="OUTBOX_CLAIM_LEASE_SECONDS"):
        load_settings({**base, "OUTBOX_CLAIM_LEASE_SECONDS": "0"}, read_dotenv=False)


def test_a_job_woken_while_it_runs_goes_round_once_more(app):
    """APScheduler drops a start while an instance runs; a wake then must not be lost."""
    from jobs.definitions import JobDefinition
    from jobs.scheduler import _run
    from jobs.wakes import wake as _wake

    calls = []

    def probe(flask_app):
        calls.append(len(calls))
        if len(calls) == 1:
            assert _wake(flask_app, "probe") is True  # e.g. a callback stored a message meanwhile
        return "ok"

    scheduler = build_scheduler(app, background=True)
    scheduler.start(paused=True)
    app.extensions["scheduler"] = scheduler
    try:
        _run(app, JobDefinition("probe", "probe", probe, interval_seconds=60))
    finally:
        scheduler.shutdown(wait=False)
        app.extensions.pop("scheduler", None)
    assert calls == [0, 1]
