"""The registry console through the test client: upload → preview → confirm → result, census, profile."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from extensions import storage
from jobs.scheduler import run_job_now
from models import AuditLog, Enterprise, EnterpriseEvent, EnterpriseEventKind, ImportJob, ImportStatus, Role
from tests.factories import sign_in_cookie
from tests.registry.exports import bad_check_digit, codes, row, write_xlsx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """The test client; the test's own transaction ends before each request (SQLite write lock)."""

    def __init__(self, client, session):
        self.client, self.session = client, session

    def settle(self):
        self.session.commit()
        self.session.expire_all()

    def get(self, path, **kw):
        self.settle()
        return self.client.get(path, **kw)

    def token(self, path="/registry/imports"):
        return CSRF.search(self.get(path).get_data(as_text=True)).group(1)

    def post(self, path, data, *, token_from="/registry/imports", **kw):
        data = {"csrf_token": self.token(token_from), **data}
        self.settle()
        return self.client.post(path, data=data, **kw)

    def sign_in(self, person):
        self.settle()
        sign_in_cookie(self.client, person)


@pytest.fixture
def web(client, session):
    return Web(client, session)


@pytest.fixture
def admin(factory, web):
    person = factory.person(Role.SYSADMIN, name="系统管理员")
    web.sign_in(person)
    return person


def upload(web, path, *, full=False):
    with open(path, "rb") as handle:
        data = {"file": (io.BytesIO(handle.read()), path.name)}
    if full:
        data["full_export"] = "1"
    return web.post("/registry/imports", data, content_type="multipart/form-data")


def test_upload_preview_confirm_and_the_census_changes(app, web, admin, session, tmp_path):
    a, b, c = codes(3)
    path = write_xlsx(tmp_path / "北辰名录.xlsx", [
        row(1, a, "天津北辰精密机械有限公司", address="天津市北辰区天穆镇北仓道8号"),
        row(2, b, "天津双街物流有限公司", status="注销"),
        row(3, bad_check_digit(c), "校验位错误有限公司"),
    ])
    response = upload(web, path)
    assert response.status_code == 302
    job_url = response.headers["Location"]
    page = web.get(job_url).get_data(as_text=True)
    # The request parsed nothing: the header and the first rows come from the dry run.
    assert "正在预检" in page and "市场主体名称" not in page

    assert "预计新增 2" in run_job_now(app, "run_imports")
    status = web.get(job_url + "/status").get_json()["job"]
    assert status["status"] == ImportStatus.PREVIEWED and (status["new"], status["errors"]) == (2, 1)
    page = web.get(job_url).get_data(as_text=True)
    assert "预检结果" in page and "确认导入" in page and "统一社会信用代码校验位错误" in page
    assert "市场主体名称" in page and 'id="preview-rows"' in page  # header mapping and first rows
    assert session.scalar(select(func.count(Enterprise.id))) == 0

    job_id = int(job_url.rstrip("/").rsplit("/", 1)[-1])
    stored = session.get(ImportJob, job_id).stored_path
    files = storage(web.client.application)
    assert stored.startswith("imports/") and files.exists(stored)  # a storage key, not a local path
    response = web.post(f"/registry/imports/{job_id}/confirm", {}, token_from=job_url)
    assert response.status_code == 302
    assert "已完成" in run_job_now(app, "run_imports")
    page = web.get(job_url).get_data(as_text=True)
    assert "导入完成" in page
    # Which reader parsed the file, in words: not the library's name.
    assert re.search(r"读取方式：(快速读取|兼容模式读取)", page) and "calamine" not in page
    assert not files.exists(stored)  # the uploaded copy is gone; the row errors stay in the database
    assert session.scalar(select(func.count(Enterprise.id))) == 2

    errors = web.get(f"/registry/imports/{job_id}/errors.xlsx")
    assert errors.status_code == 200
    sheet = load_workbook(io.BytesIO(errors.data)).active
    values = [[cell.value for cell in r] for r in sheet.iter_rows()]
    assert values[1][0] == 6 and values[1][3] == "统一社会信用代码校验位错误"
    assert values[1][6] == "校验位错误有限公司"  # the original cells follow the reason

    census = web.get("/registry/census").get_data(as_text=True)
    assert 'id="census-total">2<' in census
    listing = web.get("/registry/enterprises?group=deregistered").get_data(as_text=True)
    assert "天津双街物流有限公司" in listing and "天津北辰精密机械有限公司" not in listing


def test_wrong_columns_are_refused_with_the_expected_headers(app, web, admin, tmp_path, session):
    path = write_xlsx(tmp_path / "错误.xlsx", [["1", "甲"]], headers=["编号", "姓名"])
    response = upload(web, path)
    assert response.status_code == 302  # the header is looked for in the jobs process
    run_job_now(app, "run_imports")
    text = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "导入失败" in text
    assert "没有找到企业名录的表头" in text and "统一社会信用代码" in text and "企业名称（必填）" in text
    job = session.scalar(select(ImportJob))
    assert job.status == ImportStatus.FAILED and not Path(job.stored_path).exists()


def test_corrupt_and_unsupported_uploads(web, admin, tmp_path):
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")
    assert "文件已损坏" in upload(web, broken).get_data(as_text=True)
    other = tmp_path / "说明.docx"
    other.write_bytes(b"x")
    assert "不支持的文件类型" in upload(web, other).get_data(as_text=True)


def test_template_download_is_an_importable_workbook(web, admin):
    response = web.get("/registry/imports/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["企业名录", "填写说明"]


def test_roles(web, factory):
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"))
    web.sign_in(dispatcher)
    assert web.get("/registry/census").status_code == 200
    assert web.get("/registry/imports").status_code == 200
    response = web.client.post("/registry/imports", data={})
    assert response.status_code in (400, 403)  # no CSRF token or no right: either way nothing happens
    staff = factory.person(Role.SERVICE_STAFF)
    web.sign_in(staff)
    assert web.get("/registry/enterprises").status_code == 403


def test_district_leader_reads_the_census_of_the_whole_district(web, factory):
    """企业底数 is a leader's view: read only, every zone, no links into the list they may not open."""
    factory.enterprise(zone=factory.zone("tianmu"), name="天穆的企业")
    factory.enterprise(zone=factory.zone("beicang"), name="北仓的企业")
    web.sign_in(factory.person(Role.DISTRICT_LEADER, name="钱区长"))
    response = web.get("/registry/census")
    assert response.status_code == 200
    census = response.get_data(as_text=True)
    assert 'id="census-total">2<' in census and "天穆镇" in census and "北仓镇" in census
    assert "/registry/enterprises" not in census and "/registry/imports" not in census
    assert "/registry/census" in web.get("/").get_data(as_text=True)  # in the navigation
    assert web.get("/registry/enterprises").status_code == 403  # the list stays with the registry roles
    assert web.get("/registry/imports").status_code == 403


def test_zone_admin_sees_only_their_zone(web, factory):
    tianmu, beicang = factory.zone("tianmu"), factory.zone("beicang")
    mine = factory.enterprise(zone=tianmu, name="天穆的企业")
    theirs = factory.enterprise(zone=beicang, name="北仓的企业")
    web.sign_in(factory.person(Role.ZONE_ADMIN, zone=tianmu))
    listing = web.get("/registry/enterprises").get_data(as_text=True)
    assert "天穆的企业" in listing and "北仓的企业" not in listing
    assert web.get(f"/registry/enterprises/{mine.id}").status_code == 200
    assert web.get(f"/registry/enterprises/{theirs.id}").status_code == 403
    census = web.get("/registry/census").get_data(as_text=True)
    assert "北仓镇" not in census and "未分配" not in census
    assert web.get("/registry/imports").status_code == 403  # import results hold every zone's rows


def test_profile_shows_history_orders_and_edits_are_audited(web, admin, factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    enterprise = factory.enterprise(staff=staff, name="天津档案测试有限公司", industry_code="C3311")
    order = factory.order(staff, now, enterprise=enterprise)
    session.add(EnterpriseEvent(enterprise_id=enterprise.id, kind=EnterpriseEventKind.STATUS, from_status="存续",
                                to_status="迁出", actor_label="导入任务 #9", created_at=now))
    page = web.get(f"/registry/enterprises/{enterprise.id}").get_data(as_text=True)
    assert "王服务" in page and order.number in page and "迁出" in page

    url = f"/registry/enterprises/{enterprise.id}"
    response = web.post(url, {
        "contact_name": "李联系", "contact_phone": "022-1234", "employees": "350", "revenue": "2500", "assets": "",
        "industry_code": "C3311", "stage_id": "", "chain_position": "链主", "is_key_industry": "1",
        "qualifications": "高新技术企业、专精特新", "abnormal": "",
    }, token_from=url)
    assert response.status_code == 302
    session.expire_all()
    edited = session.get(Enterprise, enterprise.id)
    assert edited.size_band == "中" and edited.qualifications == ["高新技术企业", "专精特新"]
    assert edited.is_key_industry and edited.chain_position == "链主"
    event = session.scalar(select(EnterpriseEvent).where(EnterpriseEvent.kind == EnterpriseEventKind.EDITED))
    assert event.actor_id == admin.id and event.changes["employees"] == [None, 350]
    assert session.scalar(select(AuditLog).where(AuditLog.action == "registry.enterprise.update")) is not None

    bad = web.post(url, {"employees": "很多", "industry_code": "ZZ"}, token_from=url)
    assert bad.status_code == 422 and "从业人数应为非负整数" in bad.get_data(as_text=True)
    unknown = web.post(url, {"industry_code": "C9999"}, token_from=url)  # a code shape outside the closed list
    assert unknown.status_code == 422 and "不是 GB/T 4754-2017 国民经济行业分类代码" in unknown.get_data(as_text=True)


def test_list_search_and_filters(web, admin, factory):
    target = factory.enterprise(name="天津搜索目标有限公司")
    factory.enterprise(name="北辰区其他商店", entity_type="individual")
    assert "天津搜索目标有限公司" in web.get("/registry/enterprises?q=搜索目标").get_data(as_text=True)
    found = web.get(f"/registry/enterprises?q={target.uscc.lower()}").get_data(as_text=True)
    assert "天津搜索目标有限公司" in found and "北辰区其他商店" not in found
    page = web.get("/registry/enterprises?entity_type=individual").get_data(as_text=True)
    assert "北辰区其他商店" in page and "天津搜索目标有限公司" not in page


def test_an_upload_wakes_the_import_job_at_once(app, web, admin, tmp_path, session_factory, monkeypatch):
    """Where the process runs the scheduler (development), the dry run starts right after the
    upload's commit instead of at the next tick — here an hour away."""
    import time
    from datetime import datetime, timedelta

    from apscheduler.schedulers.background import BackgroundScheduler

    from jobs.definitions import JOBS_BY_NAME, LOCAL_TZ
    from jobs.scheduler import _run

    scheduler = BackgroundScheduler(timezone=LOCAL_TZ)
    scheduler.add_job(_run, "interval", hours=1, args=(app, JOBS_BY_NAME["run_imports"]), id="run_imports",
                      next_run_time=datetime.now(LOCAL_TZ) + timedelta(hours=1))
    scheduler.start()
    monkeypatch.setitem(app.extensions, "scheduler", scheduler)
    try:
        path = write_xlsx(tmp_path / "北辰名录.xlsx", [row(1, codes(1)[0], "天津北辰精密机械有限公司")])
        response = upload(web, path)
        assert response.status_code == 302
        response.close()  # what the WSGI server does once the response is sent: the wake-up runs now
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status != ImportStatus.PREVIEWED:
            time.sleep(0.05)
            with session_factory() as s:
                status = s.scalar(select(ImportJob.status))
    finally:
        scheduler.shutdown()
    assert status == ImportStatus.PREVIEWED


def test_a_zip_bomb_upload_is_refused_and_nothing_is_kept(web, admin, session, zip_bomb_file, monkeypatch, tmp_path):
    monkeypatch.setitem(web.client.application.config, "UPLOAD_ROOT", str(tmp_path / "uploads"))
    with open(zip_bomb_file, "rb") as handle:
        data = {"file": (io.BytesIO(handle.read()), "名录.xlsx")}
    response = web.post("/registry/imports", data, content_type="multipart/form-data")
    assert response.status_code == 422 and "压缩炸弹" in response.get_data(as_text=True)
    assert session.scalar(select(func.count(ImportJob.id))) == 0
    assert not (tmp_path / "uploads").exists()  # checked in a scratch copy, refused: nothing stored
