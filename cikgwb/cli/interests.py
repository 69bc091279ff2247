"""``cikgwb interests prompts | infer | report | cluster | name | control``: the user-side knowledge.

``prompts``, ``infer`` and ``report`` ask an LLM backend for each user's interests
(:mod:`cikgwb.knowledge.infer`, :mod:`cikgwb.knowledge.answers_report`); ``cluster`` turns answers
into an interest graph (:func:`cikgwb.knowledge.interest_graph.build_interest_graph`), ``name``
names the released graph's nodes (:mod:`cikgwb.knowledge.naming`), ``control`` writes a control
graph (:mod:`cikgwb.knowledge.controls`). ``--answers kg-summary`` (any backend name) means
``reports/interests/DATASET/kg-summary/answers.jsonl``, the file ``interests infer --backend
kg-summary`` writes. The graphs are inspected by ``cikgwb graph`` (:mod:`.graph`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .options import add_data, add_device, commands, kappa, non_negative_int, positive_int, reask_list

ANSWERS_KEPT = "every answer received is stored"


def register(sub: Any) -> None:
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


# ----------------------------------------------------------------------------- shared by the handlers
def table(df: Any, max_rows: int = 20) -> str:
    """The first ``max_rows`` rows of ``df`` as a plain text table (the interest and graph commands)."""
    from tabulate import tabulate

    return tabulate(
        df.head(max_rows), headers="keys", tablefmt="simple", showindex=False, floatfmt=".3g", maxcolwidths=60
    )


def command_line(default: str | None = None) -> str | None:
    """The ``cikgwb ...`` command line being run, for provenance (``default`` where not run as ``cikgwb``)."""
    return "cikgwb " + " ".join(sys.argv[1:]) if sys.argv and "cikgwb" in sys.argv[0] else default


def _load(args: Any) -> Any:
    from ..data import load_dataset

    return load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)


# ----------------------------------------------------------------------------- prompts, infer, report handlers
def cmd_prompts(args: Any) -> int:
    from ..knowledge.infer import build_requests, sampling_params, select_users
    from ..knowledge.settings import DEFAULT_MODEL

    ds = _load(args)
    model = args.model or os.environ.get("CIKGWB_LLM_MODEL") or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    params = sampling_params(args.max_tokens, args.temperature)
    users = select_users(ds, None, args.limit)
    reqs, _ = build_requests(ds, model, args.template, users, params, args.history, args.split)
    if args.json:
        for r in reqs[: args.show]:
            print(json.dumps({"custom_id": str(r.user), "body": r.body(), "template": r.template}))
        return 0
    no_hist = len(users) - len(reqs)
    print(
        f"dataset {ds.name}: {len(users)} users, {len(reqs)} with a titled training history "
        f"({no_hist} without: no request); template {reqs[0].template if reqs else args.template}; "
        f"model {model}; params {params}\n"
    )
    for r in reqs[: args.show]:
        print(f"--- user {r.user}")
        for m in r.messages:
            print(f"[{m['role']}] {m['content']}")
        print()
    _print_cost(reqs, model, args.max_tokens)
    return 0


def _usd(x: float | None) -> str:
    return "n/a (no price)" if x is None else (f"${x:,.2f}" if x >= 1 else f"${x:.4f}")


def _print_cost(reqs: list[Any], model: str, max_tokens: int) -> None:
    """The token and cost estimate of sending ``reqs`` to ``model`` and to every priced model."""
    from tabulate import tabulate

    from ..knowledge.cost import METHOD, estimate_cost, load_prices

    prices = load_prices()
    models = list(dict.fromkeys([model, *prices["models"]]))
    rows = [
        [e.model, e.requests, f"{e.input_tokens:,}", f"{e.output_tokens_typical:,}"]
        + [_usd(e.chat_usd), _usd(e.batch_usd), _usd(e.chat_usd_max)]
        for e in estimate_cost([r.messages for r in reqs], max_tokens, models, prices)
    ]
    print(f"Token and cost {METHOD}.")
    print(
        f"Prices per 1M tokens as of {prices.get('as_of')} ({prices.get('currency', 'USD')}); "
        f"Batch API at {prices.get('batch_discount')} x. Output assumed ~30 tokens per answer "
        f"(typical); worst case = max_tokens {max_tokens} per answer."
    )
    headers = ["model", "requests", "input tokens (est.)", "output tokens (est.)"]
    print(tabulate(rows, headers=headers + ["chat (est.)", "batch (est.)", "chat worst case"]))


def _check_infer_options(args: Any) -> None:
    """Option combinations ``interests infer`` refuses, before any data, folder or store: one line
    from the CLI's error handler (:func:`cikgwb.cli.main`), exit code 2."""
    from ..knowledge.settings import check_base_url

    if args.base_url is not None:  # a malformed URL is no dead server
        check_base_url(args.base_url, "--base-url")
    if args.import_batch and args.backend not in ("batch", "vllm-batch"):
        raise ValueError("--import-batch needs --backend batch (or vllm-batch)")
    if args.backend == "vllm-batch" and not args.import_batch and not args.export_batch:
        raise ValueError("--backend vllm-batch needs --import-batch PATH (the output of `vllm run-batch -o`)")
    if args.import_batch and not os.path.isfile(args.import_batch):
        raise ValueError(
            f"--import-batch {args.import_batch}: file not found (expected the JSONL that `vllm run-batch -o` "
            "or the Batch API wrote)"
        )
    if args.backend == "local" and args.base_url:
        raise ValueError("--backend local starts its own server: drop --base-url (or use --backend chat)")


def _asked(args: Any) -> dict[str, Any]:
    """The options of ``infer`` that say what is asked (users, prompt, sampling, history)."""
    keys = ("limit", "template", "max_tokens", "temperature")
    return {**{k: getattr(args, k) for k in keys}, "history_len": args.history, "split": args.split}


def cmd_infer(args: Any) -> int:
    from ..knowledge.infer import export_batch, infer_interests

    _check_infer_options(args)
    if args.backend == "local":  # the first use installs the local-llm extra (saying so)
        from ..knowledge.llm_server import ensure_local_llm

        ensure_local_llm()
    ds = _load(args)
    if args.export_batch:
        path, n = export_batch(ds, args.export_batch, model=args.model, **_asked(args))
        print(
            f"wrote {n} requests to {path} (run: vllm run-batch -i {path} -o output.jsonl "
            f"--model <model>; then: --import-batch output.jsonl)"
        )
        return 0
    name = "vllm-batch" if args.import_batch else args.backend
    t0 = time.time()
    df = infer_interests(
        ds,
        name,
        **_asked(args),
        run_dir=args.run_dir,
        store=args.store,
        reask=args.reask,
        progress=not args.no_progress,
        **_backend_options(name, args),
    )
    _print_infer_report(df, time.time() - t0)
    return 0 if df.attrs["report"]["run"]["failed"] == 0 else 1


def _print_infer_report(df: Any, seconds: float) -> None:
    rep = df.attrs["report"]
    run = rep["run"]
    print(
        f"{rep['dataset']} / {rep['source']}: {len(df)} users; usable {rep['usable users']} "
        f"({100 * rep['usable fraction']:.1f}%); cached {run['cached']}, new {run['done']}, "
        f"failed {run['failed']}; {seconds:.1f} s"
    )
    print("reasons: " + ", ".join(f"{k} {v}" for k, v in rep["reasons"].items()))
    if run.get("answered but already stored"):  # another process on the same store asked them too
        print(f"answered but already stored (paid twice): {run['answered but already stored']}")
    if run.get("failure reasons"):
        print("failures: " + ", ".join(f"{k} {v}" for k, v in run["failure reasons"].items()))
    for tpl, e in (rep.get("echo") or {}).items():
        if e.get("echo rate") is not None:
            print(
                f"echo ({tpl}): {100 * e['echo rate']:.1f}% of answers only echo titles or the prompt; "
                f"{100 * (e['echoed phrases'] or 0):.1f}% of phrases are echoes"
            )
    if rep.get("local server"):
        ls = rep["local server"]
        print(f"local model {ls['model file']} (sha256 {ls['model sha256'][:12]}...), {ls['server']}")
    if not rep.get("is_llm", True):
        print("NOTE: kg-summary answers are NOT from an LLM.")
    print(f"wrote {rep['run dir']}/answers.jsonl and report.json")


def _backend_options(name: str, args: Any) -> dict[str, Any]:
    """The command line's backend flags that backend ``name`` takes (its constructor's
    keywords); the others (e.g. --concurrency for kg-summary) do not apply to it and are left out."""
    from ..knowledge.backends import backend_options

    flags = {
        "model": args.model,
        "base_url": args.base_url,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "max_attempts": args.retries + 1,
        "threads": args.threads,
        "parallel": args.parallel,
        "port": args.port,
        "n_ctx": args.n_ctx,
        "poll_interval": args.poll_interval,
        "max_rounds": args.max_rounds,
        "path": args.import_batch,
    }
    known = backend_options(name)
    return {k: v for k, v in flags.items() if k in known}


def _report_provenance(args: Any, templates: list[str]) -> dict[str, Any]:
    """The provenance lines of ``interests report``'s Markdown."""
    prov: dict[str, Any] = {"generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": command_line()}
    if args.local_model:
        from ..knowledge.llm_server import LocalGroup

        lp = LocalGroup(args.local_model).provenance()
        prov.update({k: lp[k] for k in ("model file", "model sha256")})
        prov.update({"model bytes": f"{lp['model bytes']:,}", "server": lp["server"], "machine": lp["machine"]})
    history = f"last {args.history} titled items of {args.split}"
    if args.split == "train":
        history += f" (after the valid carve-out, split seed {args.split_seed})"
    prov.update({"templates": ", ".join(templates) or "-", "answer store": args.store, "history": history})
    return {k: v for k, v in prov.items() if v is not None}


def cmd_report(args: Any) -> int:
    from ..knowledge.answers_report import answers_table, markdown_report, store_summary
    from ..knowledge.infer import write_answers

    ds = _load(args)
    summary = store_summary(
        args.store, ds, history_len=args.history, split=args.split, sample=args.sample, seed=args.seed
    )
    md = markdown_report(
        summary, provenance=_report_provenance(args, summary["templates"]), title=args.title, notes=args.note
    )
    if args.answers_out:
        answers = answers_table(args.store, ds, history_len=args.history, split=args.split)
        write_answers(answers, args.answers_out)
        print(f"wrote {len(answers)} users' answers to {args.answers_out}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(md, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(md)
    return 0


# ----------------------------------------------------------------------------- interest graph handlers
def cmd_cluster(args: Any) -> int:
    from ..knowledge.infer import resolve_answers
    from ..knowledge.interest_graph import build_interest_graph, read_answers
    from ..paths import interest_graph_dir
    from ..provenance import git_commit

    t0 = time.perf_counter()
    ds = _load(args)
    path = resolve_answers(args.answers, args.dataset)
    g = build_interest_graph(
        read_answers(path),
        dataset=ds,
        encoder=args.encoder,
        clusterer=args.clusterer,
        kappa=args.kappa,
        seed=args.seed,
        max_share=args.max_share,
        min_users=args.min_users,
        answers_path=path,
        unknown_users="drop" if args.drop_unknown_users else "error",
        representation=args.representation,
        n_init=args.n_init,
        min_cluster_size=args.min_cluster_size,
        device=args.device,
        hdbscan_kwargs={"min_samples": args.min_samples, "cluster_selection_method": args.hdbscan_selection},
    )
    prov = g.provenance
    prov["wall_s"] = round(time.perf_counter() - t0, 2)
    prov["code"] = {"commit": git_commit(("cikgwb/knowledge", "cikgwb/data"))}
    prov["command"] = command_line()
    out = Path(args.out or interest_graph_dir(args.dataset, path, args.encoder, args.clusterer, args.kappa, args.seed))
    paths = g.save(out, id_offset=ds.n_entities if args.offset_ids else 0)
    if args.json:
        summary = {"out": str(out), **{k: prov[k] for k in ("interests_source", "counts", "filters")}}
        summary.update({"timings": prov["clustering"].get("timings"), "wall_s": prov["wall_s"]})
        print(json.dumps(summary, indent=2, default=str))
        return 0
    ans, ph, t = prov["answers"], prov["phrases"], prov["clustering"]["timings"]
    print(f"{ds.name}: {ans['rows']} answers from {path} ({', '.join(ans['sources'])})")
    if ans["not_llm"]:
        print("NOTE: these answers are NOT from an LLM: " + ", ".join(ans["not_llm_sources"]))
    print(
        f"phrases: {ph['occurrences']} (user, phrase) pairs, {ph['distinct']} distinct, "
        f"{ph['users_with_phrases']} users with phrases"
    )
    print(
        f"{prov['encoder'].get('encoder')} + {args.clusterer}, kappa={args.kappa}, seed={args.seed}: "
        f"{prov['counts']['clusters']} clusters (encode {t['encode_s']:.1f} s, cluster {t['cluster_s']:.1f} s, "
        f"labels {t['label_s']:.1f} s; total {prov['wall_s']:.1f} s)"
    )
    for line in g.filters.lines():
        print("  " + line)
    print(table(g.labels[["interest_id", "label", "size", "top_phrases"]], max_rows=args.show))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"use it: cikgwb graph stats --dataset {args.dataset} --interests {out}")
    return 0


def cmd_name(args: Any) -> int:
    from ..data.registry import dataset_dir
    from ..knowledge.infer import resolve_answers
    from ..knowledge.interest_graph import EDGES_FILE, LABELS_FILE, PROVENANCE_FILE
    from ..knowledge.naming import name_released_graph, released_names_dir

    path = resolve_answers(args.answers, args.dataset) if args.answers else None
    t0 = time.perf_counter()
    edges_file = dataset_dir(args.dataset, args.data_dir) / EDGES_FILE
    if not edges_file.is_file():
        raise FileNotFoundError(f"{edges_file}: the dataset {args.dataset!r} has no released interest graph to name")
    out = Path(args.out) if args.out else released_names_dir(args.dataset)
    names, prov = name_released_graph(
        _load(args),
        edges_file,
        out,
        path,
        terms=args.terms,
        min_members=args.min_members,
        command=command_line(),
        started=t0,
    )
    print(
        f"{args.dataset}: named {len(names)} interest nodes of {edges_file} "
        + ", ".join(f"{v} by {k}" for k, v in prov["methods"].items())
    )
    print(table(names[["interest_id", "method", "size", "label"]], max_rows=args.show))
    print(f"wrote {out / LABELS_FILE}, {out / PROVENANCE_FILE} ({prov['wall_s']:.1f} s)")
    return 0


def cmd_control(args: Any) -> int:
    from ..knowledge.controls import ITEMS_FILE, control_graph
    from ..paths import reports_root

    g, items, name = control_graph(
        args.dataset,
        args.kind,
        data_dir=args.data_dir,
        split_seed=args.split_seed,
        seed=args.seed,
        swaps_per_edge=args.swaps_per_edge,
        split=args.split,
        n_interests=args.n_interests,
        edges=args.edges,
    )
    out = Path(args.out) if args.out else reports_root() / "interests" / args.dataset / "graphs" / name
    paths = g.save(out)
    if items is not None:
        items.to_csv(out / ITEMS_FILE, sep="\t", index=False)
    c = g.provenance["counts"]
    print(f"{args.dataset}: {g.provenance['interests_source']}")
    print(
        f"{c['interests']} interests ({c['interests_held']} held), {c['edges']} edges, {c['users_with_interests']} "
        f"users, {c['min_users_per_interest']}..{c['max_users_per_interest']} users per interest"
    )
    print(table(g.labels[["interest_id", "size", "label"]], max_rows=args.show))
    print(f"wrote {', '.join(str(p) for p in paths.values())} ({g.provenance['wall_s']:.1f} s)")
    print(f"use it: cikgwb train --dataset {args.dataset} --interests {out} --protocol users")
    return 0
