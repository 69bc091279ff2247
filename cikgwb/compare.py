"""``cikgwb compare``: is model A better than model B, and by how much?

Two paired comparisons of the test metrics at each run's selected epoch (``metrics.json`` and
``test_per_user.npz``; :mod:`cikgwb.train`), A minus B:

* **over seeds** (where both sides have at least two seeds in common): the runs are paired by
  seed; paired t-test (``scipy.stats.ttest_rel``) and Wilcoxon signed-rank test
  (``scipy.stats.wilcoxon``, exact for small samples) on the per-seed metrics. With n seeds the
  smallest two-sided Wilcoxon p-value is ``2 / 2**n`` (0.0625 for 5 seeds): fewer than 6 seeds
  can never be significant by that test.
* **over users**: each user's test metric (averaged over the side's seeds where there are
  several) is paired with the same user's under the other model; paired t-test and Wilcoxon
  signed-rank (users with a zero difference dropped, as in Wilcoxon's original test) with the
  effect sizes: mean difference with its 95% confidence interval, Cohen's ``d_z`` (mean
  difference / standard deviation of the differences) and the matched-pairs rank-biserial
  correlation ``r = (R+ - R-) / (R+ + R-)`` (Kerby 2014; +1: every non-zero difference favours A).

P-values are two-sided. One comparison's are not corrected for the several metrics compared;
where several tests decide one question (a table of the claims, the interest-graph comparison),
:func:`holm` adjusts them together as one family. Every p-value is conditional on the dataset's
one published train/test split (:data:`SPLIT_NOTE`). Users are not independent draws of the same
model (they share a model), so the over-users test says whether the two rankings differ on
*these* users, not whether a retrained model would: the over-seeds test answers that.

A side is one or more run folders: a folder with ``metrics.json``, a run name under
``<reports>/runs``, or a seed-less stem (``reports/runs/book-crossing-cikgrec-valid`` for all
its ``-s<seed>`` folders).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

DEFAULT_METRICS = ("recall@50", "ndcg@50", "recall@100", "ndcg@100")
ALPHA = 0.05
#: what every p-value of this project is conditional on (said wherever p-values are reported)
SPLIT_NOTE = (
    "every p-value is conditional on the dataset's one published train/test split: it counts the "
    "variation over training seeds (over seeds) or over these test users (over users), not over other "
    "splits of the data"
)


# ----------------------------------------------------------------------------- runs
def resolve_runs(spec: str | Path, runs_root: str | Path | None = None) -> list[Path]:
    """The run folders a command-line name stands for (module docstring), sorted by seed."""
    from .paths import relative_to_cwd
    from .paths import runs_root as default_runs_root
    from .run_spec import split_run_name

    runs_root = Path(runs_root) if runs_root else relative_to_cwd(default_runs_root())
    p = Path(spec)
    cands = [p] if p.is_absolute() or p.exists() else [p, runs_root / p]
    for c in cands:
        if (c / "metrics.json").is_file():
            return [c]
    for c in cands:
        if c.parent.is_dir():
            found = [
                d
                for d in c.parent.glob(f"{c.name}-s*")
                if split_run_name(d.name)[0] == c.name and (d / "metrics.json").is_file()
            ]
            if found:
                return sorted(found, key=lambda d: split_run_name(d.name)[1])
    raise FileNotFoundError(
        f"{spec}: no finished run (a folder with metrics.json, a run name under "
        f"{runs_root}, or a stem of <stem>-s<seed> folders)"
    )


def _load(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        p = Path(p)
        m = json.loads((p / "metrics.json").read_text())
        if "test" not in m:
            raise ValueError(f"{p / 'metrics.json'}: no test metrics")
        out.append(
            {
                "path": p,
                "name": m.get("name", p.name),
                "seed": m.get("seed"),
                "split_seed": m.get("split_seed"),
                "dataset": m.get("dataset"),
                "protocol": m.get("protocol"),
                "model": m.get("model"),
                "test": m["test"],
            }
        )
    return out


PER_USER_NOTE = "it is left out of the over-users test"


def _per_user(run: dict[str, Any], compute_missing: bool, notes: list[str]) -> dict[str, np.ndarray] | None:
    from .run_folder import PER_USER_FILE, find_checkpoint, load_per_user
    from .runs import write_per_user

    path = run["path"]
    if not (path / PER_USER_FILE).exists():
        if compute_missing and find_checkpoint(path, "best.pt") is not None:
            out = write_per_user(path)
            notes.append(
                f"{path}: wrote {PER_USER_FILE} from best.pt (means within {out['max_abs_diff']:.1e} of metrics.json)"
            )
        else:
            notes.append(
                f"{path}: no {PER_USER_FILE} (and no best.pt to rebuild it: `cikgwb per-user RUN` where "
                f"the checkpoint is); {PER_USER_NOTE}"
            )
            return None
    return load_per_user(path)


# ----------------------------------------------------------------------------- statistics
def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    nz = d[d != 0]
    if len(nz) == 0:
        return 0.0, 1.0
    res = stats.wilcoxon(nz, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def _ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    d = a - b
    if len(d) < 2:
        return math.nan, math.nan
    if np.all(d == d[0]):  # no spread: identical (p = 1) or a constant shift (p = 0)
        return (0.0, 1.0) if d[0] == 0 else (math.copysign(math.inf, d[0]), 0.0)
    res = stats.ttest_rel(a, b)
    return float(res.statistic), float(res.pvalue)


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of the differences ``d`` (zeros dropped)."""
    from scipy import stats

    nz = d[d != 0]
    if len(nz) == 0:
        return 0.0
    r = stats.rankdata(np.abs(nz))
    pos, neg = r[nz > 0].sum(), r[nz < 0].sum()
    return float((pos - neg) / (pos + neg))


def holm(pvals: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of one family of p-values (Holm 1979: the i-th smallest of m is
    multiplied by m - i + 1, then made non-decreasing, capped at 1): statsmodels'
    ``multipletests(method="holm")``. NaN entries (no test) are left out of the family and stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvals, dtype=np.float64)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out.tolist()


def paired_summary(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Paired tests and effect sizes of ``a - b`` (module docstring)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = a - b
    n = len(d)
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    mean = float(d.mean()) if n else math.nan
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 and sd > 0 else 0.0
    t, pt = _ttest(a, b)
    w, pw = _wilcoxon(d) if n >= 1 else (math.nan, math.nan)
    return {
        "n": n,
        "mean_a": float(a.mean()) if n else math.nan,
        "mean_b": float(b.mean()) if n else math.nan,
        "mean_diff": mean,
        "ci95": [mean - half, mean + half],
        "sd_diff": sd,
        "cohens_dz": (mean / sd if sd > 0 else (0.0 if mean == 0 else math.copysign(math.inf, mean)))
        if n > 1
        else math.nan,
        "rank_biserial": rank_biserial(d),
        "n_nonzero": int((d != 0).sum()),
        "a_better": int((d > 0).sum()),
        "b_better": int((d < 0).sum()),
        "t": t,
        "p_t": pt,
        "wilcoxon_w": w,
        "p_wilcoxon": pw,
    }


def compare_runs(
    a: Sequence[str | Path],
    b: Sequence[str | Path],
    metrics: Sequence[str] = DEFAULT_METRICS,
    compute_missing: bool = True,
) -> dict[str, Any]:
    """A versus B (module docstring): ``{"a", "b", "metrics", "seeds": [...], "users": [...],
    "notes": [...]}``, one row per metric in ``seeds`` (when >= 2 common seeds) and ``users``."""
    ra, rb = _load(a), _load(b)
    notes: list[str] = []
    metrics = _check_pairable(ra, rb, metrics, notes)
    out: dict[str, Any] = {
        "a": {"runs": [str(r["path"]) for r in ra], "seeds": [r["seed"] for r in ra], "model": ra[0]["model"]},
        "b": {"runs": [str(r["path"]) for r in rb], "seeds": [r["seed"] for r in rb], "model": rb[0]["model"]},
        "dataset": ra[0]["dataset"],
        "metrics": list(metrics),
        "alpha": ALPHA,
        "difference": "A - B",
        "seeds": [],
        "users": [],
        "notes": notes,
    }
    out["paired_seeds"], out["seeds"] = _over_seeds(ra, rb, metrics, notes)
    # over users: every run of each side with per-user metrics (a run without is left out, so the
    # seeds need not match: two trained models, same users); nothing where a side has none
    got_a = [(r, x) for r in ra if (x := _per_user(r, compute_missing, notes)) is not None]
    got_b = [(r, x) for r in rb if (x := _per_user(r, compute_missing, notes)) is not None]
    out["user_seeds"] = [[r["seed"] for r, _ in got_a], [r["seed"] for r, _ in got_b]]
    if got_a and got_b and any(r.get("protocol") == "users" for r in ra + rb):
        out["users"] = _users_protocol_over_users(got_a, got_b, metrics, notes)
    elif got_a and got_b:
        if len(got_a) < len(ra) or len(got_b) < len(rb):
            notes.append(
                f"over users: only the runs with per-user metrics (seeds A {out['user_seeds'][0]}, "
                f"B {out['user_seeds'][1]})"
            )
        out["users"] = _over_common_users([x for _, x in got_a], [x for _, x in got_b], metrics, notes)
    else:
        notes.append("over users: a side has no run with per-user metrics; no test over users")
    return out


def _check_pairable(ra: list[dict], rb: list[dict], metrics: Sequence[str], notes: list[str]) -> list[str]:
    """The metrics every run has; raises where the two sides cannot be paired (a seed twice on one
    side, two datasets, no metric in common); notes different protocols."""
    for side, runs in (("A", ra), ("B", rb)):
        seeds = [r["seed"] for r in runs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"side {side} has two runs of one seed ({seeds}): give one run per seed")
    ds = {r["dataset"] for r in ra + rb}
    if len(ds) > 1:
        raise ValueError(f"the runs are of different datasets ({sorted(map(str, ds))}): nothing to pair")
    if len({r["protocol"] for r in ra + rb}) > 1:
        notes.append("the runs were trained under different protocols (valid / users / authors)")
    metrics = [m for m in metrics if all(m in r["test"] for r in ra + rb)]
    if not metrics:
        raise ValueError("no metric is in every run's test metrics")
    return metrics


def _over_seeds(ra: list[dict], rb: list[dict], metrics: Sequence[str], notes: list[str]) -> tuple[list, list]:
    """``(common seeds, rows)``: the paired test over the seeds both sides have (none below two)."""
    by_a, by_b = {r["seed"]: r for r in ra}, {r["seed"]: r for r in rb}
    common = sorted(set(by_a) & set(by_b))
    for s in common:  # a seed's two runs must share the split (the users protocol draws its halves from it)
        sa, sb = by_a[s]["split_seed"], by_b[s]["split_seed"]
        if sa is not None and sb is not None and sa != sb:
            raise ValueError(
                f"seed {s}: {by_a[s]['path']} has split_seed {sa}, {by_b[s]['path']} split_seed {sb}: "
                "runs paired by seed must share the split"
            )
    if len(common) < 2:
        notes.append(
            f"over seeds: {len(common)} seed(s) in common (A {sorted(by_a)}, B {sorted(by_b)}); "
            "the paired test over seeds needs at least 2"
        )
        return common, []
    rows = [
        {"metric": m, **paired_summary([by_a[s]["test"][m] for s in common], [by_b[s]["test"][m] for s in common])}
        for m in metrics
    ]
    if len(common) < 6:
        notes.append(f"{len(common)} paired seeds: the Wilcoxon test cannot reach p < 0.05 with fewer than 6")
    return common, rows


def _over_common_users(pa: list[dict], pb: list[dict], metrics: Sequence[str], notes: list[str]) -> list[dict]:
    """Over the users every run evaluated, each user's metric the mean over the side's runs."""
    users = sorted(set.intersection(*(set(x["users"].tolist()) for x in pa + pb)))
    if any(len(x["users"]) != len(users) for x in pa + pb):
        notes.append("the runs evaluated different users; compared on the common ones")
    idx = np.asarray(users)

    def side(xs, metric):
        return np.mean([x[metric][np.searchsorted(x["users"], idx)].astype(np.float64) for x in xs], axis=0)

    rows = [{"metric": m, **paired_summary(side(pa, m), side(pb, m))} for m in metrics]
    if len(pa) > 1 or len(pb) > 1:
        notes.append("over users: each user's metric is the mean over the side's seeds")
    return rows


def _users_protocol_over_users(got_a: list, got_b: list, metrics: Sequence[str], notes: list[str]) -> list[dict]:
    """Over users under the ``users`` protocol, where each seed reports its own half of the test
    users: A and B are paired within a seed (the same report half), only on the seeds both sides
    have; each user's metric is the mean over the common seeds whose report half holds the user,
    so every user of any of those halves counts once (an intersection of the halves over seeds
    would keep about 1/2^k of them)."""
    by_a = {r["seed"]: x for r, x in got_a}
    by_b = {r["seed"]: x for r, x in got_b}
    common = sorted(set(by_a) & set(by_b))
    if not common:
        notes.append("over users (users protocol): no seed with per-user metrics on both sides; no test over users")
        return []
    rows = []
    for m in metrics:
        sums: dict[int, list[float]] = {}
        for s in common:
            xa, xb = by_a[s], by_b[s]
            users = np.intersect1d(xa["users"], xb["users"])  # the seed's report half (the same on both sides)
            va = xa[m][np.searchsorted(xa["users"], users)].astype(np.float64)
            vb = xb[m][np.searchsorted(xb["users"], users)].astype(np.float64)
            for u, a, b in zip(users.tolist(), va, vb):
                acc = sums.setdefault(u, [0.0, 0.0, 0])
                acc[0], acc[1], acc[2] = acc[0] + a, acc[1] + b, acc[2] + 1
        acc = np.array([v for _, v in sorted(sums.items())], dtype=np.float64)
        rows.append({"metric": m, **paired_summary(acc[:, 0] / acc[:, 2], acc[:, 1] / acc[:, 2])})
    notes.append(
        f"over users (users protocol): paired within seeds {common} (each seed's report half); a user's "
        "metric is the mean over those of the seeds whose report half holds it"
    )
    return rows


# ----------------------------------------------------------------------------- several sides
def compare_sides(
    sides: Sequence[tuple[str, str | Path]],
    reference: str,
    metrics: Sequence[str] = DEFAULT_METRICS,
    runs_root: str | Path | None = None,
    extra_pairs: Sequence[tuple[str, str]] = (),
    tested: Sequence[str] | None = None,
    compute_missing: bool = True,
) -> dict[str, Any]:
    """Several variants of one model side by side (e.g. CIKGRec on four interest graphs):
    ``sides`` are ``(label, run spec)`` (a spec as for :func:`resolve_runs`; a side without a
    finished run is listed as missing), each summarised as mean +- std over its seeds, and each
    compared with the ``reference`` side (and any ``extra_pairs``) by :func:`compare_runs`: over
    seeds on the seeds both sides have (from two), over users on every run of each side that has
    per-user metrics (each user's metric averaged over the side's seeds).

    The tests of the ``tested`` metrics (default the first two) are one family: their p-values
    (Wilcoxon over users, t over seeds) get :func:`holm`'s adjustment, ``p_holm`` in each row, and
    ``family`` says how many tests it holds. ``compute_missing=False`` reads the committed files
    only (no per-user file is rebuilt from a checkpoint)."""
    rows: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {}
    for label, spec in sides:
        try:
            runs[label] = _load(resolve_runs(spec, runs_root))
        except FileNotFoundError:
            runs[label] = []
        rows.append(_side_row(label, spec, runs[label], metrics))
    if reference not in runs:
        raise ValueError(f"reference {reference!r}: not one of the sides {[lab for lab, _ in sides]}")
    pairs = [(lab, reference) for lab, _ in sides if lab != reference] + list(extra_pairs)
    tests = [_side_test(a, b, runs[a], runs[b], metrics, compute_missing) for a, b in pairs]
    tested = list(tested or metrics[:2])
    family = [
        (row, "p_wilcoxon" if kind == "user_rows" else "p_t")
        for t in tests
        for kind in ("user_rows", "seed_rows")
        for row in t[kind]
        if row["metric"] in tested
    ]
    for (row, _), adj in zip(family, holm([row[key] for row, key in family])):
        row["p_holm"] = adj
    return {
        "sides": rows,
        "reference": reference,
        "metrics": list(metrics),
        "tested": tested,
        "family": len(family),
        "tests": tests,
    }


def _side_row(label: str, spec: Any, found: list[dict[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """One side of :func:`compare_sides`: its seeds and each metric's mean, std and values over them."""
    row: dict[str, Any] = {"label": label, "spec": str(spec), "seeds": [r["seed"] for r in found]}
    for m in metrics:
        vals = np.array([r["test"][m] for r in found if m in r["test"]], dtype=np.float64)
        row[m] = {
            "mean": float(vals.mean()) if len(vals) else None,
            "std": float(vals.std(ddof=1)) if len(vals) > 1 else None,
            "values": vals.tolist(),
        }
    return row


def _side_test(
    a: str, b: str, ra: list[dict], rb: list[dict], metrics: Sequence[str], compute_missing: bool
) -> dict[str, Any]:
    """Side ``a`` versus side ``b`` (:func:`compare_runs` where both have runs), with the notes the
    sides' table does not already give."""
    t: dict[str, Any] = {"a": a, "b": b, "seeds": [], "user_seeds": [[], []], "seed_rows": [], "user_rows": []}
    t["notes"] = []
    if ra and rb:  # over seeds on the common seeds, over users on the runs with per-user metrics
        res = compare_runs([r["path"] for r in ra], [r["path"] for r in rb], metrics, compute_missing=compute_missing)
        t["seeds"], t["user_seeds"] = res["paired_seeds"], res["user_seeds"]
        t["seed_rows"], t["user_rows"] = res["seeds"], res["users"]
        # the sides' table gives the seeds of each test; a run without per-user metrics is noted below
        skip = ("over seeds:", "over users: only")
        t["notes"] = [n for n in res["notes"] if PER_USER_NOTE not in n and not n.startswith(skip)]
    for r in ra + rb:
        if not _has_per_user(r, compute_missing):
            t["notes"].append(
                f"{r['name']}: no per-user metrics (no test_per_user.npz"
                + (" and no checkpoint" if compute_missing else "")
                + "): over seeds only"
            )
    if not ra or not rb:
        t["notes"].append("a side is missing: no finished run")
    return t


def _has_per_user(run: dict[str, Any], or_checkpoint: bool = True) -> bool:
    from .run_folder import PER_USER_FILE, find_checkpoint

    if (run["path"] / PER_USER_FILE).exists():
        return True
    return or_checkpoint and find_checkpoint(run["path"], "best.pt") is not None


def sides_markdown(res: dict[str, Any]) -> str:
    """The tables of :func:`compare_sides` as markdown: the sides (mean +- std over seeds) and the
    paired tests of the tested metrics (over users; over seeds where two or more are shared), each
    p-value with its Holm-adjusted value within the table's family."""
    from tabulate import tabulate

    def cell(v: dict[str, Any]) -> str:
        if v["mean"] is None:
            return "missing"
        return f"{v['mean']:.4f}" + (f" ± {v['std']:.4f}" if v["std"] is not None else "")

    metrics = res["metrics"]
    head = ["interests", "seeds", *metrics]
    body = [[r["label"], ", ".join(map(str, r["seeds"])) or "-", *(cell(r[m]) for m in metrics)] for r in res["sides"]]
    out = [tabulate(body, headers=head, tablefmt="github", disable_numparse=True), ""]
    rows = []
    for t in res["tests"]:
        seeds_u = " / ".join(", ".join(map(str, x)) or "-" for x in t["user_seeds"])
        if not t["user_rows"] and not t["seed_rows"]:
            rows.append([t["a"], t["b"], seeds_u, "-", "-", "-"])
            continue
        for m in res.get("tested", metrics[:2]):
            u = next((x for x in t["user_rows"] if x["metric"] == m), None)
            s = next((x for x in t["seed_rows"] if x["metric"] == m), None)
            rows.append(
                [
                    t["a"],
                    t["b"],
                    seeds_u,
                    m,
                    f"{u['mean_diff']:+.4f} [{u['ci95'][0]:+.4f}, {u['ci95'][1]:+.4f}], p {_p(u['p_wilcoxon'])}"
                    f" (Holm {_p(u.get('p_holm'))})"
                    if u
                    else "-",
                    f"{s['mean_diff']:+.4f} [{s['ci95'][0]:+.4f}, {s['ci95'][1]:+.4f}] over seeds "
                    f"{', '.join(map(str, t['seeds']))}, p(t) {_p(s['p_t'])} (Holm {_p(s.get('p_holm'))})"
                    if s
                    else f"needs 2 common seeds (has {len(t['seeds'])})",
                ]
            )
    out += [
        tabulate(
            rows,
            headers=[
                "A",
                "B",
                "seeds A / B (users)",
                "metric",
                "A-B over users [95% CI], Wilcoxon p (Holm)",
                "A-B over paired seeds [95% CI], p(t) (Holm)",
            ],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]
    notes = list(dict.fromkeys(n for t in res["tests"] for n in t["notes"] if not n.startswith("over seeds: ")))
    if "family" in res:
        notes.insert(
            0,
            f"Holm: the {res['family']} p-values of this table are one family (Holm 1979, step-down), the "
            f"adjusted value in brackets; a difference counts at Holm p < {ALPHA}. Over users with one seed a "
            f"side, two trained models are compared, and seed-to-seed variation is not in the p-value. "
            f"{SPLIT_NOTE[0].upper()}{SPLIT_NOTE[1:]}.",
        )
    out += [f"- {n}" for n in notes] + ([""] if notes else [])
    return "\n".join(out)


# ----------------------------------------------------------------------------- output
def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _lead_headers(n_label: str) -> list[str]:
    """The headers of the six columns both tables of :func:`format_report` start with."""
    return ["metric", n_label, "A", "B", "A-B", "95% CI"]


def _lead_cells(r: dict[str, Any]) -> list[Any]:
    """A row's first six cells (:func:`_lead_headers`): metric, n, the two means, the difference, its 95% CI."""
    return [
        r["metric"],
        r["n"],
        f"{r['mean_a']:.4f}",
        f"{r['mean_b']:.4f}",
        f"{r['mean_diff']:+.4f}",
        f"[{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}]",
    ]


def test_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The paired tests of :func:`compare_runs` as table rows, one per kind of test and metric: the
    kind, the seeds each side gave it, :func:`format_report`'s leading cells (:func:`_lead_cells`),
    the two p-values, and whether A is better at p(t) below ``alpha``."""
    out = []
    for kind, rows, seeds in (
        ("over seeds", res["seeds"], [res["paired_seeds"]] * 2),
        ("over users", res["users"], res["user_seeds"]),
    ):
        for r in rows:
            out.append(
                {
                    "test": kind,
                    "seeds A / B": " / ".join(",".join(map(str, x)) for x in seeds),
                    **dict(zip(_lead_headers("n"), _lead_cells(r))),
                    "p (t)": _p(r["p_t"]),
                    "p (Wilcoxon)": _p(r["p_wilcoxon"]),
                    f"A better, p(t) < {res['alpha']}": bool(r["p_t"] < res["alpha"] and r["mean_diff"] > 0),
                }
            )
    return out


def format_report(res: dict[str, Any]) -> str:
    from tabulate import tabulate

    lines = [
        f"A: {res['a']['model']} {', '.join(Path(r).name for r in res['a']['runs'])}",
        f"B: {res['b']['model']} {', '.join(Path(r).name for r in res['b']['runs'])}",
        f"dataset {res['dataset']}; differences are A - B; two-sided p-values (* below {res['alpha']}), not "
        "adjusted for the several metrics",
        f"{SPLIT_NOTE[0].upper()}{SPLIT_NOTE[1:]}.",
        "",
    ]

    def star(p: Any) -> str:
        return "*" if isinstance(p, float) and p < res["alpha"] else ""

    def p_cells(r: dict[str, Any]) -> list[str]:
        return [_p(r["p_t"]) + star(r["p_t"]), _p(r["p_wilcoxon"]) + star(r["p_wilcoxon"])]

    if res["seeds"]:
        rows = [[*_lead_cells(r), f"{r['cohens_dz']:.2f}", *p_cells(r)] for r in res["seeds"]]
        lines += [
            "Over seeds (paired by seed)",
            tabulate(
                rows,
                headers=[*_lead_headers("seeds"), "d_z", "p (t)", "p (Wilcoxon)"],
                disable_numparse=True,
            ),
            "",
        ]
    if res["users"]:
        rows = [
            [
                *_lead_cells(r),
                f"{r['cohens_dz']:.3f}",
                f"{r['rank_biserial']:+.3f}",
                f"{r['a_better']}/{r['b_better']}",
                *p_cells(r),
            ]
            for r in res["users"]
        ]
        lines += [
            "Over users (paired by user)",
            tabulate(
                rows,
                headers=[
                    *_lead_headers("users"),
                    "d_z",
                    "rank-biserial",
                    "A>B / B>A",
                    "p (t)",
                    "p (Wilcoxon)",
                ],
                disable_numparse=True,
            ),
            "",
        ]
    lines += [f"note: {n}" for n in res["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x
