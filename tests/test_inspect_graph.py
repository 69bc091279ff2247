"""CIKG inspection on a hand-made dataset whose figures are counted by hand, plus the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cikgwb import inspect_graph as ig
from cikgwb.data.dataset import Dataset


def tiny(labels: list[str] | None = None, source: str = "test graph") -> Dataset:
    """5 users, 4 items, 2 other entities (4 genre, 5 author), 3 interests (2 held by nobody)."""
    a = lambda rows: np.array(rows, dtype=np.int64).reshape(-1, 2)  # noqa: E731
    return Dataset(
        name="tiny",
        n_users=5,
        n_items=4,
        n_entities=6,
        n_relations=2,
        train=a([[0, 0], [0, 1], [1, 1], [1, 2], [2, 2], [3, 0], [3, 3]]),
        valid=a([[0, 2]]),
        test=a([[1, 3]]),
        kg=np.array([[0, 0, 4], [1, 0, 4], [2, 1, 5], [3, 0, 4]], dtype=np.int64),
        titles=["Dune", "Emma", None, "It"],
        relation_names=["genre", "author"],
        user_interest=a([[0, 0], [0, 1], [1, 0], [2, 1], [3, 0]]),
        n_interests=3,
        interest_ids=np.array([100, 101, 102]),
        interest_labels=labels,
        meta={"interests_source": source, "entity_names": ["Dune", "Emma", None, "It", "sci-fi", "Ann Baker"]},
    )


def test_stats_by_node_and_edge_type():
    st = ig.graph_stats(tiny())
    nodes = st["nodes"].set_index("node type")
    assert nodes["nodes"].to_dict() == {"user": 5, "item": 4, "entity": 2, "interest": 3}
    assert nodes["with edges"].to_dict() == {"user": 4, "item": 4, "entity": 2, "interest": 2}
    edges = st["edges"].set_index("edge type")["edges"].to_dict()
    assert edges == {"interact": 7, "kg:genre": 3, "kg:author": 1, "has_interest": 5}
    deg = st["degrees"].set_index(["node type", "edge type"])
    assert deg.loc[("user", "interact"), "zero"] == 1 and deg.loc[("user", "interact"), "max"] == 2
    assert deg.loc[("interest", "has_interest"), "mean"] == pytest.approx(5 / 3)
    assert deg.loc[("entity", "kg"), "max"] == 3
    cov = st["coverage"].set_index("users")
    assert cov.loc["all", "with interests"] == 4 and cov.loc["all", "share"] == pytest.approx(0.8)
    assert cov["n"].iloc[1:].sum() == 5  # the sparsity groups cover every user


def test_degree_distribution():
    ds = tiny()
    assert ig.degrees(ds, "user", "interact").tolist() == [2, 2, 1, 2, 0]
    assert ig.degrees(ds, "user", "interact", split="train_full").tolist() == [3, 2, 1, 2, 0]
    assert ig.degrees(ds, "item", "kg:genre").tolist() == [1, 1, 0, 1]
    assert ig.degrees(ds, "interest", "has_interest").tolist() == [3, 2, 0]
    with pytest.raises(ValueError, match="no relation 'isbn'"):
        ig.degrees(ds, "item", "kg:isbn")
    with pytest.raises(ValueError, match="expected one of"):
        ig.degrees(ds, "book", "interact")


def test_user_view():
    v = ig.user_view(tiny(["fantasy", "mystery", "cooking"]), 0)
    assert v["items"]["title"].tolist() == ["Dune", "Emma"]
    it = v["interests"]
    assert it["interest"].tolist() == [0, 1] and it["label"].tolist() == ["fantasy", "mystery"]
    assert it["holders"].tolist() == [3, 2] and it["some other holders"].tolist() == [[1, 3], [2]]
    assert v["neighbours"]["user"].tolist() == [1, 2, 3]
    assert v["neighbours"]["labels"].tolist() == ["fantasy", "mystery", "fantasy"]
    ni = v["neighbour_items"]
    assert ni.iloc[0][["item", "count", "user has it"]].tolist() == [2, 2, False]
    assert ni.iloc[0]["title"] == "(item 2: no title)"
    assert set(ni["item"]) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="user 5 out of range"):
        ig.user_view(tiny(), 5)


def test_interest_view_and_unlabelled_paper_graph():
    v = ig.interest_view(tiny(), 0)
    assert v["members"].tolist() == [0, 1, 3] and v["original_id"] == 100
    top = v["top_items"].set_index("item")
    assert top.loc[0, "count"] == 2 and top.loc[0, "share of members"] == pytest.approx(2 / 3)
    assert top.loc[0, "lift"] == pytest.approx((2 / 3) / (2 / 5))
    assert v["label"] == "(no text label; id 100)"
    paper = tiny(source="paper (released gpt-3.5-turbo-0125 interest graph; no text labels)")
    assert ig.interest_label(paper, 1) == "(no text label: paper's released graph; id 101)"
    assert ig.interest_view(paper, 2)["n_members"] == 0
    with pytest.raises(ValueError, match="interest 3 out of range"):
        ig.interest_view(paper, 3)


def test_neighbourhood_subgraph_and_tables():
    ds = tiny(["fantasy", "mystery", "cooking"])
    G = ig.neighbourhood_subgraph(ds, user=0)
    types = {n: d["type"] for n, d in G.nodes(data=True)}
    assert G.nodes[("user", 0)].get("center") is True
    assert {n for n, t in types.items() if t == "interest"} == {("interest", 0), ("interest", 1)}
    assert {n for n, t in types.items() if t == "user"} == {("user", u) for u in range(4)}
    assert {n for n, t in types.items() if t == "entity"} == {("entity", 4), ("entity", 5)}
    assert G.edges[("user", 1), ("interest", 0)]["type"] == "has_interest"
    assert G.edges[("item", 2), ("entity", 5)]["type"] == "kg:author"
    assert not G.has_edge(("user", 1), ("interest", 1))  # only the centre's interests
    nodes, edges = ig.subgraph_tables(G)
    assert len(nodes) == G.number_of_nodes() and len(edges) == G.number_of_edges()
    assert set(edges["type"]) == {"interact", "has_interest", "kg:genre", "kg:author"}
    Gi = ig.neighbourhood_subgraph(ds, interest=1, include_kg=False)
    assert {n for n in Gi if n[0] == "user"} == {("user", 0), ("user", 2)}
    assert all(n[0] != "entity" for n in Gi)
    with pytest.raises(ValueError, match="exactly one"):
        ig.neighbourhood_subgraph(ds)


def test_cli_graph_user_paper_and_export(tmp_path, synthetic_dir, synthetic_ds, capsys):
    from cikgwb.cli import main

    rc = main(
        [
            "graph",
            "user",
            "3",
            "--dataset",
            "synthetic",
            "--data-dir",
            str(synthetic_dir),
            "--export",
            str(tmp_path / "u3"),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "synthetic oracle" in text and "users sharing most interests" in text
    nodes = pd.read_csv(tmp_path / "u3_nodes.tsv", sep="\t")
    assert "user:3" in set(nodes["node"]) and {"user", "item", "interest"} <= set(nodes["type"])
    rc = main(["graph", "stats", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--interests", "none"])
    text = capsys.readouterr().out
    assert rc == 0 and "w/o UIK" in text


def test_cli_graph_paper_book_crossing_names_and_says_how(real_data_dir, capsys, monkeypatch, tmp_path):
    from cikgwb.cli import main

    # the committed names (reports/interests/book-crossing/released-names): the view says how they were made
    rc = main(["graph", "interest", "0", "--dataset", "book-crossing", "--data-dir", str(real_data_dir)])
    text = capsys.readouterr().out
    assert rc == 0 and "(id 9531 in the file): phrases: " in text and "[named from phrases]" in text
    assert "named afterwards by the phrases over-represented" in text and "SmolLM2-135M" in text
    assert "not the words of the LLM that made the graph" in text
    # a project without names: the released graph has none
    monkeypatch.setenv("CIKGWB_ROOT", str(tmp_path))
    rc = main(["graph", "interest", "0", "--dataset", "book-crossing", "--data-dir", str(real_data_dir)])
    text = capsys.readouterr().out
    assert rc == 0 and "have no text labels" in text and "(no text label: paper's released graph; id 9531)" in text


def test_short_label_derived_from_members_items_when_unlabelled():
    # interest 0: members 0, 1, 3 -> items 0 and 1 held by 2 members each (same lift 5/3): the first, Dune
    assert ig.interest_short_label(tiny(), 0) == "#100 ~ Dune"
    assert ig.interest_short_label(tiny(), 1) == "#101"  # no item held by 2 members
    assert ig.interest_short_label(tiny(), 2) == "#102"  # nobody holds it
    assert ig.interest_short_label(tiny(["space opera", "", "x"]), 0) == "space opera"
    assert ig.interest_short_label(tiny(["a long label for a plot"]), 0, width=6) == "a long"
