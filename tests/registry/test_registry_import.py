"""The registry import against files that look like real 市场监管局 exports (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from models import (
    Enterprise,
    EnterpriseEvent,
    EnterpriseEventKind,
    EntityType,
    ImportJob,
    ImportRowError,
    ImportStatus,
    Role,
    StatusFlag,
    WorkOrder,
)
from services.errors import ValidationFailed
from services.registry import import_jobs
from services.registry.importer import ENTERPRISE_SPEC, import_enterprises
from tests.factories import make_uscc
from tests.registry.exports import HEADERS, bad_check_digit, codes, full_width, row, write_csv, write_xlsx


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def by_code(session_factory, code) -> Enterprise:
    with session_factory() as s:
        return s.scalar(select(Enterprise).where(Enterprise.uscc == code))


class Writes:
    """Every INSERT/UPDATE/DELETE the engine runs against the registry tables while active."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, _conn, _cursor, statement, _params, _context, _many):
        head = statement.lstrip().upper()
        if head.startswith(("INSERT", "UPDATE", "DELETE")) and ("ENTERPRISE" in head.split("(")[0]):
            self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


@pytest.fixture
def engine(app):
    return app.extensions["db_engine"]


def messy_rows():
    """Nine data rows: good ones, a duplicate, a bad check digit, a 注销 one, a business without a code."""
    a, b, c, d = codes(4)
    individual = make_uscc(2001, "2")
    return {
        "codes": (a, b, c, d, individual),
        "rows": [
            row(1, a, "天津北辰精密机械有限公司  ", founded=43831, staff=full_width("25")),  # serial date, full-width
            row(2, full_width(b.lower()), "天津天穆食品有限公司", founded="2019/3/5", capital="50万元人民币"),
            row(3, c, "天津双街物流有限公司", status="注销", founded="2015年6月1日", industry="G5431"),
            row(4, bad_check_digit(d), "校验位错误有限公司"),
            row(5, a, "天津北辰精密机械有限公司", founded=43831),  # the same enterprise again
            row(6, individual, "北辰区小王便利店", kind="个体工商户", person="王五", founded="20150304",
                industry="F5292", capital="", staff=2, phone=""),
            row(7, "120113600012345", "北辰区老李修车铺", kind="个体工商户", person="李四", founded="2009-08-07",
                address="天津市北辰区果园新村街道 果园南道12号 ", industry="", capital="", staff="", phone=""),
            row(8, "", "没有代码的公司", founded="2020-01-01"),
            row(9, d, "天津日期错误有限公司", founded="2020-13-45"),
        ],
    }


def test_real_looking_export_is_imported_row_by_row(session_factory, tmp_path, now):
    data = messy_rows()
    a, b, c, d, individual = data["codes"]
    path = write_xlsx(tmp_path / "名录.xlsx", data["rows"])

    result = import_enterprises(session_factory, path, job_id=None, now=now)

    assert (result.total, result.new, result.changed, result.unchanged, result.errors) == (9, 5, 0, 0, 4)
    first = by_code(session_factory, a)
    assert first.name == "天津北辰精密机械有限公司"  # trailing spaces gone
    assert first.established_on == date(2020, 1, 1)  # Excel serial 43831
    assert first.employees == 25  # full-width digits
    assert first.industry_code == "C3311" and first.industry_name == "金属结构制造"
    assert first.registered_capital == Decimal("100")
    assert first.entity_type == EntityType.ENTERPRISE
    second = by_code(session_factory, b)  # lower-case, full-width code normalised
    assert second.established_on == date(2019, 3, 5) and second.registered_capital == Decimal("50")
    gone = by_code(session_factory, c)
    assert gone.status == "注销" and gone.established_on == date(2015, 6, 1)
    shop = by_code(session_factory, individual)
    assert shop.entity_type == EntityType.INDIVIDUAL and shop.established_on == date(2015, 3, 4)
    with session_factory() as s:
        old = s.scalar(select(Enterprise).where(Enterprise.reg_no == "120113600012345"))
        assert old.uscc is None and old.entity_type == EntityType.INDIVIDUAL
        assert old.address == "天津市北辰区果园新村街道 果园南道12号"
        # New enterprises start with an empty history (their created_at and last_import_id say when and how).
        assert s.scalar(select(func.count(EnterpriseEvent.id))) == 0
        assert old.created_at == now
    assert count(session_factory, Enterprise) == 5
    assert by_code(session_factory, d) is None  # bad rows never half-import


def test_row_errors_name_the_row_column_and_reason(session_factory, tmp_path, now):
    data = messy_rows()
    path = write_xlsx(tmp_path / "名录.xlsx", data["rows"])
    with session_factory() as s:
        job = import_jobs.create_job(s, kind="enterprises", filename="名录.xlsx", stored_path=str(path),
                                     file_size=path.stat().st_size, actor=None, now=now, dry_run=False)
        s.commit()
        job_id = job.id

    import_enterprises(session_factory, path, job_id=job_id, now=now)

    with session_factory() as s:
        errors = {e.row_number: e for e in s.scalars(select(ImportRowError).where(ImportRowError.job_id == job_id))}
        job = s.get(ImportJob, job_id)
    # Title row, blank row, header row: data starts on sheet row 4.
    assert sorted(errors) == [7, 8, 11, 12]
    assert errors[7].reason == "统一社会信用代码校验位错误" and errors[7].column == "统一社会信用代码"
    assert errors[8].reason == "文件内重复（与第 4 行为同一企业）"
    assert errors[11].reason.startswith("缺少统一社会信用代码")
    assert "日期不存在" in errors[12].reason and errors[12].column == "成立日期"
    assert errors[12].row_values[2] == "天津日期错误有限公司"
    assert (job.total, job.new, job.errors, job.header_row) == (9, 5, 4, 3)
    assert job.header_map["columns"]["企业名称"] == "市场主体名称"


def test_each_problem_is_reported_under_its_own_column_and_codes_are_a_closed_list(session_factory, tmp_path,
                                                                                   now):
    c = codes(5, start=7000)
    path = write_xlsx(tmp_path / "名录.xlsx", [
        row(1, c[0], "天津两处错误有限公司", capital="很多", staff="-5"),
        row(2, c[1], "天津行业代码错误有限公司", industry="X9999"),
        row(3, c[2], "天津未列明行业有限公司", industry="C9999 不存在的行业"),
        row(4, c[3], "天津火星科技有限公司", address="火星基地一号"),
        row(5, c[4], "天津正常机械有限公司", industry="3311"),
    ])
    with session_factory() as s:
        job = import_jobs.create_job(s, kind="enterprises", filename="名录.xlsx", stored_path=str(path),
                                     file_size=path.stat().st_size, actor=None, now=now, dry_run=False)
        s.commit()
        job_id = job.id

    result = import_enterprises(session_factory, path, job_id=job_id, now=now)

    with session_factory() as s:
        errors = [(e.row_number, e.column, e.value, e.reason) for e in s.scalars(
            select(ImportRowError).where(ImportRowError.job_id == job_id).order_by(ImportRowError.id))]
        job = s.get(ImportJob, job_id)
    by_row = {}
    for number, column, value, reason in errors:
        by_row.setdefault(number, []).append((column, value, reason))
    # Row 4 has two problems: each under its own column, neither reason filed under the other.
    assert sorted(by_row[4]) == [("从业人数", "-5", "从业人数不能为负数"),
                                 ("注册资本(万元)", "很多", "无法识别的数字：很多")]
    [(column, value, reason)] = by_row[5]
    assert (column, value) == ("国民经济行业", "X9999") and "X9999" in reason and "GB/T 4754-2017" in reason
    [(column, value, reason)] = by_row[6]
    assert column == "国民经济行业" and "C9999" in reason
    assert sorted(by_row) == [4, 5, 6] and (job.errors, result.errors) == (3, 3)  # rows, not problems

    # An address outside Beichen is no row error: the enterprise waits in 未分配, saying why.
    mars, fine = by_code(session_factory, c[3]), by_code(session_factory, c[4])
    assert mars.zone_id is None and fine.industry_code == "C3311"
    # No address rules in this test: the Beichen address waits too, for a rule rather than as outside.
    assert (result.unassigned, result.outside_district) == (2, 1) and "其中住所不在北辰区 1" in result.describe()
    from services.grid import rules as zone_rules

    with session_factory() as s:
        assert zone_rules.unassigned_reasons(s, [mars, fine]) == {
            mars.id: "住所不在北辰区（没有北辰区或区内的地名）", fine.id: "北辰区内，但没有地址规则匹配"}


def test_reimporting_the_same_file_writes_nothing(session_factory, engine, tmp_path, now):
    path = write_xlsx(tmp_path / "名录.xlsx", messy_rows()["rows"])
    import_enterprises(session_factory, path, job_id=None, now=now)
    enterprises, events = count(session_factory, Enterprise), count(session_factory, EnterpriseEvent)
    with session_factory() as s:
        stamps = dict(s.execute(select(Enterprise.id, Enterprise.updated_at)).all())

    with Writes(engine) as writes:
        again = import_enterprises(session_factory, path, job_id=None, now=now + timedelta(days=1))

    assert (again.new, again.changed, again.unchanged, again.errors) == (0, 0, 5, 4)
    assert writes.statements == []
    assert count(session_factory, Enterprise) == enterprises
    assert count(session_factory, EnterpriseEvent) == events
    with session_factory() as s:
        assert dict(s.execute(select(Enterprise.id, Enterprise.updated_at)).all()) == stamps


def test_same_values_in_another_format_write_nothing_either(session_factory, engine, tmp_path, now):
    a, b = codes(2)
    import_enterprises(session_factory, write_xlsx(tmp_path / "a.xlsx", [row(1, a, "甲公司", founded=43831),
                                                                        row(2, b, "乙公司")]), job_id=None, now=now)
    # The same facts as text in a GB18030 csv (dates written differently): no fingerprint match, no difference.
    csv_path = write_csv(tmp_path / "a.csv", [row(1, a, "甲公司", founded="2020年1月1日"), row(2, b, "乙公司")])
    with Writes(engine) as writes:
        result = import_enterprises(session_factory, csv_path, job_id=None, now=now)
    assert (result.unchanged, result.changed) == (2, 0)
    assert writes.statements == []


def test_newer_file_yields_changes_and_status_events_and_orders_stay(session_factory, factory, session, tmp_path, now):
    a, b, c = codes(3)
    import_enterprises(session_factory, write_xlsx(tmp_path / "1.xlsx", [
        row(1, a, "天津甲有限公司"), row(2, b, "天津乙有限公司"), row(3, c, "天津丙有限公司"),
    ]), job_id=None, now=now)
    moved = session.scalar(select(Enterprise).where(Enterprise.uscc == b))
    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now, enterprise=moved)
    session.commit()

    later = now + timedelta(days=30)
    result = import_enterprises(session_factory, write_xlsx(tmp_path / "2.xlsx", [
        row(1, a, "天津甲有限公司", address="天津市北辰区双街镇新址路1号", staff=40),
        row(2, b, "天津乙有限公司", status="迁出"),
        row(3, c, "天津丙有限公司"),
        row(4, make_uscc(999), "天津丁有限公司"),
    ]), job_id=None, now=later)

    assert (result.new, result.changed, result.unchanged, result.status_changes) == (1, 2, 1, 1)
    assert result.status_to == {"迁出": 1}
    with session_factory() as s:
        gone = s.scalar(select(Enterprise).where(Enterprise.uscc == b))
        assert gone.status == "迁出"
        status_event = s.scalar(select(EnterpriseEvent).where(EnterpriseEvent.enterprise_id == gone.id,
                                                              EnterpriseEvent.kind == EnterpriseEventKind.STATUS))
        assert (status_event.from_status, status_event.to_status) == ("存续", "迁出")
        assert status_event.created_at == later
        # The moved-out enterprise keeps its orders.
        kept = s.get(WorkOrder, order.id)
        assert kept is not None and kept.enterprise_id == gone.id
        changed = s.scalar(select(Enterprise).where(Enterprise.uscc == a))
        diff = s.scalar(select(EnterpriseEvent).where(EnterpriseEvent.enterprise_id == changed.id,
                                                      EnterpriseEvent.kind == EnterpriseEventKind.FIELDS))
        assert diff.changes == {"address": ["天津市北辰区天穆镇北仓道8号", "天津市北辰区双街镇新址路1号"],
                                "employees": [25, 40]}


def test_full_export_flags_missing_never_deletes_and_clears_on_return(session_factory, tmp_path, now):
    a, b, c = codes(3)
    all_three = write_xlsx(tmp_path / "all.xlsx", [row(1, a, "甲"), row(2, b, "乙"), row(3, c, "丙")])
    import_enterprises(session_factory, all_three, job_id=None, now=now)

    two = write_xlsx(tmp_path / "two.xlsx", [row(1, a, "甲"), row(2, b, "乙")])
    preview = import_enterprises(session_factory, two, job_id=None, now=now, full_export=True, dry_run=True)
    assert preview.missing == 1 and not by_code(session_factory, c).missing_from_full_export

    result = import_enterprises(session_factory, two, job_id=None, now=now, full_export=True)
    assert result.missing == 1
    flagged = by_code(session_factory, c)
    assert flagged.missing_from_full_export and flagged.missing_since == now
    assert count(session_factory, Enterprise) == 3
    # Not a full export: absence means nothing.
    assert import_enterprises(session_factory, two, job_id=None, now=now).missing == 0

    back = import_enterprises(session_factory, all_three, job_id=None, now=now, full_export=True)
    assert (back.changed, back.missing) == (1, 0)
    assert not by_code(session_factory, c).missing_from_full_export
    with session_factory() as s:
        kinds = list(s.scalars(select(EnterpriseEvent.kind).where(EnterpriseEvent.enterprise_id == flagged.id)
                               .order_by(EnterpriseEvent.id)))
    assert kinds == [EnterpriseEventKind.MISSING, EnterpriseEventKind.REAPPEARED]


def test_dry_run_counts_but_writes_nothing(session_factory, engine, tmp_path, now):
    path = write_xlsx(tmp_path / "名录.xlsx", messy_rows()["rows"])
    with Writes(engine) as writes:
        result = import_enterprises(session_factory, path, job_id=None, now=now, dry_run=True)
    assert (result.new, result.errors) == (5, 4)
    assert writes.statements == [] and count(session_factory, Enterprise) == 0


def test_blank_cells_never_erase_and_manual_fields_survive(session_factory, session, tmp_path, now):
    (a,) = codes(1)
    import_enterprises(session_factory, write_xlsx(tmp_path / "1.xlsx", [row(1, a, "甲公司", phone="022-1")]),
                       job_id=None, now=now)
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == a))
    enterprise.qualifications = ["高新技术企业"]
    session.commit()
    result = import_enterprises(session_factory, write_xlsx(tmp_path / "2.xlsx", [
        row(1, a, "甲公司", phone="", person="", founded="", staff="", capital="", status="停业"),
    ]), job_id=None, now=now)
    assert result.changed == 1
    after = by_code(session_factory, a)
    assert (after.contact_phone, after.legal_representative, after.employees) == ("022-1", "张三", 25)
    assert after.established_on == date(2020, 1, 2) and after.status == "停业"
    assert after.qualifications == ["高新技术企业"]


def test_identity_conflicts_are_row_errors(session_factory, tmp_path, now):
    a, b = codes(2)
    headers = [*HEADERS, "注册号"]
    import_enterprises(session_factory, write_xlsx(tmp_path / "1.xlsx", [
        [*row(1, a, "甲"), "120113000000001"], [*row(2, b, "乙"), "120113000000002"],
    ], headers=headers), job_id=None, now=now)
    result = import_enterprises(session_factory, write_xlsx(tmp_path / "2.xlsx", [
        [*row(1, a, "甲"), "120113000000002"],  # b's registration number on a's row
        [*row(2, make_uscc(777), "戊"), "120113000000001"],  # a's registration number under another code
    ], headers=headers), job_id=None, now=now)
    assert (result.errors, result.new, result.changed) == (2, 0, 0)


def test_size_band_and_abnormal_flag(session_factory, tmp_path, now):
    (a,) = codes(1)
    headers = [*HEADERS, "营业收入（万元）", "是否列入经营异常名录"]
    import_enterprises(session_factory, write_xlsx(tmp_path / "1.xlsx", [[*row(1, a, "甲", staff=350), 2500, "是"]],
                                                   headers=headers), job_id=None, now=now)
    first = by_code(session_factory, a)
    assert first.size_band == "中" and first.status_flags == [StatusFlag.ABNORMAL]
    import_enterprises(session_factory, write_xlsx(tmp_path / "2.xlsx", [[*row(1, a, "甲", staff=350), 2500, "否"]],
                                                   headers=headers), job_id=None, now=now)
    assert by_code(session_factory, a).status_flags == []


def test_a_file_with_only_a_header_is_refused(session_factory, tmp_path, now):
    with pytest.raises(ValidationFailed, match="没有数据行"):
        import_enterprises(session_factory, write_xlsx(tmp_path / "empty.xlsx", []), job_id=None, now=now)


def test_the_template_imports_its_own_examples(session_factory, tmp_path, now):
    from services.registry import excel_io
    from services.registry.importer import TEMPLATE_EXAMPLES, TEMPLATE_NOTES

    path = tmp_path / "模板.xlsx"
    excel_io.write_template(path, ENTERPRISE_SPEC, example_rows=TEMPLATE_EXAMPLES, notes=TEMPLATE_NOTES)
    result = import_enterprises(session_factory, path, job_id=None, now=now)
    assert (result.new, result.errors) == (2, 0)


def test_job_preview_confirm_run(session_factory, tmp_path, now):
    path = write_xlsx(tmp_path / "名录.xlsx", messy_rows()["rows"])
    with session_factory() as s:
        job_id = import_jobs.create_job(s, kind="enterprises", filename="名录.xlsx", stored_path=str(path),
                                        file_size=path.stat().st_size, actor=None, now=now).id
        s.commit()

    snapshot = import_jobs.claim_next(session_factory, worker="test", now=now)
    assert snapshot.id == job_id and snapshot.dry_run
    assert import_jobs.claim_next(session_factory, worker="other", now=now) is None
    status, summary = import_jobs.run_job(session_factory, snapshot, clock=lambda: now)
    assert status == ImportStatus.PREVIEWED and "预计新增 5" in summary
    assert count(session_factory, Enterprise) == 0
    with session_factory() as s:
        job = s.get(ImportJob, job_id)
        assert (job.new, job.errors, job.percent) == (5, 4, 100)
        import_jobs.confirm(s, job, full_export=False, now=now)
        s.commit()

    assert import_jobs.run_queued(session_factory, worker="test", clock=lambda: now).startswith(f"#{job_id} 已完成")
    assert count(session_factory, Enterprise) == 5
    with session_factory() as s:
        job = s.get(ImportJob, job_id)
        assert job.status == ImportStatus.DONE and job.finished_at == now
        # The preview's row errors were replaced by the real run's, not added to them.
        assert s.scalar(select(func.count(ImportRowError.id)).where(ImportRowError.job_id == job_id)) == 4


def test_a_job_with_a_bad_file_fails_with_its_message(session_factory, tmp_path, now):
    path = tmp_path / "坏.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with session_factory() as s:
        job_id = import_jobs.create_job(s, kind="enterprises", filename="坏.xlsx", stored_path=str(path),
                                        file_size=path.stat().st_size, actor=None, now=now).id
        s.commit()
    import_jobs.run_queued(session_factory, worker="t", clock=lambda: now)
    with session_factory() as s:
        job = s.get(ImportJob, job_id)
        assert job.status == ImportStatus.FAILED and "损坏" in job.error_message


def running_job(session_factory, now, *, claimed_by, lease_until, attempts=1, path="/nonexistent"):
    with session_factory() as s:
        job = import_jobs.create_job(s, kind="enterprises", filename="x.xlsx", stored_path=path,
                                     file_size=1, actor=None, now=now, status=ImportStatus.RUNNING)
        job.claimed_by, job.lease_until, job.attempts = claimed_by, lease_until, attempts
        job.heartbeat_at = now - timedelta(seconds=40)
        s.commit()
        return job.id


def test_a_job_whose_lease_passed_is_taken_over_promptly(session_factory, tmp_path, now):
    path = write_xlsx(tmp_path / "名录.xlsx", messy_rows()["rows"])
    held = running_job(session_factory, now, claimed_by="otherhost-4242-abcdef", lease_until=now + timedelta(seconds=5))
    assert import_jobs.claim_next(session_factory, worker="thishost-1-aaaaaa", now=now) is None  # still held
    with session_factory() as s:
        s.get(ImportJob, held).stored_path = str(path)
        s.commit()
    later = now + timedelta(seconds=6)  # 5 s after the lease passed, not 10 minutes
    snapshot = import_jobs.claim_next(session_factory, worker="thishost-1-aaaaaa", now=later)
    assert snapshot is not None and snapshot.id == held and snapshot.worker == "thishost-1-aaaaaa"
    with session_factory() as s:
        job = s.get(ImportJob, held)
        assert (job.status, job.attempts, job.lease_until) == (ImportStatus.RUNNING, 2, later + import_jobs.LEASE)
    # The old holder comes back to life: it may not record anything.
    stale = import_jobs.JobSnapshot(held, "enterprises", "x.xlsx", str(path), True, False, None, 1,
                                    "otherhost-4242-abcdef")
    assert import_jobs.run_job(session_factory, stale, clock=lambda: later) == ("lost", "")
    assert import_jobs.run_job(session_factory, snapshot, clock=lambda: later)[0] == ImportStatus.PREVIEWED


def test_a_job_taken_over_too_often_fails_and_its_file_goes(session_factory, tmp_path, now):
    stored = tmp_path / "imports" / ("a" * 32 + ".xlsx")
    stored.parent.mkdir()
    stored.write_bytes(b"x")
    job_id = running_job(session_factory, now, claimed_by="otherhost-4242-abcdef", lease_until=now - timedelta(seconds=1),
                         attempts=import_jobs.MAX_ATTEMPTS, path=str(stored))
    assert import_jobs.claim_next(session_factory, worker="t", now=now) is None
    with session_factory() as s:
        job = s.get(ImportJob, job_id)
        assert job.status == ImportStatus.FAILED and "多次意外中断" in job.error_message
    assert not stored.exists()


def test_a_job_of_a_dead_process_on_this_machine_is_taken_over_at_once(session_factory, now):
    import subprocess
    import sys

    from jobs import worker_id

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = worker_id().rsplit("-", 2)[0]
    job_id = running_job(session_factory, now, claimed_by=f"{host}-{int(gone.stdout)}-abcdef",
                         lease_until=now + timedelta(seconds=25))
    alive = running_job(session_factory, now, claimed_by=f"{host}-1-abcdef",  # pid 1 runs
                        lease_until=now + timedelta(seconds=25))
    assert import_jobs.recover(session_factory, worker=worker_id(), now=now) == [job_id]
    with session_factory() as s:
        assert s.get(ImportJob, job_id).status == ImportStatus.QUEUED
        assert s.get(ImportJob, alive).status == ImportStatus.RUNNING


def test_the_lease_is_renewed_while_the_runner_works(session_factory, now):
    from datetime import UTC, datetime

    job_id = running_job(session_factory, now, claimed_by="w-1-a", lease_until=now + timedelta(seconds=1))
    snapshot = import_jobs.JobSnapshot(job_id, "enterprises", "x.xlsx", "/nonexistent", True, False, None, 1, "w-1-a")
    clock = [now]
    with import_jobs.LeaseKeeper(session_factory, snapshot, clock=lambda: clock[0], interval=0.05) as keeper:
        clock[0] = now + timedelta(seconds=10)
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while keeper.renewals < 2 and datetime.now(UTC) < deadline:  # the first is on entering
            pass
        with session_factory() as s:
            assert s.get(ImportJob, job_id).lease_until >= now + timedelta(seconds=10) + import_jobs.LEASE
            s.get(ImportJob, job_id).claimed_by = "someone-else"
            s.commit()
        assert keeper.lost.wait(5)
    with pytest.raises(import_jobs.LeaseLost):
        keeper.check()


def test_new_enterprises_are_placed_by_the_address_rules_and_staffed(session_factory, factory, session, tmp_path, now):
    from services.grid.rules import seed_address_rules

    seed_address_rules(session)
    staff = factory.person(Role.SERVICE_STAFF, zone=factory.zone("tianmu"), name="天穆服务员")
    session.commit()
    a, b = codes(2)
    result = import_enterprises(session_factory, write_xlsx(tmp_path / "1.xlsx", [
        row(1, a, "天穆的公司", address="天津市北辰区天穆镇北仓道8号"),
        row(2, b, "外地的公司", address="天津市西青区某某路1号"),
    ]), job_id=None, now=now)
    assert (result.new, result.unassigned) == (2, 1)
    placed, waiting = by_code(session_factory, a), by_code(session_factory, b)
    assert placed.zone_id == staff.zone_id and placed.service_staff_id == staff.id
    assert waiting.zone_id is None and waiting.service_staff_id is None


def snapshot(session_factory):
    """Everything an import writes, comparable across runs (ids aside)."""
    with session_factory() as s:
        enterprises = sorted(
            (e.uscc or "", e.reg_no or "", e.name, e.status, e.entity_type, e.address, e.established_on,
             e.registered_capital, e.employees, e.industry_code, e.size_band, e.zone_id, e.service_staff_id,
             e.import_fingerprint, e.missing_from_full_export, tuple(e.status_flags))
            for e in s.scalars(select(Enterprise)))
        events = sorted((e.kind, e.from_status, e.to_status) for e in s.scalars(select(EnterpriseEvent)))
    return enterprises, events


def test_small_chunks_give_the_same_result_as_one_chunk(session_factory, engine, factory, session, tmp_path, now):
    """Chunks are checked, applied and written one step apart (the writing on a thread of its own):
    duplicates across chunks, errors, staffing loads and the re-import must not depend on that."""
    from services.grid.rules import seed_address_rules

    seed_address_rules(session)
    tianmu = factory.zone("tianmu")
    first, second = (factory.person(Role.SERVICE_STAFF, zone=tianmu, name=n) for n in ("甲服务员", "乙服务员"))
    session.commit()
    data = messy_rows()
    more = [row(10 + i, code, f"天穆第{i}公司") for i, code in enumerate(codes(7, start=3000))]
    path = write_xlsx(tmp_path / "名录.xlsx", data["rows"] + more + [data["rows"][0]])  # a duplicate at the end

    results = {}
    for chunk_rows in (10_000, 2):
        with session_factory() as s:
            s.execute(EnterpriseEvent.__table__.delete())
            s.execute(Enterprise.__table__.delete())
            s.commit()
        result = import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=chunk_rows)
        results[chunk_rows] = ((result.total, result.new, result.changed, result.unchanged, result.errors,
                                result.unassigned), snapshot(session_factory))
    assert results[2] == results[10_000]
    assert results[2][0] == (17, 12, 0, 0, 5, 0)
    with session_factory() as s:
        loads = Counter(s.scalars(select(Enterprise.service_staff_id).where(Enterprise.zone_id == tianmu.id)))
    assert sorted(loads) == sorted([first.id, second.id]) and sum(loads.values()) == 11
    assert min(loads.values()) >= 5  # balanced by count across chunks

    with Writes(engine) as writes:
        again = import_enterprises(session_factory, path, job_id=None, now=now + timedelta(days=1), chunk_rows=2)
    assert (again.new, again.changed, again.unchanged, again.errors) == (0, 0, 12, 5)
    assert writes.statements == []

    moved = row(2, data["codes"][1], "天津天穆食品有限公司", status="迁出", founded="2019/3/5", capital="50万元人民币")
    newer = write_xlsx(tmp_path / "新名录.xlsx", [data["rows"][0], moved, *more[1:]])
    result = import_enterprises(session_factory, newer, job_id=None, now=now, chunk_rows=2, full_export=True)
    assert (result.changed, result.unchanged, result.status_changes, result.errors, result.missing) == (1, 7, 1, 0, 4)
    assert by_code(session_factory, data["codes"][1]).status == "迁出"


def test_a_failure_after_some_chunks_keeps_them_and_the_next_import_works(session_factory, tmp_path, now):
    rows = [row(i, code, f"第{i}公司") for i, code in enumerate(codes(9, start=5000))]
    path = write_xlsx(tmp_path / "名录.xlsx", rows)

    class Stop(Exception):
        pass

    def stop_after_first_chunk(counters):
        raise Stop

    with pytest.raises(Stop):
        import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3,
                           progress_cb=stop_after_first_chunk)
    assert count(session_factory, Enterprise) == 3  # the chunk committed before the failure stays

    result = import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3)
    assert (result.new, result.unchanged) == (6, 3)
    assert count(session_factory, Enterprise) == 9


def test_an_enterprise_added_meanwhile_fails_its_chunk_cleanly(session_factory, tmp_path, now):
    """Someone adds one of the file's enterprises (console) after its chunk was looked up: the
    writer thread's unique violation comes back as a clear error, that chunk is rolled back whole,
    the chunks before it stay, and importing the file again finishes the job."""
    file_codes = codes(9, start=7000)
    path = write_xlsx(tmp_path / "名录.xlsx", [row(i, code, f"第{i}公司") for i, code in enumerate(file_codes, 1)])
    added = []

    def add_one_of_the_last_chunk(counters):
        if not added:  # the first chunk is written; the last one has been looked up already
            with session_factory() as s:
                s.add(Enterprise(name="控制台新增的企业", uscc=file_codes[7], entity_type=EntityType.ENTERPRISE))
                s.commit()
            added.append(file_codes[7])

    with pytest.raises(ValidationFailed, match="名录被同时修改"):
        import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3,
                           progress_cb=add_one_of_the_last_chunk)
    assert count(session_factory, Enterprise) == 6 + 1  # two whole chunks and the one added meanwhile
    assert by_code(session_factory, file_codes[6]) is None  # its chunk-mates were not half-written

    again = import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3)
    assert (again.new, again.changed, again.unchanged, again.errors) == (2, 1, 6, 0)
    assert by_code(session_factory, file_codes[7]).name == "第8公司"
    assert count(session_factory, Enterprise) == 9


def test_a_file_broken_halfway_stops_cleanly_between_chunks(session_factory, tmp_path, now):
    """Bytes that are not UTF-8 far into a csv: the chunks before stay whole, the ones in flight
    are rolled back (or never written), and the connections are fine afterwards."""
    good = [row(i, code, f"第{i}公司") for i, code in enumerate(codes(1200, start=20000))]
    path = write_csv(tmp_path / "名录.csv", good, encoding="utf-8")
    path.write_bytes(path.read_bytes() + b"1201,\xff\xfe\xfa,\xc3\x28\n")

    with pytest.raises(ValidationFailed, match="编码无法识别"):
        import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=100)
    kept = count(session_factory, Enterprise)
    assert kept % 100 == 0 and 0 < kept < 1200

    again = import_enterprises(session_factory, write_csv(tmp_path / "好.csv", good, encoding="utf-8"),
                               job_id=None, now=now, chunk_rows=100)
    assert (again.new, again.unchanged) == (1200 - kept, kept)


def test_lookups_do_not_depend_on_planner_statistics(session_factory, engine, tmp_path, now):
    """Statistics gathered while the codes were mostly NULL must not turn each chunk's lookup into
    a table scan (SQLite's INDEXED BY, PostgreSQL's LATERAL probe); the results stay the same."""
    from sqlalchemy import text

    data = messy_rows()
    old_shops = [[i, f"12011360{i:07d}", f"老个体户{i}", "个体工商户"] + row(0, "", "")[4:]
                 for i in range(40)]  # registration numbers only: uscc is NULL
    import_enterprises(session_factory, write_xlsx(tmp_path / "老.xlsx", old_shops), job_id=None, now=now)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    try:
        path = write_xlsx(tmp_path / "名录.xlsx", data["rows"])
        first = import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3)
        with Writes(engine) as writes:
            again = import_enterprises(session_factory, path, job_id=None, now=now, chunk_rows=3)
    finally:
        if engine.dialect.name == "sqlite":  # the test database is shared: leave no statistics behind
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM sqlite_stat1"))
    assert (first.new, first.errors, again.unchanged, again.errors) == (5, 4, 5, 4)
    assert writes.statements == []
