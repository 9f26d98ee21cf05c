"""Small builders for test data on top of the seeded reference data."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from sqlalchemy import select

from models import ConsoleLogin, Department, Enterprise, Person, Role, ServiceStage, Zone, utcnow
from services.admin import sessions
from services.messaging.notify import Channels
from services.orders.operations import NewOrder, OpContext, create_order

_counter = itertools.count(1)
# The site's address in tests (tests/conftest.py sets BASE_URL to it): links that leave the desk use it.
TEST_BASE_URL = "http://127.0.0.1:5000"
# Production hashes use werkzeug's default (scrypt); tests only need a valid hash, quickly.
FAST_TEST_HASH = "pbkdf2:sha256:1000"

# A desk path not preceded by a scheme and host: "评价链接：/s/abc" is one, "https://x/s/abc" is not.
_RELATIVE_LINK = re.compile(r"(?<![\w.:/-])/(?:s|p|m|knowledge|cases|faq|contact|orders|policies|registry|grid)/")


def relative_links(text: str) -> list[str]:
    """Relative desk links in a text that leaves the system (they lead nowhere in a chat or an SMS)."""
    return [text[m.start():m.start() + 40] for m in _RELATIVE_LINK.finditer(text or "")]


# 18-character codes with valid GB 32100 check digits, generated on demand.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def make_uscc(serial: int, kind: str = "1") -> str:
    body = f"9{kind}120113" + f"{serial:09d}"
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def sign_in_cookie(client, person: Person) -> None:
    """Sign ``person`` in on the test ``client`` as the login page would, without the form."""
    with client.session_transaction() as cookie_session:
        cookie_session.clear()
        cookie_session.update(sessions.new_session(person, utcnow()))


class Factory:
    def __init__(self, session):
        self.session = session

    def zone(self, code="tianmu") -> Zone:
        return self.session.scalar(select(Zone).where(Zone.code == code))

    def department(self, code: str) -> Department:
        return self.session.scalar(select(Department).where(Department.code == code))

    def stage(self, code: str) -> ServiceStage:
        return self.session.scalar(select(ServiceStage).where(ServiceStage.code == code))

    def person(self, role=Role.SERVICE_STAFF, *, zone=None, department=None, name=None, login=None, **kw) -> Person:
        n = next(_counter)
        if role in Role.ZONE_ROLES and zone is None:
            zone = self.zone()
        person = Person(
            name=name or f"测试{n}", role=role, zone=zone, department=department, phone=f"139{n:08d}", **kw
        )
        self.session.add(person)
        self.session.flush()
        if login:
            from werkzeug.security import generate_password_hash

            self.session.add(ConsoleLogin(person_id=person.id, username=login,
                                          password_hash=generate_password_hash("demo-pass-123", method=FAST_TEST_HASH)))
            self.session.flush()
        return person

    def enterprise(self, *, zone=None, staff=None, key_industry=False, name=None, **kw) -> Enterprise:
        n = next(_counter)
        enterprise = Enterprise(
            uscc=make_uscc(n), name=name or f"天津测试企业{n}有限公司", zone=zone or self.zone(),
            service_staff=staff, is_key_industry=key_industry, **kw,
        )
        self.session.add(enterprise)
        self.session.flush()
        return enterprise

    def ctx(self, actor, now: datetime, channel="console") -> OpContext:
        return OpContext(self.session, actor, now, channel, Channels(sandbox=True), base_url=TEST_BASE_URL)

    def order(self, actor, now, **fields):
        enterprise = fields.pop("enterprise", None) or self.enterprise(staff=actor)
        data = NewOrder(enterprise_id=enterprise.id, content=fields.pop("content", "企业厂区门前道路破损，影响货车通行，请协调修复"),
                        **fields)
        return create_order(self.ctx(actor, now), data)
