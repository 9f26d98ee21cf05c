"""The shared spreadsheet layer: readers, header detection, cell values, refusals, writers."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from pyexcel_io.plugins import NEW_READERS

import integrations.pyexcel_calamine as calamine_plugin
from services.errors import ValidationFailed
from services.registry import excel_io
from services.registry.importer import ENTERPRISE_SPEC
from tests.registry.exports import HEADERS, codes, row, write_csv, write_xlsx

SPEC = excel_io.TableSpec("测试表", (
    excel_io.Column("name", "姓名", ("名字",), required=True),
    excel_io.Column("phone", "手机号", ("手机", "联系电话")),
    excel_io.Column("amount", "金额", ()),
))


def test_calamine_reader_is_registered_first_and_used_for_xlsx(tmp_path):
    assert calamine_plugin.REGISTERED
    for location in ("file", "memory", "content"):
        for kind in ("xlsx", "xls", "ods"):
            assert NEW_READERS.load_me_now(f"{location}-{kind}").__module__ == "integrations.pyexcel_calamine"
    # pyexcel-xlsx stays available as the fallback.
    assert NEW_READERS.load_me_now("file-xlsx", library="pyexcel-xlsx").__module__ == "pyexcel_xlsx.xlsxr"
    path = write_xlsx(tmp_path / "a.xlsx", [row(1, codes(1)[0], "甲公司")])
    with excel_io.open_sheet(path, ENTERPRISE_SPEC) as sheet:
        assert sheet.library == "calamine"
        assert sheet.estimated_rows() == 1


def test_calamine_and_the_openpyxl_fallback_read_the_same(tmp_path):
    rows = [row(i, code, f"企业{i} ", founded=43831 + i) for i, code in enumerate(codes(30), 1)]
    path = write_xlsx(tmp_path / "a.xlsx", rows)
    read = {}
    for library in ("calamine", "pyexcel-xlsx"):
        with excel_io.open_sheet(path, ENTERPRISE_SPEC, library=library) as sheet:
            assert sheet.library == library and sheet.header.row_number == 3
            read[library] = [(r.number, {k: excel_io.cell_text(v) for k, v in r.values.items()}) for r in sheet.rows()]
    assert read["calamine"] == read["pyexcel-xlsx"]
    assert read["calamine"][0][0] == 4 and read["calamine"][0][1]["name"] == "企业1"


def test_rows_are_streamed_not_materialised(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [row(i, code, f"企业{i}") for i, code in enumerate(codes(50), 1)])
    with excel_io.open_sheet(path, ENTERPRISE_SPEC) as sheet:
        rows = sheet.rows()
        assert not isinstance(rows, list)
        first = next(rows)
        assert first.number == 4


def test_header_below_a_title_with_synonyms_units_and_marks(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["人员名册"])
    sheet.append(["填表说明：带*为必填"])
    sheet.append(["序号", "名字*", "联系电话", "金额（万元）", "备注"])
    sheet.append([1, "　张　三　", "１３９０００００００１", 12.5, "x"])
    book.save(tmp_path / "a.xlsx")
    with excel_io.open_sheet(tmp_path / "a.xlsx", SPEC) as reader:
        assert reader.header.row_number == 3
        assert reader.header.labels == {"name": "名字*", "phone": "联系电话", "amount": "金额(万元)"}  # as written, half-width
        assert reader.header.unknown == ["序号", "备注"]
        (only,) = list(reader.rows())
    assert only.values == {"name": "张 三", "phone": "13900000001", "amount": 12.5}
    assert only.texts() == ["1", "张 三", "13900000001", "12.5", "x"]


def test_wrong_columns_are_refused_with_the_expected_headers(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [["1", "2"]], headers=["编号", "数量"])
    with pytest.raises(ValidationFailed) as refused:
        excel_io.open_sheet(path, ENTERPRISE_SPEC)
    assert "没有找到企业名录的表头" in refused.value.message
    assert "统一社会信用代码" in refused.value.message and "企业名称（必填）" in refused.value.message

    partial = write_xlsx(tmp_path / "b.xlsx", [["甲", "存续"]], headers=["企业名称", "登记状态"])
    with pytest.raises(ValidationFailed) as missing:
        excel_io.open_sheet(partial, ENTERPRISE_SPEC)
    assert missing.value.message.startswith("文件缺少必需的列：统一社会信用代码或注册号")
    assert missing.value.fields["expected"].startswith("统一社会信用代码、注册号、企业名称（必填）")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.xlsx", b"", "文件是空的"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 200, "文件已损坏"),
        ("text.xlsx", b"just some text, not a workbook", "文件已损坏"),
        ("page.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>", "网页"),
        ("notes.docx", b"PK\x03\x04", "不支持的文件类型"),
        (
            "locked.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100,
            "文件已加密",
        ),
    ],
)
def test_unusable_files_get_a_clear_message(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationFailed) as refused:
        excel_io.open_sheet(path, ENTERPRISE_SPEC)
    assert message in refused.value.message


def test_over_the_limit_is_refused_before_reading(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [row(1, codes(1)[0], "甲")])
    with pytest.raises(ValidationFailed, match="超过 0 MB 的上限") as refused:
        excel_io.open_sheet(path, ENTERPRISE_SPEC, max_bytes=100)
    assert refused.value.fields == {"file": "文件过大"}


def test_a_workbook_without_any_cell_is_empty(tmp_path):
    Workbook().save(tmp_path / "blank.xlsx")
    with pytest.raises(ValidationFailed, match="没有任何数据"):
        excel_io.open_sheet(tmp_path / "blank.xlsx", ENTERPRISE_SPEC)


def test_header_is_found_on_a_later_sheet(tmp_path):
    book = Workbook()
    book.active.append(["封面"])
    data = book.create_sheet("名录")
    data.append(HEADERS)
    data.append(row(1, codes(1)[0], "甲"))
    book.save(tmp_path / "a.xlsx")
    with excel_io.open_sheet(tmp_path / "a.xlsx", ENTERPRISE_SPEC) as sheet:
        assert sheet.sheet_name == "名录" and len(list(sheet.rows())) == 1


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_every_encoding_excel_writes_keeps_text_as_text(tmp_path, encoding):
    path = write_csv(tmp_path / "a.csv", [row(1, "120113600012345", "北辰区老李修车铺", phone="02226390000",
                                             founded="20090807")], encoding=encoding)
    with excel_io.open_sheet(path, ENTERPRISE_SPEC) as sheet:
        assert sheet.library == "csv" and sheet.header.row_number == 2
        (only,) = list(sheet.rows())
    # Never auto-converted to numbers: leading zeros and long digit strings survive.
    assert only.values["uscc"] == "120113600012345" and only.values["phone"] == "02226390000"
    assert only.values["name"] == "北辰区老李修车铺"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (43831, date(2020, 1, 1)), (43831.75, date(2020, 1, 1)), ("43831", date(2020, 1, 1)),
        ("2020-01-02", date(2020, 1, 2)), ("2020/1/2", date(2020, 1, 2)), ("2020年1月2日", date(2020, 1, 2)),
        ("20200102", date(2020, 1, 2)), (20200102, date(2020, 1, 2)), ("2020.01.02", date(2020, 1, 2)),
        ("2020-01-02 00:00:00", date(2020, 1, 2)), ("２０２０年１月２日", date(2020, 1, 2)),
        (datetime(2020, 1, 2, 8, 30), date(2020, 1, 2)), (date(2020, 1, 2), date(2020, 1, 2)), ("", None),
    ],
)
def test_dates(value, expected):
    assert excel_io.parse_date(value) == expected


@pytest.mark.parametrize("value", ["2020-02-30", "明年", "2020-13-01", True])
def test_bad_dates(value):
    with pytest.raises(ValueError):
        excel_io.parse_date(value)


def test_numbers_and_booleans():
    assert excel_io.parse_int("２５人") == 25 and excel_io.parse_int(25.0) == 25 and excel_io.parse_int("") is None
    with pytest.raises(ValueError):
        excel_io.parse_int("2.5")
    assert str(excel_io.parse_decimal("1,234.50万元")) == "1234.50"
    assert excel_io.parse_bool("是") is True and excel_io.parse_bool("否") is False and excel_io.parse_bool("") is None
    with pytest.raises(ValueError):
        excel_io.parse_bool("也许")
    assert excel_io.cell_text(120113600012345.0) == "120113600012345"
    assert excel_io.clean_text("  天津　市 \t北辰区 ") == "天津 市 北辰区"


def test_row_error_report_is_a_real_xlsx(tmp_path):
    path = tmp_path / "errors.xlsx"
    count = excel_io.write_row_errors(path, ["统一社会信用代码", "企业名称"], [
        (5, "统一社会信用代码", "9112X", "统一社会信用代码应为 18 位，实际 5 位", ["9112X", "甲"]),
        (9, "企业名称", "", "缺少企业名称", ["=1+1", ""]),
    ])
    assert count == 2
    sheet = load_workbook(path).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0] == ["行号", "出错的列", "出错的内容", "原因", "统一社会信用代码", "企业名称"]
    assert values[1][:4] == [5, "统一社会信用代码", "9112X", "统一社会信用代码应为 18 位，实际 5 位"]
    assert values[2][4] == "'=1+1"  # never a formula in the reader's Excel


def test_template_lists_every_column(tmp_path):
    path = tmp_path / "t.xlsx"
    excel_io.write_template(path, ENTERPRISE_SPEC, notes=["说明一"])
    book = load_workbook(path)
    assert book.sheetnames == ["企业名录", "填写说明"]
    header = [c.value for c in next(book["企业名录"].iter_rows())]
    assert header[:3] == ["统一社会信用代码", "注册号", "企业名称*"]
    guide = [[c.value for c in r] for r in book["填写说明"].iter_rows()]
    assert guide[1][:2] == ["统一社会信用代码", "二选一"]


def test_plain_pyexcel_reads_through_the_calamine_plugin_too(tmp_path):
    import pyexcel

    path = write_xlsx(tmp_path / "a.xlsx", [row(1, codes(1)[0], "甲", staff=25)], title=None)
    rows = pyexcel.get_array(file_name=str(path))
    pyexcel.free_resources()
    # calamine hands whole numbers over as floats (openpyxl would give 25): the plugin did the reading.
    assert rows[1][10] == 25.0 and isinstance(rows[1][10], float)
    fallback = pyexcel.get_array(file_name=str(path), library="pyexcel-xlsx")[1][10]
    pyexcel.free_resources()
    assert fallback == 25 and isinstance(fallback, int)


@pytest.mark.parametrize("cells", [
    ("北辰区甲公司", "C3311 金属结构制造", 5.0, date(2001, 1, 2)),  # clean: taken as they are
    ("A | B", "x|y", "", 12),  # the separator inside a cell
    ("北辰区甲公司 ", "乙", "丙", 1),  # trailing space
    (" 甲", "乙  丙", "丁\t戊", None),  # leading space, a run of spaces, a tab, an empty cell
    ("ＡＢＣ１２３", "甲\u3000乙", "e\u0301", "丙\xa0丁"),  # full width, ideographic space, combining mark, NBSP
    ("甲|", " 乙", "|丙", "丁 |"),  # spaces next to where the cells would join
])
def test_row_values_are_cleaned_cell_by_cell_whatever_the_row_holds(cells):
    keys = tuple(f"k{i}" for i in range(len(cells)))
    layout = excel_io._Layout({k: i for i, k in enumerate(keys)}, keys)
    row = excel_io.Row(5, list(cells), layout, tuple(cells))
    assert row.values == {k: excel_io._cleaned(v) for k, v in zip(keys, cells, strict=True)}
    assert all(v is not None for v in row.values.values())
