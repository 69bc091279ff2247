"""The paper's claims read from our runs by fixed rules: ``reports/claims.md`` and the claims
block of ``docs/results.md`` (``make readme-results``; :func:`claims_markdown`).

Each claim gets its evidence table and a verdict, so that a verdict changes when runs land and
never by hand. Test metrics at the selected epoch throughout.

**Protocols.** The headline is the ``users`` protocol (:data:`HEADLINE_PROTOCOL`: trained on all of
train.txt, the epoch selected on one half of the test users, reported on the other half); where a
dataset has no users-protocol runs its headline verdict reads :data:`WAITING` and nothing falls
back to another protocol silently. The ``valid`` protocol's verdicts are given beside it, labelled,
and the ``authors`` protocol's (selects on test) for comparison with the paper only.

**Statistics.** Every p-value is a paired test (:mod:`cikgwb.compare`) and is conditional on the
dataset's one published train/test split (:data:`cikgwb.compare.SPLIT_NOTE`). The tests of one
table on one dataset under one protocol are one family: Table 1's (every rival x metric x over
seeds / over users), Table 3's (every ablation x metric, and linear against fixed) and the
interest-graph comparison's (``scripts/interest_comparison.py``) are each adjusted together by
Holm's method (:func:`cikgwb.compare.holm`), and the verdicts read the adjusted values
(``Holm p``) at :data:`~cikgwb.compare.ALPHA`. A verdict needs :data:`MIN_PAIRED` or more seeds
on both sides: fewer give the difference and ``no verdict``, never "helps" or "does not help".

* **CIKGRec beats every baseline** (Table 1): CIKGRec against LightGCN, the strongest other
  learned baseline (best mean test Recall@50) and every simple baseline with runs
  (:data:`SIMPLE_BASELINES`), paired by seed and by user (:func:`cikgwb.compare.compare_runs`).
  Against a rival: ``ahead`` where the test over seeds (:data:`MIN_PAIRED`+ common seeds) puts
  CIKGRec ahead at Holm p(t) < 0.05 in Recall@50 and NDCG@50, ``behind`` where it puts the rival
  ahead so in one of them; the tests over users are reported beside (one model per seed and side:
  they say whether these rankings differ on these users, not whether a retrained model would). The
  claim is ``supported`` when CIKGRec is ahead of every rival, ``not supported`` when behind one,
  else ``undecided``.
* **Each module helps** and **exponential > linear > fixed** (Table 3): the full model's test
  Recall@100 and NDCG@100 minus each ablation's, at the seeds both have, against the **noise
  band** (:data:`NOISE_K` times the std over seeds of the full model under the same protocol, at
  least 3 seeds; the authors' protocol, one seed, uses the valid protocol's band). With
  :data:`MIN_PAIRED`+ common seeds: ``helps`` (``hurts``) where the difference is beyond the band
  and the paired t test over seeds gives Holm p < 0.05, both metrics; :data:`UNCLEAR` where it is
  beyond the band without that; otherwise :data:`BELOW_PAPER` where the paper's difference lies
  above the 95% CI over seeds in both metrics, :data:`OPEN` where it does not. The schedule claim
  is ``supported`` when the full model beats linear and linear beats fixed that way.
* **Figure 5** (book-crossing): Recall@50 per value of each swept setting, the value test and
  valid would each pick, and the spread (best minus worst) against the noise band of Recall@50.
  The paper's readings: alpha around 0.1 is best (alpha = 0.1 within the band of the best and a
  spread beyond it); omega can go up to 0.95 (omega = 0.95 within the band of the best); lambda2
  and lambda3 rise then fall (best inside the grid, spread beyond the band); a very high lambda3
  hurts (its largest value below the best by more than the band). ``flat`` where the spread is
  inside the band, ``partial`` until every point has finished. The sweep has one seed: its readings
  are given as what that seed shows, with ``no verdict``.

Runs trained from a dirty tree or by more than one commit (:func:`cikgwb.runs.provenance_flags`)
are listed under the report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from .compare import ALPHA, SPLIT_NOTE, holm, paired_summary
from .compare import _p as _pfmt
from .paper import PAPER_TABLE3, VARIANTS

#: how many seed stds make a difference count (see the module docstring)
NOISE_K = 2.0
#: the fewest common seeds a verdict is read from (see the module docstring)
MIN_PAIRED = 3
#: the protocol of the headline verdicts, and what they say before it has runs
HEADLINE_PROTOCOL = "users"
WAITING = "waiting for users-protocol runs"
#: how each protocol is named beside its verdicts
PROTOCOL_LABELS = {
    "users": "users protocol, the headline",
    "valid": "valid protocol",
    "authors": "authors' protocol, selects on test",
}
#: the protocol whose noise band a protocol's Table 3 is read against (itself where not listed)
BAND_PROTOCOL = {"authors": "valid"}
#: the baselines without learned embeddings; each one with runs is a rival of claim 1
SIMPLE_BASELINES = ("ease", "itemknn", "gfcf", "mostpop")
#: Table 3 readings (see the module docstring)
UNCLEAR = "beyond the band, not significant over seeds (Holm)"
BELOW_PAPER = "no effect shown; the paper's effect lies above the 95% CI"
OPEN = "undecided: not beyond the band, the 95% CI holds the paper's effect"
NO_EFFECT = "no effect shown (no paper figure to compare)"
NO_VERDICT = "no verdict"
#: the ablations of Table 3 that remove a module (the schedule variants are their own claim)
MODULES = ("w/o UIK", "w/o UIR", "w/o CL")
#: the paper's name of each Figure 5 setting
FIG5_NAMES = {"mask_alpha": "alpha", "mask_omega": "omega", "interest_recon_weight": "lambda2", "gcl_weight": "lambda3"}
#: the two metrics of each claim's tests
TABLE1_METRICS = ("recall@50", "ndcg@50")
TABLE3_METRICS = ("recall@100", "ndcg@100")


def figure5_folder(root: Path | None = None) -> Path:
    """Figure 5's sweep folder under the reports folder (:func:`cikgwb.paths.reports_root`)."""
    from .paths import reports_root

    return reports_root(root) / "sweeps" / "book-crossing-figure5"


def _newest_per_seed(d: pd.DataFrame) -> pd.DataFrame:
    return d.sort_values("finished_at").drop_duplicates("seed", keep="last").sort_values("seed")


def _seeds_text(seeds: Any) -> str:
    return ",".join(str(int(s)) for s in sorted(seeds))


# ----------------------------------------------------------------------------- Table 1
def headline_runs(runs: pd.DataFrame, dataset: str, protocol: str = "valid") -> dict[str, list[Path]]:
    """Table 1's sides under ``protocol`` on ``dataset``: ``{"cikgrec": [...], "lightgcn": [...],
    <strongest other learned baseline>: [...], <each simple baseline>: [...]}``, one run folder
    per seed (the newest), CIKGRec with the paper's views and its full model only. The strongest
    other baseline has the best mean test Recall@50; a side without runs is left out."""
    if runs.empty:
        return {}
    v = runs[
        (runs["dataset"] == dataset)
        & (runs["protocol"] == protocol)
        & runs["variant"].isin(["full", "-"])
        & ((runs["model"] != "cikgrec") | (runs["views"] == "paper"))
    ]
    learned = v[~v["model"].isin(["cikgrec", "lightgcn", *SIMPLE_BASELINES])]
    others = learned.groupby("model")["test recall@50"].mean()
    models = ["cikgrec", "lightgcn"] + ([str(others.idxmax())] if len(others) else []) + list(SIMPLE_BASELINES)
    out = {}
    for m in models:
        d = v[v["model"] == m]
        if len(d):
            out[m] = [Path(p) for p in _newest_per_seed(d)["path"]]
    return out


def noise_band(runs: pd.DataFrame, dataset: str, metric: str, protocol: str = "valid") -> float:
    """:data:`NOISE_K` x the std over seeds of CIKGRec's full model (paper views) in test ``metric``
    on ``dataset`` under ``protocol``'s band protocol (:data:`BAND_PROTOCOL`); NaN with fewer
    than 3 seeds."""
    if runs.empty:
        return math.nan
    d = _variant_runs(runs, dataset, BAND_PROTOCOL.get(protocol, protocol), "full")
    return NOISE_K * float(d[f"test {metric}"].std(ddof=1)) if len(d) >= 3 else math.nan


def claim_baselines(runs: pd.DataFrame, dataset: str, protocol: str = "valid") -> tuple[pd.DataFrame, str]:
    """CIKGRec against its rivals (:func:`headline_runs`) on ``dataset`` under ``protocol``: the
    paired tests (:func:`cikgwb.compare.test_rows`, Recall@50 and NDCG@50) with their Holm-adjusted
    p(t) over the table's family, and the verdict (module docstring). ``attrs["runs"]``: the run
    folders read."""
    from .compare import compare_runs, test_rows

    sides = headline_runs(runs, dataset, protocol)
    rivals = [m for m in sides if m != "cikgrec"]
    if "cikgrec" not in sides or not rivals:
        if protocol == HEADLINE_PROTOCOL:
            return pd.DataFrame(), WAITING
        return pd.DataFrame(), f"undecided: no {protocol}-protocol runs of CIKGRec and a baseline"
    rows, raw = [], []
    for rival in rivals:
        res = compare_runs(sides["cikgrec"], sides[rival], metrics=TABLE1_METRICS, compute_missing=False)
        shown = test_rows(res)  # the over-seeds rows, then the over-users rows, as in res
        for kind, r in [("seeds", r) for r in res["seeds"]] + [("users", r) for r in res["users"]]:
            raw.append((rival, kind, r))
        rows += [{"protocol": protocol, "rival": rival, **s} for s in shown]
    adj = holm([r["p_t"] for _, _, r in raw])
    better = f"A better, Holm p(t) < {ALPHA}"
    for row, p, (_, _, r) in zip(rows, adj, raw):
        row.pop(f"A better, p(t) < {ALPHA}", None)
        row["Holm p (t)"] = _pfmt(p)
        row[better] = bool(p < ALPHA and r["mean_diff"] > 0)
    status = {
        rv: _rival_status(
            [(r["n"], r["mean_diff"], p) for (x, k, r), p in zip(raw, adj) if x == rv and k == "seeds"],
            [(r["mean_diff"], p) for (x, k, r), p in zip(raw, adj) if x == rv and k == "users"],
        )
        for rv in rivals
    }
    table = pd.DataFrame(rows)
    table.attrs["runs"] = [p for paths in sides.values() for p in paths]
    states = [st for st, _ in status.values()]
    verdict = "not supported" if "behind" in states else "supported" if set(states) == {"ahead"} else "undecided"
    each = "; ".join(f"against {rv}: {text}" for rv, (_, text) in status.items())
    n_seeds = ", ".join(f"{m} {len(p)}" for m, p in sides.items())
    return table, f"{verdict} ({each}; seeds: {n_seeds}; Holm over the {len(raw)} tests of this table)"


def _rival_status(seeds: list[tuple[int, float, float]], users: list[tuple[float, float]]) -> tuple[str, str]:
    """One rival's state (``ahead``, ``behind`` or ``open``) and its tests in a few words, from the
    tests over seeds ``(n, A - B, Holm p)`` and over users ``(A - B, Holm p)``, one per metric."""
    if users:
        u_ahead = all(d > 0 and p < ALPHA for d, p in users)
        u_behind = any(d < 0 and p < ALPHA for d, p in users)
        over_users = "ahead" if u_ahead else "behind" if u_behind else "not significant"
    else:
        over_users = "no test"
    if not seeds or seeds[0][0] < MIN_PAIRED:
        n = seeds[0][0] if seeds else "fewer than 2"
        return "open", f"{n} common seed(s), no verdict (needs {MIN_PAIRED}); over users {over_users}"
    if any(d < 0 and p < ALPHA for _, d, p in seeds):
        state = "behind"
    elif all(d > 0 and p < ALPHA for _, d, p in seeds):
        state = "ahead"
    else:
        return "open", f"not significant over seeds (Holm); over users {over_users}"
    return state, f"{state} over seeds; over users {over_users}"


# ----------------------------------------------------------------------------- Table 3
def _variant_runs(runs: pd.DataFrame, dataset: str, protocol: str, variant: str) -> pd.DataFrame:
    """CIKGRec's converged runs of ``variant`` (paper views), the newest per seed."""
    d = runs[
        (runs["dataset"] == dataset)
        & (runs["model"] == "cikgrec")
        & (runs["protocol"] == protocol)
        & (runs["variant"] == variant)
        & (runs["views"] == "paper")
    ]
    return _newest_per_seed(d[d["converged"].astype(bool)])


def _paired(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    """``a - b`` in :data:`TABLE3_METRICS` at their common seeds: ``seeds``, the mean ``diffs`` and,
    from :data:`MIN_PAIRED` seeds, the 95% ``cis`` and paired-t ``ps`` over seeds (else None)."""
    common = sorted(set(a["seed"]) & set(b["seed"]))
    a, b = a[a["seed"].isin(common)], b[b["seed"].isin(common)]  # both sorted by seed
    out: dict[str, Any] = {"seeds": common, "diffs": [], "cis": None, "ps": None, "means": (a, b)}
    out["diffs"] = [float(a[f"test {m}"].mean() - b[f"test {m}"].mean()) for m in TABLE3_METRICS]
    if len(common) >= MIN_PAIRED:
        s = [paired_summary(a[f"test {m}"].to_numpy(), b[f"test {m}"].to_numpy()) for m in TABLE3_METRICS]
        out["cis"], out["ps"] = [x["ci95"] for x in s], [x["p_t"] for x in s]
    return out


def _reading(pair: dict[str, Any], bands: list[float], paper: list[float] | None) -> str:
    """What a full - variant difference says (module docstring), from :func:`_paired`'s ``pair``
    with its Holm-adjusted ``p_holm``, the noise ``bands`` and the paper's differences."""
    if any(math.isnan(b) for b in bands):
        return "no noise estimate"
    d = pair["diffs"]
    ahead, behind = all(x > b for x, b in zip(d, bands)), all(x < -b for x, b in zip(d, bands))
    if pair["ps"] is None:
        where = "beyond" if ahead or behind else "inside"
        return f"{len(pair['seeds'])} seed(s): {NO_VERDICT} ({where} the band)"
    if ahead or behind:
        significant = all(p < ALPHA for p in pair["p_holm"])
        return UNCLEAR if not significant else "helps" if ahead else "hurts"
    if paper is None:
        return NO_EFFECT
    return BELOW_PAPER if all(e > hi for e, (_, hi) in zip(paper, pair["cis"])) else OPEN


def _holm_pairs(pairs: list[dict[str, Any]]) -> int:
    """Holm over every p-value of ``pairs`` (one family), written into each as ``p_holm``; the size."""
    flat = [(i, j) for i, p in enumerate(pairs) if p["ps"] is not None for j in range(len(p["ps"]))]
    adj = holm([pairs[i]["ps"][j] for i, j in flat])
    for p in pairs:
        p["p_holm"] = [math.nan] * len(p["ps"]) if p["ps"] is not None else None
    for (i, j), q in zip(flat, adj):
        pairs[i]["p_holm"][j] = q
    return len(flat)


def _fmt_pair(xs: list[float] | None, fmt: Any = "{:.2g}") -> str:
    return " / ".join(fmt.format(x) for x in xs) if xs is not None else "-"


def claim_modules(runs: pd.DataFrame, dataset: str, protocol: str = "valid") -> pd.DataFrame:
    """Table 3 on ``dataset`` under ``protocol``: each variant against the full model at their
    common seeds, the differences (full - variant) in test Recall@100 / NDCG@100 with their 95% CI
    and paired-t p over seeds (raw and Holm-adjusted over the table's family), the paper's
    difference, the noise band and the reading (:func:`_reading`). ``attrs``: ``bands`` (the two
    bands, NaN without an estimate), ``lin_fixed`` (linear against fixed, for the schedule claim,
    or None), ``family`` (the number of tests) and ``runs`` (the run folders read)."""
    bands = [noise_band(runs, dataset, m, protocol) for m in TABLE3_METRICS]
    full = _variant_runs(runs, dataset, protocol, "full") if len(runs) else pd.DataFrame()
    paper = PAPER_TABLE3.get(dataset, {})
    pairs, read = {}, [] if full.empty else [full]
    for v in VARIANTS if not full.empty else ():
        var = _variant_runs(runs, dataset, protocol, v) if v != "full" else pd.DataFrame()
        if len(var) and set(var["seed"]) & set(full["seed"]):
            pairs[v] = _paired(full, var)
            read.append(var)
    if "linear" in pairs and "w/o DMR" in pairs:
        lin, fixed = pairs["linear"]["means"][1], pairs["w/o DMR"]["means"][1]
        pairs["linear - fixed"] = _paired(lin, fixed) if set(lin["seed"]) & set(fixed["seed"]) else None
    n_tests = _holm_pairs([p for p in pairs.values() if p is not None])
    rows = []
    for v, pr in pairs.items():
        if v == "linear - fixed" or pr is None:
            continue
        f, x = pr["means"]
        eff = [paper["full"][i] - paper[v][i] for i in range(2)] if paper else None
        rows.append(
            {
                "dataset": dataset,
                "protocol": protocol,
                "variant": v,
                "seeds": _seeds_text(pr["seeds"]),
                "full R@100": round(float(f["test recall@100"].mean()), 4),
                "variant R@100": round(float(x["test recall@100"].mean()), 4),
                "full - variant R@100": round(pr["diffs"][0], 4) + 0.0,  # + 0.0: no -0.0
                "full - variant N@100": round(pr["diffs"][1], 4) + 0.0,
                "95% CI over seeds R@100 / N@100": " / ".join(f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in pr["cis"])
                if pr["cis"]
                else "-",
                "paper full - variant R@100 / N@100": _fmt_pair(eff, "{:.4f}") if eff else "-",
                "noise band R@100 / N@100": " / ".join("-" if math.isnan(b) else f"{b:.4f}" for b in bands),
                "p over seeds R@100 / N@100": _fmt_pair(pr["ps"]),
                "Holm p R@100 / N@100": _fmt_pair(pr["p_holm"]),
                "reading": _reading(pr, bands, eff),
            }
        )
    table = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["variant", "reading"])
    lf = pairs.get("linear - fixed")
    if lf is not None:
        lf["reading"] = _reading(lf, bands, None)
    for pr in pairs.values():  # the run frames stay out of attrs (pandas copies attrs with the table)
        if pr is not None:
            pr.pop("means")
    table.attrs.update(
        bands=dict(zip(TABLE3_METRICS, bands)),
        lin_fixed=lf,
        family=n_tests,
        runs=[Path(p) for d in read for p in d["path"]],
    )
    return table


#: how modules_verdict names each reading of a module
_SAY = {
    "helps": "help(s) (beyond the noise band, Holm p < 0.05 over seeds)",
    "hurts": "hurt(s) (beyond the noise band, Holm p < 0.05 over seeds)",
    UNCLEAR: UNCLEAR,
    BELOW_PAPER: "show(s) no effect, the paper's effect above the 95% CI",
    OPEN: "undecided (the 95% CI holds the paper's effect)",
    NO_EFFECT: "show(s) no effect",
    NO_VERDICT: f"too few seeds for a verdict (fewer than {MIN_PAIRED})",
}


def _kind(reading: str) -> str:
    return NO_VERDICT if NO_VERDICT in reading else reading


def modules_verdict(table: pd.DataFrame) -> str:
    """``supported`` when every module of :data:`MODULES` helps, ``not supported`` when one hurts or
    none shows an effect at enough seeds, ``partly`` when some help, else ``undecided``; each
    module's reading named (:data:`_SAY`)."""
    t = table[table["variant"].isin(MODULES)] if len(table) else table
    if t.empty:
        return "undecided: no ablation run"
    if (t["reading"] == "no noise estimate").any():
        return "undecided: no noise estimate (fewer than 3 seeds of the full model)"
    groups: dict[str, list[str]] = {}
    for v, r in zip(t["variant"], t["reading"]):
        groups.setdefault(_kind(r), []).append(v.removeprefix("w/o "))
    missing = sorted(v.removeprefix("w/o ") for v in set(MODULES) - set(t["variant"]))
    said = "; ".join(f"{', '.join(sorted(m))} {_SAY[k]}" for k, m in groups.items())
    said += f"; missing: {', '.join(missing)}" if missing else ""
    if len(groups.get("helps", [])) == len(MODULES):
        return "supported: every module helps (beyond the noise band, Holm p < 0.05 over seeds)"
    if "hurts" in groups:
        return f"not supported: {said}"
    if "helps" in groups:
        return f"partly: {said}"
    if not missing and set(groups) <= {BELOW_PAPER, NO_EFFECT}:
        return f"not supported: {said}"
    return f"undecided: {said}"


def schedule_verdict(table: pd.DataFrame) -> str:
    """exponential (the full model) > linear > fixed (w/o DMR), each step read as a module is
    (:func:`_reading`): ``supported`` when both steps help, ``undecided`` with fewer than
    :data:`MIN_PAIRED` seeds, else ``not supported``."""
    t = table.set_index("variant") if len(table) else table
    if len(t) == 0 or "linear" not in t.index or "w/o DMR" not in t.index:
        return "undecided: the linear or fixed schedule has not run"
    lin, fixed = t.loc["linear"], t.loc["w/o DMR"]
    b = table.attrs["bands"]["recall@100"]
    if math.isnan(b):
        return "undecided: no noise estimate"
    exp_lin = float(lin["full - variant R@100"])
    lin_fixed = float(fixed["full - variant R@100"]) - exp_lin
    parts = (
        f"R@100 exp - lin {round(exp_lin, 4) + 0.0:+.4f}, lin - fixed {round(lin_fixed, 4) + 0.0:+.4f}, "
        f"band {b:.4f}; seeds: linear {lin['seeds']}, fixed {fixed['seeds']}"
    )
    lf = table.attrs.get("lin_fixed")
    steps = [lin["reading"], lf["reading"] if lf else f"0 seed(s): {NO_VERDICT}"]
    if any(NO_VERDICT in s for s in steps):
        return f"undecided: too few seeds for a verdict, {MIN_PAIRED} needed ({parts})"
    if steps == ["helps", "helps"]:
        return f"supported ({parts})"
    return f"not supported (exp vs lin: {steps[0]}; lin vs fixed: {steps[1]}; {parts})"


# ----------------------------------------------------------------------------- Figure 5
def claim_figure5(results: pd.DataFrame, spec: dict[str, Any], band: float) -> tuple[pd.DataFrame, list[str]]:
    """Figure 5: per swept setting its values with test and valid Recall@50, the picks of each split,
    the spread and the reading of the paper's claim about it (module docstring). With fewer than
    :data:`MIN_PAIRED` seeds each reading is what those seeds show, with ``no verdict``."""
    from .sweep import sensitivity_frames

    test = sensitivity_frames(results, spec, metrics=("recall@50",), split="test")
    valid = sensitivity_frames(results, spec, metrics=("recall@50",), split="valid")
    grid = spec.get("grid", {})
    seeds = list(spec.get("seeds", []))
    few = f"{len(seeds)} seed(s) ({_seeds_text(seeds)}): {NO_VERDICT}; " if len(seeds) < MIN_PAIRED else ""
    rows, verdicts = [], []
    for key, t in test.items():
        name = FIG5_NAMES.get(key, key)
        va = valid.get(key)
        values = [float(x) for x in t[key]]
        r = dict(zip(values, t["recall@50"].astype(float)))
        rv = dict(zip([float(x) for x in va[key]], va["recall@50"].astype(float))) if va is not None else {}
        n_grid = len(grid.get(name, grid.get(key, values)))
        best_t, best_v = max(r, key=r.get), (max(rv, key=rv.get) if rv else math.nan)
        spread = max(r.values()) - min(r.values())
        rows.append(
            {
                "setting": name,
                "points": f"{len(values)} of {n_grid}",
                "test R@50 by value": ", ".join(f"{v:g}: {r[v]:.4f}" for v in sorted(r)),
                "best on test": f"{best_t:g}",
                "best on valid": f"{best_v:g}",
                "spread (test)": round(spread, 4),
            }
        )
        reading = _fig5_reading(name, r, band, len(values) < n_grid)
        known = not reading.startswith("waiting") and not math.isnan(band)
        at = "what that seed shows: " if few and len(seeds) == 1 else "what those seeds show: " if few else ""
        tail = f" (spread {spread:.4f}, band {band:.4f})" if known else ""
        verdicts.append(f"{name}: {few}{at}{reading}{tail}")
    return pd.DataFrame(rows), verdicts


def _fig5_reading(name: str, r: dict[float, float], band: float, partial: bool) -> str:
    if len(r) < 3:
        return f"waiting: {len(r)} point(s) have finished"
    pre = "partial, " if partial else ""
    if math.isnan(band):
        return pre + "no noise estimate"
    top, spread = max(r.values()), max(r.values()) - min(r.values())
    flat = spread <= band
    if name == "alpha":
        if 0.1 not in r:
            return pre + "alpha = 0.1 has not run"
        ok = r[0.1] >= top - band and not flat
        return pre + ("flat: every value within the noise band" if flat else ("supported" if ok else "not supported"))
    if name == "omega":
        if 0.95 not in r:
            return pre + "omega = 0.95 has not run"
        return pre + (
            "supported: omega = 0.95 within the noise band of the best"
            if r[0.95] >= top - band
            else "not supported: omega = 0.95 below the best by more than the noise band"
        )
    vals = sorted(r)
    inner = max(r, key=r.get) not in (vals[0], vals[-1])
    out = (
        "flat: every value within the noise band"
        if flat
        else ("supported: best inside the grid" if inner else "not supported: best at an end of the grid")
    )
    if name == "lambda3":
        drop = top - r[vals[-1]]
        out += f"; the largest value ({vals[-1]:g}) is {'below the best by more than' if drop > band else 'within'} the band"
    return pre + out


# ----------------------------------------------------------------------------- the report
def _md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False) + "\n" if len(df) else "(no runs yet)\n"


def provenance_lines(runs: pd.DataFrame, read: list[Path]) -> list[str]:
    """One line per run folder of ``read`` whose code provenance is flagged
    (:func:`cikgwb.runs.provenance_flags`): its name and what the flags mean."""
    from .runs import PROVENANCE_MARKS

    if runs.empty or "provenance" not in runs:
        return []
    keep = {str(p) for p in read}
    flagged = runs[runs["path"].astype(str).isin(keep) & (runs["provenance"].fillna("") != "")]
    return [
        f"`{r['name'] if 'name' in r else Path(r['path']).name}`: "
        + "; ".join(PROVENANCE_MARKS[f] for f in r["provenance"].split(","))
        for _, r in flagged.sort_values("path").iterrows()
    ]


def _header(runs: pd.DataFrame, made_by: str) -> str:
    devices = ", ".join(sorted({str(d) for d in runs.get("device", [])})) or "none"
    return (
        f"Made by {made_by} (`cikgwb.claims`); the rules are in `cikgwb/claims.py`'s docstring. "
        f"Headline protocol: `{HEADLINE_PROTOCOL}` (trained on all of train.txt, the epoch selected on one half "
        "of the test users, reported on the other half); where it has no runs yet the headline reads "
        f"'{WAITING}'. The `valid` protocol (selection on valid) is given beside it, labelled, and `authors` "
        "(selects on test) for comparison with the paper only. Every row names its protocol. "
        "Statistics: paired tests; the tests of one table on one dataset under one protocol are one family, "
        f"Holm-adjusted, and the verdicts read the adjusted p at {ALPHA}; a verdict needs {MIN_PAIRED} or more "
        f"seeds, so one seed never says 'helps' or 'does not help'. {SPLIT_NOTE[0].upper()}{SPLIT_NOTE[1:]}. "
        f"Noise band = {NOISE_K:g} x the std over seeds of CIKGRec's full model on the dataset under the "
        f"protocol. Devices of the runs read: {devices}; each run's machine, commit and command are in its "
        "folder (`reports/runs/<run>/metrics.json`, `config.yaml`); runs trained from a dirty tree or by more "
        "than one commit are listed at the end.\n"
    )


def claims_markdown(
    runs: pd.DataFrame,
    figure5: Path | None = None,
    datasets: tuple[str, ...] = ("book-crossing", "dbbook2014"),
    summary: bool = False,
    made_by: str = "`make readme-results` from the committed runs",
) -> str:
    """The claims report (markdown): one section per claim with its verdicts and evidence tables;
    with ``summary`` only the verdicts, one bullet each (the claims block of docs/results.md)."""
    report, verdicts = claims_report(runs, figure5, datasets, made_by)
    return verdicts if summary else report


def claims_report(
    runs: pd.DataFrame,
    figure5: Path | None = None,
    datasets: tuple[str, ...] = ("book-crossing", "dbbook2014"),
    made_by: str = "`make readme-results` from the committed runs",
) -> tuple[str, str]:
    """``(report, verdict bullets)`` of :func:`claims_markdown`, both from one reading of the runs."""
    from .sweep import load_sweep

    verdicts: list[str] = []
    read: list[Path] = []
    out = ["# The paper's claims under honest selection\n", _header(runs, made_by)]
    out.append("## 1. CIKGRec beats every baseline (Table 1)\n")
    for ds in datasets:
        for prot in (HEADLINE_PROTOCOL, "valid"):
            table, verdict = claim_baselines(runs, ds, prot)
            read += table.attrs.get("runs", [])
            verdicts.append(f"CIKGRec beats every baseline, {ds} ({PROTOCOL_LABELS[prot]}): {verdict}")
            out.append(f"**{ds}, {PROTOCOL_LABELS[prot]}: {verdict}.**\n")
            out.append(_md(table) if len(table) or prot != HEADLINE_PROTOCOL else "")
    out.append("## 2. Each module helps; 3. exponential > linear > fixed mask schedule (Table 3)\n")
    for ds in datasets:
        for prot in (HEADLINE_PROTOCOL, "valid", "authors"):
            t = claim_modules(runs, ds, prot)
            if t.empty and prot == "authors":
                continue
            read += t.attrs.get("runs", [])
            label = PROTOCOL_LABELS[prot]
            if t.empty and prot == HEADLINE_PROTOCOL:
                modules = schedule = WAITING
            else:
                modules, schedule = modules_verdict(t), schedule_verdict(t)
            verdicts.append(f"each module helps, {ds} ({label}): {modules}")
            verdicts.append(f"exponential > linear > fixed, {ds} ({label}): {schedule}")
            out.append(f"**{ds}, {label}: modules {modules}; schedule {schedule}.**\n")
            if len(t):
                out.append(f"Holm over the {t.attrs['family']} tests over seeds of this table.\n")
                out.append(_md(t))
    out.append("## 4. Figure 5: alpha about 0.1, omega up to 0.95, lambdas away from extremes (book-crossing)\n")
    if figure5 is not None and (figure5 / "results.csv").exists():
        results, spec = load_sweep(figure5)
        prot = spec.get("protocol", "valid")
        table, fig = claim_figure5(results, spec, noise_band(runs, spec["dataset"], "recall@50", prot))
        verdicts += [f"Figure 5 ({PROTOCOL_LABELS.get(prot, prot)}), {v}" for v in fig]
        out.append("".join(f"- **{v}**\n" for v in fig) + "\n")
        out.append(_md(table))
        out.append(f"Seed {', '.join(map(str, spec.get('seeds', [])))}; {prot} protocol; from `{figure5.name}`.\n")
    else:
        verdicts.append("Figure 5: no sweep yet")
        out.append("(no Figure 5 sweep yet)\n")
    flagged = provenance_lines(runs, read)
    out.append("## Runs read above whose code provenance is flagged\n")
    out.append("".join(f"- {x}\n" for x in flagged) if flagged else "(none)\n")
    return "\n".join(out), "".join(f"* {v}.\n" for v in verdicts)
