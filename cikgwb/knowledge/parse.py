"""Split an LLM answer into interest phrases, and say why when it yields none.

method.md section 2 step 3 splits each answer on commas. Real answers also come as numbered or
bulleted lists, one per line, with a preamble ("The user's top interests are:"), explanations
("Fantasy: the user enjoys ..."), quotes, markdown emphasis, trailing periods, accents and other
scripts, refusals ("I'm sorry, but ...") or nothing at all. :func:`parse_answer` handles these:

1. no answer (request failed) -> ``no-answer``; blank -> ``empty``;
2. Unicode NFKC, typographic quotes and dashes made ASCII, markdown ``**``/``__``/backticks removed;
3. a refusal at the start (``I'm sorry``, ``I cannot``, ``As an AI`` ...) -> ``refusal``;
4. longer than ``max_answer_chars`` -> ``overlong`` (the model ignored the instructions);
5. header lines ending in ``:`` are dropped, and a first-line preamble of >= 3 words before a
   ``:`` is cut;
6. each line loses its list marker (``1.``, ``2)``, ``-``, ``*``, ``•``), parentheticals, and an
   explanation after ``:`` or `` - `` when what precedes it is a short head (<= 6 words); then it is
   split on ``,`` ``;`` and full-width commas;
7. each phrase is stripped of quotes, surrounding punctuation and a leading ``and``/``or``;
   accents are removed (``é`` -> ``e``); phrases still not ASCII are dropped when
   ``ascii_only``; phrases longer than ``max_phrase_chars`` or without a letter are dropped;
   case-insensitive duplicates are dropped;
8. none left -> ``no-usable-phrases``, else ``ok``.

Case is kept; lower-casing, stop-words and lemmas belong to the phrase cleaning before clustering.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

REASONS = ("ok", "no-history", "no-answer", "empty", "refusal", "overlong", "no-usable-phrases")

_TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                            "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                            "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2022": "*", "\u00b7": "*",
                            "\u25cf": "*", "\u25aa": "*", "\u2023": "*", "\u2043": "*",
                            "\uff0c": ",", "\u3001": ",", "\uff1b": ";", "\uff1a": ":"})
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry\b|i apologi[sz]e|my apologies|i can ?not\b|i can'?t\b|"
    r"i'?m (?:not able|unable)|i am (?:not able|unable)|i do not have enough|i don'?t have enough|"
    r"as an ai\b|unfortunately\b|there is not enough information|not enough information)",
    re.IGNORECASE)
_MARKER = re.compile(r"^\s*(?:(?:\d{1,2}|[a-z])[.)]|\(\d{1,2}\)|[-*+>#]+|interest\s*\d+\s*[:.)-])\s*",
                     re.IGNORECASE)
_PAREN = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_EXPLAIN = re.compile(r"\s*(?::|\s-\s)\s*")
_SPLIT = re.compile(r"[,;]")
_STRIP = " \t\"'`.!?;:,-*_/\\"
_LEADING_CONJ = re.compile(r"^(?:and|or|&)\s+", re.IGNORECASE)


@dataclass
class ParsedAnswer:
    """The phrases of one answer, the reason it is or is not usable, and what parsing did."""

    phrases: list[str]
    reason: str
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.reason == "ok"


def _strip_accents(text: str) -> str:
    """``é`` -> ``e``: NFKD, then combining marks dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def parse_answer(raw: str | None, *, max_answer_chars: int = 2000, max_phrase_chars: int = 60,
                 ascii_only: bool = True) -> ParsedAnswer:
    """Phrases of an answer (see the module docstring for the rules and reasons)."""
    if raw is None:
        return ParsedAnswer([], "no-answer")
    notes: list[str] = []
    text = unicodedata.normalize("NFKC", raw).translate(_TRANSLATE)
    text = re.sub(r"\*\*|__|`", "", text).strip()
    if not text:
        return ParsedAnswer([], "empty")
    if _REFUSAL.match(text):
        return ParsedAnswer([], "refusal")
    if len(text) > max_answer_chars:
        return ParsedAnswer([], "overlong")

    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        kept = [ln for ln in lines if not ln.endswith(":")]
        if len(kept) < len(lines):
            notes.append("header-dropped")
        lines = kept or lines
        notes.append("multi-line")
    if lines and ":" in lines[0]:
        head, _, rest = lines[0].partition(":")
        if len(head.split()) >= 3 and rest.strip():
            lines[0] = rest.strip()
            notes.append("preamble-stripped")

    items: list[str] = []
    for ln in lines:
        m = _MARKER.match(ln)
        if m and m.end() < len(ln):
            notes.append("numbered-list" if re.match(r"\s*\(?\d", ln) else "bulleted-list")
            ln = ln[m.end():]
        if _PAREN.search(ln):
            ln = _PAREN.sub("", ln)
            notes.append("parenthetical-dropped")
        parts = _EXPLAIN.split(ln, maxsplit=1)
        if len(parts) == 2 and 0 < len(parts[0].split()) <= 6 and len(parts[1].split()) >= 3:
            ln = parts[0]
            notes.append("explanation-dropped")
        items.extend(_SPLIT.split(ln))

    phrases: list[str] = []
    seen: set[str] = set()
    for item in items:
        p = re.sub(r"\s+", " ", item).strip(_STRIP)
        p = _LEADING_CONJ.sub("", p).strip(_STRIP)
        if not p:
            continue
        if any(q in item for q in "\"'`"):
            notes.append("quotes-stripped")
        if not p.isascii():
            p2 = _strip_accents(p)
            if p2 != p:
                notes.append("accents-stripped")
            p = p2
            if not p.isascii():
                if ascii_only:
                    notes.append("dropped-non-ascii")
                    continue
        if len(p) > max_phrase_chars:
            notes.append("dropped-too-long")
            continue
        if not re.search(r"[^\W\d_]", p):
            notes.append("dropped-no-letter")
            continue
        k = p.lower()
        if k in seen:
            notes.append("dropped-duplicate")
            continue
        seen.add(k)
        phrases.append(p)
    if len(phrases) > 5:
        notes.append("more-than-five")
    notes = list(dict.fromkeys(notes))
    return ParsedAnswer(phrases, "ok" if phrases else "no-usable-phrases", notes)


def summarise(parsed: Iterable[ParsedAnswer]) -> dict[str, dict[str, int]]:
    """Counts per reason (users) and per note (answers where parsing did that)."""
    reasons: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for p in parsed:
        reasons[p.reason] += 1
        notes.update(set(p.notes))
    order = [*REASONS, *sorted(set(reasons) - set(REASONS))]
    return {"reasons": {r: reasons[r] for r in order if reasons[r]},
            "notes": dict(sorted(notes.items()))}
