"""Hostile spreadsheets are refused before any reader inflates them, and caps hold while reading."""

from __future__ import annotations

import time
import zipfile

import pytest

from services.errors import ValidationFailed
from services.registry import excel_io
from services.registry.importer import ENTERPRISE_SPEC
from tests.registry.exports import codes, row, write_xlsx
from tests.registry.hostile import crowded_archive, lying_archive


@pytest.fixture
def bomb(zip_bomb_file):
    """120 MB of sheet XML in a file of about half a megabyte (the one reported was 4.3 MB → 1.4 GB)."""
    return zip_bomb_file


def test_a_zip_bomb_is_refused_from_its_directory_in_milliseconds(bomb):
    with zipfile.ZipFile(bomb) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size > 200 * sheet.compress_size  # what the fixture is
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as refused:
        excel_io.check_upload(bomb, "名录.xlsx")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, elapsed  # ~1 ms: only the central directory is read
    assert "压缩炸弹" in refused.value.message and "xl/worksheets/sheet1.xml" in refused.value.message
    assert "上限 100 倍" in refused.value.message and refused.value.fields == {"file": "疑似压缩炸弹"}
    with pytest.raises(ValidationFailed, match="压缩炸弹"):
        excel_io.open_sheet(bomb, ENTERPRISE_SPEC, filename="名录.xlsx")


def test_an_ods_bomb_is_refused_the_same_way(tmp_path):
    path = tmp_path / "名录.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        with archive.open("content.xml", "w") as member:
            for _ in range(40):
                member.write(b"<table:table-row><table:table-cell/></table:table-row>" * 20000)
    with pytest.raises(ValidationFailed, match="content.xml.*压缩炸弹"):
        excel_io.check_upload(path, "名录.ods")


def test_too_much_inflated_in_all_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [row(i, code, f"企业{i}") for i, code in enumerate(codes(200), 1)])
    excel_io.check_archive(path)  # an ordinary export passes
    with pytest.raises(ValidationFailed, match="解压后共 .* MB，超过 0.0 MB 的上限"):
        excel_io.check_archive(path, max_expanded=10_000)


def test_an_archive_crowded_with_members_is_refused(tmp_path):
    path = crowded_archive(tmp_path / "a.xlsx", excel_io.MAX_ARCHIVE_MEMBERS)
    with pytest.raises(ValidationFailed, match=r"个压缩成员，超过 1000 个的上限"):
        excel_io.check_upload(path, "a.xlsx")


def test_a_member_inflating_past_its_declared_size_is_never_read_past_it(tmp_path):
    """The directory check trusts the declared sizes because the readers do too: calamine refuses
    the member, openpyxl (the fallback) stops reading at the declared size."""
    path = lying_archive(tmp_path / "a.xlsx", real_rows=100_000, declared=4000)
    excel_io.check_upload(path, "a.xlsx")  # the directory looks harmless
    with pytest.raises(ValidationFailed, match="损坏"):
        excel_io.open_sheet(path, ENTERPRISE_SPEC, filename="a.xlsx", library="calamine")
    # The fallback sees the declared 4000 bytes: the header and a few dozen of the 100,000 rows.
    with excel_io.open_sheet(path, ENTERPRISE_SPEC, filename="a.xlsx", library="pyexcel-xlsx") as sheet:
        assert sum(1 for _line in sheet.rows()) < 100


def test_a_broken_zip_is_called_corrupt(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ValidationFailed, match="损坏"):
        excel_io.check_upload(path, "a.xlsx")


def test_rows_past_the_cap_stop_the_read(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [row(i, code, f"企业{i}") for i, code in enumerate(codes(6), 1)])
    with excel_io.open_sheet(path, ENTERPRISE_SPEC, max_rows=5) as sheet:
        read = []
        with pytest.raises(ValidationFailed, match="超过 5 行数据的上限（第 9 行起未读取）"):
            for line in sheet.rows():
                read.append(line.number)
    assert read == [4, 5, 6, 7, 8]
    with excel_io.open_sheet(path, ENTERPRISE_SPEC, max_rows=6) as sheet:
        assert len(list(sheet.rows())) == 6


def test_report_cells_keep_ordinary_rows_and_cut_absurd_ones():
    assert excel_io.report_cells(["a", "bc", ""]) == ["a", "bc", ""]
    cut = excel_io.report_cells(["x" * 3000, "y" * 3000, "z" * 10, "w"])
    assert cut[0] == "x" * 3000 and cut[1] == "y" * 1000 + "…" and cut[2:] == ["…"]
    assert sum(map(len, excel_io.report_cells(["q" * 32767] * 16384))) < excel_io.REPORT_ROW_CHARS + 10


def test_junk_rows_are_counted_but_at_most_ten_thousand_kept(session_factory, tmp_path, now):
    """The registry import of a file of junk rows (each lacks its code): the errors are counted,
    10,000 kept for the report, the rest noted as unlisted — not millions of rows in the database."""
    from sqlalchemy import func, select

    from models import ImportJob, ImportRowError, ImportStatus
    from services.registry import import_jobs
    from tests.registry.exports import write_csv

    junk = 12_000
    path = write_csv(tmp_path / "名录.csv", [row(i, "", f"企业{i}") for i in range(junk)], encoding="utf-8")
    with session_factory() as s:
        job_id = import_jobs.create_job(s, kind="enterprises", filename="名录.csv", stored_path=str(path),
                                        file_size=path.stat().st_size, actor=None, now=now).id
        s.commit()
    assert "另有 2000 行错误未列出" in import_jobs.run_queued(session_factory, worker="t", clock=lambda: now)
    with session_factory() as s:
        job = s.get(ImportJob, job_id)
        assert job.status == ImportStatus.PREVIEWED and (job.errors, job.unlisted_errors) == (junk, 2000)
        assert s.scalar(select(func.count(ImportRowError.id)).where(ImportRowError.job_id == job_id)) == 10_000
        assert import_jobs.unlisted_note(job) == "另有 2000 行错误未列出"
