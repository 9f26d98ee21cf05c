"""Training and consultation operations: events, invitations, sign-up, attendance, questions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import (
    AuditLog,
    OutboundMessage,
    Policy,
    PolicyItem,
    PolicyPush,
    Role,
    TrainingInvitation,
    TrainingKind,
    TrainingStatus,
)
from services.errors import Conflict, PermissionDenied, ValidationFailed
from services.messaging.notify import Channels
from services.policies import training
from services.policies.training import TrainingContext, local_input


@pytest.fixture
def people(factory):
    kjj = factory.department("kjj")
    tianmu, beicang = factory.zone("tianmu"), factory.zone("beicang")
    return {
        "helper": factory.person(Role.CHIEF_HELPER, department=kjj, name="科技首席"),
        "other_helper": factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="人社首席"),
        "staff": factory.person(Role.SERVICE_STAFF, zone=tianmu, name="王服务"),
        "staff2": factory.person(Role.SERVICE_STAFF, zone=beicang, name="李服务"),
        "kjj": kjj,
        "tianmu": tianmu,
        "beicang": beicang,
    }


def ctx(session, actor, now):
    return TrainingContext(session=session, actor=actor, now=now, ip="127.0.0.1", channels=Channels(sandbox=True))


def event_form(now, people, **over):
    data = {
        "title": "高新技术企业认定政策培训", "kind": TrainingKind.TRAINING,
        "starts_at": local_input(now + timedelta(days=3)), "ends_at": local_input(now + timedelta(days=3, hours=2)),
        "place": "区政务服务中心三楼会议室", "capacity": "2", "department_id": str(people["kjj"].id),
    }
    data.update(over)
    return data


def test_create_validates_in_chinese_and_audits(session, people, now):
    with pytest.raises(ValidationFailed) as error:
        training.save_event(ctx(session, people["helper"], now), None, {
            "title": "培训", "kind": "联欢会", "starts_at": "2026-03-05T10:00", "ends_at": "2026-03-05T09:00",
            "online_url": "ftp://x", "capacity": "0", "department_id": str(people["kjj"].id),
        }, {"size_bands": ["巨"]})
    fields = error.value.fields
    assert fields["title"].startswith("请填写活动名称")
    assert "活动类型" in fields["kind"] and "晚于开始时间" in fields["ends_at"]
    assert "http" in fields["online_url"] and "正整数" in fields["capacity"] and "企业规模" in fields["size_bands"]

    with pytest.raises(ValidationFailed) as error:
        training.save_event(ctx(session, people["other_helper"], now), None, event_form(now, people))
    assert "本部门" in error.value.fields["department_id"]
    with pytest.raises(PermissionDenied):
        training.save_event(ctx(session, people["staff"], now), None, event_form(now, people))

    event = training.save_event(ctx(session, people["helper"], now), None, event_form(now, people),
                                {"qualifications": "高新技术企业"})
    assert event.status == TrainingStatus.PLANNED and event.audience["qualifications"] == ["高新技术企业"]
    assert event.starts_at == now + timedelta(days=3)
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "training.create")) == 1


def test_invitations_are_set_based_never_twice_one_digest_per_staff(session, factory, people, now):
    e1 = factory.enterprise(staff=people["staff"], qualifications=["高新技术企业"])
    e2 = factory.enterprise(staff=people["staff"], qualifications=["高新技术企业", "专精特新"])
    e3 = factory.enterprise(zone=people["beicang"], staff=people["staff2"], qualifications=["高新技术企业"])
    orphan = factory.enterprise(qualifications=["高新技术企业"])
    factory.enterprise(staff=people["staff"], qualifications=["专精特新"])  # not in the audience
    factory.enterprise(staff=people["staff"], qualifications=["高新技术企业"], status="注销")  # not operating
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people), {"qualifications": ["高新技术企业"]})
    with pytest.raises(Conflict):
        training.invite(c, event)  # still planned
    training.set_status(c, event, TrainingStatus.OPEN)
    with pytest.raises(Conflict, match="免打扰时段（21:00-08:00）"):
        training.invite(ctx(session, people["helper"], now + timedelta(hours=12)), event)  # 22:00 in Beijing

    preview = training.audience_preview(session, event, now)
    assert preview.total == 4

    result = training.invite(c, event)
    assert (result.invited, result.already, result.digests, result.without_staff) == (4, 0, 2, 1)
    invited = set(session.scalars(select(TrainingInvitation.enterprise_id).where(TrainingInvitation.event_id == event.id)))
    assert invited == {e1.id, e2.id, e3.id, orphan.id}
    digests = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "notice")).all()
    assert sorted(m.target_ref for m in digests) == sorted([str(people["staff"].id), str(people["staff2"].id)])
    mine = next(m for m in digests if m.target_ref == str(people["staff"].id))
    assert "你负责的 2 家企业" in mine.payload["text"] and mine.payload["url"] == f"/m/trainings/{event.id}"

    later = ctx(session, people["helper"], now + timedelta(minutes=5))
    again = training.invite(later, event)
    assert (again.invited, again.already, again.digests) == (0, 4, 0)
    e4 = factory.enterprise(staff=people["staff"], qualifications=["高新技术企业"])
    third = training.invite(ctx(session, people["helper"], now + timedelta(minutes=10)), event)
    assert (third.invited, third.digests) == (1, 1)
    assert [i.enterprise_id for i in training.invitations_for_staff(session, event, people["staff"])] == [
        e1.id, e2.id, e4.id]
    text = training.forward_text(event, e1, "http://x/p/abc")
    assert e1.name in text and "高新技术企业认定政策培训" in text and "http://x/p/abc" in text
    with pytest.raises(PermissionDenied):
        training.invite(ctx(session, people["other_helper"], now), event)


def test_sign_up_capacity_duplicates_permissions_and_self_service(session, factory, people, now):
    mine = factory.enterprise(staff=people["staff"])
    theirs = factory.enterprise(zone=people["beicang"], staff=people["staff2"])
    third = factory.enterprise(staff=people["staff"])
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people))
    contact = {"contact_name": "张经理", "contact_phone": "13800001111"}
    with pytest.raises(Conflict, match="暂不能报名"):
        training.register(ctx(session, people["staff"], now), event, mine, contact)
    training.set_status(c, event, TrainingStatus.OPEN)
    with pytest.raises(PermissionDenied):
        training.register(ctx(session, people["staff"], now), event, theirs, contact)
    with pytest.raises(ValidationFailed) as error:
        training.register(ctx(session, people["staff"], now), event, mine, {"contact_name": "", "contact_phone": "12"})
    assert error.value.fields == {"contact_name": "请填写参会联系人", "contact_phone": "联系电话格式不正确"}
    registration = training.register(ctx(session, people["staff"], now), event, mine, contact)
    assert registration.registered_by_id == people["staff"].id and registration.channel == "console"
    with pytest.raises(Conflict, match="无需重复报名"):
        training.register(ctx(session, people["staff"], now), event, mine, contact)

    # The enterprise itself: only when invited (or told about the event's policy).
    with pytest.raises(PermissionDenied):
        training.register(ctx(session, None, now), event, theirs, contact, channel="policy_page")
    session.add(TrainingInvitation(event_id=event.id, enterprise_id=theirs.id, staff_id=people["staff2"].id,
                                   invited_at=now))
    session.flush()
    own = training.register(ctx(session, None, now), event, theirs, contact, channel="policy_page")
    assert own.registered_by_id is None and own.channel == "policy_page"
    with pytest.raises(Conflict, match="名额（2 个）已满"):
        training.register(ctx(session, people["staff"], now), event, third, contact)
    with pytest.raises(ValidationFailed, match="名额不能少于"):
        training.save_event(c, event.id, event_form(now, people, capacity="1"))
    with pytest.raises(Conflict, match="报名已截止"):
        training.register(ctx(session, people["staff"], now + timedelta(days=4)), event, third, contact)


def test_pushed_policy_opens_its_events_to_the_enterprise(session, factory, people, now):
    enterprise = factory.enterprise(staff=people["staff"])
    policy = Policy(title="北辰区科技创新十条", owner_department_id=people["kjj"].id, status="published")
    policy.items.append(PolicyItem(title="研发投入后补助", status="published"))
    session.add(policy)
    session.flush()
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people, policy_id=str(policy.id)))
    training.set_status(c, event, TrainingStatus.OPEN)
    assert training.events_for_enterprise(session, enterprise, now) == []
    session.add(PolicyPush(enterprise_id=enterprise.id, item_id=policy.items[0].id, open_token="t" * 32,
                           created_at=now))
    session.flush()
    assert training.events_for_enterprise(session, enterprise, now) == [event]
    training.register(ctx(session, None, now), event, enterprise,
                      {"contact_name": "张经理", "contact_phone": "022-26391234"}, channel="policy_page")
    assert set(training.registrations_of(session, enterprise)) == {event.id}


def test_attendance_only_after_start_by_organiser(session, factory, people, now):
    a, b = factory.enterprise(staff=people["staff"]), factory.enterprise(staff=people["staff"])
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people))
    training.set_status(c, event, TrainingStatus.OPEN)
    ra = training.register(ctx(session, people["staff"], now), event, a, {"contact_name": "甲", "contact_phone": "13800000001"})
    rb = training.register(ctx(session, people["staff"], now), event, b, {"contact_name": "乙", "contact_phone": "13800000002"})
    with pytest.raises(Conflict, match="尚未开始"):
        training.record_attendance(c, event, {ra.id})
    during = ctx(session, people["helper"], event.starts_at + timedelta(minutes=30))
    with pytest.raises(PermissionDenied):
        training.record_attendance(ctx(session, people["staff"], during.now), event, {ra.id})
    assert training.record_attendance(during, event, {ra.id}) == 2
    assert (ra.attended, rb.attended, ra.attendance_recorded_by_id) == (True, False, people["helper"].id)
    assert training.record_attendance(during, event, {ra.id}) == 0
    training.set_status(during, event, TrainingStatus.DONE)
    counts = training.event_counts(session, event)
    assert (counts.registered, counts.attended) == (2, 1)
    with pytest.raises(Conflict):
        training.set_status(during, event, TrainingStatus.OPEN)


def test_questions_answered_by_organiser_and_kept_for_the_knowledge_base(session, factory, people, now):
    enterprise = factory.enterprise(staff=people["staff"])
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people))
    with pytest.raises(ValidationFailed, match="至少 5 个字"):
        training.ask(ctx(session, None, now), {"question": "能申报吗"}, event_id=event.id, enterprise=enterprise)
    question = training.ask(ctx(session, None, now), {"question": "研发费用加计扣除和后补助能同时享受吗？"},
                            event_id=event.id, enterprise=enterprise, channel="policy_page")
    assert question.asked_by == enterprise.name and question.answered_at is None
    with pytest.raises(Conflict):
        training.set_published(c, question, True)
    with pytest.raises(PermissionDenied):
        training.answer(ctx(session, people["other_helper"], now), question, {"answer": "可以"})
    with pytest.raises(ValidationFailed):
        training.answer(c, question, {"answer": " "})
    training.answer(c, question, {"answer": "可以同时享受，但同一项目不得重复申报。", "published_to_kb": "1"})
    assert question.published_to_kb and question.answered_by_id == people["helper"].id
    assert training.knowledge_base(session) == [question]
    training.set_published(c, question, False)
    assert training.knowledge_base(session) == []
    assert training.questions(session, event_id=event.id, unanswered=True) == []


def test_another_departments_helper_neither_signs_up_nor_cancels_and_the_leader_only_reads(
        session, factory, people, now):
    """Registrations belong to the enterprise's staff side and the event's organisers, nobody else."""
    mine = factory.enterprise(staff=people["staff"])
    leader = factory.person(Role.DISTRICT_LEADER, name="区领导")
    c = ctx(session, people["helper"], now)
    event = training.save_event(c, None, event_form(now, people))
    training.set_status(c, event, TrainingStatus.OPEN)
    contact = {"contact_name": "张经理", "contact_phone": "13800001111"}
    with pytest.raises(PermissionDenied):  # 人社局's helper for 科技局's event
        training.register(ctx(session, people["other_helper"], now), event, mine, contact)
    registration = training.register(ctx(session, people["staff"], now), event, mine, contact)
    with pytest.raises(PermissionDenied):
        training.cancel_registration(ctx(session, people["other_helper"], now), registration)
    with pytest.raises(PermissionDenied):
        training.cancel_registration(ctx(session, leader, now), registration)
    with pytest.raises(PermissionDenied):
        training.ask(ctx(session, leader, now), {"question": "研发费用加计扣除比例是多少？"}, event_id=event.id)
    # The organiser runs its own event: it may sign an enterprise up and cancel.
    training.cancel_registration(ctx(session, people["helper"], now), registration)
    assert training.register(c, event, mine, contact).registered_by_id == people["helper"].id
