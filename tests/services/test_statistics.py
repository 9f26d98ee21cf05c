"""KPI statistics over orders built through the real operations, with exact numbers per group.

The story (March 2026, Beijing time) — see ``build_story``:

    O1 天穆 2级→人社局  signed on time, resolved on time, visit 非常满意 → archived
    O2 天穆 2级→人社局  signed LATE, resolved LATE, visit 基本满意 → archived
    O3 北仓 2级         dispatched to 财政局, RETURNED, dispatched to 人社局, signed on time, resolved,
                        visit 不满意 → reopened, still in handling (overdue from 03-13)
    O4 天穆             out of scope (涉法涉诉) → 不予受理
    O5 天穆 “2+3” complex → 绿色通道 level 3, joint meeting → 住建委, signed, resolved, not yet fed back
    O6 天穆 1级         handled in the zone, never resolved (overdue from 03-19), 督办 by the grid center
    O7 天穆 1级         created 03-31 23:30 → March; O8 created 04-01 00:10 → April
    O9 天穆 1级         created in February, resolved on time on 03-02 (March's 办结, not its 受理)
    the SLA watchdog runs on 03-25: 超期督办 for O3 and O6
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from models import RequestDomain, Role
from services.errors import PermissionDenied
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.alerts import run_sla_watchdog
from services.orders.deadlines import load_calendar
from services.orders.lifecycle import State
from services.statistics import kpis as st
from services.statistics.kpis import LOCAL_TZ, InvalidQuery, Period, Ratio

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
APRIL_10 = datetime(2026, 4, 10, 10, 0, tzinfo=LOCAL_TZ)


def bj(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ)


class Story:
    def __init__(self, factory, session):
        self.session = session
        f = factory
        self.tianmu, self.beicang = f.zone("tianmu"), f.zone("beicang")
        self.rsj, self.czj, self.zjw, self.gxj = (f.department(c) for c in ("rsj", "czj", "zjw", "gxj"))
        self.staff = f.person(Role.SERVICE_STAFF, name="天穆服务员", login="staff")
        self.staff_b = f.person(Role.SERVICE_STAFF, zone=self.beicang, name="北仓服务员", login="staff_b")
        self.zone_admin = f.person(Role.ZONE_ADMIN, name="天穆管理员", login="zone_admin")
        self.helper = f.person(Role.CHIEF_HELPER, department=self.rsj, name="人社帮办", login="helper")
        self.rsj_leader = f.person(Role.DEPT_LEADER, department=self.rsj, name="人社局长", login="rsj_leader")
        self.czj_helper = f.person(Role.CHIEF_HELPER, department=self.czj, name="财政帮办")
        self.zjw_helper = f.person(Role.CHIEF_HELPER, department=self.zjw, name="住建帮办")
        self.gxj_helper = f.person(Role.CHIEF_HELPER, department=self.gxj, name="工信帮办", login="gxj_helper")
        self.dispatcher = f.person(Role.DISPATCHER, department=f.department("grid_center"), name="调度员",
                                   login="dispatcher")
        self.bizenv = f.person(Role.BIZENV_OFFICE, department=f.department("bizenv_office"), name="营商办",
                               login="bizenv")
        self.leader = f.person(Role.DISTRICT_LEADER, name="区领导", login="leader")
        self.admin = f.person(Role.SYSADMIN, name="管理员", login="admin")
        self.social = session.scalar(select(RequestDomain).where(RequestDomain.name == "社会管理"))
        self.economy = session.scalar(select(RequestDomain).where(RequestDomain.name == "经济调节"))
        self.market = session.scalar(select(RequestDomain).where(RequestDomain.name == "市场监管"))
        self.public = session.scalar(select(RequestDomain).where(RequestDomain.name == "公共服务"))
        ent = f.enterprise(staff=self.staff, name="天津天穆机械有限公司")
        ent_b = f.enterprise(zone=self.beicang, staff=self.staff_b, name="天津北仓食品有限公司")
        key = f.enterprise(staff=self.staff, key_industry=True, name="天津辰新生物医药有限公司")

        def ctx(actor, when):
            return f.ctx(actor, when)

        def order(actor, when, enterprise, **kw):
            return f.order(actor, when, enterprise=enterprise, **kw)

        def close(who, o, resolved_at, satisfaction, comment=""):
            wo.resolve(ctx(who, resolved_at), o, result="已协调解决企业诉求")
            wo.feedback(ctx(self.staff if o.zone_id == self.tianmu.id else self.staff_b,
                            resolved_at + timedelta(hours=2)), o, note="电话告知")
            if satisfaction:
                wo.visit(ctx(self.staff if o.zone_id == self.tianmu.id else self.staff_b,
                             resolved_at + timedelta(days=1)), o, satisfaction=satisfaction, comment=comment)

        labour = "企业扩产急需招聘 30 名数控技术工人，请协助对接招聘会"
        self.o9 = order(self.staff, bj(2, 26, 10), ent, level=1, content="企业咨询片区内公共停车位申请流程",
                        domain_id=self.public.id)
        wo.resolve(ctx(self.staff, bj(3, 2, 9)), self.o9, result="已告知企业停车位申请流程")

        self.o1 = order(self.staff, bj(3, 2, 10), ent, level=2, department_id=self.rsj.id, content=labour,
                        domain_id=self.social.id)
        self.o2 = order(self.staff, bj(3, 2, 10), ent, level=2, department_id=self.rsj.id, content=labour,
                        domain_id=self.social.id)
        wo.sign(ctx(self.helper, bj(3, 2, 11)), self.o1)
        self.o3 = order(self.staff_b, bj(3, 3, 9), ent_b, level=2, content="企业用工社保补缴政策咨询，需要部门答复",
                        domain_id=self.social.id)
        wo.dispatch(ctx(self.dispatcher, bj(3, 3, 10)), self.o3, department_id=self.czj.id)
        wo.return_order(ctx(self.czj_helper, bj(3, 3, 14)), self.o3, reason="不属于本部门职责")
        wo.dispatch(ctx(self.dispatcher, bj(3, 3, 15)), self.o3, department_id=self.rsj.id)
        wo.sign(ctx(self.helper, bj(3, 3, 15, 30)), self.o2)  # due 03-03 10:00: late
        wo.sign(ctx(self.helper, bj(3, 4, 9)), self.o3)
        close(self.helper, self.o1, bj(3, 4, 10), "非常满意")
        close(self.helper, self.o3, bj(3, 5, 10), "不满意", "招聘会人数少，仍未招到人")  # → reopened
        close(self.helper, self.o2, bj(3, 10, 10), "基本满意")  # due 03-09 10:00: late

        self.o4 = order(self.staff, bj(3, 10, 9), ent, level=2, domain_id=self.market.id,
                        content="公司与供应商合同纠纷已向法院起诉，请帮忙催促法院尽快判决")
        wo.confirm_screening(ctx(self.staff, bj(3, 10, 10)), self.o4, decision="reject")

        self.o5 = order(self.staff, bj(3, 11, 9), key, level=1, is_complex=True, domain_id=self.economy.id,
                        stage_id=f.stage("construction").id, content="新建 GMP 厂房涉及规划调整、施工许可和电力增容，需多部门协同")
        wo.joint_meeting(ctx(self.bizenv, bj(3, 12, 10)), self.o5, held_on=date(2026, 3, 12),
                         department_ids=[self.zjw.id, f.department("ghzy").id], decisions="住建委牵头，规划资源分局配合",
                         lead_department_id=self.zjw.id)
        wo.sign(ctx(self.zjw_helper, bj(3, 12, 15)), self.o5)
        wo.resolve(ctx(self.zjw_helper, bj(3, 20, 10)), self.o5, result="已办理施工许可并完成电力增容")

        self.o6 = order(self.staff, bj(3, 16, 9), ent, level=1, content="企业门前道路破损，影响货车通行，请协调修复",
                        domain_id=self.public.id)
        wo.supervise(ctx(self.dispatcher, bj(3, 20, 10)), self.o6, note="请抓紧办理")
        run_sla_watchdog(session, bj(3, 25, 10), Channels(sandbox=True))

        self.o7 = order(self.staff, bj(3, 31, 23, 30), ent, level=1, content="企业咨询一般纳税人资格登记流程",
                        domain_id=self.market.id)
        self.o8 = order(self.staff, bj(4, 1, 0, 10), ent, level=1, content="企业咨询出口退税办理进度",
                        domain_id=self.market.id)
        session.flush()

    def report(self, person, group="zone", period=MARCH, now=APRIL_10) -> st.Report:
        return st.build_report(self.session, st.scope_for(person), group, period, now)


@pytest.fixture
def story(factory, session):
    return Story(factory, session)


def row(report: st.Report, label: str) -> st.Row:
    matches = [r for r in report.all_rows() if r.label == label]
    assert len(matches) == 1, [r.label for r in report.all_rows()]
    return matches[0]


def numbers(r: st.Row) -> dict:
    c = r.counts
    return {
        "received": c.received, "refused": c.refused, "resolved": c.resolved,
        "response": c.response_rate, "on_time": c.on_time_rate, "resolution": c.resolution_rate,
        "satisfaction": c.satisfaction_rate, "visit": c.visit_rate, "return": c.return_rate,
        "overdue": c.overdue, "backlog": c.backlog, "supervised": c.supervised,
    }


R = Ratio

TIANMU = {"received": 5, "refused": 1, "resolved": 4, "response": R(2, 3), "on_time": R(3, 5),
          "resolution": R(2, 2), "satisfaction": R(2, 2), "visit": R(2, 4), "return": R(0, 3),
          "overdue": 2, "backlog": 4, "supervised": 2}
BEICANG = {"received": 1, "refused": 0, "resolved": 0, "response": R(1, 1), "on_time": R(0, 1),
           "resolution": R(0, 1), "satisfaction": R(0, 1), "visit": R(0, 0), "return": R(1, 2),
           "overdue": 1, "backlog": 1, "supervised": 1}
TOTAL = {"received": 6, "refused": 1, "resolved": 4, "response": R(3, 4), "on_time": R(3, 6),
         "resolution": R(2, 3), "satisfaction": R(2, 3), "visit": R(2, 4), "return": R(1, 5),
         "overdue": 3, "backlog": 5, "supervised": 3}


def test_by_zone_exact_numbers_and_total(story):
    report = story.report(story.dispatcher, "zone")
    assert report.scope.kind == "district" and not report.current
    assert [r.label for r in report.rows][:2] == ["天穆镇", "北仓镇"] and len(report.rows) == 17
    assert numbers(row(report, "天穆镇")) == TIANMU
    assert numbers(row(report, "北仓镇")) == BEICANG
    assert numbers(report.total) == TOTAL
    quiet = row(report, "双街镇")
    assert quiet.counts.received == 0 and quiet.counts.on_time_rate.text == "—"
    assert row(report, "北仓镇").counts.visit_rate.text == "—"
    assert report.total.counts.satisfaction_rate.text == "66.7%"
    assert report.total.counts.response_rate.fraction == "3/4"
    # Below the 90 % targets: highlighted; an empty denominator never is.
    assert {"on_time_rate", "satisfaction_rate", "response_rate", "return_rate"} <= report.total.alarms()
    assert "visit_rate" not in row(report, "北仓镇").alarms()


def test_by_department_attributes_dispatches_signs_and_returns(story):
    report = story.report(story.dispatcher, "department")
    rsj, czj, zjw = row(report, "人社局"), row(report, "财政局"), row(report, "住建委")
    none = row(report, st.NO_DEPARTMENT)
    assert numbers(rsj) == {"received": 3, "refused": 0, "resolved": 2, "response": R(2, 3), "on_time": R(1, 3),
                            "resolution": R(2, 3), "satisfaction": R(2, 3), "visit": R(2, 2), "return": R(0, 3),
                            "overdue": 2, "backlog": 1, "supervised": 1}
    # 财政局 returned the order it got: its return, not 人社局's; nothing left to sign, so no 响应率.
    assert numbers(czj) == {"received": 0, "refused": 0, "resolved": 0, "response": R(0, 0), "on_time": R(0, 0),
                            "resolution": R(0, 0), "satisfaction": R(0, 0), "visit": R(0, 0), "return": R(1, 1),
                            "overdue": 0, "backlog": 0, "supervised": 0}
    assert numbers(zjw)["response"] == R(1, 1) and numbers(zjw)["on_time"] == R(1, 1) and zjw.counts.backlog == 1
    # Zone-handled orders (level 1) and the refused one have no department.
    assert numbers(none) == {"received": 2, "refused": 1, "resolved": 1, "response": R(0, 0), "on_time": R(1, 2),
                             "resolution": R(0, 0), "satisfaction": R(0, 0), "visit": R(0, 1), "return": R(0, 0),
                             "overdue": 1, "backlog": 3, "supervised": 2}
    assert numbers(report.total) == TOTAL
    assert rsj.filters == {"department": story.rsj.id} and none.filters is None


def test_by_level_with_green_channel_subset(story):
    report = story.report(story.bizenv, "level")
    assert [r.label for r in report.rows] == ["片区即时办理", "部门协调办理", "区级会商办理", "市级提级办理"]
    level1, level2, level3, level4 = report.rows
    assert (level1.counts.received, level1.counts.resolved, level1.counts.backlog) == (2, 1, 3)
    assert (level2.counts.received, level2.counts.refused, level2.counts.dispatched) == (3, 1, 4)
    assert level3.counts.response_rate == R(1, 1) and level3.counts.on_time_rate == R(1, 1)
    assert level4.counts == st.Counts()
    green = row(report, st.GREEN_CHANNEL)
    assert green.kind == "subset" and green.filters == {"green": "1"}
    assert numbers(green) == numbers(level3)
    assert numbers(report.total) == TOTAL  # the subset is not added again


def test_by_domain(story):
    report = story.report(story.leader, "domain")
    labels = [r.label for r in report.rows]
    assert labels[:5] == ["经济调节", "市场监管", "社会管理", "公共服务", "生态环境保护"]
    social = row(report, "社会管理")
    assert (social.counts.received, social.counts.resolved, social.counts.dispatched) == (3, 2, 4)
    assert social.counts.satisfaction_rate == R(2, 3) and social.filters == {"domain": social.key}
    # The row's link lists the orders of that category, and only those.
    from datetime import UTC, datetime

    from services.orders import queries as order_queries

    listed = order_queries.search_orders(story.session, story.leader, order_queries.OrderFilters(domain_id=social.key),
                                         datetime.now(UTC))
    assert listed.total >= social.counts.received and {o.domain_id for o in listed.items} == {social.key}
    public = row(report, "公共服务").counts
    assert (public.received, public.resolved, public.on_time_rate, public.backlog) == (1, 1, R(1, 2), 2)
    market = row(report, "市场监管").counts
    assert (market.received, market.refused, market.backlog) == (1, 1, 1)
    assert row(report, "经济调节").counts.received == 1
    assert numbers(report.total) == TOTAL


def test_average_handling_time_in_working_days(story, session):
    report = story.report(story.admin, "zone")
    tianmu = row(report, "天穆镇").counts
    # O1 2 WD, O2 6 WD, O5 7 WD + 1 h, O9 3 WD − 1 h (February's 调休 Saturday is a working day): 18 WD / 4.
    assert tianmu.handling_count == 4 and tianmu.avg_handling_workdays == 4.5
    calendar = load_calendar(session)
    expected = sum(calendar.working_seconds_between(o.accepted_at, o.resolved_at)
                   for o in (story.o1, story.o2, story.o5, story.o9))
    assert tianmu.handling_seconds == pytest.approx(expected, abs=1e-3)
    assert row(report, "北仓镇").counts.avg_handling_workdays is None


def test_zone_admin_sees_only_their_zone(story):
    report = story.report(story.zone_admin, "zone")
    assert report.scope.kind == "zone" and report.scope.label == "天穆镇"
    assert [r.label for r in report.rows] == ["天穆镇"]
    assert numbers(report.rows[0]) == TIANMU == numbers(report.total)
    by_department = story.report(story.staff, "department")
    assert [r.label for r in by_department.rows] == ["人社局", "住建委", st.NO_DEPARTMENT]
    rsj = by_department.rows[0].counts
    assert (rsj.received, rsj.dispatched, rsj.response_rate, rsj.returned) == (2, 2, R(1, 2), 0)
    assert numbers(by_department.total) == TIANMU


def test_department_sees_only_its_department(story):
    report = story.report(story.helper, "department")
    assert report.scope.kind == "department" and report.scope.label == "人社局"
    assert [r.label for r in report.rows] == ["人社局"]
    assert numbers(report.total) == numbers(report.rows[0])
    assert numbers(report.total)["response"] == R(2, 3) and report.total.counts.returned == 0
    by_zone = story.report(story.rsj_leader, "zone")
    assert [r.label for r in by_zone.rows] == ["天穆镇", "北仓镇"]
    assert by_zone.rows[1].counts.dispatched == 1 and by_zone.rows[1].counts.backlog == 1
    # 财政局's return is its own: 人社局 never sees it.
    assert by_zone.total.counts.returned == 0
    # A department with units sees them as rows of their own.
    units = story.report(story.gxj_helper, "department")
    assert units.scope.label == "工信局（含下属单位）"
    assert [r.label for r in units.rows] == ["工信局", "工信局·通信公司", "工信局·城东供电"]


def test_no_scope_without_zone_or_department(story, factory, session):
    stray = factory.person(Role.CHIEF_HELPER, name="无部门帮办")
    with pytest.raises(PermissionDenied):
        st.scope_for(stray)
    assert not st.can_view_statistics(stray) and st.can_view_statistics(story.staff)
    assert st.can_view_bulletin(story.leader) and not st.can_view_bulletin(story.zone_admin)


def test_period_boundaries_follow_beijing_time(story):
    assert story.o7.created_at.astimezone(LOCAL_TZ).date() == date(2026, 3, 31)
    march = story.report(story.dispatcher, "zone")
    april = story.report(story.dispatcher, "zone", Period(date(2026, 4, 1), date(2026, 4, 30), "this_month"))
    assert row(march, "天穆镇").counts.received == 5  # includes O7 (23:30 on 31 March)
    assert row(april, "天穆镇").counts.received == 1  # only O8 (00:10 on 1 April)
    assert april.current and april.as_of == APRIL_10
    # Still owed now: O3, O5, O6, O7, O8, O9; overdue now (the list's 超期 filter): O3, O6 and, past their
    # three working days (清明 4–6 April is a holiday), O7 and O8.
    assert april.total.counts.backlog == 6 and april.total.counts.overdue_open == 4
    # One day: O7 alone.
    last_day = story.report(story.dispatcher, "zone", Period(date(2026, 3, 31), date(2026, 3, 31)))
    assert last_day.total.counts.received == 1


def test_period_end_state_matches_the_current_state(story):
    """The state at a past period's end is rebuilt from the events; just after the end it equals now's."""
    period = Period(date(2026, 3, 1), date(2026, 4, 9))
    as_now = story.report(story.dispatcher, "department", period, now=period.end)
    rebuilt = story.report(story.dispatcher, "department", period, now=period.end + timedelta(seconds=1))
    assert as_now.current and not rebuilt.current
    for a, b in zip(as_now.all_rows(), rebuilt.all_rows(), strict=True):
        assert (a.label, a.counts) == (b.label, b.counts)
    assert as_now.total.counts.backlog == 6


def test_still_open_at_the_end_of_march_but_closed_since(story, factory):
    """O6 is resolved in April: March still counts it as backlog and overdue, April as resolved late."""
    wo.resolve(factory.ctx(story.staff, bj(4, 2, 10)), story.o6, result="道路已修复")
    march = row(story.report(story.dispatcher), "天穆镇").counts
    assert (march.backlog, march.overdue_handling, march.on_time_rate) == (4, 1, R(3, 5))
    april = row(story.report(story.dispatcher, "zone", Period(date(2026, 4, 1), date(2026, 4, 30))), "天穆镇").counts
    # Judged in April: O6 resolved late, O7 and O8 past their deadlines and still open.
    assert (april.resolved, april.resolved_late, april.on_time_rate) == (1, 1, R(0, 3))


def test_ranking_for_the_bulletin(story):
    report = story.report(story.dispatcher, "department")
    ranked = st.ranking(report)
    judged = [(r.rank, r.row.label) for r in ranked if r.rank is not None]
    # 住建委 100 %, 无承办部门 50 %, 人社局 33 %.
    assert judged == [(1, "住建委"), (2, st.NO_DEPARTMENT), (3, "人社局")]
    assert ranked[-1].rank is None and len(ranked) == len(report.rows)


def test_report_dict_and_sheet_carry_the_same_numbers(story):
    report = story.report(story.dispatcher, "zone")
    data = st.report_dict(report)
    assert data["period"] == {"preset": "custom", "label": "2026-03-01 至 2026-03-31", "from": "2026-03-01",
                              "to": "2026-03-31", "as_of": "2026-04-01T00:00:00+08:00"}
    assert data["total"]["kpis"]["satisfaction_rate"] == {"numerator": 2, "denominator": 3, "percent": 66.7,
                                                          "below_threshold": True}
    tianmu = data["rows"][0]
    assert tianmu["key"] == story.tianmu.id and tianmu["kpis"]["visit_rate"]["percent"] == 50.0
    assert data["rows"][1]["kpis"]["visit_rate"] == {"numerator": 0, "denominator": 0, "percent": None,
                                                     "below_threshold": False}
    assert data["total"]["kpis"]["overdue"] == 3 and data["total"]["kpis"]["overdue_resolved"] == 1
    sheet = st.report_sheet(report)
    headers = [c.header for c in sheet.columns]
    assert headers[:4] == ["片区", "受理数", "不予受理数", "办结数"]
    values = list(sheet.rows)
    assert values[-1][0] == "合计" and len(values) == 18
    total = dict(zip(headers, values[-1], strict=True))
    assert (total["满意率（%）"], total["满意"], total["评价"]) == (66.7, 2, 3)
    assert total["回访率（%）"] == 50.0 and total["超期数"] == 3 and total["积压数"] == 5
    assert dict(zip(headers, values[1], strict=True))["回访率（%）"] == "—"


def test_unsigned_dispatch_past_its_sign_deadline_counts_against_the_response_rate(factory, session):
    staff = factory.person(Role.SERVICE_STAFF)
    rsj = factory.department("rsj")
    factory.person(Role.CHIEF_HELPER, department=rsj)
    order = factory.order(staff, bj(3, 2, 10), level=2, department_id=rsj.id)
    assert order.state == State.DISPATCHED
    scope = st.Scope("district", "全区")
    before = st.build_report(session, scope, "department", MARCH, bj(3, 2, 12))
    after = st.build_report(session, scope, "department", MARCH, bj(3, 4, 12))
    assert row(before, "人社局").counts.response_rate == R(0, 0)
    assert row(after, "人社局").counts.response_rate == R(0, 1)
    # Not yet past the handling deadline, so it is overdue (for sign-in) but 按时办结率 has nothing to judge.
    assert (row(after, "人社局").counts.overdue_sign, row(after, "人社局").counts.on_time_rate) == (1, R(0, 0))


def test_a_report_is_a_fixed_handful_of_queries(story, factory, session):
    """Set-based: the number of statements does not grow with orders or groups."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        scope = st.Scope("district", "全区")
        st.build_report(session, scope, "department", MARCH, APRIL_10)
        before = len(statements)
        for department in ("jyj", "mzj", "kjj"):
            factory.order(story.staff, bj(3, 18, 10), enterprise=story.o1.enterprise, level=2,
                          department_id=factory.department(department).id)
        session.flush()
        statements.clear()
        report = st.build_report(session, scope, "department", MARCH, APRIL_10)
        # (one of them asks whether the daily rollup can answer: without it, everything is live)
        assert len(statements) == before <= 9
        assert report.total.counts.dispatched == 8
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --------------------------------------------------------------------------------------------------
# Periods from a query string
# --------------------------------------------------------------------------------------------------
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize("preset, first, last", [
    ("this_month", date(2026, 3, 1), date(2026, 3, 31)),
    ("last_month", date(2026, 2, 1), date(2026, 2, 28)),
    ("this_quarter", date(2026, 1, 1), date(2026, 3, 31)),
    ("this_year", date(2026, 1, 1), date(2026, 12, 31)),
    ("last_30_days", date(2026, 2, 1), date(2026, 3, 2)),
])
def test_presets(preset, first, last):
    group, period = st.parse_query({"period": preset, "group": "department"}, NOW)
    assert (group, period.first_day, period.last_day, period.preset) == ("department", first, last, preset)
    assert period.label.startswith(st.PRESETS[preset])


def test_defaults_and_custom_period():
    group, period = st.parse_query({}, NOW)
    assert (group, period.preset, period.first_day) == ("zone", "this_month", date(2026, 3, 1))
    _, period = st.parse_query({"from": "2026-01-15", "to": "2026-02-14", "period": "custom"}, NOW)
    assert (period.first_day, period.last_day, period.preset) == (date(2026, 1, 15), date(2026, 2, 14), "custom")
    assert period.start == datetime(2026, 1, 15, tzinfo=LOCAL_TZ)
    assert period.end == datetime(2026, 2, 15, tzinfo=LOCAL_TZ)
    assert period.query_args() == {"period": "custom", "from": "2026-01-15", "to": "2026-02-14"}


def test_this_month_turns_at_beijing_midnight():
    just_after = datetime(2026, 3, 31, 16, 30, tzinfo=st.UTC)  # 00:30 on 1 April in Beijing
    assert st.preset_period("this_month", just_after).first_day == date(2026, 4, 1)
    assert st.preset_period("last_month", just_after).first_day == date(2026, 3, 1)


@pytest.mark.parametrize("args, field, words", [
    ({"group": "staff"}, "group", "分组"),
    ({"period": "last_week"}, "period", "统计时段"),
    ({"period": "custom"}, "from", "from"),
    ({"from": "2026-03-01"}, "to", "to"),
    ({"from": "2026-3-1", "to": "2026-03-31"}, "from", "YYYY-MM-DD"),
    ({"from": "2026-03-31", "to": "2026-03-01"}, "from", "不能晚于"),
    ({"from": "2026-04-01", "to": "2026-04-30"}, "from", "今天"),
    ({"from": "2020-01-01", "to": "2026-03-01"}, "to", "最长"),
    ({"period": "this_month", "from": "2026-03-01", "to": "2026-03-02"}, "period", "不能同时"),
])
def test_bad_queries_are_rejected_with_a_chinese_message(args, field, words):
    with pytest.raises(InvalidQuery) as caught:
        st.parse_query(args, NOW)
    assert caught.value.http_status == 400 and field in caught.value.fields and words in caught.value.message
