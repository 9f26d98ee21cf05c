"""The grid: which zone an address belongs to, and which service staff member serves an enterprise.

Zone: editable address rules (town/street names, roads, parks, communities). The best match
wins — higher priority first, then the longer (more specific) fragment. Two zones tied at the
top decide nothing: the enterprise waits in the 未分配 queue for a person to place it.

Staff: within a zone, staff rules (address or name contains …) pick the staff member; otherwise
the active service staff member with the fewest enterprises gets it. The grid's invariant:
every enterprise with a zone has exactly one active service staff member *of that zone*
(``invariant_violations`` finds the exceptions; every operation here keeps it where it can).

Operations take an ``AdminContext`` (session, actor, now, ip), check the actor's zone, flush,
write one audit row and never commit.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from models import (
    AddressRuleKind,
    Enterprise,
    Person,
    Role,
    StaffAssignmentRule,
    StaffRuleTarget,
    Zone,
    ZoneAddressRule,
)
from services import inputs
from services.admin.operations import AdminContext
from services.demo import reference_data as ref
from services.errors import NotFound, PermissionDenied, ValidationFailed
from services.lookup import get_or_not_found

_MATCHER_KEY = "grid.zone_matcher"
# Enterprises that no longer need serving do not weigh on a staff member's load.
GONE_STATUSES = ("注销", "迁出")
MAX_PATTERN = 64
_VERDICT_CACHE_SIZE = 10_000  # sets of fragments found → their verdict, per compiled matcher
_ADDRESS_CACHE_SIZE = 50_000  # addresses → their verdict, per compiled matcher
AUDIT_SAMPLE = 200  # enterprise ids kept in one audit row; the count is always complete

_SPACES = re.compile(r"\s+")


def normalize(text: str | None) -> str:
    """Full-width to half-width (NFKC) and no whitespace: "天穆镇　北仓道 ８号" matches "北仓道8号"."""
    text = text or ""
    # The checks are much cheaper than the work they skip, and most text needs none of it.
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if " " in text or not text.isprintable():  # after NFKC any other whitespace is non-printable
        text = _SPACES.sub("", text)
    return text


# --------------------------------------------------------------------------------------------------
# Who may manage which zone
# --------------------------------------------------------------------------------------------------
def can_manage_zone(person: Person | None, zone_id: int | None) -> bool:
    if person is None:  # the system (seed, import jobs)
        return True
    if not person.active:
        return False
    if person.role == Role.SYSADMIN:
        return True
    return person.role == Role.ZONE_ADMIN and zone_id is not None and person.zone_id == zone_id


def ensure_zone_manager(person: Person | None, zone_id: int | None) -> None:
    if not can_manage_zone(person, zone_id):
        raise PermissionDenied("您只能管理本片区的网格分配")


def can_place(person: Person | None, zone_id: int | None) -> bool:
    """Who may put enterprises into a zone: its managers, and the grid center for any zone."""
    if person is not None and person.active and person.role == Role.DISPATCHER:
        return True
    return can_manage_zone(person, zone_id)


def ensure_can_place(person: Person | None, zone_id: int | None) -> None:
    if not can_place(person, zone_id):
        raise PermissionDenied("您只能把企业划入本片区")


def managed_zones(session: Session, person: Person, *, placing: bool = False) -> list[Zone]:
    """The zones ``person`` manages (or, with ``placing``, may put enterprises into)."""
    query = select(Zone).where(Zone.active.is_(True)).order_by(Zone.sort_order, Zone.id)
    everything = (Role.SYSADMIN, Role.DISPATCHER) if placing else (Role.SYSADMIN,)
    if person.role not in everything:
        query = query.where(Zone.id == person.zone_id)
    return list(session.scalars(query))


def _zone(session: Session, zone_id: Any) -> Zone:
    return get_or_not_found(session, Zone, zone_id, "未找到该片区")


# --------------------------------------------------------------------------------------------------
# Zone by address
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ZoneMatch:
    zone_id: int | None
    pattern: str = ""
    # The zones tied at the top: more than one means "ambiguous", none means "no rule matched".
    candidates: tuple[int, ...] = ()
    matched: tuple[str, ...] = ()  # every winning fragment (one per tied zone)

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, shaped as a trie, longest alternative first.

    Python's ``re`` tries alternatives one by one; a flat alternation of hundreds of place names
    is tried at every position of every address. A trie shares prefixes, so a position that
    starts no word fails at the first character.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:  # greedy "?": the longer word is tried first
            return (body if len(branches) > 1 else "(?:" + body + ")") + "?"
        return body

    return build(trie)


_NO_MATCH = ZoneMatch(None)


class ZoneMatcher:
    """All active address rules compiled into one trie-shaped regular expression per priority.

    Scanning an address yields, at every position, the longest fragment starting there (the
    trie is greedy); the best of those wins. Priorities are tried from the highest down, so a
    short fragment with a higher priority beats a long one below it.
    """

    def __init__(self, rules: Iterable[tuple[str, int, int]]):
        best: dict[str, tuple[int, set[int]]] = {}
        for pattern, zone_id, priority in rules:
            text = normalize(pattern)
            if not text:
                continue
            current = best.get(text)
            if current is None or priority > current[0]:
                best[text] = (priority, {zone_id})
            elif priority == current[0]:
                current[1].add(zone_id)
        self._rules = {text: (priority, frozenset(zones)) for text, (priority, zones) in best.items()}
        levels: dict[int, list[str]] = {}
        for text, (priority, _) in self._rules.items():
            levels.setdefault(priority, []).append(text)
        # The trie inside a lookahead: findall() then yields, in one call into C, the longest
        # fragment starting at every position — fragments overlapping an earlier one included.
        self._levels = [re.compile(f"(?=({_trie_pattern(levels[p])}))") for p in sorted(levels, reverse=True)]
        self._verdicts: dict[frozenset[str], ZoneMatch] = {}  # immutable; rebuilt with the rules
        self._by_address: dict[str | None, ZoneMatch] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, address: str | None) -> ZoneMatch:
        # Registries repeat addresses (a building full of shops, a town name alone): remembered
        # as written, within a bound. The matcher is rebuilt whenever the rules change.
        by_address = self._by_address
        result = by_address.get(address)
        if result is None:
            if len(by_address) >= _ADDRESS_CACHE_SIZE:
                by_address.clear()
            result = by_address[address] = self._match(address)
        return result

    def _match(self, address: str | None) -> ZoneMatch:
        text = normalize(address)
        if not text:
            return _NO_MATCH
        for regex in self._levels:
            found = regex.findall(text)
            if found:
                break
        else:
            return _NO_MATCH
        # The verdict depends only on the fragments found, and registries repeat them endlessly.
        key = frozenset(found)
        result = self._verdicts.get(key)
        if result is None:
            if len(self._verdicts) >= _VERDICT_CACHE_SIZE:
                self._verdicts.clear()
            result = self._verdicts[key] = self._verdict(key)
        return result

    def _verdict(self, found: frozenset[str]) -> ZoneMatch:
        longest = max(map(len, found))
        top = sorted(f for f in found if len(f) == longest)
        zones = sorted({z for f in top for z in self._rules[f][1]})
        if len(zones) == 1:
            return ZoneMatch(zones[0], top[0], tuple(zones), tuple(top))
        return ZoneMatch(None, "", tuple(zones), tuple(top))


def load_matcher(session: Session) -> ZoneMatcher:
    rows = session.execute(
        select(ZoneAddressRule.pattern, ZoneAddressRule.zone_id, ZoneAddressRule.priority)
        .join(Zone, Zone.id == ZoneAddressRule.zone_id)
        .where(ZoneAddressRule.active.is_(True), Zone.active.is_(True))
    )
    return ZoneMatcher(rows)


def matcher_for(session: Session) -> ZoneMatcher:
    """The session's compiled rules (built once per session: an import matches many addresses)."""
    matcher = session.info.get(_MATCHER_KEY)
    if matcher is None:
        matcher = session.info[_MATCHER_KEY] = load_matcher(session)
    return matcher


def invalidate(session: Session) -> None:
    """Forget the session's compiled rules (call after changing rules outside this module)."""
    session.info.pop(_MATCHER_KEY, None)


def assign_zone(session: Session, address: str | None) -> int | None:
    """The zone an address belongs to by the rules, or None (no match, or a tie between zones)."""
    return matcher_for(session).match(address).zone_id


def explain_zone(session: Session, address: str | None) -> ZoneMatch:
    return matcher_for(session).match(address)


# The district's own name: an address without it, matched by no rule, names no place of the district.
DISTRICT_NAME = "北辰"


def outside_district(match: ZoneMatch, address: str | None) -> bool:
    """An address no rule placed that does not say 北辰 either (「火星基地一号」, 「天津市西青区…」)."""
    text = normalize(address)
    return match.zone_id is None and not match.candidates and bool(text) and DISTRICT_NAME not in text


def unassigned_reasons(session: Session, enterprises: Iterable[Enterprise]) -> dict[int, str]:
    """Why each enterprise waits in the 未分配 queue, by the address rules as they are now."""
    names = dict(session.execute(select(Zone.id, Zone.name)).all())
    reasons: dict[int, str] = {}
    for enterprise in enterprises:
        match = explain_zone(session, enterprise.address)
        if match.ambiguous:
            reason = "同时匹配 " + "、".join(names.get(z, str(z)) for z in match.candidates)
        elif match.zone_id is not None:
            reason = f"现可匹配 {names.get(match.zone_id, match.zone_id)}（重新匹配即可）"
        elif not normalize(enterprise.address):
            reason = "住所为空"
        elif outside_district(match, enterprise.address):
            reason = "住所不在北辰区（没有北辰区或区内的地名）"
        else:
            reason = "北辰区内，但没有地址规则匹配"
        reasons[enterprise.id] = reason
    return reasons


def seed_address_rules(session: Session) -> int:
    """Default address rules from the reference data, for zones that have no rules yet.

    A zone with any rule (even a disabled one) is left alone, so the district's edits survive
    a reseed. Returns the number of rules added.
    """
    zones = {z.code: z for z in session.scalars(select(Zone))}
    ruled = set(session.scalars(select(ZoneAddressRule.zone_id).distinct()))
    added = 0
    for zref in ref.ZONES:
        zone = zones.get(zref.code)
        if zone is None or zone.id in ruled:
            continue
        seen: set[str] = set()
        for keyword in zref.address_keywords:
            pattern = normalize(keyword)
            if not pattern or pattern in seen:
                continue
            seen.add(pattern)
            kind = AddressRuleKind.PARK if zref.kind == "devzone" and pattern != normalize(zref.name) else (
                AddressRuleKind.COMMUNITY if pattern.endswith("村") and not pattern.endswith("新村") else
                AddressRuleKind.TOWN
            )
            session.add(ZoneAddressRule(zone_id=zone.id, pattern=pattern, kind=kind, priority=0, active=True,
                                        note="默认规则"))
            added += 1
    session.flush()
    invalidate(session)
    return added


def address_rules(session: Session, zone_ids: Sequence[int] | None = None) -> list[ZoneAddressRule]:
    query = (
        select(ZoneAddressRule)
        .join(Zone, Zone.id == ZoneAddressRule.zone_id)
        .order_by(Zone.sort_order, Zone.id, ZoneAddressRule.priority.desc(), ZoneAddressRule.pattern)
    )
    if zone_ids is not None:
        query = query.where(ZoneAddressRule.zone_id.in_(list(zone_ids)))
    return list(session.scalars(query))


def _int_field(data: Mapping[str, Any], name: str, label: str, errors: dict[str, str], default: int = 0) -> int:
    raw = str(data.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = inputs.parse_int(raw)
    except ValueError:
        errors[name] = f"{label}必须是整数"
        return default
    if not -100 <= value <= 100:
        errors[name] = f"{label}应在 -100 到 100 之间"
    return value


def _flag(data: Mapping[str, Any], name: str) -> bool:
    return str(data.get(name) or "").strip().lower() in ("1", "on", "true", "yes", "是")


def save_address_rule(ac: AdminContext, rule_id: Any, data: Mapping[str, Any]) -> ZoneAddressRule:
    """Create (``rule_id`` None) or edit an address rule; a zone admin only within their zone."""
    session = ac.session
    rule = None
    if rule_id:
        rule = session.get(ZoneAddressRule, inputs.to_id(rule_id)) if inputs.to_id(rule_id) else None
        if rule is None:
            raise NotFound("未找到该地址规则")
        ensure_zone_manager(ac.actor, rule.zone_id)
    errors: dict[str, str] = {}
    zone = None
    zone_raw = data.get("zone_id")
    if str(zone_raw or "").strip():
        zone = _zone(session, zone_raw)
    elif rule is not None:
        zone = rule.zone
    if zone is None:
        errors["zone_id"] = "请选择片区"
    else:
        ensure_zone_manager(ac.actor, zone.id)
    pattern = normalize(str(data.get("pattern") or ""))
    if len(pattern) < 2:
        errors["pattern"] = "地名至少 2 个字（过短的地名容易误配）"
    elif len(pattern) > MAX_PATTERN:
        errors["pattern"] = f"地名不能超过 {MAX_PATTERN} 个字"
    kind = str(data.get("kind") or AddressRuleKind.PLACE)
    if kind not in AddressRuleKind.LABELS:
        errors["kind"] = "请选择地名类型"
    priority = _int_field(data, "priority", "优先级", errors)
    note = str(data.get("note") or "").strip()[:200]
    if zone is not None and pattern and "pattern" not in errors:
        clash = session.scalar(select(ZoneAddressRule).where(
            ZoneAddressRule.zone_id == zone.id, ZoneAddressRule.pattern == pattern,
            ZoneAddressRule.id != (rule.id if rule is not None else -1),
        ))
        if clash is not None:
            errors["pattern"] = f"{zone.name}已有地名「{pattern}」的规则"
    if errors:
        raise ValidationFailed("请修正以下问题：" + "；".join(errors.values()), fields=errors)

    active = _flag(data, "active") if rule is not None else True
    values = {"zone_id": zone.id, "pattern": pattern, "kind": kind, "priority": priority, "note": note,
              "active": active}
    created = rule is None
    if rule is None:
        rule = ZoneAddressRule(created_at=ac.now, updated_at=ac.now)
        session.add(rule)
    changes = {k: [getattr(rule, k), v] for k, v in values.items() if getattr(rule, k) != v}
    for name, (_, new) in changes.items():
        setattr(rule, name, new)
    if changes:
        rule.updated_at = ac.now
    session.flush()
    invalidate(session)
    if created or changes:
        ac.audit("grid.address_rule.create" if created else "grid.address_rule.update", "zone_address_rule",
                 rule.id, {"zone": zone.name, "pattern": pattern, "changes": {} if created else changes})
    return rule


# --------------------------------------------------------------------------------------------------
# Staff within a zone
# --------------------------------------------------------------------------------------------------
def zone_staff(session: Session, zone_id: int, *, exclude: Iterable[int] = ()) -> list[Person]:
    """The zone's active service staff members (zone admins are not service staff)."""
    query = select(Person).where(
        Person.zone_id == zone_id, Person.role == Role.SERVICE_STAFF, Person.active.is_(True)
    ).order_by(Person.id)
    excluded = list(exclude)
    if excluded:
        query = query.where(Person.id.not_in(excluded))
    return list(session.scalars(query))


def staff_loads(session: Session, person_ids: Sequence[int]) -> dict[int, int]:
    """Enterprises each person serves (those deregistered or moved out do not count)."""
    counts = {pid: 0 for pid in person_ids}
    if not counts:
        return counts
    rows = session.execute(
        select(Enterprise.service_staff_id, func.count(Enterprise.id))
        .where(Enterprise.service_staff_id.in_(list(counts)), Enterprise.status.not_in(GONE_STATUSES))
        .group_by(Enterprise.service_staff_id)
    )
    for pid, n in rows:
        counts[pid] = int(n)
    return counts


class StaffPicker:
    """Chooses the staff member for enterprises of one zone: rules first, then the lightest load.

    Loads are counted once and kept current in memory as enterprises are handed out, so a bulk
    operation over thousands of enterprises costs three queries, not three per enterprise.
    """

    def __init__(self, session: Session, zone_id: int, *, exclude: Iterable[int] = ()):
        self.zone_id = zone_id
        self.staff = {p.id: p for p in zone_staff(session, zone_id, exclude=exclude)}
        self.loads = staff_loads(session, list(self.staff))
        rules = session.scalars(
            select(StaffAssignmentRule).where(
                StaffAssignmentRule.zone_id == zone_id, StaffAssignmentRule.active.is_(True),
                StaffAssignmentRule.person_id.in_(list(self.staff) or [-1]),
            )
        )
        self.rules = sorted(
            ((r.priority, len(normalize(r.pattern)), normalize(r.pattern), r.target, r.person_id) for r in rules
             if normalize(r.pattern)),
            key=lambda r: (-r[0], -r[1]),
        )

    def __bool__(self) -> bool:
        return bool(self.staff)

    def _lightest(self, candidates: Iterable[int]) -> int | None:
        pool = sorted(candidates)
        return min(pool, key=lambda pid: (self.loads.get(pid, 0), pid)) if pool else None

    def rule_candidates(self, enterprise: Enterprise) -> list[int]:
        if not self.rules:
            return []  # most zones have none: skip normalising the address and name
        address, name = normalize(enterprise.address), normalize(enterprise.name)
        best: tuple[int, int] | None = None
        chosen: set[int] = set()
        for priority, length, pattern, target, person_id in self.rules:
            if best is not None and (priority, length) < best:
                break
            haystack = name if target == StaffRuleTarget.NAME else address
            if pattern in haystack:
                best = (priority, length)
                chosen.add(person_id)
        return sorted(chosen)

    def pick(self, enterprise: Enterprise) -> int | None:
        # Two rules tied for different people: the lighter-loaded of them, never someone else.
        return self._lightest(self.rule_candidates(enterprise) or self.staff)

    def take(self, enterprise: Enterprise, person_id: int) -> None:
        """Count ``enterprise`` against ``person_id`` (planning only: nothing is changed)."""
        previous = enterprise.service_staff_id
        if previous == person_id or enterprise.status in GONE_STATUSES:
            return
        if previous in self.loads:
            self.loads[previous] -= 1
        self.loads[person_id] = self.loads.get(person_id, 0) + 1

    def give(self, enterprise: Enterprise, person_id: int) -> None:
        """Hand ``enterprise`` to ``person_id`` and keep the loads current."""
        self.take(enterprise, person_id)
        set_staff_of(enterprise, self.staff[person_id])


def set_staff_of(enterprise: Enterprise, person: Person | None) -> None:
    # Both the relationship and the column: whichever one was loaded or set before, neither is stale.
    enterprise.service_staff = person
    enterprise.service_staff_id = person.id if person is not None else None


def set_zone_of(enterprise: Enterprise, zone: Zone | None) -> None:
    enterprise.zone = zone
    enterprise.zone_id = zone.id if zone is not None else None


def staff_is_valid(session: Session, enterprise: Enterprise) -> bool:
    if enterprise.zone_id is None or enterprise.service_staff_id is None:
        return False
    staff = session.get(Person, enterprise.service_staff_id)
    return (staff is not None and staff.active and staff.role == Role.SERVICE_STAFF
            and staff.zone_id == enterprise.zone_id)


def assign_staff(session: Session, enterprise: Enterprise, *, force: bool = False) -> int | None:
    """Give a zoned enterprise its service staff member and return the person's id.

    A valid current staff member is kept (unless ``force``). By the zone's staff rules, else the
    least-loaded active service staff member of the zone. None when the enterprise has no zone
    or the zone has no active service staff (nothing is changed then). For thousands of
    enterprises use ``StaffPicker`` directly (or ``fill_missing_staff``).
    """
    if enterprise.zone_id is None:
        return None
    if not force and staff_is_valid(session, enterprise):
        return enterprise.service_staff_id
    picker = StaffPicker(session, enterprise.zone_id)
    person_id = picker.pick(enterprise)
    if person_id is not None:
        picker.give(enterprise, person_id)
    return person_id


def _audit_ids(ids: Sequence[int]) -> dict[str, Any]:
    return {"count": len(ids), "enterprise_ids": list(ids[:AUDIT_SAMPLE]), "truncated": len(ids) > AUDIT_SAMPLE}


def _staff_member(session: Session, person_id: Any, zone_id: int) -> Person:
    person = session.get(Person, inputs.to_id(person_id)) if inputs.to_id(person_id) else None
    if person is None:
        raise ValidationFailed("请选择为企服务人员", fields={"person_id": "必选"})
    if person.role != Role.SERVICE_STAFF or not person.active or person.zone_id != zone_id:
        raise ValidationFailed(f"{person.name}不是该片区在岗的为企服务人员", fields={"person_id": "人员无效"})
    return person


def _enterprises(session: Session, ids: Iterable[Any]) -> list[Enterprise]:
    wanted = sorted(inputs.ids(ids))
    if not wanted:
        raise ValidationFailed("请至少勾选一家企业", fields={"enterprise_ids": "未选择"})
    rows = list(session.scalars(select(Enterprise).where(Enterprise.id.in_(wanted)).order_by(Enterprise.id)))
    if len(rows) != len(wanted):
        raise NotFound("部分企业不存在，请刷新后重试")
    return rows


@dataclass
class AssignResult:
    enterprises: int = 0
    staffed: Counter = field(default_factory=Counter)  # person_id -> enterprises handed to them
    without_staff: int = 0  # zoned but the zone has no active service staff


def _staff_all(session: Session, enterprises: Sequence[Enterprise], result: AssignResult) -> None:
    """A fresh pick for each enterprise (they have just changed zone)."""
    pickers: dict[int, StaffPicker] = {}
    for enterprise in enterprises:
        if enterprise.zone_id is None:
            continue
        picker = pickers.get(enterprise.zone_id)
        if picker is None:
            picker = pickers[enterprise.zone_id] = StaffPicker(session, enterprise.zone_id)
        person_id = picker.pick(enterprise)
        if person_id is None:
            result.without_staff += 1
            continue
        picker.give(enterprise, person_id)
        result.staffed[person_id] += 1


def assign_to_zone(ac: AdminContext, enterprise_ids: Iterable[Any], zone_id: Any) -> AssignResult:
    """Place enterprises (typically from the 未分配 queue) in a zone and give each a staff member."""
    session = ac.session
    zone = _zone(session, zone_id)
    ensure_can_place(ac.actor, zone.id)
    rows = _enterprises(session, enterprise_ids)
    for enterprise in rows:
        # A zone admin may take unassigned enterprises into their zone, not move another zone's.
        if enterprise.zone_id not in (None, zone.id):
            ensure_can_place(ac.actor, enterprise.zone_id)
    moved = [e for e in rows if e.zone_id != zone.id]
    for enterprise in moved:
        set_zone_of(enterprise, zone)
    result = AssignResult(enterprises=len(moved))
    session.flush()
    _staff_all(session, moved, result)
    session.flush()
    if moved:
        ac.audit("grid.assign_zone", "zone", zone.id,
                 {"zone": zone.name, **_audit_ids([e.id for e in moved]), "without_staff": result.without_staff})
    return result


def unassigned_query(q: str = ""):
    query = select(Enterprise).where(Enterprise.zone_id.is_(None))
    text = (q or "").strip()
    if text:
        pattern = f"%{text}%"
        query = query.where(or_(Enterprise.name.ilike(pattern), Enterprise.uscc.ilike(pattern),
                                Enterprise.address.ilike(pattern)))
    return query


def rematch_unassigned(ac: AdminContext, *, batch: int = 2000) -> AssignResult:
    """Run the (edited) address rules over the 未分配 queue; matches go to their zone and get staff."""
    session = ac.session
    if ac.actor is not None and ac.actor.role != Role.SYSADMIN:
        raise PermissionDenied("只有系统管理员可以对全部未分配企业重新匹配")
    invalidate(session)
    matcher = matcher_for(session)
    zones = {z.id: z for z in session.scalars(select(Zone))}
    result = AssignResult()
    placed: list[int] = []
    last_id = 0
    while True:
        rows = list(session.scalars(
            unassigned_query().where(Enterprise.id > last_id).order_by(Enterprise.id).limit(batch)
        ))
        if not rows:
            break
        last_id = rows[-1].id
        hits = []
        for enterprise in rows:
            zone_id = matcher.match(enterprise.address).zone_id
            if zone_id is not None:
                set_zone_of(enterprise, zones[zone_id])
                hits.append(enterprise)
        session.flush()
        _staff_all(session, hits, result)
        session.flush()
        placed.extend(e.id for e in hits)
    result.enterprises = len(placed)
    if placed:
        ac.audit("grid.rematch", "zone", "", {**_audit_ids(placed), "without_staff": result.without_staff})
    return result


def set_staff(ac: AdminContext, enterprise_ids: Iterable[Any], person_id: Any, zone_id: Any) -> int:
    """Hand chosen enterprises of one zone to one of its staff members; returns how many changed."""
    session = ac.session
    zone = _zone(session, zone_id)
    ensure_zone_manager(ac.actor, zone.id)
    person = _staff_member(session, person_id, zone.id)
    rows = _enterprises(session, enterprise_ids)
    if any(e.zone_id != zone.id for e in rows):
        raise ValidationFailed(f"只能为{zone.name}的企业指定本片区人员")
    changed = [e for e in rows if e.service_staff_id != person.id]
    for enterprise in changed:
        set_staff_of(enterprise, person)
    session.flush()
    if changed:
        ac.audit("grid.assign_staff", "person", person.id,
                 {"zone": zone.name, "staff": person.name, **_audit_ids([e.id for e in changed])})
    return len(changed)


def fill_missing_staff(ac: AdminContext, zone_id: Any | None = None, *, batch: int = 5000) -> AssignResult:
    """Every zoned enterprise without a valid staff member gets one (one zone, or all for sysadmin)."""
    session = ac.session
    zone_ids: list[int]
    if zone_id is None:
        if ac.actor is not None and ac.actor.role != Role.SYSADMIN:
            raise PermissionDenied("只有系统管理员可以处理全部片区")
        zone_ids = list(session.scalars(select(Zone.id).order_by(Zone.sort_order, Zone.id)))
    else:
        zone = _zone(session, zone_id)
        ensure_zone_manager(ac.actor, zone.id)
        zone_ids = [zone.id]
    result = AssignResult()
    handled: list[int] = []
    for zid in zone_ids:
        picker = StaffPicker(session, zid)
        if not picker:
            result.without_staff += count_violations(session, zid)
            continue
        last_id = 0
        while True:
            rows = list(session.scalars(
                violations_query(zid).where(Enterprise.id > last_id).order_by(Enterprise.id).limit(batch)
            ))
            if not rows:
                break
            last_id = rows[-1].id
            for enterprise in rows:
                person_id = picker.pick(enterprise)
                if person_id is None:
                    result.without_staff += 1
                    continue
                picker.give(enterprise, person_id)
                result.staffed[person_id] += 1
                handled.append(enterprise.id)
            session.flush()
    result.enterprises = len(handled)
    if handled:
        ac.audit("grid.fill_staff", "zone", zone_id or "", {**_audit_ids(handled),
                                                             "without_staff": result.without_staff})
    return result


@dataclass
class ReassignResult:
    enterprises: int = 0
    staffed: Counter = field(default_factory=Counter)
    unzoned_cleared: int = 0
    rules_moved: int = 0
    rules_disabled: int = 0


def reassign_from(
    session: Session, leaving_staff: Person, actor: Person | None, now: datetime,
    strategy: str | Person | int = "balance", *, ip: str = "",
) -> ReassignResult:
    """Hand every enterprise of a leaving staff member to others, all or nothing.

    ``strategy``: "balance" (rules, then lightest load, among the zone's other staff) or a
    person (an active service staff member of the same zone) who takes them all. Enterprises
    of another zone (stale data) are balanced within their own zone; unzoned ones lose the
    staff member (they belong to the 未分配 queue). The leaver's staff rules move with the
    enterprises to the named person, or are disabled when balancing. Refused, with nothing
    changed, when some zone would have nobody left to take its enterprises.
    """
    ac = AdminContext(session=session, actor=actor, now=now, ip=ip)
    ensure_zone_manager(actor, leaving_staff.zone_id)
    target: Person | None = None
    if strategy != "balance":
        if isinstance(strategy, Person):
            target = strategy
        elif isinstance(strategy, int | str) and inputs.to_id(strategy) is not None:
            target = session.get(Person, inputs.to_id(strategy))
        if target is None:
            raise ValidationFailed("请选择接手的为企服务人员，或选择按负载均衡分配", fields={"strategy": "无效"})
        if target.id == leaving_staff.id:
            raise ValidationFailed("接手人员不能是离岗人员本人", fields={"strategy": "无效"})
        _staff_member(session, target.id, leaving_staff.zone_id)

    rows = list(session.scalars(
        select(Enterprise).where(Enterprise.service_staff_id == leaving_staff.id).order_by(Enterprise.id)
    ))
    result = ReassignResult()
    pickers: dict[int, StaffPicker] = {}
    plan: list[tuple[Enterprise, Person | None]] = []
    for enterprise in rows:
        if enterprise.zone_id is None:
            plan.append((enterprise, None))
            continue
        if target is not None and enterprise.zone_id == target.zone_id:
            plan.append((enterprise, target))
            continue
        picker = pickers.get(enterprise.zone_id)
        if picker is None:
            picker = pickers[enterprise.zone_id] = StaffPicker(session, enterprise.zone_id,
                                                               exclude=[leaving_staff.id])
        person_id = picker.pick(enterprise)
        if person_id is None:
            zone = session.get(Zone, enterprise.zone_id)
            raise ValidationFailed(
                f"{zone.name if zone else '该片区'}没有其他在岗的为企服务人员，无法移交，请先新增人员",
                fields={"strategy": "无人可接手"},
            )
        picker.take(enterprise, person_id)
        plan.append((enterprise, picker.staff[person_id]))

    for enterprise, person in plan:
        set_staff_of(enterprise, person)
        if person is None:
            result.unzoned_cleared += 1
        else:
            result.staffed[person.id] += 1
    result.enterprises = len(plan)

    for rule in session.scalars(select(StaffAssignmentRule).where(StaffAssignmentRule.person_id == leaving_staff.id)):
        if target is not None and rule.zone_id == target.zone_id:
            rule.person = target
            rule.updated_at = now
            result.rules_moved += 1
        elif rule.active:
            rule.active = False
            rule.updated_at = now
            result.rules_disabled += 1
    session.flush()
    ac.audit("grid.reassign", "person", leaving_staff.id, {
        "staff": leaving_staff.name, "strategy": "balance" if target is None else target.name,
        **_audit_ids([e.id for e, _ in plan]),
        "to": {str(pid): n for pid, n in result.staffed.items()},
        "rules_moved": result.rules_moved, "rules_disabled": result.rules_disabled,
    })
    return result


# --------------------------------------------------------------------------------------------------
# Staff rules
# --------------------------------------------------------------------------------------------------
def staff_rules(session: Session, zone_id: int) -> list[StaffAssignmentRule]:
    return list(session.scalars(
        select(StaffAssignmentRule).where(StaffAssignmentRule.zone_id == zone_id)
        .order_by(StaffAssignmentRule.priority.desc(), StaffAssignmentRule.id)
    ))


def save_staff_rule(ac: AdminContext, rule_id: Any, zone_id: Any, data: Mapping[str, Any]) -> StaffAssignmentRule:
    session = ac.session
    zone = _zone(session, zone_id)
    ensure_zone_manager(ac.actor, zone.id)
    rule = None
    if rule_id:
        rule = session.get(StaffAssignmentRule, inputs.to_id(rule_id)) if inputs.to_id(rule_id) else None
        if rule is None or rule.zone_id != zone.id:
            raise NotFound("未找到该分配规则")
    errors: dict[str, str] = {}
    person = None
    try:
        person = _staff_member(session, data.get("person_id"), zone.id)
    except ValidationFailed as error:
        errors.update(error.fields)
    target = str(data.get("target") or StaffRuleTarget.ADDRESS)
    if target not in StaffRuleTarget.LABELS:
        errors["target"] = "请选择匹配对象"
    pattern = normalize(str(data.get("pattern") or ""))
    if len(pattern) < 2:
        errors["pattern"] = "关键词至少 2 个字"
    elif len(pattern) > MAX_PATTERN:
        errors["pattern"] = f"关键词不能超过 {MAX_PATTERN} 个字"
    priority = _int_field(data, "priority", "优先级", errors)
    if errors:
        raise ValidationFailed("请修正以下问题：" + "；".join(errors.values()), fields=errors)
    active = _flag(data, "active") if rule is not None else True
    values = {"person_id": person.id, "target": target, "pattern": pattern, "priority": priority, "active": active}
    created = rule is None
    if rule is None:
        rule = StaffAssignmentRule(zone_id=zone.id, created_at=ac.now, updated_at=ac.now)
        session.add(rule)
    changes = {k: [getattr(rule, k), v] for k, v in values.items() if getattr(rule, k) != v}
    for name, (_, new) in changes.items():
        setattr(rule, name, new)
    if changes:
        rule.updated_at = ac.now
    session.flush()
    if created or changes:
        ac.audit("grid.staff_rule.create" if created else "grid.staff_rule.update", "staff_assignment_rule",
                 rule.id, {"zone": zone.name, "staff": person.name, "pattern": pattern,
                           "changes": {} if created else changes})
    return rule


# --------------------------------------------------------------------------------------------------
# The invariant
# --------------------------------------------------------------------------------------------------
def violations_query(zone_id: int | None = None):
    staff = aliased(Person)
    query = (
        select(Enterprise)
        .outerjoin(staff, staff.id == Enterprise.service_staff_id)
        .where(
            Enterprise.zone_id.is_not(None),
            or_(
                staff.id.is_(None),
                staff.active.is_not(True),
                staff.role != Role.SERVICE_STAFF,
                staff.zone_id.is_(None),
                staff.zone_id != Enterprise.zone_id,
            ),
        )
    )
    if zone_id is not None:
        query = query.where(Enterprise.zone_id == zone_id)
    return query


@dataclass(frozen=True)
class ZoneOverview:
    """One zone's line on the grid's landing page."""

    zone: Zone
    enterprises: int  # in business (deregistered and moved-out ones are not served any more)
    staff: int  # active service staff members of the zone
    busiest: int  # the most enterprises one of them serves
    without_staff: int  # enterprises without a valid service staff member (``violations_query``)

    @property
    def per_staff(self) -> float | None:
        return self.enterprises / self.staff if self.staff else None


def zones_overview(session: Session, zones: Sequence[Zone]) -> list[ZoneOverview]:
    """Enterprises, staff, the heaviest load and the enterprises lacking staff, per zone (four queries)."""
    ids = [z.id for z in zones]
    if not ids:
        return []
    serving = Enterprise.status.not_in(GONE_STATUSES)
    enterprises = dict(session.execute(
        select(Enterprise.zone_id, func.count(Enterprise.id))
        .where(Enterprise.zone_id.in_(ids), serving).group_by(Enterprise.zone_id)).all())
    staff = dict(session.execute(
        select(Person.zone_id, func.count(Person.id))
        .where(Person.zone_id.in_(ids), Person.role == Role.SERVICE_STAFF, Person.active.is_(True))
        .group_by(Person.zone_id)).all())
    loads = (select(Enterprise.zone_id, func.count(Enterprise.id).label("n"))
             .where(Enterprise.zone_id.in_(ids), Enterprise.service_staff_id.is_not(None), serving)
             .group_by(Enterprise.zone_id, Enterprise.service_staff_id).subquery())
    busiest = dict(session.execute(select(loads.c.zone_id, func.max(loads.c.n)).group_by(loads.c.zone_id)).all())
    lacking = violations_query().where(Enterprise.zone_id.in_(ids)).subquery()
    without_staff = dict(session.execute(
        select(lacking.c.zone_id, func.count()).group_by(lacking.c.zone_id)).all())
    return [ZoneOverview(z, int(enterprises.get(z.id, 0)), int(staff.get(z.id, 0)), int(busiest.get(z.id, 0)),
                         int(without_staff.get(z.id, 0))) for z in zones]


def invariant_violations(session: Session, zone_id: int | None = None, *, limit: int | None = None) -> list[Enterprise]:
    """Zoned enterprises without exactly one active service staff member of their own zone."""
    query = violations_query(zone_id).order_by(Enterprise.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_violations(session: Session, zone_id: int | None = None) -> int:
    subquery = violations_query(zone_id).with_only_columns(Enterprise.id).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


def violation_reason(session: Session, enterprise: Enterprise) -> str:
    if enterprise.service_staff_id is None:
        return "未配备为企服务人员"
    staff = session.get(Person, enterprise.service_staff_id)
    if staff is None or not staff.active:
        return "服务人员已停用"
    if staff.role != Role.SERVICE_STAFF:
        return "服务人员不是为企服务人员角色"
    return "服务人员不属于企业所在片区"


# --------------------------------------------------------------------------------------------------
# Read side for the pages
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaffLoad:
    person: Person
    enterprises: int
    rules: int


def zone_overview(session: Session, zone_id: int) -> list[StaffLoad]:
    staff = zone_staff(session, zone_id)
    loads = staff_loads(session, [p.id for p in staff])
    rules = dict(session.execute(
        select(StaffAssignmentRule.person_id, func.count(StaffAssignmentRule.id))
        .where(StaffAssignmentRule.zone_id == zone_id, StaffAssignmentRule.active.is_(True))
        .group_by(StaffAssignmentRule.person_id)
    ).all())
    return [StaffLoad(p, loads.get(p.id, 0), int(rules.get(p.id, 0))) for p in staff]


def leavers(session: Session, zone_ids: Sequence[int]) -> list[tuple[Person, int]]:
    """People who still serve enterprises but should not: deactivated, moved zone or changed role."""
    rows = session.execute(
        select(Person, func.count(Enterprise.id))
        .join(Enterprise, Enterprise.service_staff_id == Person.id)
        .where(
            Enterprise.zone_id.in_(list(zone_ids)),
            or_(Person.active.is_not(True), Person.role != Role.SERVICE_STAFF,
                and_(Person.zone_id.is_not(None), Person.zone_id != Enterprise.zone_id)),
        )
        .group_by(Person.id)
        .order_by(Person.id)
    ).all()
    return [(person, int(n)) for person, n in rows]
