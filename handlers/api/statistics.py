"""/api/v1/statistics: the KPI table of the statistics page, for the district's other systems."""

from __future__ import annotations

from flask import request

from handlers.api.base import DATE, STRING, Field, bp, caller, ok
from handlers.context import db, now
from services.statistics import kpis as statistics
from services.statistics.kpis import InvalidQuery

# Query parameters, documented in the OpenAPI document from this same table.
PARAMETERS: tuple[Field, ...] = (
    Field("group", STRING, "分组", default="zone",
          pattern="^(" + "|".join(statistics.GROUPS) + r"|field\.[a-z][a-z0-9_]*)$",
          description="；".join(f"{k}={v}" for k, v in statistics.GROUPS.items())
          + "；field.<字段键>=按配置中心表单中的单选字段分组（如 field.kind），未填写的归入“未填写”"),
    Field("period", STRING, "预设时段", enum=(*statistics.PRESETS, statistics.CUSTOM),
          description="；".join(f"{k}={v}" for k, v in statistics.PRESETS.items())
          + "；custom=自定义（须同时提供 from、to）。缺省为 this_month；提供 from/to 时可省略"),
    Field("from", DATE, "开始日期（北京时间，含当日）"),
    Field("to", DATE, "结束日期（北京时间，含当日）"),
)


@bp.get("/statistics")
def statistics_report():
    known = {f.name for f in PARAMETERS}
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise InvalidQuery(
            f"不支持的查询参数：{'、'.join(unknown)}；可用参数：{'、'.join(f.name for f in PARAMETERS)}",
            fields={name: "不支持的参数" for name in unknown},
        )
    empty = [f.name for f in PARAMETERS if f.name in request.args and not request.args[f.name].strip()]
    if empty:
        raise InvalidQuery(f"查询参数不能为空：{'、'.join(empty)}", fields={name: "不能为空" for name in empty})
    moment = now()
    group, period = statistics.parse_query(request.args, moment)
    report = statistics.build_report(db(), statistics.scope_for(caller()), group, period, moment)
    return ok(statistics.report_dict(report))
