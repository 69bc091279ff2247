"""Interest phrases: split LLM answers and clean each phrase (docs/method.md section 2, step 3).

Cleaning of one phrase, in order:

1. Unicode NFKD, accents stripped (``"Márquez" -> "marquez"``), lower-cased;
2. a possessive ``'s`` is dropped, then every character that is not a letter a-z becomes a
   space (digits, punctuation, ``-``);
3. tokens in the stop-word list are dropped (scikit-learn's ``ENGLISH_STOP_WORDS`` less a few
   content words, :data:`KEPT_CONTENT_WORDS`);
4. each remaining token is lemmatised with ``simplemma`` (English; its data ships with the
   package, nothing is downloaded; :data:`LEMMA_FIXES` corrects its few errors met here);
5. the phrase is kept only if its length is ``MIN_LEN..MAX_LEN`` (2..50) characters.

Answers are split on commas as in the paper, and also on newlines and semicolons (some answers
come as numbered lines; the numbers disappear in step 2).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd

MIN_LEN = 2
MAX_LEN = 50

#: content words in scikit-learn's stop-word list that name interests; kept as words.
KEPT_CONTENT_WORDS = frozenset({"fire", "system", "bill", "mill", "cry", "serious", "detail"})

#: simplemma (2.0) errors met on interest phrases, fixed before lemmatising.
LEMMA_FIXES = {"fantasies": "fantasy"}

ANSWER_COLUMNS = ("user", "phrases", "raw", "source")

_SPLIT = re.compile(r"[,;\n]+")
_NON_LETTERS = re.compile(r"[^a-z]+")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The stop-word list: scikit-learn's English list without :data:`KEPT_CONTENT_WORDS`."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - KEPT_CONTENT_WORDS


@lru_cache(maxsize=65536)
def _lemma(token: str) -> str:
    import simplemma

    if token in LEMMA_FIXES:
        return LEMMA_FIXES[token]
    return simplemma.lemmatize(token, lang="en").lower()


def clean_phrase(text: str) -> str | None:
    """Clean one phrase (steps 1-5 above); ``None`` when nothing of 2..50 characters remains."""
    if not isinstance(text, str):
        return None
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    sw = stop_words()
    t = _POSSESSIVE.sub("", t)
    tokens = [tok for tok in _NON_LETTERS.sub(" ", t).split() if tok not in sw]
    # lemmatise, then drop a lemma that became a stop word ("was" -> "be")
    lemmas = [lem for lem in (_NON_LETTERS.sub("", _lemma(tok)) for tok in tokens) if lem and lem not in sw]
    out = " ".join(lemmas)
    return out if MIN_LEN <= len(out) <= MAX_LEN else None


def split_answer(raw: str) -> list[str]:
    """Split one raw answer into its phrases (commas, semicolons, newlines); blanks dropped."""
    if not isinstance(raw, str):
        return []
    return [p.strip() for p in _SPLIT.split(raw) if p.strip()]


def clean_phrases(phrases: Iterable[str]) -> list[str]:
    """Clean each phrase; drop the empty ones and repeats (first occurrence kept)."""
    seen: dict[str, None] = {}
    for p in phrases:
        c = clean_phrase(p)
        if c is not None:
            seen.setdefault(c, None)
    return list(seen)


def validate_answers(answers: pd.DataFrame, what: str = "answers") -> pd.DataFrame:
    """Check the answers contract: columns ``user`` (int), ``phrases`` (list[str]), ``raw``, ``source``.

    ``raw`` and ``source`` may be missing (filled with ``""`` / ``"unknown"``). Returns a copy with
    ``user`` as int64. Raises ``ValueError`` naming the column or row that is wrong.
    """
    if not isinstance(answers, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(answers).__name__}")
    missing = [c for c in ("user", "phrases") if c not in answers.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; expected columns {list(ANSWER_COLUMNS)}")
    df = answers.copy()
    if "raw" not in df.columns:
        df["raw"] = ""
    if "source" not in df.columns:
        df["source"] = "unknown"
    users = pd.to_numeric(df["user"], errors="coerce")
    bad = users.isna() | (users != users.round())
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ValueError(f"{what}: row {i}: user {df['user'].iloc[i]!r} is not an integer id")
    df["user"] = users.astype("int64")
    for i, ph in enumerate(df["phrases"]):
        if ph is not None and not isinstance(ph, list | tuple | np.ndarray):
            raise ValueError(
                f"{what}: row {i} (user {int(df['user'].iloc[i])}): phrases must be a "
                f"list of strings, got {type(ph).__name__}"
            )
    return df


def answers_to_phrases(answers: pd.DataFrame) -> pd.DataFrame:
    """Long table of cleaned phrases: one row per distinct (user, phrase).

    The ``phrases`` list is used when it is non-empty, else ``raw`` is split, unless the parser
    already judged the answer: a row whose ``reason`` is set and is not ``ok`` (``echo``,
    ``no-usable-phrases``, ``refusal``, ...: the stored answers of ``cikgwb interests infer``) has
    no phrases, whatever its ``raw`` says (an echoed title is not an interest). Columns: ``user``
    (int64), ``phrase`` (str), ``source`` (str). Users whose phrases all clean away have no row.
    """
    df = validate_answers(answers)
    reasons = df["reason"] if "reason" in df.columns else pd.Series([None] * len(df), index=df.index)
    rows_u: list[int] = []
    rows_p: list[str] = []
    rows_s: list[str] = []
    for u, ph, raw, src, why in zip(df["user"], df["phrases"], df["raw"], df["source"], reasons):
        if isinstance(why, str) and why.strip() and why.strip() != "ok":
            continue
        items = list(ph) if ph is not None and len(ph) else split_answer(raw)
        for p in clean_phrases(items):
            rows_u.append(int(u))
            rows_p.append(p)
            rows_s.append(str(src))
    out = pd.DataFrame(
        {
            "user": pd.Series(rows_u, dtype="int64"),
            "phrase": pd.Series(rows_p, dtype=object),
            "source": pd.Series(rows_s, dtype=object),
        }
    )
    return out.drop_duplicates(["user", "phrase"], ignore_index=True)
