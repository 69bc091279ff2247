# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Sensitivity: Figure 5
#
# Test Recall@50 (lines, left axis) and NDCG@50 (bars, right axis) against one hyper-parameter
# at a time, the others at the dataset's defaults, from a sweep (`cikgwb sweep`, `make sweep`):
#
#     cikgwb sweep --dataset synthetic --grid alpha=0.01,0.05,0.2 --grid lambda3=0.001,0.01,0.1,1 \
#                  --set max_epochs=15 --set patience=5 --name synthetic-sensitivity-quick     (= make sweep)
#
# The paper (book-crossing): alpha near 0.1 is best, omega can go up to 0.95, too large a
# lambda3 hurts sharply. In quick mode a missing sweep is run here (small grid, a few epochs).
# Full mode reads `reports/sweeps/<dataset>-figure5`, the grid of `cikgwb.paper.FIGURE5_GRID`
# (its comment says which values and why), made by
#
#     make figure5        (= cikgwb sweep --dataset book-crossing --preset figure5 --set min_epochs=30)
#
# or by single-thread lanes training the same run names, gathered with `cikgwb sweep ... --collect`;
# points not yet run are listed as missing and left out of the panels. The same panels from the
# **validation** split follow: would selecting these values on valid have picked what test favours?

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
sweep = None            # a sweep folder; None: reports/sweeps/<dataset>-sensitivity-quick | <dataset>-figure5 (full)
grid = None             # None: alpha and lambda3 (quick), cikgwb.paper.FIGURE5_GRID (full)
seeds = [0]
quick_epochs = 15
jobs = 2
run_if_missing = None   # None: in quick mode only

# %%
from pathlib import Path

from cikgwb import plots
from cikgwb.notebooks import start
from cikgwb.paper import FIGURE5_GRID
from cikgwb.sweep import SYMBOLS, SweepSpec, load_sweep, run_sweep, sensitivity_frames

nb = start("09_sensitivity", dataset=dataset, quick=quick)
if grid is None:
    grid = {"alpha": [0.01, 0.05, 0.2], "lambda3": [0.001, 0.01, 0.1, 1.0]} if quick else FIGURE5_GRID
name = f"{dataset}-sensitivity-quick" if quick else f"{dataset}-figure5"
folder = Path(sweep) if sweep else nb.reports / "sweeps" / name
# outputs are named by the sweep that made them: another sweep never overwrites the default one's figure
tag = "" if folder.name == name else f"_{folder.name}"
results = None
if not (folder / "results.csv").exists():
    if (quick if run_if_missing is None else run_if_missing):
        spec = SweepSpec(name=folder.name, grid=grid, dataset=dataset, seeds=list(seeds),
                         base={"max_epochs": quick_epochs, "patience": 5} if quick else {})
        run_sweep(spec, out_root=folder.parent, jobs=jobs)
    else:
        print(f"MISSING: {folder} holds no sweep results; Figure 5 is not drawn. Run\n  cikgwb sweep --dataset {dataset} "
              + ("--preset figure5 --set min_epochs=30" if grid == FIGURE5_GRID else
                 " ".join(f"--grid {k}={','.join(map(str, v))}" for k, v in grid.items()) + f" --name {name}"))
if (folder / "results.csv").exists():
    results, spec = load_sweep(folder)
    print(f"sweep {folder.name}: {spec['n_runs']} runs, mode {spec['mode']}, base {spec['base']}, "
          f"base values {spec['base_values']}")
    show = [c for c in [*spec["keys"], "seed", "status", "selected_epoch", "device", "test recall@50", "test ndcg@50"]
            if c in results]
    nb.table(results[show], f"sweep_results{tag}")
    missing = results.loc[results["status"] == "missing", "run"].tolist()
    if missing:
        print(f"{len(missing)} of {len(results)} runs missing (not run yet), left out of the panels: {', '.join(missing)}")
    if not results["status"].isin(["ok", "reused"]).any():
        if len(missing) < len(results):
            raise RuntimeError(f"every run of the sweep {folder.name} failed (see {folder / 'logs'})")
        print(f"MISSING: no run of {folder} has finished yet; Figure 5 is not drawn")
        results = None

# %%
def figure5(split):
    """Figure 5's panels from the ``split`` metrics (test: as the paper; valid: what selection sees)."""
    frames = sensitivity_frames(results, spec, split=split)
    notes = "; ".join(f"{k}: {f.attrs['note']}" for k, f in frames.items() if f.attrs.get("note"))
    devices = ",".join(sorted(set(map(str, results["device"].dropna())))) if "device" in results else "?"
    epochs = spec["base"].get("max_epochs")
    extra = "; ".join(x for x in [f"{split} split", f"device: {devices}", f"at most {epochs} epochs" if epochs else "",
                                  f"{len(missing)} point(s) not run yet" if missing else "", notes] if x)
    fig = plots.sensitivity_panels(frames, dataset=spec["dataset"], protocol=spec["protocol"], seeds=spec["seeds"],
                                   labels={k: SYMBOLS.get(k, k) for k in frames}, extra=extra)
    suffix = "" if split == "test" else f"_{split}"
    nb.show(fig, f"figure5{suffix}{tag}")
    for k, f in frames.items():
        nb.table(f, f"figure5{suffix}_{k}{tag}")
    return frames


if results is not None:
    test_frames = figure5("test")

# %% [markdown]
# ### The same from the validation split
# Where valid's best value is test's best value, choosing the hyper-parameter on valid (as the
# honest protocol does) would have found it.

# %%
if results is not None:
    valid_frames = figure5("valid")
    for k, t in test_frames.items():
        if k in valid_frames and len(t) > 1:
            best_t = t.loc[t["recall@50"].idxmax(), k]
            v = valid_frames[k]
            best_v = v.loc[v["recall@50"].idxmax(), k]
            print(f"{SYMBOLS.get(k, k)}: best Recall@50 on test at {best_t}, on valid at {best_v}"
                  + (" (the same)" if best_t == best_v else ""))
