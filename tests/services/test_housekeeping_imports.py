"""Housekeeping of spreadsheet imports: abandoned previews, the row errors of failed imports,
over-long error lists, and upload files no job needs."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from models import ImportJob, ImportRowError, ImportStatus
from services.admin import housekeeping
from services.admin.housekeeping import prune

RETENTION = timedelta(days=90)


def upload_file(folder, *, age: timedelta, now) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.xlsx"
    path.write_bytes(b"PK")
    stamp = (now - age).timestamp()
    os.utime(path, (stamp, stamp))
    return str(path)


def job(session_factory, now, *, status, age=timedelta(0), path="/nowhere/x.xlsx", errors=0, stored_errors=0):
    with session_factory() as session:
        row = ImportJob(kind="enterprises", filename="名录.xlsx", stored_path=path, status=status,
                        errors=errors, created_at=now - age, updated_at=now - age)
        session.add(row)
        session.flush()
        if stored_errors:
            session.execute(insert(ImportRowError), [
                {"job_id": row.id, "row_number": n + 2, "column": "统一社会信用代码", "value": "", "reason": "缺少",
                 "row_values": []} for n in range(stored_errors)])
        session.commit()
        return row.id


def stored(session_factory, job_id) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count(ImportRowError.id)).where(ImportRowError.job_id == job_id))


def test_a_preview_nobody_confirmed_for_a_week_is_cancelled_and_its_file_deleted(session_factory, now, tmp_path):
    folder = tmp_path / "imports"
    old = upload_file(folder, age=timedelta(days=8), now=now)
    recent = upload_file(folder, age=timedelta(days=6), now=now)
    old_id = job(session_factory, now, status=ImportStatus.PREVIEWED, age=timedelta(days=8), path=old)
    recent_id = job(session_factory, now, status=ImportStatus.PREVIEWED, age=timedelta(days=6), path=recent)
    report = prune(session_factory, now=now, inbound_retention=RETENTION, import_dir=folder)
    assert report.abandoned_imports == 1 and "预检后未确认的导入 1 条" in report.describe()
    with session_factory() as session:
        cancelled = session.get(ImportJob, old_id)
        assert cancelled.status == ImportStatus.CANCELLED and "7 天未确认" in cancelled.error_message
        assert session.get(ImportJob, recent_id).status == ImportStatus.PREVIEWED
    assert not os.path.exists(old) and os.path.exists(recent)


def test_row_errors_of_failed_and_cancelled_imports_go_a_week_after_they_ended(session_factory, now):
    failed = job(session_factory, now, status=ImportStatus.FAILED, age=timedelta(days=8), stored_errors=3)
    cancelled = job(session_factory, now, status=ImportStatus.CANCELLED, age=timedelta(days=8), stored_errors=2)
    failed_lately = job(session_factory, now, status=ImportStatus.FAILED, age=timedelta(days=2), stored_errors=4)
    done = job(session_factory, now, status=ImportStatus.DONE, age=timedelta(days=300), stored_errors=5)
    report = prune(session_factory, now=now, inbound_retention=RETENTION, batch_size=2)
    assert report.import_errors == 5
    assert [stored(session_factory, j) for j in (failed, cancelled, failed_lately, done)] == [0, 0, 4, 5]


def test_an_error_list_stored_past_the_cap_is_trimmed_and_the_rest_counted(session_factory, now, monkeypatch):
    monkeypatch.setattr(housekeeping, "MAX_LISTED_ERRORS", 10)
    legacy = job(session_factory, now, status=ImportStatus.DONE, errors=25, stored_errors=25)
    within = job(session_factory, now, status=ImportStatus.DONE, errors=10, stored_errors=10)
    report = prune(session_factory, now=now, inbound_retention=RETENTION, batch_size=4)
    assert report.trimmed_import_errors == 15
    assert stored(session_factory, legacy) == 10 and stored(session_factory, within) == 10
    with session_factory() as session:
        kept = list(session.scalars(select(ImportRowError.row_number).where(ImportRowError.job_id == legacy)
                                    .order_by(ImportRowError.row_number)))
        assert kept == list(range(2, 12))  # the first rows of the file stay
        assert session.get(ImportJob, legacy).unlisted_errors == 15
    assert prune(session_factory, now=now, inbound_retention=RETENTION).trimmed_import_errors == 0


def test_upload_files_no_job_needs_are_swept_once_an_hour_old(session_factory, now, tmp_path):
    folder = tmp_path / "imports"
    queued = upload_file(folder, age=timedelta(days=2), now=now)
    running = upload_file(folder, age=timedelta(days=2), now=now)
    finished = upload_file(folder, age=timedelta(days=2), now=now)  # its job ended; the delete was lost
    orphan = upload_file(folder, age=timedelta(hours=2), now=now)  # saved, but the request died
    fresh = upload_file(folder, age=timedelta(minutes=5), now=now)  # its job is being committed
    job(session_factory, now, status=ImportStatus.QUEUED, path=queued)
    job(session_factory, now, status=ImportStatus.RUNNING, path=running)
    job(session_factory, now, status=ImportStatus.DONE, path=finished)
    other = folder / "notes.txt"
    other.write_text("kept: not an upload's name")
    os.utime(other, (0, 0))
    report = prune(session_factory, now=now, inbound_retention=RETENTION, import_dir=folder)
    assert report.import_files == 2 and "无用的导入文件 2 条" in report.describe()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        os.path.basename(p) for p in (queued, running, fresh, str(other)))
    assert not os.path.exists(orphan) and not os.path.exists(finished)


@pytest.mark.parametrize("missing", [True, False])
def test_no_import_folder_is_fine(session_factory, now, tmp_path, missing):
    folder = tmp_path / "imports"
    if not missing:
        folder.mkdir()
    assert prune(session_factory, now=now, inbound_retention=RETENTION, import_dir=folder).import_files == 0
