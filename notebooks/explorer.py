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
# # CIKG explorer
#
# Pick a run (any finished run under `reports/runs`) and a user: the user's interests with
# readable labels and the neighbours who share each, their top-K list with scores, item ids,
# titles, test hits and the interest path to each item, and the test items the list missed
# with their rank. It reads each run's compact artefact (`explorer.npz`, committed with the
# headline runs) and never trains: a run without one says why (its checkpoint is gone, or is
# here) and which command makes one.
#
# Serve it from the repository root with `scripts/explorer.sh` (Voila on this machine only;
# idle kernels are culled, a left page's kernel is shut down) and open
# `http://127.0.0.1:8866/?run=book-crossing-cikgrec-valid-s1&user=2362`: the run and the user
# go in the query of the server's root URL. Without a query (or run all cells in JupyterLab)
# it opens the best real run present.

# %% tags=["parameters"]
dataset = None          # prefer a run of this dataset (URL: ?dataset NAME); None: the best real run, book-crossing CIKGRec first
quick = True            # unused: the explorer never trains
run = None              # a run name or folder to open first (URL: ?run NAME); an unknown one opens none and says so
user = None             # the user shown first (URL: &user ID); None: one with a test hit reached through an interest
k = 20                  # length of the top-K list (URL: &k N; at most 100)
runs_dir = None         # None: $CIKGWB_REPORTS_DIR/runs and the committed reports/runs

# %%
from cikgwb.paths import committed_runs_root, runs_root
from cikgwb.widgets import RunExplorer

roots = [runs_dir] if runs_dir else list(dict.fromkeys([runs_root(), committed_runs_root()]))
RunExplorer.from_query(roots, run=run, user=user, k=k, dataset=dataset)
