"""The graph screen as a report: which of a dataset's interest graphs is worth a training run (issue 33).

The screen's figures of a graph (:func:`cikgwb.knowledge.leak.screen`: specificity, the leak
ratio, the interest-neighbour Recall@50 on the protocol's selection split) take minutes to
measure on a real dataset and change only when the graph's edge file changes, while its trained
gain changes whenever a run lands. So they are kept apart:

- a **measured** file holds what ``cikgwb graph screen --out`` measured, one record per graph
  with the sha256 of the edge file it was measured on (:func:`measured_record`);
- the **report** joins it with each graph's trained gain over no graph, paired by seed
  (:func:`paired_gains`), and the Spearman rank correlation of each figure with the gain
  (:func:`cikgwb.knowledge.leak.screen_table`, from :data:`MIN_GRAPHS` graphs with a gain).

A graph whose edge file no longer has the measured sha256 is stale (:func:`stale_graphs`); the
report marks it and names the command that measures it again.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import numpy as np

#: (key of :func:`cikgwb.knowledge.leak.screen`, column header) of the report, in order; the
#: neighbour recall's key names k = 50 and the users protocol's selection split
FIGURES = (
    ("interests", "interests"),
    ("users_per_interest", "users / interest"),
    ("top10_share", "top-10 share"),
    ("interest_entropy_norm", "edge entropy / max"),
    ("phrase_entropy", "phrase entropy (bits)"),
    ("leak_ratio", "leak ratio"),
    ("lift", "lift"),
    ("neighbour_R@50_sel_half", "neighbour R@50 (selection half)"),
)
#: a rank correlation needs this many graphs with both a figure and a trained gain
MIN_GRAPHS = 3


def measured_record(
    payload: dict[str, Any], specs: list[str], sha256: list[str | None], command: str, commit: str
) -> dict[str, Any]:
    """The measured file from one ``cikgwb graph screen --out`` ``payload`` whose graphs were
    ``specs`` (in that order; ``paper``, ``none`` or a path relative to the project), with the
    sha256 of each edge file (None for ``none``), the command and the code commit. Trained gains
    and machine-dependent keys (absolute paths) are left out: they are not measurements."""
    rows = payload["graphs"]
    if len(rows) != len(specs) or len(sha256) != len(specs):
        raise ValueError(f"screen payload has {len(rows)} graphs for {len(specs)} specs / {len(sha256)} sha256")
    drop = {"key", "graph", "trained", "seeds", "gain"}
    graphs = [
        {"spec": s, "sha256": h, **{k: v for k, v in r.items() if k not in drop}}
        for s, h, r in zip(specs, sha256, rows, strict=True)
    ]
    return {
        "dataset": payload["dataset"],
        "protocol": payload["protocol"],
        "split_seed": payload.get("split_seed", 0),
        "k": payload.get("k", 50),
        "controls": payload.get("controls"),
        "command": command,
        "code_commit": commit,
        "measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "graphs": graphs,
    }


def stale_graphs(measured: dict[str, Any] | None, current: dict[str, str | None]) -> list[str]:
    """The specs of ``current`` (spec -> sha256 of its edge file now, None for ``none``) whose
    record in ``measured`` is absent or was measured on another file."""
    have = {g["spec"]: g.get("sha256") for g in (measured or {}).get("graphs", [])}
    return [s for s, h in current.items() if s not in have or have[s] != h]


def paired_gains(sides: list[dict[str, Any]], reference: str, metric: str) -> dict[str, dict[str, Any]]:
    """Per side label of a :func:`cikgwb.compare.compare_sides` result (``sides``: its ``sides``,
    each with ``label``, ``seeds`` and ``<metric>.values`` in seed order): ``seeds`` shared with
    ``reference``, the side's mean ``trained`` over them and its ``gain``, the mean over those seeds
    of (side - reference). A side without a seed in common with ``reference`` gets no entry."""
    by = {s["label"]: dict(zip(s["seeds"], (s.get(metric) or {}).get("values", []), strict=False)) for s in sides}
    ref = by.get(reference, {})
    out = {}
    for label, vals in by.items():
        common = sorted(set(vals) & set(ref))
        if not common:
            continue
        x = np.array([vals[s] for s in common], dtype=float)
        d = x - np.array([ref[s] for s in common], dtype=float)
        out[label] = {"seeds": common, "trained": float(x.mean()), "gain": float(d.mean())}
    return out


def correlations(rows: list[dict[str, Any]], gains: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """Spearman rank correlation of each figure ``keys`` of ``rows`` (each with ``label``) with the
    gain, over the rows that have both (:func:`cikgwb.knowledge.leak.screen_table`); with the
    number of such graphs. None below :data:`MIN_GRAPHS` graphs or where either is constant."""
    from .leak import screen_table

    table = [{"graph": r["label"], "key": r["label"], **{k: _num(r.get(k)) for k in keys}} for r in rows]
    _, rho = screen_table(table, {k: {**v, "seeds": len(v["seeds"])} for k, v in gains.items()})
    out = {}
    for k in keys:
        n = sum(1 for r in table if r["key"] in gains and math.isfinite(r[k]))
        v = rho.get(k, math.nan)
        out[k] = {"rho": round(v, 4) if n >= MIN_GRAPHS and math.isfinite(v) else None, "graphs": n}
    return out


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def edge_sha256(path: Path) -> str:
    """sha256 of an edge file (:func:`cikgwb.data.download.sha256_file`)."""
    from ..data.download import sha256_file

    return sha256_file(Path(path))
