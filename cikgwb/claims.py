"""The paper's claims read from our runs by fixed rules: ``reports/claims.md`` and the README's
claims block (``make readme-results``; :func:`claims_markdown`).

Each claim gets its evidence table and a verdict, so that a verdict changes when runs land and
never by hand. The rules (valid protocol unless a row says otherwise; test metrics at the
selected epoch):

* **CIKGRec beats every baseline** (Table 1): CIKGRec against LightGCN and against the strongest
  other baseline (best mean test Recall@50), paired by seed and by user
  (:func:`cikgwb.compare.compare_runs`). ``supported`` where CIKGRec is ahead at p(t) < 0.05 in
  Recall@50 and NDCG@50 over seeds against both; ``over users only`` where the test over users
  says so but the one over seeds does not (too few seeds); ``not supported`` where a rival is
  ahead at p(t) < 0.05; else ``undecided``.
* **Each module helps** and **exponential > linear > fixed** (Table 3): the full model's test
  Recall@100 and NDCG@100 minus each ablation's, at the seeds both have. A difference counts when
  it is larger than the **noise band**: :data:`NOISE_K` times the std over seeds of the full model
  under the valid protocol on that dataset (at least 3 seeds; ``no noise estimate`` otherwise).
  A module ``helps`` (the full model ahead by more than the band in both metrics), ``hurts`` (behind
  by more in both) or shows ``no effect`` (otherwise). Where the two have :data:`MIN_PAIRED` or more
  seeds in common, ``helps`` and ``hurts`` also need a paired t-test over those seeds at p < 0.05 in
  both metrics; a difference beyond the band that fails it reads ``beyond the band, not significant
  over seeds`` and leaves the claim ``undecided`` for that module.
* **Figure 5** (book-crossing): Recall@50 per value of each swept setting, the value test and
  valid would each pick, and the spread (best minus worst) against the noise band of Recall@50.
  The paper's readings: alpha around 0.1 is best (alpha = 0.1 within the band of the best and a
  spread beyond it); omega can go up to 0.95 (omega = 0.95 within the band of the best); lambda2
  and lambda3 rise then fall (best inside the grid, spread beyond the band); a very high lambda3
  hurts (its largest value below the best by more than the band). ``flat`` where the spread is
  inside the band, ``partial`` until every point has finished.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from .compare import paired_summary
from .paper import PAPER_TABLE3, VARIANTS

#: how many seed stds make a difference count (see the module docstring)
NOISE_K = 2.0
#: common seeds from which a Table 3 difference is also tested over seeds (see the module docstring)
MIN_PAIRED = 3
#: the reading of a Table 3 difference beyond the band that the test over seeds does not confirm
UNCLEAR = "beyond the band, not significant over seeds"
#: the ablations of Table 3 that remove a module (the schedule variants are their own claim)
MODULES = ("w/o UIK", "w/o UIR", "w/o CL")
#: the paper's name of each Figure 5 setting
FIG5_NAMES = {"mask_alpha": "alpha", "mask_omega": "omega", "interest_recon_weight": "lambda2", "gcl_weight": "lambda3"}


def figure5_folder(root: Path | None = None) -> Path:
    """Figure 5's sweep folder under the reports folder (:func:`cikgwb.paths.reports_root`)."""
    from .paths import reports_root

    return reports_root(root) / "sweeps" / "book-crossing-figure5"


def _newest_per_seed(d: pd.DataFrame) -> pd.DataFrame:
    return d.sort_values("finished_at").drop_duplicates("seed", keep="last").sort_values("seed")


def headline_runs(runs: pd.DataFrame, dataset: str) -> dict[str, list[Path]]:
    """Table 1's sides under the valid protocol on ``dataset``: ``{"cikgrec": [...], "lightgcn":
    [...], <strongest other baseline>: [...]}``, one run folder per seed (the newest), CIKGRec with
    the paper's views and its full model only. The strongest other baseline has the best mean test
    Recall@50; a side without runs is left out."""
    if runs.empty:
        return {}
    v = runs[
        (runs["dataset"] == dataset)
        & (runs["protocol"] == "valid")
        & runs["variant"].isin(["full", "-"])
        & ((runs["model"] != "cikgrec") | (runs["views"] == "paper"))
    ]
    others = v[~v["model"].isin(["cikgrec", "lightgcn"])].groupby("model")["test recall@50"].mean()
    models = ["cikgrec", "lightgcn"] + ([str(others.idxmax())] if len(others) else [])
    out = {}
    for m in models:
        d = v[v["model"] == m]
        if len(d):
            out[m] = [Path(p) for p in _newest_per_seed(d)["path"]]
    return out


def noise_band(runs: pd.DataFrame, dataset: str, metric: str) -> float:
    """:data:`NOISE_K` x the std over seeds of CIKGRec's full model (valid protocol, paper views)
    in test ``metric`` on ``dataset``; NaN with fewer than 3 seeds."""
    if runs.empty:
        return math.nan
    d = _variant_runs(runs, dataset, "valid", "full")
    return NOISE_K * float(d[f"test {metric}"].std(ddof=1)) if len(d) >= 3 else math.nan


def claim_baselines(runs: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, str]:
    """CIKGRec against LightGCN and the strongest other baseline on ``dataset``: the paired tests
    (:func:`cikgwb.compare.test_rows`, Recall@50 and NDCG@50) and the verdict."""
    from .compare import compare_runs, test_rows

    sides = headline_runs(runs, dataset)
    rivals = [m for m in sides if m != "cikgrec"]
    if "cikgrec" not in sides or not rivals:
        return pd.DataFrame(), "undecided: no valid-protocol runs of CIKGRec and a baseline"
    rows, status = [], {}
    for rival in rivals:
        res = compare_runs(sides["cikgrec"], sides[rival], metrics=("recall@50", "ndcg@50"), compute_missing=False)
        rows += [{"rival": rival, **r} for r in test_rows(res)]
        status[rival] = _rival_status({k: [(r["mean_diff"], r["p_t"]) for r in res[k]] for k in ("seeds", "users")})
    table = pd.DataFrame(rows)
    n_seeds = ", ".join(f"{m} {len(p)}" for m, p in sides.items())
    each = "; ".join(f"against {rv}: {st}" for rv, st in status.items())
    if any(st.startswith("behind") for st in status.values()):
        verdict = "not supported"
    elif all(st.startswith("ahead over seeds") for st in status.values()):
        verdict = "supported"
    elif all(st.startswith("ahead") for st in status.values()):
        verdict = "supported over users; the test over seeds is not yet significant against every rival"
    else:
        verdict = "undecided"
    return table, f"{verdict} ({each}; seeds: {n_seeds})"


def _rival_status(kinds: dict[str, list[tuple[float, float]]]) -> str:
    """One rival's tests, ``{"seeds" | "users": [(A - B, p(t)) per metric]}``, in a few words: ahead or
    behind at p(t) < 0.05 in every metric of a kind of test, or why there is no verdict."""
    if any(d < 0 and p < 0.05 for rows in kinds.values() for d, p in rows):
        return "behind at p(t) < 0.05"
    ahead = [k for k, rows in kinds.items() if rows and all(d > 0 and p < 0.05 for d, p in rows)]
    if ahead == ["seeds", "users"]:
        return "ahead over seeds and users"
    if ahead:
        return f"ahead over {ahead[0]}" + (" only" if ahead == ["users"] else "")
    if not kinds["seeds"] and not kinds["users"]:
        return "no test yet (fewer than 2 common seeds and no per-user metrics on a side)"
    return "not significant"


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


def _effect(diffs: list[float], bands: list[float], ps: list[float] | None = None) -> str:
    """The reading of full - variant ``diffs`` against the noise ``bands`` and, where the seeds
    allow a test over them, its p-values ``ps`` (module docstring)."""
    if any(math.isnan(b) for b in bands):
        return "no noise estimate"
    if all(d > b for d, b in zip(diffs, bands)):
        reading = "helps"
    elif all(d < -b for d, b in zip(diffs, bands)):
        reading = "hurts"
    else:
        return "no effect"
    return UNCLEAR if ps is not None and not all(p < 0.05 for p in ps) else reading


def claim_modules(runs: pd.DataFrame, dataset: str, protocol: str = "valid") -> pd.DataFrame:
    """Table 3 on ``dataset``: each variant against the full model at their common seeds, the
    differences (full - variant) in test Recall@100 / NDCG@100, the paper's, the noise band and
    what the difference says (:func:`_effect`). ``attrs["bands"]`` holds the noise bands of the two
    metrics as numbers (NaN without an estimate)."""
    metrics = ("recall@100", "ndcg@100")
    bands = [noise_band(runs, dataset, m) for m in metrics]
    full = _variant_runs(runs, dataset, protocol, "full") if len(runs) else pd.DataFrame()
    rows = []
    paper = PAPER_TABLE3.get(dataset, {})
    for v in VARIANTS if not full.empty else ():
        if v == "full":
            continue
        var = _variant_runs(runs, dataset, protocol, v)
        common = set(var["seed"]) & set(full["seed"])
        if not common:
            continue
        f, x = full[full["seed"].isin(common)], var[var["seed"].isin(common)]  # both sorted by seed
        diffs = [float(f[f"test {m}"].mean() - x[f"test {m}"].mean()) for m in metrics]
        ps = None
        if len(common) >= MIN_PAIRED:
            ps = [paired_summary(f[f"test {m}"].to_numpy(), x[f"test {m}"].to_numpy())["p_t"] for m in metrics]
        rows.append(
            {
                "dataset": dataset,
                "protocol": protocol,
                "variant": v,
                "seeds": ",".join(str(int(s)) for s in sorted(common)),
                "full R@100": round(float(f["test recall@100"].mean()), 4),
                "variant R@100": round(float(x["test recall@100"].mean()), 4),
                "full - variant R@100": round(diffs[0], 4) + 0.0,  # + 0.0: no -0.0
                "full - variant N@100": round(diffs[1], 4) + 0.0,
                "paper full - variant R@100": round(paper["full"][0] - paper[v][0], 4) if paper else None,
                "paper full - variant N@100": round(paper["full"][1] - paper[v][1], 4) if paper else None,
                "noise band R@100 / N@100": " / ".join("-" if math.isnan(b) else f"{b:.4f}" for b in bands),
                "p over seeds R@100 / N@100": " / ".join(f"{p:.2g}" for p in ps) if ps else "-",
                "reading": _effect(diffs, bands, ps),
            }
        )
    table = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["variant", "reading"])
    table.attrs["bands"] = dict(zip(metrics, bands))
    return table


def modules_verdict(table: pd.DataFrame) -> str:
    """``supported`` when every module of :data:`MODULES` helps, ``partly`` when some do."""
    t = table[table["variant"].isin(MODULES)] if len(table) else table
    if t.empty:
        return "undecided: no ablation run"
    if (t["reading"] == "no noise estimate").any():
        return "undecided: no noise estimate (fewer than 3 seeds of the full model)"
    helps = sorted(v.removeprefix("w/o ") for v in t.loc[t["reading"] == "helps", "variant"])
    unclear = sorted(v.removeprefix("w/o ") for v in t.loc[t["reading"] == UNCLEAR, "variant"])
    missing = sorted(v.removeprefix("w/o ") for v in set(MODULES) - set(t["variant"]))
    tail = f"; missing: {', '.join(missing)}" if missing else ""
    if len(helps) == len(MODULES):
        return "supported: every module beyond the noise band" + tail
    rest = sorted(v.removeprefix("w/o ") for v in t["variant"] if v.removeprefix("w/o ") not in helps + unclear)
    others = f", {', '.join(rest)} not" if rest else ""
    if unclear:  # an effect the seeds do not confirm: no verdict either way for that module
        said = f"{', '.join(unclear)} {UNCLEAR}" + (f"; {', '.join(rest)} not" if rest else "") + tail
        return f"partly: {', '.join(helps)} help(s) beyond the noise band; {said}" if helps else f"undecided: {said}"
    if helps:
        return f"partly: {', '.join(helps)} help(s) beyond the noise band{others}{tail}"
    if missing:  # the modules still to run may yet help: no verdict before they have
        return "waiting: no module beyond the noise band so far" + tail
    return "not supported: no module beyond the noise band"


def schedule_verdict(table: pd.DataFrame) -> str:
    """exponential (the full model) > linear > fixed (w/o DMR), each step beyond the noise band."""
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
        f"R@100 exp - lin {round(exp_lin, 4) + 0.0:+.4f}, lin - fixed {round(lin_fixed, 4) + 0.0:+.4f}, band {b:.4f}"
    )
    if exp_lin > b and lin_fixed > b:
        return f"supported ({parts})"
    return f"not supported ({parts})"


def claim_figure5(results: pd.DataFrame, spec: dict[str, Any], band: float) -> tuple[pd.DataFrame, list[str]]:
    """Figure 5: per swept setting its values with test and valid Recall@50, the picks of each split,
    the spread and the reading of the paper's claim about it (module docstring)."""
    from .sweep import sensitivity_frames

    test = sensitivity_frames(results, spec, metrics=("recall@50",), split="test")
    valid = sensitivity_frames(results, spec, metrics=("recall@50",), split="valid")
    grid = spec.get("grid", {})
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
        verdicts.append(f"{name}: {reading}" + (f" (spread {spread:.4f}, band {band:.4f})" if known else ""))
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


def _md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False) + "\n" if len(df) else "(no runs yet)\n"


def claims_markdown(
    runs: pd.DataFrame,
    figure5: Path | None = None,
    datasets: tuple[str, ...] = ("book-crossing", "dbbook2014"),
    summary: bool = False,
    made_by: str = "`make readme-results` from the committed runs",
) -> str:
    """The claims report (markdown): one section per claim with its verdicts and evidence tables;
    with ``summary`` only the verdicts, one bullet each (the README's claims block)."""
    from .sweep import load_sweep

    verdicts: list[str] = []

    out = [
        "# The paper's claims under honest selection\n",
        f"Made by {made_by} (`cikgwb.claims`); the rules are in "
        "`cikgwb/claims.py`'s docstring. Valid protocol (selection on valid, test read once at the "
        f"selected epoch) unless a row says `authors`. Noise band = {NOISE_K:g} x the std over seeds "
        "of CIKGRec's full model on the dataset. Devices of the runs read: "
        f"{', '.join(sorted({str(d) for d in runs.get('device', [])})) or 'none'}; each run's machine, "
        "commit and command are in its folder (`reports/runs/<run>/metrics.json`, `config.yaml`).\n",
    ]
    out.append("## 1. CIKGRec beats every baseline (Table 1)\n")
    for ds in datasets:
        table, verdict = claim_baselines(runs, ds)
        verdicts.append(f"CIKGRec beats every baseline, {ds}: {verdict}")
        out.append(f"**{ds}: {verdict}.**\n")
        out.append(_md(table))
    out.append("## 2. Each module helps; 3. exponential > linear > fixed mask schedule (Table 3)\n")
    for ds in datasets:
        for prot in ("valid", "authors"):
            t = claim_modules(runs, ds, prot)
            if t.empty and prot == "authors":
                continue
            modules, schedule = modules_verdict(t), schedule_verdict(t)
            verdicts.append(f"each module helps, {ds} ({prot}): {modules}")
            verdicts.append(f"exponential > linear > fixed, {ds} ({prot}): {schedule}")
            out.append(f"**{ds}, {prot}: modules {modules}; schedule {schedule}.**\n")
            out.append(_md(t))
    out.append("## 4. Figure 5: alpha about 0.1, omega up to 0.95, lambdas away from extremes (book-crossing)\n")
    if figure5 is not None and (figure5 / "results.csv").exists():
        results, spec = load_sweep(figure5)
        table, fig = claim_figure5(results, spec, noise_band(runs, spec["dataset"], "recall@50"))
        verdicts += [f"Figure 5, {v}" for v in fig]
        out.append("".join(f"- **{v}**\n" for v in fig) + "\n")
        out.append(_md(table))
        out.append(f"Seed {', '.join(map(str, spec.get('seeds', [])))}; from `{figure5.name}`.\n")
    else:
        verdicts.append("Figure 5: no sweep yet")
        out.append("(no Figure 5 sweep yet)\n")
    if summary:
        return "".join(f"* {v}.\n" for v in verdicts)
    return "\n".join(out)
