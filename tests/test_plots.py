"""cikgwb.plots: every figure a function of data, titles naming dataset / protocol / seeds,
Figure 3 bars per group, Figure 5 lines + bars on a second axis, HTML and PNG export."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cikgwb import plots


def _text(fig: go.Figure) -> str:
    return fig.layout.title.text


def test_figure_title_names_dataset_protocol_seeds():
    t = plots.figure_title("Recall", dataset="book-crossing", protocol="authors", seeds=[2, 0, 1])
    assert "Recall" in t and "dataset: book-crossing" in t and "protocol: authors" in t and "seeds: 0,1,2" in t
    assert "seeds" not in plots.figure_title("x", dataset="d")
    with pytest.raises(ValueError, match="dataset is required"):
        plots.figure_title("x", dataset="")


def test_figure3_one_bar_trace_per_model_in_group_order():
    rows = []
    for model, base in (("cikgrec", 0.2), ("lightgcn", 0.1)):
        for g, rng in ((1, "5-9"), (0, "1-4"), (2, "10-40")):   # unordered on purpose
            rows.append({"model": model, "group": g, "range": rng, "users": 10 * (g + 1), "ndcg@50": base + g / 100,
                         "ndcg@50 std": 0.0})
    fig = plots.sparsity_groups(pd.DataFrame(rows), dataset="synthetic", protocol="valid", seeds=[0])
    assert [t.name for t in fig.data] == ["cikgrec", "lightgcn"]
    assert all(isinstance(t, go.Bar) for t in fig.data)
    assert list(fig.data[0].x) == ["G1: 1-4 items<br>10 users", "G2: 5-9 items<br>20 users",
                                   "G3: 10-40 items<br>30 users"]
    np.testing.assert_allclose(fig.data[1].y, [0.10, 0.11, 0.12])
    assert fig.data[0].error_y.array is None           # one seed: no error bars drawn
    assert fig.layout.barmode == "group"
    assert "NDCG@50" in _text(fig) and "protocol: valid" in _text(fig) and "seeds: 0" in _text(fig)
    with pytest.raises(ValueError, match="missing column"):
        plots.sparsity_groups(pd.DataFrame(rows).drop(columns="range"), dataset="s", protocol="valid")


def test_figure5_recall_line_and_ndcg_bars_on_two_axes():
    a = pd.DataFrame({"mask_alpha": [0.2, 0.01, 0.05], "recall@50": [0.3, 0.1, 0.2], "ndcg@50": [0.03, 0.01, 0.02],
                      "recall@50 std": [0.0, 0.01, 0.0]})
    b = pd.DataFrame({"gcl_weight": [0.01, 1.0], "recall@50": [0.2, 0.05], "ndcg@50": [0.02, 0.004]})
    fig = plots.sensitivity_panels({"mask_alpha": a, "gcl_weight": b}, dataset="synthetic", protocol="valid",
                                   seeds=[0, 1])
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    lines = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert len(bars) == 2 and len(lines) == 2
    assert list(lines[0].x) == ["0.01", "0.05", "0.2"]              # sorted by value, categorical
    np.testing.assert_allclose(lines[0].y, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(bars[0].y, [0.01, 0.02, 0.03])
    assert lines[0].error_y.array is not None                        # a std > 0: error bars
    # the bars and the line of a panel sit on two different y axes: NDCG right, Recall left
    assert bars[0].yaxis != lines[0].yaxis
    lay = fig.layout
    bar_axis = lay[bars[0].yaxis.replace("y", "yaxis")]
    line_axis = lay[lines[0].yaxis.replace("y", "yaxis")]
    assert bar_axis.side == "right" and line_axis.side == "left"
    assert "Recall@50" in line_axis.title.text and "NDCG@50" in bars[0].name
    assert "seeds: 0,1" in _text(fig)
    single = plots.sensitivity(a, "mask_alpha", dataset="synthetic", protocol="valid", label="alpha")
    assert {type(t) for t in single.data} == {go.Bar, go.Scatter}
    with pytest.raises(ValueError, match="no parameters"):
        plots.sensitivity_panels({}, dataset="s", protocol="valid")


def test_mask_rate_schedule_follows_the_formula():
    obs = pd.DataFrame({"epoch": [0, 1, 2], "mask_rate": [0.05, 0.06, 0.07], "run": "r"})
    fig = plots.mask_rate_schedule(alpha=0.05, omega=0.65, lam=30, epochs=60, dataset="synthetic", observed=obs)
    exp = next(t for t in fig.data if t.name.startswith("exp"))
    lin = next(t for t in fig.data if t.name.startswith("lin"))
    fixed = next(t for t in fig.data if t.name.startswith("fixed"))
    assert exp.y[0] == pytest.approx(0.05) and exp.y[30] == pytest.approx(0.65) and max(exp.y) == pytest.approx(0.65)
    assert exp.y[15] == pytest.approx(0.05 * (0.65 / 0.05) ** 0.5)
    assert lin.y[15] == pytest.approx(0.05 + 15 * 0.6 / 30)
    assert set(fixed.y) == {0.05}
    assert any(t.name == "r: used" for t in fig.data)
    with pytest.raises(ValueError, match="alpha"):
        plots.mask_rate_schedule(alpha=0.9, omega=0.5, lam=10, epochs=5, dataset="s")


def test_network_draws_every_node_and_highlights_the_path():
    G = nx.Graph()
    G.add_node(("user", 0), type="user", label="user 0", center=True)
    G.add_node(("interest", 1), type="interest", label="mystery")
    G.add_node(("user", 2), type="user", label="user 2")
    G.add_node(("item", 3), type="item", label="The Clue")
    G.add_edge(("user", 0), ("interest", 1), type="has_interest")
    G.add_edge(("user", 2), ("interest", 1), type="has_interest")
    G.add_edge(("user", 2), ("item", 3), type="interact")
    fig = plots.network(G, title="t", highlight_edges=[(("user", 2), ("item", 3))])
    nodes = [t for t in fig.data if t.mode == "markers+text"]
    assert sorted(t.name for t in nodes) == ["interest", "item", "user"]
    assert sum(len(t.x) for t in nodes) == 4
    hl = next(t for t in fig.data if t.name == "edge: highlighted path")
    assert len([x for x in hl.x if x is not None]) == 2          # one edge, two ends
    with pytest.raises(ValueError, match="no nodes"):
        plots.network(nx.Graph(), title="t")


def test_training_curves_and_results_bars():
    h = pd.DataFrame({"epoch": [0, 1, 0, 1], "run": ["a", "a", "b", "b"], "loss": [1.0, 0.5, 2.0, 1.0],
                      "loss_rec": [0.7, 0.4, 1.5, 0.8], "valid_recall@50": [0.1, 0.2, 0.05, 0.1]})
    fig = plots.training_curves(h, dataset="synthetic", protocol="valid", seeds=[0])
    names = [t.name for t in fig.data]
    assert "a: loss" in names and "b: loss_rec" in names and "a: valid_recall@50" in names
    t = pd.DataFrame({"model": ["cikgrec", "lightgcn"], "recall@50": [0.18, 0.16]})
    fig = plots.results_bars(t, metric="recall@50", dataset="book-crossing", protocol="authors",
                             paper={"cikgrec": 0.1791, "lightgcn": None})
    paper = next(tr for tr in fig.data if tr.name.startswith("paper"))
    assert list(paper.x) == ["cikgrec"] and list(paper.y) == [0.1791]


def test_save_figure_writes_html_and_png(tmp_path):
    fig = plots.sparsity_group_sizes(pd.DataFrame({"range": ["1-2", "3-9"], "users": [5, 2], "interactions": [8, 12]}),
                                     dataset="synthetic")
    paths = plots.save_figure(fig, tmp_path / "sub" / "fig", png=False)
    assert [p.name for p in paths] == ["fig.html"]
    html = paths[0].read_text()
    assert "plotly" in html and "Sparsity groups" in html
    with pytest.raises(TypeError, match="plotly Figure"):
        plots.save_figure({"data": []}, tmp_path / "x")
    if not plots.png_available():
        pytest.skip("no Chromium for kaleido here (scripts/install_browser.sh)")
    paths = plots.save_figure(fig, tmp_path / "fig2", width=400, height=300)
    png = next(p for p in paths if p.suffix == ".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, hgt = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (w, hgt) == (400, 300)


def test_without_chromium_figures_fall_back_to_html(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "png_available", lambda: False)
    fig = plots.table_figure(pd.DataFrame({"a": [1.0, 2.5]}), "t")
    assert [p.suffix for p in plots.save_figure(fig, tmp_path / "f")] == [".html"]
    with pytest.raises(RuntimeError, match="Chromium"):
        plots.save_figure(fig, tmp_path / "g", png=True)
    (tmp_path / "old.png").write_bytes(b"\x89PNG from an earlier run")   # would disagree with the new HTML
    with pytest.warns(UserWarning, match="old.png: removed"):
        assert [p.suffix for p in plots.save_figure(fig, tmp_path / "old")] == [".html"]
    assert not (tmp_path / "old.png").exists() and (tmp_path / "old.html").exists()
    from cikgwb.notebooks import Notebook
    nb = Notebook(name="t", dataset="synthetic", quick=True, root=tmp_path, reports=tmp_path, figures=tmp_path / "figs")
    nb.show(fig, "x")                     # displays the HTML instead of a PNG; no error
    assert (tmp_path / "figs" / "t_x.html").exists() and not (tmp_path / "figs" / "t_x.png").exists()
