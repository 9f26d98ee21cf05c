"""Reading the State Council's yearly notice (国务院办公厅关于某年部分节假日安排的通知).

Pure: text in, dates out. The notice lists one festival per numbered item::

    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。
    1月26日（周日）、2月8日（周六）上班。

Each sentence that says 上班 lists 调休 working days; a sentence that says 放假 (or 补休) gives
days off, as single dates or ``A至B`` ranges (the month of ``B`` may be left out). Parenthesised
remarks (weekday, lunar date) are ignored; a date may carry its own year (``2026年12月31日``),
else it belongs to the notice's year. The administrator sees the result and confirms it before
anything is saved (``services.admin.operations.import_holiday_notice``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.errors import ValidationFailed

MAX_TEXT = 20_000
_YEAR = re.compile(r"(\d{4})\s*年\s*部分节假日安排")
_ITEM = re.compile(r"(?:^|(?<=[\s。；]))[一二三四五六七八九十]+\s*、", re.MULTILINE)
_REMARK = re.compile(r"[（(][^（）()]*[）)]")
_DATE = re.compile(r"(?:(\d{4})\s*年)?\s*(?:(\d{1,2})\s*月)?\s*(\d{1,2})\s*日")
_RANGE_WORDS = ("至", "到", "—", "－", "-", "~", "～")


@dataclass(frozen=True)
class NoticeDay:
    day: date
    is_workday: bool
    festival: str

    @property
    def note(self) -> str:
        return f"{self.festival}调休上班" if self.is_workday else self.festival


@dataclass
class ParsedNotice:
    year: int
    days: list[NoticeDay] = field(default_factory=list)

    @property
    def holidays(self) -> list[NoticeDay]:
        return [d for d in self.days if not d.is_workday]

    @property
    def workdays(self) -> list[NoticeDay]:
        return [d for d in self.days if d.is_workday]

    @property
    def festivals(self) -> list[str]:
        return list(dict.fromkeys(d.festival for d in self.days))


def find_year(text: str) -> int | None:
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def parse_notice(text: str, year: int | None = None) -> ParsedNotice:
    """The holidays and 调休 working days of the notice; ``ValidationFailed`` (in Chinese) when the
    text holds none or contradicts itself."""
    # Remarks first: a lunar date such as （农历正月初七、周二） would read as an item number.
    text = _REMARK.sub("", (text or "").replace("\r", ""))
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"通知全文不应超过 {MAX_TEXT} 个字符", fields={"text": "过长"})
    year = find_year(text) or year
    if year is None:
        raise ValidationFailed("未能从通知中识别年份（标题应为“国务院办公厅关于某年部分节假日安排的通知”）",
                               fields={"text": "缺少年份"})
    if not 2000 <= year <= 2099:
        raise ValidationFailed("通知的年份应在 2000–2099 年之间", fields={"text": "年份无效"})
    result = ParsedNotice(year)
    seen: dict[date, NoticeDay] = {}
    for festival, body in _items(text):
        for sentence in re.split(r"[。；;\n]", body):
            if "上班" in sentence:
                days, is_workday = _dates(sentence, year, ranges=False), True
            elif "放假" in sentence or "补休" in sentence or "休息" in sentence:
                days, is_workday = _dates(sentence, year, ranges=True), False
            else:
                continue
            for day in days:
                earlier = seen.get(day)
                if earlier is not None and earlier.is_workday != is_workday:
                    raise ValidationFailed(f"{day.month}月{day.day}日在通知中既是放假又是上班，请检查粘贴的文字",
                                           fields={"text": "日期矛盾"})
                if earlier is None:
                    seen[day] = NoticeDay(day, is_workday, festival)
    if not seen:
        raise ValidationFailed("未能从文字中识别出任何放假或上班日期；请粘贴通知正文（“一、元旦：……”各条）",
                               fields={"text": "没有日期"})
    result.days = sorted(seen.values(), key=lambda d: d.day)
    return result


def _items(text: str) -> list[tuple[str, str]]:
    """(festival, its text) per numbered item ``一、元旦：…``."""
    starts = list(_ITEM.finditer(text))
    items = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        chunk = text[match.end():end]
        name, colon, body = chunk.partition("：")
        if not colon:
            name, colon, body = chunk.partition(":")
        if not colon or len(name) > 20:
            continue
        items.append((name.strip(), body))
    return items


def _dates(sentence: str, year: int, *, ranges: bool) -> list[date]:
    found: list[tuple[date, int, int]] = []
    month = None
    for match in _DATE.finditer(sentence):
        y = int(match.group(1)) if match.group(1) else year
        if match.group(2):
            month = int(match.group(2))
        if month is None:
            continue
        try:
            found.append((date(y, month, int(match.group(3))), match.start(), match.end()))
        except ValueError:
            raise ValidationFailed(f"通知中的日期无效：{match.group(0)}", fields={"text": "日期无效"}) from None
    days: list[date] = []
    index = 0
    while index < len(found):
        day, _, end = found[index]
        if ranges and index + 1 < len(found):
            following, start, _ = found[index + 1]
            between = sentence[end:start].strip()
            if between in _RANGE_WORDS:
                if following < day or (following - day).days > 31:
                    raise ValidationFailed(f"通知中的日期范围无效：{day.month}月{day.day}日至{following.month}月"
                                           f"{following.day}日", fields={"text": "日期范围无效"})
                days.extend(day + timedelta(days=n) for n in range((following - day).days + 1))
                index += 2
                continue
        days.append(day)
        index += 1
    return days
