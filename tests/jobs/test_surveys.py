from datetime import timedelta

from sqlalchemy import select

from jobs.definitions import utc_now
from jobs.scheduler import run_job_now
from models import OutboundMessage, Role, Satisfaction, SystemSetting, WorkOrderEvent
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.lifecycle import Action
from services.orders.surveys import send_due_surveys

CHANNELS = Channels(sandbox=True)
BASE_URL = "https://qy.tjbc.gov.cn"


def surveys(session, order):
    return list(session.scalars(
        select(OutboundMessage).where(OutboundMessage.work_order_id == order.id, OutboundMessage.kind == "survey")
        .order_by(OutboundMessage.id)
    ))


def fed_back_order(factory, now, staff=None):
    staff = staff or factory.person(Role.SERVICE_STAFF, name="张服务")
    order = factory.order(staff, now, level=1)  # handled in the zone by its service staff member
    wo.resolve(factory.ctx(staff, now + timedelta(hours=1)), order, result="已协调道路养护单位完成修复")
    wo.feedback(factory.ctx(staff, now + timedelta(hours=2)), order, note="电话告知企业负责人")
    return staff, order


def test_survey_after_the_delay_then_one_reminder(session, factory, now):
    staff, order = fed_back_order(factory, now)
    fed = order.feedback_at

    def run(hours):
        return send_due_surveys(session, fed + timedelta(hours=hours), CHANNELS, 24, 24, base_url=BASE_URL)

    assert run(23.9) == 0
    assert run(24) == 1
    assert order.survey_sent_at == fed + timedelta(hours=24)
    assert run(25) == 0
    [invite] = surveys(session, order)
    assert (invite.target_type, invite.target_ref) == ("person", str(staff.id))
    assert invite.payload["url"] == f"/s/{order.survey_token}"
    assert invite.payload["options"] == list(Satisfaction.ALL)
    # The staff member forwards the text to the enterprise: its link must open outside the desk.
    assert f"评价链接：{BASE_URL}/s/{order.survey_token}\n" in invite.payload["text"]
    assert "基本满意" in invite.payload["text"]

    assert run(47.9) == 0
    assert run(48) == 1
    assert order.survey_reminded_at == fed + timedelta(hours=48)
    assert run(72) == 0 and run(500) == 0
    invite, reminder = surveys(session, order)
    assert reminder.payload["title"] == "满意度回访提醒"

    notes = [e.note for e in session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == Action.COMMENT)
        .order_by(WorkOrderEvent.id)
    )]
    assert notes[-2:] == ["已发送满意度回访邀请", "再次提醒企业填写满意度回访"]


def test_survey_goes_to_the_service_staff_and_the_submitter(session, factory, now):
    dispatcher = factory.person(Role.DISPATCHER, name="赵调度")
    staff = factory.person(Role.SERVICE_STAFF, name="张服务")
    enterprise = factory.enterprise(staff=staff)
    order = factory.order(dispatcher, now, level=1, enterprise=enterprise)
    wo.resolve(factory.ctx(dispatcher, now), order, result="已办结并电话答复")
    wo.feedback(factory.ctx(staff, now), order)
    assert send_due_surveys(session, now + timedelta(hours=24), CHANNELS, 24, 24, base_url=BASE_URL) == 1
    assert sorted(m.target_ref for m in surveys(session, order)) == sorted([str(staff.id), str(dispatcher.id)])


def test_rated_orders_get_no_reminder(session, factory, now):
    staff, order = fed_back_order(factory, now)
    fed = order.feedback_at
    assert send_due_surveys(session, fed + timedelta(hours=24), CHANNELS, 24, 24, base_url=BASE_URL) == 1
    wo.visit(factory.ctx(staff, fed + timedelta(hours=30)), order, satisfaction="满意")
    assert send_due_surveys(session, fed + timedelta(hours=60), CHANNELS, 24, 24, base_url=BASE_URL) == 0
    assert len(surveys(session, order)) == 1


# --------------------------------------------------------------------------------------------
# The job reads 系统参数 on every run: the administrator's value wins, the environment is the default
# --------------------------------------------------------------------------------------------
def _save_settings(session, factory, **values):
    from services.admin import operations as admin

    ac = admin.AdminContext(session=session, actor=factory.person(Role.SYSADMIN), now=utc_now())
    form = {**admin.current_settings(session), **values}  # the page posts every field
    admin.update_settings(ac, {k: str(v) for k, v in form.items()})
    session.commit()


def _fed_back_hours_ago(session, factory, hours):
    staff, order = fed_back_order(factory, utc_now() - timedelta(hours=hours + 3))
    order.feedback_at = utc_now() - timedelta(hours=hours)
    session.commit()
    return order


def test_survey_delay_setting_takes_effect_without_restart(app, session, factory):
    order = _fed_back_hours_ago(session, factory, 3)
    assert app.extensions["settings"].survey_delay_hours == 24  # the environment's default
    assert run_job_now(app, "send_surveys").endswith("0 件")
    _save_settings(session, factory, survey_delay_hours=1)
    assert run_job_now(app, "send_surveys").endswith("1 件")
    session.expire_all()
    assert order.survey_sent_at is not None and len(surveys(session, order)) == 1
    # The job puts the site's address (BASE_URL) in front of the link the enterprise receives.
    assert f"评价链接：http://127.0.0.1:5000/s/{order.survey_token}" in surveys(session, order)[0].payload["text"]


def test_survey_reminder_setting_takes_effect_without_restart(app, session, factory):
    order = _fed_back_hours_ago(session, factory, 30)
    order.survey_token = "t" * 24
    order.survey_sent_at = utc_now() - timedelta(hours=3)
    session.commit()
    assert run_job_now(app, "send_surveys").endswith("0 件")
    _save_settings(session, factory, survey_reminder_hours=2)
    assert run_job_now(app, "send_surveys").endswith("1 件")
    session.expire_all()
    assert order.survey_reminded_at is not None


def test_environment_supplies_the_default_until_a_value_is_saved(app, session, factory, monkeypatch):
    order = _fed_back_hours_ago(session, factory, 3)
    env = app.extensions["settings"].with_overrides({"survey_delay_hours": 2.0})
    monkeypatch.setitem(app.extensions, "settings", env)  # as if started with SURVEY_DELAY_HOURS=2
    _save_settings(session, factory, max_returns=4)  # saving the page does not pin the survey hours
    assert session.get(SystemSetting, "survey_delay_hours") is None
    session.rollback()  # SQLite: no transaction held while the job writes
    assert run_job_now(app, "send_surveys").endswith("1 件")
    session.expire_all()
    assert order.survey_sent_at is not None
