"""Files that look like the district's real exports: a title row, Chinese headers, messy cells."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook

from tests.factories import make_uscc

HEADERS = ["序号", "统一社会信用代码", "市场主体名称", "市场主体类型", "登记状态", "法定代表人", "成立日期", "住所",
           "国民经济行业", "注册资本（万元）", "从业人数", "联系电话"]
TITLE = "北辰区市场主体名录（导出时间：2026年2月28日）"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def bad_check_digit(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


def write_xlsx(path: Path, rows, *, headers=HEADERS, title: str | None = TITLE, sheet_title="市场主体") -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    if title:
        sheet.append([title])
        sheet.append([])
    sheet.append(headers)
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def write_csv(path: Path, rows, *, headers=HEADERS, title: str | None = TITLE, encoding="gb18030") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        if title:
            writer.writerow([title])
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def row(n, code, name, *, kind="有限责任公司", status="存续", person="张三", founded="2020-01-02",
        address="天津市北辰区天穆镇北仓道8号", industry="C3311 金属结构制造", capital="100", staff=25,
        phone="022-26390000"):
    return [n, code, name, kind, status, person, founded, address, industry, capital, staff, phone]


def codes(count: int, start: int = 1000, kind: str = "1") -> list[str]:
    return [make_uscc(start + i, kind) for i in range(count)]
