"""Chinese text composed from what people typed: shortened at a sensible place with an ellipsis,
and sentences that end with exactly one mark.

People end their reasons and comments with 。 or not at all; a message that adds its own 。 after
them must not read 「……已修复。。」. A title cut to fit must not stop inside a number or a word
(「招聘 3」 of 「招聘 30 名」) and must show that it was cut.
"""

from __future__ import annotations

# Marks that end a sentence by themselves; closing quotes and brackets may follow them.
SENTENCE_ENDS = "。！？!?…"
CLOSERS = "”’」』》）)】"
# Marks a sentence must not end on before another mark is added (they would double up).
TRAILING = "。．.，,；;、：: \u3000"
# Where a shortened text may stop: after a clause or sentence mark, or at a space.
_BREAKS = "，。；！？、,.;!?：:）)」》】 "
ELLIPSIS = "…"


def sentence_body(text: str | None) -> str:
    """``text`` without surrounding spaces and without the marks a following 。 would double."""
    return (text or "").strip().rstrip(TRAILING)


def sentence(text: str | None) -> str:
    """``text`` ending with exactly one sentence mark: its own ！？… if it has them, else one 。.
    Empty text stays empty."""
    stripped = (text or "").strip()
    core = stripped.rstrip(CLOSERS)
    if core and core[-1] in SENTENCE_ENDS and (core != stripped or core[-1] != "。"):
        return stripped  # 「好！」「真的吗？」「（见附件。）」 end well already
    body = sentence_body(stripped)
    return f"{body}。" if body else ""


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-.%")


def shorten(text: str | None, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters. When cut, it stops after the last clause
    mark or space in the second half of what fits (else at the limit, but never inside a number or
    a Latin word) and ends with 「…」."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    room = max(1, limit - len(ELLIPSIS))
    head = flat[:room]
    cut = max((i + 1 for i, char in enumerate(head) if char in _BREAKS), default=0)
    if cut < room // 2:
        cut = room
        if _is_word_char(flat[cut - 1]) and _is_word_char(flat[cut]):
            start = cut
            while start > 0 and _is_word_char(flat[start - 1]):
                start -= 1
            if start >= room // 2:
                cut = start
    return flat[:cut].rstrip(TRAILING + "（(「《【“‘") + ELLIPSIS


def first_sentence(text: str | None) -> str:
    """The first line of ``text`` up to its first sentence mark (the mark dropped)."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    for index, char in enumerate(line):
        if char in "。！？!?" and index >= 4:
            return line[:index]
    return sentence_body(line)


def auto_title(content: str | None, limit: int = 40) -> str:
    """A title made from a request's content: its first sentence, shortened."""
    return shorten(sentence_body(first_sentence(content)), limit)
