"""统计 pages: the KPI table (period selector, group tabs), its xlsx export and the 通报 ranking."""

from __future__ import annotations

import re

from flask import render_template, request

from handlers.console.auth import login_required
from handlers.context import current_person, db, now
from handlers.grid.common import xlsx_download
from handlers.statistics import bp
from services.errors import PermissionDenied
from services.statistics import bulletin as scheduled_bulletin
from services.statistics import cockpit
from services.statistics import kpis as statistics
from services.statistics.kpis import InvalidQuery


def _query_args() -> dict[str, str]:
    """The page's own form: a preset leaves the date fields behind; "custom" uses them."""
    args = {key: value.strip() for key, value in request.args.items() if value.strip()}
    if args.get("period", statistics.CUSTOM) != statistics.CUSTOM:
        args.pop("from", None)
        args.pop("to", None)
    return args


def _report(group: str | None = None):
    person = current_person()
    scope = statistics.scope_for(person)
    moment = now()
    parsed_group, period = statistics.parse_query(_query_args(), moment)
    return statistics.build_report(db(), scope, group or parsed_group, period, moment)


def _page(report, *, error: InvalidQuery | None = None, status: int = 200):
    args = report.period.query_args()
    return render_template(
        "statistics/index.html", report=report, args=args, groups=statistics.groups_for(db()), presets=statistics.PRESETS,
        kpis=statistics.KPIS, notes=statistics.ATTRIBUTION_NOTES, error=error,
        bulletin=statistics.can_view_bulletin(current_person()) and report.group in statistics.RANKED_GROUPS,
    ), status


@bp.get("/")
@login_required
def index():
    try:
        report = _report()
    except InvalidQuery as error:
        # Show the form again with the message, on this month's numbers.
        group = request.args.get("group") if request.args.get("group") in statistics.groups_for(db()) else "zone"
        moment = now()
        report = statistics.build_report(db(), statistics.scope_for(current_person()), group,
                                         statistics.preset_period(statistics.DEFAULT_PRESET, moment), moment)
        return _page(report, error=error, status=error.http_status)
    return _page(report)


@bp.get("/export.xlsx")
@login_required
def export():
    report = _report()
    return xlsx_download([statistics.report_sheet(report)], f"统计-按{report.group_label}")


@bp.get("/bulletin")
@login_required
def bulletin():
    if not statistics.can_view_bulletin(current_person()):
        raise PermissionDenied("通报排名仅供区领导、区营商环境办、区网格中心和系统管理员查看")
    group = request.args.get("group") if request.args.get("group") in statistics.RANKED_GROUPS else "zone"
    report = _report(group)
    return render_template("statistics/bulletin.html", report=report, ranked=statistics.ranking(report),
                           kpis=statistics.KPI_BY_KEY, presets=statistics.PRESETS, generated=now())


def cockpit_page():
    """驾驶舱: headline KPIs against the previous period, the charts and the lists to act on, in the
    person's statistics scope (the district, their zone, or their department with its units)."""
    person = current_person()
    scope = statistics.scope_for(person)
    moment = now()
    preset = (request.args.get("period") or statistics.DEFAULT_PRESET).strip()
    if preset not in cockpit.COCKPIT_PRESETS:
        options = "、".join(f"{key}（{statistics.PRESETS[key]}）" for key in cockpit.COCKPIT_PRESETS)
        raise InvalidQuery(f"统计时段 period 可选：{options}", fields={"period": "无效"})
    period = statistics.preset_period(preset, moment)
    data = cockpit.build_cockpit(db(), scope, period, moment)
    return render_template("statistics/cockpit.html", cockpit=data,
                           presets={k: statistics.PRESETS[k] for k in cockpit.COCKPIT_PRESETS},
                           kpis=statistics.KPI_BY_KEY)


@bp.get("/cockpit")
@login_required
def cockpit_view():
    return cockpit_page()


def _bulletin_file(key: str, suffix: str, mimetype: str):
    from flask import abort, current_app, send_file

    from extensions import storage

    if not statistics.can_view_bulletin(current_person()):
        raise PermissionDenied("统计通报仅供区领导、区营商环境办、区网格中心和系统管理员查看")
    if not re.fullmatch(scheduled_bulletin.KEY_PATTERN, key):
        abort(404)
    files = storage(current_app)
    stored = scheduled_bulletin.storage_key(key, suffix)
    if not files.exists(stored):
        abort(404)
    return send_file(files.open(stored), mimetype=mimetype, as_attachment=suffix == ".xlsx",
                     download_name=f"统计通报-{key}{suffix}")


@bp.get("/bulletins/<bulletin_key>.xlsx")
@login_required
def bulletin_xlsx(bulletin_key: str):
    return _bulletin_file(bulletin_key, ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/bulletins/<bulletin_key>.svg")
@login_required
def bulletin_chart(bulletin_key: str):
    return _bulletin_file(bulletin_key, ".svg", "image/svg+xml")
