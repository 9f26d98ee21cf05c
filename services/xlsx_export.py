"""Excel exports: the work-order ledger (台账), enterprise lists, people and contact rosters.

Written with openpyxl's write-only workbook row by row from queries read in batches
(``yield_per``), so memory stays flat however many rows there are. Every cell holding user text
is written as text: a company name starting with "=" must never become a formula in the
recipient's Excel (formula injection).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import Department, Enterprise, EntityType, Person, Role, WorkOrder, Zone
from services.orders import queries as order_queries
from services.orders.ladder import LEVELS
from services.orders.lifecycle import State
from services.orders.operations import CHANNEL_LABELS, PRIORITIES
from services.permissions import enterprise_scope_clause
from services.studio import store as studio_store
from services.studio.forms import FieldDef, choice_fields, display_value

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH = 500


@dataclass(frozen=True)
class Column:
    header: str
    width: int = 14


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    # Lines above the header (a report title, the filters used); the header row comes right after.
    preamble: Sequence[str] = ()


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _cell(sheet, value: Any) -> WriteOnlyCell:
    if isinstance(value, datetime):
        value = _local(value)
    elif isinstance(value, date):
        value = value.isoformat()
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the first character is
        return cell
    return WriteOnlyCell(sheet, value=value)


def write_workbook(target: str | os.PathLike | Any, sheets: Sequence[Sheet]) -> int:
    """Write ``sheets`` to ``target`` (a path or a binary file); returns the number of data rows."""
    workbook = Workbook(write_only=True)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE7F3")
    title_font = Font(bold=True, size=13)
    total = 0
    for spec in sheets:
        sheet = workbook.create_sheet(title=spec.title[:31])
        for index, column in enumerate(spec.columns):
            sheet.column_dimensions[_column_letter(index)].width = column.width
        for line_number, line in enumerate(spec.preamble):
            cell = _cell(sheet, line)
            if line_number == 0:
                cell.font = title_font
            sheet.append([cell])
        header = []
        for column in spec.columns:
            cell = _cell(sheet, column.header)
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(vertical="center")
            header.append(cell)
        sheet.append(header)
        sheet.freeze_panes = f"A{len(spec.preamble) + 2}"
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
            total += 1
    workbook.save(target)
    return total


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def write_to_temp(sheets: Sequence[Sheet], directory: str | os.PathLike | None = None) -> Path:
    """Write to a temporary file (the caller streams it out and deletes it)."""
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="export-", dir=directory)
    os.close(handle)
    try:
        write_workbook(name, sheets)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def stream_file(path: Path, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield the file in chunks and delete it afterwards (also when the client goes away)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# The work-order ledger (台账)
# --------------------------------------------------------------------------------------------------
LEDGER_COLUMNS = (
    Column("工单号", 18), Column("受理时间", 17), Column("提交渠道", 10), Column("企业名称", 30),
    Column("统一社会信用代码", 21), Column("片区", 10), Column("诉求标题", 28), Column("诉求内容", 48),
    Column("诉求领域", 12), Column("服务阶段", 10), Column("紧急程度", 10), Column("响应层级", 14),
    Column("绿色通道", 8), Column("当前状态", 12), Column("承办部门", 18), Column("承办人", 10),
    Column("签收时间", 17), Column("办理时限", 17), Column("是否超期", 8), Column("办结时间", 17),
    Column("办理结果", 40), Column("退单次数", 8), Column("满意度", 10), Column("企业联系人", 10),
    Column("联系电话", 14), Column("提交人", 10),
)


def _overdue(order: WorkOrder, now: datetime) -> str:
    if order.state in State.CLOCK_RUNNING and order.due_at is not None and order.due_at < now:
        return "是"
    if order.state == State.DISPATCHED and order.sign_due_at is not None and order.sign_due_at < now:
        return "是"
    if order.due_at is not None and order.resolved_at is not None and order.resolved_at > order.due_at:
        return "是"
    return "否"


def ledger_field_columns(session: Session, person: Person, filters: order_queries.OrderFilters,
                         now: datetime) -> list[tuple[str, FieldDef | None]]:
    """One column per custom field defined in any domain form (in form order), then the keys of
    fields removed since that the exported orders still hold (headed by the key)."""
    columns: dict[str, FieldDef | None] = {}
    for raw_fields in studio_store.runtime(session).forms.values():
        for raw in raw_fields or ():
            definition = FieldDef.from_dict(raw)
            columns.setdefault(definition.key, definition)
    stored = session.scalars(select(WorkOrder.custom_fields)
                             .where(*order_queries.filtered_clauses(person, filters, now)))
    for values in stored:
        for key in values or {}:
            columns.setdefault(key, None)
    return list(columns.items())


def _field_cell(definition: FieldDef | None, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return display_value(definition, value)


def ledger_rows(session: Session, person: Person, filters: order_queries.OrderFilters,
                now: datetime, field_columns: Sequence[tuple[str, FieldDef | None]] = ()) -> Iterator[list[Any]]:
    """Rows of the ledger, the same orders the console list shows for ``filters`` (all pages)."""
    query = (
        select(WorkOrder)
        .where(*order_queries.filtered_clauses(person, filters, now))
        .options(
            selectinload(WorkOrder.enterprise), selectinload(WorkOrder.zone), selectinload(WorkOrder.domain),
            selectinload(WorkOrder.stage), selectinload(WorkOrder.assigned_person),
            selectinload(WorkOrder.submitter), selectinload(WorkOrder.visits),
            selectinload(WorkOrder.assigned_department).selectinload(Department.parent),
        )
        .order_by(WorkOrder.created_at, WorkOrder.id)
        .execution_options(yield_per=BATCH)
    )
    for order in session.scalars(query):
        enterprise = order.enterprise
        visit = order.visits[-1] if order.visits else None
        yield [
            order.number, order.created_at, CHANNEL_LABELS.get(order.channel, order.channel),
            enterprise.name if enterprise else "", enterprise.identifier if enterprise else "",
            order.zone.name if order.zone else "", order.title, order.content,
            order.domain.name if order.domain else "", order.stage.name if order.stage else "",
            PRIORITIES.get(order.priority, order.priority), LEVELS.get(order.level, str(order.level)),
            "是" if order.green_channel else "否", State.LABELS.get(order.state, order.state),
            order.assigned_department.display_name if order.assigned_department else "",
            order.assigned_person.name if order.assigned_person else "",
            order.signed_at, order.due_at, _overdue(order, now), order.resolved_at, order.result,
            order.return_count, visit.satisfaction if visit is not None else "",
            order.contact_name, order.contact_phone, order.submitter.name if order.submitter else "企业自助",
            *(_field_cell(definition, (order.custom_fields or {}).get(key)) for key, definition in field_columns),
        ]


def describe_order_filters(session: Session, filters: order_queries.OrderFilters) -> str:
    parts = []
    if filters.state:
        parts.append(f"状态：{State.LABELS.get(filters.state, filters.state)}")
    if filters.level:
        parts.append(f"层级：{LEVELS.get(filters.level, filters.level)}")
    if filters.zone_id:
        zone = session.get(Zone, filters.zone_id)
        parts.append(f"片区：{zone.name if zone else filters.zone_id}")
    if filters.department_id:
        department = session.get(Department, filters.department_id)
        parts.append(f"承办部门：{department.display_name if department else filters.department_id}")
    if filters.overdue:
        parts.append("仅超期")
    if filters.green:
        parts.append("绿色通道")
    if filters.mine:
        parts.append("与我相关")
    if filters.q.strip():
        parts.append(f"搜索：{filters.q.strip()}")
    labels = {f.key: f.label for f in choice_fields(studio_store.runtime(session).forms)}
    parts += [f"{labels.get(key, key)}：{value}" for key, value in filters.fields]
    return "；".join(parts) or "全部（本人可见范围）"


def ledger_sheet(session: Session, person: Person, filters: order_queries.OrderFilters, now: datetime) -> Sheet:
    stamp = _local(now)
    field_columns = ledger_field_columns(session, person, filters, now)
    extra = tuple(Column(definition.label if definition else key, 14) for key, definition in field_columns)
    return Sheet(
        title="工单台账",
        columns=LEDGER_COLUMNS + extra,
        rows=ledger_rows(session, person, filters, now, field_columns),
        preamble=(f"北辰区“政企同行·有需必应”工单台账（导出时间 {stamp}）",
                  f"筛选条件：{describe_order_filters(session, filters)}；导出人：{person.name}"),
    )


# --------------------------------------------------------------------------------------------------
# Enterprise lists
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnterpriseFilters:
    zone_id: int | None = None
    unassigned: bool = False  # the 未分配 queue (no zone)
    status: str = ""
    entity_type: str = ""
    staff_id: int | None = None
    no_staff: bool = False
    key_industry: bool = False
    q: str = ""


ENTERPRISE_COLUMNS = (
    Column("统一社会信用代码", 21), Column("注册号", 16), Column("企业名称", 32), Column("主体类型", 12),
    Column("登记状态", 8), Column("法定代表人/负责人", 12), Column("成立日期", 12), Column("住所", 40),
    Column("片区", 10), Column("为企服务人员", 12), Column("服务人员电话", 14), Column("行业", 12),
    Column("规模", 6), Column("“2+3”重点产业", 10), Column("产业链位置", 10), Column("联系人", 10),
    Column("联系电话", 14),
)


def enterprise_scope(person: Person):
    """Zone roles see their zone (and whom they serve); others the whole registry."""
    return enterprise_scope_clause(person)


def enterprise_clauses(person: Person, filters: EnterpriseFilters) -> list:
    clauses = []
    scope = enterprise_scope(person)
    if scope is not None:
        clauses.append(scope)
    if filters.unassigned:
        clauses.append(Enterprise.zone_id.is_(None))
    elif filters.zone_id:
        clauses.append(Enterprise.zone_id == filters.zone_id)
    if filters.status:
        clauses.append(Enterprise.status == filters.status)
    if filters.entity_type:
        clauses.append(Enterprise.entity_type == filters.entity_type)
    if filters.staff_id:
        clauses.append(Enterprise.service_staff_id == filters.staff_id)
    if filters.no_staff:
        clauses.append(Enterprise.service_staff_id.is_(None))
    if filters.key_industry:
        clauses.append(Enterprise.is_key_industry.is_(True))
    text = filters.q.strip()
    if text:
        pattern = f"%{text}%"
        clauses.append(or_(Enterprise.name.ilike(pattern), Enterprise.uscc.ilike(pattern),
                           Enterprise.reg_no.ilike(pattern), Enterprise.address.ilike(pattern)))
    return clauses


def enterprise_rows(session: Session, person: Person, filters: EnterpriseFilters) -> Iterator[list[Any]]:
    query = (
        select(Enterprise)
        .where(*enterprise_clauses(person, filters))
        .options(selectinload(Enterprise.zone), selectinload(Enterprise.service_staff),
                 selectinload(Enterprise.industry_tag))
        .order_by(Enterprise.id)
        .execution_options(yield_per=BATCH)
    )
    for e in session.scalars(query):
        staff = e.service_staff
        yield [
            e.uscc or "", e.reg_no or "", e.name, EntityType.LABELS.get(e.entity_type, e.entity_type), e.status,
            e.legal_representative, e.established_on, e.address, e.zone.name if e.zone else "未分配",
            staff.name if staff else "", staff.phone if staff else "",
            e.industry_tag.name if e.industry_tag else "", e.size_band, "是" if e.is_key_industry else "否",
            e.chain_position, e.contact_name, e.contact_phone,
        ]


def enterprise_sheet(session: Session, person: Person, filters: EnterpriseFilters, now: datetime) -> Sheet:
    return Sheet(
        title="企业名录",
        columns=ENTERPRISE_COLUMNS,
        rows=enterprise_rows(session, person, filters),
        preamble=(f"北辰区经营主体名录（导出时间 {_local(now)}）", f"导出人：{person.name}"),
    )


# --------------------------------------------------------------------------------------------------
# Department contact roster (部门联系人、重点事项联络员)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactLine:
    department: str
    name: str
    role: str
    title: str
    stages: str
    phone: str


def contact_roster(session: Session) -> list[ContactLine]:
    """Chief helpers (and department leaders) of every department and unit, in the district's order."""
    people = session.scalars(
        select(Person)
        .options(selectinload(Person.department).selectinload(Department.parent), selectinload(Person.stages))
        .where(Person.active.is_(True), Person.role.in_(Role.DEPARTMENT_ROLES), Person.department_id.is_not(None))
    )

    def key(p: Person):
        d = p.department
        parent = d.parent or d
        return (parent.sort_order, parent.id, d.parent_id is not None, d.sort_order, d.id,
                p.role != Role.CHIEF_HELPER, p.id)

    lines = []
    for p in sorted(people, key=key):
        stages = "、".join(s.name for s in sorted(p.stages, key=lambda s: s.sort_order))
        lines.append(ContactLine(p.department.display_name, p.name,
                                 "首席帮办" if p.role == Role.CHIEF_HELPER else "部门领导",
                                 p.title, stages, p.phone))
    return lines


CONTACT_COLUMNS = (Column("部门 / 单位", 24), Column("姓名", 10), Column("身份", 10), Column("职务", 14),
                   Column("负责服务阶段", 30), Column("联系电话", 16))


def contact_sheet(session: Session, now: datetime) -> Sheet:
    rows = ([c.department, c.name, c.role, c.title, c.stages, c.phone] for c in contact_roster(session))
    return Sheet(title="部门联系人名册", columns=CONTACT_COLUMNS, rows=rows,
                 preamble=(f"部门联系人、重点事项联络员名册（{_local(now)}）",
                           "供为企服务人员将企业诉求及时反馈至相应部门使用，请勿外传"))


# --------------------------------------------------------------------------------------------------
# Small helpers the pages share
# --------------------------------------------------------------------------------------------------
def download_name(stem: str, now: datetime) -> str:
    return f"{stem}-{now.astimezone(LOCAL_TZ).strftime('%Y%m%d-%H%M')}.xlsx"


def entity_type_choices() -> dict[str, str]:
    return dict(EntityType.LABELS)
