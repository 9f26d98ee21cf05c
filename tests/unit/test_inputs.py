"""services.inputs: the one way numbers, ids, dates and JSON are read at every boundary."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from services import inputs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["7", " 7 ", "+7", 7])
def test_parse_int_reads_ascii_integers(raw):
    assert inputs.parse_int(raw) == 7


@pytest.mark.parametrize("raw", [
    "²", "①", "١٢", "１２", "1_000", "1e3", "NaN", "Infinity", "0x10", "", " ", "1.5", None, 1.0, True, [], "7\x00",
])
def test_parse_int_refuses_what_python_int_or_isdigit_let_through(raw):
    with pytest.raises(ValueError, match="整数"):
        inputs.parse_int(raw)


@pytest.mark.parametrize("raw", ["2147483648", "99999999999999999999", "-2147483649", 2**63, "9" * 5000])
def test_parse_int_stays_in_the_database_integer_range(raw):
    with pytest.raises(ValueError):
        inputs.parse_int(raw)
    assert inputs.parse_int("2147483647") == inputs.INT_MAX
    assert inputs.parse_int("-2147483648") == inputs.INT_MIN


def test_parse_int_bounds_say_which_in_chinese():
    with pytest.raises(ValueError, match="不能大于 30"):
        inputs.parse_int("31", maximum=30)
    with pytest.raises(ValueError, match="不能小于 1"):
        inputs.parse_int("0", minimum=1)


@pytest.mark.parametrize(("raw", "expected"), [("12", 12), (12, 12), ("0", None), ("-3", None), ("²", None),
                                                ("2147483648", None), ("", None), (None, None), ("abc", None)])
def test_to_id(raw, expected):
    assert inputs.to_id(raw) == expected


def test_ids_keeps_order_and_drops_what_is_no_id():
    assert inputs.ids(["3", "1", "3", "²", "99999999999", 2, "x"]) == [3, 1, 2]
    assert inputs.ids("123") == []


@pytest.mark.parametrize(("raw", "expected"), [(None, 1), ("", 1), ("3", 3), ("-2", 1), ("²", 1),
                                                ("99999999999999999999", 100_000)])
def test_page_number(raw, expected):
    assert inputs.page_number(raw) == expected


@pytest.mark.parametrize("raw", ["0000-01-01", "99999-12-31", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31",
                                 "1899-12-31", "2100-01-01", "20260302", "２０２６-０３-０２", "2026-03-02T10:00", ""])
def test_parse_date_refuses_impossible_and_far_dates(raw):
    with pytest.raises(ValueError, match="日期"):
        inputs.parse_date(raw)


def test_parse_date_reads_iso_days_in_range():
    assert inputs.parse_date(" 2026-03-02 ") == date(2026, 3, 2)
    assert inputs.parse_date("1900-01-01") == inputs.EARLIEST_DATE
    assert inputs.parse_date("2099-12-31") == inputs.LATEST_DATE


@pytest.mark.parametrize("raw", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}',
                                 '{"a": "\\ud800"}', '{"\\udfff": 1}', '{"a": "x\\u0000"}', "[" * 50 + "]" * 50,
                                 '{"a": ' + "1" * 5000 + "}", b"\xff\xfe", "{"])
def test_loads_json_refuses_what_no_column_can_hold(raw):
    with pytest.raises(inputs.InvalidJson) as caught:
        inputs.loads_json(raw)
    assert re.search(r"[\u4e00-\u9fff]", str(caught.value))


def test_loads_json_reads_plain_json():
    assert inputs.loads_json(b'{"a": [1, 2.5, "\\u4e2d"], "b": null}') == {"a": [1, 2.5, "中"], "b": None}


def test_text_problem():
    assert inputs.text_problem("正常文本\n第二行") is None
    assert "空字符" in inputs.text_problem("a\x00b")
    assert "代理项" in inputs.text_problem("a\ud800b")


# Where a request's text becomes a number, it goes through services.inputs: Werkzeug's type=int and
# str.isdigit() both let Unicode digits through (int("١٢") is 12, "²".isdigit() is true).
_UNSAFE = re.compile(r"type=int|\.isdigit\(\).*\bint\(|\bint\(.*\.isdigit\(\)")
# Spreadsheet cells of the import domain and the demo's own generated data are read by their own parsers.
_EXEMPT = {"services/inputs.py", "services/registry/excel_io.py", "services/registry/uscc.py", "services/registry/size_band.py",
           "services/demo/seed.py"}


def test_handlers_and_services_read_numbers_through_inputs():
    offenders = []
    for folder in ("handlers", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in _EXEMPT:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _UNSAFE.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
