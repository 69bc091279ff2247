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
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.knowledge.encoders import make_encoder
from cikgwb.knowledge.interest_graph import build_interest_graph, read_answers
from cikgwb.knowledge.phrases import answers_to_phrases
from cikgwb.notebooks import start
from cikgwb.paths import interest_graph_dir

nb = start("03_interest_clustering", dataset=dataset, quick=quick)
ds = load_dataset(dataset)
encoders = encoders or (["tfidf"] if quick else ["tfidf", "minilm"])
clusterers = clusterers or (["kmeans"] if quick else ["kmeans", "bertopic"])
from cikgwb.data.registry import get_spec
kappa = kappa or get_spec(dataset).kappa   # the dataset registry's default

# %% [markdown]
# ## The answers

# %%
if answers == "planted":
    from cikgwb.knowledge.planted import planted_answers
    table, _ = planted_answers(ds, seed=seed)
    answers_path = None
elif answers == "auto":
    answers_path = nb.reports / "interests" / dataset / backend / "answers.jsonl"
    if not answers_path.exists():
        if backend != "kg-summary":
            raise FileNotFoundError(f"{answers_path}: no {backend} answers yet; run 02_prompting with backend={backend!r}")
        from cikgwb.knowledge import infer_interests
        infer_interests(ds, backend="kg-summary", run_dir=answers_path.parent, progress=False)
    table = read_answers(answers_path)
else:
    answers_path = Path(answers)
    table = read_answers(answers_path)
long = answers_to_phrases(table)
print(f"answers: {len(table):,} users, source(s): {sorted(table['source'].unique())}")
print(f"{len(long):,} (user, phrase) pairs, {long['phrase'].nunique():,} distinct cleaned phrases")
nb.table(long["phrase"].value_counts().head(15).rename("users").to_frame(), caption="most common cleaned phrases")

# %% [markdown]
# ## Encoders x clusterers

# %%
rows, graphs = [], {}
truth = None
if get_spec(dataset).planted_truth:
    from cikgwb.knowledge.planted import phrase_truth, recovery_scores
    truth = phrase_truth(ds, long)
for enc in encoders:
    for cl in clusterers:
        t0 = time.time()
        ig = build_interest_graph(table, dataset=ds, encoder=enc, clusterer=cl, kappa=kappa, seed=seed,
                                  max_share=max_share, min_users=min_users, answers_path=answers_path)
        c = ig.provenance["counts"]
        row = {"encoder": enc, "clusterer": cl, "kappa": kappa, "clusters": c["clusters"], "interests": c["interests"],
               "edges": c["edges"], "users with interests": c["users_with_interests"],
               "too generic": len(ig.filters.too_generic), "single user": len(ig.filters.single_user),
               "seconds": round(time.time() - t0, 1)}
        if truth is not None:
            row.update({k: round(v, 3) for k, v in recovery_scores(ig.clustering, truth).items()})
        rows.append(row)
        graphs[(enc, cl)] = ig
compare = pd.DataFrame(rows)
nb.table(compare, "configurations")
if truth is not None:
    print("ari / nmi: agreement of the phrase clusters with the planted topics (synthetic truth); "
          "_occ: weighted by occurrences")

# %% [markdown]
# ## The first configuration in detail: labels, filters, sizes

# %%
enc, cl = encoders[0], clusterers[0]
ig = graphs[(enc, cl)]
print("\n".join(ig.filters.lines()))
nb.table(ig.labels[["interest_id", "label", "size", "phrases", "top_phrases"]].head(25), "labels",
         caption="interest nodes (largest first)")
nb.show(plots.interest_sizes(ig.labels, dataset=dataset, source=f"{enc}+{cl}, kappa={kappa}; {ig.source}"),
        f"interest_sizes_{enc}_{cl}")

# where `cikgwb interests cluster` writes the same graph (one rule); a graph already there is kept
out = interest_graph_dir(dataset, answers_path or answers, enc, cl, kappa, seed)
if out.exists():
    print(f"{out} exists: kept, not overwritten (delete it to write this one)")
else:
    ig.save(out)
    print(f"interest graph written to {out}")
print(f"use it with `cikgwb train --interests {out}` or the `interests` parameter of 04_cikg / 05_training")
assert ig.edges[:, 1].max() < ig.n_interests and len(np.unique(ig.edges, axis=0)) == len(ig.edges)

# %% [markdown]
# ## The phrases in 2-D (t-SNE of the encoder's vectors), coloured by cluster
# The 3,000 most frequent distinct phrases at most; tf-idf vectors are first reduced to 50
# dimensions by truncated SVD.

# %%
from sklearn.decomposition import TruncatedSVD
from sklearn.manifold import TSNE

cl_obj = ig.clustering
top = np.argsort(-cl_obj.counts, kind="stable")[:3000]
phr = [cl_obj.phrases[i] for i in top]
vec = make_encoder(enc).fit(long["phrase"].tolist()).encode(phr)
if not isinstance(vec, np.ndarray):
    vec = TruncatedSVD(n_components=min(50, vec.shape[1] - 1), random_state=seed).fit_transform(vec)
xy = TSNE(n_components=2, perplexity=min(30.0, (len(phr) - 1) / 3), init="pca", random_state=seed).fit_transform(vec)
pts = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "cluster": cl_obj.assign[top], "phrase": phr,
                    "count": cl_obj.counts[top], "label": [cl_obj.labels[c] for c in cl_obj.assign[top]]})
nb.show(plots.phrase_map(pts, dataset=dataset, what=f"Interest phrases ({enc} vectors, t-SNE) by {cl} cluster",
                         extra=f"kappa={kappa}, {len(pts)} of {len(cl_obj.phrases)} distinct phrases"),
        f"phrase_map_{enc}_{cl}")
