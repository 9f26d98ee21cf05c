"""The issue's end-to-end walk, through the real surfaces: the sandbox chat, the jobs and the web.

Level 2: a staff member files by chat → the department group sees the whistle @-mentioning the
right chief helper → 报到 → 办结 → result fed back → the survey job sends the link → the
enterprise answers 不满意 with a comment on the public page → reopened → 办结 → 满意 → archived.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from integrations.sandbox import SandboxAdapter
from models import OutboundMessage, Person, Role, SandboxMessage, WorkOrder
from services.messaging import chat as chat_inbound
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.lifecycle import Action, State
from services.orders.operations import OpContext
from services.orders.surveys import send_due_surveys
from services.ratelimit import DatabaseRateLimiter
from tests.factories import relative_links


def say(session_factory, person_id, text, at, conversation=None):
    with session_factory() as session:
        actor = session.get(Person, person_id)
        ctx = OpContext(session, actor, at, "sandbox", Channels(sandbox=True))
        result = chat_inbound.handle_text(ctx, text, conversation=conversation)
        session.commit()
        return result.reply


def deliver(session_factory, at):
    deliver_due(session_factory, {"sandbox": SandboxAdapter()}, DatabaseRateLimiter(session_factory),
                worker_id="e2e", now_fn=lambda: at, batch_size=200, max_attempts=3)


def bubbles(session_factory, conversation):
    with session_factory() as session:
        return [m.text for m in session.scalars(
            select(SandboxMessage).where(SandboxMessage.conversation == conversation).order_by(SandboxMessage.id))]


def current(session_factory, number) -> WorkOrder:
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        session.expunge(order)
        return order


def survey_answer(client, token, satisfaction, comment=""):
    page = client.get(f"/s/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"/s/{token}", data={"csrf_token": csrf, "satisfaction": satisfaction,
                                            "resolved": "yes" if satisfaction != "不满意" else "no",
                                            "comment": comment})


def test_level_two_loop_through_chat_jobs_and_survey_page(session_factory, factory, session, client, now):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF, name="王晓燕")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="李建国")
    other_dept_helper = factory.person(Role.CHIEF_HELPER, department=factory.department("czj"), name="钱多多")
    enterprise = factory.enterprise(staff=staff, name="天津北辰精工机械有限公司")
    session.commit()
    t = now

    reply = say(session_factory, staff.id, f"诉求 {enterprise.uscc} 企业扩产急需招聘30名数控技工，请协助对接", t)
    number = re.search(r"BC-\d{8}-\d{4}", reply).group(0)
    assert current(session_factory, number).level == 1
    reply = say(session_factory, staff.id, f"升级 {number[-4:]} 需要人社局协调招聘资源", t)
    assert current(session_factory, number).state == State.PENDING_DISPATCH

    # The grid center dispatches it to 人社局: the whistle @-mentions 李建国 in the 人社局 group.
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"))
    session.commit()
    with session_factory() as s:
        wo.dispatch(OpContext(s, s.get(Person, dispatcher.id), t, "console", Channels()),
                    wo.get_order(s, number), department_id=rsj.id)
        s.commit()
    deliver(session_factory, t)
    whistle = next(text for text in bubbles(session_factory, f"group:{rsj.id}") if "【吹哨报到】" in text)
    assert "@李建国" in whistle and number in whistle and "钱多多" not in whistle

    t += timedelta(minutes=30)
    refusal = say(session_factory, other_dept_helper.id, f"报到 {number}", t)
    assert "人社局" in refusal and current(session_factory, number).state == State.DISPATCHED
    assert "已报到" in say(session_factory, helper.id, f"报到 {number[-4:]}", t, conversation=f"group:{rsj.id}")
    t += timedelta(hours=2)
    say(session_factory, helper.id, f"办结 {number[-4:]} 已安排企业参加3月9日专场招聘会", t)
    say(session_factory, staff.id, f"反馈 {number[-4:]} 已电话告知企业", t + timedelta(minutes=5))
    assert current(session_factory, number).state == State.FED_BACK

    # 24 hours later the survey job sends the link; the enterprise answers on the public page.
    t += timedelta(hours=25)
    with session_factory() as s:
        assert send_due_surveys(s, t, Channels(sandbox=True), 24, 24, base_url="http://127.0.0.1:5000") == 1
        s.commit()
    deliver(session_factory, t)
    token = current(session_factory, number).survey_token
    assert any(f"/s/{token}" in text for text in bubbles(session_factory, f"person:{staff.id}"))
    response = survey_answer(client, token, "不满意")
    assert response.status_code == 422 and "意见" in response.get_data(as_text=True)
    assert survey_answer(client, token, "不满意", "招聘会人数少，未招到人").status_code in (200, 302)
    reopened = current(session_factory, number)
    assert reopened.state == State.PROCESSING and reopened.reopen_count == 1

    t += timedelta(hours=3)
    say(session_factory, helper.id, f"办结 {number[-4:]} 协调两所职业院校定向输送20名毕业生", t)
    say(session_factory, staff.id, f"反馈 {number[-4:]} 上门告知", t)
    say(session_factory, staff.id, f"回访 {number[-4:]} 满意 感谢", t)
    final = current(session_factory, number)
    assert final.state == State.ARCHIVED

    with session_factory() as s:
        actions = [e.action for e in wo.get_order(s, number).events]
    for expected in (Action.CREATE, Action.ESCALATE, Action.DISPATCH, Action.SIGN, Action.RESOLVE,
                     Action.FEEDBACK, Action.VISIT, Action.REOPEN, Action.ARCHIVE):
        assert expected in actions, expected
    assert actions.count(Action.VISIT) == 2

    # Every message that left the desk on the way: its links open outside the desk.
    with session_factory() as s:
        texts = [m.payload.get("text", "") for m in s.scalars(select(OutboundMessage))]
    assert texts and all(not relative_links(text) for text in texts), [relative_links(t) for t in texts]
