"""xlsx exports: Chinese headers, the console list's filters, scope by role, text never a formula."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models import Role
from services import xlsx_export
from services.orders.operations import NewOrder, create_order
from tests.grid.conftest import login

LEDGER_HEADERS = [c.header for c in xlsx_export.LEDGER_COLUMNS]
ENTERPRISE_HEADERS = [c.header for c in xlsx_export.ENTERPRISE_COLUMNS]


def read(response, header_row: int):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == xlsx_export.XLSX_MIME
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    return sheet, rows[header_row - 1], rows[header_row:]


@pytest.fixture
def orders(factory, session, grid, now):
    tianmu_e = factory.enterprise(zone=grid.tianmu, staff=grid.staff, name="=HYPERLINK(\"http://evil\")有限公司")
    beicang_e = factory.enterprise(zone=grid.beicang, staff=grid.other_staff, name="北仓物流有限公司")
    made = [
        create_order(factory.ctx(grid.staff, now), NewOrder(enterprise_id=tianmu_e.id, title="=1+1 路灯损坏",
                                                            content="厂区门前路灯损坏多日，夜间不安全")),
        create_order(factory.ctx(grid.staff, now), NewOrder(enterprise_id=tianmu_e.id,
                                                            content="申请协调办理排水许可，材料已备齐", level=2)),
        create_order(factory.ctx(grid.other_staff, now), NewOrder(enterprise_id=beicang_e.id,
                                                                  content="仓库周边道路积水严重需要排水")),
    ]
    session.commit()
    return made


def test_ledger_follows_the_list_filters(client, grid, orders):
    login(client, "dispatcher")
    sheet, header, rows = read(client.get(f"/grid/exports/orders.xlsx?zone={grid.tianmu.id}"), 3)
    assert header == LEDGER_HEADERS
    assert sorted(r[0] for r in rows) == sorted(o.number for o in orders[:2])
    assert "片区：天穆镇" in sheet["A2"].value
    first = next(r for r in rows if r[0] == orders[0].number)
    assert first[LEDGER_HEADERS.index("片区")] == "天穆镇"
    assert first[LEDGER_HEADERS.index("当前状态")] == "办理中"
    _, _, everything = read(client.get("/grid/exports/orders.xlsx"), 3)
    assert len(everything) == 3
    _, _, level2 = read(client.get("/grid/exports/orders.xlsx?level=2"), 3)
    assert [r[0] for r in level2] == [orders[1].number]


def test_ledger_is_scoped_like_the_list(client, grid, orders):
    login(client, "beicang")
    _, _, rows = read(client.get("/grid/exports/orders.xlsx"), 3)
    assert [r[0] for r in rows] == [orders[2].number]


def test_text_that_looks_like_a_formula_stays_text(client, grid, orders):
    login(client, "staff")
    response = client.get("/grid/exports/orders.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [c for row in sheet.iter_rows(min_row=4) for c in row]
    title = next(c for c in cells if c.value == "=1+1 路灯损坏")
    assert title.data_type == "s"
    name = next(c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"))
    assert name.data_type == "s"


def test_order_list_links_to_the_ledger_with_its_filters(client, grid, orders):
    login(client, "dispatcher")
    html = client.get(f"/orders?zone={grid.tianmu.id}&state=processing").get_data(as_text=True)
    assert "导出台账" in html
    assert "/grid/exports/orders.xlsx?" in html and f"zone={grid.tianmu.id}" in html and "state=processing" in html


def test_enterprise_list_export(client, factory, session, grid):
    factory.enterprise(zone=grid.tianmu, staff=grid.staff, name="天穆甲公司", address="天穆镇一号")
    factory.enterprise(zone=grid.tianmu, staff=grid.staff2, name="天穆乙公司", status="注销")
    factory.enterprise(zone=grid.beicang, staff=grid.other_staff, name="北仓丙公司")
    lost = factory.enterprise(name="无片区丁公司")
    lost.zone_id = None
    session.commit()
    login(client, "admin")
    _, header, rows = read(client.get(f"/grid/exports/enterprises.xlsx?zone={grid.tianmu.id}"), 3)
    assert header == ENTERPRISE_HEADERS
    assert sorted(r[2] for r in rows) == ["天穆乙公司", "天穆甲公司"]
    _, _, cancelled = read(client.get("/grid/exports/enterprises.xlsx?status=注销"), 3)
    assert [r[2] for r in cancelled] == ["天穆乙公司"]
    _, _, unassigned = read(client.get("/grid/exports/enterprises.xlsx?zone=none"), 3)
    assert [(r[2], r[8]) for r in unassigned] == [("无片区丁公司", "未分配")]
    # A zone's staff member sees their zone only; a chief helper may not export the registry.
    login(client, "beicang")
    _, _, own = read(client.get("/grid/exports/enterprises.xlsx"), 3)
    assert [r[2] for r in own] == ["北仓丙公司"]


def test_contact_roster_page_and_xlsx(client, factory, session, grid):
    helper = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="孙帮办",
                            title="副局长", stages=[factory.stage("startup"), factory.stage("operation")])
    helper.phone = "022-26390000"
    factory.person(Role.DEPT_LEADER, department=factory.department("rsj"), name="钱局长")
    session.commit()
    login(client, "staff")
    html = client.get("/grid/contacts").get_data(as_text=True)
    assert "孙帮办" in html and "企业开办、生产经营" in html and "022-26390000" in html and "@media print" in html
    _, header, rows = read(client.get("/grid/contacts.xlsx"), 3)
    assert header == [c.header for c in xlsx_export.CONTACT_COLUMNS]
    assert ["人社局", "孙帮办", "首席帮办", "副局长", "企业开办、生产经营", "022-26390000"] in rows
    assert rows[0][1] == "孙帮办"  # the chief helper before the department leader


def test_ledger_has_a_column_per_form_field_and_for_removed_keys_in_the_data(client, factory, session, grid, now):
    from tests.studio.test_form_fields import domain_id, set_form

    set_form(session, [{"key": "employees", "label": "涉及人数", "type": "number"},
                       {"key": "kind", "label": "问题类别", "type": "choice", "options": ["用工", "社保"]}])
    enterprise = factory.enterprise(zone=grid.tianmu, staff=grid.staff, name="天穆机械有限公司")
    order = create_order(factory.ctx(grid.staff, now), NewOrder(
        enterprise_id=enterprise.id, content="厂区门前道路破损需要修复", domain_id=domain_id(session),
        fields={"employees": 40, "kind": "社保"}))
    set_form(session, [{"key": "employees", "label": "涉及人数", "type": "number"}])  # 问题类别 removed
    session.commit()
    login(client, "dispatcher")
    _, header, rows = read(client.get("/grid/exports/orders.xlsx"), 3)
    assert header[:len(LEDGER_HEADERS)] == LEDGER_HEADERS and header[len(LEDGER_HEADERS):] == ["涉及人数", "kind"]
    row = next(r for r in rows if r[0] == order.number)
    assert row[header.index("涉及人数")] == 40 and row[header.index("kind")] == "社保"
