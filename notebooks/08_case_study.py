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
from cikgwb.data.registry import get_spec
from cikgwb.notebooks import start
from cikgwb.run_artefact import load_artefact
from cikgwb.views import case_for_figure4, figure4, require

nb = start("08_case_study", dataset=dataset, quick=quick)

# %% [markdown]
# ## The run's artefact: found (a converged run first), else made from a checkpoint (or, on the
# synthetic data in quick mode, from a quick run trained here), else one MISSING line saying how

# %%
found = require("artefact", dataset=dataset, root=nb.runs, protocol=protocol, run=run,
                make=quick and get_spec(dataset).quick)
if found:
    a = load_artefact(found.value)
    print(a.describe())
    print(f"interest labels: {a.meta['label_note']}")

# %% [markdown]
# ## The case: the paper's (user 2362, item 1484 on book-crossing), else the best one found

# %%
c = None
if found:
    c, cases = case_for_figure4(a, dataset, k=k, case=case, user=user, item=item, other_user=other_user)
    if cases is not None:
        nb.table(cases.head(15), "cases", caption=f"test hits in the top-{k} reached by an interest path")
    if get_spec(dataset).planted_truth and c is None:
        raise AssertionError("no case found on the synthetic data: the planted interests should give one")

# %% [markdown]
# ## Figure 4

# %%
if c is not None:
    fig4, interests, line = figure4(a, c, dataset=dataset, k=k)
    print(line)
    nb.table(interests, "case_interests", caption=f"interests of user {c['user']}")
    nb.show(fig4, "figure4", width=1400, height=int(fig4.layout.height))
