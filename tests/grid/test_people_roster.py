"""People roster import (preview → confirm, row errors) and export, through the service and the pages."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from jobs.scheduler import run_job_now
from models import AuditLog, ImportJob, ImportStatus, Person, Role
from services.errors import InvalidTransition
from services.grid import people_roster
from services.registry import import_jobs
from tests.grid.conftest import login, page_token

HEADERS = ["姓名", "手机号", "角色", "片区/部门", "企业微信账号", "钉钉账号", "职务", "服务阶段"]


def workbook(path, rows, headers=HEADERS, title="北辰区为企服务人员名册（2026年3月）"):
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def existing(factory, session):
    person = factory.person(Role.SERVICE_STAFF, zone=factory.zone("tianmu"), name="老王")
    person.phone = "137-0000-0099"
    person.wecom_userid = "laowang"
    session.commit()
    return person


def rows_with_problems():
    return [
        ["张三", "13800000001", "为企服务人员", "天穆镇", "zhangsan", "", "", ""],
        ["李帮办", "１３８００００００02", "首席帮办", "人社局", "", "libangban", "科长", "企业开办、生产经营"],
        ["老王", "13700000099", "片区管理员", "天穆", "", "", "", ""],  # existing: role changes, short zone name
        ["坏角色", "13800000003", "网格长", "天穆镇", "", "", "", ""],
        ["错片区", "13800000004", "为企服务人员", "火星镇", "", "", "", ""],
        ["重复号", "13800000001", "为企服务人员", "北仓镇", "", "", "", ""],
        ["错阶段", "13800000005", "首席帮办", "人社局", "", "", "", "招商引资"],
        ["缺部门", "13800000006", "首席帮办", "", "", "", "", ""],
        ["重复企微", "13800000007", "为企服务人员", "北仓镇", "laowang", "", "", ""],
    ]


def queue(session, path, actor, now) -> ImportJob:
    """What the upload does: the checks that read no cell, then a queued dry run."""
    job = import_jobs.accept_upload(session, kind=people_roster.KIND, stored_path=path, filename=path.name,
                                    actor=actor, now=now, max_bytes=50 * 1024 * 1024)
    session.commit()
    return job


def run(session, now) -> ImportJob:
    """What the jobs process does with the queued job (the session's own view is refreshed)."""
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    summary = import_jobs.run_queued(factory, worker="test", clock=lambda: now)
    session.expire_all()
    job_id = int(summary.split()[0].lstrip("#"))
    return session.get(ImportJob, job_id)


def test_preview_writes_nothing_and_confirm_imports_good_rows(session, factory, now, tmp_path, existing):
    admin = factory.person(Role.SYSADMIN)
    session.commit()
    path = workbook(tmp_path / "名册.xlsx", rows_with_problems())
    people_before = session.scalar(select(func.count(Person.id)))
    job = queue(session, path, admin, now)
    assert job.status == ImportStatus.QUEUED and job.dry_run  # nothing parsed yet
    job = run(session, now)
    assert job.status == ImportStatus.PREVIEWED and job.header_row == 2
    assert (job.total, job.new, job.changed, job.unchanged, job.errors) == (9, 2, 1, 0, 6)
    assert session.scalar(select(func.count(Person.id))) == people_before
    assert session.get(Person, existing.id).role == Role.SERVICE_STAFF
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("person.%"))) == 0

    reasons = {e.row_number: (e.column, e.reason) for e in people_roster.job_errors(session, job)}
    assert reasons[6][0] == "角色" and "网格长" in reasons[6][1] and "为企服务人员" in reasons[6][1]
    assert reasons[7] == ("片区/部门", "未找到片区“火星镇”（应为 17 个片区之一，如 天穆镇）")
    assert reasons[8][0] == "手机号" and "第 3 行" in reasons[8][1]
    assert reasons[9][0] == "服务阶段" and "招商引资" in reasons[9][1]
    assert reasons[10][0] == "片区/部门" and "部门" in reasons[10][1]
    assert reasons[11][0] == "企业微信账号" and "已被其他人员使用" in reasons[11][1]

    import_jobs.confirm(session, job, full_export=None, now=now)
    session.commit()
    job = run(session, now)
    assert job.status == ImportStatus.DONE and (job.new, job.changed, job.errors) == (2, 1, 6)
    helper = session.scalar(select(Person).where(Person.name == "李帮办"))
    assert helper.phone == "13800000002" and helper.department.name == "人社局"
    assert sorted(s.name for s in helper.stages) == ["企业开办", "生产经营"] and helper.title == "科长"
    updated = session.get(Person, existing.id)
    assert updated.role == Role.ZONE_ADMIN and updated.wecom_userid == "laowang"  # empty cell kept the binding
    assert session.scalar(select(Person).where(Person.name == "坏角色")) is None
    audits = session.scalars(select(AuditLog).where(AuditLog.action == "grid.people_import")).all()
    assert len(audits) == 1 and audits[0].actor_id == admin.id
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "person.create")) == 2
    with pytest.raises(InvalidTransition):
        import_jobs.confirm(session, job, full_export=None, now=now)


def test_wrong_columns_fail_the_job_with_the_expected_headers(session, factory, now, tmp_path):
    path = workbook(tmp_path / "wrong.xlsx", [["张三", "13800000001"]], headers=["名字", "电话号码", "部门名称"])
    queue(session, path, None, now)
    job = run(session, now)
    assert job.status == ImportStatus.FAILED
    assert "角色" in job.error_message and "片区/部门" in job.error_message


def test_export_round_trip_changes_nothing(session, factory, now, tmp_path, existing):
    factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="孙帮办",
                   stages=[factory.stage("startup")])
    session.commit()
    path = tmp_path / "export.xlsx"
    people_roster.write_export(path, session)
    sheet = load_workbook(path, read_only=True).active
    rows = list(sheet.values)
    assert list(rows[0]) == list(people_roster.EXPORT_HEADERS)
    assert any(r[0] == "老王" and r[1] == "137-0000-0099" and r[3] == "天穆镇" for r in rows[1:])
    queue(session, path, None, now)
    job = run(session, now)
    assert (job.new, job.changed, job.errors) == (0, 0, 0) and job.unchanged == len(rows) - 1


def test_template_lists_every_column(tmp_path):
    path = tmp_path / "template.xlsx"
    people_roster.write_template(path)
    book = load_workbook(path, read_only=True)
    header = next(book.worksheets[0].values)
    assert [h.rstrip("*") for h in header] == HEADERS
    assert book.sheetnames[1] == "填写说明"


# --- through the pages -------------------------------------------------------------------------
def upload(client, path, name):
    token = page_token(client, "/grid/people")
    with open(path, "rb") as handle:
        return client.post("/grid/people/import", data={"csrf_token": token, "file": (handle, name)},
                           content_type="multipart/form-data")


def test_upload_preview_confirm_and_errors_download(app, client, session, grid, tmp_path):
    path = workbook(tmp_path / "roster.xlsx", rows_with_problems()[:6])
    login(client, "admin")
    response = upload(client, path, "人员名册.xlsx")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "正在预检" in page and 'http-equiv="refresh"' in page  # parsed by the jobs process, not here
    assert "已预检" in run_job_now(app, "run_imports")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "导入预检" in page and "未找到片区“火星镇”" in page and "网格长" in page and "确认导入" in page
    job_url = response.headers["Location"]
    errors = client.get(job_url + "/errors.xlsx")
    assert errors.status_code == 200
    sheet = load_workbook(io.BytesIO(errors.data), read_only=True).active
    rows = list(sheet.values)
    assert rows[0][:4] == ("行号", "出错的列", "出错的内容", "原因") and rows[0][4:] == tuple(HEADERS)
    assert {r[0] for r in rows[1:]} == {6, 7, 8}

    token = page_token(client, job_url)
    done = client.post(job_url + "/confirm", data={"csrf_token": token})
    assert done.status_code == 302
    assert "正在导入" in client.get(job_url).get_data(as_text=True)
    assert "已完成" in run_job_now(app, "run_imports")
    result = client.get(job_url).get_data(as_text=True)
    assert "导入结果" in result and "已完成" in result
    session.commit()
    session.expire_all()
    assert session.scalar(select(Person).where(Person.name == "张三")).zone.name == "天穆镇"
    session.commit()


def test_upload_refuses_wrong_columns_and_non_admins(app, client, session, grid, tmp_path):
    path = workbook(tmp_path / "wrong.xlsx", [["张三", "1"]], headers=["名字", "电话号码"], title=None)
    login(client, "admin")
    response = upload(client, path, "wrong.xlsx")
    assert response.status_code == 302
    run_job_now(app, "run_imports")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "导入结果" in html and "缺少必需的列" in html and "片区/部门" in html
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook")
    refused = upload(client, broken, "broken.xlsx")
    assert refused.status_code == 422 and "损坏" in refused.get_data(as_text=True)
    assert list((tmp_path / "imports").iterdir()) == []  # the refused upload is not kept
    login(client, "zoneadmin")
    assert client.get("/grid/people").status_code == 403


def test_people_export_and_template_downloads(client, session, grid):
    login(client, "admin")
    export = client.get("/grid/people/export.xlsx?role=service_staff&active=1")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(export.data), read_only=True).active.values)
    assert rows[0] == tuple(people_roster.EXPORT_HEADERS)
    assert sorted(r[0] for r in rows[1:]) == sorted(["王服务", "刘服务", "李北仓"])
    template = client.get("/grid/people/template.xlsx")
    assert template.status_code == 200 and "attachment" in template.headers["Content-Disposition"]


def test_a_zip_bomb_is_refused_at_upload_in_milliseconds_and_nothing_is_kept(client, session, grid, tmp_path,
                                                                             zip_bomb_file):
    """The finding: a 4.3 MB roster that inflates to 1.4 GB was parsed inside the request, holding
    SQLite's write lock for half a minute. Now the zip's directory alone refuses it."""
    import time

    login(client, "admin")
    started = time.perf_counter()
    response = upload(client, zip_bomb_file, "人员名册.xlsx")
    elapsed = time.perf_counter() - started
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "压缩炸弹" in html and "上限 100 倍" in html
    assert elapsed < 5, elapsed  # the request, CSRF and the page included; the check itself takes ~1 ms
    assert session.scalar(select(func.count(ImportJob.id))) == 0
    assert list((tmp_path / "imports").iterdir()) == []


def test_the_roster_is_parsed_with_no_database_connection_held(session, factory, now, tmp_path, monkeypatch):
    """Reading the file (the slow, hostile part) happens before the job's session opens, so no
    write lock waits on a parser; the preview then runs in one short transaction."""
    engine = session.get_bind()
    seen = []
    read = people_roster.read_roster

    def watched(*args, **kwargs):
        seen.append(engine.pool.checkedout())
        return read(*args, **kwargs)

    monkeypatch.setattr(people_roster, "read_roster", watched)
    path = workbook(tmp_path / "名册.xlsx", rows_with_problems()[:2])
    queue(session, path, None, now)
    session.close()  # the test's own connection back to the pool
    assert run(session, now).status == ImportStatus.PREVIEWED
    assert seen == [0]


def test_a_preview_batch_by_batch_reports_what_the_real_run_does(session, factory, now, tmp_path, existing,
                                                                  monkeypatch):
    """One row per transaction: what earlier rows do still counts — a phone or chat account used
    before, and a chat account an earlier row takes off its person (free for a later row)."""
    monkeypatch.setattr(people_roster, "COMMIT_EVERY", 1)
    monkeypatch.setattr(people_roster, "BATCH_PAUSE_SECONDS", 0)
    rows = [*rows_with_problems(),
            ["老王", "13700000099", "片区管理员", "天穆", "laowang2", "", "", ""],  # a second row for 老王
            ["小李", "13800000008", "为企服务人员", "北仓镇", "xiaoli", "", "", ""],
            ["小赵", "13800000009", "为企服务人员", "北仓镇", "xiaoli", "", "", ""]]  # 小李's account
    rows[2][4] = "laowang-new"  # 老王 moves to a new account, so 重复企微 (row 11) may take his old one
    path = workbook(tmp_path / "名册.xlsx", rows)
    job = queue(session, path, None, now)
    job = run(session, now)
    preview = {e.row_number: (e.column, e.reason) for e in people_roster.job_errors(session, job)}
    counts = (job.total, job.new, job.changed, job.errors)
    assert 11 not in preview  # laowang was released by row 5
    assert preview[12][0] == "手机号" and "第 5 行" in preview[12][1]
    assert preview[14] == ("企业微信账号", "该企业微信 UserID 已被其他人员使用")
    import_jobs.confirm(session, job, full_export=None, now=now)
    session.commit()
    job = run(session, now)
    assert {e.row_number: (e.column, e.reason) for e in people_roster.job_errors(session, job)} == preview
    assert (job.total, job.new, job.changed, job.errors) == counts == (12, 4, 1, 7)
    assert session.scalar(select(Person).where(Person.name == "重复企微")).wecom_userid == "laowang"
