"""Text composed from what people typed: titles cut where a reader expects, with 「…」, and no
message that doubles a full stop the person already typed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrderEvent
from services import wording
from services.orders import operations as wo
from services.orders.lifecycle import State

H = timedelta(hours=1)


# --------------------------------------------------------------------------------------------------
# Pure rules
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("已修复", "已修复。"),
    ("已修复。", "已修复。"),
    ("已修复。。", "已修复。"),
    ("已修复；", "已修复。"),
    ("已修复,", "已修复。"),
    ("真的修好了吗？", "真的修好了吗？"),
    ("太好了！", "太好了！"),
    ("（见附件。）", "（见附件。）"),
    ("请看附件（共 3 页）", "请看附件（共 3 页）。"),
    ("等待……", "等待……"),
    ("  ", ""),
])
def test_sentence_ends_with_exactly_one_mark(text, expected):
    assert wording.sentence(text) == expected


def test_shorten_keeps_short_text_and_marks_a_cut():
    assert wording.shorten("  企业  用工\n需求 ", 40) == "企业 用工 需求"
    text = "企业扩产急需招聘数控技术工人，请协助对接招聘会和用工补贴政策，并帮助联系职业院校定向培养"
    short = wording.shorten(text, 20)
    assert len(short) <= 20 and short.endswith("…")
    # Stops after the clause mark in the second half, not in the middle of 「招聘会」.
    assert short == "企业扩产急需招聘数控技术工人…"


def test_shorten_never_stops_inside_a_number_or_a_latin_word():
    text = "企业申请高新技术企业认定需要补充提供ISO9001质量管理体系认证证书"
    short = wording.shorten(text, 22)
    assert short.endswith("…") and "ISO9" not in short and short == "企业申请高新技术企业认定需要补充提供…"
    assert wording.shorten("急需招聘 1234567 名技术工人和管理人员", 12) == "急需招聘…"


def test_auto_title_is_the_first_sentence():
    assert wording.auto_title("厂门口路灯坏了。晚上货车进出不安全，请协调修复。") == "厂门口路灯坏了"
    assert wording.auto_title("\n\n企业咨询稳岗补贴申请条件\n附件见后") == "企业咨询稳岗补贴申请条件"
    long = "企业厂区门前的北仓道与京津公路交口处路面大面积破损积水严重影响货车通行和员工上下班安全请尽快协调修复"
    title = wording.auto_title(long)
    assert len(title) <= 40 and title.endswith("…") and long.startswith(title[:-1])


# --------------------------------------------------------------------------------------------------
# The desk's messages
# --------------------------------------------------------------------------------------------------
def test_an_order_without_a_title_gets_its_first_sentence(factory, now):
    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now, level=1, content="厂门口路灯坏了。晚上货车进出不安全，请协调城管委尽快修复。")
    assert order.title == "厂门口路灯坏了"
    long = "企业扩产急需招聘 30 名数控技术工人和 12 名质检人员，请协助对接区人才市场专场招聘会并申请用工补贴"
    order = factory.order(staff, now, level=1, content=long)
    assert order.title.endswith("…") and len(order.title) <= 40 and long.startswith(order.title[:-1])
    assert not order.title.endswith("3…")  # not 「招聘 3」 of 「招聘 30 名」


def test_no_message_doubles_a_full_stop_people_typed(factory, session, now):
    """Every step of the loop with texts that end in 。: no message or timeline note says 「。。」."""
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF)
    helper = factory.person(Role.CHIEF_HELPER, department=rsj)
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"))
    enterprise = factory.enterprise(staff=staff)
    order = factory.order(staff, now, enterprise=enterprise, level=2, content="厂门口路灯坏了。")
    # An enterprise's own request, told to its staff member with its title.
    public = wo.create_order(wo.OpContext(session, None, now, "public", factory.ctx(staff, now).channels),
                             wo.NewOrder(enterprise_id=enterprise.id, content="围墙外排水沟堵塞。", await_confirmation=True))
    assert public.state == State.RECEIVED

    wo.dispatch(factory.ctx(dispatcher, now), order, department_id=rsj.id, note="请尽快处理。")
    wo.sign(factory.ctx(helper, now + H), order)
    wo.reply(factory.ctx(helper, now + 2 * H), order, text="已安排人员现场查看。")
    wo.suspend(factory.ctx(helper, now + 3 * H), order, reason="等待企业提供位置照片。")
    wo.resume(factory.ctx(helper, now + 4 * H), order, note="照片已收到。")
    wo.request_extension(factory.ctx(helper, now + 5 * H), order, days=2, reason="需要采购灯具。")
    wo.decide_extension(factory.ctx(dispatcher, now + 6 * H), order, approve=False, note="请先临时照明。")
    wo.supervise(factory.ctx(dispatcher, now + 7 * H), order, note="请加快办理。")
    wo.resolve(factory.ctx(helper, now + 8 * H), order, result="路灯已修复。")
    wo.feedback(factory.ctx(staff, now + 9 * H), order, note="已电话告知企业。")
    wo.visit(factory.ctx(staff, now + 10 * H), order, satisfaction="不满意", comment="修好又坏了。")
    wo.resolve(factory.ctx(helper, now + 30 * H), order, result="更换了整套灯具。")
    wo.feedback(factory.ctx(staff, now + 31 * H), order)
    wo.visit(factory.ctx(staff, now + 32 * H), order, satisfaction="不满意", comment="还是不亮。")
    session.flush()

    texts = [f"{m.payload.get('title', '')}\n{m.payload.get('text', '')}"
             for m in session.scalars(select(OutboundMessage))]
    assert any("还是不亮" in t for t in texts)  # the dispatchers hear about the second bad rating
    assert any("围墙外排水沟堵塞" in t for t in texts)
    doubled = [t for t in texts if "。。" in t or "。」。" in t]
    assert not doubled, doubled
    notes = [e.note for e in session.scalars(select(WorkOrderEvent))]
    assert not [n for n in notes if "。。" in n]
