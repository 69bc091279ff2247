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
# # 02 · Prompting: histories, prompts, cost estimate, answers
#
# Method.md section 2, steps 1-2. Each user's history is the titles of their TRAINING items
# (never valid or test), the last 30 in file order; the authors' prompt asks an LLM for at most
# five comma-separated interests. The default backend here is `kg-summary`, which is **not an
# LLM** (phrases summarised from the user's titles and KG, offline); `chat` and `batch` call an
# OpenAI-compatible endpoint (settings from the environment, see `cikgwb interests --help`).

# %% tags=["parameters"]
dataset = "synthetic"       # synthetic | book-crossing | dbbook2014 | ml1m
quick = True
backend = "kg-summary"      # kg-summary (offline, NOT an LLM) | chat | batch
template = None             # None: the authors' prompt (cikgrec-authors); or a name / YAML path
model = None                # chat / batch model; None: from the environment / settings file
limit = None                # ask at most this many users (None: all)
n_show = 3                  # users whose histories and prompts are printed
max_tokens = 1000           # the authors' setting

# %%
import pandas as pd

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.knowledge import infer_interests, load_template, user_histories
from cikgwb.knowledge.cost import METHOD, estimate_cost
from cikgwb.knowledge.templates import item_kind
from cikgwb.notebooks import start

nb = start("02_prompting", dataset=dataset, quick=quick)
ds = load_dataset(dataset)

# %% [markdown]
# ## Histories (training items only, last 30 in file order)

# %%
hists = user_histories(ds)
with_titles = [h for h in hists if h.titles]
print(f"{len(with_titles):,} of {ds.n_users:,} users have a titled training history; "
      f"mean length {sum(len(h.titles) for h in with_titles) / max(1, len(with_titles)):.1f} titles")
for h in with_titles[:n_show]:
    print(f"user {h.user}: {len(h.titles)} titles, e.g. {list(h.titles[-3:])}")
test_items = ds.user_items("test")
assert all(not set(h.items) & set(test_items[h.user].tolist()) for h in hists), "a test item leaked into a history"

# %% [markdown]
# ## The prompt

# %%
tpl = load_template(template)
print(f"template {tpl.id}: {tpl.description}")
for h in with_titles[:1]:
    for m in tpl.messages(list(h.titles), item_kind(ds)):
        print(f"--- {m['role']} ---\n{m['content']}\n")

# %% [markdown]
# ## Cost estimate for the whole dataset (an ESTIMATE, no tokenizer offline)

# %%
prompts = [tpl.messages(list(h.titles), item_kind(ds)) for h in with_titles]
cost = pd.DataFrame([vars(c) for c in estimate_cost(prompts, max_tokens=max_tokens)]).set_index("model")
print(METHOD)
nb.table(cost, "cost_estimate")

# %% [markdown]
# ## Running the backend

# %%
run_dir = nb.reports / "interests" / dataset / backend
answers = infer_interests(ds, backend=backend, limit=limit, template=template, model=model, max_tokens=max_tokens,
                          run_dir=run_dir, progress=False)
report = answers.attrs["report"]
print({k: report[k] for k in ("backend", "source", "is_llm", "users asked", "usable users", "usable fraction")})
print("reasons:", report["reasons"])
print("answers written to", run_dir / "answers.jsonl")
nb.table(answers.head(10), caption=f"raw answers ({report['source']})")

# %% [markdown]
# ## What came back

# %%
n_phr = answers["phrases"].map(len)
counts = pd.DataFrame({"phrases per user": n_phr.value_counts().sort_index()})
nb.table(counts, "phrases_per_user")
top = answers.explode("phrases")["phrases"].dropna().str.lower().value_counts().head(25)
fig = plots.table_figure(top.rename("users").to_frame().rename_axis("phrase"),
                         plots.figure_title("Most common answer phrases", dataset=dataset,
                                            extra=f"source: {report['source']}"))
nb.show(fig, "top_phrases")

# %%
from cikgwb.data.registry import get_spec
if get_spec(dataset).planted_truth:
    # the synthetic dataset knows each user's planted topics: how often the answers name them
    from cikgwb.knowledge.backends.kg_summary import planted_topic_recall
    rec = planted_topic_recall(ds, answers["phrases"].tolist(), users=answers["user"].tolist())
    print("planted topics named in the answers:", {k: round(v, 3) for k, v in rec.items()})
