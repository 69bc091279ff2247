"""Plotly figures for the paper's tables and figures, each a function of results (data frames,
dicts, graphs), never of notebook state.

Every figure's title says what is shown and on what: :func:`figure_title` appends the dataset,
the protocol (``valid``: selection on the validation split, test once; ``authors``: selection on
test, the paper's protocol, for comparison only) and the seeds. Axes carry units.

The paper's figures, reproduced in kind:

* Figure 3 (:func:`sparsity_groups`): users cut into groups of about equal total training
  interactions (KGAT-style, :func:`cikgwb.evaluate.sparsity_groups`), one bar per model and group.
* Figure 4 (:func:`case_study`): a user, their interests, an interest shared with another user,
  and the user's top-K list in which a test item appears.
* Figure 5 (:func:`sensitivity`, :func:`sensitivity_panels`): Recall@50 as lines on the left
  axis, NDCG@50 as bars on a second (right) axis, one panel per hyper-parameter.

:func:`save_figure` writes an interactive HTML file and a PNG (plotly + kaleido; kaleido 1.x
drives a local Chromium, found on ``PATH`` or through ``BROWSER_PATH``; no download happens).
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "figure_title",
    "seeds_label",
    "save_figure",
    "png_available",
    "table_figure",
    "degree_distribution",
    "sparsity_group_sizes",
    "interest_sizes",
    "phrase_map",
    "network",
    "training_curves",
    "mask_rate_schedule",
    "results_bars",
    "sparsity_groups",
    "case_study_paths",
    "sensitivity",
    "sensitivity_panels",
]

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC", "#EECA3B")
NODE_COLOURS = {"user": "#4C78A8", "item": "#F58518", "entity": "#BAB0AC", "interest": "#54A24B"}
EDGE_COLOURS = {"interact": "#F58518", "has_interest": "#54A24B", "kg": "#BAB0AC"}
METRIC_NAMES = {"recall": "Recall", "ndcg": "NDCG", "precision": "Precision", "hit": "Hit rate"}


# ----------------------------------------------------------------------------- titles
def seeds_label(seeds: Any) -> str:
    """``"0"``, ``"0,1,2"`` or ``"?"`` for unknown seeds."""
    if seeds is None:
        return "?"
    if isinstance(seeds, (str, int, np.integer)):
        return str(seeds)
    vals = sorted({int(s) for s in seeds if s is not None and not (isinstance(s, float) and math.isnan(s))})
    return ",".join(str(s) for s in vals) if vals else "?"


def seeds_range(label: str) -> str:
    """``"0,1,2,3,4"`` -> ``"0-4"``, ``"0,1,3"`` -> ``"0-1,3"`` (a :func:`seeds_label`, runs of
    consecutive seeds shortened)."""
    try:
        vals = sorted({int(x) for x in str(label).split(",") if x.strip()})
    except ValueError:
        return str(label)
    if not vals:
        return str(label)
    out, start = [], vals[0]
    for a, b in zip(vals, [*vals[1:], None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ",".join(out)


#: characters on a subtitle line (a 1000 px figure holds about 150 at plotly's subtitle size)
SUBTITLE_WIDTH = 140
#: what a figure's subtitle adds to a protocol's name
PROTOCOL_NOTES = {"authors": "authors (the epoch is selected on the test items, as the authors' code does)"}


def figure_title(
    what: str, *, dataset: str, protocol: str | None = None, seeds: Any = None, extra: str | None = None
) -> str:
    """``what`` then a second line ``dataset: D · protocol: P · seeds: S · extra``; the
    ``authors`` protocol says that it selects on test (:data:`PROTOCOL_NOTES`)."""
    if not what or not isinstance(what, str):
        raise ValueError(f"figure_title: 'what' must be a non-empty string, got {what!r}")
    if not dataset:
        raise ValueError("figure_title: dataset is required (every figure names its dataset)")
    parts = [f"dataset: {dataset}"]
    if protocol is not None:
        parts.append(f"protocol: {PROTOCOL_NOTES.get(protocol, protocol)}")
    if seeds is not None:
        parts.append(f"seeds: {seeds_label(seeds)}")
    if extra:
        parts.append(str(extra))
    lines = [parts[0]]  # a long subtitle breaks between its parts, not past the figure's edge
    for p in parts[1:]:
        if len(lines[-1]) + 3 + len(p) > SUBTITLE_WIDTH:
            lines.append(p)
        else:
            lines[-1] += f" · {p}"
    return f"{what}<br><sup>{'<br>'.join(lines)}</sup>"


def metric_label(metric: str) -> str:
    """``"ndcg@50"`` -> ``"NDCG@50"``."""
    name, _, k = metric.partition("@")
    return f"{METRIC_NAMES.get(name, name)}@{k}" if k else METRIC_NAMES.get(name, name)


def _require(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; got columns {list(df.columns)}")


def _layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left"),
        template="plotly_white",
        margin=dict(t=90, l=60, r=30, b=60),
        legend=dict(orientation="h", y=-0.18),
        **kw,
    )
    return fig


# ----------------------------------------------------------------------------- export
#: a figure's size in pixels (width, height) where neither its layout nor the caller gives one
DEFAULT_SIZE = (1000, 560)
_KALEIDO_LOCK = threading.Lock()
_KALEIDO_STARTED = False


def png_available() -> bool:
    """Whether PNG export can run here: kaleido is importable and a Chromium is found
    (``BROWSER_PATH``, or ``chromium`` / ``google-chrome`` on ``PATH``)."""
    import shutil

    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    if os.environ.get("BROWSER_PATH") and Path(os.environ["BROWSER_PATH"]).exists():
        return True
    return any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome", "chrome"))


def _start_kaleido() -> None:
    """Start kaleido's persistent browser once per process (the first PNG costs ~2-3 s, later
    ones ~0.2 s); stopped at exit."""
    global _KALEIDO_STARTED
    with _KALEIDO_LOCK:
        if _KALEIDO_STARTED:
            return
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        _KALEIDO_STARTED = True


def save_figure(
    fig: go.Figure,
    path_stem: str | Path,
    *,
    html: bool = True,
    png: bool | None = None,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
    plotlyjs: str | None = None,
) -> list[Path]:
    """Write ``<stem>.html`` (interactive) and ``<stem>.png`` (static); returns the paths written.

    Size: ``width`` / ``height`` when given, else the figure's own layout width and height (a
    figure sized for its content, e.g. one bar per interest, keeps every label), else
    :data:`DEFAULT_SIZE`. A figure without a layout height gets the PNG's, so that the PNG,
    the HTML and JupyterLab's live figure (which replaces the PNG on hover, at the layout's
    height, 360 px without one) have one height.

    ``png=None`` writes the PNG when :func:`png_available`, else says once per process that PNG
    export is unavailable (:data:`NO_PNG_LINE`); ``png=True`` raises if it cannot. A PNG already
    there is never deleted (it may be a committed file); ``MADE_BY`` lists only the files a run wrote.
    ``plotlyjs``: how the HTML gets plotly.js, ``"cdn"`` (default: small files, the browser
    fetches the library when the page is opened) or ``True`` (embedded, ~4.7 MB a file, fully
    offline); env ``CIKGWB_PLOTLYJS`` overrides the default.
    """
    if not isinstance(fig, go.Figure):
        raise TypeError(f"save_figure: expected a plotly Figure, got {type(fig).__name__}")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    width = int(width or fig.layout.width or DEFAULT_SIZE[0])
    height = int(height or fig.layout.height or DEFAULT_SIZE[1])
    if fig.layout.height is None:
        fig.update_layout(height=height)
    out: list[Path] = []
    if html:
        mode: Any = plotlyjs or os.environ.get("CIKGWB_PLOTLYJS", "cdn")
        if mode in ("true", "True", "embed"):
            mode = True
        p = stem.with_suffix(".html")
        # the div id from the file name, not a random one: a figure redrawn unchanged is byte-identical
        fig.write_html(p, include_plotlyjs=mode, full_html=True, div_id=stem.name)
        out.append(p)
    want_png = png_available() if png is None else png
    png_path = stem.with_suffix(".png")
    if want_png:
        if not png_available():
            raise RuntimeError(
                "PNG export needs kaleido and a local Chromium (install the Debian package "
                "'chromium' or set BROWSER_PATH); none found"
            )
        _start_kaleido()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*kopts argument is ignored.*")
            fig.write_image(png_path, width=width, height=height, scale=scale)
        out.append(png_path)
    elif png is None:
        _say_no_png_once()
    return out


_NO_PNG_SAID = False


def _say_no_png_once() -> None:
    """One line per process when PNG export is unavailable; an existing PNG is never deleted
    (it may be a committed file: issue 36 item 10)."""
    global _NO_PNG_SAID
    if not _NO_PNG_SAID:
        _NO_PNG_SAID = True
        print(NO_PNG_LINE, file=sys.stderr)


#: what :func:`save_figure` prints once when it cannot write PNGs
NO_PNG_LINE = (
    "PNG export unavailable here (no kaleido with a local Chromium; scripts/install_browser.sh installs one): "
    "figures are written as HTML only, and PNGs already there are left as they were"
)


# ----------------------------------------------------------------------------- data figures
def table_figure(df: pd.DataFrame, title: str, *, float_format: str = "{:.4f}") -> go.Figure:
    """A plotly table of ``df`` (index shown as the first column when it is named)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"table_figure: expected a DataFrame, got {type(df).__name__}")
    d = df.reset_index() if df.index.name else df

    def fmt(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(v) else float_format.format(v)
        return str(v)

    fig = go.Figure(
        go.Table(
            header=dict(values=[str(c) for c in d.columns], fill_color="#E8EEF5", align="left"),
            cells=dict(values=[[fmt(v) for v in d[c]] for c in d.columns], align="left"),
        )
    )
    return _layout(fig, title, height=max(250, 60 + 28 * (len(d) + 2)))


def degree_distribution(
    degrees: Mapping[str, Sequence[int] | np.ndarray], *, dataset: str, what: str = "Degree distribution"
) -> go.Figure:
    """Log-log degree distributions: ``degrees`` maps a series name (e.g. ``"user: interact"``)
    to the degrees of its nodes; zero degrees are counted in the legend, not drawn."""
    fig = go.Figure()
    for n, (name, deg) in enumerate(degrees.items()):
        d = np.asarray(deg, dtype=np.int64)
        zero = int((d == 0).sum())
        vals, counts = np.unique(d[d > 0], return_counts=True)
        fig.add_trace(
            go.Scatter(
                x=vals,
                y=counts,
                mode="markers+lines",
                name=f"{name} ({zero} with 0)",
                marker=dict(color=PALETTE[n % len(PALETTE)], size=6),
            )
        )
    fig.update_xaxes(type="log", title="degree (edges per node)")
    fig.update_yaxes(type="log", title="nodes")
    return _layout(fig, figure_title(what, dataset=dataset))


def sparsity_group_sizes(groups: pd.DataFrame, *, dataset: str) -> go.Figure:
    """Users and interactions per sparsity group (columns ``range``, ``users``, ``interactions``)."""
    _require(groups, ["range", "users", "interactions"], "sparsity_group_sizes")
    x = [f"G{i + 1}: {r}" for i, r in enumerate(groups["range"])]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=x, y=groups["users"], name="users", marker_color=PALETTE[0]), secondary_y=False)
    fig.add_trace(
        go.Scatter(
            x=x, y=groups["interactions"], name="training interactions", mode="lines+markers", marker_color=PALETTE[1]
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title="group (training interactions per user)")
    fig.update_yaxes(title="users", secondary_y=False)
    fig.update_yaxes(title="training interactions", secondary_y=True, rangemode="tozero")
    return _layout(fig, figure_title("Sparsity groups (about equal total interactions, as in KGAT)", dataset=dataset))


def interest_sizes(labels: pd.DataFrame, *, dataset: str, source: str, top: int = 40) -> go.Figure:
    """Users per interest node (columns ``label``, ``size``), the ``top`` largest."""
    _require(labels, ["label", "size"], "interest_sizes")
    d = labels.sort_values("size", ascending=False).head(top)
    fig = go.Figure(go.Bar(x=d["size"], y=[_cut(s, 40) for s in d["label"]], orientation="h", marker_color=PALETTE[2]))
    fig.update_yaxes(autorange="reversed", title="interest (label)")
    fig.update_xaxes(title="users holding the interest")
    return _layout(
        fig,
        figure_title(
            f"Interest nodes by size (top {min(top, len(labels))} of {len(labels)})", dataset=dataset, extra=source[:90]
        ),
        height=max(400, 22 * len(d) + 150),
    )


def phrase_map(
    points: pd.DataFrame,
    *,
    dataset: str,
    what: str = "Interest phrases in 2-D",
    extra: str | None = None,
    max_legend: int = 15,
) -> go.Figure:
    """Scatter of phrases (columns ``x``, ``y``, ``cluster``, ``label``, ``phrase``, ``count``),
    coloured by cluster, marker area by occurrences."""
    _require(points, ["x", "y", "cluster", "label", "phrase", "count"], "phrase_map")
    fig = go.Figure()
    sizes = points.groupby("cluster")["count"].sum().sort_values(ascending=False)
    for n, c in enumerate(sizes.index):
        d = points[points["cluster"] == c]
        fig.add_trace(
            go.Scattergl(
                x=d["x"],
                y=d["y"],
                mode="markers",
                name=f"{c}: {str(d['label'].iloc[0])[:30]}",
                text=[f"{p} ({k}x)" for p, k in zip(d["phrase"], d["count"])],
                hoverinfo="text+name",
                marker=dict(
                    size=np.clip(4 + 2 * np.sqrt(d["count"].to_numpy(float)), 4, 22),
                    color=PALETTE[n % len(PALETTE)],
                    opacity=0.7,
                ),
                showlegend=n < max_legend,
            )
        )
    fig.update_xaxes(title="component 1")
    fig.update_yaxes(title="component 2")
    return _layout(fig, figure_title(what, dataset=dataset, extra=extra))


def network(
    graph: Any,
    *,
    title: str,
    highlight: Iterable[Any] = (),
    seed: int = 0,
    highlight_edges: Iterable[tuple[Any, Any]] = (),
) -> go.Figure:
    """Draw a small ``networkx`` graph whose nodes have ``type`` and ``label`` attributes and
    whose edges have a ``type`` (``interact``, ``has_interest``, ``kg:<relation>``), as made by
    :func:`cikgwb.inspect_graph.neighbourhood_subgraph`. Spring layout with a fixed seed."""
    import networkx as nx

    if graph.number_of_nodes() == 0:
        raise ValueError("network: the graph has no nodes")
    pos = nx.spring_layout(graph, seed=seed, k=1.5 / math.sqrt(max(1, graph.number_of_nodes())))
    hi_nodes = set(highlight)
    hi_edges = {frozenset(e) for e in highlight_edges}
    fig = go.Figure()
    by_type: dict[str, list[tuple[Any, Any]]] = {}
    for a, b, d in graph.edges(data=True):
        t = str(d.get("type", "edge"))
        key = "kg" if t.startswith("kg") else t
        if frozenset((a, b)) in hi_edges:
            key = "highlighted path"
        by_type.setdefault(key, []).append((a, b))
    for t, edges in by_type.items():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b in edges:
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
        hl = t == "highlighted path"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"edge: {t}",
                hoverinfo="skip",
                line=dict(width=4 if hl else 1.2, color="#E45756" if hl else EDGE_COLOURS.get(t, "#999")),
            )
        )
    types: dict[str, list[Any]] = {}
    for n, d in graph.nodes(data=True):
        types.setdefault(str(d.get("type", "node")), []).append(n)
    for t, nodes in types.items():
        labels = [str(graph.nodes[n].get("label", n)) for n in nodes]
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers+text",
                name=t,
                text=[lab[:28] for lab in labels],
                hovertext=labels,
                hoverinfo="text",
                textposition="top center",
                textfont=dict(size=10),
                marker=dict(
                    size=[22 if (n in hi_nodes or graph.nodes[n].get("center")) else 12 for n in nodes],
                    color=NODE_COLOURS.get(t, "#666"),
                    line=dict(width=[3 if n in hi_nodes else 0 for n in nodes], color="#E45756"),
                ),
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=620)


# ----------------------------------------------------------------------------- training
def training_curves(
    history: pd.DataFrame,
    *,
    dataset: str,
    protocol: str,
    seeds: Any,
    losses: Sequence[str] | None = None,
    metric: str | None = None,
    run_col: str = "run",
    extra: str | None = None,
) -> go.Figure:
    """Loss terms (left) and a selection metric (right) per epoch, one line per run.

    ``history``: long or per-run history rows with columns ``epoch``, ``run`` and the loss /
    metric columns of ``history.jsonl`` (``loss``, ``loss_rec``, ..., ``valid_recall@50``).
    """
    _require(history, ["epoch", run_col], "training_curves")
    if losses is None:
        losses = [c for c in ("loss", "loss_rec", "loss_uir", "loss_cl", "loss_kg") if c in history.columns]
    if metric is None:
        cands = [
            c for c in history.columns if c.endswith("recall@50") and c.startswith(("valid_", "sel_half_", "test_"))
        ]
        metric = cands[0] if cands else None
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("training loss terms (mean per batch)", f"{metric or 'no metric'} per epoch")
    )
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    for n, (run, d) in enumerate(history.groupby(run_col, sort=False)):
        colour = PALETTE[n % len(PALETTE)]
        for m, col in enumerate(losses):
            if col in d and d[col].notna().any():
                fig.add_trace(
                    go.Scatter(
                        x=d["epoch"],
                        y=d[col],
                        name=f"{run}: {col}",
                        mode="lines",
                        line=dict(color=colour, dash=dashes[m % len(dashes)]),
                        legendgroup=str(run),
                    ),
                    row=1,
                    col=1,
                )
        if metric and metric in d:
            fig.add_trace(
                go.Scatter(
                    x=d["epoch"],
                    y=d[metric],
                    name=f"{run}: {metric}",
                    mode="lines+markers",
                    line=dict(color=colour),
                    marker=dict(size=4),
                    legendgroup=str(run),
                    showlegend=False,
                ),
                row=1,
                col=2,
            )
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_yaxes(title=metric_label(metric.split("_", 1)[-1]) if metric else "", row=1, col=2)
    return _layout(
        fig, figure_title("Training curves", dataset=dataset, protocol=protocol, seeds=seeds, extra=extra), height=520
    )


def mask_rate_schedule(
    *,
    alpha: float,
    omega: float,
    lam: float,
    epochs: int,
    dataset: str,
    schedules: Sequence[str] = ("exp", "lin", "fixed"),
    observed: pd.DataFrame | None = None,
) -> go.Figure:
    """The dynamic mask rate p_q = min(delta(q), omega) of the three schedules (docs/method.md 3),
    and the rates a run used (``observed``: columns ``epoch``, ``mask_rate``, optional ``run``)."""
    from .models.losses import mask_rate

    if not 0 < alpha <= omega <= 1:
        raise ValueError(f"mask_rate_schedule: expected 0 < alpha <= omega <= 1, got alpha={alpha}, omega={omega}")
    q = np.arange(max(1, int(epochs)))
    fig = go.Figure()
    for n, s in enumerate(schedules):
        fig.add_trace(
            go.Scatter(
                x=q,
                y=[mask_rate(int(e), alpha, omega, lam, s) for e in q],
                mode="lines",
                name=f"{s} (formula)",
                line=dict(color=PALETTE[n % len(PALETTE)]),
            )
        )
    if observed is not None and len(observed):
        _require(observed, ["epoch", "mask_rate"], "mask_rate_schedule(observed)")
        groups = observed.groupby("run", sort=False) if "run" in observed else [("run", observed)]
        for run, d in groups:
            fig.add_trace(
                go.Scatter(
                    x=d["epoch"], y=d["mask_rate"], mode="markers", name=f"{run}: used", marker=dict(size=6, symbol="x")
                )
            )
    fig.update_xaxes(title="epoch q")
    fig.update_yaxes(title="mask rate p_q (share of interest nodes masked)", range=[0, 1])
    return _layout(
        fig,
        figure_title(
            "Mask-rate schedule of the interest reconstruction",
            dataset=dataset,
            extra=f"alpha={alpha:g}, omega={omega:g}, Lambda={lam:g}",
        ),
    )


# ----------------------------------------------------------------------------- results
def _seeds_by_bar(models: Iterable[Any], seeds: Iterable[Any]) -> str:
    """Which bars rest on which seeds: ``"0-4"`` when all share them, else e.g. ``"0-4 for
    cikgrec, lightgcn; 0 for 8 bars"`` (most seeds first; a bar's own ``(N seeds)`` left out)."""
    import re

    groups: dict[str, list[str]] = {}
    for m, sd in zip(models, seeds):
        key = seeds_label(sd) if not isinstance(sd, str) else sd
        groups.setdefault(key, []).append(re.sub(r"\s*\(\d+ seeds?\)$", "", str(m)))
    if len(groups) == 1:
        return seeds_range(next(iter(groups)))
    order = sorted(groups.items(), key=lambda kv: (-len(kv[0].split(",")), kv[0]))
    parts = [
        f"{seeds_range(sd)} for {', '.join(n[:24] for n in ms) if len(ms) <= 3 else f'{len(ms)} bars'}"
        for sd, ms in order
    ]
    return "; ".join(parts)


def results_bars(
    table: pd.DataFrame,
    *,
    metric: str,
    dataset: str,
    protocol: str,
    seeds: Any = None,
    paper: Mapping[str, float | None] | None = None,
    extra: str | None = None,
    what: str | None = None,
    from_zero: bool = True,
) -> go.Figure:
    """Bars of ``metric`` per model (columns ``model``, ``<metric>``, optional ``<metric> std``
    for error bars, drawn only on bars whose std is > 0, i.e. of two or more seeds, and optional
    ``seeds`` per bar, e.g. ``"0,1,2"``: the subtitle then says which bars rest on which seeds,
    instead of ``seeds``), with the paper's value per model as a marker where given.

    ``what``: the title (default ``Test <metric> per model``). ``from_zero=False`` starts the
    value axis near the data (ablations differ by thousandths) and says where in its title."""
    _require(table, ["model", metric], "results_bars")
    if "seeds" in table:
        seeds = _seeds_by_bar(table["model"], table["seeds"])
    # horizontal tick labels, a long one broken before its parenthesis: no overlap, no rotation
    ticks = {m: _wrap(str(m).replace(" (", "\n("), 14, 3).replace("\n", "<br>") for m in table["model"]}
    per_bar = [seeds_range(str(x)) for x in table["seeds"]] if "seeds" in table else None
    fig = go.Figure(
        go.Bar(
            x=table["model"],
            y=table[metric],
            name="this workbench",
            marker_color=PALETTE[0],
            error_y=_err(table, metric),
            customdata=per_bar,
            hovertemplate="%{x}: %{y:.4f}" + (" (seeds %{customdata})" if per_bar else "") + "<extra></extra>",
        )
    )
    if paper:
        xs = [m for m in table["model"] if paper.get(m) is not None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[paper[m] for m in xs],
                mode="markers",
                name="paper (authors' protocol)",
                marker=dict(symbol="diamond", size=12, color=PALETTE[3]),
                hovertemplate="%{x}: paper %{y:.4f}<extra></extra>",
            )
        )
    fig.update_xaxes(
        title="model",
        tickangle=0,
        automargin=True,
        tickmode="array",
        tickvals=list(table["model"]),
        ticktext=[ticks[m] for m in table["model"]],
    )
    ytitle = f"{metric_label(metric)} (test, mean over users)"
    if from_zero:
        fig.update_yaxes(rangemode="tozero", tickformat=".2f")
    else:
        lo, hi = _data_range(table, metric, paper)
        fig.update_yaxes(range=[lo, hi], tickformat=".3f")
        ytitle += f"; axis from {lo:.3f}, not 0"
    fig.update_yaxes(title=ytitle, automargin=True)
    fig = _layout(
        fig,
        figure_title(
            what or f"Test {metric_label(metric)} per model",
            dataset=dataset,
            protocol=protocol,
            seeds=seeds,
            extra=extra,
        ),
    )
    fig.update_layout(
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"), margin=dict(t=110, b=90)
    )
    return fig


def _data_range(table: pd.DataFrame, metric: str, paper: Mapping[str, float | None] | None) -> tuple[float, float]:
    """A value axis around the bars (with their error bars) and the paper's markers, padded."""
    y = table[metric].to_numpy(dtype=float)
    e = np.nan_to_num(table[f"{metric} std"].to_numpy(dtype=float)) if f"{metric} std" in table else 0 * y
    vals = [*(y - e), *(y + e), *(v for v in (paper or {}).values() if v is not None)]
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = 0.25 * (hi - lo) if hi > lo else 0.05 * abs(hi) or 0.01
    return max(0.0, lo - pad), hi + pad


def sparsity_groups(
    groups: pd.DataFrame,
    *,
    metric: str = "ndcg@50",
    dataset: str,
    protocol: str,
    seeds: Any = None,
    extra: str | None = None,
    note: str | None = None,
) -> go.Figure:
    """Figure 3: ``metric`` per sparsity group, one bar per model.

    ``groups``: long rows with columns ``model``, ``group`` (0 = sparsest), ``range`` (the
    group's training-interaction counts, e.g. ``"1-4"``), ``users`` and ``metric`` (optional
    ``<metric> std`` over seeds).
    """
    _require(groups, ["model", "group", "range", metric], "sparsity_groups")
    order = groups.drop_duplicates("group").sort_values("group")
    xlab = {
        int(g): f"G{int(g) + 1}: {r} items" + (f"<br>{int(u)} users" if "users" in order else "")
        for g, r, u in zip(order["group"], order["range"], order["users"] if "users" in order else [0] * len(order))
    }
    fig = go.Figure()
    for n, (model, d) in enumerate(groups.groupby("model", sort=False)):
        d = d.sort_values("group")
        fig.add_trace(
            go.Bar(
                x=[xlab[int(g)] for g in d["group"]],
                y=d[metric],
                name=str(model),
                marker_color=PALETTE[n % len(PALETTE)],
                error_y=_err(d, metric),
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(
        title="user group: items in train.txt per user (4 groups of about equal total interactions, sparsest first)",
        automargin=True,
    )
    fig.update_yaxes(
        title=f"{metric_label(metric)} (test, mean over the group's users)",
        rangemode="tozero",
        tickformat=".2f",
        automargin=True,
    )
    fig = _layout(
        fig,
        figure_title(
            f"Figure 3: {metric_label(metric)} per sparsity group",
            dataset=dataset,
            protocol=protocol,
            seeds=seeds,
            extra=extra,
        ),
    )
    fig.update_layout(
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        margin=dict(t=110, b=170 if note else 70),
    )
    if note:  # below the axis title (two tick lines + title take about 90 px)
        _footnote(fig, note, width=150, y=0, yshift=-100)
    return fig


def _cut(text: Any, width: int) -> str:
    t = str(text)
    return t if len(t) <= width else t[: width - 1].rstrip() + "\u2026"


def _footnote(fig: go.Figure, note: str, width: int, y: float, yshift: int = 0) -> None:
    """``note`` in small grey text at the left below the plot (paper coordinates ``y``, ``yshift`` px),
    wrapped at ``width`` characters into at most three lines."""
    fig.add_annotation(
        text=_wrap(note, width, 3),
        xref="paper",
        yref="paper",
        x=0,
        y=y,
        yshift=yshift,
        showarrow=False,
        xanchor="left",
        yanchor="top",
        align="left",
        font=dict(size=11, color="#555"),
    )


def _wrap(text: str, width: int = 34, max_lines: int = 3) -> str:
    """``text`` wrapped at word boundaries into at most ``max_lines`` lines of ``width``
    characters, joined by ``<br>`` (plotly text); an ellipsis marks a cut."""
    import textwrap

    lines = textwrap.wrap(str(text), width=width, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1].rstrip() + "\u2026"
    return "<br>".join(lines)


def case_study_paths(
    case: Mapping[str, Any],
    topk: pd.DataFrame,
    *,
    dataset: str,
    protocol: str,
    seeds: Any = None,
    n_items: int | None = None,
    note: str | None = None,
) -> go.Figure:
    """Figure 4 from a run artefact's case (:func:`cikgwb.explorer.artefact_case`), laid out by
    hand so that no label is clipped: the user (left), every interest of theirs (middle column,
    the ones shared with the other user highlighted and joined to them), the other user and
    their training item (right), and the model's recommendation of that item to the user, with
    its rank, along the bottom; on the right the user's top-K list (rank, item id, title, score,
    test hit), the case's item appended when the list misses it.

    ``case`` keys: ``user, item, title, other_user, shared, interests, labels`` (``{interest:
    short label}``), ``rank`` (1-based rank of the item in the user's full ranking; 0: masked).
    ``topk``: ``rank, item, title, score, hit``."""
    for key in ("user", "item", "title", "other_user", "shared", "interests", "labels", "rank"):
        if key not in case:
            raise ValueError(f"case_study_paths: case is missing {key!r}")
    _require(topk, ["rank", "item", "title", "score", "hit"], "case_study_paths(topk)")
    u, v, item, rank = int(case["user"]), case["other_user"], int(case["item"]), int(case["rank"])
    ints = [int(j) for j in case["interests"]]
    shared = {int(j) for j in case["shared"]}
    fig = make_subplots(
        rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.03, specs=[[{"type": "xy"}, {"type": "table"}]]
    )
    n = max(len(ints), 1)
    ys = {j: (n - 1) / 2 - r for r, j in enumerate(ints)}  # interests top to bottom
    y_sh = float(np.mean([ys[j] for j in shared])) if shared else 0.0
    bottom = -(n - 1) / 2 - 1.0
    _case_edges(fig, [(j, ys[j]) for j in ints], shared, y_sh, v)
    _case_recommendation(fig, u, item, rank, n_items, len(topk), bottom, y_sh)
    nodes = [
        (0.0, 0.0, f"user {u}", "user"),
        *[(1.0, ys[j], _wrap(case["labels"].get(j, f"interest {j}"), 30), "interest") for j in ints],
    ]
    if v is not None:
        nodes.append((2.0, y_sh, f"user {v}", "user"))
    nodes.append((3.0, y_sh, _wrap(f"item {item}: {case['title']}", 22, 4), "item"))
    _case_nodes(fig, nodes)
    # room for labels: half a column either side, a row above the top interest, the rank text below
    fig.update_xaxes(visible=False, range=[-0.75, 3.6], row=1, col=1)
    fig.update_yaxes(visible=False, range=[bottom - 0.6, (n - 1) / 2 + 0.9], row=1, col=1)
    n_rows = _case_table(fig, topk, item, rank, case["title"])
    shared_txt = ", ".join(f"#{j}" for j in sorted(shared)) or "none"
    extra = (
        (
            f"users {u} and {v} share interests {shared_txt}; item {item} is a test item of user {u} and a "
            f"training item of user {v}"
        )
        if v is not None
        else f"item {item} is a test item of user {u}"
    )
    title = figure_title(
        f"Figure 4: case study, user {u} and item {item}", dataset=dataset, protocol=protocol, seeds=seeds, extra=extra
    )
    fig = _layout(fig, title, height=max(620, 140 * n + 260, 24 * n_rows + 330), width=1400)
    fig.update_layout(margin=dict(t=110, l=20, r=20, b=110 if note else 60), legend=dict(orientation="h", y=-0.02))
    if note:
        _footnote(fig, note, width=170, y=-0.08)
    return fig


def _path_line(fig: go.Figure, x: list[float], y: list[float], **line: Any) -> None:
    """A line of Figure 4's path panel, without hover or legend."""
    fig.add_trace(
        go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False, line=dict(**line)), row=1, col=1
    )


def _case_edges(fig: go.Figure, ys: list[tuple[int, float]], shared: set[int], y_sh: float, v: Any) -> None:
    """Figure 4's edges: user - every interest ``(j, y)``, the other user ``v`` - the shared ones, ``v`` - the item."""
    for j, y in ys:
        hi = j in shared
        _path_line(fig, [0, 1], [0, y], color="#E45756" if hi else "#B5C9B1", width=3 if hi else 1.5)
        if hi and v is not None:
            _path_line(fig, [1, 2], [y, y_sh], color="#E45756", width=3)
    if v is not None:
        _path_line(fig, [2, 3], [y_sh, y_sh], color=EDGE_COLOURS["interact"], width=3)


def _case_recommendation(
    fig: go.Figure, u: int, item: int, rank: int, n_items: int | None, k: int, bottom: float, y_sh: float
) -> None:
    """The model's recommendation of ``item`` to user ``u`` along the bottom of Figure 4, with its rank."""
    where = (
        f"rank {rank:,}"
        + (f" of {n_items:,}" if n_items else "")
        + (f" (in the top-{k})" if 0 < rank <= k else f" (not in the top-{k})")
        if rank > 0
        else "masked (also a training item)"
    )
    _path_line(fig, [0, 0, 3, 3], [0, bottom, bottom, y_sh], color="#4C78A8", width=2, dash="dash")
    fig.add_annotation(
        x=1.5,
        y=bottom,
        text=f"model's ranking of item {item} for user {u}: {where}",
        showarrow=False,
        bgcolor="white",
        font=dict(size=12, color="#4C78A8"),
        row=1,
        col=1,
    )


def _case_nodes(fig: go.Figure, nodes: list[tuple[float, float, str, str]]) -> None:
    """Figure 4's nodes ``(x, y, label, type)`` (the first, the user, labelled on its left) and the legend."""
    for n, (x, y, label, typ) in enumerate(nodes):
        marker = dict(size=22 if typ != "interest" else 16, color=NODE_COLOURS[typ], line=dict(width=1, color="white"))
        fig.add_trace(
            go.Scatter(
                x=[x], y=[y], mode="markers", marker=marker, hoverinfo="text", hovertext=[label], showlegend=False
            ),
            row=1,
            col=1,
        )
        # labels as annotations on a white ground: readable over the edges, never clipped by the axes
        left = n == 0
        fig.add_annotation(
            x=x,
            y=y,
            text=label,
            showarrow=False,
            bgcolor="rgba(255,255,255,0.9)",
            font=dict(size=11),
            align="center",
            xanchor="right" if left else "center",
            yanchor="middle" if left else "bottom",
            xshift=-16 if left else 0,
            yshift=0 if left else 12,
            row=1,
            col=1,
        )
    legend = [
        dict(mode="markers", name=typ, marker=dict(size=12, color=NODE_COLOURS[typ]))
        for typ in ("user", "interest", "item")
    ]
    legend += [
        dict(mode="lines", name="shared interest path", line=dict(color="#E45756", width=3)),
        dict(mode="lines", name="recommendation (model's rank)", line=dict(color="#4C78A8", width=2, dash="dash")),
    ]
    for kw in legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], **kw), row=1, col=1)


def _case_table(fig: go.Figure, topk: pd.DataFrame, item: int, rank: int, title: str) -> int:
    """Figure 4's top-K table, the case's ``item`` appended when the list misses it; its number of rows."""
    rows = topk.copy()
    if item not in set(rows["item"].tolist()):
        case_row = {"rank": rank if rank > 0 else "masked", "item": item, "title": title, "score": np.nan, "hit": True}
        rows = pd.concat([rows, pd.DataFrame([case_row])], ignore_index=True)
    pairs = list(zip(rows["item"], rows["hit"]))
    fill = [["#FDE2E1" if (i == item) else ("#FFF3D6" if h else "white") for i, h in pairs]] * 5
    fig.add_trace(
        go.Table(
            header=dict(values=["rank", "item", "title", "score", "test"], fill_color="#E8EEF5", align="left"),
            cells=dict(
                values=[
                    rows["rank"],
                    rows["item"],
                    [_cut(t, 44) for t in rows["title"]],
                    ["" if pd.isna(x) else f"{x:.3g}" for x in rows["score"]],
                    ["case" if i == item else ("hit" if h else "") for i, h in pairs],
                ],
                fill_color=fill,
                align="left",
                height=22,
            ),
            columnwidth=[0.1, 0.12, 0.56, 0.12, 0.1],
        ),
        row=1,
        col=2,
    )
    return len(rows)


def _err(d: pd.DataFrame, col: str) -> dict[str, Any] | None:
    """Error bars from ``<col> std`` (None when no std is > 0). A single seed's std (0 or
    missing) draws nothing: plotly.js reads a missing entry as 0, so the bars have no caps
    (``width=0``), and a bar of length 0 is invisible, where a cap would be a zero-width tick."""
    c = f"{col} std"
    if c not in d:
        return None
    std = d[c].to_numpy(dtype=float)
    if not (np.nan_to_num(std) > 0).any():
        return None
    arr = [float(v) if v > 0 else None for v in np.nan_to_num(std)]
    return dict(type="data", array=arr, visible=True, width=0, thickness=2.5, color="#333")


def _sens_traces(d: pd.DataFrame, param: str, line: str, bar: str, show_legend: bool) -> list[go.BaseTraceType]:
    x = [f"{v:g}" if isinstance(v, (float, int, np.floating, np.integer)) else str(v) for v in d[param]]
    return [
        go.Bar(
            x=x,
            y=d[bar],
            name=metric_label(bar) + " (bars, right axis)",
            marker_color=PALETTE[1],
            opacity=0.6,
            showlegend=show_legend,
            legendgroup="bar",
            error_y=_err(d, bar),
            # the axes start at 0, so differences of a few thousandths are read from the labels
            text=[f"{v:.4f}" for v in d[bar]],
            textposition="inside",
            insidetextanchor="start",
            textfont=dict(size=10),
            hovertemplate=f"{param}=%{{x}}: {metric_label(bar)} %{{y:.4f}}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=d[line],
            name=metric_label(line) + " (line, left axis)",
            mode="lines+markers+text",
            text=[f"{v:.4f}" for v in d[line]],
            # each label on the side of its point that the line leaves free (line_label_positions)
            textposition=line_label_positions(d[line].to_numpy(dtype=float)),
            textfont=dict(size=10, color=PALETTE[0]),
            cliponaxis=False,  # the first and last labels may reach past the panel's edge
            marker=dict(size=9, color=PALETTE[0]),
            line=dict(width=3, color=PALETTE[0]),
            showlegend=show_legend,
            legendgroup="line",
            error_y=_err(d, line),
            hovertemplate=f"{param}=%{{x}}: {metric_label(line)} %{{y:.4f}}<extra></extra>",
        ),
    ]


def line_label_positions(y: Sequence[float]) -> list[str]:
    """Where each point's value label goes so that the line's two segments at the point do not
    cross it: above the point where neither segment goes up from it, else below where neither
    goes down, else above on the side whose segment goes down (a rising point: above-left; a
    falling one: above-right)."""
    y = [float(v) for v in y]
    out = []
    for i, v in enumerate(y):
        left = 0.0 if i == 0 else y[i - 1] - v  # > 0: the segment to the left goes up from the point
        right = 0.0 if i == len(y) - 1 else y[i + 1] - v  # > 0: the segment to the right goes up
        if left <= 0 and right <= 0:
            out.append("top center")
        elif left >= 0 and right >= 0:
            out.append("bottom center")
        elif left < 0:  # left goes down, right goes up: a rising point
            out.append("top left")
        else:
            out.append("top right")
    return out


def _sens_axes(
    fig: go.Figure,
    line: str,
    bar: str,
    row: int | None = None,
    col: int | None = None,
    left_title: bool = True,
    right_title: bool = True,
) -> None:
    # plotly draws an overlaying (secondary) axis above its primary one: the bars go on the primary
    # axis, moved to the right side, and the line on the secondary axis, on the left, so that the
    # line stays visible above the bars
    kw = {} if row is None else {"row": row, "col": col}
    # both axes start at 0 and carry at most 3 significant digits: a 1% change looks like 1%
    fig.update_yaxes(
        title=f"{metric_label(bar)} (bars)" if right_title else None,
        side="right",
        rangemode="tozero",
        showgrid=False,
        secondary_y=False,
        tickformat=".3~g",
        automargin=True,
        **kw,
    )
    fig.update_yaxes(
        title=f"{metric_label(line)} (line)" if left_title else None,
        side="left",
        showgrid=True,
        rangemode="tozero",
        secondary_y=True,
        tickformat=".3~g",
        automargin=True,
        tickmode="auto",
        nticks=8,
        **kw,
    )


def sensitivity(
    frame: pd.DataFrame,
    param: str,
    *,
    dataset: str,
    protocol: str,
    seeds: Any = None,
    line: str = "recall@50",
    bar: str = "ndcg@50",
    label: str | None = None,
) -> go.Figure:
    """Figure 5 for one hyper-parameter: ``line`` (Recall@50) as a line on the left axis and
    ``bar`` (NDCG@50) as bars on a second, right axis, against the values of ``param``."""
    _require(frame, [param, line, bar], "sensitivity")
    d = frame.sort_values(param)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    b, s = _sens_traces(d, param, line, bar, True)
    fig.add_trace(b, secondary_y=False)
    fig.add_trace(s, secondary_y=True)
    fig.update_xaxes(title=label or param, type="category")
    _sens_axes(fig, line, bar)
    return _layout(
        fig, figure_title(f"Figure 5: sensitivity to {label or param}", dataset=dataset, protocol=protocol, seeds=seeds)
    )


def sensitivity_panels(
    frames: Mapping[str, pd.DataFrame],
    *,
    dataset: str,
    protocol: str,
    seeds: Any = None,
    line: str = "recall@50",
    bar: str = "ndcg@50",
    labels: Mapping[str, str] | None = None,
    extra: str | None = None,
) -> go.Figure:
    """Figure 5: one panel per hyper-parameter (``frames``: parameter -> rows with the
    parameter's values and the two metrics), lines on the left axes, bars on the right axes."""
    if not frames:
        raise ValueError("sensitivity_panels: no parameters to draw (frames is empty)")
    labels = dict(labels or {})
    names = list(frames)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        specs=[[{"secondary_y": True}] * len(names)],
        subplot_titles=[labels.get(p, p) for p in names],
        horizontal_spacing=0.12,
    )
    for c, p in enumerate(names, start=1):
        d = frames[p]
        _require(d, [p, line, bar], f"sensitivity_panels[{p!r}]")
        b, s = _sens_traces(d.sort_values(p), p, line, bar, c == 1)
        fig.add_trace(b, row=1, col=c, secondary_y=False)
        fig.add_trace(s, row=1, col=c, secondary_y=True)
        fig.update_xaxes(title=labels.get(p, p), type="category", row=1, col=c)
        _sens_axes(fig, line, bar, row=1, col=c, left_title=c == 1, right_title=c == len(names))
    return _layout(
        fig,
        figure_title(
            "Figure 5: hyper-parameter sensitivity", dataset=dataset, protocol=protocol, seeds=seeds, extra=extra
        ),
        height=480,
        width=max(700, 430 * len(names)),
    )
