"""The State Council's notices for 2025 and 2026, parsed; checked against the dates as published
(and against chinese_calendar, which carries both years)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from services.admin.holiday_notice import parse_notice
from services.errors import ValidationFailed
from services.orders.sla import WorkCalendar

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "holidays"


def span(start: date, end: date) -> set[date]:
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


def test_2025_notice():
    notice = parse_notice((FIXTURES / "2025.txt").read_text(encoding="utf-8"))
    assert notice.year == 2025
    assert {d.day for d in notice.holidays} == (
        {date(2025, 1, 1)} | span(date(2025, 1, 28), date(2025, 2, 4)) | span(date(2025, 4, 4), date(2025, 4, 6))
        | span(date(2025, 5, 1), date(2025, 5, 5)) | span(date(2025, 5, 31), date(2025, 6, 2))
        | span(date(2025, 10, 1), date(2025, 10, 8)))
    assert [d.day for d in notice.workdays] == [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27),
                                                date(2025, 9, 28), date(2025, 10, 11)]
    assert notice.festivals == ["元旦", "春节", "清明节", "劳动节", "端午节", "国庆节、中秋节"]
    spring = next(d for d in notice.days if d.day == date(2025, 1, 26))
    assert spring.note == "春节调休上班"


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_notice_agrees_with_chinese_calendar(year):
    notice = parse_notice((FIXTURES / f"{year}.txt").read_text(encoding="utf-8"))
    assert {d.day for d in notice.holidays} == {d for d in chinese_calendar.holidays if d.year == year}
    assert {d.day for d in notice.workdays} == {d for d in chinese_calendar.workdays
                                                if d.year == year and d.weekday() >= 5}


def test_2026_notice_has_seven_festivals_and_six_adjusted_workdays():
    notice = parse_notice((FIXTURES / "2026.txt").read_text(encoding="utf-8"))
    assert notice.year == 2026 and len(notice.holidays) == 33
    assert [d.day for d in notice.workdays] == [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
                                                date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]


def test_a_year_of_2027_in_the_same_words_parses_with_explicit_years_and_make_up_days():
    text = ("国务院办公厅关于2027年部分节假日安排的通知\n一、元旦：2026年12月31日至2027年1月1日放假，共2天。\n"
            "二、春节：2月5日至11日放假调休，共7天。2月13日（周六）上班。1月31日补休。")
    notice = parse_notice(text)
    assert {d.day for d in notice.holidays} >= {date(2026, 12, 31), date(2027, 1, 1), date(2027, 2, 11),
                                                date(2027, 1, 31)}
    assert [d.day for d in notice.workdays] == [date(2027, 2, 13)]


@pytest.mark.parametrize("text, message", [
    ("", "年份"),
    ("国务院办公厅关于2027年部分节假日安排的通知 各地要做好值班", "未能从文字中识别"),
    ("国务院办公厅关于2027年部分节假日安排的通知 一、春节：2月5日放假。2月5日上班。", "既是放假又是上班"),
    ("国务院办公厅关于2027年部分节假日安排的通知 一、春节：2月30日放假。", "日期无效"),
])
def test_text_that_is_not_a_notice_is_refused_in_chinese(text, message):
    with pytest.raises(ValidationFailed, match=message):
        parse_notice(text)


def test_without_any_data_the_calendar_uses_the_statutory_holidays_not_monday_to_friday():
    calendar = WorkCalendar()
    # 2027: chinese_calendar has no data; the holidays package knows New Year and Spring Festival.
    assert calendar.is_workday(date(2027, 1, 1)) is False  # a Friday
    assert calendar.is_workday(date(2027, 2, 8)) is False  # Monday in the Spring Festival
    assert calendar.is_workday(date(2027, 1, 5)) is True
    assert calendar.is_workday(date(2027, 1, 9)) is False  # a Saturday
