"""Shared set-up for the knowledge tests: people of every relevant role (with sign-in), the
operation context, and closed work orders to write cases from."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from models import RequestDomain, Role, ServiceStage
from services.knowledge.entries import KnowledgeContext
from services.orders import operations as wo


@pytest.fixture
def people(factory, session):
    rsj, zjw = factory.department("rsj"), factory.department("zjw")
    ns = SimpleNamespace(rsj=rsj, zjw=zjw)
    ns.bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), name="营商办",
                               login="bizenv")
    ns.admin = factory.person(Role.SYSADMIN, name="周管理", login="admin")
    ns.dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度",
                                   login="dispatcher")
    ns.helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="李帮办", login="helper")
    ns.zjw_helper = factory.person(Role.CHIEF_HELPER, department=zjw, name="吴帮办", login="zjwhelper")
    ns.staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    ns.leader = factory.person(Role.DISTRICT_LEADER, name="钱区长", login="leader")
    return ns


@pytest.fixture
def ref(session):
    domains = {d.code: d for d in session.scalars(select(RequestDomain))}
    stages = {s.code: s for s in session.scalars(select(ServiceStage))}
    return SimpleNamespace(domain=domains, stage=stages)


@pytest.fixture
def kctx(session, now):
    def make(actor, at=None):
        return KnowledgeContext(session, actor, at or now, ip="203.0.113.9")

    return make


@pytest.fixture
def close_order(factory, people):
    """A level-2 order to 人社局, signed, resolved, fed back and rated — archived."""

    def make(now, *, enterprise=None, content="企业急需招聘 30 名数控技术工人，请协助对接招聘会和用工补贴",
             result="已协调举办专场招聘会，企业招到 30 人", stop_at=None, **fields):
        staff, helper = people.staff, people.helper
        order = factory.order(staff, now, enterprise=enterprise, level=2, department_id=people.rsj.id,
                              content=content, **fields)
        steps = (
            ("sign", lambda: wo.sign(factory.ctx(helper, now), order)),
            ("resolve", lambda: wo.resolve(factory.ctx(helper, now), order, result=result)),
            ("feedback", lambda: wo.feedback(factory.ctx(staff, now), order, note="已电话告知企业")),
            ("visit", lambda: wo.visit(factory.ctx(staff, now), order, satisfaction="满意", comment="很及时")),
        )
        for name, step in steps:
            if name == stop_at:
                break
            order = step()
        return order

    return make
