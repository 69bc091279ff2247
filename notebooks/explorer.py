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
# # CIKG explorer
#
# Pick a user (or search users by a word of their training titles) to see their training
# titles, the interest answer, their interest nodes and who shares them, and their top-K list
# with test hits marked and the interest path to each recommended item; or browse the interest
# nodes. Serve it with `voila notebooks/explorer.ipynb` or open it in JupyterLab.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
run = None              # a run folder with a checkpoint; None: the newest CIKGRec run of the dataset, else a quick one
k = 20
answers = "auto"        # auto: any answers under reports/interests/<dataset>, else kg-summary answers made now (NOT an LLM)
quick_epochs = 10

# %%
from pathlib import Path

from cikgwb.data import load_dataset
from cikgwb.notebooks import start
from cikgwb.results import evaluate_test, load_run, runs_table, train_runs
from cikgwb.widgets import explorer_app

nb = start("explorer", dataset=dataset, quick=quick)
ds = load_dataset(dataset)
if run is None:
    runs = runs_table(nb.runs)
    cand = runs[(runs["dataset"] == dataset) & (runs["model"] == "cikgrec") & (runs["variant"] == "full")] \
        if len(runs) else runs
    cand = cand[[Path(p, "checkpoints", "best.pt").exists() for p in cand["path"]]] if len(cand) else cand
    if len(cand) == 0:
        cand = train_runs(ds, ["cikgrec"], [0], nb.runs, quick=True, quick_epochs=quick_epochs)
    run = cand["path"].iloc[-1]
cfg, ds, model = load_run(run, ds)
res = evaluate_test(model, ds, k=k)

if answers == "auto":
    files = sorted((nb.reports / "interests" / dataset).glob("*/answers.jsonl"))
    if files:
        from cikgwb.knowledge.interest_graph import read_answers
        table = read_answers(files[0])
    else:
        from cikgwb.knowledge import infer_interests
        table = infer_interests(ds, backend="kg-summary", run_dir=nb.reports / "interests" / dataset / "kg-summary",
                                progress=False)
elif answers:
    from cikgwb.knowledge.interest_graph import read_answers
    table = read_answers(answers)
else:
    table = None

# %%
explorer_app(ds, res.topk, table, k=k,
             title=f"{dataset}: run {Path(run).name} ({cfg.model.model}, {cfg.train.protocol} protocol, "
                   f"seed {cfg.train.seed}); test recall@{k} {res.metrics[f'recall@{k}']:.3f}")
