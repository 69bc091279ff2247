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
# # 06 · Results: Table 1 and Table 3 from `reports/runs`
#
# Every finished run under `reports/runs/` (whoever made it: 05, `cikgwb train`, the demo)
# becomes a row; runs are grouped by dataset, model / variant, protocol and views, and each
# cell gives mean ± std over the seeds present, with the seeds, the devices and whether every
# run converged (early stop) or was cut short (quick mode, time limit). Combinations expected
# for the paper's tables but without a run are listed as **missing**. The `users` protocol is
# the headline (the epoch selected on one half of the test users, reported on the other half);
# `valid` (selection on validation, test once) is given beside it; the `authors` protocol selects
# on test as the authors' code does and is only for comparison with the paper's numbers.

# %% tags=["parameters"]
dataset = "synthetic"   # the dataset whose figures are drawn (tables list every dataset)
quick = True
runs_dir = None         # None: reports/runs
include_quick = True    # quick (not converged) runs in the tables

# %%
from pathlib import Path

import pandas as pd

from cikgwb import plots
from cikgwb.notebooks import start
from cikgwb.reports import PAPER_TABLE1
from cikgwb.results import table1, table3, runs_table

nb = start("06_results", dataset=dataset, quick=quick)
root = Path(runs_dir) if runs_dir else nb.runs
runs = runs_table(root)
if not include_quick and len(runs):
    runs = runs[runs["converged"]]
print(f"{len(runs)} finished runs under {root}")
if len(runs):
    nb.table(runs.groupby(["dataset", "model", "variant", "protocol"]).agg(
        runs=("run", "count"), seeds=("seed", lambda s: ",".join(map(str, sorted(s)))),
        devices=("device", lambda s: ",".join(sorted(set(map(str, s))))),
        converged=("converged", "all")), caption="runs found")

# %% [markdown]
# ## Table 1 (test; Recall / NDCG @ 50 and 100)

# %%
t1 = table1(runs)
cols = ["dataset", "model", "protocol", "views", "seeds", "devices", "provenance", "status", "recall@50",
        "recall@100", "ndcg@50", "ndcg@100", "paper recall@50", "paper ndcg@50"]
# provenance: the seeds trained from a dirty tree (†) or by more than one commit (‡), cikgwb.runs.PROVENANCE_MARKS
nb.table(t1[cols], "table1", max_rows=200)
print("missing:", int(t1["status"].str.startswith("missing").sum()), "of", len(t1), "expected cells")

# %% [markdown]
# ### One dataset at a glance (cells: mean ± std, protocol, seeds)

# %%
d1 = t1[(t1["dataset"] == dataset) & ~t1["status"].str.startswith("missing")].copy()
if len(d1):
    # CIKGRec may have runs with both contrastive-view settings: one row (and bar) each
    d1["row"] = [f"{m} ({v} views)" if m == "cikgrec" and v else m for m, v in zip(d1["model"], d1["views"])]
    # mean ± std where several seeds exist; a single-seed cell says so
    d1["cell"] = [f"{r} ({p}; {'single seed' if int(n) == 1 else f'{int(n)} seeds'}: {s}; {dv})"
                  for r, p, n, s, dv in zip(d1["recall@50"], d1["protocol"], d1["n"], d1["seeds"], d1["devices"])]
    nb.table(d1.pivot_table(index="row", columns="protocol", values="cell", aggfunc="first").fillna("not run"),
             "table1_glance", caption=f"{dataset}: Recall@50")
    for prot in sorted(d1["protocol"].unique()):
        d = d1[d1["protocol"] == prot]
        seeds = ",".join(sorted({s for x in d["seeds"] for s in str(x).split(",") if s}))
        for metric in ("recall@50", "ndcg@50"):
            # per bar its seeds: the subtitle says which bars rest on which, error bars only on several seeds
            tab = pd.DataFrame({"model": d["row"], metric: d[f"{metric} mean"], f"{metric} std": d[f"{metric} std"],
                                "seeds": d["seeds"]})
            paper = {r: (v[0] if metric == "recall@50" else v[2]) for r, m in zip(d["row"], d["model"])
                     if (v := PAPER_TABLE1.get(dataset, {}).get(m))}
            devices = ",".join(sorted({x for v in d["devices"] for x in str(v).split(",")}))
            note = f"device: {devices}" + ("" if d["converged"].all() else
                                           "; NOT converged (quick mode or time limit)")
            fig = plots.results_bars(tab, metric=metric, dataset=dataset, protocol=prot, seeds=seeds,
                                     paper=paper if prot == "authors" else None, extra=note)
            nb.show(fig, f"table1_{metric.replace('@', '')}_{prot}")
else:
    print(f"no finished run on {dataset} yet (run 05_training or `cikgwb train --dataset {dataset}`)")

# %% [markdown]
# ## Table 3 (ablations; Recall / NDCG @ 100)

# %%
from cikgwb.data.registry import get_spec
t3_dataset = dataset if get_spec(dataset).real or (len(runs) and (runs["dataset"] == dataset).any()) else "book-crossing"
# the notebook's dataset first, then every other real dataset with a CIKGRec run (the paper's Table 3 has all
# three), and ML-1M always beside a real dataset: its rows carry the paper's figures and say why ours are empty
t3_others = {d for d in (runs.loc[runs["model"] == "cikgrec", "dataset"] if len(runs) else []) if get_spec(d).real}
t3_datasets = [t3_dataset] + sorted((t3_others | ({"ml1m"} if get_spec(t3_dataset).real else set())) - {t3_dataset})
t3 = pd.concat([table3(runs, dataset=d) for d in t3_datasets], ignore_index=True)
# the authors' protocol is asked of the notebook's dataset only: elsewhere its cells show where runs exist
t3 = t3[~((t3["dataset"] != t3_dataset) & (t3["protocol"] == "authors") & t3["status"].str.startswith("missing"))
        ].reset_index(drop=True)
nb.table(t3[["dataset", "variant", "protocol", "views", "seeds", "devices", "provenance", "status", "recall@100",
             "ndcg@100", "paper recall@100", "paper ndcg@100"]], "table3", max_rows=100)
# the charts of the notebook's dataset only, into its figures folder (the other datasets' charts are drawn when
# the notebook runs on them, into theirs); the table above lists every dataset
for t3_ds in [t3_dataset]:
    have = t3[(t3["dataset"] == t3_ds) & ~t3["status"].str.startswith("missing")]
    name = "table3"
    for prot in sorted(have["protocol"].unique()):
        d = have[have["protocol"] == prot]
        seeds = ",".join(sorted({s for x in d["seeds"] for s in str(x).split(",") if s}))
        # one bar per run: a variant run with other views (e.g. the authors' views) gets its own labelled bar
        # and the number of seeds behind each bar (std as error bars where there are several)
        label = [(v if views in ("", "paper") else f"{v} ({views} views)") + f" ({int(n)} seed{'s' * (int(n) > 1)})"
                 for v, views, n in zip(d["variant"], d["views"], d["n"])]
        tab = pd.DataFrame({"model": label, "ndcg@100": d["ndcg@100 mean"], "ndcg@100 std": d["ndcg@100 std"],
                            "seeds": d["seeds"]})
        paper = ({lab: r["paper ndcg@100"] for lab, (_, r) in zip(label, d.iterrows())}
                 if prot == "authors" and d["paper ndcg@100"].notna().any() else None)
        devices = ",".join(sorted({x for v in d["devices"] for x in str(v).split(",")}))
        note = f"device: {devices}" + ("" if (d["status"] == "done").all() else "; NOT converged (quick mode or time limit)")
        # Table 3's variants differ by thousandths: the axis starts near the data (its title says where)
        nb.show(plots.results_bars(tab, metric="ndcg@100", dataset=t3_ds, protocol=prot, seeds=seeds, paper=paper,
                                   extra=note, what="Table 3: CIKGRec and its ablations, test NDCG@100",
                                   from_zero=False), f"{name}_ndcg100_{prot}")

# %% [markdown]
# ## Is CIKGRec better? Paired tests against its rivals (users protocol, the headline; valid protocol)
#
# `cikgwb.claims.claim_baselines` (the tests of `cikgwb compare`): A = CIKGRec, B = LightGCN, the
# baseline with the best mean test Recall@50 and every simple baseline with runs. Over seeds, runs are
# paired by seed (paired t-test and Wilcoxon; a verdict needs 3 common seeds); over users, each user's
# test metrics at the selected epoch (`test_per_user.npz`) are paired. The p(t) of one protocol's
# table are Holm-adjusted together, and every p-value is conditional on the dataset's one published
# split. Until the users protocol has runs its verdict reads "waiting for users-protocol runs".

# %%
from cikgwb.claims import claim_baselines
from cikgwb.compare import SPLIT_NOTE

sig = []  # one row per protocol, rival, metric and kind of test: the tables the README's claim is read from
for prot in ("users", "valid"):
    table, verdict = claim_baselines(runs, dataset, prot)
    print(f"{dataset}, {prot} protocol: {verdict}")
    sig += [table] if len(table) else []
if sig:
    nb.table(pd.concat(sig, ignore_index=True), "table1_significance", max_rows=100,
             caption=f"{dataset}: A = CIKGRec, B = each rival (paired t-test and Wilcoxon; over seeds: runs "
                     "paired by seed; over users: each user's metric averaged over the side's seeds); Holm p(t) "
                     f"over each protocol's table; {SPLIT_NOTE}")
