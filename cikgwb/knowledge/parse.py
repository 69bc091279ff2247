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
6. each line loses its list marker (``1.``, ``2)``, ``-``, ``*``, ``•``; also one left inside a
   line, "1. X; 2. Y"), parentheticals, and an
   explanation after ``:`` or `` - `` when what precedes it is a short head (<= 6 words); then it is
   split on ``,`` ``;`` and full-width commas;
7. each phrase is stripped of quotes, surrounding punctuation and a leading ``and``/``or``;
   accents are removed (``é`` -> ``e``); phrases still not ASCII are dropped when
   ``ascii_only``; phrases longer than ``max_phrase_chars`` or without a letter are dropped;
   case-insensitive duplicates are dropped;
8. echoes (only when the user's ``titles`` and/or the ``prompt`` text are given, as
   :func:`~cikgwb.knowledge.infer.infer_interests` does): a phrase that is one of the user's
   titles or a part of one between punctuation ("Skybowl (Dragon Star, Book 3)" has the parts
   "Skybowl", "Dragon Star", "Book 3"), a fragment of one (two or more consecutive content
   words of a title), a phrase that contains a whole title of two or more content words, or a
   phrase whose content words all come from the prompt's own words (the instructions and the
   worked examples' titles) is not an interest (content words: articles, pronouns and other
   stop words and one-letter words left out, so "The Dragon Star" is a fragment of "Skybowl
   (Dragon Star, Book 3)"):
   it is dropped with the note ``dropped-echo-title`` / ``dropped-echo-prompt`` and listed in
   ``ParsedAnswer.echoes``. One-word phrases are never called title fragments (genre words such
   as "Mystery" or "Fantasy" occur in titles); a one-word phrase equal to a whole title or title
   part is ("Firestorm" for "Firestorm (Johansen, Iris)").
   An answer whose phrases match a worked example's answer exactly gets the note
   ``same-as-example``, and each kept phrase that is one of the examples' answer phrases is
   listed in ``ParsedAnswer.from_examples`` (note ``example-phrase``): kept, since "romance" may
   well be right, but counted, because a small model copying its examples is a prompt artefact;
9. none left -> ``echo`` when echoes were dropped, else ``no-usable-phrases``; otherwise ``ok``.

:func:`echo_report` gives, per template, how often answers echo (answers all echo, answers with
an echo, echoed phrases, answers copying an example).

Case is kept; lower-casing, stop-words and lemmas belong to the phrase cleaning before clustering.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

REASONS = ("ok", "no-history", "no-answer", "empty", "refusal", "overlong", "echo", "no-usable-phrases")

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2022": "*",
        "\u00b7": "*",
        "\u25cf": "*",
        "\u25aa": "*",
        "\u2023": "*",
        "\u2043": "*",
        "\uff0c": ",",
        "\u3001": ",",
        "\uff1b": ";",
        "\uff1a": ":",
    }
)
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry\b|i apologi[sz]e|my apologies|i can ?not\b|i can'?t\b|"
    r"i'?m (?:not able|unable)|i am (?:not able|unable)|i do not have enough|i don'?t have enough|"
    r"as an ai\b|unfortunately\b|there is not enough information|not enough information)",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^\s*(?:(?:\d{1,2}|[a-z])[.)]|\(\d{1,2}\)|[-*+>#]+|interest\s*\d+\s*[:.)-])\s*", re.IGNORECASE)
_PAREN = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_EXPLAIN = re.compile(r"\s*(?::|\s-\s)\s*")
_SPLIT = re.compile(r"[,;]")
_STRIP = " \t\"'`.!?;:,-*_/\\"
_LEADING_CONJ = re.compile(r"^(?:and|or|&)\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
#: words that do not make a phrase an echo of the prompt by themselves
_STOP = frozenset(
    """a an the and or of in on for with to by from as at is are be was it its this that these those
his her their my your our s t no not all any more most than about into over under""".split()
)


@dataclass
class ParsedAnswer:
    """The phrases of one answer, the reason it is or is not usable, and what parsing did."""

    phrases: list[str]
    reason: str
    notes: list[str] = field(default_factory=list)
    echoes: list[tuple[str, str]] = field(default_factory=list)  # (phrase, "title" | "prompt")
    from_examples: list[str] = field(default_factory=list)  # kept phrases equal to an example's

    @property
    def usable(self) -> bool:
        return self.reason == "ok"


def _strip_accents(text: str) -> str:
    """``é`` -> ``e``: NFKD, then combining marks dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _words(text: str) -> list[str]:
    return _WORD.findall(_strip_accents(text).lower())


def _content(text: str) -> list[str]:
    """Words without stop words and one-letter words (numbers kept: "Book 3")."""
    return [x for x in _words(text) if x not in _STOP and (len(x) > 1 or x.isdigit())]


_TITLE_PARTS = re.compile(r"[,;:()\[\]/]")
_INLINE_MARKER = re.compile(r"^\(?\d{1,2}[.)]\s+")


class EchoChecker:
    """Says whether a phrase echoes one of the user's titles or the prompt's own words."""

    def __init__(self, titles: Iterable[str] = (), prompt: str | None = None, examples: Iterable[str] = ()):
        # each title and each of its parts (book-crossing titles carry series and author in
        # parentheses: "Skybowl (Dragon Star, Book 3)"), as content words (articles etc. dropped)
        seqs: set[str] = set()
        for t in titles:
            for part in [t, *_TITLE_PARTS.split(t)]:
                w = _content(part)
                if w:
                    seqs.add(" ".join(w))
        self.titles = sorted(seqs)
        self.prompt_words = set(_words(prompt or ""))
        self.example_sets = [frozenset(p.lower() for p in parse_answer(a).phrases) for a in examples]
        self.example_phrases = frozenset().union(*self.example_sets) if self.example_sets else frozenset()

    def check(self, phrase: str) -> str | None:
        """``"title"``, ``"prompt"`` or None (an interest)."""
        w = _words(phrase)
        if not w:
            return None
        content = _content(phrase)
        joined = " ".join(content)
        padded = f" {joined} "
        for t in self.titles:
            if not joined:
                break
            if joined == t:
                return "title"
            if len(content) >= 2 and padded in f" {t} ":
                return "title"
            if " " in t and f" {t} " in padded:
                return "title"
        if self.prompt_words and content and all(x in self.prompt_words for x in content):
            return "prompt"
        return None


def _lines(text: str, notes: list[str]) -> list[str]:
    """The answer's non-empty lines, without header lines (ending in ``:``) and a leading preamble."""
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
    return lines


def _items(lines: list[str], notes: list[str]) -> list[str]:
    """The candidate phrases of the lines: list markers, parentheticals and explanations dropped,
    then split at commas and semicolons."""
    items: list[str] = []
    for ln in lines:
        m = _MARKER.match(ln)
        if m and m.end() < len(ln):
            notes.append("numbered-list" if re.match(r"\s*\(?\d", ln) else "bulleted-list")
            ln = ln[m.end() :]
        if _PAREN.search(ln):
            ln = _PAREN.sub("", ln)
            notes.append("parenthetical-dropped")
        parts = _EXPLAIN.split(ln, maxsplit=1)
        if len(parts) == 2 and 0 < len(parts[0].split()) <= 6 and len(parts[1].split()) >= 3:
            ln = parts[0]
            notes.append("explanation-dropped")
        items.extend(_SPLIT.split(ln))
    return items


def _clean(item: str, notes: list[str], ascii_only: bool, max_phrase_chars: int) -> str | None:
    """One candidate as a phrase (stripped, accents removed), or None where it is dropped (empty,
    not ASCII, too long, no letter)."""
    p = re.sub(r"\s+", " ", item).strip(_STRIP)
    p = _LEADING_CONJ.sub("", p).strip(_STRIP)
    if _INLINE_MARKER.match(p):  # "1. X; 2. Y" on one line
        p = _INLINE_MARKER.sub("", p).strip(_STRIP)
    if not p:
        return None
    if any(q in item for q in "\"'`"):
        notes.append("quotes-stripped")
    if not p.isascii():
        p2 = _strip_accents(p)
        if p2 != p:
            notes.append("accents-stripped")
        p = p2
        if not p.isascii() and ascii_only:
            notes.append("dropped-non-ascii")
            return None
    if len(p) > max_phrase_chars:
        notes.append("dropped-too-long")
        return None
    if not re.search(r"[^\W\d_]", p):
        notes.append("dropped-no-letter")
        return None
    return p


def parse_answer(
    raw: str | None,
    *,
    max_answer_chars: int = 2000,
    max_phrase_chars: int = 60,
    ascii_only: bool = True,
    titles: Iterable[str] | None = None,
    prompt: str | None = None,
    examples: Iterable[str] = (),
    echo: EchoChecker | None = None,
) -> ParsedAnswer:
    """Phrases of an answer (see the module docstring for the rules and reasons).

    ``titles`` (the user's history), ``prompt`` (the prompt's own words,
    :meth:`~cikgwb.knowledge.templates.Template.prompt_text`) and ``examples`` (the worked
    examples' answers) switch on the echo rules; or pass a ready ``echo`` checker.
    """
    if echo is None and (titles or prompt or examples):
        echo = EchoChecker(titles or (), prompt, examples)
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
    phrases: list[str] = []
    echoes: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in _items(_lines(text, notes), notes):
        p = _clean(item, notes, ascii_only, max_phrase_chars)
        if p is None:
            continue
        if p.lower() in seen:
            notes.append("dropped-duplicate")
            continue
        seen.add(p.lower())
        kind = echo.check(p) if echo is not None else None
        if kind is not None:
            echoes.append((p, kind))
            notes.append(f"dropped-echo-{kind}")
            continue
        phrases.append(p)
    if len(phrases) > 5:
        notes.append("more-than-five")
    copied: list[str] = []
    if echo is not None and phrases:
        if frozenset(x.lower() for x in phrases) in echo.example_sets:
            notes.append("same-as-example")
        copied = [x for x in phrases if x.lower() in echo.example_phrases]
        if copied:
            notes.append("example-phrase")
    reason = "ok" if phrases else ("echo" if echoes else "no-usable-phrases")
    return ParsedAnswer(phrases, reason, list(dict.fromkeys(notes)), echoes, copied)


def summarise(parsed: Iterable[ParsedAnswer]) -> dict[str, dict[str, int]]:
    """Counts per reason (users) and per note (answers where parsing did that)."""
    reasons: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for p in parsed:
        reasons[p.reason] += 1
        notes.update(set(p.notes))
    order = [*REASONS, *sorted(set(reasons) - set(REASONS))]
    return {"reasons": {r: reasons[r] for r in order if reasons[r]}, "notes": dict(sorted(notes.items()))}


def echo_report(rows: Iterable[tuple[str, ParsedAnswer]]) -> dict[str, dict[str, Any]]:
    """Per template: how much the answers echo the titles or the prompt.

    ``rows`` are ``(template id, parsed answer)`` pairs, the answers parsed WITH the echo rules.
    Per template: ``answers`` (with text), ``usable`` (reason ``ok``), ``echo rate`` (answers
    whose every phrase was an echo, over answers that had at least one phrase),
    ``answers with an echo`` (fraction with at least one), ``echoed phrases`` (fraction of all
    phrases), ``title echoes`` / ``prompt echoes`` (phrase counts), ``same as example``
    (answers equal to a worked example's answer), ``example phrases`` (fraction of the KEPT
    phrases that are one of the worked examples' answer phrases) and ``usable rate``.
    """
    acc: dict[str, Counter] = {}
    for tpl, p in rows:
        c = acc.setdefault(tpl, Counter())
        if p.reason in ("no-answer", "no-history"):
            continue
        c["answers"] += 1
        n_echo = len(p.echoes)
        n_all = n_echo + len(p.phrases)
        c["usable"] += p.usable
        if n_all:
            c["with phrases"] += 1
            c["all echo"] += p.reason == "echo"
            c["any echo"] += n_echo > 0
        c["phrases"] += n_all
        c["echoed phrases"] += n_echo
        c["title echoes"] += sum(k == "title" for _, k in p.echoes)
        c["prompt echoes"] += sum(k == "prompt" for _, k in p.echoes)
        c["same as example"] += "same-as-example" in p.notes
        c["kept phrases"] += len(p.phrases)
        c["example phrases"] += len(p.from_examples)
    out: dict[str, dict[str, Any]] = {}
    for tpl, c in sorted(acc.items()):
        div = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
        out[tpl] = {
            "answers": c["answers"],
            "usable": c["usable"],
            "usable rate": div(c["usable"], c["answers"]),
            "echo rate": div(c["all echo"], c["with phrases"]),
            "answers with an echo": div(c["any echo"], c["with phrases"]),
            "echoed phrases": div(c["echoed phrases"], c["phrases"]),
            "title echoes": c["title echoes"],
            "prompt echoes": c["prompt echoes"],
            "same as example": c["same as example"],
            "example phrases": div(c["example phrases"], c["kept phrases"]),
        }
    return out
