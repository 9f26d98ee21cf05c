"""Backups of the whole desk: the database and the stored files, with a manifest of checksums.

``take`` writes into an empty folder:

* ``database.dump`` — PostgreSQL through ``pg_dump -Fc`` (one consistent snapshot, taken while the
  desk keeps running), or ``database.sqlite3`` — SQLite through its online backup API (also
  consistent while other connections write);
* ``files/<key>`` — every object of the storage (attachments, waiting imports), copied *after*
  the database: a file is stored before the row that names it commits, so every file the
  database copy refers to is already there;
* ``manifest.json`` — when, which database kind and migration revision, row counts of the main
  tables, and the size and SHA-256 of every file above.

``restore`` checks every checksum first, refuses a database that already holds work orders
(unless told to replace them), then loads the database (``pg_restore`` / the backup API) and puts
the files back into the configured storage.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from integrations.storage import LocalStorage, Storage, copy_all
from models import Attachment, WorkOrder, WorkOrderEvent

MANIFEST = "manifest.json"
FORMAT = 1
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
FILES = "files"
COUNTED = {"work_order": WorkOrder, "work_order_event": WorkOrderEvent, "attachment": Attachment}


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why, in Chinese."""


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    database: str
    counts: dict[str, int]
    files: int

    def describe(self) -> str:
        counts = "，".join(f"{name} {n}" for name, n in self.counts.items())
        return f"{self.folder}：{self.database}（{counts}），文件 {self.files} 个"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def libpq_url(engine: Engine) -> str:
    """The engine's URL as pg_dump / pg_restore understand it (no ``+psycopg``), password included."""
    return make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"PGCONNECT_TIMEOUT": "10"}


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=_pg_env(), check=False)
    except FileNotFoundError:
        raise BackupError(f"找不到 {command[0]}：请安装 PostgreSQL 客户端（postgresql-client）") from None
    if result.returncode != 0:
        raise BackupError(f"{what}失败：{result.stderr.strip()[-2000:]}")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: connection.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in COUNTED.items()}


def _revision(engine: Engine) -> str:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return ""
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar() or ""


def take(engine: Engine, storage: Storage, folder: Path, *, now: datetime) -> BackupReport:
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"备份目录 {folder} 不是空的，请指定一个新目录")
    folder.mkdir(parents=True, exist_ok=True)
    dialect = engine.dialect.name
    if dialect == "postgresql":
        database = PG_DUMP
        # The counts and the dump see one snapshot: exported by a repeatable-read transaction that
        # stays open until pg_dump has started on it.
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                counts = {name: connection.execute(select(func.count()).select_from(model)).scalar_one()
                          for name, model in COUNTED.items()}
                _run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                      "-f", str(folder / database), libpq_url(engine)], "pg_dump 导出")
    elif dialect == "sqlite":
        database = SQLITE_COPY
        source_path = engine.url.database
        if not source_path or source_path == ":memory:":
            raise BackupError("内存数据库无法备份")
        source = sqlite3.connect(source_path, timeout=30)
        target = sqlite3.connect(folder / database)
        try:
            source.backup(target)  # one step: a single read transaction, writers go on (WAL)
            counts = {name: target.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in COUNTED}
        finally:
            target.close()
            source.close()
    else:
        raise BackupError(f"不支持备份 {dialect} 数据库")
    files = copy_all(storage, LocalStorage(folder / FILES))
    checksums = {path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": _sha256(path)}
                 for path in sorted(folder.rglob("*")) if path.is_file()}
    manifest = {"format": FORMAT, "created_at": now.isoformat(), "database": dialect, "database_file": database,
                "revision": _revision(engine), "counts": counts, "files": checksums}
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return BackupReport(folder, dialect, counts, files)


def read_manifest(folder: Path) -> dict:
    """The manifest, after checking every file it lists against its size and checksum."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} 中没有 {MANIFEST}，不是本系统的备份") from None
    except ValueError:
        raise BackupError(f"{MANIFEST} 已损坏") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式：{manifest.get('format')!r}")
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"备份缺少文件 {name}")
        if path.stat().st_size != expected["size"] or _sha256(path) != expected["sha256"]:
            raise BackupError(f"备份文件 {name} 的校验和不符（已损坏或被改动）")
    return manifest


def _holds_orders(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not inspect(connection).has_table(WorkOrder.__tablename__):
            return False
        return bool(connection.execute(select(func.count()).select_from(WorkOrder)).scalar_one())


def restore(engine: Engine, storage: Storage, folder: Path, *, replace: bool = False) -> BackupReport:
    folder = Path(folder)
    manifest = read_manifest(folder)
    dialect = engine.dialect.name
    if manifest["database"] != dialect:
        raise BackupError(f"这是 {manifest['database']} 数据库的备份，不能恢复到 {dialect}")
    if _holds_orders(engine) and not replace:
        raise BackupError("目标数据库已有工单；恢复会覆盖现有数据，确认时请加 --replace")
    source = folder / manifest["database_file"]
    if dialect == "postgresql":
        engine.dispose()
        with engine.begin() as connection:  # the dump recreates every table
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        _run(["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
              "-d", libpq_url(engine), str(source)], "pg_restore 恢复")
    else:
        engine.dispose()
        backup = sqlite3.connect(source)
        target = sqlite3.connect(engine.url.database, timeout=30)
        try:
            backup.backup(target)
        finally:
            target.close()
            backup.close()
    engine.dispose()
    files = copy_all(LocalStorage(folder / FILES), storage) if (folder / FILES).is_dir() else 0
    counts = _counts(engine)
    if counts != manifest["counts"]:
        raise BackupError(f"恢复后的行数与备份清单不符：{counts} ≠ {manifest['counts']}")
    return BackupReport(folder, dialect, counts, files)

