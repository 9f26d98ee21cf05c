"""Every route × every identity → the expected answer, generated from the route map.

The world is the demo district (every kind of object exists, made by the real operations). The
identities cover each role, and for the zone and department roles one person on the order's side
and one from elsewhere. Each GET route is requested as each identity; each POST route with just a
valid CSRF token (no other fields), after all GETs. The answers are compared with
``tests/handlers/access_matrix.py``, where each route lists which identities get which status: a
route without an entry fails the test, so a new route has to say who may use it.

To see what changed after adding a route: ``ACCESS_MATRIX_WRITE=1 pytest tests/handlers/test_access_matrix.py``
rewrites the table from what the app does; review the diff as you would review code.
"""

from __future__ import annotations

import os
import pprint
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from database import session_scope
from models import (
    Attachment,
    CaseStudy,
    ConsoleLogin,
    Department,
    HandbookTopic,
    HolidayOverride,
    ImportJob,
    KnowledgeEntry,
    OutboundMessage,
    Person,
    Policy,
    PolicyItem,
    PolicyPush,
    PolicyQuestion,
    PushCampaign,
    Role,
    TrainingEvent,
    TrainingRegistration,
    WorkOrder,
    Zone,
    ZoneAddressRule,
)
from services.messaging.notify import Channels
from services.orders.lifecycle import State
from tests.factories import FAST_TEST_HASH

TABLE = Path(__file__).with_name("access_matrix.py")
PASSWORD = "matrix-pass-123"
IDENTITIES = ("anon", "admin", "dispatcher", "bizenv", "leader", "staff", "staff_other", "zoneadmin",
              "zoneadmin_other", "helper", "helper_other", "deptleader", "deptleader_other")
# POSTs that would end the identity's own session or sign-in; their access is covered elsewhere.
SKIPPED_POSTS = {"console.logout", "mobile.logout", "console.login", "mobile.dingtalk_login"}
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|content="([^"]+)"\s+name="csrf-token"')


def _status_class(response) -> str:
    """What the answer says about access: ``ok`` (the handler took the request: a page, a redirect
    after the operation, or a complaint about the empty input, the order's state or the rate),
    ``denied`` (401/403), ``hidden`` (404: no such thing, or not for this person), ``login``."""
    code = response.status_code
    if code in (301, 302, 303, 307, 308):
        location = response.headers.get("Location", "")
        return "login" if "/login" in location else "ok"
    if code in (401, 403):
        return "denied"
    if code == 429:
        return "limited"  # a public page's per-address limit: says nothing about access (see the comparison)
    if code == 404:
        return "hidden"
    if code >= 500:
        return str(code)
    return "ok"


def _world(session, now):
    """The demo, plus sign-ins for one person of each identity."""
    from services.demo.seed import seed_demo

    seed_demo(session, channels=Channels(sandbox=True), now=now)
    from datetime import UTC, datetime

    from services.admin.health import beat

    beat(session, "access-matrix", datetime.now(UTC))  # /readyz: a jobs process is alive
    order = session.scalar(select(WorkOrder).where(WorkOrder.assigned_department_id.is_not(None),
                                                   WorkOrder.zone_id.is_not(None),
                                                   WorkOrder.state == State.PROCESSING).order_by(WorkOrder.id))
    zone, department = session.get(Zone, order.zone_id), session.get(Department, order.assigned_department_id)

    def one(*conditions):
        return session.scalar(select(Person).where(Person.active.is_(True), *conditions).order_by(Person.id))

    people = {
        "admin": one(Person.role == Role.SYSADMIN),
        "dispatcher": one(Person.role == Role.DISPATCHER),
        "bizenv": one(Person.role == Role.BIZENV_OFFICE),
        "leader": one(Person.role == Role.DISTRICT_LEADER),
        "staff": order.enterprise.service_staff or one(Person.role == Role.SERVICE_STAFF, Person.zone_id == zone.id),
        "staff_other": one(Person.role == Role.SERVICE_STAFF, Person.zone_id != zone.id),
        "zoneadmin": one(Person.role == Role.ZONE_ADMIN, Person.zone_id == zone.id),
        "zoneadmin_other": one(Person.role == Role.ZONE_ADMIN, Person.zone_id != zone.id),
        "helper": one(Person.role == Role.CHIEF_HELPER, Person.department_id == department.id),
        "helper_other": one(Person.role == Role.CHIEF_HELPER, Person.department_id != department.id),
        "deptleader": one(Person.role == Role.DEPT_LEADER, Person.department_id == department.id),
        "deptleader_other": one(Person.role == Role.DEPT_LEADER, Person.department_id != department.id),
    }
    missing = [name for name, person in people.items() if person is None]
    assert not missing, f"the demo has no person for {missing}"
    password_hash = generate_password_hash(PASSWORD, method=FAST_TEST_HASH)
    for name, person in people.items():
        login = session.scalar(select(ConsoleLogin).where(ConsoleLogin.person_id == person.id))
        if login is None:
            session.add(ConsoleLogin(person_id=person.id, username=f"matrix-{name}", password_hash=password_hash))
        else:
            login.username, login.password_hash = f"matrix-{name}", password_hash
    bystander = Person(name="矩阵测试人员", role=Role.SERVICE_STAFF, zone_id=zone.id, phone="13900000000")
    session.add(bystander)
    session.flush()

    def first(model, *conditions):
        return session.scalar(select(model.id).where(*conditions).order_by(model.id)) or 999999

    policy = session.scalar(select(Policy).order_by(Policy.id))
    push = session.scalar(select(PolicyPush).order_by(PolicyPush.id))
    survey = session.scalar(select(WorkOrder.survey_token).where(WorkOrder.survey_token.is_not(None)))
    values = {
        "number": order.number, "zone_id": zone.id, "department_id": department.id, "person_id": bystander.id,
        "enterprise_id": order.enterprise_id, "policy_id": policy.id if policy else 999999,
        "item_id": first(PolicyItem), "campaign_id": first(PushCampaign), "event_id": first(TrainingEvent),
        "registration_id": first(TrainingRegistration), "question_id": first(PolicyQuestion),
        "push_id": push.id if push else 999999, "entry_id": first(KnowledgeEntry), "case_id": first(CaseStudy),
        "topic_id": first(HandbookTopic), "job_id": first(ImportJob), "rule_id": first(ZoneAddressRule),
        "message_id": first(OutboundMessage), "attachment_id": first(Attachment), "holiday_id": first(HolidayOverride),
        "platform": "dingtalk", "target": f"zone-{zone.id}", "sha256": "0" * 64, "action": "reply", "step": "applied",
        "token": push.open_token if push is not None else (survey or "unknown-token"),
        "revision_id": _revision(session, now), "template": "whistle", "bulletin_key": "monthly-2026-03",
    }
    session.commit()
    return values


def _revision(session, now) -> int:
    from services.studio import store

    store.apply(session, None, {"command_aliases": {"收到": "报到"}}, reason="矩阵测试", now=now)
    return store.apply(session, None, {"command_aliases": {}}, reason="矩阵测试", now=now).id - 1


def _url(rule, values) -> str | None:
    arguments = {}
    for name in rule.arguments:
        if name not in values:
            return None
        converter = rule._converters.get(name)
        value = values[name]
        choices = getattr(converter, "items", None) if converter is not None else None
        if choices:
            value = sorted(choices)[0]
        arguments[name] = value
    try:
        return rule.build(arguments, append_unknown=False)[1]
    except Exception:
        return None


def _sign_in(app, identity: str):
    client = app.test_client()
    if identity == "anon":
        return client
    page = client.get("/login").get_data(as_text=True)
    token = next(g for g in _TOKEN.search(page).groups() if g)
    response = client.post("/login", data={"username": f"matrix-{identity}", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, f"{identity} could not sign in"
    return client


def _csrf(client) -> str:
    for path in ("/", "/login", "/m/"):
        match = _TOKEN.search(client.get(path).get_data(as_text=True))
        if match:
            return next(g for g in match.groups() if g)
    raise AssertionError("no CSRF token anywhere")


def observe(app, values) -> dict[str, dict[str, str]]:
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)
    clients = {identity: _sign_in(app, identity) for identity in IDENTITIES}
    tokens = {identity: _csrf(client) for identity, client in clients.items()}
    observed: dict[str, dict[str, str]] = {}
    for method in ("GET", "POST"):
        for rule in rules:
            if method not in rule.methods or (method == "POST" and rule.endpoint in SKIPPED_POSTS):
                continue
            url = _url(rule, values)
            key = f"{method} {rule.endpoint}"
            if url is None:
                observed[key] = {"untested": " ".join(IDENTITIES)}
                continue
            by_status: dict[str, list[str]] = {}
            for identity, client in clients.items():
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, data={"csrf_token": tokens[identity]})
                response.get_data()  # a streamed export runs to its end inside its request
                response.close()
                status = _status_class(response)
                assert not status.startswith("5"), f"{key} as {identity}: {response.status_code}"
                by_status.setdefault(status, []).append(identity)
            observed[key] = {status: " ".join(names) for status, names in sorted(by_status.items())}
    return observed


def test_every_route_answers_every_identity_as_expected(app, session_factory, now):
    with session_scope(session_factory) as session:
        values = _world(session, now)
    observed = observe(app, values)
    if os.environ.get("ACCESS_MATRIX_WRITE"):
        TABLE.write_text(
            '"""Who gets what from each route (see test_access_matrix.py); reviewed like code."""\n\n'
            f"EXPECTED = {pprint.pformat(observed, width=118, sort_dicts=True)}\n", encoding="utf-8")
        pytest.skip("access matrix rewritten: review the diff")
    from tests.handlers.access_matrix import EXPECTED

    unlisted = sorted(set(observed) - set(EXPECTED))
    assert not unlisted, f"routes without an entry in the access matrix: {unlisted}"
    gone = sorted(set(EXPECTED) - set(observed))
    assert not gone, f"entries for routes that no longer exist: {gone}"
    differences = {key: (EXPECTED[key], observed[key]) for key in observed
                   if _by_identity(observed[key]) != _by_identity(EXPECTED[key])}
    assert not differences, pprint.pformat(differences, width=118)


def _by_identity(row: dict[str, str]) -> dict[str, str]:
    """identity → answer, leaving out the rate-limited ones (public pages count every request of
    the whole run against 127.0.0.1, so who is limited depends on what ran before)."""
    result = {}
    for status, names in row.items():
        for name in names.split():
            result[name] = status
    return {name: status for name, status in result.items() if status != "limited"}
