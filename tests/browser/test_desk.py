"""Chromium: a 86912345 desk operator takes a phone call in one screen — the caller's number finds
the enterprise and its earlier order, the knowledge base suggests an answer while the request is
typed, the call is answered on the spot and the caller's order number is shown (and texted)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrder
from services.admin.operations import AdminContext
from services.knowledge import entries as knowledge
from tests.browser.helpers import desktop_page, sign_in

pytestmark = pytest.mark.browser
PHONE = "13812345678"


@pytest.fixture
def seeded(factory, session, now):
    bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), name="营商办")
    factory.person(Role.DESK_OPERATOR, department=factory.department("one_number_desk"), name="李坐席", login="desk")
    staff = factory.person(Role.SERVICE_STAFF, name="张服务")
    enterprise = factory.enterprise(staff=staff, name="天津北辰示例机械有限公司", contact_phone=PHONE)
    earlier = factory.order(staff, now, enterprise=enterprise, level=1, content="厂区门前道路破损，请协调修复")
    ctx = AdminContext(session=session, actor=bizenv, now=now, ip="")
    entry = knowledge.create_entry(ctx, {"title": "稳岗返还怎么申请？",
                                         "answer": "稳岗返还实行免申即享，符合条件的企业由人社局直接返还。",
                                         "keywords": "稳岗返还、稳岗"})
    knowledge.publish(ctx, entry.id)
    session.commit()
    return earlier.number


def test_a_call_is_taken_in_one_screen(live_server, browser, seeded, session_factory, artifacts):
    base = live_server
    page = desktop_page(browser)
    sign_in(page, base, "desk")
    page.click("text=来电受理")
    page.wait_for_url(f"{base}/desk")
    page.fill("#desk-phone", PHONE)
    page.wait_for_selector("#desk-caller >> text=天津北辰示例机械有限公司")
    page.wait_for_selector(f"#desk-history >> text={seeded}")
    assert page.locator("#desk-caller input[type=radio]").first.is_checked()
    page.fill("input[name=caller_name]", "王经理")
    page.fill("textarea[name=content]", "企业想了解稳岗返还怎么申请，需要准备哪些材料")
    page.wait_for_selector("#knowledge-suggest >> text=稳岗返还怎么申请？")
    assert page.locator("textarea[name=answer]").is_hidden()
    page.check("input[name=outcome][value=answered]")
    assert page.locator("textarea[name=answer]").is_visible()
    assert page.locator("select[name=department_id]").is_hidden()
    page.fill("textarea[name=answer]", "稳岗返还实行免申即享，无需提交材料，符合条件的由人社局直接返还")
    page.screenshot(path=str(artifacts / "desk-intake.png"), full_page=True)
    page.click("#desk-save")
    saved = page.wait_for_selector("#desk-saved")
    number = saved.inner_text().split("已登记工单", 1)[1].split("（", 1)[0].strip()
    assert page.url == f"{base}/desk"  # one screen: ready for the next call
    assert page.locator("#desk-phone").input_value() == ""
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert (order.channel, order.level, order.state) == ("desk", 1, "fed_back")
        texts = session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == order.id,
                                                              OutboundMessage.channel == "sms")).all()
        assert [t.target_ref for t in texts if t.payload["message"] == "accepted"] == [PHONE]
