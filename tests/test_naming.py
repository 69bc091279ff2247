"""Names for the released (unlabelled) interest graph (cikgwb.knowledge.naming, ``cikgwb interests
name``): a phrase names a node only when its members over-use it beyond chance, titles otherwise;
the names are read beside the released graph only when they name that very file, and every view
says how a label was made."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cikgwb.knowledge import naming


def _csr(pairs, n_users, n_items):
    import scipy.sparse as sp

    pairs = np.asarray(pairs, dtype=np.int64)
    m = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def test_a_phrase_names_a_node_only_beyond_chance():
    rng = np.random.default_rng(0)
    n_users, n_items = 400, 60
    a = np.arange(0, 40)  # node 0: 40 space-opera readers
    b = np.arange(100, 110)  # node 1: 10 users who share book 7 and nothing else distinctive
    c = np.arange(200, 203)  # node 2: 3 users who share nothing
    ui = np.concatenate([np.column_stack([a, np.zeros_like(a)]), np.column_stack([b, np.ones_like(b)])])
    ui = np.concatenate([ui, np.column_stack([c, np.full_like(c, 2)])])
    rows = []
    for u in range(n_users):
        if rng.random() < 0.6:
            rows.append((u, "fantasy"))  # generic: 60% of everyone
        if rng.random() < 0.3:
            rows.append((u, "thriller"))
    rows += [(int(u), "space opera") for u in a[:30]] + [(int(u), "space opera") for u in range(300, 304)]
    rows += [(int(u), "thriller") for u in b[:4]]  # 4 of 10 vs 30% of everyone: chance
    phrases = pd.DataFrame(rows, columns=["user", "phrase"]).drop_duplicates()
    inter = [(int(u), int(rng.integers(10, n_items))) for u in range(n_users) for _ in range(3)]
    inter += [(int(u), 7) for u in b[:5]] + [(int(u), 8) for u in a[:20]]
    inter += [(int(u), 50 + k) for k, u in enumerate(c)]  # each holds a book no other member holds
    m = _csr(inter, n_users, n_items)
    titles = [f"The Book {i}: a subtitle" for i in range(n_items)]
    names = naming.name_interests(
        ui, 3, n_users, train_indptr=m.indptr, train_items=m.indices, titles=titles, phrases=phrases
    )
    assert names["method"].tolist() == ["phrases", "titles", "none"]
    # the over-used phrase, not the generic one; with the node's most distinctive title (subtitle cut)
    assert names.loc[0, "label"].startswith("phrases: space opera") and "fantasy" not in names.loc[0, "label"]
    assert "| titles: The Book 8;" in names.loc[0, "label"]
    assert names.loc[0, "top_phrases"].startswith("space opera (30)")
    # 4 of 10 saying "thriller" where 30% of everyone does is no evidence: titles name node 1
    assert names.loc[1, "label"].startswith("titles: The Book 7; ")
    assert names.loc[1, "label"].endswith(" (item titles of its 10 users; no LLM text)")
    assert names.loc[2, "label"] == "(no title shared by 2 of its 3 users; no LLM text)"
    assert names["size"].tolist() == [40, 10, 3]
    # without answers every node is named by its titles
    plain = naming.name_interests(ui, 3, n_users, train_indptr=m.indptr, train_items=m.indices, titles=titles)
    assert plain["method"].tolist() == ["titles", "titles", "none"] and plain.loc[0, "label"].startswith(
        "titles: The Book 8"
    )


@pytest.fixture()
def named(tmp_path, monkeypatch, synthetic_dir, synthetic_ds):
    """``cikgwb interests name`` on the synthetic released graph, with answers naming each user's
    planted topics; the names go to <tmp project>/reports/interests/synthetic/released-names."""
    from cikgwb.cli import main

    monkeypatch.setenv("CIKGWB_ROOT", str(tmp_path))
    ds = synthetic_ds
    topics = ds.meta["topic_names"]
    ans = tmp_path / "answers.jsonl"
    with ans.open("w") as fh:
        for u, ts in enumerate(ds.meta["planted_user_topics"]):
            ph = [topics[t] for t in ts]
            fh.write(
                json.dumps({"user": u, "phrases": ph, "raw": ", ".join(ph), "source": "test", "reason": "ok"}) + "\n"
            )
    assert (
        main(["interests", "name", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--answers", str(ans)])
        == 0
    )
    return tmp_path / "reports" / "interests" / "synthetic" / naming.NAMES_DIR


def test_names_are_read_beside_the_released_graph_and_views_say_how(named, synthetic_dir, synthetic_ds):
    from cikgwb.inspect_graph import interest_short_label, label_note
    from cikgwb.knowledge.interest_graph import apply_interest_graph, load_interest_graph
    from cikgwb.run_artefact import interest_labels

    lab = pd.read_csv(named / "interest_labels.tsv", sep="\t", keep_default_na=False)
    prov = json.loads((named / "provenance.json").read_text())
    assert prov["graph"]["sha256"] and prov["answers"]["sources"] == {"test": synthetic_ds.n_users}
    assert sorted(lab["interest_id"]) == sorted(int(i) for i in synthetic_ds.interest_ids)  # the file's ids
    assert (lab["method"] == "phrases").mean() > 0.5  # planted topics are over-represented in their nodes

    files = load_interest_graph("synthetic", data_dir=synthetic_dir)
    assert files.label_methods and files.names_from and "answers.jsonl (test)" in files.names_from
    ds = apply_interest_graph(synthetic_ds, files)
    j = int(np.flatnonzero(np.array(ds.meta["interest_label_methods"]) == "phrases")[0])
    assert ds.interest_labels[j].startswith("phrases: ")
    assert interest_short_label(ds, j, width=200) == f"#{int(ds.interest_ids[j])} ~ {ds.interest_labels[j]}"
    note = label_note(ds)
    assert "named afterwards by the phrases over-represented" in note and "answers.jsonl (test)" in note
    labels, methods = interest_labels(ds, *_train_csr(ds))
    assert labels[j] == ds.interest_labels[j] and methods[j] == "phrases" and "text" not in methods

    # names made for another version of the graph file are not shown (a warning says why)
    prov["graph"]["sha256"] = "0" * 64
    (named / "provenance.json").write_text(json.dumps(prov))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        files = load_interest_graph("synthetic", data_dir=synthetic_dir)
    assert files.labels is None and any("not used" in str(x.message) and "sha256" in str(x.message) for x in w)


def _train_csr(ds):
    m = ds.matrix("train_full").tocsr()
    return m.indptr, m.indices


def test_readable_repairs_the_upstream_encodings_for_display():
    # the Book-Crossing file's own mangled titles: UTF-8 read as Latin-1, and a lost lead byte
    assert naming.readable("NaÃ¯ve. Super") == "Naïve. Super"
    assert naming.readable("Harry Potter y el cÃ¡liz de fuego") == "Harry Potter y el cáliz de fuego"
    assert naming.readable("Die Hï¿½?Â¤upter meiner Lieben.") == "Die Häupter meiner Lieben."
    assert naming.readable("Der Pferdeflï¿½?Â¼sterer.") == "Der Pferdeflüsterer."
    # correct text, including real accents and non-Latin-1 letters, is left alone
    for ok in ("Naïve", "Ã la carte: Ãœ", "Ελληνικά Ã¡", "Plain title"):
        assert naming.readable(ok) == ok
    assert naming.short_title("Die Sï¿½?Â¤ulen der Erde (Roman)") == "Die Säulen der Erde"


def test_item_title_shows_the_repaired_title():
    from types import SimpleNamespace

    from cikgwb.inspect_graph import item_title

    ds = SimpleNamespace(titles=["Die Pï¿½?Â¤pstin.", None])
    assert item_title(ds, 0) == "Die Päpstin." and item_title(ds, 1) == "(item 1: no title)"
