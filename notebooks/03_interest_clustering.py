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
# # 03 · Interest clustering: phrases -> interest nodes
#
# Method.md section 2, step 3: the answers' phrases are cleaned, embedded (tf-idf over 1-2 grams
# with max_df 0.8, or the all-MiniLM-L6-v2 sentence encoder), clustered into kappa groups
# (KMeans, or BERTopic), labelled by their c-TF-IDF keywords, and filtered (interests held by
# >= 1/5 of the users are too generic, those held by one user are dropped). Each remaining
# cluster is an interest node; user u gets an edge to node j if one of u's phrases falls in j.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
answers = "auto"        # auto: 02's answers of `backend` (made now if missing) | planted (synthetic) | a path
backend = "kg-summary"  # whose answers "auto" reads
encoders = None         # None: ["tfidf"] in quick mode, ["tfidf", "minilm"] in full mode
clusterers = None       # None: ["kmeans"] in quick mode, ["kmeans", "bertopic"] in full mode
kappa = None            # None: 40 on synthetic, 350 (the authors' book-crossing value) elsewhere
seed = 0
max_share = 0.2         # too generic: held by at least this share of the users
min_users = 2           # single-user interests dropped

# %%
import numpy as np

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.data.registry import get_spec
from cikgwb.knowledge.phrases import answers_to_phrases
from cikgwb.notebooks import start
from cikgwb.views import clustering_configurations, phrase_map_figure, require, save_interest_graph

nb = start("03_interest_clustering", dataset=dataset, quick=quick)
ds = load_dataset(dataset)
encoders = encoders or (["tfidf"] if quick else ["tfidf", "minilm"])
clusterers = clusterers or (["kmeans"] if quick else ["kmeans", "bertopic"])
kappa = kappa or get_spec(dataset).kappa   # the dataset registry's default

# %% [markdown]
# ## The answers
# `auto`: 02's answers of `backend`, made here when missing if the backend is the offline
# `kg-summary` (else one MISSING line with the command); `planted`: the synthetic dataset's topics.

# %%
table, answers_path = require("answers", dataset=dataset, run=backend if answers == "auto" else answers, seed=seed,
                              make=True).value
long = answers_to_phrases(table)
print(f"answers: {len(table):,} users, source(s): {sorted(table['source'].unique())}")
print(f"{len(long):,} (user, phrase) pairs, {long['phrase'].nunique():,} distinct cleaned phrases")
nb.table(long["phrase"].value_counts().head(15).rename("users").to_frame(), caption="most common cleaned phrases")

# %% [markdown]
# ## Encoders x clusterers
# On the synthetic data, ari / nmi: agreement of the phrase clusters with the planted topics
# (_occ: weighted by occurrences).

# %%
compare, graphs = clustering_configurations(table, ds, encoders=encoders, clusterers=clusterers, kappa=kappa, seed=seed,
                                            max_share=max_share, min_users=min_users, answers_path=answers_path)
nb.table(compare, "configurations")

# %% [markdown]
# ## The first configuration in detail: labels, filters, sizes
# The graph is written where `cikgwb interests cluster` writes the same graph (one rule); a graph
# already there is kept.

# %%
enc, cl = encoders[0], clusterers[0]
ig = graphs[(enc, cl)]
print("\n".join(ig.filters.lines()))
nb.table(ig.labels[["interest_id", "label", "size", "phrases", "top_phrases"]].head(25), "labels",
         caption="interest nodes (largest first)")
nb.show(plots.interest_sizes(ig.labels, dataset=dataset, source=f"{enc}+{cl}, kappa={kappa}; {ig.source}"),
        f"interest_sizes_{enc}_{cl}")
print(save_interest_graph(ig, dataset, answers_path or answers, enc, cl, kappa, seed))
assert ig.edges[:, 1].max() < ig.n_interests and len(np.unique(ig.edges, axis=0)) == len(ig.edges)

# %% [markdown]
# ## The phrases in 2-D (t-SNE of the encoder's vectors), coloured by cluster
# The 3,000 most frequent distinct phrases at most; tf-idf vectors are first reduced to 50
# dimensions by truncated SVD.

# %%
nb.show(phrase_map_figure(ig, long["phrase"].tolist(), encoder=enc, clusterer=cl, dataset=dataset, kappa=kappa,
                          seed=seed), f"phrase_map_{enc}_{cl}")
