"""The scheduler: one dedicated process in production (``flask --app wsgi jobs run``).

APScheduler 3's in-memory job store belongs to one process, so exactly one scheduler should run
per deployment; even so every job tolerates overlap (claims, unique keys, row locks), and a
job that raises is logged and tried again at its next run. The development server may run the
same scheduler in a background thread; production refuses that.
"""

from __future__ import annotations

import atexit
import logging
import signal
import time
from datetime import datetime

import click
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from jobs import worker_id
from jobs.definitions import JOBS, JOBS_BY_NAME, LOCAL_TZ, JobDefinition
from jobs.wakes import job_wakes
from services.observability import record_job

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 30


class UnknownJob(click.ClickException, LookupError):
    pass


def _run(app: Flask, job: JobDefinition) -> None:
    """A scheduled run: never let an exception escape into the scheduler thread. A job woken while
    it runs goes round once more, since APScheduler drops a start while an instance is running."""
    wakes = job_wakes(app)
    with wakes.lock:
        wakes.running.add(job.name)
        wakes.woken.discard(job.name)
    try:
        while True:
            started = time.monotonic()
            try:
                with app.app_context():
                    result = job.func(app)
            except Exception:
                record_job(job.name, False, time.monotonic() - started)
                log.exception("job %s failed (worker %s)", job.name, worker_id())
                return
            record_job(job.name, True, time.monotonic() - started)
            log.debug("job %s done in %.2fs: %s", job.name, time.monotonic() - started, result)
            with wakes.lock:
                if job.name not in wakes.woken:
                    return
                wakes.woken.discard(job.name)
    finally:
        with wakes.lock:
            wakes.running.discard(job.name)


def build_scheduler(app: Flask, *, background: bool):
    # "Job executed successfully" every 2 s drowns the log; our jobs log what they actually did.
    executor_log = logging.getLogger("apscheduler.executors.default")
    if executor_log.level == logging.NOTSET:
        executor_log.setLevel(logging.WARNING)
    scheduler_class = BackgroundScheduler if background else BlockingScheduler
    scheduler = scheduler_class(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=max(4, len(JOBS)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone=LOCAL_TZ,
    )
    first_run = datetime.now(LOCAL_TZ)  # run everything once at start: a restart catches up at once
    for job in JOBS:
        scheduler.add_job(
            _run, trigger=job.trigger(), args=(app, job), id=job.name, name=job.description,
            next_run_time=first_run, replace_existing=True,
        )
    return scheduler


def run_forever(app: Flask) -> None:
    """The jobs process: run until SIGTERM/SIGINT, then let running jobs finish and exit."""
    scheduler = build_scheduler(app, background=False)
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("jobs process %s: signal %s, finishing running jobs", worker_id(), signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    app.extensions["scheduler"] = scheduler  # so a job can wake another (an answer is delivered at once)
    log.info("jobs process %s started: %s", worker_id(),
             ", ".join(f"{j.name}（{j.schedule_label}）" for j in JOBS))
    scheduler.start()  # blocks until shutdown
    log.info("jobs process %s stopped", worker_id())


def start_in_background(app: Flask):
    """The development server's scheduler thread; production runs the separate jobs process."""
    if app.extensions["settings"].is_production:
        raise RuntimeError("生产环境不能在网页进程中运行定时任务，请单独启动 `flask --app wsgi jobs run`")
    existing = app.extensions.get("scheduler")
    if existing is not None and existing.running:
        return existing
    scheduler = build_scheduler(app, background=True)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    atexit.register(lambda: scheduler.running and scheduler.shutdown(wait=False))
    log.info("background scheduler started in the web process (development only), worker %s", worker_id())
    return scheduler


def run_job_now(app: Flask, name: str) -> str:
    """Run one job once in this process and return its summary (errors propagate)."""
    job = JOBS_BY_NAME.get(name)
    if job is None:
        raise UnknownJob(f"未知任务：{name}。可用任务：{', '.join(JOBS_BY_NAME)}")
    started, ok = time.monotonic(), False
    try:
        with app.app_context():
            result = job.func(app)
        ok = True
    finally:
        record_job(job.name, ok, time.monotonic() - started)
    return f"{job.name}（{job.description}）：{result}"
