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
# # 08 · Case study: Figure 4
#
# The paper's Figure 4 (book-crossing): user 2362 and item 1484, a test item of user 2362 that
# user 897 has among their training items; the two users share two interests, the path
# `user -> interest <- other user -> item` through which the user-side knowledge can carry the
# recommendation. We draw that case from a run's artefact (`explorer.npz`, made by
# `cikgwb artefact RUN_DIR` from the run's checkpoint): every interest of the user with its
# label, the shared ones, and where our model ranks the item among all items. On another dataset
# (or with `user=`) the case is found automatically: a test hit in the top K reached by such a
# path (`cikgwb.explorer.artefact_find_cases`).
#
# Labels: the authors' released interest graph has cluster ids only; each interest is named by
# the most distinctive item titles of its users (tf-idf over their training items, see
# `cikgwb.run_artefact`), not by LLM words. A graph built here with text labels shows its text.
# Without an artefact (nor a checkpoint to make one) the notebook says what is missing and draws nothing.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
run = None              # a run folder; None: a CIKGRec run (full variant, this protocol) with an artefact or a checkpoint
protocol = "valid"
k = 20                  # length of the top-K list shown
case = 0                # which automatically found case to draw (0: the best), when the paper's case does not apply
user = None             # a user id: draw this user's case (with item: exactly this user and item)
item = None             # with user: the test item of the case
other_user = None       # with user and item: the other user (None: the one sharing most interests)

# %%
from pathlib import Path

import pandas as pd

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.data.registry import get_spec
from cikgwb.explorer import artefact_case, artefact_find_cases, artefact_user_report
from cikgwb.notebooks import start
from cikgwb.run_artefact import ARTEFACT_FILE, load_artefact, write_artefact
from cikgwb.runs import find_run, has_checkpoint, run_index, train_runs

PAPER_CASE = {"book-crossing": {"user": 2362, "item": 1484, "other_user": 897}}   # the paper's Figure 4
nb = start("08_case_study", dataset=dataset, quick=quick)
missing = None
if run is None:
    # an artefact first, then a checkpoint to make one; converged runs first
    hit = find_run(run_index(nb.runs), dataset=dataset, model="cikgrec", variant="full", protocol=protocol,
                   need=("artefact", "checkpoint"), prefer=("artefact", "converged", "checkpoint"))
    if hit is None and quick and get_spec(dataset).quick:
        cand = train_runs(load_dataset(dataset), ["cikgrec"], [0], nb.runs, protocol=protocol, quick=True)
        hit = cand.iloc[0] if len(cand) else None
    if hit is not None:
        run = hit["path"]
if run is None:
    missing = (f"MISSING: Figure 4 is not drawn: no CIKGRec run ({protocol} protocol) of {dataset} with an explorer "
               f"artefact ({ARTEFACT_FILE}) or a checkpoint under {nb.runs}. Make the artefact with "
               f"`cikgwb artefact reports/runs/<run>` where the run's checkpoint is, or train one "
               f"(`cikgwb train --dataset {dataset}`), or give run=PATH")
elif not Path(run, ARTEFACT_FILE).exists():
    if has_checkpoint(run):
        print(f"{Path(run).name}: no {ARTEFACT_FILE} yet; making it from its checkpoint (cikgwb artefact)")
        write_artefact(run, log=print)
    else:
        missing = (f"MISSING: Figure 4 is not drawn: run {run} has no {ARTEFACT_FILE} and no checkpoint on this "
                   f"machine; make it with `cikgwb artefact {run}` where the checkpoint is")
if missing:
    print(missing)
    a = None
else:
    a = load_artefact(run)
    print(a.describe())
    print(f"interest labels: {a.meta['label_note']}")

# %%
c = None
if a is not None:
    want = None
    if user is not None and item is not None:
        want = {"user": int(user), "item": int(item), "other_user": None if other_user is None else int(other_user)}
    elif user is None and dataset in PAPER_CASE and a.meta["dataset"] == dataset:
        want = PAPER_CASE[dataset]
    if want is not None:
        c = artefact_case(a, want["user"], want["item"], want["other_user"])
        if c["problems"]:
            print(f"the case user {want['user']} / item {want['item']} does not hold in this run's data: "
                  + "; ".join(c["problems"]))
            c = None if user is not None else c
    if c is None or c["problems"]:
        cases = artefact_find_cases(a, k=k)
        if user is not None:
            cases = cases[cases["user"] == int(user)].reset_index(drop=True)
        nb.table(cases.head(15), "cases", caption=f"test hits in the top-{k} reached by an interest path")
        if len(cases) > int(case):
            f = cases.iloc[int(case)]
            c = artefact_case(a, int(f["user"]), int(f["item"]), int(f["other_user"]))
        else:
            c = None
            print(f"MISSING: Figure 4 is not drawn: no test hit in any top-{k} list of this run is reached "
                  "through a shared interest")
    if get_spec(dataset).planted_truth and c is None:
        raise AssertionError("no case found on the synthetic data: the planted interests should give one")

# %%
if c is not None:
    rep = artefact_user_report(a, c["user"], k=k)
    where = (f"rank {c['rank']:,} of {a.n_items:,} items" + (f" (score {c['score']:.3g})" if c["score"] is not None
                                                             else f" (beyond the stored top {a.meta['top_n']})")
             if c["rank"] > 0 else "masked (also a training item)")
    print(f"user {c['user']}: test item {c['item']} '{c['title']}' is a training item of user {c['other_user']}; "
          f"they share interests {c['shared']}; our model puts it at {where}")
    nb.table(pd.DataFrame([{"interest": j, "original id": a.interest_ids[j], "shared with other user": j in c["shared"],
                            "holders": len(a.members(j)), "label": a.labels[j], "how labelled": a.label_methods[j]}
                           for j in c["interests"]]), "case_interests", caption=f"interests of user {c['user']}")
    c["labels"] = {j: a.short_label(j) for j in c["interests"]}
    how = ("Interest labels: the released graph has no text; each interest is named afterwards by the phrases its "
           "users over-use in the local LLM's answers (~), else by their most distinctive item titles (no gpt-3.5 "
           "words). " if "phrases" in a.label_methods else
           "Interest labels: the most distinctive item titles of each interest's users (the released graph has no "
           "text; no LLM words). " if "titles" in a.label_methods else "Interest labels: the graph's text labels. ")
    fig4 = plots.case_study_paths(
        c, rep["topk"], dataset=dataset, protocol=a.meta["protocol"], seeds=[a.meta["seed"]], n_items=a.n_items,
        note=how + f"Rank: the model's ranking of all items not in the user's train.txt (run {a.meta['run']}, "
                   f"selected epoch {a.meta['selected_epoch']}).")
    nb.show(fig4, "figure4", width=1400, height=int(fig4.layout.height))
