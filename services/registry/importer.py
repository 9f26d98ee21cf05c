"""The enterprise registry import: 市场监管局 exports in, an upsert out — never an append.

How a file is applied (see docs/registry.md for the user's version):

* A row is matched by 统一社会信用代码, else by 注册号 (pre-2016 个体工商户 without a code).
* Each applied row leaves a fingerprint (a digest of its cells). An identical row in a later file
  is recognised by the fingerprint alone and skipped; a different one is parsed and compared
  field by field, and only real differences are written: one UPDATE, one ``fields`` event with
  the diff, and a ``status`` event when the 登记状态 changed (迁入/迁出/注销/吊销/歇业 …).
  Re-importing the same file therefore writes nothing to the registry.
* A blank cell never erases a stored value; columns absent from the file are left alone. A value
  edited by hand in the console stays until the registry's own row for that enterprise changes.
* With ``full_export`` (the file is the complete list), enterprises absent from it are flagged
  ``missing_from_full_export`` with a ``missing`` event — never deleted; their orders and history
  stay, as they do for 注销 and 迁出 enterprises. (Enterprises created while the import runs are
  not judged by it.)
* A row is applied whole or not at all: any problem (bad check digit, unreadable date, duplicate
  of an earlier row, identity conflict) makes it a row error with the reason, and the rest of
  the file goes on.
* New enterprises get their zone from the address rules (``services.grid.rules``) and a service
  staff member of that zone; unmatched ones wait in the 未分配 queue.

Speed: rows are handled in chunks (``CHUNK_ROWS``), each committed with the job's progress.
Phase one of a chunk is cheap: identity from two raw cells, a digest of the raw row, duplicates
within the file; one query then finds the chunk's existing enterprises (id, fingerprint), each
key probed through its unique index whatever the planner's statistics say. An unchanged row
costs a dictionary lookup and a digest; only rows that may change something are cleaned and
parsed (phase two). New rows go in as multi-row INSERTs (SQLite) or one COPY (PostgreSQL),
changes as executemany UPDATEs by primary key, events and row errors in bulk.

Three chunks are in flight, a step apart (``_Importer.feed``): while one is read and checked
(PostgreSQL answers its lookup meanwhile, in pipeline mode) and the one before it is applied,
a writer thread writes and commits the one before that, so the database works while Python
does. A chunk's lookup therefore runs before the two chunks before it are written. Their rows cannot share an identity with it (that would be a
duplicate), so the only difference is a registration number that one of them moves away from
an enterprise: a row claiming that number still finds it there — a row error, or a merge — as
happens within one chunk anyway. Memory stays flat: the chunks in flight, plus the identities
already seen in the file. ``bench/bench_registry.py`` measures all this.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import chain, islice
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Enterprise,
    EnterpriseEvent,
    EnterpriseEventKind,
    EntityType,
    ImportJob,
    ImportRowError,
    RegistrationStatus,
    StatusFlag,
)
from services.errors import ValidationFailed
from services.registry import excel_io, import_jobs, industry_codes, size_band, uscc
from services.registry.excel_io import Column, TableSpec

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000
MISSING_SWEEP_BATCH = 10_000
PREVIEW_ROWS = 10
# One file holds at most this many data rows (the district's registry has about a tenth of it; a
# bigger file is split). Past it the read stops with a message, before anything is written in a
# dry run — and the console always runs one first.
MAX_ROWS = 500_000
# Row errors kept per import for the page and the xlsx report (import_jobs.MAX_LISTED_ERRORS); the
# others are only counted (ImportJob.unlisted_errors: "另有 N 行错误未列出"). A file of junk must not
# fill the database.
MAX_LISTED_ERRORS = import_jobs.MAX_LISTED_ERRORS
# Part of every fingerprint (a digest of the row's raw cells in our columns, the column set and
# the reader): bump it when parsing changes, so old fingerprints stop matching.
FINGERPRINT_VERSION = "1"

ENTERPRISE_SPEC = TableSpec(
    "企业名录",
    (
        Column("uscc", "统一社会信用代码", ("信用代码", "社会信用代码", "统一代码", "统一社会信用代码/注册号",
                                        "信用代码/注册号", "统一社会信用代码(注册号)"),
               note="18 位，含校验位；2016 年前登记、没有代码的个体工商户可只填注册号", example="91120113MA05JXYW1R"),
        Column("reg_no", "注册号", ("工商注册号", "原注册号", "登记注册号", "注册登记号"),
               note="没有统一社会信用代码时按注册号识别", example=""),
        Column("name", "企业名称", ("名称", "市场主体名称", "主体名称", "单位名称", "企业(机构)名称", "个体工商户名称",
                                "字号名称"), required=True, example="天津示例科技有限公司"),
        Column("market_type", "市场主体类型", ("企业类型", "主体类型", "类型", "企业性质"),
               example="有限责任公司（自然人投资或控股）"),
        Column("status", "登记状态", ("经营状态", "企业状态", "状态", "登记状态(经营状态)"),
               note="存续/在业/开业/在营/停业/歇业/吊销/注销/迁入/迁出/清算/撤销/责令关闭", example="存续"),
        Column("legal_rep", "法定代表人", ("负责人", "经营者", "法定代表人/负责人", "法人", "法人代表", "投资人",
                                     "执行事务合伙人"), example="张三"),
        Column("established_on", "成立日期", ("注册日期", "登记日期", "开业日期", "成立时间", "设立日期"),
               note="2020-01-02、2020/1/2、2020年1月2日、20200102 或 Excel 日期均可", example="2020-01-02"),
        Column("address", "住所", ("注册地址", "经营场所", "住所/经营场所", "地址", "企业地址", "经营地址",
                                 "住所(经营场所)", "登记住所"), note="用于按地址规则划入片区",
               example="天津市北辰区天穆镇北仓道8号"),
        Column("industry", "行业代码", ("国民经济行业", "国民经济行业代码", "行业门类代码", "行业分类代码"),
               note="GB/T 4754-2017，如 C3311；可带名称", example="C3311"),
        Column("industry_name", "行业名称", ("国民经济行业名称", "所属行业", "行业"), example="金属结构制造"),
        Column("capital", "注册资本", ("注册资金", "出资额", "出资数额", "资金数额"),
               note="单位万元；“100万美元”会记下币种", example="100"),
        Column("employees", "从业人数", ("从业人员", "从业人员数", "员工人数", "职工人数", "参保人数"), example="25"),
        Column("phone", "联系电话", ("电话", "联系方式", "手机", "手机号", "企业电话"), example="022-26390000"),
        Column("contact_name", "联系人", ("企业联系人",), example="李四"),
        Column("revenue", "营业收入", ("营业收入额", "年营业收入"), note="单位万元，用于划分企业规模"),
        Column("assets", "资产总额", ("资产合计", "总资产"), note="单位万元，用于划分企业规模"),
        Column("abnormal", "经营异常", ("是否列入经营异常名录", "经营异常名录", "列入经营异常名录", "异常名录"),
               note="是/否；“否”会移除经营异常标记"),
    ),
    one_of=(("uscc", "reg_no"),),
)

TEMPLATE_EXAMPLES = (
    ["91120113MA05JXYW1R", "", "天津示例科技有限公司", "有限责任公司（自然人投资或控股）", "存续", "张三", "2020-01-02",
     "天津市北辰区天穆镇北仓道8号", "C3311", "金属结构制造", "100", "25", "022-26390000", "李四", "", "", "否"],
    ["", "120113600012345", "北辰区示例便利店", "个体工商户", "存续", "王五", "2012/5/8",
     "天津市北辰区果园新村街道某某路12号", "F5292", "", "", "2", "13800000000", "", "", "", ""],
)
TEMPLATE_NOTES = (
    "第一行为表头，可以有标题行在表头上方；列的顺序不限，多余的列会被忽略。",
    "同一家企业（同一统一社会信用代码或注册号）在文件中只能出现一次，重复的行不会导入。",
    "再次导入同一文件不会产生任何变化；空白单元格不会清除系统中已有的信息。",
)

# Text → the status stored; the first word found wins ("吊销，未注销" is 吊销).
_STATUS_WORDS = (
    ("吊销", "吊销"), ("注销", "注销"), ("撤销", "撤销"), ("责令关闭", "责令关闭"), ("迁出", "迁出"),
    ("迁入", "迁入"), ("清算", "清算"), ("停业", "停业"), ("歇业", "歇业"), ("存续", "存续"), ("在业", "在业"),
    ("开业", "开业"), ("在营", "在营"), ("在册", "存续"), ("确立", "存续"), ("正常", "存续"),
)
_CURRENCIES = (("美元", "美元"), ("港", "港元"), ("欧元", "欧元"), ("日元", "日元"), ("英镑", "英镑"))
_CENT = Decimal("0.01")
_TEN_THOUSAND = Decimal(10000)
_MONEY_FIELDS = ("registered_capital", "revenue", "assets")
_STATUS_LIMIT = 16
# The band depends on these four values only, and a registry repeats them endlessly.
_classify = functools.lru_cache(maxsize=8192)(size_band.classify)

# Every column an import may write on an existing enterprise (what phase two loads to compare).
_COMPARED = (
    "uscc", "reg_no", "name", "entity_type", "market_type", "status", "legal_representative", "established_on",
    "address", "industry_code", "industry_name", "registered_capital", "capital_currency", "employees",
    "contact_name", "contact_phone", "revenue", "assets", "status_flags", "size_band", "missing_from_full_export",
)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------
@dataclass
class ImportCounters:
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    unlisted_errors: int = 0  # row errors counted but not kept (past MAX_LISTED_ERRORS)
    missing: int = 0
    status_changes: int = 0
    unassigned: int = 0  # new enterprises no address rule placed (the 未分配 queue)
    outside_district: int = 0  # of those, addresses naming no place of Beichen
    status_to: Counter = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return self.new + self.changed + self.unchanged + self.errors

    def job_fields(self) -> dict[str, int]:
        return {"total": self.total, "processed": self.processed, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "errors": self.errors, "unlisted_errors": self.unlisted_errors,
                "missing": self.missing, "status_changes": self.status_changes}

    def describe(self, *, dry_run: bool = False) -> str:
        verb = "预计" if dry_run else ""
        parts = [f"共 {self.total} 行", f"{verb}新增 {self.new}", f"{verb}变更 {self.changed}", f"无变化 {self.unchanged}",
                 f"错误 {self.errors}" + (f"（另有 {self.unlisted_errors} 行错误未列出）" if self.unlisted_errors else "")]
        if self.status_changes:
            detail = "、".join(f"{status} {n}" for status, n in self.status_to.most_common())
            parts.append(f"状态变更 {self.status_changes}（{detail}）")
        if self.missing:
            parts.append(f"{'将' if dry_run else ''}标记缺失 {self.missing}")
        if self.unassigned:
            outside = f"（其中住所不在北辰区 {self.outside_district}）" if self.outside_district else ""
            parts.append(f"待分配片区 {self.unassigned}{outside}")
        return "，".join(parts)


def header_info(sheet: excel_io.SheetReader) -> dict[str, Any]:
    """What the reader found, kept on the ImportJob (``header_map``) for the preview and the report."""
    return {
        "row": sheet.header.row_number,
        "columns": {ENTERPRISE_SPEC.column(k).label: v for k, v in sheet.header.labels.items()},
        "headers": excel_io.report_cells(sheet.header.headers),
        "unknown": excel_io.report_cells(sheet.header.unknown, 1000),
        "sheet": sheet.sheet_name,
        "library": sheet.library,
    }


# --------------------------------------------------------------------------------------------------
# Parsing one row
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=512)
def normalize_status(text: str) -> str:
    if not text:
        return ""
    for word, status in _STATUS_WORDS:
        if word in text:
            return status
    return text[:_STATUS_LIMIT]


def entity_type_from_text(text: str) -> str | None:
    if not text:
        return None
    if "个体" in text:
        return EntityType.INDIVIDUAL
    if "合作社" in text:
        return EntityType.COOPERATIVE
    return EntityType.ENTERPRISE


def parse_money(value: Any) -> tuple[Decimal | None, str]:
    """万元 and a currency ('' for 人民币): 100 / '100万元人民币' / '50万美元' / '1.2亿元' / '500000元'."""
    amount = excel_io.parse_decimal(value)
    if amount is None:
        return None, ""
    currency = ""
    if isinstance(value, str):  # a number cell is 万元 人民币
        if "亿" in value:
            amount *= _TEN_THOUSAND
        elif "元" in value and "万" not in value:
            amount /= _TEN_THOUSAND
        currency = next((name for word, name in _CURRENCIES if word in value), "")
    if amount < 0:
        raise ValueError("金额不能为负数")
    return amount.quantize(_CENT), currency


def _money(value: Any) -> Decimal | None:
    amount, _ = parse_money(value)
    return amount


def identity(values: dict[str, Any]) -> tuple[str, str, str | None]:
    """(统一社会信用代码, 注册号, problem) of a row; a registration number in the code column moves over."""
    code, reg_no = quick_identity(values.get("uscc", ""), values.get("reg_no", ""))
    if code:
        problem = uscc.problem(code)
        if problem:
            return code, reg_no, problem
    if not code and not reg_no:
        return "", "", "缺少统一社会信用代码（或注册号）"
    if len(reg_no) > 32:
        return code, reg_no, "注册号过长（超过 32 位）"
    return code, reg_no, None


# Plain text columns: (column key, field, longest value kept).
_TEXT_COLUMNS = (
    ("market_type", "market_type", 64), ("legal_rep", "legal_representative", 64), ("address", "address", 0),
    ("phone", "contact_phone", 32), ("contact_name", "contact_name", 64), ("industry_name", "industry_name", 128),
)


def _employees(value: Any) -> int | None:
    number = excel_io.parse_int(value)
    if number is not None and number < 0:
        raise ValueError("从业人数不能为负数")
    return number


_CONVERTED_COLUMNS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("established_on", "established_on", excel_io.parse_date),
    ("employees", "employees", _employees),
    ("revenue", "revenue", _money),
    ("assets", "assets", _money),
    ("abnormal", "abnormal", excel_io.parse_bool),
)


class _Plan(NamedTuple):
    """Which of the optional columns a header has: ``parse_fields`` only visits those."""

    text: tuple[tuple[str, str, int], ...]
    converted: tuple[tuple[str, str, Callable[[Any], Any]], ...]
    status: bool
    capital: bool
    industry: bool


@functools.lru_cache(maxsize=64)
def column_plan(keys: tuple[str, ...] | frozenset[str]) -> _Plan:
    """The plan for rows whose ``values`` have these keys (an import computes it once)."""
    present = frozenset(keys)
    return _Plan(tuple(c for c in _TEXT_COLUMNS if c[0] in present),
                 tuple(c for c in _CONVERTED_COLUMNS if c[0] in present),
                 "status" in present, "capital" in present, "industry" in present)


def parse_fields(values: dict[str, Any], code: str, reg_no: str, plan: _Plan | None = None,
                 ) -> tuple[dict[str, Any], list[tuple[str, Any, str]]]:
    """The row as enterprise fields (only what the row says) and its problems (key, value, reason).

    ``plan`` (``column_plan`` of the keys every row has) spares looking up absent columns."""
    if plan is None:
        plan = column_plan(tuple(values))
    fields: dict[str, Any] = {}
    problems: list[tuple[str, Any, str]] = []
    if code:
        fields["uscc"] = code
    if reg_no:
        fields["reg_no"] = reg_no

    name = values.get("name", "")
    if name.__class__ is not str:
        name = excel_io.cell_text(name)
    if not name:
        problems.append(("name", "", "缺少企业名称"))
    elif len(name) > 200:
        problems.append(("name", name[:40] + "…", "企业名称过长（超过 200 字）"))
    else:
        fields["name"] = name

    for key, target, limit in plan.text:
        value = values[key]
        if value != "":
            if value.__class__ is not str:
                value = excel_io.cell_text(value)
            fields[target] = value[:limit] if limit else value

    if plan.status:
        status_text = values["status"]
        if status_text != "":  # cells are already clean text, or typed values that need turning into text
            fields["status"] = normalize_status(status_text if status_text.__class__ is str
                                                else excel_io.cell_text(status_text))

    kind = (uscc.entity_type(code) if code else None) or entity_type_from_text(fields.get("market_type", ""))
    if kind:
        fields["entity_type"] = kind

    for key, target, convert in plan.converted:
        raw = values[key]
        if raw == "":
            continue
        try:
            converted = convert(raw)
        except ValueError as error:
            problems.append((key, raw, str(error)))
            continue
        if converted is not None:
            fields[target] = converted

    if plan.capital:
        raw_capital = values["capital"]
        if raw_capital != "":
            try:
                amount, currency = parse_money(raw_capital)
            except ValueError as error:
                problems.append(("capital", raw_capital, str(error)))
            else:
                if amount is not None:
                    fields["registered_capital"] = amount
                    fields["capital_currency"] = currency

    if plan.industry:
        raw_industry = values["industry"]
        if raw_industry != "":
            industry_code, industry_name, problem = industry_codes.check(
                raw_industry if raw_industry.__class__ is str else excel_io.cell_text(raw_industry))
            if problem:
                problems.append(("industry", raw_industry, problem))
            if industry_code:
                fields["industry_code"] = industry_code
            if industry_name and "industry_name" not in fields:
                fields["industry_name"] = industry_name[:128]
    return fields, problems


def _flags(current: Sequence[str] | None, abnormal: bool | None) -> list[str]:
    flags = list(current or [])
    if abnormal is True and StatusFlag.ABNORMAL not in flags:
        flags.append(StatusFlag.ABNORMAL)
    elif abnormal is False and StatusFlag.ABNORMAL in flags:
        flags.remove(StatusFlag.ABNORMAL)
    return flags


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(_CENT), "f")
    return value


def _same(name: str, old: Any, new: Any) -> bool:
    if name in _MONEY_FIELDS:
        return old is not None and Decimal(old).quantize(_CENT) == new
    return old == new


_ALLOWED_CODE_CHARS = frozenset(uscc.ALPHABET)
# Per position: character → its value times the position's weight (the check digit's sum).
_WEIGHTED = tuple({ch: i * w for i, ch in enumerate(uscc.ALPHABET)} for w in uscc.WEIGHTS)


def _code_problem(code: str) -> str | None:
    """``uscc.problem``, with a table-driven path for the valid codes a registry is made of."""
    if len(code) == 18 and _ALLOWED_CODE_CHARS.issuperset(code):
        total = sum(map(dict.__getitem__, _WEIGHTED, code))  # the first 17 characters
        if uscc.ALPHABET[-total % 31] == code[17]:
            return None
    return uscc.problem(code)


def _key(value: Any) -> str:
    if value.__class__ is str and value.isascii() and value.isalnum():
        return value.upper()
    return uscc.normalize(value)


def quick_identity(code_cell: Any, reg_cell: Any) -> tuple[str, str]:
    """(code, registration number) normalised for matching, not validated (``identity`` does that)."""
    code = _key(code_cell) if code_cell != "" else ""
    reg_no = _key(reg_cell) if reg_cell != "" else ""
    if code and uscc.looks_like_registration_number(code):
        return "", reg_no or code
    return code, reg_no


# --------------------------------------------------------------------------------------------------
# Preview (the dry run records the first rows on its job): where the header is and what they say
# --------------------------------------------------------------------------------------------------
def preview_row(row: excel_io.Row) -> dict[str, Any]:
    """One of the first rows as the job page shows it: its cells as read, and its problems."""
    code, reg_no, problem = identity(row.values)
    fields, problems = parse_fields(row.values, code, reg_no)
    reasons = ([problem] if problem else []) + [reason for _k, _v, reason in problems]
    cells = {ENTERPRISE_SPEC.column(k).label: excel_io.cell_text(v)[:200] for k, v in row.values.items()}
    if fields.get("established_on"):  # show how a serial number or a Chinese date was read
        cells[ENTERPRISE_SPEC.column("established_on").label] = fields["established_on"].isoformat()
    return {"number": row.number, "cells": cells, "problems": reasons}


# --------------------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------------------
# Bulk statements go to the tables (Core): the ORM's bulk paths split rows whose values are None
# into separate batches, which for a registry full of blank cells costs more than the database.
_ENTERPRISE = Enterprise.__table__
_EVENT = EnterpriseEvent.__table__
_ROW_ERROR = ImportRowError.__table__


def _insert_many(session: Session, rows: list[tuple], new_rows: _NewRows) -> None:
    """New enterprises (``_NewRows`` tuples, already converted for the driver) on the session's
    DBAPI connection: SQLAlchemy's per-row parameter handling, and the driver's per-value
    adaptation, cost more than the database.

    PostgreSQL takes them through one COPY. SQLite gets multi-row ``VALUES`` of as many rows as
    its bound-variable limit allows, the ``SHARED`` columns' values written into the statement:
    the driver binds a statement's values at once and lets go of the GIL while SQLite inserts
    them, where an executemany takes the GIL back after every row — which, on the writer
    thread, would keep the insert waiting for the parsing thread row by row."""
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in (*_NewRows.VARYING, *_NewRows.SHARED))
    table = quote(_ENTERPRISE.name)
    dbapi = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        tail = new_rows.shared
        with dbapi.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row + tail)
        return
    values = "(" + ", ".join(new_rows.placeholders("?") + [_sql_literal(v) for v in new_rows.shared]) + ")"
    per_statement = max(1, _sqlite_variable_limit(dbapi) // len(_NewRows.VARYING))
    statements: dict[int, str] = {}  # rows → statement: the same string object each time, hashed once
    cursor = dbapi.cursor()
    try:
        for first in range(0, len(rows), per_statement):
            batch = rows[first:first + per_statement]
            statement = statements.get(len(batch))
            if statement is None:
                statement = statements[len(batch)] = (f"INSERT INTO {table} ({columns}) VALUES "
                                                      + ", ".join([values] * len(batch)))
            cursor.execute(statement, tuple(chain.from_iterable(batch)))
    finally:
        cursor.close()


def _sqlite_variable_limit(dbapi_connection) -> int:
    try:
        return dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):  # before Python 3.11: the smallest limit SQLite ever had
        return 999


def _copy_text(value: Any) -> str | None:
    """A driver-ready value as psycopg's text dumper writes it: COPY then sends a plain string."""
    if value is None or value.__class__ is str:
        return value
    from psycopg.adapt import PyFormat, Transformer

    dumper = Transformer().get_dumper(value, PyFormat.TEXT)
    return bytes(dumper.dump(value)).decode()


def _sql_literal(value: Any) -> str:
    """A driver-ready value (None, int, float or str) as an SQL literal."""
    if value is None:
        return "NULL"
    if value.__class__ in (bool, int, float):
        return repr(int(value) if value.__class__ is bool else value)
    if value.__class__ is str:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no literal for {value!r}")


def _update_by_id(session: Session, rows: list[dict[str, Any]]) -> None:
    """UPDATE … WHERE id = ? as executemany, one statement per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(sorted(k for k in row if k != "id"))
        groups.setdefault(columns, []).append({"_id": row["id"], **{k: row[k] for k in columns}})
    for columns, params in groups.items():
        statement = (update(_ENTERPRISE).where(_ENTERPRISE.c.id == bindparam("_id"))
                     .values({c: bindparam(c) for c in columns}))
        session.execute(statement, params)


# An existing enterprise as the lookups return it: a plain tuple (building named tuples for
# hundreds of thousands of rows costs more than the query).
_ID, _USCC, _REG_NO, _FINGERPRINT, _MISSING = range(5)


def _pg_array(keys: Sequence[str]) -> str:
    """A text[] literal: one string parameter instead of a list psycopg would adapt item by item."""
    if not keys:
        return "{}"
    plain = "".join(keys)
    if '"' not in plain and "\\" not in plain:  # codes and numbers: nothing to escape
        return '{"' + '","'.join(keys) + '"}'
    return "{" + ",".join('"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys) + "}"


class _Reader:
    """Identity lookups on a DBAPI connection of their own, in autocommit (they see what earlier
    chunks committed), skipping SQLAlchemy's per-row result handling: for hundreds of thousands of
    rows that costs more than the query.

    PostgreSQL: the connection is in pipeline mode, so a chunk's lookup is sent as soon as its
    identities are known and answered while the previous chunk is still being applied; the keys
    travel as one array parameter, each probed through its unique index (``LATERAL … LIMIT 1``
    keeps the planner from choosing a sequential scan, which it does for a large key list, or
    after a big load before ANALYZE has caught up)."""

    _COLUMNS = "id, uscc, reg_no, import_fingerprint, missing_from_full_export"

    def __init__(self, engine):
        self.connection = engine.raw_connection()
        dialect = engine.dialect
        self.marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self.postgres = dialect.name == "postgresql"
        self.table = dialect.identifier_preparer.quote(_ENTERPRISE.name)
        self._pipeline = None
        self._indexed_by: dict[str, str] = {}
        if self.postgres:
            dbapi = self.connection.dbapi_connection
            dbapi.autocommit = True
            self._pipeline = dbapi.pipeline()
            self._pipeline.__enter__()
        elif dialect.name == "sqlite":
            self._indexed_by = self._sqlite_indexes(dialect.identifier_preparer.quote)

    def _sqlite_indexes(self, quote) -> dict[str, str]:
        """`` INDEXED BY <index>`` for uscc and reg_no: SQLite plans ``IN (…)`` from sqlite_stat1
        when someone has run ANALYZE, and statistics taken while the column was mostly NULL (or
        before a big import) make it scan the whole table for every chunk instead."""
        found = {}
        cursor = self.connection.cursor()
        try:
            for _seq, name, _unique, _origin, partial in cursor.execute(f"PRAGMA index_list({self.table})").fetchall():
                columns = [info[2] for info in cursor.execute(f"PRAGMA index_info({quote(name)})").fetchall()]
                if not partial and len(columns) == 1 and columns[0] in ("uscc", "reg_no"):
                    found[columns[0]] = f" INDEXED BY {quote(name)}"
        finally:
            cursor.close()
        return found

    def send(self, codes: Sequence[str], regs: Sequence[str]) -> _Lookup:
        """Start looking up the enterprises holding any of these codes or registration numbers;
        ``_Lookup.rows()`` gives their (id, uscc, reg_no, import_fingerprint, missing_from_full_export)."""
        parts, params = [], []
        for column, keys in (("uscc", codes), ("reg_no", regs)):
            if not keys:
                continue
            if self.postgres:
                parts.append(f"SELECT e.* FROM unnest(%s::varchar[]) AS k(key) CROSS JOIN LATERAL "
                             f"(SELECT {self._COLUMNS} FROM {self.table} WHERE {column} = k.key LIMIT 1) AS e")
                params.append(_pg_array(keys))
            else:
                parts.append(f"SELECT {self._COLUMNS} FROM {self.table}{self._indexed_by.get(column, '')} "
                             f"WHERE {column} IN ({', '.join([self.marker] * len(keys))})")
                params.extend(keys)
        if not parts:
            return _Lookup(None, [])
        # An enterprise found by both its code and its number comes twice: harmless (keyed by both).
        return self._send(" UNION ALL ".join(parts), params)

    def name_of(self, enterprise_id: int) -> str:
        rows = self._send(f"SELECT name FROM {self.table} WHERE id = {self.marker}", [enterprise_id]).rows()
        return rows[0][0] if rows else ""

    def _send(self, sql: str, params: list) -> _Lookup:
        cursor = self.connection.cursor()
        if self._pipeline is not None:
            try:
                cursor.execute(sql, params)
            except BaseException:
                cursor.close()
                raise
            return _Lookup(cursor, None)  # answered while the caller goes on
        try:
            cursor.execute(sql, params)
            return _Lookup(None, cursor.fetchall())
        finally:
            cursor.close()

    def close(self) -> None:
        if self._pipeline is not None:
            try:
                self._pipeline.__exit__(None, None, None)  # reads what an abandoned chunk left queued
            except Exception:  # noqa: BLE001 - never hide the error that abandoned the import
                log.warning("registry lookup connection discarded", exc_info=True)
                self.connection.invalidate()
                return
        if self.postgres:
            self.connection.dbapi_connection.autocommit = False  # as the pool handed it out
        self.connection.close()


class _Lookup:
    """A lookup's rows, or (PostgreSQL) the cursor they arrive on: ``rows()`` waits for them."""

    __slots__ = ("_cursor", "_rows")

    def __init__(self, cursor, rows: list[tuple] | None):
        self._cursor, self._rows = cursor, rows

    def rows(self) -> list[tuple]:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            try:
                self._rows = cursor.fetchall()
            finally:
                cursor.close()
        return self._rows or []


class _Staffing:
    """Zone by address and a staff member within the zone for new enterprises (services.grid.rules)."""

    def __init__(self, session: Session):
        from services.grid import rules as zone_rules

        self._rules = zone_rules
        self._session = session
        self._pickers: dict[int, Any] = {}
        self._match: Callable[[str], Any] | None = None

    def outside_district(self, address: str) -> bool:
        return self._rules.outside_district(self._rules.matcher_for(self._session).match(address), address)

    def place(self, address: str, name: str, status: str) -> tuple[int | None, int | None]:
        """(zone id, service staff id) for a new enterprise; None where no rule or no staff decides."""
        if self._match is None:  # zone_rules.assign_zone, with the session's compiled rules looked up once
            self._match = self._rules.matcher_for(self._session).match
        zone_id = self._match(address).zone_id
        if zone_id is None:
            return None, None
        picker = self._pickers.get(zone_id)
        if picker is None:
            picker = self._pickers[zone_id] = self._rules.StaffPicker(self._session, zone_id)
        if not picker:
            return zone_id, None
        candidate = _Candidate(address, name, status)
        person_id = picker.pick(candidate)
        if person_id is not None:
            picker.take(candidate, person_id)  # keeps the loads current for the next row
        return zone_id, person_id


class _Candidate:
    """What StaffPicker reads from an enterprise, for a row not inserted yet."""

    __slots__ = ("address", "name", "service_staff_id", "status")

    def __init__(self, address: str, name: str, status: str):
        self.address = address
        self.name = name
        self.status = status
        self.service_staff_id = None


class _NewRows:
    """New enterprises as INSERT-ready tuples of the ``VARYING`` columns, values already in the
    driver's form (the columns' own bind processors); the ``SHARED`` columns hold the same value
    on every row of an import and are sent once per statement (see ``_insert_many``)."""

    VARYING = ("uscc", "reg_no", "name", "entity_type", "status", "market_type", "legal_representative",
               "established_on", "address", "industry_code", "industry_name", "registered_capital",
               "capital_currency", "employees", "revenue", "assets", "contact_name", "contact_phone", "status_flags",
               "size_band", "zone_id", "service_staff_id", "import_fingerprint")
    SHARED = ("qualifications", "chain_position", "is_key_industry", "last_import_id", "missing_from_full_export",
              "created_at", "updated_at")
    # The VARYING columns that may be NULL. None of them ever holds "" (codes, a date, numbers, ids),
    # so SQLite gets "" for NULL and the statement turns it back (NULLIF): the driver binds "" at
    # once but sends None through its adapter lookup, a tenth of the insert's time.
    NULLABLE = frozenset(("uscc", "reg_no", "established_on", "registered_capital", "employees", "revenue", "assets",
                          "zone_id", "service_staff_id"))

    def __init__(self, dialect, job_id: int | None, now: datetime):
        def processor(name):
            return _ENTERPRISE.c[name].type.dialect_impl(dialect).bind_processor(dialect)

        def convert(name, value):
            process = processor(name)
            return value if process is None or value is None else process(value)

        self.shared = tuple(convert(n, v) for n, v in
                            zip(self.SHARED, ([], "", False, job_id, False, now, now), strict=True))
        self.flags = {False: convert("status_flags", []), True: convert("status_flags", [StatusFlag.ABNORMAL])}
        if dialect.name == "postgresql":  # COPY: text, rendered once instead of per row
            self.shared = tuple(_copy_text(v) for v in self.shared)
            self.flags = {k: _copy_text(v) for k, v in self.flags.items()}
        self.money = processor("registered_capital")
        self.date = processor("established_on")
        if self.date is not None and all(self.date(d) == d.isoformat() for d in (date(2020, 1, 2), date(1, 2, 3))):
            self.date = date.isoformat  # what SQLite's processor writes, without its Python formatting
        self.null = "" if dialect.name == "sqlite" else None  # see NULLABLE

    def placeholders(self, marker: str) -> list[str]:
        """The VALUES placeholders of the VARYING columns, for ``row``'s tuples."""
        if self.null is None:
            return [marker] * len(self.VARYING)
        return [f"NULLIF({marker}, '')" if name in self.NULLABLE else marker for name in self.VARYING]

    def row(self, f: dict[str, Any], status: str, entity_type: str, band: str, zone_id, staff_id, fp: str) -> tuple:
        get, null = f.get, self.null
        founded, capital, revenue, assets = get("established_on"), get("registered_capital"), get("revenue"), get("assets")
        employees = get("employees")
        money = self.money
        if money is not None:
            capital = null if capital is None else money(capital)
            revenue = null if revenue is None else money(revenue)
            assets = null if assets is None else money(assets)
        elif null is not None:
            capital, revenue, assets = (null if v is None else v for v in (capital, revenue, assets))
        if founded is None:
            founded = null
        elif self.date is not None:
            founded = self.date(founded)
        return (
            get("uscc") or null, get("reg_no") or null, f["name"], entity_type, status, get("market_type", ""),
            get("legal_representative", ""), founded, get("address", ""),
            get("industry_code", ""), get("industry_name", ""), capital, get("capital_currency", ""),
            null if employees is None else employees, revenue, assets, get("contact_name", ""),
            get("contact_phone", ""), self.flags[get("abnormal") is True], band,
            null if zone_id is None else zone_id, null if staff_id is None else staff_id, fp,
        )


@dataclass
class _Chunk:
    pending: list[tuple[excel_io.Row, str, str, str]]  # (row, code, registration number, fingerprint)
    errors: list[dict[str, Any]]  # phase one's row errors
    lookup: _Lookup


class _Importer:
    def __init__(self, session_factory: sessionmaker[Session], *, job_id: int | None, now: datetime,
                 full_export: bool, dry_run: bool, progress_cb, clock):
        self.factory = session_factory
        self.session: Session = session_factory()
        self.job_id = job_id
        self.now = now
        self.clock = clock or (lambda: now)
        self.full_export = full_export
        self.dry_run = dry_run
        self.progress_cb = progress_cb
        self.counters = ImportCounters()
        # identity → the first row that named it: a later row naming it again is a duplicate.
        self.first_by_code: dict[str, int] = {}
        self.first_by_reg: dict[str, int] = {}
        self.seen: set[int] = set()  # existing enterprises present in the file
        self.sweep_upto = 0  # full export: the last enterprise id before the import
        self.actor_label = f"导入任务 #{job_id}" if job_id else "导入"
        self.fp_indexes: list[int] = []
        self.fp_prefix = b""
        self.code_index = self.reg_index = 1 << 30
        self.plan: _Plan | None = None
        self.labels: dict[str, str] = {}
        bind = self.session.get_bind()
        # A thread writes each applied chunk on the write session while this one reads and
        # parses the next: the drivers let go of the GIL while the database inserts (indexes, and
        # on PostgreSQL the foreign-key checks a COPY runs at its end), so the database works
        # while Python does. The reads made meanwhile (current values, staffing) have a session
        # of their own; on SQLite they wait for the write's commit (BEGIN IMMEDIATE) as any
        # writer would.
        self.postgres = bind.dialect.name == "postgresql"
        self.reads: Session = session_factory()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="registry-import-write")
        self.integrity_errors = (IntegrityError, bind.dialect.loaded_dbapi.IntegrityError)
        self._writing: Future | None = None
        self.staffing = None if dry_run else _Staffing(self.reads)
        self.reader = _Reader(bind)
        self.new_rows = _NewRows(bind.dialect, job_id, now)
        self._prepared: _Chunk | None = None  # checked, lookup sent
        self._applied: tuple | None = None  # applied, to be written

    def close(self) -> None:
        self._settle_writer()
        self.writer.shutdown()
        self._prepared = self._applied = None
        self.reader.close()
        self.reads.close()
        self.session.close()

    # -- setup -----------------------------------------------------------------------------------
    def start(self, sheet: excel_io.SheetReader, preview: list[dict[str, Any]] | None = None) -> None:
        columns = sheet.header.columns
        keys = sorted(columns)
        self.fp_indexes = [columns[k] for k in keys]
        self.fp_last = max(self.fp_indexes)
        self.fp_cells = (itemgetter(*self.fp_indexes) if len(self.fp_indexes) > 1
                         else (lambda raw, i=self.fp_indexes[0]: (raw[i],)))
        # An absent column reads as "" (the index is past every row's end).
        self.code_index = columns.get("uscc", 1 << 30)
        self.reg_index = columns.get("reg_no", 1 << 30)
        self.fp_prefix = f"{FINGERPRINT_VERSION}|{','.join(keys)}|{sheet.library}|".encode()
        self.labels = sheet.header.labels
        self.plan = column_plan(tuple(columns))
        if self.full_export:
            # The sweep for enterprises missing from the file looks at those that existed before
            # it: ids only grow, so whatever this import (or anyone meanwhile) adds lies above.
            self.sweep_upto = self.session.scalar(select(func.max(Enterprise.id))) or 0
            self.session.commit()
        if self.job_id is not None:
            self.session.execute(delete(ImportRowError).where(ImportRowError.job_id == self.job_id))
            self.session.execute(
                update(ImportJob).where(ImportJob.id == self.job_id).values(
                    header_row=sheet.header.row_number, header_map=header_info(sheet),
                    estimated_rows=sheet.estimated_rows(), **({"preview_rows": preview} if preview else {}),
                    heartbeat_at=self.clock(), **ImportCounters().job_fields(),
                )
            )
            self.session.commit()

    # -- one chunk -------------------------------------------------------------------------------
    def feed(self, rows: list[excel_io.Row]) -> None:
        """Take the next chunk. Three chunks are in flight, a step apart: this one is checked and
        its lookup sent; the one applied last time goes to the writer thread; the one before
        this is applied (phase two). ``drain`` finishes the last two."""
        try:
            prepared = self._prepare(rows)
            self._write_applied()
            if self._prepared is not None:
                self._applied = self._apply(self._prepared)
            self._prepared = prepared
        except BaseException:
            self._abandon()
            raise

    def drain(self) -> None:
        try:
            self._write_applied()
            prepared, self._prepared = self._prepared, None
            if prepared is not None:
                self._applied = self._apply(prepared)
                self._write_applied()
            self._wait_written()
        except BaseException:
            self._abandon()
            raise

    def _write_applied(self) -> None:
        """Hand the applied chunk to the writer thread once the write before it has committed:
        one write in flight, chunks committed in file order."""
        self._wait_written()
        applied, self._applied = self._applied, None
        if applied is not None:
            self._writing = self.writer.submit(self._write, *applied)

    def _wait_written(self) -> None:
        """Wait for the write in flight; its error is raised here, in the importing thread."""
        writing, self._writing = self._writing, None
        if writing is None:
            return
        try:
            writing.result()
        except self.integrity_errors as error:
            # Someone added one of the chunk's enterprises (console, another import) after the
            # chunk's lookup: the chunk is rolled back, the ones before it stay.
            log.warning("registry import chunk conflicts with a concurrent change: %s", error)
            raise ValidationFailed(
                "导入期间企业名录被同时修改（有人新增了本文件中的企业），本批次未写入，之前的批次已保留；"
                "请稍后重新导入同一文件，已导入的行不会重复", fields={"file": "名录被同时修改"}) from error
        self._written()

    def _written(self) -> None:
        if self.progress_cb is not None:
            self.progress_cb(self.counters)

    def _settle_writer(self) -> None:
        """Let a write in flight finish (it rolls itself back on error) before the session is touched."""
        writing, self._writing = self._writing, None
        if writing is not None:
            try:
                writing.result()
            except BaseException:  # noqa: BLE001 - the error that abandoned the import is raised already
                log.debug("registry import write abandoned", exc_info=True)

    def _abandon(self) -> None:
        self._settle_writer()
        self._prepared = self._applied = None
        self.session.rollback()
        self.reads.rollback()

    def _prepare(self, rows: list[excel_io.Row]) -> _Chunk:
        """Phase one, cheap: identity from two raw cells, fingerprint from the raw row; duplicates
        within the file are row errors. Sends the chunk's identity lookup."""
        self.counters.total += len(rows)
        errors: list[dict[str, Any]] = []
        pending: list[tuple[excel_io.Row, str, str, str]] = []
        code_at, reg_at = self.code_index, self.reg_index
        first_by_code, first_by_reg = self.first_by_code, self.first_by_reg
        fp_cells, fp_last = self.fp_cells, self.fp_last
        fp_base = hashlib.blake2b(self.fp_prefix, digest_size=16)
        for row in rows:
            raw = row.raw
            width = len(raw)
            code = raw[code_at] if code_at < width else ""
            reg_no = raw[reg_at] if reg_at < width else ""
            code, reg_no = quick_identity(code, reg_no)
            if not code and not reg_no:
                self._error(errors, row, "uscc" if "uscc" in self.labels else "reg_no", "",
                            "缺少统一社会信用代码（或注册号）")
                continue
            duplicate_of = (first_by_code.get(code) if code else None) or (first_by_reg.get(reg_no) if reg_no else None)
            if duplicate_of is not None:
                column = "uscc" if code else "reg_no"
                self._error(errors, row, column, code or reg_no, f"文件内重复（与第 {duplicate_of} 行为同一企业）")
                continue
            if code:
                first_by_code[code] = row.number
            if reg_no:
                first_by_reg[reg_no] = row.number
            cells = fp_cells(raw) if width > fp_last else tuple(raw[i] if i < width else "" for i in self.fp_indexes)
            digest = fp_base.copy()  # blake2b(prefix + repr(cells)), the prefix hashed once
            digest.update(repr(cells).encode())
            fp = digest.hexdigest()
            pending.append((row, code, reg_no, fp))

        codes = sorted({p[1] for p in pending if p[1]})
        regs = sorted({p[2] for p in pending if p[2]})
        return _Chunk(pending, errors, self.reader.send(codes, regs))

    def _apply(self, chunk: _Chunk) -> tuple:
        """Phase two: rows whose fingerprint matches their enterprise's are done; the others are
        validated, parsed and compared. Returns what ``_write`` writes."""
        pending, errors = chunk.pending, chunk.errors
        existing = chunk.lookup.rows()
        by_code = {r[_USCC]: r for r in existing if r[_USCC]}
        by_reg = {r[_REG_NO]: r for r in existing if r[_REG_NO]}
        inserts: list[tuple] = []
        compare: list[tuple[int, str, dict[str, Any]]] = []  # (enterprise id, fingerprint, fields)
        seen, counters, plan = self.seen, self.counters, self.plan
        for row, code, reg_no, fp in pending:
            match_code = by_code.get(code) if code else None
            match_reg = by_reg.get(reg_no) if reg_no else None
            target = match_code or match_reg
            if target is not None:
                seen.add(target[_ID])
                # The row this enterprise was last written from, unchanged: nothing to parse or write.
                if (target[_FINGERPRINT] == fp and not target[_MISSING]
                        and (match_reg is None or match_reg[_ID] == target[_ID])):
                    counters.unchanged += 1
                    continue
            # Phase two, only for rows that may change something: validate and parse everything.
            problem = (_code_problem(code) if code else None) or (
                "注册号过长（超过 32 位）" if len(reg_no) > 32 else None)
            if problem:
                column = "uscc" if code else "reg_no"
                self._error(errors, row, column, row.values.get(column, ""), problem)
                continue
            if match_code is not None and match_reg is not None and match_code[_ID] != match_reg[_ID]:
                other = self.reader.name_of(match_reg[_ID])
                self._error(errors, row, "reg_no", reg_no, f"注册号 {reg_no} 已属于另一家企业（{other}）")
                continue
            if target is not None and match_code is None and code and target[_USCC] and target[_USCC] != code:
                self._error(errors, row, "reg_no", reg_no,
                            f"注册号 {reg_no} 已登记在统一社会信用代码 {target[_USCC]} 名下")
                continue
            fields, problems = parse_fields(row.values, code, reg_no, plan)
            if problems:
                # One report line per problem, under its own column (a capital problem is not filed
                # under 从业人数); the row counts once.
                for index, (key, value, reason) in enumerate(problems):
                    self._error(errors, row, key, value, reason, count=index == 0)
                continue
            if target is None:
                inserts.append(self._new_record(fields, fp))
            else:
                compare.append((target[_ID], fp, fields))

        updates, events = self._compare(compare)
        if self.reads.in_transaction():
            # Reads only (current values, staffing): end the transaction now rather than hold it —
            # on SQLite it is the write lock — while the next chunk is read.
            self.reads.commit()
        return inserts, updates, events, errors, self.counters.job_fields()

    def _error(self, errors: list[dict[str, Any]], row: excel_io.Row, key: str, value: Any, reason: str, *,
               count: bool = True) -> None:
        """Count a row error (``count``: the row's first problem); keep it for the report while the
        rows kept are fewer than ``MAX_LISTED_ERRORS``."""
        if count:
            self.counters.errors += 1
            if self.counters.errors > MAX_LISTED_ERRORS:
                self.counters.unlisted_errors += 1
        if self.counters.errors > MAX_LISTED_ERRORS:
            return
        label = self.labels.get(key) or ENTERPRISE_SPEC.column(key).label
        errors.append({"job_id": self.job_id, "row_number": row.number, "column": label[:64],
                       "value": excel_io.cell_text(value)[:500], "reason": reason,
                       "row_values": excel_io.report_cells(row.texts())})

    def _new_record(self, fields: dict[str, Any], fp: str) -> tuple:
        get = fields.get
        status = get("status") or RegistrationStatus.ACTIVE
        # No code at all: the pre-2016 individual businesses the registry keeps by number.
        entity_type = get("entity_type") or (EntityType.ENTERPRISE if get("uscc") else EntityType.INDIVIDUAL)
        industry = get("industry_code")
        band = (_classify(industry, get("employees"), get("revenue"), get("assets")) or "") if industry else ""
        zone_id = staff_id = None
        if self.staffing is not None:
            zone_id, staff_id = self.staffing.place(get("address", ""), fields["name"], status)
            if zone_id is None:
                self.counters.unassigned += 1
                if self.staffing.outside_district(get("address", "")):
                    self.counters.outside_district += 1
        self.counters.new += 1
        return self.new_rows.row(fields, status, entity_type, band, zone_id, staff_id, fp)

    def _compare(self, compare: list[tuple[int, str, dict[str, Any]]]):
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        if not compare:
            return updates, events
        columns = [getattr(Enterprise, name) for name in _COMPARED]
        ids = [target_id for target_id, _fp, _fields in compare]
        current = {row.id: row for row in self.reads.execute(
            select(Enterprise.id, *columns).where(Enterprise.id.in_(ids)))}
        for target_id, fp, fields in compare:
            old = current[target_id]
            abnormal = fields.pop("abnormal", None)
            changes: dict[str, Any] = {}
            for name, value in fields.items():
                if name == "entity_type" and not value:
                    continue
                if not _same(name, getattr(old, name), value):
                    changes[name] = value
            flags = _flags(old.status_flags, abnormal)
            if flags != list(old.status_flags or []):
                changes["status_flags"] = flags
            merged = {n: changes.get(n, getattr(old, n)) for n in ("industry_code", "employees", "revenue", "assets")}
            band = _classify(merged["industry_code"], merged["employees"], merged["revenue"], merged["assets"])
            if band and band != old.size_band:
                changes["size_band"] = band
            reappeared = bool(old.missing_from_full_export)
            if not changes and not reappeared:
                self.counters.unchanged += 1
                continue
            self.counters.changed += 1
            events.extend(self._change_events(target_id, old, changes, reappeared))
            params = {"id": target_id, **changes, "import_fingerprint": fp,
                      "last_import_id": self.job_id, "updated_at": self.now}
            if reappeared:
                params.update(missing_from_full_export=False, missing_since=None)
            updates.append(params)
        return updates, events

    def _event(self, enterprise_id: int, kind: str, **values: Any) -> dict[str, Any]:
        event = {"enterprise_id": enterprise_id, "kind": kind, "from_status": "", "to_status": "", "changes": {},
                 "import_job_id": self.job_id, "actor_id": None, "actor_label": self.actor_label, "note": "",
                 "created_at": self.now}
        event.update(values)
        return event

    def _change_events(self, enterprise_id: int, old, changes: dict[str, Any], reappeared: bool):
        events = []
        if "status" in changes:
            self.counters.status_changes += 1
            self.counters.status_to[changes["status"]] += 1
            events.append(self._event(enterprise_id, EnterpriseEventKind.STATUS, from_status=old.status or "",
                                      to_status=changes["status"],
                                      changes={"status": [old.status, changes["status"]]}))
        diff = {name: [_jsonable(getattr(old, name)), _jsonable(value)] for name, value in changes.items()
                if name != "status"}
        if diff:
            events.append(self._event(enterprise_id, EnterpriseEventKind.FIELDS, changes=diff))
        if reappeared:
            events.append(self._event(enterprise_id, EnterpriseEventKind.REAPPEARED))
        return events

    def _write(self, inserts, updates, events, errors, progress: dict[str, int]) -> None:
        """Write one chunk and its progress, and commit (a failure rolls the whole chunk back)."""
        session = self.session
        try:
            if not self.dry_run:
                if inserts:
                    _insert_many(session, inserts, self.new_rows)
                _update_by_id(session, updates)
                if events:
                    session.execute(insert(_EVENT), events)
            if errors and self.job_id is not None:
                session.execute(insert(_ROW_ERROR), errors)
            self._report_progress(progress)
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def _report_progress(self, progress: dict[str, int] | None = None) -> None:
        if self.job_id is not None:
            self.session.execute(
                update(ImportJob).where(ImportJob.id == self.job_id).values(
                    heartbeat_at=self.clock(), **(progress or self.counters.job_fields()))
            )

    # -- the end ---------------------------------------------------------------------------------
    def flag_missing(self) -> None:
        """Full export: flag (never delete) enterprises the file does not list."""
        session = self.session
        last_id = 0
        while True:
            ids = session.scalars(
                select(Enterprise.id).where(Enterprise.id > last_id, Enterprise.id <= self.sweep_upto,
                                            Enterprise.missing_from_full_export.is_(False))
                .order_by(Enterprise.id).limit(MISSING_SWEEP_BATCH)
            ).all()
            if not ids:
                break
            last_id = ids[-1]
            missing = [i for i in ids if i not in self.seen]
            self.counters.missing += len(missing)
            if missing and not self.dry_run:
                _update_by_id(session, [
                    {"id": i, "missing_from_full_export": True, "missing_since": self.now,
                     "last_import_id": self.job_id, "updated_at": self.now} for i in missing
                ])
                session.execute(insert(_EVENT), [
                    self._event(i, EnterpriseEventKind.MISSING, note="全量名录中没有该企业（已标记，未删除）")
                    for i in missing
                ])
            self._report_progress()
            session.commit()


def import_enterprises(
    session_factory: sessionmaker[Session],
    path,
    *,
    job_id: int | None,
    now: datetime,
    full_export: bool = False,
    dry_run: bool = False,
    progress_cb: Callable[[ImportCounters], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    filename: str | None = None,
    max_bytes: int = excel_io.DEFAULT_MAX_BYTES,
    chunk_rows: int = CHUNK_ROWS,
    max_rows: int = MAX_ROWS,
) -> ImportCounters:
    """Apply an export file to the registry (or, with ``dry_run``, only count what it would do).

    Commits per chunk through its own sessions; the ImportJob ``job_id`` (when given) gets the
    progress counters and the row errors. Raises ``ValidationFailed`` for a file that cannot be
    read at all (nothing is written then).
    """
    with _collector_paused():
        importer = _Importer(session_factory, job_id=job_id, now=now, full_export=full_export, dry_run=dry_run,
                             progress_cb=progress_cb, clock=clock)
        try:
            with excel_io.open_sheet(path, ENTERPRISE_SPEC, filename=filename, max_bytes=max_bytes,
                                     max_rows=max_rows) as sheet:
                rows = sheet.rows()
                first = list(islice(rows, PREVIEW_ROWS))
                importer.start(sheet, [preview_row(row) for row in first])
                chunk: list[excel_io.Row] = []
                for row in chain(first, rows):
                    chunk.append(row)
                    if len(chunk) >= chunk_rows:
                        importer.feed(chunk)
                        chunk = []
                if chunk:
                    importer.feed(chunk)
                importer.drain()
            if importer.counters.total == 0:
                raise ValidationFailed("文件只有表头，没有数据行", fields={"file": "无数据行"})
            if full_export:
                importer.flag_missing()
            return importer.counters
        finally:
            importer.close()


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off for the import: a large file makes millions of short-lived
    rows, tuples and dicts, which trigger thousands of collections that find nothing (reference
    counting frees them all) — a tenth of the import's time. Back on at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_import_job(session_factory: sessionmaker[Session], job, *, now: datetime, clock=None,
                   progress_cb=None) -> ImportCounters:
    """The ``enterprises`` runner of ``services.registry.import_jobs`` (the size limit was applied on upload)."""
    return import_enterprises(
        session_factory, job.stored_path, job_id=job.id, now=now, full_export=job.full_export, dry_run=job.dry_run,
        progress_cb=progress_cb, clock=clock, filename=job.filename,
        max_bytes=max(excel_io.DEFAULT_MAX_BYTES, job.file_size or 0),
    )


def row_errors(session: Session, job_id: int, *, limit: int | None = None, offset: int = 0) -> list[ImportRowError]:
    query = (select(ImportRowError).where(ImportRowError.job_id == job_id)
             .order_by(ImportRowError.row_number, ImportRowError.id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def iter_row_errors(session: Session, job_id: int) -> Iterable[tuple[int, str, str, str, list[Any]]]:
    """Every row error of a job, streamed (for the xlsx report)."""
    query = (select(ImportRowError.row_number, ImportRowError.column, ImportRowError.value, ImportRowError.reason,
                    ImportRowError.row_values)
             .where(ImportRowError.job_id == job_id).order_by(ImportRowError.row_number, ImportRowError.id)
             .execution_options(yield_per=2000))
    for row in session.execute(query):
        yield row.row_number, row.column, row.value, row.reason, list(row.row_values or [])


def report_headers(job: ImportJob) -> list[str]:
    """The file's own header row, for the columns after the reason in the error report."""
    return [excel_io.cell_text(h) for h in (job.header_map or {}).get("headers") or []]
