"""The enterprise registry's own records: each enterprise's history, and the Excel import jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.enterprise import Enterprise
from models.org import Person


class EnterpriseEventKind:
    CREATED = "created"  # first seen (import or manual entry)
    STATUS = "status"  # 登记状态 changed: 迁入/迁出/注销/吊销/歇业 …
    FIELDS = "fields"  # registry fields changed by an import
    EDITED = "edited"  # profile edited by a person in the console
    MISSING = "missing"  # absent from a full export (flagged, never deleted)
    REAPPEARED = "reappeared"  # present again after being flagged missing
    LABELS = {
        CREATED: "新增", STATUS: "状态变更", FIELDS: "信息变更", EDITED: "人工编辑",
        MISSING: "全量名录中缺失", REAPPEARED: "重新出现在名录中",
    }


class EnterpriseEvent(Base):
    """One immutable step in an enterprise's history: who (a person or an import), when, what."""

    __tablename__ = "enterprise_event"
    __table_args__ = (Index("ix_enterprise_event_enterprise_created", "enterprise_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    # {field: [old, new]} with JSON-safe values (dates as ISO text, money as text).
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id", ondelete="SET NULL"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_label: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    enterprise: Mapped[Enterprise] = relationship()
    actor: Mapped[Person | None] = relationship()

    @property
    def kind_label(self) -> str:
        return EnterpriseEventKind.LABELS.get(self.kind, self.kind)


@event.listens_for(EnterpriseEvent, "before_update")
def _events_are_immutable(_mapper, _connection, target):
    raise RuntimeError(f"enterprise_event {target.id} is immutable")


class ImportStatus:
    UPLOADED = "uploaded"  # stored and its header recognised
    QUEUED = "queued"  # waiting for the jobs process (a dry run or the real run)
    RUNNING = "running"
    PREVIEWED = "previewed"  # dry run finished: counts and row errors, nothing written
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LABELS = {
        UPLOADED: "已上传", QUEUED: "排队中", RUNNING: "进行中", PREVIEWED: "已预检", DONE: "已完成",
        FAILED: "失败", CANCELLED: "已取消",
    }
    ACTIVE = (QUEUED, RUNNING)


class ImportJob(TimestampMixin, Base):
    """One uploaded file and its runs: a dry run (preview) and then the real import."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # enterprises | people | …
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded
    stored_path: Mapped[str] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.UPLOADED, index=True)
    dry_run: Mapped[bool] = mapped_column(default=True)
    full_export: Mapped[bool] = mapped_column(default=False)  # flag enterprises absent from the file

    # What the reader found: header row number, {field: header as written}, first parsed rows.
    header_row: Mapped[int | None] = mapped_column()
    header_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    preview_rows: Mapped[list[Any]] = mapped_column(default=list)

    total: Mapped[int] = mapped_column(default=0)  # data rows read so far (the final count when done)
    processed: Mapped[int] = mapped_column(default=0)
    new: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    # Rows with errors beyond the ones kept as ImportRowError (a junk file is counted, not stored).
    unlisted_errors: Mapped[int] = mapped_column(default=0, server_default="0")
    missing: Mapped[int] = mapped_column(default=0)  # flagged as absent from a full export
    status_changes: Mapped[int] = mapped_column(default=0)
    # Rough size of the file in rows (for the progress bar before the real count is known).
    estimated_rows: Mapped[int | None] = mapped_column()

    # The run's lease: the worker that claimed it renews ``lease_until`` every few seconds while it
    # runs; once it has passed (the worker died), any jobs process takes the job over.
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # claims of the current run
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error_message: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    created_by: Mapped[Person | None] = relationship()

    @property
    def status_label(self) -> str:
        return ImportStatus.LABELS.get(self.status, self.status)

    @property
    def is_active(self) -> bool:
        return self.status in ImportStatus.ACTIVE

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.PREVIEWED):
            return 100
        expected = self.estimated_rows or self.total
        if not expected:
            return 0
        return max(0, min(99, int(self.processed * 100 / expected)))


class ImportRowError(Base):
    """A rejected row: nothing of it was written; the report lists it with the original cells."""

    __tablename__ = "import_row_error"
    __table_args__ = (Index("ix_import_row_error_job_row", "job_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column()  # as Excel numbers it (1-based, title rows included)
    column: Mapped[str] = mapped_column(String(64), default="")  # the header as written in the file
    value: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    row_values: Mapped[list[Any]] = mapped_column(default=list)  # the row's cells as text
