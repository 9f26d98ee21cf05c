"""GB/T 4754-2017 国民经济行业分类 as a closed list: 20 门类, 97 大类, 473 中类, 1380 小类
(``gbt4754_2017.tsv`` beside this module). A code outside it — ``X9999``, ``C9999``, ``C3399`` —
is an error in the registry import, the enterprise profile and the policy conditions alike.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from services.registry.size_band import parse_industry_code

DATA = Path(__file__).with_name("gbt4754_2017.tsv")
# Text that can only be meant as a code: all letters, digits and separators, or starting with a
# letter and digits («X9999», «C9999 不存在的行业»).
_CODE_LIKE = re.compile(r"[A-Za-z0-9.\-_/ ]+")
_LEADING_CODE = re.compile(r"[A-Za-z]?\d{2,}|[A-Za-z](?=[\s\-_:：、,，]|$)")
EXAMPLE = "如 C3311，或 C3311 金属结构制造"


@functools.cache
def codes() -> dict[str, str]:
    """Every code (section letter included: ``C``, ``C33``, ``C331``, ``C3311``) → its name."""
    table: dict[str, str] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t")
            table[code] = name
    return table


@functools.cache
def _by_name() -> dict[str, str]:
    """Folded name → code; a 中类 with one 小类 shares its name, the 小类 (the finer code) wins."""
    table: dict[str, str] = {}
    for code, name in sorted(codes().items(), key=lambda item: len(item[0])):
        table[_fold(name)] = code
    return table


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def name_of(code: str) -> str | None:
    return codes().get(code)


def is_known(code: str) -> bool:
    return code in codes()


def check(raw: str) -> tuple[str, str, str | None]:
    """A 行业代码 cell as (code, the name written after it, problem).

    ``C3311 金属结构制造`` and ``3311`` give the code; a name alone gives its code when it is a
    name of the list, else it is kept as a name without a code; anything written as a code that
    is not in the list is a problem.
    """
    code, rest = parse_industry_code(raw)
    if code:
        if not is_known(code):
            return "", rest, f"行业代码「{code}」不在 GB/T 4754-2017 国民经济行业分类中（{EXAMPLE}）"
        return code, rest, None
    if not rest:
        return "", "", None
    known = _by_name().get(_fold(rest))
    if known:
        return known, rest, None
    folded = unicodedata.normalize("NFKC", rest).strip()
    leading = _LEADING_CODE.match(folded)
    if leading or _CODE_LIKE.fullmatch(folded):
        written = leading.group(0) if leading else folded
        return "", "", f"行业代码「{written}」不是 GB/T 4754-2017 国民经济行业分类代码（{EXAMPLE}）"
    return "", rest, None
