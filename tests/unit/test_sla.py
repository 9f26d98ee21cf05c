"""Pure SLA rules: calendar arithmetic, deadlines, pause/resume, alerts and labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from services.orders.sla import (
    ALERT_LABELS,
    DEFAULT_RULES,
    AlertPlan,
    Deadlines,
    SlaRule,
    WorkCalendar,
    alert_label,
    compute_deadlines,
    due_alerts,
    extend_deadline,
    resume_deadline,
    select_rule,
    time_left_label,
)

SH = ZoneInfo("Asia/Shanghai")
DAY = 24 * 3600


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """Shanghai wall-clock time as an aware UTC datetime (what the database hands back)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH).astimezone(UTC)


def local(value: datetime) -> datetime:
    return value.astimezone(SH).replace(tzinfo=None)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


# --- Calendar -------------------------------------------------------------------------------------


def test_spring_festival_2026_is_known(cal):
    assert cal.is_workday(date(2026, 2, 13))  # Friday
    assert cal.is_workday(date(2026, 2, 14))  # Saturday, make-up workday
    for day in range(15, 24):
        assert not cal.is_workday(date(2026, 2, day))
    assert cal.is_workday(date(2026, 2, 24))
    assert cal.is_workday(date(2026, 2, 28))  # Saturday, make-up workday
    assert not cal.is_workday(date(2026, 3, 1))  # ordinary Sunday


def test_add_workdays_across_spring_festival(cal):
    # 02-13 Fri = WD1, 02-14 Sat (make-up) = WD2, 02-15..23 holiday, 02-24 Tue = WD3.
    due = cal.add_workdays(sh(2026, 2, 12, 10), 3)
    assert due == sh(2026, 2, 24, 10)
    assert due.tzinfo == UTC


def test_add_workdays_reaches_the_second_make_up_saturday(cal):
    # 02-24 Tue +1 Wed, +2 Thu, +3 Fri, +4 Sat 02-28 (make-up workday).
    assert cal.add_workdays(sh(2026, 2, 24, 9, 30), 4) == sh(2026, 2, 28, 9, 30)


def test_friday_plus_one_workday_is_next_working_day_same_time(cal):
    assert cal.add_workdays(sh(2026, 3, 6, 10), 1) == sh(2026, 3, 9, 10)  # Fri → Mon


def test_start_on_a_holiday_counts_from_next_working_day_midnight(cal):
    # 2026-02-18 is inside the Spring Festival; the clock starts 02-24 00:00.
    assert cal.add_workdays(sh(2026, 2, 18, 15, 20), 1) == sh(2026, 2, 25, 0)
    assert cal.add_workdays(sh(2026, 2, 18, 15, 20), 0.5) == sh(2026, 2, 24, 12)
    assert cal.add_working_seconds(sh(2026, 3, 7, 23), 3600) == sh(2026, 3, 9, 1)  # Sat → Mon


def test_fractional_and_zero_workdays(cal):
    start = sh(2026, 3, 4, 8)
    assert cal.add_workdays(start, 0) == start
    assert cal.add_workdays(start, 1.5) == sh(2026, 3, 5, 20)


def test_negative_working_seconds_walk_backwards(cal):
    # Monday 10:00 minus one working day is the previous Friday 10:00.
    assert cal.add_working_seconds(sh(2026, 3, 9, 10), -DAY) == sh(2026, 3, 6, 10)
    # From Monday 00:00 backwards: the working time just before belongs to Friday.
    assert cal.add_working_seconds(sh(2026, 3, 9, 0), -3600) == sh(2026, 3, 6, 23)


def test_working_seconds_between(cal):
    fri, mon = sh(2026, 3, 6, 10), sh(2026, 3, 9, 10)
    assert cal.working_seconds_between(fri, mon) == DAY
    assert cal.working_seconds_between(mon, fri) == -DAY
    # Entirely inside a weekend: nothing.
    assert cal.working_seconds_between(sh(2026, 3, 7, 1), sh(2026, 3, 8, 23)) == 0
    # Across the festival: rest of 02-14 (make-up Sat) + 02-24 up to 08:00.
    assert cal.working_seconds_between(sh(2026, 2, 14, 20), sh(2026, 2, 24, 8)) == 12 * 3600


def test_add_and_between_are_inverse(cal):
    start = sh(2026, 2, 11, 17, 45)
    for seconds in (1, 3600, DAY, 2.5 * DAY, 7 * DAY):
        end = cal.add_working_seconds(start, seconds)
        assert cal.working_seconds_between(start, end) == pytest.approx(seconds)


def test_overrides_win_over_the_package():
    ordinary_tuesday = date(2026, 3, 10)
    ordinary_saturday = date(2026, 3, 14)
    cal = WorkCalendar({ordinary_tuesday: False, ordinary_saturday: True})
    assert not cal.is_workday(ordinary_tuesday)
    assert cal.is_workday(ordinary_saturday)
    # Mon 10:00 + 1 WD skips the custom holiday; Fri + 1 WD lands on the custom Saturday workday.
    assert cal.add_workdays(sh(2026, 3, 9, 10), 1) == sh(2026, 3, 11, 10)
    assert cal.add_workdays(sh(2026, 3, 13, 10), 1) == sh(2026, 3, 14, 10)


def test_override_can_cancel_an_official_holiday():
    cal = WorkCalendar({date(2026, 2, 16): True})
    assert cal.add_workdays(sh(2026, 2, 14, 10), 1) == sh(2026, 2, 16, 10)


def test_from_rows_reads_holiday_override_objects():
    rows = [SimpleNamespace(day=date(2026, 3, 10), is_workday=False, note="区里停电检修")]
    assert not WorkCalendar.from_rows(rows).is_workday(date(2026, 3, 10))


def test_unknown_year_falls_back_to_the_statutory_holidays_then_monday_to_friday():
    cal = WorkCalendar({date(2027, 1, 4): False})
    assert cal.is_workday(date(2027, 1, 5))  # Tuesday
    assert not cal.is_workday(date(2027, 1, 9))  # Saturday
    assert not cal.is_workday(date(2027, 1, 4))  # Monday, overridden
    assert not cal.is_workday(date(2027, 1, 1))  # New Year's Day (holidays package), a Friday
    # Thu 2026-12-31 10:00 + 1 WD: New Year, the weekend and the overridden Monday are skipped.
    assert cal.add_workdays(sh(2026, 12, 31, 10), 1) == sh(2027, 1, 5, 10)


def test_is_workday_is_cached(monkeypatch):
    calls = []
    import chinese_calendar

    real = chinese_calendar.is_workday
    monkeypatch.setattr(chinese_calendar, "is_workday", lambda d: calls.append(d) or real(d))
    cal = WorkCalendar()
    for _ in range(3):
        cal.is_workday(date(2026, 5, 6))
    assert calls == [date(2026, 5, 6)]


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError):
        cal.add_workdays(datetime(2026, 3, 9, 10), 1)
    with pytest.raises(ValueError):
        cal.working_seconds_between(datetime(2026, 3, 9, 10), sh(2026, 3, 9, 11))


# --- Rules and deadlines --------------------------------------------------------------------------


def test_default_rules_follow_the_domain_defaults():
    assert len(DEFAULT_RULES) == 12
    normal = DEFAULT_RULES[("normal", 1)]
    assert (normal.sign_minutes, normal.sign_workdays, normal.handle_workdays) == (None, 1, 3)
    assert DEFAULT_RULES[("urgent", 2)].sign_minutes == 30
    assert DEFAULT_RULES[("emergency", 3)].sign_minutes == 15
    assert [DEFAULT_RULES[("normal", lv)].handle_workdays for lv in (1, 2, 3, 4)] == [3, 5, 10, None]
    assert normal.remind_percents == (50, 80)


def policy(domain_id, priority="normal", level=1, **kw):
    values = dict(
        domain_id=domain_id,
        priority=priority,
        level=level,
        sign_minutes=None,
        sign_workdays=1,
        handle_workdays=3,
        remind_percents=[50, 80],
        leader_after_workdays=1,
        bizenv_after_workdays=2,
        return_limit_workdays=1,
        return_limit_workdays_complex=2,
    )
    values.update(kw)
    return SimpleNamespace(**values)


def test_select_rule_prefers_the_exact_domain():
    policies = [
        policy(None, handle_workdays=4),
        policy(7, handle_workdays=2, remind_percents=[80, 30]),
        policy(8, handle_workdays=9),
        policy(7, level=2, handle_workdays=6),
    ]
    chosen = select_rule(policies, 7, "normal", 1)
    assert chosen.handle_workdays == 2
    assert chosen.remind_percents == (30, 80)
    assert select_rule(policies, 5, "normal", 1).handle_workdays == 4
    assert select_rule(policies, None, "normal", 1).handle_workdays == 4
    assert select_rule(policies, 7, "normal", 3) == DEFAULT_RULES[("normal", 3)]
    assert select_rule([], 7, "urgent", 1) == DEFAULT_RULES[("urgent", 1)]
    with pytest.raises(ValueError):
        select_rule([], None, "whenever", 1)


def test_from_policy_fills_nulls_with_defaults():
    rule = SlaRule.from_policy(policy(None, remind_percents=None, leader_after_workdays=None))
    assert rule.remind_percents == (50, 80)
    assert rule.leader_after_workdays == 1


def test_normal_deadlines_in_working_days(cal):
    start = sh(2026, 2, 12, 10)
    assert compute_deadlines(DEFAULT_RULES[("normal", 1)], cal, start) == Deadlines(
        sign_due_at=sh(2026, 2, 13, 10), due_at=sh(2026, 2, 24, 10)
    )


@pytest.mark.parametrize(("priority", "minutes"), [("urgent", 30), ("emergency", 15)])
def test_urgent_sign_deadline_is_natural_time_even_on_a_holiday(cal, priority, minutes):
    start = sh(2026, 2, 17, 23, 50)  # Spring Festival, late evening
    deadlines = compute_deadlines(DEFAULT_RULES[(priority, 1)], cal, start)
    assert deadlines.sign_due_at == start + timedelta(minutes=minutes)
    assert deadlines.due_at == sh(2026, 2, 27, 0)  # 3 WD from 02-24 00:00


def test_level_4_follows_the_city_deadline(cal):
    rule = DEFAULT_RULES[("normal", 4)]
    start = sh(2026, 3, 2, 9)
    with_city = compute_deadlines(rule, cal, start, city_deadline=date(2026, 3, 20))
    assert local(with_city.due_at) == datetime(2026, 3, 20, 23, 59, 59)
    assert with_city.sign_due_at == sh(2026, 3, 3, 9)
    assert compute_deadlines(rule, cal, start).due_at is None


# --- Pause, resume, extension ---------------------------------------------------------------------


def test_pause_over_the_festival_then_resume(cal):
    # Due Thu 02-26 10:00; suspended Fri 02-13 16:00 → left: 8h (Fri) + 24h (Sat 02-14) + 24h (02-24)
    # + 24h (02-25) + 10h (02-26) = 3.75 WD.
    due = sh(2026, 2, 26, 10)
    suspended = sh(2026, 2, 13, 16)
    assert cal.working_seconds_between(suspended, due) == 3.75 * DAY
    # Resumed Wed 03-04 12:00: 12h (03-04) + 03-05 + 03-06 + weekend skipped + 03-09 + 6h on 03-10.
    resumed = sh(2026, 3, 4, 12)
    new_due = resume_deadline(cal, due, suspended, resumed)
    assert new_due == sh(2026, 3, 10, 6)
    assert cal.working_seconds_between(resumed, new_due) == 3.75 * DAY


def test_pause_over_a_weekend_only_shifts_by_the_working_time_lost(cal):
    due = sh(2026, 3, 10, 10)  # Tue
    new_due = resume_deadline(cal, due, sh(2026, 3, 6, 10), sh(2026, 3, 9, 10))  # Fri → Mon
    assert new_due == sh(2026, 3, 11, 10)  # one working day lost (Friday → Monday)


def test_resume_on_a_holiday_restarts_at_the_next_working_day(cal):
    due = sh(2026, 2, 12, 18)
    new_due = resume_deadline(cal, due, sh(2026, 2, 12, 12), sh(2026, 2, 20, 9))
    assert new_due == sh(2026, 2, 24, 6)


def test_paused_after_overdue_keeps_the_overdue_amount(cal):
    due = sh(2026, 3, 5, 10)  # Thu
    suspended = sh(2026, 3, 6, 16)  # Fri: 30 working hours overdue
    assert cal.working_seconds_between(suspended, due) == -30 * 3600
    resumed = sh(2026, 3, 11, 12)  # Wed
    new_due = resume_deadline(cal, due, suspended, resumed)
    assert new_due == sh(2026, 3, 10, 6)
    assert cal.working_seconds_between(new_due, resumed) == 30 * 3600
    assert time_left_label(cal, new_due, resumed) == "已超期 1 个工作日 6 小时"


def test_extend_deadline(cal):
    assert extend_deadline(cal, sh(2026, 2, 13, 10), 2) == sh(2026, 2, 24, 10)


# --- Alerts ---------------------------------------------------------------------------------------

RULE = DEFAULT_RULES[("normal", 1)]
START = sh(2026, 3, 2, 9)  # Monday 09:00
PLAN = compute_deadlines(RULE, WorkCalendar(), START)  # sign Tue 09:00, due Thu 03-05 09:00


def alerts(cal, now, fired, *, signed=True, suspended=False, state="processing", due_at=PLAN.due_at):
    return due_alerts(
        rule=RULE,
        calendar=cal,
        state=state,
        clock_started_at=START,
        due_at=due_at,
        sign_due_at=PLAN.sign_due_at,
        signed=signed,
        suspended=suspended,
        now=now,
        fired=fired,
    )


def test_alerts_fire_in_order_and_once(cal):
    assert PLAN.due_at == sh(2026, 3, 5, 9)
    fired: set[str] = set()
    timeline = [
        (sh(2026, 3, 2, 10), []),
        (sh(2026, 3, 3, 10), ["sign_overdue"]),
        (sh(2026, 3, 3, 11), []),
        (sh(2026, 3, 3, 21), ["remind_50"]),  # 1.5 WD after Mon 09:00
        (sh(2026, 3, 4, 18), []),
        (sh(2026, 3, 4, 19), ["remind_80"]),  # 2.4 WD after Mon 09:00 = Wed 18:36
        (sh(2026, 3, 5, 9), []),  # exactly at the deadline: not yet overdue
        (sh(2026, 3, 5, 9, 0, 1), ["overdue_supervise"]),
        (sh(2026, 3, 6, 8), []),
        (sh(2026, 3, 6, 9), ["overdue_leader"]),  # due + 1 WD
        (sh(2026, 3, 7, 12), []),  # Saturday: no working time passes
        (sh(2026, 3, 9, 9), ["overdue_bizenv"]),  # due + 2 WD = Mon 09:00
        (sh(2026, 3, 20, 9), []),
    ]
    for now, expected in timeline:
        plan = alerts(cal, now, fired, signed=False)
        assert plan.fire == expected, now
        assert plan.skip == []
        fired.update(plan.fire)
        # The same call again fires nothing: the caller recorded them.
        assert alerts(cal, now, fired).fire == []


def test_remind_80_threshold_is_exact(cal):
    fired = {"remind_50"}
    assert alerts(cal, sh(2026, 3, 4, 18, 35), fired).fire == []
    assert alerts(cal, sh(2026, 3, 4, 18, 36), fired).fire == ["remind_80"]


def test_job_down_past_the_deadline_skips_reminders(cal):
    plan = alerts(cal, sh(2026, 3, 9, 12), set(), signed=False)
    assert plan == AlertPlan(
        fire=["sign_overdue", "overdue_supervise", "overdue_leader", "overdue_bizenv"],
        skip=["remind_50", "remind_80"],
    )
    # Already sent reminders are not reported as skipped.
    plan = alerts(cal, sh(2026, 3, 5, 12), {"remind_50"})
    assert plan == AlertPlan(fire=["overdue_supervise"], skip=["remind_80"])


def test_several_reminders_due_at_once_come_in_order(cal):
    assert alerts(cal, sh(2026, 3, 5, 8), set()).fire == ["remind_50", "remind_80"]


def test_nothing_fires_while_suspended_or_clock_stopped(cal):
    late = sh(2026, 3, 9, 12)
    assert alerts(cal, late, set(), signed=False, suspended=True) == AlertPlan()
    assert alerts(cal, late, set(), state="suspended") == AlertPlan()
    assert alerts(cal, late, set(), state="resolved") == AlertPlan()


def test_no_handling_alerts_without_a_due_date(cal):
    now = sh(2026, 3, 20, 9)
    assert alerts(cal, now, set(), due_at=None) == AlertPlan()
    # The sign-in deadline is separate: an unsigned level-4 order is still chased.
    assert alerts(cal, now, set(), due_at=None, signed=False, state="dispatched").fire == ["sign_overdue"]


def test_alert_labels():
    assert ALERT_LABELS["remind_50"] == "办理时限已过半"
    assert ALERT_LABELS["overdue_bizenv"] == "超期通报区营商环境办"
    assert alert_label("sign_overdue") == "超时未签收"
    assert alert_label("remind_90") == "办理时限已过90%"


# --- Labels ---------------------------------------------------------------------------------------


def test_time_left_label(cal):
    due = sh(2026, 3, 5, 12)
    assert time_left_label(cal, due, sh(2026, 3, 3, 9)) == "剩余 2 个工作日 3 小时"
    assert time_left_label(cal, due, sh(2026, 3, 4, 12)) == "剩余 1 个工作日"
    assert time_left_label(cal, due, sh(2026, 3, 5, 9, 30)) == "剩余 2 小时 30 分钟"
    assert time_left_label(cal, due, sh(2026, 3, 5, 11, 35)) == "剩余 25 分钟"
    assert time_left_label(cal, due, sh(2026, 3, 5, 11, 59, 30)) == "剩余不足 1 分钟"
    assert time_left_label(cal, due, sh(2026, 3, 6, 14)) == "已超期 1 个工作日 2 小时"
    assert time_left_label(cal, None, sh(2026, 3, 6, 14)) == "未设办理时限"
    # Friday deadline, looked at over the weekend: the overdue time does not grow.
    fri = sh(2026, 3, 6, 23)
    assert time_left_label(cal, fri, sh(2026, 3, 8, 12)) == "已超期 1 小时"
    assert time_left_label(cal, sh(2026, 3, 7, 0), sh(2026, 3, 8, 12)) == "已超期"


# --- No clock -------------------------------------------------------------------------------------


def test_results_do_not_depend_on_the_clock():
    def snapshot():
        cal = WorkCalendar()
        start = sh(2026, 2, 12, 10)
        return (
            compute_deadlines(DEFAULT_RULES[("urgent", 2)], cal, start),
            cal.add_workdays(start, 3),
            time_left_label(cal, sh(2026, 2, 24, 10), start),
            alerts(cal, sh(2026, 3, 9, 12), set(), signed=False),
        )

    before = snapshot()
    with time_machine.travel(datetime(2031, 7, 1, 3, tzinfo=UTC), tick=False):
        assert datetime.now(UTC).year == 2031
        assert snapshot() == before
    with time_machine.travel(datetime(1999, 12, 31, 23, 59, tzinfo=UTC), tick=False):
        assert snapshot() == before


def test_clock_of_an_order_waiting_in_a_hub_queue_is_its_time_left():
    from models import WorkOrder
    from services.orders.deadlines import clock
    from services.orders.lifecycle import State

    cal = WorkCalendar()
    now = sh(2026, 3, 2, 10)  # Monday
    waiting = WorkOrder(state=State.PENDING_DISPATCH, level=3, due_at=sh(2026, 3, 4, 10))
    assert clock(waiting, cal, now).label == "剩余 2 个工作日"
    assert (clock(waiting, cal, now).css, clock(waiting, cal, now).overdue) == ("ok", False)
    assert clock(waiting, cal, sh(2026, 3, 4, 11)).label.startswith("已超期")
    assert clock(WorkOrder(state=State.SUSPENDED, level=2, due_at=sh(2026, 3, 4, 10)), cal, now).label == "已挂起（计时暂停）"
    assert clock(WorkOrder(state=State.ARCHIVED, level=2), cal, now).label == "—"
