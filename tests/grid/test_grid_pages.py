"""The /grid console pages: rules editor, 未分配 queue, staff within a zone, hand-over, posters."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from models import AuditLog, Enterprise, Person, ZoneAddressRule
from services.grid import rules as zone_rules
from tests.grid.conftest import login, page_token


def settle(session):
    session.commit()


def fresh(session):
    session.commit()
    session.expire_all()


def test_index_and_tabs_by_role(client, session, grid):
    login(client, "zoneadmin")
    html = client.get("/grid/").get_data(as_text=True)
    assert "/grid/rules" in html and "/grid/zones" in html and "/grid/people" not in html
    login(client, "staff")
    html = client.get("/grid/").get_data(as_text=True)
    assert "/grid/rules" not in html and "/grid/contacts" in html
    assert client.get("/grid/rules").status_code == 403
    assert client.get("/grid/zones").status_code == 403


def test_rules_editor_zone_admin_edits_own_zone_only(client, session, grid):
    zone_rules.seed_address_rules(session)
    beicang_rule = session.scalar(select(ZoneAddressRule).where(ZoneAddressRule.pattern == "北仓"))
    settle(session)
    login(client, "zoneadmin")
    page = client.get("/grid/rules?address=天津市北辰区天穆镇北仓道8号").get_data(as_text=True)
    assert "匹配到 <strong>天穆镇</strong>" in page
    token = page_token(client, "/grid/rules")
    created = client.post("/grid/rules", data={"csrf_token": token, "zone_id": grid.tianmu.id, "pattern": "北仓道",
                                               "kind": "road", "priority": "0"})
    assert created.status_code == 302
    refused = client.post(f"/grid/rules/{beicang_rule.id}", data={"csrf_token": token, "pattern": "北仓镇区",
                                                                   "kind": "town", "priority": "0", "active": "1"})
    assert refused.status_code == 403
    other_zone = client.post("/grid/rules", data={"csrf_token": token, "zone_id": grid.beicang.id, "pattern": "宜兴",
                                                  "kind": "place"})
    assert other_zone.status_code == 403
    invalid = client.post("/grid/rules", data={"csrf_token": token, "zone_id": grid.tianmu.id, "pattern": "天"})
    assert invalid.status_code == 422 and "至少 2 个字" in invalid.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(ZoneAddressRule.zone_id).where(ZoneAddressRule.pattern == "北仓道")) == grid.tianmu.id
    assert session.get(ZoneAddressRule, beicang_rule.id).pattern == "北仓"
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "grid.address_rule.create")) == 1


def test_unassigned_queue_bulk_assign(client, session, factory, grid):
    queue = [factory.enterprise(name=f"待分配{i}有限公司", address="天津市北辰区双街镇双口村") for i in range(3)]
    for e in queue:
        e.zone_id = None
    zone_rules.seed_address_rules(session)
    settle(session)
    login(client, "dispatcher")
    html = client.get("/grid/unassigned").get_data(as_text=True)
    assert "待分配0有限公司" in html and "同时匹配 双街镇、双口镇" in html
    mars = factory.enterprise(name="火星科技有限公司", address="火星基地一号")
    mars.zone_id = None
    settle(session)
    html = client.get("/grid/unassigned").get_data(as_text=True)
    assert re.search(r"火星基地一号</td>.*?住所不在北辰区", html, re.S)
    token = page_token(client, "/grid/unassigned")
    response = client.post("/grid/unassigned/assign", data={
        "csrf_token": token, "zone_id": grid.tianmu.id, "enterprise_ids": [queue[0].id, queue[1].id]})
    assert response.status_code == 302
    fresh(session)
    placed = [session.get(Enterprise, e.id) for e in queue]
    assert [e.zone_id for e in placed] == [grid.tianmu.id, grid.tianmu.id, None]
    assert {placed[0].service_staff_id, placed[1].service_staff_id} == {grid.staff.id, grid.staff2.id}
    assert zone_rules.count_violations(session) == 0
    beicang_id, last_id = grid.beicang.id, queue[2].id  # read now: after settle a lazy load would lock SQLite
    settle(session)
    # A zone admin may place into their own zone only.
    login(client, "zoneadmin")
    token = page_token(client, "/grid/unassigned")
    refused = client.post("/grid/unassigned/assign", data={
        "csrf_token": token, "zone_id": beicang_id, "enterprise_ids": [last_id]})
    assert refused.status_code == 403


def test_zone_staff_page_assign_fill_and_rules(client, session, factory, grid):
    gone = factory.person(name="已离职", zone=grid.tianmu, active=False)
    orphans = [factory.enterprise(zone=grid.tianmu, staff=gone) for _ in range(2)]
    bare = factory.enterprise(zone=grid.tianmu)
    bare.service_staff_id = None
    settle(session)
    login(client, "zoneadmin")
    assert client.get("/grid/zones").headers["Location"].endswith(f"/grid/zones/{grid.tianmu.id}")
    html = client.get(f"/grid/zones/{grid.tianmu.id}").get_data(as_text=True)
    assert "有 <strong>3</strong> 家企业未配备有效的为企服务人员" in html and "已离职" in html
    assert client.get(f"/grid/zones/{grid.beicang.id}").status_code == 403

    token = page_token(client, f"/grid/zones/{grid.tianmu.id}")
    client.post(f"/grid/zones/{grid.tianmu.id}/assign", data={
        "csrf_token": token, "person_id": grid.staff2.id, "enterprise_ids": [orphans[0].id]})
    client.post(f"/grid/zones/{grid.tianmu.id}/fill", data={"csrf_token": token})
    rule = client.post(f"/grid/zones/{grid.tianmu.id}/rules", data={
        "csrf_token": token, "person_id": grid.staff.id, "target": "address", "pattern": "京津路", "priority": "1"})
    assert rule.status_code == 302
    cross = client.post(f"/grid/zones/{grid.tianmu.id}/assign", data={
        "csrf_token": token, "person_id": grid.other_staff.id, "enterprise_ids": [orphans[0].id]})
    assert cross.status_code == 302
    fresh(session)
    assert session.get(Enterprise, orphans[0].id).service_staff_id == grid.staff2.id
    assert zone_rules.count_violations(session, grid.tianmu.id) == 0
    settle(session)
    assert "所有企业均已配备" in client.get(f"/grid/zones/{grid.tianmu.id}").get_data(as_text=True)


def test_hand_over_when_a_staff_member_leaves(client, session, factory, grid):
    mine = [factory.enterprise(zone=grid.tianmu, staff=grid.staff) for _ in range(4)]
    settle(session)
    login(client, "admin")
    page = client.get(f"/grid/zones/{grid.tianmu.id}/leave/{grid.staff.id}").get_data(as_text=True)
    assert 'id="leaver-count">4<' in page
    token = page_token(client, f"/grid/zones/{grid.tianmu.id}/leave/{grid.staff.id}")
    response = client.post(f"/grid/zones/{grid.tianmu.id}/leave/{grid.staff.id}", data={
        "csrf_token": token, "strategy": "person", "to_person_id": grid.staff2.id, "deactivate": "1"})
    assert response.status_code == 302
    fresh(session)
    assert {session.get(Enterprise, e.id).service_staff_id for e in mine} == {grid.staff2.id}
    assert session.get(Person, grid.staff.id).active is False
    assert zone_rules.count_violations(session) == 0
    actions = set(session.scalars(select(AuditLog.action)))
    assert {"grid.reassign", "person.deactivate"} <= actions
    zone_id, staff2_id = grid.tianmu.id, grid.staff2.id
    settle(session)
    # The one left has nobody to hand over to: refused, nothing changed.
    login(client, "zoneadmin")
    token = page_token(client, f"/grid/zones/{zone_id}/leave/{staff2_id}")
    refused = client.post(f"/grid/zones/{zone_id}/leave/{staff2_id}", data={"csrf_token": token, "strategy": "balance"})
    assert refused.status_code == 422 and "没有其他在岗" in refused.get_data(as_text=True)
    fresh(session)
    assert {session.get(Enterprise, e.id).service_staff_id for e in mine} == {staff2_id}
    settle(session)


def test_posters_show_the_url_and_an_svg(client, session, grid):
    login(client, "staff")
    zone_page = client.get(f"/grid/posters/zone/{grid.tianmu.id}").get_data(as_text=True)
    assert "http://127.0.0.1:5000/contact" in zone_page and "http://127.0.0.1:5000/contact/request" in zone_page
    assert zone_page.count("<svg") == 2 and "<path" in zone_page and "王服务" in zone_page and "刘服务" in zone_page
    own = client.get(f"/grid/posters/staff/{grid.staff.id}").get_data(as_text=True)
    assert "王服务" in own and "13500000001" in own and "刘服务" not in own and "@media print" in own
    assert client.get(f"/grid/posters/zone/{grid.beicang.id}").status_code == 403
    svg = client.get("/grid/qr/contact.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    assert client.get("/grid/qr/other.svg").status_code == 404
    index = client.get("/grid/posters").get_data(as_text=True)
    assert "天穆镇" in index and "北仓镇" not in index


def test_every_page_renders_for_a_sysadmin(client, session, factory, grid):
    for i in range(110):  # more than one page of each
        e = factory.enterprise(zone=grid.tianmu, staff=grid.staff, name=f"分页企业{i:03d}")
        if i % 2:
            e.zone_id = None
    zone_rules.seed_address_rules(session)
    zone_id, staff_id = grid.tianmu.id, grid.staff.id
    settle(session)
    login(client, "admin")
    for path in ("/grid/", "/grid/rules", "/grid/rules?address=北辰区某地", "/grid/unassigned",
                 "/grid/unassigned?page=2", "/grid/zones", f"/grid/zones/{zone_id}", f"/grid/zones/{zone_id}?staff=none",
                 f"/grid/zones/{zone_id}?staff={staff_id}&q=分页", f"/grid/zones/{zone_id}/leave/{staff_id}",
                 "/grid/people", "/grid/contacts", "/grid/posters", "/grid/requests", "/contact", "/contact/request"):
        response = client.get(path)
        assert response.status_code == 200, path
    second = client.get(f"/grid/zones/{zone_id}?page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in second and "上一页" in second
    assert "第 1 / 2 页" in client.get("/grid/unassigned").get_data(as_text=True)


def test_index_shows_each_zones_staffing_in_one_table(client, session, grid, factory):
    """Enterprises in business, staff, the heaviest load and the enterprises lacking a valid
    service staff member, per zone, on the landing page."""
    zones = [grid.tianmu, grid.beicang]
    for i in range(3):
        factory.enterprise(name=f"王服务的企业{i}", zone=grid.tianmu, staff=grid.staff)
    factory.enterprise(name="刘服务的企业", zone=grid.tianmu, staff=grid.staff2)
    factory.enterprise(name="无人服务的企业", zone=grid.tianmu, staff=None)
    factory.enterprise(name="已注销的企业", zone=grid.tianmu, staff=grid.staff, status="注销")
    factory.enterprise(name="北仓的企业", zone=grid.beicang, staff=grid.other_staff)
    settle(session)

    tianmu, beicang = zone_rules.zones_overview(session, zones)
    assert (tianmu.enterprises, tianmu.staff, tianmu.busiest, tianmu.without_staff) == (5, 2, 3, 1)
    assert tianmu.per_staff == 2.5
    assert (beicang.enterprises, beicang.staff, beicang.busiest, beicang.without_staff) == (1, 1, 1, 0)
    settle(session)  # SQLite: end the read transaction before the request writes its session

    login(client, "admin")
    html = client.get("/grid/").get_data(as_text=True)
    assert 'id="zone-overview"' in html and 'data-zone="天穆镇"' in html
    assert 'id="without-staff-count">1<' in html.replace(" warn", "")


def test_redirect_targets_stay_on_the_desk(client, session, factory, grid):
    """``back`` / ``next`` from a form never send a person to another site, nor break the response."""
    settle(session)
    login(client, "zoneadmin")
    token = page_token(client, f"/grid/zones/{grid.tianmu.id}")
    for back in ("https://evil.example/phish", "//evil.example", "/\\evil.example", "/grid/\r\nSet-Cookie: x=1",
                 "javascript:alert(1)"):
        response = client.post(f"/grid/zones/{grid.tianmu.id}/assign",
                               data={"csrf_token": token, "back": back, "person_id": ""})
        assert response.status_code == 302, back
        location = response.headers["Location"]
        assert "evil" not in location and "\n" not in location and location.endswith(f"/grid/zones/{grid.tianmu.id}")
    kept = client.post(f"/grid/zones/{grid.tianmu.id}/assign",
                       data={"csrf_token": token, "back": f"/grid/zones/{grid.tianmu.id}?page=2", "person_id": ""})
    assert kept.headers["Location"].endswith(f"/grid/zones/{grid.tianmu.id}?page=2")


def test_a_redirect_the_view_forgot_to_check_is_caught(app):
    """The app-wide net: a view redirecting to a foreign host lands on the home page instead."""
    from flask import redirect

    from application import create_app

    fresh = create_app(settings=app.extensions["settings"])
    fresh.add_url_rule("/_test/forgetful", "forgetful", lambda: redirect("https://evil.example/x"))
    response = fresh.test_client().get("/_test/forgetful")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    fresh.extensions["db_engine"].dispose()
