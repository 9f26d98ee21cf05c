"""`flask --app wsgi import-enterprises FILE [--dry-run] [--full] [--errors X.xlsx]`."""

from __future__ import annotations

from openpyxl import load_workbook
from sqlalchemy import func, select

from models import Enterprise, ImportJob, ImportStatus
from tests.registry.exports import bad_check_digit, codes, row, write_xlsx


def test_cli_dry_run_then_import_then_unchanged(app, session_factory, tmp_path):
    a, b, c = codes(3)
    path = write_xlsx(tmp_path / "名录.xlsx", [row(1, a, "甲"), row(2, b, "乙"), row(3, bad_check_digit(c), "丙")])
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["import-enterprises", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "预检完成" in dry.output and "预计新增 2" in dry.output and "第 6 行 [统一社会信用代码] 统一社会信用代码校验位错误" in dry.output
    with session_factory() as s:
        assert s.scalar(select(func.count(Enterprise.id))) == 0

    report = tmp_path / "errors.xlsx"
    done = runner.invoke(args=["import-enterprises", str(path), "--full", "--errors", str(report)])
    assert done.exit_code == 0, done.output
    assert "导入完成" in done.output and "新增 2" in done.output
    assert load_workbook(report).active.cell(row=2, column=4).value == "统一社会信用代码校验位错误"

    again = runner.invoke(args=["import-enterprises", str(path)])
    assert "新增 0，变更 0，无变化 2" in again.output
    with session_factory() as s:
        assert s.scalar(select(func.count(Enterprise.id))) == 2
        statuses = list(s.scalars(select(ImportJob.status).order_by(ImportJob.id)))
    assert statuses == [ImportStatus.PREVIEWED, ImportStatus.DONE, ImportStatus.DONE]
    assert path.exists()  # the command line's own file is never deleted


def test_cli_refuses_a_bad_file_with_its_message(app, session_factory, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["1"]], headers=["编号"])
    result = app.test_cli_runner().invoke(args=["import-enterprises", str(path)])
    assert result.exit_code != 0 and "没有找到企业名录的表头" in result.output
