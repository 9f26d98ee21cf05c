"""Zone by address, staff within a zone, bulk reassignment, and the grid's invariant."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditLog, Enterprise, Role, StaffAssignmentRule, ZoneAddressRule
from services.admin.operations import AdminContext
from services.errors import PermissionDenied, ValidationFailed
from services.grid import rules as zr


@pytest.fixture
def rules(session):
    zr.seed_address_rules(session)
    return session


def ac(session, actor, now):
    return AdminContext(session=session, actor=actor, now=now, ip="10.0.0.1")


def zone_id(factory, code):
    return factory.zone(code).id


# --- zone by address ---------------------------------------------------------------------------
def test_seed_is_idempotent_and_keeps_edits(rules, factory):
    first = rules.scalar(select(func.count(ZoneAddressRule.id)))
    assert first >= 17 * 2
    assert zr.seed_address_rules(rules) == 0
    rule = rules.scalar(select(ZoneAddressRule).where(ZoneAddressRule.pattern == "天穆"))
    rule.active = False
    rules.flush()
    assert zr.seed_address_rules(rules) == 0
    assert rules.scalar(select(func.count(ZoneAddressRule.id))) == first
    assert rule.active is False


def test_zone_from_address_with_full_width_and_spaces(rules, factory):
    assert zr.assign_zone(rules, "天津市北辰区 天穆镇　北仓道８号") == zone_id(factory, "tianmu")
    assert zr.assign_zone(rules, "天津市北辰区北辰经济技术开发区高新大道") == zone_id(factory, "kaifaqu")
    assert zr.assign_zone(rules, "天津市河西区友谊路") is None
    assert zr.assign_zone(rules, "") is None


def test_more_specific_match_wins(rules, factory, now):
    admin = factory.person(Role.SYSADMIN)
    # A road named after one town but lying in another zone: the longer fragment decides.
    zr.save_address_rule(ac(rules, admin, now), None,
                         {"zone_id": zone_id(factory, "jixianli"), "pattern": "天穆路", "kind": "road"})
    assert zr.assign_zone(rules, "天津市北辰区天穆路12号") == zone_id(factory, "jixianli")
    assert zr.assign_zone(rules, "天津市北辰区天穆镇天穆村") == zone_id(factory, "tianmu")
    # Priority beats length.
    zr.save_address_rule(ac(rules, admin, now), None,
                         {"zone_id": zone_id(factory, "beicang"), "pattern": "北仓道", "kind": "road", "priority": "5"})
    assert zr.assign_zone(rules, "天津市北辰区天穆镇北仓道8号") == zone_id(factory, "beicang")


def test_tie_between_zones_is_unassigned(rules, factory):
    match = zr.explain_zone(rules, "天津市北辰区双街镇双口村")  # 双街镇 and 双口村: equally specific
    assert match.zone_id is None and match.ambiguous
    assert set(match.candidates) == {zone_id(factory, "shuangjie"), zone_id(factory, "shuangkou")}
    assert zr.assign_zone(rules, "天津市北辰区双街镇双口村") is None


def test_disabled_rules_do_not_match_and_zone_admin_is_limited(rules, factory, now):
    zone_admin = factory.person(Role.ZONE_ADMIN, zone=factory.zone("tianmu"))
    rule = rules.scalar(select(ZoneAddressRule).where(ZoneAddressRule.pattern == "韩家墅"))
    with pytest.raises(PermissionDenied):
        zr.save_address_rule(ac(rules, zone_admin, now), rule.id, {"pattern": "韩家墅", "kind": "place"})
    admin = factory.person(Role.SYSADMIN)
    zr.save_address_rule(ac(rules, admin, now), rule.id, {"pattern": "韩家墅", "kind": "place", "active": ""})
    assert zr.assign_zone(rules, "北辰区韩家墅村") is None
    with pytest.raises(ValidationFailed):
        zr.save_address_rule(ac(rules, zone_admin, now), None, {"zone_id": zone_admin.zone_id, "pattern": "天穆"})
    zr.save_address_rule(ac(rules, zone_admin, now), None, {"zone_id": zone_admin.zone_id, "pattern": "柳滩"})
    assert zr.assign_zone(rules, "北辰区柳滩") == zone_admin.zone_id
    assert rules.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("grid.address_rule.%"))) == 2


# --- staff within a zone -----------------------------------------------------------------------
def test_balanced_by_count(session, factory):
    tianmu = factory.zone("tianmu")
    a = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    b = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    factory.person(Role.ZONE_ADMIN, zone=tianmu)  # not a service staff member
    factory.person(Role.SERVICE_STAFF, zone=tianmu, active=False)
    for _ in range(3):
        factory.enterprise(zone=tianmu, staff=a)
    factory.enterprise(zone=tianmu, staff=b)
    new = [factory.enterprise(zone=tianmu) for _ in range(4)]
    picked = [zr.assign_staff(session, e) for e in new]
    session.flush()
    assert picked == [b.id, b.id, a.id, b.id]  # 3:1 → 3:3 → 4:3 → 4:4 … b is lighter
    assert all(e.service_staff_id in (a.id, b.id) for e in new)
    assert zr.count_violations(session, tianmu.id) == 0


def test_gone_enterprises_do_not_weigh(session, factory):
    tianmu = factory.zone("tianmu")
    a = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    b = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    for _ in range(3):
        factory.enterprise(zone=tianmu, staff=a, status="注销")
    factory.enterprise(zone=tianmu, staff=b)
    assert zr.assign_staff(session, factory.enterprise(zone=tianmu)) == a.id


def test_staff_rules_win_over_balance(session, factory, now):
    tianmu = factory.zone("tianmu")
    a = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    b = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    admin = factory.person(Role.ZONE_ADMIN, zone=tianmu)
    for _ in range(5):
        factory.enterprise(zone=tianmu, staff=b)
    zr.save_staff_rule(ac(session, admin, now), None, tianmu.id,
                       {"person_id": b.id, "target": "address", "pattern": "京津路"})
    zr.save_staff_rule(ac(session, admin, now), None, tianmu.id,
                       {"person_id": a.id, "target": "name", "pattern": "物流"})
    on_road = factory.enterprise(zone=tianmu, address="天穆镇京津路 88 号")
    assert zr.assign_staff(session, on_road) == b.id  # the rule, though b carries more
    logistics = factory.enterprise(zone=tianmu, name="天津顺达物流有限公司", address="天穆镇京津路1号")
    # Both rules match, equally specific (3 vs 2 characters: the longer wins).
    assert zr.assign_staff(session, logistics) == b.id
    other = factory.enterprise(zone=tianmu, name="天津顺达物流有限公司二分")
    assert zr.assign_staff(session, other) == a.id
    # A rule of another zone's staff member cannot be created here.
    beicang_staff = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    with pytest.raises(ValidationFailed):
        zr.save_staff_rule(ac(session, admin, now), None, tianmu.id,
                           {"person_id": beicang_staff.id, "pattern": "京津路"})


def test_valid_staff_is_kept_and_invalid_replaced(session, factory):
    tianmu = factory.zone("tianmu")
    a = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    b = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    other = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    kept = factory.enterprise(zone=tianmu, staff=a)
    factory.enterprise(zone=tianmu, staff=a)
    assert zr.assign_staff(session, kept) == a.id
    wrong_zone = factory.enterprise(zone=tianmu, staff=other)
    assert zr.count_violations(session, tianmu.id) == 1
    assert zr.assign_staff(session, wrong_zone) == b.id
    unzoned = factory.enterprise(zone=None)
    unzoned.zone_id = None
    session.flush()
    assert zr.assign_staff(session, unzoned) is None


def test_assign_unassigned_queue_to_zone(session, factory, now):
    tianmu = factory.zone("tianmu")
    staff = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    queue = [factory.enterprise() for _ in range(3)]
    for e in queue:
        e.zone_id = None
    session.flush()
    dispatcher_admin = factory.person(Role.SYSADMIN)
    result = zr.assign_to_zone(ac(session, dispatcher_admin, now), [e.id for e in queue], tianmu.id)
    assert result.enterprises == 3 and result.staffed[staff.id] == 3
    assert {e.zone_id for e in queue} == {tianmu.id}
    assert zr.count_violations(session) == 0
    # A zone admin may not pull another zone's enterprises into theirs.
    beicang_admin = factory.person(Role.ZONE_ADMIN, zone=factory.zone("beicang"))
    with pytest.raises(PermissionDenied):
        zr.assign_to_zone(ac(session, beicang_admin, now), [queue[0].id], beicang_admin.zone_id)


def test_rematch_unassigned_after_rule_edit(rules, factory, now):
    admin = factory.person(Role.SYSADMIN)
    staff = factory.person(Role.SERVICE_STAFF, zone=factory.zone("xiaodian"))
    e = factory.enterprise(address="北辰区刘安庄村")
    e.zone_id = None
    rules.flush()
    assert zr.rematch_unassigned(ac(rules, admin, now)).enterprises == 0
    zr.save_address_rule(ac(rules, admin, now), None,
                         {"zone_id": zone_id(factory, "xiaodian"), "pattern": "刘安庄", "kind": "community"})
    result = zr.rematch_unassigned(ac(rules, admin, now))
    assert result.enterprises == 1 and e.zone_id == staff.zone_id and e.service_staff_id == staff.id


# --- a staff member leaves ---------------------------------------------------------------------
@pytest.fixture
def zone_with_leaver(session, factory):
    tianmu = factory.zone("tianmu")
    leaving = factory.person(Role.SERVICE_STAFF, zone=tianmu, name="离岗者")
    a = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    b = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    for _ in range(7):
        factory.enterprise(zone=tianmu, staff=leaving)
    factory.enterprise(zone=tianmu, staff=a)
    factory.enterprise(zone=tianmu, staff=a)
    stray = factory.enterprise(zone=factory.zone("beicang"), staff=leaving)  # stale data: another zone
    factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    session.add(StaffAssignmentRule(zone_id=tianmu.id, person_id=leaving.id, target="address", pattern="京津路"))
    session.flush()
    return tianmu, leaving, a, b, stray


def test_bulk_reassignment_balances_and_keeps_the_invariant(session, factory, now, zone_with_leaver):
    tianmu, leaving, a, b, stray = zone_with_leaver
    admin = factory.person(Role.ZONE_ADMIN, zone=tianmu)
    result = zr.reassign_from(session, leaving, admin, now, "balance")
    assert result.enterprises == 8 and result.rules_disabled == 1
    loads = zr.staff_loads(session, [a.id, b.id, leaving.id])
    assert loads[leaving.id] == 0
    assert abs(loads[a.id] - loads[b.id]) <= 1 and loads[a.id] + loads[b.id] == 9
    assert stray.service_staff.zone_id == stray.zone_id
    leaving.active = False
    session.flush()
    assert zr.count_violations(session) == 0
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "grid.reassign"))
    assert audit.detail["count"] == 8 and audit.actor_id == admin.id


def test_bulk_reassignment_to_one_person_moves_rules(session, factory, now, zone_with_leaver):
    tianmu, leaving, a, b, stray = zone_with_leaver
    result = zr.reassign_from(session, leaving, None, now, b)
    assert result.staffed[b.id] == 7 and result.rules_moved == 1
    assert session.scalar(select(StaffAssignmentRule.person_id)) == b.id
    assert stray.service_staff_id != b.id and stray.service_staff.zone_id == stray.zone_id


def test_reassignment_is_all_or_nothing(session, factory, now):
    lonely_zone = factory.zone("xiditou")
    leaving = factory.person(Role.SERVICE_STAFF, zone=lonely_zone)
    enterprises = [factory.enterprise(zone=lonely_zone, staff=leaving) for _ in range(3)]
    with pytest.raises(ValidationFailed, match="没有其他在岗"):
        zr.reassign_from(session, leaving, None, now, "balance")
    assert all(e.service_staff_id == leaving.id for e in enterprises)
    outsider = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"))
    with pytest.raises(ValidationFailed):
        zr.reassign_from(session, leaving, None, now, outsider)
    other_admin = factory.person(Role.ZONE_ADMIN, zone=factory.zone("beicang"))
    with pytest.raises(PermissionDenied):
        zr.reassign_from(session, leaving, other_admin, now, "balance")


def test_fill_missing_staff_and_invariant_report(session, factory, now):
    tianmu = factory.zone("tianmu")
    gone = factory.person(Role.SERVICE_STAFF, zone=tianmu, active=False)
    staff = factory.person(Role.SERVICE_STAFF, zone=tianmu)
    bare = [factory.enterprise(zone=tianmu) for _ in range(3)]
    orphan = factory.enterprise(zone=tianmu, staff=gone)
    assert zr.count_violations(session, tianmu.id) == 4
    assert zr.violation_reason(session, orphan) == "服务人员已停用"
    assert [p.id for p, n in zr.leavers(session, [tianmu.id])] == [gone.id]
    result = zr.fill_missing_staff(ac(session, None, now), tianmu.id)
    assert result.enterprises == 4 and result.staffed[staff.id] == 4
    assert zr.invariant_violations(session) == []
    assert all(e.service_staff_id == staff.id for e in [*bare, orphan])
    # A zone without staff reports what it could not do.
    empty_zone = factory.zone("xiditou")
    factory.enterprise(zone=empty_zone)
    assert zr.fill_missing_staff(ac(session, None, now), empty_zone.id).without_staff == 1
    assert session.scalar(select(func.count(Enterprise.id)).where(Enterprise.zone_id == empty_zone.id)) == 1


def test_matcher_finds_overlapping_fragments_and_respects_priority():
    matcher = zr.ZoneMatcher([("天穆", 1, 0), ("穆家庄园", 2, 0), ("北辰区双", 3, 0), ("双街镇", 4, 0),
                              ("柳", 5, 9), ("柳滩村", 6, 0)])
    assert matcher.match("天穆家庄园3号").zone_id == 2  # the longer one starts inside the shorter one
    assert matcher.match("北辰区双街镇").zone_id == 3
    assert matcher.match("柳滩村").zone_id == 5  # priority before length
    assert matcher.match("ＴＩＡＮ 天 穆").zone_id == 1  # full width and spaces
    same = zr.ZoneMatcher([("宜兴埠", 7, 0), ("宜兴埠", 8, 0)])
    assert same.match("宜兴埠镇").candidates == (7, 8) and same.match("宜兴埠镇").zone_id is None
    assert zr.ZoneMatcher([]).match("天穆") == zr.ZoneMatch(None)
