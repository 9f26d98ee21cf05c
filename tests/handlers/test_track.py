"""The enterprise's progress page /track: number + last four digits of the contact mobile."""

from __future__ import annotations

from datetime import timedelta

from database import session_scope
from models import Role
from services.orders import operations as wo
from tests.factories import Factory

PHONE = "13812345678"


def handled_order(session_factory, now):
    with session_scope(session_factory) as session:
        factory = Factory(session)
        staff = factory.person(Role.SERVICE_STAFF, name="张服务")
        helper_dept = factory.department("rsj")
        helper = factory.person(Role.CHIEF_HELPER, department=helper_dept, name="赵帮办")
        enterprise = factory.enterprise(staff=staff, contact_phone=PHONE, name="天津北辰示例机械有限公司")
        order = factory.order(staff, now, enterprise=enterprise, level=2, department_id=helper_dept.id)
        wo.sign(factory.ctx(helper, now + timedelta(minutes=5)), order)
        wo.comment(factory.ctx(helper, now + timedelta(minutes=6)), order, text="内部备注：请财务科配合")
        wo.resolve(factory.ctx(helper, now + timedelta(hours=1)), order, result="已为企业办理稳岗返还")
        wo.feedback(factory.ctx(staff, now + timedelta(hours=2)), order, note="电话告知")
        return order.number


def test_right_code_shows_plain_progress_without_internal_notes_or_officials(client, session_factory, now):
    number = handled_order(session_factory, now)
    page = client.get(f"/track?number={number}&code=5678")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "已办结，请评价" in text and "已为企业办理稳岗返还" in text
    assert "承办单位已签收，正在办理" in text and "张服务" in text
    assert "赵帮办" not in text and "内部备注" not in text and "人社" not in text
    assert 'id="track-survey" href="/s/' in text


def test_wrong_code_and_unknown_number_reveal_nothing(client, session_factory, now):
    number = handled_order(session_factory, now)
    wrong = client.get(f"/track?number={number}&code=0000")
    unknown = client.get("/track?number=BC-20990101-0001&code=5678")
    assert wrong.status_code == unknown.status_code == 404
    for answer in (wrong, unknown):
        text = answer.get_data(as_text=True)
        assert "未找到该工单，或查询码不正确" in text and "天津北辰示例机械" not in text
    assert client.get("/track").status_code == 200


def test_lookups_are_rate_limited_per_client(client, session_factory, now):
    number = handled_order(session_factory, now)
    codes = [f"{n:04d}" for n in range(25)]
    statuses = [client.get(f"/track?number={number}&code={code}",
                           environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code for code in codes]
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}
    # Even the right code is refused while the limit holds: guessing cannot continue.
    assert client.get(f"/track?number={number}&code=5678", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 429
    assert client.get(f"/track?number={number}&code=5678", environ_base={"REMOTE_ADDR": "10.9.8.8"}).status_code == 200


def test_an_administrator_records_and_lifts_an_opt_out(client, session_factory, now):
    from models import AuditLog, SmsOptOut
    from tests.factories import sign_in_cookie

    with session_scope(session_factory) as session:
        admin = Factory(session).person(Role.SYSADMIN, name="管理员")
    sign_in_cookie(client, admin)
    page = client.get("/admin/sms-opt-outs")
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/admin/sms-opt-outs", data={"phone": "12345", "csrf_token": token}).status_code == 422
    assert client.post("/admin/sms-opt-outs", data={"phone": "+86 138 1234 5678", "note": "企业来电要求退订",
                                                    "csrf_token": token}).status_code == 302
    with session_factory() as session:
        assert session.get(SmsOptOut, PHONE).method == "admin"
    assert client.post("/admin/sms-opt-outs/remove", data={"phone": PHONE, "csrf_token": token}).status_code == 302
    with session_factory() as session:
        assert session.get(SmsOptOut, PHONE) is None
        actions = {a.action for a in session.query(AuditLog).all()}
        assert {"sms.opt_out", "sms.opt_in"} <= actions


def test_the_sandbox_shows_texts_and_takes_the_enterprises_td_reply(client, session_factory, now):
    from models import SandboxMessage, SmsOptOut
    from tests.factories import sign_in_cookie

    with session_scope(session_factory) as session:
        admin = Factory(session).person(Role.SYSADMIN, name="管理员")
        session.add(SandboxMessage(conversation=f"sms:{PHONE}", direction="out", text="您的诉求已受理，工单号 BC-1",
                                   created_at=now))
    sign_in_cookie(client, admin)
    page = client.get(f"/sandbox?c=sms:{PHONE}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "企业手机 138****5678" in text and "您的诉求已受理" in text
    token = text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/sandbox/send", data={"csrf_token": token, "conversation": f"sms:{PHONE}", "text": "TD"})
    assert answer.status_code == 302
    with session_factory() as session:
        assert session.get(SmsOptOut, PHONE).method == "reply"
