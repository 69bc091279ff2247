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
        for g, rng in ((1, "5-9"), (0, "1-4"), (2, "10-40")):  # unordered on purpose
            rows.append(
                {
                    "model": model,
                    "group": g,
                    "range": rng,
                    "users": 10 * (g + 1),
                    "ndcg@50": base + g / 100,
                    "ndcg@50 std": 0.0,
                }
            )
    fig = plots.sparsity_groups(pd.DataFrame(rows), dataset="synthetic", protocol="valid", seeds=[0])
    assert [t.name for t in fig.data] == ["cikgrec", "lightgcn"]
    assert all(isinstance(t, go.Bar) for t in fig.data)
    assert list(fig.data[0].x) == [
        "G1: 1-4 items<br>10 users",
        "G2: 5-9 items<br>20 users",
        "G3: 10-40 items<br>30 users",
    ]
    np.testing.assert_allclose(fig.data[1].y, [0.10, 0.11, 0.12])
    assert fig.data[0].error_y.array is None  # one seed: no error bars drawn
    assert fig.layout.barmode == "group"
    assert "NDCG@50" in _text(fig) and "protocol: valid" in _text(fig) and "seeds: 0" in _text(fig)
    with pytest.raises(ValueError, match="missing column"):
        plots.sparsity_groups(pd.DataFrame(rows).drop(columns="range"), dataset="s", protocol="valid")


def test_figure5_recall_line_and_ndcg_bars_on_two_axes():
    a = pd.DataFrame(
        {
            "mask_alpha": [0.2, 0.01, 0.05],
            "recall@50": [0.3, 0.1, 0.2],
            "ndcg@50": [0.03, 0.01, 0.02],
            "recall@50 std": [0.0, 0.01, 0.0],
        }
    )
    b = pd.DataFrame({"gcl_weight": [0.01, 1.0], "recall@50": [0.2, 0.05], "ndcg@50": [0.02, 0.004]})
    fig = plots.sensitivity_panels(
        {"mask_alpha": a, "gcl_weight": b}, dataset="synthetic", protocol="valid", seeds=[0, 1]
    )
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    lines = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert len(bars) == 2 and len(lines) == 2
    assert list(lines[0].x) == ["0.01", "0.05", "0.2"]  # sorted by value, categorical
    np.testing.assert_allclose(lines[0].y, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(bars[0].y, [0.01, 0.02, 0.03])
    # the values are written on the figure (its axes start at 0, where small differences hide)
    assert list(lines[0].text) == ["0.1000", "0.2000", "0.3000"] and list(bars[0].text) == [
        "0.0100",
        "0.0200",
        "0.0300",
    ]
    assert lines[0].error_y.array is not None  # a std > 0: error bars
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
    assert len([x for x in hl.x if x is not None]) == 2  # one edge, two ends
    with pytest.raises(ValueError, match="no nodes"):
        plots.network(nx.Graph(), title="t")


def test_training_curves_and_results_bars():
    h = pd.DataFrame(
        {
            "epoch": [0, 1, 0, 1],
            "run": ["a", "a", "b", "b"],
            "loss": [1.0, 0.5, 2.0, 1.0],
            "loss_rec": [0.7, 0.4, 1.5, 0.8],
            "valid_recall@50": [0.1, 0.2, 0.05, 0.1],
        }
    )
    fig = plots.training_curves(h, dataset="synthetic", protocol="valid", seeds=[0])
    names = [t.name for t in fig.data]
    assert "a: loss" in names and "b: loss_rec" in names and "a: valid_recall@50" in names
    t = pd.DataFrame({"model": ["cikgrec", "lightgcn"], "recall@50": [0.18, 0.16]})
    fig = plots.results_bars(
        t, metric="recall@50", dataset="book-crossing", protocol="authors", paper={"cikgrec": 0.1791, "lightgcn": None}
    )
    paper = next(tr for tr in fig.data if tr.name.startswith("paper"))
    assert list(paper.x) == ["cikgrec"] and list(paper.y) == [0.1791]


def test_save_figure_writes_html_and_png(tmp_path):
    fig = plots.sparsity_group_sizes(
        pd.DataFrame({"range": ["1-2", "3-9"], "users": [5, 2], "interactions": [8, 12]}), dataset="synthetic"
    )
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


def test_a_figure_redrawn_unchanged_is_byte_identical(tmp_path):
    """The HTML's div id comes from the file name, not a random one: `make reports` leaves a figure
    whose data did not change untouched in git."""
    fig = plots.table_figure(pd.DataFrame({"a": [1.0, 2.5]}), "t")
    first = plots.save_figure(fig, tmp_path / "a" / "fig", png=False)[0].read_bytes()
    assert plots.save_figure(fig, tmp_path / "b" / "fig", png=False)[0].read_bytes() == first
    assert b'id="fig"' in first


def test_without_chromium_figures_fall_back_to_html(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plots, "png_available", lambda: False)
    monkeypatch.setattr(plots, "_NO_PNG_SAID", False)
    fig = plots.table_figure(pd.DataFrame({"a": [1.0, 2.5]}), "t")
    assert [p.suffix for p in plots.save_figure(fig, tmp_path / "f")] == [".html"]
    with pytest.raises(RuntimeError, match="Chromium"):
        plots.save_figure(fig, tmp_path / "g", png=True)
    # a PNG already there (a committed figure, issue 36 item 10) is never deleted
    (tmp_path / "old.png").write_bytes(b"\x89PNG from an earlier run")
    assert [p.suffix for p in plots.save_figure(fig, tmp_path / "old")] == [".html"]
    assert (tmp_path / "old.png").read_bytes() == b"\x89PNG from an earlier run" and (tmp_path / "old.html").exists()
    err = capsys.readouterr().err
    assert err.count("PNG export unavailable here") == 1, err  # one line per process, not one per figure
    from cikgwb.notebooks import Notebook

    nb = Notebook(name="t", dataset="synthetic", quick=True, root=tmp_path, reports=tmp_path, figures=tmp_path / "figs")
    nb.show(fig, "x")  # displays the HTML instead of a PNG; no error
    assert (tmp_path / "figs" / "t_x.html").exists() and not (tmp_path / "figs" / "t_x.png").exists()


# ----------------------------------------------------------------------------- axes a reviewer accepts
def test_figure5_axes_start_at_zero_with_three_significant_digits():
    d = pd.DataFrame(
        {"mask_alpha": [0.01, 0.05, 0.2], "recall@50": [0.7300, 0.7231, 0.7209], "ndcg@50": [0.4119, 0.3904, 0.3966]}
    )
    for fig in (
        plots.sensitivity(d, "mask_alpha", dataset="synthetic", protocol="valid"),
        plots.sensitivity_panels({"mask_alpha": d}, dataset="synthetic", protocol="valid"),
    ):
        ys = [a for name, a in fig.layout.to_plotly_json().items() if name.startswith("yaxis")]
        assert len(ys) == 2
        for ax in ys:  # a 1% change must not fill the axis
            assert ax["rangemode"] == "tozero" and ax["tickformat"] == ".3~g"
        assert {ax["title"]["text"] for ax in ys} == {"Recall@50 (line)", "NDCG@50 (bars)"}
        assert all(".4f" in t.hovertemplate for t in fig.data)


def test_table1_bars_horizontal_wrapped_labels_and_legend_above():
    tab = pd.DataFrame(
        {"model": ["cikgrec (authors views)", "cikgrec (paper views)", "lightgcn"], "recall@50": [0.179, 0.181, 0.16]}
    )
    fig = plots.results_bars(
        tab, metric="recall@50", dataset="book-crossing", protocol="authors", paper={"lightgcn": 0.161}
    )
    x = fig.layout.xaxis
    assert x.tickangle == 0 and list(x.tickvals) == list(tab["model"])
    for t in x.ticktext:  # no tick line wider than a bar slot
        assert max(len(line) for line in t.split("<br>")) <= 14
    assert fig.layout.legend.y >= 1 and fig.layout.yaxis.tickformat == ".2f"


def test_figure3_names_what_is_not_shown_under_the_figure():
    rows = [{"model": "cikgrec", "group": 0, "range": "4-8", "users": 10, "ndcg@50": 0.07}]
    note = "Not shown: kgat, kgin: no per-user test metrics"
    fig = plots.sparsity_groups(pd.DataFrame(rows), dataset="book-crossing", protocol="valid", note=note)
    texts = [a.text for a in fig.layout.annotations]
    assert any("kgat, kgin" in t for t in texts) and fig.layout.margin.b >= 150
    assert "about equal total interactions" in fig.layout.xaxis.title.text
    assert not plots.sparsity_groups(pd.DataFrame(rows), dataset="d", protocol="valid").layout.annotations


def test_case_study_paths_draws_every_interest_label_and_the_items_rank():
    case = {
        "user": 2362,
        "item": 1484,
        "title": "The Five People You Meet in Heaven",
        "other_user": 897,
        "shared": [9, 30],
        "interests": [9, 30, 53],
        "rank": 277,
        "labels": {
            9: "#9 (439 users): Tuesdays with Morrie; Who Moved My Cheese?",
            30: "#30: Sophie's World",
            53: "#53: The Celestine Prophecy",
        },
    }
    topk = pd.DataFrame(
        {"rank": [1, 2], "item": [538, 509], "title": ["A", "B"], "score": [0.00212, 0.00154], "hit": [False, False]}
    )
    fig = plots.case_study_paths(case, topk, dataset="book-crossing", protocol="valid", seeds=[0], n_items=8853)
    ann = " ".join(a.text.replace("<br>", " ") for a in fig.layout.annotations)
    for lab in (
        "Tuesdays with Morrie",
        "Sophie's World",
        "Celestine Prophecy",
        "user 2362",
        "user 897",
        "rank 277 of 8,853 (not in the top-2)",
    ):
        assert lab in ann, lab
    xr = fig.layout.xaxis.range
    assert all(xr[0] < a.x < xr[1] for a in fig.layout.annotations if a.xref in (None, "x"))
    table = next(t for t in fig.data if isinstance(t, go.Table))
    assert list(table.cells.values[1]) == [538, 509, 1484] and list(table.cells.values[4])[-1] == "case"
    assert list(table.cells.values[3])[:2] == ["0.00212", "0.00154"]
    assert "share interests #9, #30" in fig.layout.title.text
    with pytest.raises(ValueError, match="missing 'rank'"):
        plots.case_study_paths({k: v for k, v in case.items() if k != "rank"}, topk, dataset="d", protocol="valid")


# ----------------------------------------------------------------------------- one sparsity-group definition
def test_data_stats_and_figure3_use_the_same_sparsity_groups(synthetic_dir, synthetic_ds, capsys, monkeypatch):
    import re

    from cikgwb import results as R
    from cikgwb.cli import main
    from cikgwb.evaluate import sparsity_groups

    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    assert main(["data", "stats", "synthetic", "--data-dir", str(synthetic_dir)]) == 0
    out = capsys.readouterr().out
    shown = [
        tuple(int(x.replace(",", "")) for x in m)
        for m in re.findall(
            r"sparsity group \d+\s+([\d,]+) users, (\d+)-(\d+) train.txt items, ([\d,]+) interactions", out
        )
    ]
    counts = R.train_counts(synthetic_ds)
    sizes = R.group_sizes(counts, sparsity_groups(counts, 4))
    want = [
        (int(r["users"]), *map(int, str(r["range"]).split("-")), int(r["interactions"])) for _, r in sizes.iterrows()
    ]
    assert shown == want and len(shown) >= 2


def test_figure3_groups_from_committed_per_user_metrics_without_checkpoint(synthetic_ds, tmp_path):
    from cikgwb import results as R
    from cikgwb.evaluate import sparsity_groups

    ds = synthetic_ds
    run = tmp_path / "run-without-checkpoint"
    run.mkdir()
    rng = np.random.default_rng(0)
    users = np.flatnonzero(np.diff(ds.matrix("test").indptr) > 0).astype(np.int32)
    nd = rng.random(len(users)).astype(np.float32)
    np.savez_compressed(
        run / "test_per_user.npz", users=users, epoch=np.int64(3), **{"ndcg@50": nd, "recall@50": nd / 2}
    )
    df = R.run_sparsity_groups(run, ds)
    groups = sparsity_groups(R.train_counts(ds), 4)
    for _, r in df.iterrows():
        sel = groups[users] == r["group"]
        assert r["ndcg@50"] == pytest.approx(float(nd[sel].mean()), rel=1e-6)
    assert (run / R.SPARSITY_FILE).exists()
    runs = pd.DataFrame(
        [{"path": str(tmp_path / "no-metrics"), "run": "no-metrics", "model": "kgat", "variant": "-", "seed": 0}]
    )
    (tmp_path / "no-metrics").mkdir()
    _, skipped = R.sparsity_table(runs, ds)
    assert list(skipped["model"]) == ["kgat"] and "cikgwb per-user" in skipped["reason"].iloc[0]


# ----------------------------------------------------------------------------- issue 36 item 9
def test_png_and_live_figure_take_the_figures_own_size(tmp_path):
    labels = pd.DataFrame({"label": [f"interest {i}" for i in range(40)], "size": range(40, 0, -1)})
    tall = plots.interest_sizes(labels, dataset="synthetic", source="test")
    assert tall.layout.height == 22 * 40 + 150  # one row per bar: every label has room
    plain = plots.sparsity_group_sizes(
        pd.DataFrame({"range": ["1-2", "3-9"], "users": [5, 2], "interactions": [8, 12]}), dataset="synthetic"
    )
    assert plain.layout.height is None
    plots.save_figure(plain, tmp_path / "plain", png=False)
    # JupyterLab's live figure takes the layout's height (360 px without one): now the PNG's
    assert plain.layout.height == plots.DEFAULT_SIZE[1]
    if not plots.png_available():
        pytest.skip("no Chromium for kaleido here (scripts/install_browser.sh)")
    for fig, want in ((tall, (1000, 22 * 40 + 150)), (plain, plots.DEFAULT_SIZE)):
        png = next(p for p in plots.save_figure(fig, tmp_path / "f", html=False) if p.suffix == ".png").read_bytes()
        assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == tuple(want)


def test_results_bars_say_which_bars_rest_on_which_seeds_and_draw_no_single_seed_caps():
    tab = pd.DataFrame(
        {
            "model": ["cikgrec", "lightgcn", "kgat", "kgin", "cke", "cfkg"],
            "recall@50": [0.17, 0.15, 0.12, 0.13, 0.11, 0.1],
            "recall@50 std": [0.002, 0.001, 0.0, 0.0, 0.0, 0.0],
            "seeds": ["0,1,2,3,4", "0,1,2,3,4", "0", "0", "0", "0"],
        }
    )
    fig = plots.results_bars(tab, metric="recall@50", dataset="book-crossing", protocol="valid", seeds="0,1,2,3,4")
    assert "seeds: 0-4 for cikgrec, lightgcn; 0 for 4 bars" in _text(fig)
    # std bars on the bars of several seeds only, without caps (a single seed's would be a zero-width tick)
    assert list(fig.data[0].error_y.array) == [0.002, 0.001, None, None, None, None] and fig.data[0].error_y.width == 0
    assert list(fig.data[0].customdata) == ["0-4", "0-4", "0", "0", "0", "0"]
    assert plots.seeds_range("0,1,2,4,5,7") == "0-2,4-5,7"


def test_table3_bars_are_titled_table3_start_near_the_data_and_say_authors_selects_on_test():
    tab = pd.DataFrame(
        {
            "model": ["full (3 seeds)", "w/o UIK (3 seeds)", "w/o CL (1 seed)"],
            "ndcg@100": [0.0961, 0.0950, 0.0957],
            "ndcg@100 std": [0.0006, 0.0004, 0.0],
        }
    )
    fig = plots.results_bars(
        tab,
        metric="ndcg@100",
        dataset="book-crossing",
        protocol="authors",
        paper={"full (3 seeds)": 0.1003},
        what="Table 3: CIKGRec and its ablations, test NDCG@100",
        from_zero=False,
    )
    t = _text(fig)
    assert t.startswith("Table 3: CIKGRec and its ablations") and "per model" not in t
    assert "selected on the test items" in t
    lo, hi = fig.layout.yaxis.range
    assert 0.08 < lo < 0.0946 and 0.1003 < hi < 0.11  # around the bars, their error bars and the paper's marker
    assert f"axis from {lo:.3f}, not 0" in fig.layout.yaxis.title.text
    assert "protocol: valid" in plots.figure_title("x", dataset="d", protocol="valid")
    long = plots.figure_title("x", dataset="d", protocol="authors", seeds="0", extra="y" * 120)
    assert long.count("<br>") == 2 and all(len(x) <= 140 for x in long.split("<sup>")[1].split("<br>"))


def test_figure5_value_labels_sit_where_the_line_leaves_room():
    assert plots.line_label_positions([0.1, 0.2, 0.3]) == ["bottom center", "top left", "top center"]
    assert plots.line_label_positions([0.3, 0.2, 0.1]) == ["top center", "top right", "bottom center"]
    assert plots.line_label_positions([0.1, 0.3, 0.2, 0.25]) == [
        "bottom center",
        "top center",
        "bottom center",
        "top center",
    ]
    d = pd.DataFrame({"a": [1, 2, 3, 4, 5], "recall@50": [0.1, 0.3, 0.2, 0.25, 0.4], "ndcg@50": [0.01] * 5})
    line = next(t for t in plots.sensitivity(d, "a", dataset="s", protocol="valid").data if isinstance(t, go.Scatter))
    assert list(line.textposition) == plots.line_label_positions(d["recall@50"])
