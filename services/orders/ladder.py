"""The four-level response ladder (四级响应) and the green channel, as pure rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.errors import ValidationFailed
from services.orders.lifecycle import State

LEVELS = {1: "片区即时办理", 2: "部门协调办理", 3: "区级会商办理", 4: "市级提级办理"}
GRID_CENTER = "grid_center"
BIZENV_OFFICE = "bizenv_office"

CITY_ROUTES = {"12345": "市12345热线企业服务专席", "city_department": "市级相关部门"}


@dataclass(frozen=True)
class Route:
    level: int
    state: str
    green_channel: bool
    department_id: int | None  # dispatched straight to this department (吹哨)
    handled_by_submitter: bool  # level 1: the service staff member handles it now
    hub: str | None  # which hub's queue the order waits in


def initial_route(
    *, requested_level: int, is_complex: bool, key_industry: bool, department_id: int | None
) -> Route:
    """Where a newly accepted order goes.

    A complex request of a "2+3" enterprise skips the lower rungs (绿色通道): straight to the
    business-environment office for a level-3 consultation, first in line.
    """
    if requested_level not in LEVELS:
        raise ValidationFailed("响应层级必须是 1 至 4", fields={"level": "取值 1–4"})
    if key_industry and is_complex and requested_level < 4:
        return Route(3, State.PENDING_DISPATCH, True, None, False, BIZENV_OFFICE)
    if requested_level == 1:
        return Route(1, State.PROCESSING, False, None, True, None)
    if requested_level == 2:
        if department_id is not None:
            return Route(2, State.DISPATCHED, False, department_id, False, None)
        return Route(2, State.PENDING_DISPATCH, False, None, False, GRID_CENTER)
    if requested_level == 3:
        return Route(3, State.PENDING_DISPATCH, False, None, False, BIZENV_OFFICE)
    return Route(4, State.PENDING_DISPATCH, False, None, False, GRID_CENTER)


def escalation_target(current_level: int, requested_level: int | None) -> int:
    target = requested_level if requested_level is not None else current_level + 1
    if current_level >= 4:
        raise ValidationFailed("已是市级提级办理，不能再升级")
    if target <= current_level or target not in LEVELS:
        raise ValidationFailed(f"只能升级到高于当前（{LEVELS[current_level]}）的层级")
    return target


def hub_for_level(level: int) -> str:
    return BIZENV_OFFICE if level == 3 else GRID_CENTER


def _split_keywords(text: str) -> list[str]:
    return [k.strip() for k in text.replace("，", ",").replace("、", ",").replace("\n", ",").split(",") if k.strip()]


def rank_by_keywords(text: str, candidates: Iterable[tuple[int, str]]) -> list[tuple[int, int]]:
    """Rank (id, keywords) candidates by how many of their keywords appear in ``text``; best first."""
    scored = []
    for order, (cid, keywords) in enumerate(candidates):
        hits = sum(1 for k in _split_keywords(keywords or "") if k in text)
        if hits:
            scored.append((hits, -order, cid))
    scored.sort(reverse=True)
    return [(cid, hits) for hits, _, cid in scored]


def level_label(level: int) -> str:
    return LEVELS.get(level, str(level))
