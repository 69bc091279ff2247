# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
from cikgwb.data import load_dataset
from cikgwb.notebooks import start
from cikgwb.results import train_runs
from cikgwb.train import pick_device
from cikgwb.views import (RUN_COLUMNS, full_model_record, mask_rate_figure, recall_bars, runs_note,
                          training_curves_figure)

nb = start("05_training", dataset=dataset, quick=quick, record=sweep_record)
ds = load_dataset(dataset)
print("device for new runs:", pick_device(device), "| protocol:", protocol, "| seeds:", seeds,
      "| mode:", f"quick ({quick_epochs} epochs at most)" if quick else "full (early stopping)")

# %% [markdown]
# ## Train
# Every model and CIKGRec variant for every seed; a finished run of the same setting is reused
# where `reuse` says so (by default in full mode only).

# %%
labels = list(models) + [f"cikgrec {a}" for a in ablations]
runs = train_runs(ds, labels, seeds, nb.runs, protocol=protocol, quick=quick, quick_epochs=quick_epochs,
                  device=device, reuse=(not quick) if reuse is None else reuse, train_missing=train_missing,
                  interests=interests, overrides=overrides)
nb.table(runs[RUN_COLUMNS], "runs")
if train_missing:
    assert len(runs) == len(labels) * len(seeds), "a run is missing"
note = runs_note(runs, quick, quick_epochs)

# %% [markdown]
# ## Loss and metric curves
# The main models' runs (not the ablations); the metric is the one selection reads (valid Recall@50,
# or test Recall@50 under the authors' protocol).

# %%
nb.show(training_curves_figure(runs, dataset, protocol, seeds, note), "training_curves")

# %% [markdown]
# ## Mask-rate schedule of the interest reconstruction (dynamic masking rate, DMR)
# The schedule of CIKGRec's default configuration, and the rates the full, w/o DMR and linear runs
# used.

# %%
nb.show(mask_rate_figure(runs, dataset), "mask_rate")

# %% [markdown]
# ## Test metrics of these runs
# Mean test Recall@50 over the seeds of each model and variant (error bars: std over seeds).

# %%
nb.show(recall_bars(runs, dataset, protocol, seeds, note), "test_recall50")
record = full_model_record(runs)  # what `cikgwb sweep --notebook` reads back; None: no full CIKGRec run
if record:
    nb.record(**record)
