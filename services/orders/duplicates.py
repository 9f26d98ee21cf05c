"""Duplicate requests (重复诉求): the pure rule that says an intake repeats an earlier order.

Two requests are duplicates when they come from the same party and say much the same thing within
a window of days. The party is the enterprise — by registry id when both sides have one, else by
its normalised unified social credit code, else by its normalised name — or, for a caller with no
enterprise on record, the caller's phone number. Content similarity is the Jaccard index of the
character bigrams of the normalised texts: it needs no word segmentation, so it works for Chinese
as well as for the odd Latin word or number. The threshold (percent) and the window (days) are
system settings an administrator edits (``services.admin.settings``); the rule takes them, and
``now``, as arguments.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_WINDOW_DAYS = 30
DEFAULT_THRESHOLD_PERCENT = 40
MAX_SHOWN = 3

# Legal-form endings dropped before comparing names (「某某科技有限公司」 = 「某某科技公司」).
_NAME_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "公司")


@dataclass(frozen=True)
class DuplicateRule:
    threshold_percent: int = DEFAULT_THRESHOLD_PERCENT
    window_days: int = DEFAULT_WINDOW_DAYS

    def since(self, now: datetime) -> datetime:
        return now - timedelta(days=self.window_days)


@dataclass(frozen=True)
class Party:
    """Who a request comes from, as far as the intake knows it."""

    enterprise_id: int | None = None
    uscc: str = ""
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Earlier:
    """What the rule needs of an earlier order."""

    id: int
    number: str
    party: Party
    text: str
    created_at: datetime
    title: str = ""
    state: str = ""


@dataclass(frozen=True)
class Match:
    earlier: Earlier
    similarity: float  # 0 … 1

    @property
    def percent(self) -> int:
        return round(self.similarity * 100)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def normalise_text(text: str) -> str:
    """Letters, digits and CJK characters only, full-width folded, case folded."""
    return "".join(c for c in _fold(text) if c.isalnum())


def normalise_uscc(code: str) -> str:
    return "".join(c for c in _fold(code) if c.isalnum()).upper()


def normalise_name(name: str) -> str:
    text = normalise_text(name)
    for suffix in _NAME_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


def normalise_phone(phone: str) -> str:
    """The digits, without a leading +86 / 0086; too few digits to identify anyone is no phone."""
    digits = "".join(c for c in _fold(phone) if c in "0123456789")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            digits = digits[len(prefix):]
    return digits if len(digits) >= 7 else ""


def shingles(text: str) -> frozenset[str]:
    """Character bigrams of the normalised text (the single character for a one-character text)."""
    norm = normalise_text(text)
    if len(norm) < 2:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


def similarity(a: str, b: str) -> float:
    """Jaccard index of the two texts' bigram sets (0 when either says nothing)."""
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def same_party(a: Party, b: Party) -> bool:
    """The same enterprise (id, else credit code, else name) or, lacking one, the same caller."""
    if a.enterprise_id is not None and b.enterprise_id is not None:
        return a.enterprise_id == b.enterprise_id
    ua, ub = normalise_uscc(a.uscc), normalise_uscc(b.uscc)
    if ua and ub:
        return ua == ub
    na, nb = normalise_name(a.name), normalise_name(b.name)
    if na and nb:
        return na == nb
    pa, pb = normalise_phone(a.phone), normalise_phone(b.phone)
    return bool(pa) and pa == pb


def find_duplicates(party: Party, text: str, earlier: Iterable[Earlier], *, now: datetime,
                    rule: DuplicateRule = DuplicateRule()) -> list[Match]:
    """The earlier orders this intake repeats, most similar (then most recent) first. Orders
    created after ``now`` or before the window are not considered."""
    since = rule.since(now)
    threshold = rule.threshold_percent / 100
    matches = []
    for item in earlier:
        if not (since <= item.created_at <= now) or not same_party(party, item.party):
            continue
        score = similarity(text, item.text)
        if score >= threshold:
            matches.append(Match(item, score))
    matches.sort(key=lambda m: (-m.similarity, -m.earlier.created_at.timestamp(), -m.earlier.id))
    return matches
