"""A backup taken while orders keep arriving restores completely into an empty database: every
order, event and attachment of the backup is there, and every attachment's file with it. Runs on
the database the suite runs on (SQLite, or PostgreSQL with DATABASE_URL), through the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from application import create_app
from integrations.storage import LocalStorage
from models import Attachment, Role, WorkOrder, WorkOrderEvent
from models import Person as Person_
from services.admin.backup import BackupError, read_manifest
from services.orders.attachments import Upload, store_uploads
from tests.factories import Factory


def add_order(session_factory, files, n: int) -> None:
    """One order with one attachment, the way the web does it: the file first, then the rows."""
    png = b"\x89PNG\r\n\x1a\n" + f"order {n} {time.time_ns()}".encode()
    batch = store_uploads([Upload(f"现场{n}.png", io.BytesIO(png))], files, max_bytes=10**6)
    with session_factory() as session:
        factory = Factory(session)
        staff = session.scalar(select(Person_).where(Person_.name == "备份测试员"))
        factory.order(staff, datetime.now(UTC), attachments=tuple(batch.records),
                      enterprise=factory.enterprise(staff=staff, name=f"北辰备份测试企业{n}"))
        session.commit()


@pytest.fixture
def empty_target(app, tmp_path):
    """An empty database of the same kind: a new SQLite file, or a new PostgreSQL database."""
    url = make_url(app.extensions["settings"].database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow
def test_a_backup_during_traffic_restores_every_order_event_and_attachment(app, session_factory, tmp_path,
                                                                          empty_target):
    files = LocalStorage(tmp_path / "files")
    with session_factory() as session:
        Factory(session).person(Role.SERVICE_STAFF, name="备份测试员")
        session.commit()
    for n in range(5):
        add_order(session_factory, files, n)

    stop = threading.Event()
    added = []

    def traffic():
        n = 100
        while not stop.is_set():
            add_order(session_factory, files, n)
            added.append(n)
            n += 1

    source = create_app(settings=app.extensions["settings"])
    source.config["UPLOAD_ROOT"] = str(tmp_path / "files")
    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        while len(added) < 2:
            time.sleep(0.05)
        result = source.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")])
        at_backup_end = len(added)
    finally:
        stop.set()
        worker.join(timeout=60)
        source.extensions["db_engine"].dispose()
    assert result.exit_code == 0, result.output
    assert len(added) >= at_backup_end >= 2  # orders kept arriving until the backup was done
    manifest = read_manifest(tmp_path / "backup")
    assert manifest["counts"]["work_order"] >= 7 and manifest["counts"]["attachment"] >= 7

    target = create_app(settings=app.extensions["settings"].with_overrides({"database_url": empty_target}))
    target.config["UPLOAD_ROOT"] = str(tmp_path / "restored-files")
    try:
        result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert result.exit_code == 0, result.output
        restored = LocalStorage(tmp_path / "restored-files")
        with target.extensions["db_sessionmaker"]() as session:
            orders = session.scalars(select(WorkOrder)).all()
            assert len(orders) == manifest["counts"]["work_order"]
            assert {o.enterprise.name for o in orders} >= {f"北辰备份测试企业{n}" for n in range(5)}
            assert session.query(WorkOrderEvent).count() == manifest["counts"]["work_order_event"]
            assert all(o.events for o in orders)
            stored = session.scalars(select(Attachment)).all()
            assert len(stored) == manifest["counts"]["attachment"] == len(orders)
            for attachment in stored:
                with restored.open(attachment.storage_key) as handle:
                    assert hashlib.sha256(handle.read()).hexdigest() == attachment.sha256

        # Restoring again over the data is refused unless asked for.
        again = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert again.exit_code != 0 and "--replace" in again.output
    finally:
        target.extensions["db_engine"].dispose()


def test_a_damaged_backup_is_refused_before_anything_is_written(app, session_factory, tmp_path):
    source = create_app(settings=app.extensions["settings"])
    source.config["UPLOAD_ROOT"] = str(tmp_path / "files")
    try:
        assert source.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")]).exit_code == 0
        manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
        database = tmp_path / "b" / manifest["database_file"]
        data = database.read_bytes()
        database.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
        with pytest.raises(BackupError, match="校验和不符"):
            read_manifest(tmp_path / "b")
        result = source.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
        assert result.exit_code != 0 and "不是空的" in result.output
    finally:
        source.extensions["db_engine"].dispose()
