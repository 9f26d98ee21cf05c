"""统一社会信用代码 (GB 32100-2015): normalisation, check digit, entity type.

An 18-character code: position 1 is the registration authority (9 = 市场监管/工商), position 2
the kind of entity under that authority, positions 3–8 the administrative division, 9–17 the
organisation code, 18 the check character. Values come from a 31-character alphabet without
I, O, Z, S, V; the check is (31 − Σ cᵢ·wᵢ mod 31) mod 31 over the first 17 characters.

The zone of an enterprise is never inferred from the code (positions 3–8 say where it was
registered, not which grid serves it).
"""

from __future__ import annotations

import re
import unicodedata
from operator import mul

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_ALLOWED = frozenset(ALPHABET)
# Spaces, dashes and dots people type into codes; never part of one.
_NOISE = re.compile(r"[\s\-_.·]+")

# Position 2 under authority 9 (market regulation).
ENTITY_TYPES = {"1": "enterprise", "2": "individual", "3": "cooperative"}


def normalize(raw: object) -> str:
    """Upper-case, half-width, without spaces or dashes; '' for nothing."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a registration number typed as a number
    text = unicodedata.normalize("NFKC", str(raw))
    return _NOISE.sub("", text).upper()


def check_char(body: str) -> str:
    """The 18th character for a 17-character body (which must use the alphabet)."""
    if len(body) != 17:
        raise ValueError("the body of a code has 17 characters")
    total = sum(map(mul, map(_VALUE.__getitem__, body), WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why ``code`` (already normalised) is not a valid code, in Chinese; None when it is."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际 {len(code)} 位"
    if not _ALLOWED.issuperset(code):
        bad = sorted(set(code) - _ALLOWED)
        return f"统一社会信用代码含有不允许的字符：{''.join(bad)}"
    if check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位错误"
    return None


def is_valid(code: str) -> bool:
    return problem(normalize(code)) is None


def entity_type(code: str) -> str | None:
    """enterprise / individual / cooperative from position 2 of a market-regulation code."""
    if len(code) == 18 and code[0] == "9":
        return ENTITY_TYPES.get(code[1])
    return None


def looks_like_registration_number(code: str) -> bool:
    """Pre-2016 注册号: 15 digits (older ones 13). Exports often put them in the code column."""
    return code.isdigit() and len(code) in (13, 15)
