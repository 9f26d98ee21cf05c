"""Reading and writing the spreadsheets people exchange with the platform (xlsx, xls, ods, csv).

Every import (enterprise registry, people roster …) reads through here, so messy real files are
handled the same way everywhere. Files are opened through pyexcel-io's reader plugins — the
calamine plugin (``integrations.pyexcel_calamine``) for xlsx/xls/ods, pyexcel-xlsx as the
fallback, pyexcel-io's own streamed csv reader — and rows are handed out one at a time, never
all at once.

Reading API
-----------
Describe the table, then iterate::

    SPEC = TableSpec("人员名册", (
        Column("name", "姓名", required=True),
        Column("phone", "手机号", synonyms=("手机", "联系电话")),
    ))
    with open_sheet(path, SPEC, filename="名册.xlsx") as sheet:
        sheet.header.row_number      # where the header row was found (1-based, like Excel)
        sheet.header.labels          # {"name": "姓名", "phone": "手机"}: as written in the file
        for row in sheet.rows():     # a generator; empty rows are skipped
            row.number               # Excel row number, for error messages
            row.values["phone"]      # cleaned cell: str ("" when empty; NFKC, trimmed, spaces
                                     # collapsed) or the typed value (int/float/bool/date/datetime)
            row.texts()              # the whole row as text (for error reports)

* ``Column(key, label, synonyms=(), required=False, note="", example="")``: ``label`` is the
  canonical header (templates use it); headers match after NFKC, without spaces, ``*`` marks
  and a trailing unit in brackets ("注册资本（万元）" matches "注册资本").
* ``TableSpec(name, columns, one_of=())``: ``one_of`` lists groups of keys of which at least one
  column must be present (e.g. 统一社会信用代码 or 注册号).
* The header row is the best match among the first ``HEADER_SCAN_ROWS`` rows (title rows above
  it are fine); on the first visible sheet that has one.
* ``sheet.library`` says which reader parsed the file: "calamine", "pyexcel-xlsx" or "csv";
  ``sheet.estimated_rows()`` the data rows the sheet declares (calamine only, else None).
* ``open_sheet`` raises ``ValidationFailed`` with a Chinese message for: unsupported type, empty
  file, over the size limit (``max_bytes``, default ``DEFAULT_MAX_BYTES`` = 50 MB; the app passes
  ``Settings.import_max_bytes``), a zip bomb (``check_archive``), encrypted workbook, corrupt
  file, HTML saved as .xls, no data, a header that is not there (the message lists the expected
  headers; ``fields`` has ``expected`` and ``missing``), and — while ``rows()`` is read — more
  data rows than ``max_rows``.
* ``check_upload`` runs the checks that read no cell (type, size, container, zip directory): cheap
  enough for the web request, which parses nothing itself (imports are parsed in the jobs process).

Zip bombs: xlsx, xlsm and ods files are zip archives, and a few megabytes can inflate to gigabytes
of XML that a reader parses whole. ``check_archive`` reads only the archive's central directory
(milliseconds) and refuses more than ``MAX_ARCHIVE_MEMBERS`` members, more than
``MAX_EXPANDED_BYTES`` inflated in all, or a member that inflates more than ``MAX_MEMBER_RATIO``
times (the limits Apache POI applies to the same files). The sizes it reads are the ones the
readers hold the archive to: calamine (Rust ``zip``) refuses a member that inflates past its
declared size, and Python's ``zipfile`` (openpyxl) stops reading there.

Value helpers (raise ``ValueError`` with a Chinese reason; None for an empty cell):
``clean_text``, ``cell_text``, ``parse_date`` (date cells, Excel serials, 2020-01-02, 2020/1/2,
2020年1月2日, 20200102), ``parse_int``, ``parse_decimal``, ``parse_bool`` (是/否, Y/N, 1/0 …).

Writing API (openpyxl write-only: rows are streamed to disk, memory stays flat)
-----------------------------------------------------------------------------
* ``write_table(target, title, headers, rows, *, widths=None)``: one sheet, Chinese headers.
* ``write_row_errors(target, headers, errors)``: the downloadable report of rejected rows;
  ``errors`` yields ``(row_number, column, value, reason, row_values)``.
* ``write_template(target, spec, *, example_rows=(), notes=())``: an import template with a
  说明 sheet listing every column, whether it is required and the accepted synonyms.
``target`` is a path or a binary file object.
"""

from __future__ import annotations

import codecs
import os
import re
import struct
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from pyexcel_io.plugins import NEW_READERS

import integrations.pyexcel_calamine as calamine_plugin
from services.errors import ValidationFailed

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# Zip containers (see the module doc). A real 200,000-row registry export inflates 9 times, a
# sheet formatted down to row 1,048,576 about 30 times; the 4 MB bomb this guards against, 257.
MAX_ARCHIVE_MEMBERS = 1000
MAX_EXPANDED_BYTES = 1024 * 1024 * 1024
MAX_MEMBER_RATIO = 100
RATIO_GRACE_BYTES = 1024 * 1024  # members smaller than this inflated are not held to the ratio
# What a row-error report keeps of one row's cells (the cells are stored with the error).
REPORT_ROW_CHARS = 4000
HEADER_SCAN_ROWS = 20
MAX_SHEETS_SCANNED = 5
SUPPORTED = ("xlsx", "xlsm", "xls", "ods", "csv")
SUPPORTED_LABEL = "xlsx、xls、ods 或 csv"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary: legacy .xls, or encrypted OOXML
_ZIP_MAGIC = b"PK\x03\x04"
_nfkc = unicodedata.normalize
# The quick check alone: normalize() costs several times more even on text it leaves unchanged.
_is_normalized = unicodedata.is_normalized
_HEADER_NOISE = re.compile(r"[\s*＊:：]+")
_TRAILING_UNIT = re.compile(r"\([^()]*\)$")


# --------------------------------------------------------------------------------------------------
# Table description
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    label: str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    note: str = ""
    example: str = ""

    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(header_key(n) for n in (self.label, *self.synonyms)))


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    one_of: tuple[tuple[str, ...], ...] = ()

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def expected_headers(self) -> list[str]:
        labels = []
        for col in self.columns:
            mark = "（必填）" if col.required else ""
            labels.append(col.label + mark)
        return labels

    def expected_text(self) -> str:
        text = "、".join(self.expected_headers())
        for group in self.one_of:
            text += "；其中" + "、".join(self.column(k).label for k in group) + "至少有一列"
        return text


def header_key(text: Any) -> str:
    """How headers are compared: NFKC, no spaces or '*', no trailing unit such as '（万元）'."""
    value = unicodedata.normalize("NFKC", cell_text(text))
    value = _HEADER_NOISE.sub("", value)
    stripped = _TRAILING_UNIT.sub("", value)
    return stripped or value


@dataclass
class Header:
    row_number: int
    columns: dict[str, int]  # key → 0-based column index
    labels: dict[str, str]  # key → header as written
    headers: list[str]  # every header cell, as text
    unknown: list[str] = field(default_factory=list)  # header cells no column claimed


def _cleaned(value: Any) -> Any:
    if value.__class__ is str:
        return _clean_str(value) if value else ""
    return "" if value is None else value


class _Layout(NamedTuple):
    """Where a header's columns are: shared by every row of the sheet."""

    columns: dict[str, int]  # key → 0-based column index
    keys: tuple[str, ...]  # the keys in column order, as ``Row.cells`` holds their cells


class Row:
    """One data row. ``values`` is cleaned on first use, so a caller that can decide from a
    couple of cells (``cell``) or from the raw cells (``raw``) never pays for the rest."""

    __slots__ = ("_layout", "_values", "cells", "number", "raw")

    def __init__(self, number: int, raw: Sequence[Any], layout: _Layout, cells: Sequence[Any]):
        self.number = number
        self.raw = raw
        self.cells = cells  # our columns' cells, in column order ("" past the row's end)
        self._layout = layout
        self._values: dict[str, Any] | None = None

    @property
    def values(self) -> dict[str, Any]:
        """{key: cleaned cell} for every column the header matched."""
        if self._values is None:
            cells = self.cells
            # Most rows of an export are clean already: check all their text at once (every test
            # below is per character, and "|" neither composes nor collapses with its
            # neighbours), and clean cell by cell only a row that fails.
            joined = "|".join([c for c in cells if c.__class__ is str])
            if ((joined.isascii() or _is_normalized("NFKC", joined)) and joined.isprintable()
                    and "  " not in joined and "| " not in joined and " |" not in joined
                    and joined[:1] != " " and joined[-1:] != " " and None not in cells):
                self._values = dict(zip(self._layout.keys, cells, strict=True))
            else:
                self._values = {key: _cleaned(value) for key, value in zip(self._layout.keys, cells, strict=True)}
        return self._values

    def cell(self, key: str) -> Any:
        """One cleaned cell ("" when the column is absent or the cell empty)."""
        if self._values is not None:
            return self._values.get(key, "")
        index = self._layout.columns.get(key)
        if index is None or index >= len(self.raw):
            return ""
        return _cleaned(self.raw[index])

    def texts(self) -> list[str]:
        return [cell_text(v) for v in self.raw]


# --------------------------------------------------------------------------------------------------
# Opening a file
# --------------------------------------------------------------------------------------------------
def file_kind(filename: str) -> str:
    return Path(filename or "").suffix.lower().lstrip(".")


def check_upload(path: str | os.PathLike, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Type and size checks before any parsing; returns the file type to read it as."""
    kind = file_kind(filename)
    if kind not in SUPPORTED:
        raise ValidationFailed(f"不支持的文件类型“{kind or '无扩展名'}”，请上传 {SUPPORTED_LABEL} 文件",
                               fields={"file": "文件类型不支持"})
    try:
        size = os.path.getsize(path)
    except OSError:
        raise ValidationFailed("找不到上传的文件，请重新上传", fields={"file": "文件不存在"}) from None
    if size == 0:
        raise ValidationFailed("文件是空的（0 字节），请检查后重新上传", fields={"file": "空文件"})
    if size > max_bytes:
        raise ValidationFailed(
            f"文件大小 {size / 1048576:.1f} MB，超过 {max_bytes // 1048576} MB 的上限；请拆分成几个文件分别导入",
            fields={"file": "文件过大"},
        )
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if kind == "csv":
        return kind
    if head.startswith(_OLE_MAGIC):
        if _is_encrypted_ole(path):
            raise ValidationFailed("文件已加密（设置了打开密码），请在 Excel 中取消密码后另存再上传",
                                   fields={"file": "文件已加密"})
        return "xls"  # a legacy workbook, whatever its name says
    if head.startswith(_ZIP_MAGIC):
        check_archive(path)
        return "ods" if kind == "ods" else ("xlsm" if kind == "xlsm" else "xlsx")
    sniff = head.lstrip().lower()
    if sniff.startswith((b"<html", b"<!doctype", b"<table", b"<?xml")) or b"<table" in sniff[:1024]:
        raise ValidationFailed("该文件实际是网页（HTML/XML）格式而非 Excel，请用 Excel 打开后“另存为” xlsx 再上传",
                               fields={"file": "文件格式不符"})
    raise ValidationFailed(f"文件已损坏或不是有效的 Excel 文件，请重新导出后上传（支持 {SUPPORTED_LABEL}）",
                           fields={"file": "文件损坏"})


_CORRUPT = f"文件已损坏或无法读取，请用 Excel 打开确认后重新导出再上传（{SUPPORTED_LABEL}）"


def _mb(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


def check_archive(path: str | os.PathLike, *, max_members: int = MAX_ARCHIVE_MEMBERS,
                  max_expanded: int = MAX_EXPANDED_BYTES, max_ratio: float = MAX_MEMBER_RATIO,
                  ratio_grace: int = RATIO_GRACE_BYTES) -> None:
    """Refuse a zip container (xlsx, xlsm, ods) whose contents would inflate absurdly, from its
    central directory alone: nothing is inflated here."""
    bomb = "疑似“压缩炸弹”，系统不予读取；正常导出的表格不会这样，请用 Excel 打开后另存为新文件，或拆分后再上传"
    try:
        with open(path, "rb") as handle:
            declared = _declared_members(handle)
            if declared is not None and declared > max_members:
                raise ValidationFailed(f"文件内含 {declared} 个压缩成员，超过 {max_members} 个的上限，{bomb}",
                                       fields={"file": "疑似压缩炸弹"})
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
    except ValidationFailed:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
        raise ValidationFailed(_CORRUPT, fields={"file": "文件损坏"}) from None
    if len(members) > max_members:
        raise ValidationFailed(f"文件内含 {len(members)} 个压缩成员，超过 {max_members} 个的上限，{bomb}",
                               fields={"file": "疑似压缩炸弹"})
    expanded = 0
    for member in members:
        expanded += member.file_size
        if member.file_size > ratio_grace and member.file_size > max_ratio * max(member.compress_size, 1):
            ratio = member.file_size / max(member.compress_size, 1)
            raise ValidationFailed(
                f"文件中的“{member.filename[:80]}”由 {_mb(member.compress_size)} 解压为 {_mb(member.file_size)}"
                f"（{ratio:.0f} 倍，上限 {max_ratio:.0f} 倍），{bomb}", fields={"file": "疑似压缩炸弹"})
    if expanded > max_expanded:
        raise ValidationFailed(
            f"文件解压后共 {_mb(expanded)}，超过 {_mb(max_expanded)} 的上限，{bomb}", fields={"file": "疑似压缩炸弹"})


_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def _declared_members(handle) -> int | None:
    """The member count the end-of-central-directory record declares (None when there is none),
    read before ``zipfile`` parses every entry of a directory that may hold millions."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF + 20)  # the record, its longest comment, the zip64 locator
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        return None
    count = struct.unpack_from("<H", tail, at + 10)[0]
    if count == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == _ZIP64_LOCATOR:
        handle.seek(struct.unpack_from("<Q", tail, at - 20 + 8)[0])
        record = handle.read(56)
        if len(record) == 56 and record[:4] == _ZIP64_EOCD:
            count = struct.unpack_from("<Q", record, 32)[0]
    handle.seek(0)
    return count


def report_cells(texts: Sequence[str], budget: int = REPORT_ROW_CHARS) -> list[str]:
    """A row's cells as a row-error report keeps them: whole, unless the row is absurdly long
    (a hostile file can repeat one 32,767-character string in every cell of every row)."""
    kept: list[str] = []
    for text in texts:
        if budget <= 0:
            kept.append("…")
            break
        if len(text) > budget:
            text = text[:budget] + "…"
        kept.append(text)
        budget -= len(text)
    return kept


def _is_encrypted_ole(path) -> bool:
    """An OOXML workbook with a password is an OLE container holding an EncryptionInfo stream."""
    needle = "EncryptionInfo".encode("utf-16-le")
    block_size = 1 << 20
    with open(path, "rb") as handle:
        tail = b""
        while block := handle.read(block_size):
            if needle in tail + block:
                return True
            tail = block[-len(needle):]
    return False


def _csv_options(path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        sample = handle.read(65536)
    if sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "gb18030"  # what Excel on a Chinese Windows writes
        for cut in range(4):  # the sample may end inside a multi-byte character
            try:
                sample[: len(sample) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            encoding = "utf-8"
            break
    first_line = sample.split(b"\n", 1)[0]
    delimiter = "\t" if first_line.count(b"\t") > first_line.count(b",") else ","
    return {
        "encoding": encoding, "delimiter": delimiter,
        # Keep text as text: registration numbers and phone numbers must not turn into integers.
        "auto_detect_int": False, "auto_detect_float": False, "auto_detect_datetime": False,
    }


class SheetReader:
    """One sheet of an uploaded file, header found, rows streamed. Use ``open_sheet``."""

    def __init__(self, path: str | os.PathLike, spec: TableSpec, *, filename: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, header_scan_rows: int = HEADER_SCAN_ROWS,
                 library: str | None = None, max_rows: int | None = None):
        self.path = str(path)
        self.max_rows = max_rows
        self._only_library = library
        self.spec = spec
        self.filename = filename or Path(self.path).name
        self.file_type = check_upload(self.path, self.filename, max_bytes)
        self.library = ""
        self.sheet_name = ""
        self._reader = None
        self._rows: Iterator[list[Any]] | None = None
        self.header: Header = self._find_header(header_scan_rows)

    # -- opening ---------------------------------------------------------------------------------
    def _open(self, sheet_index: int, library: str | None):
        """(sheet name, row iterator, book) through pyexcel-io's reader plugins.

        The book comes from pyexcel-io's plugin registry (calamine first, pyexcel-xlsx, csv);
        rows are taken from the plugin's ``ISheet`` directly instead of through pyexcel-io's
        generic per-cell ``SheetReader`` loop, which costs as much as calamine's whole parse.
        """
        keywords: dict[str, Any] = {}
        if self.file_type == "csv":
            keywords.update(_csv_options(self.path))
        elif library == "pyexcel-xlsx":
            keywords["skip_hidden_row_and_column"] = False  # read-only mode: an order faster
        reader_class = NEW_READERS.get_a_plugin(self.file_type, location="file", library=library)
        book = reader_class(self.path, self.file_type, **keywords)
        try:
            if sheet_index >= len(book):
                raise IndexError(sheet_index)
            name = book.sheet_names()[sheet_index]
            sheet = book.read_sheet(sheet_index)
        except BaseException:
            book.close()
            raise
        return name, _sheet_rows(sheet), book

    def _libraries(self) -> list[str | None]:
        if self.file_type == "csv":
            return [None]
        if self._only_library:
            return [calamine_plugin.LIBRARY if self._only_library == "calamine" else self._only_library]
        libraries: list[str | None] = []
        if calamine_plugin.REGISTERED:
            libraries.append(calamine_plugin.LIBRARY)
        if self.file_type in ("xlsx", "xlsm"):
            libraries.append("pyexcel-xlsx")
        return libraries

    def _first_rows(self, sheet_index: int, scan: int):
        """Open a sheet with the first reader that can parse the file; read its first rows."""
        last_error: Exception | None = None
        for library in self._libraries():
            try:
                name, rows, reader = self._open(sheet_index, library)
            except IndexError:
                return None  # no such sheet
            except Exception as error:  # noqa: BLE001 - every parser has its own exceptions
                if _is_password_error(error):
                    raise ValidationFailed("文件已加密（设置了打开密码），请在 Excel 中取消密码后另存再上传",
                                           fields={"file": "文件已加密"}) from None
                last_error = error
                continue
            try:
                head = list(islice(rows, scan))
            except UnicodeDecodeError:
                reader.close()
                raise ValidationFailed("无法识别文件的文字编码，请另存为“CSV UTF-8”或 xlsx 后再上传",
                                       fields={"file": "编码无法识别"}) from None
            except Exception as error:  # noqa: BLE001
                reader.close()
                last_error = error
                continue
            self.library = "calamine" if library == calamine_plugin.LIBRARY else (library or "csv")
            return name, rows, reader, head
        raise ValidationFailed(_CORRUPT, fields={"file": "文件损坏"}) from last_error

    def _find_header(self, scan: int) -> Header:
        best_fail: tuple[int, list[str]] | None = None
        any_data = False
        sheet_count = 1
        sheet_index = 0
        while sheet_index < min(sheet_count, MAX_SHEETS_SCANNED):
            opened = self._first_rows(sheet_index, scan)
            if opened is None:
                break
            name, rows, reader, head = opened
            if sheet_index == 0:
                sheet_count = len(reader)
            sheet_index += 1
            if any(any(cell not in ("", None) for cell in row) for row in head):
                any_data = True
            header = _detect_header(head, self.spec)
            if header is not None and not _missing(header, self.spec):
                self.sheet_name, self._reader = name, reader
                self._rows = chain(head[header.row_number:], rows)
                self._row_number = header.row_number
                return header
            reader.close()
            if header is not None:
                missing = _missing(header, self.spec)
                if best_fail is None or len(header.columns) > best_fail[0]:
                    best_fail = (len(header.columns), missing)
        if not any_data:
            raise ValidationFailed("文件中没有任何数据", fields={"file": "无数据"})
        expected = self.spec.expected_text()
        if best_fail is not None:
            missing = "、".join(best_fail[1])
            raise ValidationFailed(f"文件缺少必需的列：{missing}。{self.spec.name}应包含的表头：{expected}",
                                   fields={"file": "缺少必需的列", "missing": missing, "expected": expected})
        raise ValidationFailed(f"在文件前 {scan} 行中没有找到{self.spec.name}的表头。应包含的表头：{expected}",
                               fields={"file": "表头不符", "missing": "", "expected": expected})

    # -- reading ---------------------------------------------------------------------------------
    def rows(self) -> Iterator[Row]:
        if self._rows is None:
            raise RuntimeError("sheet already consumed or closed")
        columns = self.header.columns
        indexes = sorted(columns.values())
        layout = _Layout(columns, tuple(sorted(columns, key=columns.__getitem__)))
        last = indexes[-1]
        pick = itemgetter(*indexes) if len(indexes) > 1 else (lambda raw: (raw[last],))
        number = self._row_number
        rows, self._rows = self._rows, None
        left = self.max_rows if self.max_rows is not None else -1
        try:
            for raw in rows:
                number += 1
                cells = pick(raw) if len(raw) > last else tuple(raw[i] if i < len(raw) else "" for i in indexes)
                # Rows with nothing in our columns (blank lines, notes beside the table) carry nothing.
                first = next(filter(None, cells), None)
                if first is None or (first.__class__ is str and first.isspace()
                                     and all(c.__class__ is str and c.isspace() for c in cells if c)):
                    continue
                if left == 0:
                    raise ValidationFailed(
                        f"文件超过 {self.max_rows} 行数据的上限（第 {number} 行起未读取），请拆分成几个文件分别导入",
                        fields={"file": "行数过多"})
                left -= 1
                yield Row(number, raw, layout, cells)
        except UnicodeDecodeError:
            raise ValidationFailed(f"第 {number} 行附近的文字编码无法识别，请另存为“CSV UTF-8”或 xlsx 后再上传",
                                   fields={"file": "编码无法识别"}) from None

    def estimated_rows(self) -> int | None:
        """Data rows below the header as the sheet declares them (calamine only; else None)."""
        sheet = getattr(self._reader, "last_opened", None)
        if sheet is None:
            return None
        return max(0, sheet.last_row_number - self.header.row_number)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> SheetReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def open_sheet(path: str | os.PathLike, spec: TableSpec, *, filename: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES, library: str | None = None,
               max_rows: int | None = None) -> SheetReader:
    """Open ``path`` (named ``filename`` by the user) and find ``spec``'s header; see the module doc.

    ``library`` forces one reader ("calamine" or "pyexcel-xlsx"); by default calamine is tried
    first and pyexcel-xlsx takes over for xlsx files calamine cannot parse. ``rows()`` raises
    ``ValidationFailed`` at the first data row past ``max_rows``.
    """
    return SheetReader(path, spec, filename=filename, max_bytes=max_bytes, library=library, max_rows=max_rows)


def _sheet_rows(sheet) -> Iterator[Sequence[Any]]:
    """A pyexcel-io ``ISheet``'s rows as lists of cell values."""
    if getattr(sheet, "rows_are_values", False):  # calamine: each native row already is the list
        yield from sheet.row_iterator()
        return
    for native in sheet.row_iterator():
        yield list(sheet.column_iterator(native))


def _is_password_error(error: Exception) -> bool:
    name = type(error).__name__
    return name == "PasswordError" or "password" in str(error).lower() or "encrypt" in str(error).lower()


def _detect_header(rows: list[list[Any]], spec: TableSpec) -> Header | None:
    lookup: dict[str, str] = {}
    for column in spec.columns:
        for name in column.names():
            lookup.setdefault(name, column.key)
    best: Header | None = None
    for index, row in enumerate(rows):
        columns: dict[str, int] = {}
        labels: dict[str, str] = {}
        unknown: list[str] = []
        for position, cell in enumerate(row):
            text = cell_text(cell)
            if not text:
                continue
            key = lookup.get(header_key(text))
            if key is None or key in columns:
                unknown.append(text)
                continue
            columns[key] = position
            labels[key] = text
        if columns and (best is None or len(columns) > len(best.columns)):
            best = Header(index + 1, columns, labels, [cell_text(c) for c in row], unknown)
    return best


def _missing(header: Header, spec: TableSpec) -> list[str]:
    missing = [c.label for c in spec.columns if c.required and c.key not in header.columns]
    for group in spec.one_of:
        if not any(key in header.columns for key in group):
            missing.append("或".join(spec.column(k).label for k in group))
    return missing


# --------------------------------------------------------------------------------------------------
# Cell values
# --------------------------------------------------------------------------------------------------
def _clean_str(value: str) -> str:
    if not value.isascii() and not _is_normalized("NFKC", value):
        value = _nfkc("NFKC", value)  # full-width letters, digits, spaces → half-width
    if " " not in value and value.isprintable():
        return value  # the common case: nothing to trim or collapse
    return " ".join(value.split())


def clean_text(value: Any) -> str:
    """A cell as clean text: NFKC (full-width → half-width), trimmed, inner spaces collapsed."""
    if value.__class__ is str:
        return _clean_str(value) if value else ""
    return cell_text(value)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _clean_str(value) if value else ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?.*)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(value: Any) -> date | None:
    """Date cells, Excel serial numbers and the usual text forms; None for an empty cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError("不是日期")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            value = int(value)  # a date-time serial: the day is the whole part
        number = int(value)
        if 19000101 <= number <= 21001231:
            return _ymd(*_divmod_date(number), original=value)
        if 1 <= number <= 2958465:
            return _EXCEL_EPOCH + timedelta(days=number)
        raise ValueError(f"无法识别的日期：{cell_text(value)}")
    text = clean_text(value)
    match = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if match:
        return _ymd(int(match.group(1)), int(match.group(2)), int(match.group(3)), original=text)
    if text.isdigit() and len(text) <= 5:
        return _EXCEL_EPOCH + timedelta(days=int(text))
    raise ValueError(f"无法识别的日期：{text}")


def _divmod_date(number: int) -> tuple[int, int, int]:
    return number // 10000, number // 100 % 100, number % 100


def _ymd(year: int, month: int, day: int, *, original: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"日期不存在：{cell_text(original)}") from None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_decimal(value: Any) -> Decimal | None:
    """A number from a cell: 1,234.5 and '100万元' give the number as written; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("不是数字")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = clean_text(value).replace(",", "")
    match = _NUMBER.search(text)
    if match is None:
        raise ValueError(f"无法识别的数字：{clean_text(value)}")
    try:
        return Decimal(match.group(0))
    except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
        raise ValueError(f"无法识别的数字：{clean_text(value)}") from None


def parse_int(value: Any) -> int | None:
    if value.__class__ is int:
        return value
    if value.__class__ is float and value.is_integer():
        return int(value)  # how spreadsheets hand over whole numbers
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"应为整数：{cell_text(value)}")
    return int(number)


_TRUE = {"是", "y", "yes", "true", "1", "√", "有", "列入", "已列入"}
_FALSE = {"否", "n", "no", "false", "0", "×", "无", "未列入", "移出", "已移出"}


def parse_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = clean_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应填“是”或“否”：{clean_text(value)}")


# --------------------------------------------------------------------------------------------------
# Writing (streamed)
# --------------------------------------------------------------------------------------------------
def _workbook():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _header_cells(sheet, headers: Sequence[str]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E8F0FA")
    cells = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font, cell.fill = bold, fill
        cells.append(cell)
    return cells


def _set_widths(sheet, widths: Sequence[int]) -> None:
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _safe(value: Any) -> Any:
    # A text cell starting with "=" would become a formula in the reader's Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_table(target, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
                widths: Sequence[int] | None = None) -> int:
    """One sheet with a bold header row; rows are streamed. Returns the number of data rows."""
    book = _workbook()
    sheet = book.create_sheet(title[:31])
    _set_widths(sheet, widths or [max(10, min(40, len(h) * 2 + 4)) for h in headers])
    sheet.freeze_panes = "A2"
    sheet.append(_header_cells(sheet, headers))
    count = 0
    for row in rows:
        sheet.append([_safe(v) for v in row])
        count += 1
    book.save(target)
    return count


def write_row_errors(target, headers: Sequence[str], errors: Iterable[tuple[int, str, str, str, Sequence[Any]]]) -> int:
    """The rejected rows with their reasons, then the original cells (fix them and import again)."""
    head = ["行号", "出错的列", "出错的内容", "原因", *[h or f"第{i + 1}列" for i, h in enumerate(headers)]]
    widths = [8, 16, 24, 40, *[16] * len(headers)]
    rows = ([number, column, value, reason, *values] for number, column, value, reason, values in errors)
    return write_table(target, "未导入的行", head, rows, widths=widths)


def write_template(target, spec: TableSpec, *, example_rows: Iterable[Sequence[Any]] = (),
                   notes: Sequence[str] = ()) -> None:
    """An import template: the headers (required ones marked *), examples, and a 说明 sheet."""
    book = _workbook()
    sheet = book.create_sheet(spec.name[:31])
    _set_widths(sheet, [max(12, len(c.label) * 2 + 6) for c in spec.columns])
    sheet.freeze_panes = "A2"
    sheet.append(_header_cells(sheet, [c.label + ("*" if c.required else "") for c in spec.columns]))
    for row in example_rows:
        sheet.append([_safe(v) for v in row])
    guide = book.create_sheet("填写说明")
    _set_widths(guide, [20, 8, 40, 50])
    guide.append(_header_cells(guide, ["列名", "必填", "也可以写作", "说明"]))
    for col in spec.columns:
        required = "是" if col.required else ""
        for group in spec.one_of:
            if col.key in group:
                required = "二选一" if len(group) == 2 else "至少一项"
        guide.append([col.label, required, "、".join(col.synonyms), col.note])
    for line in notes:
        guide.append([])
        guide.append([line])
    book.save(target)
