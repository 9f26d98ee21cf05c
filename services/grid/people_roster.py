"""The people roster in Excel: import (preview, then confirm) and export, in the same columns.

Columns: 姓名, 手机号, 角色 (the Chinese label), 片区/部门 (a zone or a department by name),
企业微信账号, 钉钉账号, and optionally 职务 and 服务阶段 (chief helpers). A person is matched by
mobile number: a known number updates that person, a new one creates a person. Each row goes
through ``services.admin.operations.save_person`` (the same checks and audit as the admin page) inside its
own savepoint, so a bad row writes nothing and the good ones import. A preview is the same run
inside a savepoint that is rolled back: it reports exactly what the real run will do.

The file and its rejected rows are an ``ImportJob`` of kind "people", run by the jobs process like
the enterprise registry's (``services.registry.import_jobs``): the upload queues a dry run, the
confirmation queues the real run; no request parses a roster. A run reads the whole file first
(at most ``MAX_ROWS`` rows) with no transaction open, then applies the rows ``COMMIT_EVERY`` at a
time, one transaction per batch — committed by the real run, rolled back by the preview
(``apply_roster`` says how the preview still sees what earlier rows do) — so SQLite's write lock
is never held while a file is parsed, nor for more than one batch.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models import (
    Department,
    DepartmentKind,
    ImportJob,
    ImportRowError,
    Person,
    Role,
    ServiceStage,
    Zone,
)
from services.admin import operations as admin
from services.admin.operations import AdminContext
from services.errors import DomainError
from services.registry import excel_io, import_jobs
from services.registry.import_jobs import MAX_LISTED_ERRORS

KIND = "people"
SAMPLE_ROWS = 5
MAX_ROWS = 5000
COMMIT_EVERY = 200
BATCH_PAUSE_SECONDS = 0.05
_PHONE_NOISE = re.compile(r"[\s\-()（）]+")
_PHONE = re.compile(r"\+?\d{5,20}")
_LIST = re.compile(r"[、,，;；/\s]+")

PEOPLE_SPEC = excel_io.TableSpec("人员名册", (
    excel_io.Column("name", "姓名", ("名字", "人员姓名"), required=True, example="王小明"),
    excel_io.Column("phone", "手机号", ("手机", "手机号码", "联系电话", "电话", "工作电话"), required=True,
                    note="用于识别人员：已有的手机号更新该人员，新的手机号新增人员", example="13800000000"),
    excel_io.Column("role", "角色", ("身份", "人员类别"), required=True,
                    note="填写：" + "、".join(Role.LABELS.values()), example="为企服务人员"),
    excel_io.Column("unit", "片区/部门", ("片区", "部门", "所属片区", "所属部门", "单位", "所属单位", "片区或部门"),
                    note="为企服务人员、片区管理员填片区（如 天穆镇）；首席帮办、部门领导填部门或下属单位"
                         "（如 人社局、工信局·城东供电）；调度员等填枢纽机构（如 区网格中心），可空",
                    example="天穆镇"),
    excel_io.Column("wecom", "企业微信账号", ("企业微信", "企业微信UserID", "企业微信ID", "企微账号"),
                    note="企业微信通讯录中的账号（UserID），可空"),
    excel_io.Column("dingtalk", "钉钉账号", ("钉钉", "钉钉UserID", "钉钉ID"), note="钉钉通讯录中的 UserID，可空"),
    excel_io.Column("title", "职务", ("岗位",), note="可空"),
    excel_io.Column("stages", "服务阶段", ("负责服务阶段", "负责阶段"),
                    note="首席帮办填写，多个用顿号分隔：企业开办、项目建设、生产经营、发展壮大、市场退出"),
))

EXPORT_HEADERS = ("姓名", "手机号", "角色", "片区/部门", "企业微信账号", "钉钉账号", "职务", "服务阶段", "状态")
EXPORT_WIDTHS = (10, 15, 16, 22, 18, 18, 16, 30, 8)
# save_person's field names → the roster's columns (for the row-error report).
_FIELD_COLUMNS = {
    "name": "姓名", "phone": "手机号", "role": "角色", "zone_id": "片区/部门", "department_id": "片区/部门",
    "wecom_userid": "企业微信账号", "dingtalk_userid": "钉钉账号", "title": "职务", "stage_ids": "服务阶段",
    "active": "状态",
}
_COLUMN_KEYS = {"姓名": "name", "手机号": "phone", "角色": "role", "片区/部门": "unit", "企业微信账号": "wecom",
                "钉钉账号": "dingtalk", "职务": "title", "服务阶段": "stages"}


def normalize_phone(value: Any) -> str:
    return _PHONE_NOISE.sub("", excel_io.cell_text(value))


def _role_lookup() -> dict[str, str]:
    lookup = {}
    for key, label in Role.LABELS.items():
        lookup[key] = key
        lookup[label] = key
        lookup[re.sub(r"（.*）$", "", label)] = key  # 区领导（总览、批示） → 区领导
    return lookup


_ROLES = _role_lookup()


class RowProblem(Exception):
    def __init__(self, column: str, value: str, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


class _Directory:
    """Zones, departments, stages and people's numbers, loaded once per run."""

    def __init__(self, session: Session):
        self.zones: dict[str, Zone] = {}
        for zone in session.scalars(select(Zone)):
            self.zones[zone.name] = zone
            short = re.sub(r"(镇|街)$", "", zone.name)
            self.zones.setdefault(short, zone)
        self.departments: dict[str, Department] = {}
        for d in session.scalars(select(Department).options(selectinload(Department.parent))):
            for name in {d.display_name, d.display_name.replace("·", "/"), d.display_name.replace("·", "")}:
                self.departments[name] = d
            self.departments.setdefault(d.name, d)
        self.stages = {s.name: s for s in session.scalars(select(ServiceStage))}
        self.people: dict[str, list[Person]] = {}
        for person in session.scalars(select(Person).options(selectinload(Person.stages))):
            phone = normalize_phone(person.phone)
            if phone:
                self.people.setdefault(phone, []).append(person)


@dataclass
class RosterResult:
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str, str, str, list[str]]] = field(default_factory=list)  # row, column, value, why, row
    headers: list[str] = field(default_factory=list)  # the header row as written
    sample: list[list[str]] = field(default_factory=list)  # the first rows, as text
    unlisted_errors: int = 0  # rejected rows whose errors were not kept (past MAX_LISTED_ERRORS)
    _error_rows: set[int] = field(default_factory=set)

    def add_error(self, number: int, column: str, value: str, reason: str, texts: list[str]) -> None:
        if number not in self._error_rows and len(self._error_rows) >= MAX_LISTED_ERRORS:
            self.unlisted_errors += 1
            return
        self._error_rows.add(number)
        self.errors.append((number, column, value, reason, excel_io.report_cells(texts)))

    @property
    def rejected_rows(self) -> int:
        return len(self._error_rows) + self.unlisted_errors

    def job_fields(self) -> dict[str, int]:
        return {"total": self.total, "processed": self.total, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "errors": self.rejected_rows, "unlisted_errors": self.unlisted_errors}

    def describe(self, *, dry_run: bool = False) -> str:
        verb = "将" if dry_run else ""
        return (f"共 {self.total} 行，{verb}新增 {self.new} 人，{verb}更新 {self.changed} 人，未变化 {self.unchanged} 人，"
                f"有问题 {self.rejected_rows} 行")

    def audit_detail(self) -> dict[str, int]:
        return {"total": self.total, "new": self.new, "changed": self.changed, "unchanged": self.unchanged,
                "rejected_rows": self.rejected_rows}


@dataclass
class RosterFile:
    """A roster as read from its file, before any database work."""

    headers: list[str]
    header_row: int
    labels: dict[str, str]
    rows: list[tuple[int, dict[str, Any], list[str]]]  # (Excel row number, cleaned values, cells as text)


def _snapshot(person: Person | None) -> tuple | None:
    if person is None:
        return None
    return (person.name, person.role, person.zone_id, person.department_id, person.phone, person.title,
            person.wecom_userid, person.dingtalk_userid, person.active, tuple(sorted(s.id for s in person.stages)))


def _parse_row(row: excel_io.Row | _RowView, directory: _Directory, seen: dict[str, int]) -> tuple[dict[str, Any], Person | None]:
    values = row.values
    name = excel_io.clean_text(values.get("name"))
    if not name:
        raise RowProblem("姓名", "", "姓名不能为空")
    raw_phone = excel_io.cell_text(values.get("phone"))
    phone = normalize_phone(raw_phone)
    if not phone:
        raise RowProblem("手机号", "", "手机号不能为空")
    if not _PHONE.fullmatch(phone):
        raise RowProblem("手机号", raw_phone, "手机号格式不正确")
    if phone in seen:
        raise RowProblem("手机号", raw_phone, f"与第 {seen[phone]} 行的手机号重复")
    seen[phone] = row.number
    existing = directory.people.get(phone, [])
    if len(existing) > 1:
        raise RowProblem("手机号", raw_phone,
                         f"系统中已有 {len(existing)} 人使用该手机号（{'、'.join(p.name for p in existing)}），请先在人员管理中更正")
    person = existing[0] if existing else None

    role_text = excel_io.clean_text(values.get("role"))
    role = _ROLES.get(role_text)
    if role is None:
        raise RowProblem("角色", role_text, f"角色“{role_text}”无效，应为：{'、'.join(Role.LABELS.values())}"
                         if role_text else "角色不能为空")

    unit = excel_io.clean_text(values.get("unit")).replace(" ", "")
    zone_id = department_id = None
    if role in Role.ZONE_ROLES:
        zone = directory.zones.get(unit)
        if zone is None:
            raise RowProblem("片区/部门", unit, f"未找到片区“{unit}”（应为 17 个片区之一，如 天穆镇）"
                             if unit else f"{Role.LABELS[role]}须填写所属片区")
        zone_id = zone.id
    elif unit:
        department = directory.departments.get(unit)
        if department is None:
            raise RowProblem("片区/部门", unit, f"未找到部门或单位“{unit}”")
        if role not in Role.DEPARTMENT_ROLES and department.kind != DepartmentKind.HUB:
            raise RowProblem("片区/部门", unit, f"{Role.LABELS[role]}只能归属区网格中心、营商环境办等枢纽机构")
        department_id = department.id
    elif role in Role.DEPARTMENT_ROLES:
        raise RowProblem("片区/部门", "", f"{Role.LABELS[role]}须填写所属部门或单位")

    stages_text = excel_io.clean_text(values.get("stages"))
    stage_ids: list[str] = []
    if role == Role.CHIEF_HELPER:
        if stages_text:
            for name_ in (s for s in _LIST.split(stages_text) if s):
                stage = directory.stages.get(name_)
                if stage is None:
                    raise RowProblem("服务阶段", stages_text,
                                     f"服务阶段“{name_}”无效，应为：{'、'.join(directory.stages)}")
                stage_ids.append(str(stage.id))
        elif person is not None:
            stage_ids = [str(s.id) for s in person.stages]  # the column left empty keeps what is known

    title = excel_io.clean_text(values.get("title"))
    data = {
        "name": name, "role": role, "zone_id": str(zone_id or ""), "department_id": str(department_id or ""),
        "phone": phone, "title": title if title or person is None else person.title,
        "wecom_userid": excel_io.clean_text(values.get("wecom")),
        "dingtalk_userid": excel_io.clean_text(values.get("dingtalk")),
        "stage_ids": stage_ids,
        # An update never re-activates someone an administrator stopped.
        "active": "1" if person is None or person.active else "",
    }
    if person is not None:
        data["phone"] = person.phone  # the same number (matched on digits): keep how it is written
        for key, attr in (("wecom_userid", "wecom_userid"), ("dingtalk_userid", "dingtalk_userid")):
            if not data[key] and getattr(person, attr):
                data[key] = getattr(person, attr)  # an empty cell does not unbind a chat account
    return data, person


def read_roster(path: str | Path, filename: str, *, max_bytes: int = excel_io.DEFAULT_MAX_BYTES) -> RosterFile:
    """Read the whole roster (at most ``MAX_ROWS`` rows): no database here, so none is held waiting."""
    with excel_io.open_sheet(path, PEOPLE_SPEC, filename=filename, max_bytes=max_bytes, max_rows=MAX_ROWS) as sheet:
        rows = [(row.number, dict(row.values), row.texts()) for row in sheet.rows()]
        return RosterFile(excel_io.report_cells(sheet.header.headers), sheet.header.row_number,
                          dict(sheet.header.labels), rows)


class _RowView:
    """A read row, as ``_parse_row`` takes it."""

    __slots__ = ("number", "values")

    def __init__(self, number: int, values: dict[str, Any]):
        self.number, self.values = number, values


_CHAT_IDS = (("wecom_userid", "企业微信账号", "该企业微信 UserID 已被其他人员使用"),
             ("dingtalk_userid", "钉钉账号", "该钉钉 UserID 已被其他人员使用"))


def apply_roster(ac: AdminContext, roster: RosterFile, *, preview: bool = False, batch: int | None = None,
                 progress_cb=None) -> RosterResult:
    """Import the rows, every row in its own savepoint, ``batch`` rows per transaction: the real
    run commits each batch, a preview rolls each one back — either way SQLite's write lock is held
    for one batch at a time, never for the whole file.

    What a row does to the rows after it is carried from batch to batch, so a preview reports what
    the real run will do: phone numbers already used in the file (``seen``), chat accounts claimed
    by earlier rows (``claims``), and chat accounts earlier rows took off their people (``released``,
    replayed at the start of each preview batch, since the preview's own writes are gone)."""
    session = ac.session
    result = RosterResult(headers=list(roster.headers))
    directory = _Directory(session)
    seen: dict[str, int] = {}
    claims: dict[tuple[str, str], str] = {}  # (column, account) → the phone of the row that holds it
    released: list[tuple[str, str, int]] = []  # (column, account, person id)
    rows = roster.rows
    batch = batch or COMMIT_EVERY
    for first in range(0, len(rows), batch):
        savepoint = session.begin_nested() if preview else None
        if preview:
            for attr, account, person_id in released:
                session.execute(update(Person).where(Person.id == person_id, getattr(Person, attr) == account)
                                .values({attr: None}))
        for number, values, texts in rows[first:first + batch]:
            result.total += 1
            if len(result.sample) < SAMPLE_ROWS:
                result.sample.append(excel_io.report_cells(texts, 1000))
            try:
                data, person = _parse_row(_RowView(number, values), directory, seen)
                key = normalize_phone(data["phone"])
                for attr, column, taken in _CHAT_IDS:
                    if data[attr] and claims.get((attr, data[attr]), key) != key:
                        raise RowProblem(column, data[attr], taken)
                before = _snapshot(person)
                held = {attr: getattr(person, attr) for attr, _c, _t in _CHAT_IDS} if person is not None else {}
                with session.begin_nested():
                    saved = admin.save_person(ac, person.id if person else None, data)
                for attr, _column, _taken in _CHAT_IDS:
                    if held.get(attr) and held[attr] != data[attr]:
                        released.append((attr, held[attr], saved.id))
                    if data[attr]:
                        claims[(attr, data[attr])] = key
                if person is None:
                    result.new += 1
                    if not preview:  # a preview's new person is gone with its batch; ``seen`` has the phone
                        directory.people.setdefault(data["phone"], []).append(saved)
                elif _snapshot(saved) != before:
                    result.changed += 1
                else:
                    result.unchanged += 1
            except RowProblem as problem:
                result.add_error(number, problem.column, problem.value, problem.reason, texts)
            except DomainError as error:
                fields = error.fields or {"": error.message}
                for field_key, reason in fields.items():
                    column = _FIELD_COLUMNS.get(field_key, "")
                    value = excel_io.cell_text(values.get(_COLUMN_KEYS.get(column, ""), ""))
                    result.add_error(number, column, value, reason, texts)
        if savepoint is not None:
            savepoint.rollback()
            session.rollback()  # the batch's transaction ends here: a preview writes nothing
        else:
            session.commit()
        if progress_cb is not None:
            progress_cb(result)
        if first + batch < len(rows):
            # A gap between batches that other writers can take: SQLite's busy handler polls, and a
            # waiting request (or this job's own lease renewal) would miss a gap of microseconds.
            time.sleep(BATCH_PAUSE_SECONDS)
    return result


def _store_errors(session: Session, job_id: int, result: RosterResult) -> None:
    session.execute(delete(ImportRowError).where(ImportRowError.job_id == job_id))
    if result.errors:
        session.execute(insert(ImportRowError), [
            {"job_id": job_id, "row_number": number, "column": column[:64], "value": value[:2000], "reason": reason,
             "row_values": texts} for number, column, value, reason, texts in result.errors])


def run_roster_job(session_factory: sessionmaker[Session], job, *, now: datetime, clock=None,
                   progress_cb=None) -> RosterResult:
    """The ``people`` runner of ``services.registry.import_jobs``: a dry run checks every row and
    writes nothing but the report; the real run imports the good rows."""
    roster = read_roster(job.stored_path, job.filename, max_bytes=max(excel_io.DEFAULT_MAX_BYTES, job.file_size or 0))
    with session_factory() as session:
        actor = session.get(Person, job.created_by_id) if job.created_by_id else None
        ac = AdminContext(session=session, actor=actor, now=now)
        # A preview writes nothing (audit rows included); the real run commits batch by batch.
        result = apply_roster(ac, roster, preview=job.dry_run, progress_cb=progress_cb)
        _store_errors(session, job.id, result)
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(
            header_row=roster.header_row, header_map=roster.labels, preview_rows=[result.headers, *result.sample]))
        session.commit()
    return result


def recent_jobs(session: Session, limit: int = 10) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).where(ImportJob.kind == KIND)
                                .order_by(ImportJob.id.desc()).limit(limit)))


def job_errors(session: Session, job: ImportJob, limit: int | None = None) -> list[ImportRowError]:
    query = (select(ImportRowError).where(ImportRowError.job_id == job.id)
             .order_by(ImportRowError.row_number, ImportRowError.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def error_count(session: Session, job: ImportJob) -> int:
    return int(session.scalar(select(func.count(ImportRowError.id)).where(ImportRowError.job_id == job.id)) or 0)


def write_errors(target, session: Session, job: ImportJob) -> int:
    """The rejected rows with their reasons and original cells, under the file's own headers."""
    headers = list(job.preview_rows[0]) if job.preview_rows else []
    rows = ((e.row_number, e.column, e.value, e.reason, e.row_values) for e in job_errors(session, job))
    return excel_io.write_row_errors(target, headers, import_jobs.with_unlisted_note(rows, job))


# --------------------------------------------------------------------------------------------------
# Export and template
# --------------------------------------------------------------------------------------------------
def _unit(person: Person) -> str:
    if person.zone is not None:
        return person.zone.name
    if person.department is not None:
        return person.department.display_name
    return ""


def export_rows(session: Session, *, role: str = "", zone_id: Any = None, department_id: Any = None,
                active: str = "") -> Iterator[list[str]]:
    for p in admin.all_people(session, role=role, zone_id=zone_id, department_id=department_id, active=active):
        yield [p.name, p.phone, p.role_label, _unit(p), p.wecom_userid or "", p.dingtalk_userid or "", p.title,
               "、".join(s.name for s in sorted(p.stages, key=lambda s: s.sort_order)),
               "在岗" if p.active else "已停用"]


def write_export(target, session: Session, **filters: Any) -> int:
    return excel_io.write_table(target, "人员名册", EXPORT_HEADERS, export_rows(session, **filters),
                                widths=EXPORT_WIDTHS)


def write_template(target) -> None:
    excel_io.write_template(
        target, PEOPLE_SPEC,
        example_rows=[
            ["王小明", "13800000001", "为企服务人员", "天穆镇", "wangxiaoming", "", "", ""],
            ["李帮办", "13800000002", "首席帮办", "人社局", "", "libangban", "科长", "企业开办、生产经营"],
            ["赵调度", "13800000003", "区网格中心调度员", "区网格中心", "", "", "", ""],
        ],
        notes=["示例行仅供参考，导入前请删除。", "以手机号识别人员：已有的手机号更新该人员信息，新的手机号新增人员；"
               "名册中没有的人员不会被删除或停用。", "企业微信账号、钉钉账号留空时保留系统中已有的绑定。"],
    )
