"""Histories, templates, sampling params, cost estimate, the `interests prompts` command."""

from __future__ import annotations

import numpy as np
import pytest
from llm_data import tiny_dataset

from cikgwb.knowledge.cost import METHOD, estimate_cost, estimate_tokens, load_prices
from cikgwb.knowledge.histories import user_histories
from cikgwb.knowledge.infer import build_requests, sampling_params
from cikgwb.knowledge.templates import format_titles, item_kind, list_templates, load_template

AUTHORS_SYSTEM = (
    "You will be provided with a list of books an anonymous user has liked, and your "
    "task is to infer the user's interests based on the list and your extensive knowledge. "
    "List no more than five the top interests of this anonymous user. No further "
    "explanation is needed. Please use a comma to split the interests."
)


def test_history_is_training_only_in_file_order_untitled_skipped():
    ds = tiny_dataset()
    hs = user_histories(ds)
    for h in hs:
        train_items = ds.user_items("train")[h.user]
        assert list(h.items) == [int(i) for i in train_items if ds.titles[i]]
        assert 8 not in h.items  # the valid/test-only item never leaks
        assert all(t == ds.titles[i] for i, t in zip(h.items, h.titles))
    assert hs[-1].titles == ()  # only an untitled item


def test_history_keeps_the_last_n_in_file_order():
    ds = tiny_dataset()
    ds.train = np.array([[0, i] for i in [7, 6, 5, 4, 3, 2, 1, 0]] + [[1, 2]], dtype=np.int64)
    h = user_histories(ds, max_items=3, users=[0])[0]
    assert h.items == (2, 1, 0)
    assert h.titles == ("Wizard Throne", "Elven Quest", "Dragon Sword")
    with pytest.raises(ValueError, match="valid or test"):
        user_histories(ds, split="test")
    with pytest.raises(ValueError, match="user 99 out of range"):
        user_histories(ds, users=[99])


def test_authors_template_is_the_default_and_verbatim():
    tpl = load_template()
    assert tpl.id == "cikgrec-authors@v1"
    msgs = tpl.messages(["Dune", "Emma"], "books")
    assert msgs == [{"role": "system", "content": AUTHORS_SYSTEM}, {"role": "user", "content": "[Dune, Emma]"}]
    assert "list of movies" in tpl.messages(["Heat"], "movies")[0]["content"]
    assert {t.id for t in list_templates()} >= {"cikgrec-authors@v1", "short-phrases@v1"}
    assert load_template("cikgrec-authors@v1") == tpl


def test_placeholders_are_filled_in_one_pass():
    tpl = load_template()
    msgs = tpl.messages(["A {kind} book", "{titles}"], "books")
    assert msgs[1]["content"] == "[A {kind} book, {titles}]"
    assert format_titles([]) == "[]"


def test_item_kind_from_dataset():
    assert item_kind(tiny_dataset("book-crossing")) == "books"
    assert item_kind(tiny_dataset("dbbook2014")) == "books"
    assert item_kind(tiny_dataset("ml1m")) == "movies"
    assert item_kind(tiny_dataset("synthetic")) == "books"
    with pytest.raises(ValueError, match="item_kind"):
        item_kind(tiny_dataset("unknown"))


def test_user_template_from_yaml(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nversion: 3\nsystem: Be brief about {kind}.\nuser: 'Liked: {titles}'\n")
    tpl = load_template(str(p))
    assert tpl.id == "mine@v3"
    assert tpl.messages(["X"], "movies")[1]["content"] == "Liked: [X]"
    reqs, _ = build_requests(tiny_dataset(), "m", str(p))
    assert all(r.template == "mine@v3" for r in reqs)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: 1\nuser: 'no placeholder'\n")
    with pytest.raises(ValueError, match="bad.yaml.*titles"):
        load_template(str(bad))
    bad.write_text("name: bad\nversion: 1\nuser: '{titles} {user_id}'\n")
    with pytest.raises(ValueError, match="unknown placeholder"):
        load_template(str(bad))
    with pytest.raises(ValueError, match="not found"):
        load_template("no-such-template")


def test_requests_keys_depend_on_template_model_and_params():
    ds = tiny_dataset()
    a, _ = build_requests(ds, "m1")
    b, _ = build_requests(ds, "m2")
    c, _ = build_requests(ds, "m1", params=sampling_params(500))
    d, _ = build_requests(ds, "m1", "short-phrases")
    e, _ = build_requests(ds, "m1")
    assert len(a) == ds.n_users - 1  # the user without a titled item gets no request
    keys = [{r.key for r in x} for x in (a, b, c, d)]
    assert all(keys[i].isdisjoint(keys[j]) for i in range(4) for j in range(i + 1, 4))
    assert [r.key for r in a] == [r.key for r in e]
    assert a[0].body() == {"model": "m1", "messages": a[0].messages, "max_tokens": 1000}
    assert sampling_params(1000, 0.0) == {"max_tokens": 1000, "temperature": 0.0}
    with pytest.raises(ValueError, match="temperature"):
        sampling_params(10, 3.0)


def test_cost_estimate_is_labelled_and_scales():
    msgs = [{"role": "system", "content": "x" * 400}, {"role": "user", "content": "y" * 40}]
    assert estimate_tokens(msgs) == 3 + (4 + 100) + (4 + 10)
    prices = load_prices()
    assert "as_of" in prices and prices["models"]["gpt-3.5-turbo-0125"] == {"input": 0.5, "output": 1.5}
    one = estimate_cost([msgs], 1000, ["gpt-3.5-turbo-0125", "some-local-model"], prices)
    ten = estimate_cost([msgs] * 10, 1000, ["gpt-3.5-turbo-0125"], prices)
    assert ten[0].chat_usd == pytest.approx(10 * one[0].chat_usd)
    assert one[0].batch_usd == pytest.approx(0.5 * one[0].chat_usd)
    assert one[0].chat_usd_max > one[0].chat_usd
    assert one[1].chat_usd is None  # no price: said, not guessed
    assert "ESTIMATE" in METHOD


def test_prompts_command_prints_messages_and_estimate(capsys, monkeypatch):
    from cikgwb.cli import build_parser
    from cikgwb.cli import interests as cli

    monkeypatch.setattr(cli, "_load", lambda args: tiny_dataset())
    parser = build_parser()
    args = parser.parse_args(["interests", "prompts", "--dataset", "synthetic", "--show", "1"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert AUTHORS_SYSTEM in out
    assert "ESTIMATE: ~4 characters per token" in out
    assert "gpt-3.5-turbo-0125" in out and "batch (est.)" in out
    assert "1 without: no request" in out
