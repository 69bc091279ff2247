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
# A user, their interest nodes, an interest they share with another user, and the user's top-K
# list in which a test item appears that the other user has among their training items: the
# path `user -> interest <- other user -> item` through which the user-side knowledge can carry
# the recommendation. Cases are found automatically (`cikgwb.explorer.find_cases`: test hits in
# the top K reached by such a path, best ranked first).
#
# Interests of the paper's released graph have no text labels; the figure names them
# `#<id> ~ <title>`, the title being the item most over-represented among the interest's
# members (`cikgwb.inspect_graph.interest_short_label`): a label derived from the
# interactions, not the LLM's words.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
run = None              # a run folder; None: a CIKGRec run (full variant) of the dataset with a checkpoint (quick synthetic: trained if none)
protocol = "valid"
k = 20                  # length of the top-K list
case = 0                # which of the found cases to draw; 0 is the best
user = None             # or a user id: draw this user's best case
answers = "auto"        # LLM / kg-summary answers to show for the user: auto (any under reports/interests) | a path | None

# %%
from pathlib import Path


from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.explorer import case_graph, find_cases, user_report
from cikgwb.inspect_graph import interest_short_label
from cikgwb.notebooks import start
from cikgwb.results import evaluate_test, has_checkpoint, load_run, runs_table, train_runs

nb = start("08_case_study", dataset=dataset, quick=quick)
ds = load_dataset(dataset)
if run is None:
    runs = runs_table(nb.runs)
    cand = runs[(runs["dataset"] == dataset) & (runs["model"] == "cikgrec") & (runs["variant"] == "full")
                & (runs["protocol"] == protocol)] if len(runs) else runs
    cand = cand[[has_checkpoint(p) for p in cand["path"]]] if len(cand) else cand
    if len(cand) == 0 and quick and dataset == "synthetic":
        cand = train_runs(ds, ["cikgrec"], [0], nb.runs, protocol=protocol, quick=True)
    if len(cand):
        run = cand.sort_values("converged", ascending=False)["path"].iloc[0]
c = None
if run is None:
    print(f"MISSING: no CIKGRec run ({protocol} protocol) with a checkpoint on {dataset} under {nb.runs}: train one "
          f"(05_training, `cikgwb train --dataset {dataset}`) or give run=PATH; Figure 4 is not drawn")
else:
    cfg, ds_run, model = load_run(run, ds)
    res = evaluate_test(model, ds_run, k=k)
    print(f"run {Path(run).name}: {cfg.model.model}, protocol {cfg.train.protocol}, seed {cfg.train.seed}, "
          f"device of training {cfg.train.device}; test recall@{k} {res.metrics[f'recall@{k}']:.4f}")
    cases = find_cases(ds_run, res.topk, k=k)
    if user is not None:
        cases = cases[cases["user"] == int(user)].reset_index(drop=True)
    nb.table(cases.head(15), "cases", caption="test hits in the top-K reached by an interest path")
    if dataset == "synthetic":
        assert len(cases), "no case found: no test hit in any top-K list is reached through a shared interest"
    if len(cases):
        c = cases.iloc[int(case)]
    else:
        print("MISSING: no test hit in any top-K list is reached through a shared interest; Figure 4 is not drawn")

# %%
if c is not None:
    ans = None
    if answers == "auto":
        files = sorted((nb.reports / "interests" / dataset).glob("*/answers.jsonl"))
        answers = files[0] if files else None
    if answers:
        from cikgwb.knowledge.interest_graph import read_answers
        ans = read_answers(answers)
    rep = user_report(ds_run, int(c["user"]), res.topk, ans, k=k)
    print(f"user {rep['user']}: last training titles: {rep['titles']['title'].tolist()[-8:]}")
    if rep["answer"]:
        print(f"answer ({rep['answer']['source']}): {rep['answer']['raw']}")
    nb.table(rep["interests"], caption="interest nodes of the user")
    G, hn, he = case_graph(ds_run, int(c["user"]), int(c["interest"]), int(c["other_user"]), int(c["item"]))
    fig4 = plots.case_study(
        {"user": int(c["user"]), "interests": [interest_short_label(ds_run, int(j), 30) for j in rep["interests"]["interest"]],
         "shared_interest": interest_short_label(ds_run, int(c["interest"])),
         "other_user": int(c["other_user"]), "item": c["title"], "rank": int(c["rank"]),
         "topk": rep["topk"][["rank", "title", "hit"]], "highlight": hn, "highlight_edges": he},
        dataset=dataset, protocol=cfg.train.protocol, seeds=[cfg.train.seed], graph=G)
    nb.show(fig4, "figure4", height=700, width=1300)
