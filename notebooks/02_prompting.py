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
from cikgwb.data import load_dataset
from cikgwb.knowledge import infer_interests, load_template
from cikgwb.knowledge.cost import METHOD
from cikgwb.notebooks import start
from cikgwb.views import (answers_report, cost_table, histories, phrases_per_user, planted_recall, prompt_text,
                          top_phrases_figure)

nb = start("02_prompting", dataset=dataset, quick=quick)
ds = load_dataset(dataset)

# %% [markdown]
# ## Histories (training items only, last 30 in file order)
# The view checks that no test item is in any user's history.

# %%
hists, lines = histories(ds, n_show)
print("\n".join(lines))

# %% [markdown]
# ## The prompt
# The template's messages for the first user with a titled history.

# %%
tpl = load_template(template)
print(prompt_text(ds, tpl, hists))

# %% [markdown]
# ## Cost estimate for the whole dataset (an ESTIMATE, no tokenizer offline)

# %%
print(METHOD)
nb.table(cost_table(ds, tpl, hists, max_tokens), "cost_estimate")

# %% [markdown]
# ## Running the backend
# The answers are written where `cikgwb interests infer` writes them (03 reads them from there).

# %%
run_dir = nb.reports / "interests" / dataset / backend
answers = infer_interests(ds, backend=backend, limit=limit, template=template, model=model, max_tokens=max_tokens,
                          run_dir=run_dir, progress=False)
print("\n".join(answers_report(answers, run_dir / "answers.jsonl")))
nb.table(answers.head(10), caption=f"raw answers ({answers.attrs['report']['source']})")

# %% [markdown]
# ## What came back
# How many phrases each user gave, and the most common phrases. On the synthetic dataset, which
# knows each user's planted topics: how often the answers name them.

# %%
nb.table(phrases_per_user(answers), "phrases_per_user")
nb.show(top_phrases_figure(answers, dataset), "top_phrases")
recall = planted_recall(ds, answers)  # None: no planted truth
if recall:
    print(recall)
