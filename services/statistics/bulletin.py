"""统计通报 (scheduled KPI bulletin): monthly, and weekly when configured, the jobs process builds the
report of the period just ended — the xlsx (by zone and by department, the same sheets as the
statistics export) and a chart image (SVG: 按时办结率 by zone against the target) — stores both in
the instance folder and sends the district leaders and the 营商环境办 a message through the outbox
with the headline numbers and the links. Keyed by cadence and period, so a re-run sends nothing twice.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.storage import Storage
from models import Person, Role
from models.outbox import MessageKind
from services.messaging.notify import Channels, Notifier
from services.statistics import kpis
from services.xlsx_export import write_workbook

CADENCES = {"monthly": "月报", "weekly": "周报"}
SEND_AT = time(9, 0)  # Beijing: from 09:00 of the 1st (monthly) / of Monday (weekly)
RECIPIENT_ROLES = (Role.DISTRICT_LEADER, Role.BIZENV_OFFICE)
KEY_PATTERN = r"(monthly-\d{4}-\d{2}|weekly-\d{4}-W\d{2})"


@dataclass(frozen=True)
class Edition:
    cadence: str
    key: str  # monthly-2026-03 | weekly-2026-W10
    period: kpis.Period
    title: str


def due_editions(cadences: tuple[str, ...], now: datetime) -> list[Edition]:
    """The editions whose send time has come: the last whole month (from the 1st, 09:00) and the last
    whole ISO week (from Monday 09:00); the key makes later runs in the same month / week no-ops."""
    local = now.astimezone(kpis.LOCAL_TZ)
    today = local.date()
    result = []
    if "monthly" in cadences and (local.day > 1 or local.time() >= SEND_AT):
        last = today.replace(day=1) - timedelta(days=1)
        first = last.replace(day=1)
        result.append(Edition("monthly", f"monthly-{first:%Y-%m}", kpis.Period(first, last),
                              f"{first.year} 年 {first.month} 月统计通报"))
    if "weekly" in cadences and (local.weekday() > 0 or local.time() >= SEND_AT):
        monday = today - timedelta(days=today.weekday() + 7)
        year, week, _ = monday.isocalendar()
        result.append(Edition("weekly", f"weekly-{year}-W{week:02d}", kpis.Period(monday, monday + timedelta(days=6)),
                              f"{year} 年第 {week} 周统计通报"))
    return result


def chart_svg(report: kpis.Report, title: str) -> str:
    """Horizontal bars of 按时办结率 per row (ranked), a dashed line at the target; plain SVG."""
    ranked = [r for r in kpis.ranking(report) if r.rank is not None]
    width, left, bar, gap, top = 760, 180, 18, 8, 56
    height = top + max(1, len(ranked)) * (bar + gap) + 40
    span = width - left - 70
    target_x = left + span * kpis.ON_TIME_RATE_MIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="28" font-size="17" font-weight="bold">{escape(title)}</text>',
        f'<text x="16" y="46" fill="#56606b">按时办结率（{escape(report.period.label)}），虚线为目标 '
        f'{kpis.ON_TIME_RATE_MIN * 100:.0f}%</text>',
    ]
    for index, ranked_row in enumerate(ranked):
        row = ranked_row.row
        value = row.counts.on_time_rate.value or 0.0
        y = top + index * (bar + gap)
        color = "#c62828" if kpis.KPI_BY_KEY["on_time_rate"].alarming(row.counts.on_time_rate) else "#1f5fae"
        parts.append(f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end">{escape(row.label[:14])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{span * value:.1f}" height="{bar}" fill="{color}"/>')
        parts.append(f'<text x="{left + span * value + 6:.1f}" y="{y + bar - 4}">{row.counts.on_time_rate.text}</text>')
    if not ranked:
        parts.append(f'<text x="{left}" y="{top + 14}" fill="#56606b">本期没有应办结的工单</text>')
    parts.append(f'<line x1="{target_x:.1f}" y1="{top - 6}" x2="{target_x:.1f}" y2="{height - 30}" '
                 'stroke="#c62828" stroke-dasharray="5,4"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def workbook_bytes(reports: list[kpis.Report]) -> bytes:
    buffer = io.BytesIO()
    write_workbook(buffer, [kpis.report_sheet(r) for r in reports])
    return buffer.getvalue()


def _lowest(report: kpis.Report, limit: int = 3) -> list[str]:
    ranked = [r for r in kpis.ranking(report) if r.rank is not None]
    return [f"{r.row.label} {r.row.counts.on_time_rate.text}" for r in ranked[::-1][:limit]]


def storage_key(edition_key: str, suffix: str) -> str:
    """Where an edition's file lives in the storage (``.xlsx`` or ``.svg``)."""
    return f"bulletins/{edition_key}{suffix}"


def send_due(session: Session, now: datetime, channels: Channels, cadences: tuple[str, ...],
             storage: Storage) -> list[str]:
    """Build and send every due edition not sent yet; the keys sent. The files go to the shared
    storage, so a web process on another host serves what the jobs process built."""
    sent = []
    recipients = list(session.scalars(select(Person).where(Person.role.in_(RECIPIENT_ROLES),
                                                          Person.active.is_(True)).order_by(Person.id)))
    if not recipients:
        return sent
    district = kpis.Scope("district", "全区")
    for edition in due_editions(cadences, now):
        xlsx_key = storage_key(edition.key, ".xlsx")
        if storage.exists(xlsx_key):  # built (and sent) by an earlier run
            continue
        by_zone = kpis.build_report(session, district, "zone", edition.period, now)
        by_department = kpis.build_report(session, district, "department", edition.period, now)
        storage.put_bytes(storage_key(edition.key, ".svg"), chart_svg(by_zone, edition.title).encode("utf-8"))
        total = by_zone.total.counts
        lowest = _lowest(by_zone) + _lowest(by_department)
        notifier = Notifier(session, channels, now)
        title, _, text = notifier.render(
            "statistics_bulletin", title=edition.title, period=edition.period.label, received=total.received,
            resolved=total.resolved, on_time_rate=total.on_time_rate.text, response_rate=total.response_rate.text,
            satisfaction_rate=total.satisfaction_rate.text, backlog=total.backlog, overdue=total.overdue,
            lowest="、".join(lowest) or "无", stamp=now.astimezone(kpis.LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        ).partition("\n")
        payload = {"title": title.strip(), "text": text.strip(), "url": f"/statistics/bulletins/{edition.key}.xlsx",
                   "files": {"xlsx": f"/statistics/bulletins/{edition.key}.xlsx",
                             "chart": f"/statistics/bulletins/{edition.key}.svg"}}
        notifier.to_people(recipients, kind=MessageKind.NOTICE, payload=payload, key=f"statistics-bulletin:{edition.key}")
        # The workbook last: its presence says "done" (a crash before it rebuilds and re-sends under the
        # same outbox key, which the outbox does not deliver twice).
        storage.put_bytes(xlsx_key, workbook_bytes([by_zone, by_department]))
        sent.append(edition.key)
    return sent
