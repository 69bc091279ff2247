"""The few-shot template (versioned, worked examples as chat turns) and the echo rules of the parser."""

from __future__ import annotations

import pytest
from fake_openai import FakeOpenAI
from llm_data import tiny_dataset

from cikgwb.knowledge.infer import build_requests, infer_interests
from cikgwb.knowledge.parse import EchoChecker, echo_report, parse_answer
from cikgwb.knowledge.templates import list_templates, load_template


@pytest.mark.parametrize(
    "spec, first",
    [("few-shot-small@v1", "The Hobbit"), ("few-shot-small@v2", "The Firm"), ("few-shot-small@v3", "The Firm")],
)
def test_few_shot_template_sends_two_worked_examples_before_the_titles(spec, first):
    tpl = load_template(spec)
    assert tpl.id == spec and len(tpl.examples) == 2
    msgs = tpl.messages(["Dune", "Emma"], "books")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-1]["content"] == "Liked books: [Dune, Emma]"
    assert msgs[1]["content"].startswith(f"Liked books: [{first}, ")
    assert msgs[2]["content"] == tpl.examples[0][1]
    assert load_template("few-shot-small").id == "few-shot-small@v3"  # the name alone: the newest
    # every example answer avoids its own titles' words: the model is shown abstraction, not copying
    for titles, answer in tpl.examples:
        assert parse_answer(answer, titles=titles).reason == "ok"
    assert {"few-shot-small@v1", "few-shot-small@v2", "few-shot-small@v3", "cikgrec-authors@v1"} <= {
        t.id for t in list_templates()
    }
    # the authors' template is unchanged: no examples, two messages
    assert len(load_template().messages(["Dune"], "books")) == 2


def test_template_examples_are_validated(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nversion: 1\nuser: '{titles}'\nexamples:\n  - titles: []\n    answer: x\n")
    with pytest.raises(ValueError, match=r"t.yaml: example 1 must be"):
        load_template(bad)
    bad.write_text("name: t\nversion: 1\nuser: '{titles}'\nexampels: []\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_template(bad)


AUTHORS = load_template().prompt_text("books")


@pytest.mark.parametrize(
    "raw, titles, phrases, echoes",
    [
        # the example: a title split at its comma, then the prompt's own words
        (
            "The Dragon Star, Book 3\nThis is a list of the top interests of this anonymous user",
            ["The Dragon Star, Book 3"],
            [],
            [
                ("The Dragon Star", "title"),
                ("Book 3", "title"),
                ("This is a list of the top interests of this anonymous user", "prompt"),
            ],
        ),
        (
            "The Dragon Star\nThis is a list of the top interests of this anonymous user",
            ["The Dragon Star, Book 3"],
            [],
            [("The Dragon Star", "title"), ("This is a list of the top interests of this anonymous user", "prompt")],
        ),
        ("Emma, fantasy, science fiction", ["Emma", "Dune"], ["fantasy", "science fiction"], [("Emma", "title")]),
        (
            "Harry Potter, wizardry",
            ["Harry Potter and the Chamber of Secrets"],
            ["wizardry"],
            [("Harry Potter", "title")],
        ),
        ("Mystery, romance", ["The Mystery of the Blue Train"], ["Mystery", "romance"], []),  # one word: a genre
        ("anonymous user interests, history", ["Dune"], ["history"], [("anonymous user interests", "prompt")]),
    ],
)
def test_echoes_are_not_interests(raw, titles, phrases, echoes):
    p = parse_answer(raw, titles=titles, prompt=AUTHORS)
    assert p.phrases == phrases
    assert p.echoes == echoes
    assert p.reason == ("ok" if phrases else "echo")
    assert parse_answer(raw).reason == "ok"  # without titles and prompt: the old rules only


def test_copying_a_worked_example_is_noted():
    tpl = load_template("few-shot-small")
    ex = [a for _, a in tpl.examples]
    p = parse_answer(tpl.examples[0][1], titles=["Dune"], prompt=tpl.prompt_text("books"), examples=ex)
    assert p.reason == "ok" and "same-as-example" in p.notes
    # the examples' titles are prompt words: answering with one is an echo of the prompt
    q = parse_answer("The Firm, space opera", echo=EchoChecker(["Dune"], tpl.prompt_text("books"), ex))
    assert q.phrases == ["space opera"] and q.echoes == [("The Firm", "prompt")]


def test_echo_report_per_template_and_in_the_run_report(tmp_path):
    rows = [
        ("a@v1", parse_answer("Emma, Dune", titles=["Emma", "Dune"])),
        ("a@v1", parse_answer("fantasy, Emma", titles=["Emma"])),
        ("b@v1", parse_answer("fantasy, horror", titles=["Emma"])),
        ("b@v1", parse_answer(None)),
    ]
    rep = echo_report(rows)
    assert rep["a@v1"]["echo rate"] == 0.5 and rep["a@v1"]["answers with an echo"] == 1.0
    assert rep["a@v1"]["echoed phrases"] == 0.75 and rep["a@v1"]["usable"] == 1
    assert rep["b@v1"] == {**rep["b@v1"], "answers": 1, "echo rate": 0.0, "usable rate": 1.0}

    ds = tiny_dataset()
    reqs, hists = build_requests(ds, "fake-model", "few-shot-small")
    titles = {h.user: h.titles for h in hists}

    def answer(body):  # user 0 gets an echo of its own first title, the others a genre
        for r in reqs:
            if r.messages[-1] == body["messages"][-1]:
                return titles[r.user][0] if r.user == 0 else "history, travel"
        raise AssertionError

    from cikgwb.knowledge.backends.chat import ChatBackend
    from cikgwb.knowledge.settings import resolve_settings

    with FakeOpenAI(answer=answer) as fake:
        be = ChatBackend(resolve_settings(base_url=fake.base_url, model="fake-model", api_key="k"), progress=False)
        df = infer_interests(ds, be, template="few-shot-small", run_dir=tmp_path)
    assert df.set_index("user").reason[0] == "echo"
    assert set(df.template.dropna()) == {"few-shot-small@v3"}
    e = df.attrs["report"]["echo"]["few-shot-small@v3"]
    assert e["echo rate"] == pytest.approx(1 / (ds.n_users - 1), abs=1e-4)
    assert df.attrs["report"]["template"] == "few-shot-small@v3"
    import json

    line = json.loads((tmp_path / "answers.jsonl").read_text().splitlines()[0])
    assert line["template"] == "few-shot-small@v3"


def test_store_summary_reads_a_store_in_use_and_reports_speed_tokens_echo_and_samples(tmp_path, monkeypatch, capsys):
    from cikgwb.knowledge.answers_report import markdown_report, store_summary
    from cikgwb.knowledge.backends.chat import ChatBackend
    from cikgwb.knowledge.settings import resolve_settings
    from cikgwb.knowledge.store import AnswerStore

    ds = tiny_dataset("synthetic", n_users=6)
    reqs, hists = build_requests(ds, "fake-model", "few-shot-small")
    first_title = {h.user: h.titles[0] for h in hists if h.titles}

    def answer(body):
        for r in reqs:
            if r.messages[-1] == body["messages"][-1]:
                return first_title[r.user] if r.user in (0, 1) else "history, travel"
        raise AssertionError

    with FakeOpenAI(answer=answer) as fake:
        be = ChatBackend(resolve_settings(base_url=fake.base_url, model="fake-model", api_key="k"), progress=False)
        infer_interests(ds, be, template="few-shot-small", run_dir=tmp_path)
    with AnswerStore(tmp_path / "answers.sqlite", exclusive=True):  # a run holds the store: reading still works
        s = store_summary(tmp_path / "answers.sqlite", ds, sample=3, seed=1)
    assert s["answered"] == 5 and s["users with titled history"] == 5 and s["usable"] == 3
    assert s["reasons"] == {"ok": 3, "echo": 2}
    assert s["echo"]["few-shot-small@v3"]["echo rate"] == 0.4
    assert s["tokens"]["prompt mean"] > 0 and s["speed"]["answers"] == 5
    assert len(s["sample"]) == 3 and all(x["titles"] for x in s["sample"])
    from cikgwb.knowledge.answers_report import answers_table
    from cikgwb.knowledge.infer import load_answers, write_answers

    table = answers_table(tmp_path / "answers.sqlite", ds)
    write_answers(table, tmp_path / "partial.jsonl")
    back = load_answers(tmp_path / "partial.jsonl")
    assert back.user.tolist() == [0, 1, 2, 3, 4] and back.reason.tolist() == ["echo", "echo", "ok", "ok", "ok"]
    assert back.phrases[2] == ["history", "travel"] and set(back.template) == {"few-shot-small@v3"}
    md = markdown_report(s, provenance={"model file": "x.gguf"})
    assert "| few-shot-small@v3 | 5 | 60.0% | 40.0% |" in md and "**model file**: x.gguf" in md
    assert md.count("\n| ") >= 3 + 1 + 2

    # the command: the same report written with its provenance, the summary and the answers table
    import json

    from cikgwb.cli import interests, main

    monkeypatch.setattr(interests, "_load", lambda args: ds)
    store, out = str(tmp_path / "answers.sqlite"), tmp_path / "r"
    argv = ["interests", "report", "--dataset", "synthetic", "--store", store, "--sample", "3", "--seed", "1"]
    argv += ["--out", str(out / "r.md"), "--json", str(tmp_path / "s.json"), "--answers-out", str(tmp_path / "a.jsonl")]
    assert main([*argv, "--note", "a note"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote 5 users' answers to {tmp_path / 'a.jsonl'}",
        f"wrote {out / 'r.md'}",
    ]
    md = (out / "r.md").read_text()
    assert "| few-shot-small@v3 | 5 | 60.0% | 40.0% |" in md and "a note" in md
    assert f"**answer store**: {store}" in md and "(after the valid carve-out, split seed 0)" in md
    assert json.loads((tmp_path / "s.json").read_text())["answered"] == 5
    assert load_answers(tmp_path / "a.jsonl").user.tolist() == [0, 1, 2, 3, 4]


def test_phrases_copied_from_the_worked_examples_are_counted_not_dropped():
    tpl = load_template("few-shot-small@v1")
    ex = [a for _, a in tpl.examples]
    p = parse_answer(
        "literary fiction, fantasy, women's lives", titles=["Dune"], prompt=tpl.prompt_text("books"), examples=ex
    )
    assert p.phrases == ["literary fiction", "fantasy", "women's lives"] and p.reason == "ok"
    assert p.from_examples == ["literary fiction", "women's lives"] and "example-phrase" in p.notes
    rep = echo_report([("t@v1", p), ("t@v1", parse_answer("horror", titles=["Dune"], examples=ex))])
    assert rep["t@v1"]["example phrases"] == 0.5


@pytest.mark.parametrize(
    "raw, titles, kept",
    [
        # book-crossing titles carry series and author in parentheses (users 1 and 10 of book-crossing)
        ("The Dragon Star, epic fantasy", ["Skybowl (Dragon Star, Book 3)"], ["epic fantasy"]),
        ("Firestorm, romantic suspense", ["Firestorm (Johansen, Iris)"], ["romantic suspense"]),
        ("The Chamber, legal thrillers", ["The Chamber"], ["legal thrillers"]),
        ("1. The Blob; 2. horror movies", ["The Blob"], ["horror movies"]),  # a marker inside one line
        ("mystery, blue skies", ["The Mystery of the Blue Train"], ["mystery", "blue skies"]),
    ],
)
def test_title_parts_and_articles_do_not_hide_an_echo(raw, titles, kept):
    assert parse_answer(raw, titles=titles).phrases == kept


def test_users_with_the_same_titles_share_one_stored_answer_and_are_all_counted():
    """A request is keyed by its messages (titles, not user id): the second of two users with the
    same history is answered by the first one's stored row, and counts as answered."""
    from types import SimpleNamespace as H

    from cikgwb.knowledge.answers_report import answered_users

    hist = {0: H(titles=("A", "B")), 1: H(titles=("C",)), 2: H(titles=("A", "B")), 3: H(titles=())}
    rows = [{"user": 0}, {"user": 1}, {"user": 3}]
    assert answered_users(rows, hist) == [[0, 2], [1], [3]]
