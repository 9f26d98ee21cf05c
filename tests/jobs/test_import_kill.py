"""A jobs process killed with SIGKILL in the middle of an import: the next run takes the job over at
once (its process is gone), finishes it, imports every row exactly once, and the upload is
deleted when the job ends. A real ``flask --app wsgi jobs once run_imports`` on each side (SQLite
or PostgreSQL, whichever the suite runs on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from config import PROJECT_ROOT
from models import Enterprise, ImportJob, ImportStatus
from services.registry import import_jobs
from tests.registry.exports import codes, row, write_csv

ROWS = 100_000
LEASE_SECONDS = 20  # renewed every 3.3 s


def jobs_once(app, instance_dir, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DINGTALK_", "REDIS_"))}
    env.update(APP_ENV="development", DATABASE_URL=app.extensions["settings"].database_url,
               SECRET_KEY="kill-test-secret-" + "k" * 32, INSTANCE_DIR=str(instance_dir), SANDBOX_ENABLED="true",
               IMPORT_LEASE_SECONDS=str(LEASE_SECONDS), LOG_LEVEL="INFO")
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the test
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "once", "run_imports"],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log


def job_row(session_factory, job_id) -> ImportJob:
    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        session.commit()  # SQLite: let go of the write lock at once
        return job


def queue(session_factory, path, now) -> int:
    with session_factory() as session:
        job = import_jobs.create_job(session, kind="enterprises", filename=path.name, stored_path=str(path),
                                     file_size=path.stat().st_size, actor=None, now=now, dry_run=False)
        session.commit()
        return job.id


@pytest.mark.slow
def test_sigkill_mid_import_then_the_next_run_takes_the_job_over_within_the_lease(app, session_factory, tmp_path):
    folder = tmp_path / "imports"
    folder.mkdir()
    big = write_csv(folder / f"{uuid.uuid4().hex}.csv",
                    [row(i, code, f"企业{i}") for i, code in enumerate(codes(ROWS), 1)], encoding="utf-8")
    small = write_csv(folder / f"{uuid.uuid4().hex}.csv",
                      [row(1, codes(1, start=900_000)[0], "后来的企业")], encoding="utf-8")
    now = datetime.now(UTC)
    big_id, small_id = queue(session_factory, big, now), queue(session_factory, small, now)
    log_path = tmp_path / "jobs.log"

    first, log = jobs_once(app, tmp_path / "instance", log_path)
    try:
        deadline = time.monotonic() + 120
        claimed_lease = None
        while time.monotonic() < deadline:
            job = job_row(session_factory, big_id)
            if job.status == ImportStatus.RUNNING and claimed_lease is None:
                claimed_lease = job.lease_until
            # Killed once a chunk is committed and the lease has been renewed since the claim.
            if job.processed >= 5000 and claimed_lease is not None and job.lease_until > claimed_lease:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the import never got going:\n" + log_path.read_text(errors="replace")[-4000:])
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = datetime.now(UTC)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()

    job = job_row(session_factory, big_id)
    assert job.status == ImportStatus.RUNNING and job.claimed_by.split("-")[-2] == str(first.pid)
    assert 0 < job.processed < ROWS and big.exists()
    dead_lease = job.lease_until
    assert job_row(session_factory, small_id).status == ImportStatus.QUEUED  # blocked behind the dead run

    second, log = jobs_once(app, tmp_path / "instance", log_path)
    try:
        assert second.wait(timeout=600) == 0, log_path.read_text(errors="replace")[-4000:]
    finally:
        if second.poll() is None:
            second.kill()
        log.close()

    job = job_row(session_factory, big_id)
    assert job.status == ImportStatus.DONE, job.error_message
    assert job.claimed_by != "" and job.claimed_by.split("-")[-2] == str(second.pid)
    assert job.attempts == 2 and job.total == ROWS and job.errors == 0
    # Taken over as the second process started, before the dead process's lease had even passed
    # (let alone 10 minutes): its worker was known to be gone.
    assert job.started_at < dead_lease, (job.started_at, dead_lease)
    assert job.started_at - killed_at < timedelta(seconds=LEASE_SECONDS), (job.started_at, killed_at)
    assert "worker gone" in log_path.read_text(errors="replace")
    assert job_row(session_factory, small_id).status == ImportStatus.DONE
    with session_factory() as session:
        assert session.scalar(select(func.count(Enterprise.id))) == ROWS + 1
        assert session.scalar(select(func.count(func.distinct(Enterprise.uscc)))) == ROWS + 1
    assert not big.exists() and not small.exists()  # the uploads went when their jobs ended
