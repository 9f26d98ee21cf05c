"""The phone as a whole workplace (390×844): a zone staff member escalates an order to 区级会商 and
the business-environment office holds the 联席会商 on the phone, picking the departments as chips."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import JointMeeting, Role, WorkOrder, WorkOrderEvent
from services.orders.lifecycle import Action, State
from tests.browser.test_mobile_h5 import console_sign_in, phone_page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect

SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


@pytest.fixture
def seeded(factory, session, now):
    ids = {"zjw": factory.department("zjw").id, "rsj": factory.department("rsj").id}
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    factory.person(Role.BIZENV_OFFICE, name="郑营商", login="bizenv")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    order = factory.order(staff, now, enterprise=enterprise,
                          content="企业扩建厂房涉及规划、消防、供电多个部门，审批进度缓慢，请协调推进。")
    assert order.level == 1 and order.state == State.PROCESSING
    number = order.number
    session.commit()
    return number, ids


def test_escalate_to_level_3_and_hold_a_joint_meeting_on_a_phone(live_server, browser, seeded, session_factory,
                                                                artifacts):
    base = live_server
    order_number, ids = seeded
    # The zone staff member: 升级 → 区级会商办理, with the reason, from the order page.
    context, page = phone_page(browser, user_agent=SAFARI)
    console_sign_in(page, base, "staff", f"/m/orders/{order_number}")
    page.click("#act-escalate summary")
    page.click("#act-escalate label.m-choice:has(input[name=level][value='3'])")
    page.fill("#act-escalate textarea[name=reason]", "涉及规划、消防、供电三个部门，部门间难以协调，需区级会商")
    page.screenshot(path=str(artifacts / "mobile-escalate.png"), full_page=True)
    page.click("#act-escalate button[data-action=escalate]")
    page.wait_for_url(f"{base}/m/orders/{order_number}")
    expect(page.locator(".m-badge").nth(1)).to_have_text("区级会商办理")
    context.close()

    # The business-environment office: 联席会商 with departments tapped as chips.
    context, page = phone_page(browser, user_agent=SAFARI)
    console_sign_in(page, base, "bizenv", f"/m/orders/{order_number}")
    page.click("#act-joint_meeting summary")
    chips = page.locator("#act-joint_meeting .m-chip")
    expect(page.locator("#act-joint_meeting [data-check-filter]")).to_be_visible()
    page.fill("#act-joint_meeting [data-check-filter]", "人社")
    page.click("#act-joint_meeting .m-chip:has-text('人社局')")
    page.fill("#act-joint_meeting [data-check-filter]", "住建")
    page.click("#act-joint_meeting .m-chip:has-text('住建委')")
    page.fill("#act-joint_meeting [data-check-filter]", "")
    expect(chips.locator("input:checked")).to_have_count(2)
    box = page.locator("#act-joint_meeting .m-chip:has-text('人社局') span").bounding_box()
    assert box["height"] >= 40  # a finger, not a mouse
    page.select_option("#act-joint_meeting select[name=lead_department_id]", label="住建委")
    page.fill("#act-joint_meeting textarea[name=decisions]", "住建委牵头，人社局配合，两周内完成审批协调")
    page.screenshot(path=str(artifacts / "mobile-joint-meeting.png"), full_page=True)
    page.click("#act-joint_meeting button[data-action=joint_meeting]")
    page.wait_for_url(f"{base}/m/orders/{order_number}")
    expect(page.locator(".m-alert").first).to_contain_text("联席会商已记录")
    context.close()

    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == order_number))
        assert order.level == 3 and order.state == State.DISPATCHED
        assert order.assigned_department_id == ids["zjw"]
        [meeting] = s.scalars(select(JointMeeting).where(JointMeeting.work_order_id == order.id))
        assert sorted(d.id for d in meeting.departments) == sorted([ids["zjw"], ids["rsj"]])
        channels = {e.action: e.channel for e in s.scalars(select(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id))}
        # A console session on a phone is recorded as 移动端, not as the web console.
        assert channels[Action.ESCALATE] == "mobile" and channels[Action.JOINT_MEETING] == "mobile"
    assert re.match(r"BC-\d{8}-\d{4}", order_number)
