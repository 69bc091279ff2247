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
# # 05 · Training: CIKGRec, LightGCN and the ablations
#
# Each run uses the dataset's default configuration (the authors' hyper-parameters,
# docs/method.md section 4; a short schedule on `synthetic`) and `cikgwb.train.Trainer`: BPR batches
# of 1024, validation every epoch, early stopping on Recall@50 + NDCG@50 (patience 10), test
# once at the selected epoch. Quick mode caps training at `quick_epochs` epochs (patience 5), so
# quick runs are **not converged** and are marked so. CUDA is used when present (`device="auto"`).
# Runs are written to `reports/runs/<name>/` (config, per-epoch history, metrics).

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
models = ["lightgcn", "cikgrec"]                                    # models (any registered baseline too)
ablations = ["w/o UIK", "w/o UIR", "w/o CL", "w/o DMR", "linear"]  # CIKGRec variants (Table 3)
seeds = [0]
protocol = "valid"      # valid (headline) | authors (selects on TEST: comparison with the paper only)
device = "auto"         # auto: CUDA when present
quick_epochs = 20
reuse = None            # reuse finished runs of the same setting, any name (None: in full mode only)
train_missing = True    # train what has no finished run (False: show only what exists)
interests = "paper"     # paper | none | a folder written by 03
overrides = {}          # config overrides for every run, e.g. {"mask_alpha": 0.1}
sweep_record = None     # set by `cikgwb sweep --notebook`

# %%
import json

import pandas as pd

from cikgwb import plots
from cikgwb.models import default_config
from cikgwb.data import load_dataset
from cikgwb.notebooks import start
from cikgwb.results import train_runs
from cikgwb.train import pick_device

nb = start("05_training", dataset=dataset, quick=quick, record=sweep_record)
ds = load_dataset(dataset)
print("device for new runs:", pick_device(device), "| protocol:", protocol, "| seeds:", seeds,
      "| mode:", f"quick ({quick_epochs} epochs at most)" if quick else "full (early stopping)")

# %% [markdown]
# ## Train

# %%
labels = list(models) + [f"cikgrec {a}" for a in ablations]
runs = train_runs(ds, labels, seeds, nb.runs, protocol=protocol, quick=quick, quick_epochs=quick_epochs,
                  device=device, reuse=(not quick) if reuse is None else reuse, train_missing=train_missing,
                  interests=interests, overrides=overrides)
show = ["run", "model", "variant", "seed", "selected_epoch", "converged", "device", "wall_seconds",
        "valid recall@50", "test recall@50", "test ndcg@50", "test recall@100", "test ndcg@100"]
nb.table(runs[show], "runs")
if train_missing:
    assert len(runs) == len(labels) * len(seeds), "a run is missing"

# %% [markdown]
# ## Loss and metric curves

# %%
def history(path):
    rows = [json.loads(x) for x in open(f"{path}/history.jsonl") if x.strip()]
    return pd.DataFrame(rows)

main = runs[runs["variant"].isin(["full", "-"])]
assert len(main), "no finished run of the main models (train_missing=False and nothing under reports/runs?)"
hist = pd.concat([history(p).assign(run=f"{m} s{s}") for p, m, s in zip(main["path"], main["model"], main["seed"])],
                 ignore_index=True)
metric = f"{'valid' if protocol == 'valid' else 'test'}_recall@50"
note = f"device: {','.join(sorted(set(map(str, runs['device']))))}" + (f"; quick: at most {quick_epochs} epochs" if quick else "")
nb.show(plots.training_curves(hist, dataset=dataset, protocol=protocol, seeds=seeds, metric=metric, extra=note),
        "training_curves")

# %% [markdown]
# ## Mask-rate schedule of the interest reconstruction (dynamic masking rate, DMR)

# %%
cfg = default_config(dataset, "cikgrec").model
used = [history(p).assign(run=f"{v}") for p, v in zip(runs["path"], runs["variant"]) if v in ("full", "w/o DMR", "linear")]
ablation_hist = pd.concat(used, ignore_index=True) if used else pd.DataFrame(columns=["epoch", "mask_rate", "run"])
horizon = max(int(cfg.mask_lambda * 1.3), int(ablation_hist["epoch"].max()) + 1 if len(ablation_hist) else 0)
fig = plots.mask_rate_schedule(alpha=cfg.mask_alpha, omega=cfg.mask_omega, lam=cfg.mask_lambda, epochs=horizon,
                               dataset=dataset, observed=ablation_hist[["epoch", "mask_rate", "run"]].dropna())
nb.show(fig, "mask_rate")

# %% [markdown]
# ## Test metrics of these runs

# %%
summary = (runs.assign(label=[m if v in ("full", "-") else f"{m} {v}" for m, v in zip(runs["model"], runs["variant"])])
           .groupby("label", sort=False)[["test recall@50", "test ndcg@50"]].agg(["mean", "std"]))
table = pd.DataFrame({"model": summary.index,
                      "recall@50": summary[("test recall@50", "mean")].to_numpy(),
                      "recall@50 std": summary[("test recall@50", "std")].fillna(0).to_numpy()})
nb.show(plots.results_bars(table, metric="recall@50", dataset=dataset, protocol=protocol, seeds=seeds, extra=note),
        "test_recall50")
best = runs[runs["variant"] == "full"]
if len(best):
    nb.record(test={k.split(" ", 1)[1]: float(best[k].mean()) for k in best.columns if k.startswith("test ")},
              runs=best["run"].tolist())
