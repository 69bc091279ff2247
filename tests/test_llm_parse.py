"""Answer parsing: formats models really produce, and the reasons counted when none is usable."""

from __future__ import annotations

import pytest

from cikgwb.knowledge.parse import parse_answer, summarise


@pytest.mark.parametrize(
    "raw, phrases",
    [
        ("Fantasy, science fiction, romance.", ["Fantasy", "science fiction", "romance"]),
        ("Fantasy,Science Fiction ,  Mystery", ["Fantasy", "Science Fiction", "Mystery"]),
        ("1. Fantasy\n2. Science Fiction\n3) Mystery", ["Fantasy", "Science Fiction", "Mystery"]),
        ("- Cooking\n* Travel\n\u2022 Poetry", ["Cooking", "Travel", "Poetry"]),
        (
            "Based on the list, the user's top interests are: history, biographies, and war.",
            ["history", "biographies", "war"],
        ),
        (
            "Interests:\n1. **Fantasy**: the user enjoys epic tales of dragons\n2. Romance - loves sweet stories",
            ["Fantasy", "Romance"],
        ),
        ('"Fantasy", "Horror", \u201cGothic fiction\u201d', ["Fantasy", "Horror", "Gothic fiction"]),
        ("Travel (e.g., Italy, France), Cooking", ["Travel", "Cooking"]),
        ("Sports; Economics; Poetry.", ["Sports", "Economics", "Poetry"]),
        ("Litt\u00e9rature fran\u00e7aise, Caf\u00e9 culture", ["Litterature francaise", "Cafe culture"]),
        ("Fantasy\uff0cRomance\u3001Horror", ["Fantasy", "Romance", "Horror"]),
        ("fantasy, Fantasy, FANTASY, horror", ["fantasy", "horror"]),
    ],
)
def test_formats_are_split_and_cleaned(raw, phrases):
    p = parse_answer(raw)
    assert p.reason == "ok"
    assert p.phrases == phrases


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "no-answer"),
        ("", "empty"),
        ("   \n ", "empty"),
        ("I'm sorry, but I can't infer interests from this list.", "refusal"),
        ("I am sorry, I cannot help with that.", "refusal"),
        ("As an AI language model, I don't have personal opinions, but fantasy", "refusal"),
        ("Unfortunately, there is not enough information.", "refusal"),
        ("fantasy, " * 400, "overlong"),
        ("1990, 2001, 42", "no-usable-phrases"),
        ("\u65e5\u672c\u306e\u6587\u5b66, \u79d1\u5e7b", "no-usable-phrases"),
        ("...", "no-usable-phrases"),
    ],
)
def test_unusable_answers_get_a_reason(raw, reason):
    p = parse_answer(raw)
    assert p.reason == reason
    assert p.phrases == []


def test_phrase_limits_and_notes():
    long = "x" * 61
    p = parse_answer(f"fantasy, {long}, \u65e5\u672c, romance")
    assert p.phrases == ["fantasy", "romance"]
    assert {"dropped-too-long", "dropped-non-ascii"} <= set(p.notes)
    keep = parse_answer("fantasy, \u65e5\u672c", ascii_only=False)
    assert keep.phrases == ["fantasy", "\u65e5\u672c"]
    six = parse_answer("a1, b2, c3, d4, e5, f6")
    assert len(six.phrases) == 6 and "more-than-five" in six.notes


def test_summarise_counts_reasons_and_notes():
    parsed = [parse_answer(x) for x in ["a, b", "1. x\n2. y", "", None, "I'm sorry", "a, b"]]
    s = summarise(parsed)
    assert s["reasons"] == {"ok": 3, "no-answer": 1, "empty": 1, "refusal": 1}
    assert s["notes"]["numbered-list"] == 1
