"""The answer store: keys, append-only writes, schema version, load_answers' errors."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from cikgwb.knowledge.infer import load_answers, write_answers
from cikgwb.knowledge.store import SCHEMA_VERSION, AnswerStore, StoredAnswer, StoreError, public_endpoint, request_key

MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "[A, B]"}]


def answer(key: str, user: int = 0, raw: str = "fantasy, horror") -> StoredAnswer:
    return StoredAnswer(
        key=key,
        user=user,
        model="m",
        template="t@v1",
        backend="chat",
        messages=MSGS,
        params={"max_tokens": 10},
        raw=raw,
        usage={"prompt_tokens": 3},
        endpoint="http://x/v1",
    )


def test_request_key_is_stable_and_sensitive():
    k = request_key("m", "t@v1", MSGS, {"max_tokens": 10})
    assert k == request_key("m", "t@v1", [dict(m) for m in MSGS], {"max_tokens": 10})
    others = [
        request_key("m2", "t@v1", MSGS, {"max_tokens": 10}),
        request_key("m", "t@v2", MSGS, {"max_tokens": 10}),
        request_key("m", "t@v1", MSGS[::-1], {"max_tokens": 10}),
        request_key("m", "t@v1", MSGS, {"max_tokens": 11}),
        request_key("m", "t@v1", MSGS, {"max_tokens": 10, "temperature": 0.0}),
    ]
    assert len({k, *others}) == 6
    assert len(k) == 64


def test_put_get_append_only_and_reopen(tmp_path):
    path = tmp_path / "s" / "answers.sqlite"
    with AnswerStore(path) as st:
        assert st.put(answer("k1", 1))
        assert not st.put(answer("k1", 1, raw="something else"))  # never overwritten
        assert st.put_many([answer("k2", 2), answer("k3", 3)]) == 2
        assert len(st) == 3
    with AnswerStore(path) as st:
        a = st.get("k1")
        assert a.raw == "fantasy, horror" and a.messages == MSGS and a.usage == {"prompt_tokens": 3}
        assert set(st.get_many(["k1", "k3", "nope"])) == {"k1", "k3"}
        assert st.integrity_check() == "ok"
    with pytest.raises(TypeError, match="raw must be a str"):
        AnswerStore(path).put(answer("k4", raw=None))


def test_put_many_is_all_or_nothing(tmp_path):
    with AnswerStore(tmp_path / "a.sqlite") as st:
        with pytest.raises(TypeError):
            st.put_many([answer("ok1"), answer("bad", raw=None)])
        assert len(st) == 0


def test_schema_version_is_checked(tmp_path):
    path = tmp_path / "a.sqlite"
    AnswerStore(path).close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.execute("UPDATE meta SET v='99' WHERE k='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 99"):
        AnswerStore(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not an answer store"):
        AnswerStore(junk)


def test_public_endpoint_strips_credentials():
    assert public_endpoint("https://user:pw@host:8000/v1?key=abc#x") == "https://host:8000/v1"


def test_answers_table_round_trip_and_line_errors(tmp_path):
    df = pd.DataFrame(
        {
            "user": [0, 1],
            "phrases": [["a", "b"], []],
            "raw": ["a, b", None],
            "source": ["llm:m (chat)"] * 2,
            "reason": ["ok", "no-answer"],
        }
    )
    p = write_answers(df, tmp_path / "answers.jsonl")
    back = load_answers(p)
    assert back["phrases"].tolist() == [["a", "b"], []]
    assert back["raw"].tolist()[0] == "a, b" and back["raw"].isna().tolist() == [False, True]
    lines = p.read_text().splitlines()
    cases = {
        '{"user": 2, "phrases": "a", "raw": null, "source": "s"}': "answers.jsonl:3: phrases must be a list",
        '{"user": -1, "phrases": [], "raw": null, "source": "s"}': "answers.jsonl:3: user -1",
        '{"user": 2, "phrases": []}': r"answers.jsonl:3: missing key\(s\) \['raw', 'source'\]",
        '{"user": 2, "phr': "answers.jsonl:3 .*truncated.*not valid JSON",
        '{"user": 1, "phrases": [], "raw": null, "source": "s"}': "user 1 appears on more than one line",
    }
    for bad, msg in cases.items():
        text = "\n".join(lines + [bad]) + ("" if "phr'" in bad or bad.endswith('"phr') else "\n")
        p.write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_answers(p)
    with pytest.raises(FileNotFoundError, match="interests infer"):
        load_answers(tmp_path / "missing.jsonl")
