"""System settings (系统参数): the values an administrator edits on 「管理 → 系统参数」.

A saved row wins. The environment only supplies the default while no row exists (services never
read it themselves: callers pass ``config.Settings.setting_defaults()``), so a change on the page
takes effect at the next read — the next job run or request — without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import SystemSetting


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    help: str
    minimum: int
    maximum: int
    default: int


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("max_returns", "退单次数上限", "同一工单被退回达到该次数后，由区网格中心指定承办单位", 1, 10, 3),
    SettingSpec("survey_delay_hours", "满意度调查发送时间（小时）", "结果反馈企业后多少小时发送满意度调查链接", 0, 720, 24),
    SettingSpec("survey_reminder_hours", "调查提醒间隔（小时）", "企业未评价时，多少小时后提醒一次", 1, 720, 24),
    SettingSpec("duplicate_window_days", "重复诉求比对天数", "同一企业（或来电号码）多少天内的相似诉求提示为可能重复", 1, 365, 30),
    SettingSpec("duplicate_similarity_percent", "重复诉求相似度（%）",
                "诉求内容相似到多少（按相邻两字的重合比例计算）提示为可能重复；越大越严格", 10, 100, 40),
)
SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return int(number) if float(number).is_integer() else float(number)


def default_of(spec: SettingSpec, defaults: Mapping[str, Any] | None) -> int | float:
    """The value while no row exists: the environment's when it names one, else the built-in."""
    number = _number((defaults or {}).get(spec.key, spec.default))
    return spec.default if number is None else number


def current(session: Session, defaults: Mapping[str, Any] | None = None) -> dict[str, int | float]:
    """Every setting's value now: the saved row, else the default."""
    rows = {row.key: row.value for row in session.scalars(
        select(SystemSetting).where(SystemSetting.key.in_(list(SPECS))))}
    values: dict[str, int | float] = {}
    for spec in SETTINGS:
        saved = _number(rows[spec.key]) if spec.key in rows else None
        values[spec.key] = saved if saved is not None else default_of(spec, defaults)
    return values


def value(session: Session, key: str, defaults: Mapping[str, Any] | None = None) -> int | float:
    spec = SPECS[key]
    row = session.get(SystemSetting, key)
    saved = _number(row.value) if row is not None else None
    return saved if saved is not None else default_of(spec, defaults)


def duplicate_rule(session: Session) -> tuple[int, int]:
    """(similarity threshold in percent, window in days) of the duplicate check (no environment default)."""
    values = current(session)
    return int(values["duplicate_similarity_percent"]), int(values["duplicate_window_days"])


def max_returns(session: Session) -> int:
    """Returns after which the grid center designates the handler (no environment default)."""
    return int(value(session, "max_returns"))
