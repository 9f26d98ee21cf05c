"""Enterprise size (大/中/小/微) by 《统计上大中小微型企业划分办法（2017）》(国统字〔2017〕213号).

Each industry lists one to three indicators — 从业人员 X (persons), 营业收入 Y (万元), 资产总额 Z
(万元) — with lower bounds for large, medium and small. Large, medium and small must meet
*every* listed lower bound (otherwise one band down); micro needs only one indicator below the
small bound. With an indicator unknown the band is only certain when a known indicator is
already below the small bound (micro); otherwise the result is None.

Industries are found from the GB/T 4754-2017 code (section letter and/or 2–4 digits).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

LARGE, MEDIUM, SMALL, MICRO = "大", "中", "小", "微"
BANDS = (LARGE, MEDIUM, SMALL, MICRO)
LABELS = {LARGE: "大型", MEDIUM: "中型", SMALL: "小型", MICRO: "微型"}

X, Y, Z = "employees", "revenue", "assets"


@dataclass(frozen=True)
class Rule:
    name: str
    # indicator → (large, medium, small) lower bounds
    bounds: dict[str, tuple[int, int, int]]


RULES: dict[str, Rule] = {
    "agriculture": Rule("农、林、牧、渔业", {Y: (20000, 500, 50)}),
    "industry": Rule("工业", {X: (1000, 300, 20), Y: (40000, 2000, 300)}),
    "construction": Rule("建筑业", {Y: (80000, 6000, 300), Z: (80000, 5000, 300)}),
    "wholesale": Rule("批发业", {X: (200, 20, 5), Y: (40000, 5000, 1000)}),
    "retail": Rule("零售业", {X: (300, 50, 10), Y: (20000, 500, 100)}),
    "transport": Rule("交通运输业", {X: (1000, 300, 20), Y: (30000, 3000, 200)}),
    "warehousing": Rule("仓储业", {X: (200, 100, 20), Y: (30000, 1000, 100)}),
    "postal": Rule("邮政业", {X: (1000, 300, 20), Y: (30000, 2000, 100)}),
    "accommodation": Rule("住宿业", {X: (300, 100, 10), Y: (10000, 2000, 100)}),
    "catering": Rule("餐饮业", {X: (300, 100, 10), Y: (10000, 2000, 100)}),
    "telecom": Rule("信息传输业", {X: (2000, 100, 10), Y: (100000, 1000, 100)}),
    "software": Rule("软件和信息技术服务业", {X: (300, 100, 10), Y: (10000, 1000, 50)}),
    "real_estate_dev": Rule("房地产开发经营", {Y: (200000, 1000, 100), Z: (10000, 5000, 2000)}),
    "property_mgmt": Rule("物业管理", {X: (1000, 300, 100), Y: (5000, 1000, 500)}),
    "leasing_business": Rule("租赁和商务服务业", {X: (300, 100, 10), Z: (120000, 8000, 100)}),
    "other": Rule("其他未列明行业", {X: (300, 100, 10)}),
}

# GB/T 4754-2017: division (2 digits) → section letter.
_SECTION_RANGES = (
    ("A", 1, 5), ("B", 6, 12), ("C", 13, 43), ("D", 44, 46), ("E", 47, 50), ("F", 51, 52),
    ("G", 53, 60), ("H", 61, 62), ("I", 63, 65), ("J", 66, 69), ("K", 70, 70), ("L", 71, 72),
    ("M", 73, 75), ("N", 76, 79), ("O", 80, 82), ("P", 83, 83), ("Q", 84, 85), ("R", 86, 90),
    ("S", 91, 96), ("T", 97, 97),
)
# Finance, public administration and international organisations are outside the method.
_NOT_COVERED = {"J", "S", "T"}
_CODE = re.compile(r"^([A-T])?\s*(\d{2,4})?")


def section_of(division: int) -> str | None:
    for letter, low, high in _SECTION_RANGES:
        if low <= division <= high:
            return letter
    return None


@functools.lru_cache(maxsize=4096)  # a registry has thousands of rows per industry text
def parse_industry_code(raw: str | None) -> tuple[str, str]:
    """'C3311 金属结构制造' → ('C3311', '金属结构制造'); '3311' → ('C3311', ''); text only → ('', text)."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return "", ""
    match = _CODE.match(text.upper())
    letter, digits = (match.group(1), match.group(2)) if match else (None, None)
    if not letter and not digits:
        return "", text
    rest = text[match.end():].strip(" -_:：、,，")
    if digits:
        section = section_of(int(digits[:2]))
        if section is None or (letter and letter != section):
            return "", text
        letter = section
    return f"{letter}{digits or ''}", rest


@functools.lru_cache(maxsize=4096)
def industry_of(code: str | None) -> str | None:
    """The key of ``RULES`` for a GB/T 4754 code, or None when unknown or not covered."""
    code, _ = parse_industry_code(code)
    if not code:
        return None
    section, digits = code[0], code[1:]
    if section in _NOT_COVERED:
        return None
    if section == "A":
        return "agriculture"
    if section in ("B", "C", "D"):
        return "industry"
    if section == "E":
        return "construction"
    if section in ("F", "G", "H", "I", "K") and len(digits) < 2:
        return None  # the section alone does not say which rule applies
    division = int(digits[:2]) if digits else 0
    if section == "F":
        return "wholesale" if division == 51 else "retail"
    if section == "G":
        if division == 60:
            return "postal"
        if division == 59:
            if len(digits) < 3:
                return None
            # 591 装卸搬运 counts as transport; the rest of 59 is warehousing.
            return "transport" if digits[:3] == "591" else "warehousing"
        return "transport" if division != 53 else "other"  # railways are excluded from transport
    if section == "H":
        return "accommodation" if division == 61 else "catering"
    if section == "I":
        return "software" if division == 65 else "telecom"
    if section == "K":
        if len(digits) < 3:
            return None
        return {"701": "real_estate_dev", "702": "property_mgmt"}.get(digits[:3], "other")
    if section == "L":
        return "leasing_business"
    return "other"


def classify(
    industry_code: str | None,
    employees: int | None = None,
    revenue: Decimal | float | int | None = None,
    assets: Decimal | float | int | None = None,
) -> str | None:
    """大/中/小/微, or None when the industry or the needed indicators are unknown."""
    key = industry_of(industry_code) if industry_code else None
    if key is None:
        return None
    return band_for(RULES[key], {X: employees, Y: revenue, Z: assets})


def band_for(rule: Rule, values: dict[str, object]) -> str | None:
    known = [(values[name], limits) for name, limits in rule.bounds.items() if values.get(name) is not None]
    # Micro needs only one indicator below the small bound, so it is certain even with gaps.
    if any(value < limits[2] for value, limits in known):
        return MICRO
    if len(known) < len(rule.bounds):
        return None
    for index, band in enumerate((LARGE, MEDIUM, SMALL)):
        if all(value >= limits[index] for value, limits in known):
            return band
    return MICRO  # unreachable: every indicator is at least the small bound here
