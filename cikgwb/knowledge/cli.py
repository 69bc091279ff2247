"""``cikgwb interests ...``: prompts (what would be sent, with a cost estimate) and infer.

:func:`add_parser` registers the ``interests`` command on the top-level subparsers and returns
its own subparsers object, so that other modules can add subcommands to it (e.g.
``interests cluster``). Each subcommand sets ``func`` (called with the parsed args, returns
an exit code). ``python -m cikgwb.knowledge.cli interests ...`` runs it standalone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

DATASETS = ("book-crossing", "dbbook2014", "ml1m", "synthetic")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"dataset name ({', '.join(DATASETS)})")
    p.add_argument("--data-dir", default=None, help="data folder (default: $CIKGWB_DATA_DIR or <project>/data)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation carve-out")
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
        help="model name (default: $CIKGWB_LLM_MODEL / $OPENAI_MODEL / settings file / gpt-3.5-turbo-0125)",
    )
    p.add_argument("--max-tokens", type=int, default=1000, help="max_tokens per answer (the authors': 1000)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: not sent)")


def add_parser(subparsers: Any) -> Any:
    """Register ``interests`` (with ``prompts`` and ``infer``) and ``llm`` (``serve``, see
    :mod:`cikgwb.knowledge.llm_server`); return the ``interests`` subparsers object."""
    from .backends import backend_names
    from .llm_server import add_parser as add_llm

    add_llm(subparsers)
    p = subparsers.add_parser(
        "interests",
        help="LLM-inferred user interests (prompts, infer)",
        description="User-side knowledge: prompts, LLM answers, interest phrases.",
    )
    sub = p.add_subparsers(dest="interests_command", metavar="{prompts,infer,report,...}")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    pr = sub.add_parser("prompts", help="show what would be sent, with a token and cost estimate")
    _add_data_args(pr)
    pr.add_argument("--show", type=int, default=3, help="print the messages of this many users (default 3)")
    pr.add_argument("--json", action="store_true", help="print the requests as JSON lines instead")
    pr.set_defaults(func=cmd_prompts)

    inf = sub.add_parser(
        "infer",
        help="ask a backend for every user's interests",
        description="Infer interest phrases per user. Answers are cached in an "
        "answer store; a rerun asks only for what is missing.",
    )
    _add_data_args(inf)
    inf.add_argument(
        "--backend",
        choices=backend_names(),
        default="chat",
        help="chat: concurrent chat completions; batch: the OpenAI Batch API; vllm-batch: store "
        "the answers of a `vllm run-batch` output file (--import-batch); local: a "
        "llama.cpp server on 127.0.0.1 started and stopped by this run (--model is "
        "then smollm2-135m or a .gguf path); kg-summary: no LLM (KG attributes and "
        "title words). The names come from cikgwb.knowledge.backends.REGISTRY",
    )
    inf.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
        "(default: $OPENAI_BASE_URL / settings file / OpenAI)",
    )
    inf.add_argument("--concurrency", type=int, default=8, help="chat: parallel requests (default 8)")
    inf.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="per-request timeout in s (default: the backend's: chat and local 60, batch 120)",
    )
    inf.add_argument(
        "--retries",
        type=_non_negative_int,
        default=5,
        help="retries per request after the first try (default 5, i.e. 6 attempts; 0 = one attempt, no retry)",
    )
    inf.add_argument(
        "--reask",
        type=_reask_list,
        default=(),
        metavar="empty,refusal",
        help="ask again the users whose stored answer is empty and/or a refusal (by "
        "default a stored answer is never asked again; the old one is kept aside)",
    )
    inf.add_argument("--threads", type=_positive_int, default=1, help="local: CPU threads per server (default 1)")
    inf.add_argument("--parallel", type=_positive_int, default=1, help="local: server processes (default 1)")
    inf.add_argument("--port", type=int, default=0, help="local: first port on 127.0.0.1 (default any free)")
    inf.add_argument("--n-ctx", type=_positive_int, default=2048, help="local: context length (default 2048)")
    inf.add_argument("--poll-interval", type=float, default=30.0, help="batch: seconds between polls")
    inf.add_argument("--max-rounds", type=int, default=3, help="batch: submissions per request at most")
    inf.add_argument("--run-dir", default=None, help="output folder (default reports/interests/<dataset>/<backend>)")
    inf.add_argument("--store", default=None, help="answer store path (default <run dir>/answers.sqlite)")
    inf.add_argument(
        "--export-batch",
        metavar="PATH",
        default=None,
        help="write the batch input JSONL (for `vllm run-batch -i`) and exit; sends nothing",
    )
    inf.add_argument(
        "--import-batch",
        metavar="PATH",
        default=None,
        help="store the answers of a batch output JSONL (`vllm run-batch -o`, or OpenAI's "
        "output file) instead of sending requests",
    )
    inf.add_argument("--no-progress", action="store_true", help="no progress bar")
    inf.set_defaults(func=cmd_infer)

    rp = sub.add_parser(
        "report",
        help="what an answer store holds so far: speed, tokens, usable and "
        "echo rates per template, random users' answers beside their titles",
        description="Reads the store read-only (safe while a run writes it).",
    )
    rp.add_argument("--dataset", required=True, help=f"dataset name ({', '.join(DATASETS)})")
    rp.add_argument("--data-dir", default=None, help="data folder (default: $CIKGWB_DATA_DIR or <project>/data)")
    rp.add_argument("--split-seed", type=int, default=0, help="seed of the validation carve-out")
    rp.add_argument("--store", required=True, help="the answer store (answers.sqlite)")
    rp.add_argument("--history", type=int, default=30, help="last N titled training items (default 30)")
    rp.add_argument("--split", choices=("train", "train_full"), default="train")
    rp.add_argument("--sample", type=int, default=20, help="random users shown (default 20)")
    rp.add_argument("--seed", type=int, default=0, help="seed of the random sample")
    rp.add_argument("--out", default=None, help="write Markdown here (default: print it)")
    rp.add_argument("--json", default=None, help="also write the summary as JSON here")
    rp.add_argument(
        "--local-model",
        default=None,
        help="add provenance of this local model (smollm2-135m or a .gguf): file, sha256, "
        "llama-cpp-python version, machine",
    )
    rp.add_argument(
        "--answers-out",
        default=None,
        help="also write the answers table (answers.jsonl format) of the users answered so far",
    )
    rp.add_argument("--title", default=None, help="report title")
    rp.add_argument("--note", action="append", default=[], help="a note line (repeatable)")
    rp.set_defaults(func=cmd_report)
    return sub


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .answers_report import markdown_report, store_summary

    ds = _load(args)
    summary = store_summary(
        args.store, ds, history_len=args.history, split=args.split, sample=args.sample, seed=args.seed
    )
    prov: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "cikgwb interests report " + " ".join(sys.argv[3:])
        if sys.argv[1:3] == ["interests", "report"]
        else None,
    }
    if args.local_model:
        from .llm_server import LocalGroup

        g = LocalGroup(args.local_model)
        lp = g.provenance()
        prov.update(
            {
                "model file": lp["model file"],
                "model sha256": lp["model sha256"],
                "model bytes": f"{lp['model bytes']:,}",
                "server": lp["server"],
                "machine": lp["machine"],
            }
        )
    prov.update(
        {
            "templates": ", ".join(summary["templates"]) or "-",
            "answer store": args.store,
            "history": f"last {args.history} titled items of {args.split} (after the valid carve-out, "
            f"split seed {args.split_seed})"
            if args.split == "train"
            else f"last {args.history} titled items of {args.split}",
        }
    )
    prov = {k: v for k, v in prov.items() if v is not None}
    md = markdown_report(summary, provenance=prov, title=args.title, notes=args.note)
    if args.answers_out:
        from .answers_report import answers_table
        from .infer import write_answers

        table = answers_table(args.store, ds, history_len=args.history, split=args.split)
        write_answers(table, args.answers_out)
        print(f"wrote {len(table)} users' answers to {args.answers_out}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(md, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(md)
    return 0


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def _positive_int(text: str) -> int:
    v = _non_negative_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def _reask_list(text: str) -> tuple[str, ...]:
    from .infer import REASKABLE

    got = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in got if x not in REASKABLE]
    if bad or not got:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(REASKABLE)}, got {text!r}")
    return got


def _load(args: argparse.Namespace) -> Any:
    from cikgwb.data import load_dataset

    return load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)


def cmd_prompts(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from .cost import METHOD, estimate_cost, load_prices
    from .infer import build_requests, sampling_params, select_users
    from .settings import DEFAULT_MODEL

    ds = _load(args)
    model = args.model or os.environ.get("CIKGWB_LLM_MODEL") or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    params = sampling_params(args.max_tokens, args.temperature)
    users = select_users(ds, None, args.limit)
    reqs, hists = build_requests(ds, model, args.template, users, params, args.history, args.split)
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
    prices = load_prices()
    models = list(dict.fromkeys([model, *prices["models"]]))
    rows = []
    for e in estimate_cost([r.messages for r in reqs], args.max_tokens, models, prices):
        usd = lambda x: "n/a (no price)" if x is None else (f"${x:,.2f}" if x >= 1 else f"${x:.4f}")  # noqa: E731
        rows.append(
            [
                e.model,
                e.requests,
                f"{e.input_tokens:,}",
                f"{e.output_tokens_typical:,}",
                usd(e.chat_usd),
                usd(e.batch_usd),
                usd(e.chat_usd_max),
            ]
        )
    print(f"Token and cost {METHOD}.")
    print(
        f"Prices per 1M tokens as of {prices.get('as_of')} ({prices.get('currency', 'USD')}); "
        f"Batch API at {prices.get('batch_discount')} x. Output assumed ~30 tokens per answer "
        f"(typical); worst case = max_tokens {args.max_tokens} per answer."
    )
    print(
        tabulate(
            rows,
            headers=[
                "model",
                "requests",
                "input tokens (est.)",
                "output tokens (est.)",
                "chat (est.)",
                "batch (est.)",
                "chat worst case",
            ],
        )
    )
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from .infer import export_batch, infer_interests
    from .settings import check_base_url

    if args.base_url is not None:  # before any data, folder or store: a malformed URL is no dead server
        check_base_url(args.base_url, "--base-url")
    if args.import_batch and args.backend not in ("batch", "vllm-batch"):
        print("--import-batch needs --backend batch (or vllm-batch)", file=sys.stderr)
        return 2
    if args.backend == "vllm-batch" and not args.import_batch and not args.export_batch:
        print("--backend vllm-batch needs --import-batch PATH (the output of `vllm run-batch -o`)", file=sys.stderr)
        return 2
    if args.import_batch and not os.path.isfile(args.import_batch):
        print(
            f"--import-batch {args.import_batch}: file not found (expected the JSONL that `vllm run-batch -o` "
            "or the Batch API wrote)",
            file=sys.stderr,
        )
        return 2
    if args.backend == "local" and args.base_url:
        print("--backend local starts its own server: drop --base-url (or use --backend chat)", file=sys.stderr)
        return 2
    if args.backend == "local":  # the first use installs the local-llm extra (saying so)
        from .llm_server import ensure_local_llm

        ensure_local_llm()
    ds = _load(args)
    if args.export_batch:
        path, n = export_batch(
            ds,
            args.export_batch,
            limit=args.limit,
            template=args.template,
            model=args.model,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            history_len=args.history,
            split=args.split,
        )
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
        limit=args.limit,
        template=args.template,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        history_len=args.history,
        split=args.split,
        run_dir=args.run_dir,
        store=args.store,
        reask=args.reask,
        progress=not args.no_progress,
        **_backend_options(name, args),
    )
    rep = df.attrs["report"]
    run = rep["run"]
    print(
        f"{rep['dataset']} / {rep['source']}: {len(df)} users; usable {rep['usable users']} "
        f"({100 * rep['usable fraction']:.1f}%); cached {run['cached']}, new {run['done']}, "
        f"failed {run['failed']}; {time.time() - t0:.1f} s"
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
    return 0 if run["failed"] == 0 else 1


def _backend_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The command line's backend flags that backend ``name`` takes (its constructor's
    keywords); the others (e.g. --concurrency for kg-summary) do not apply to it and are left out."""
    from .backends import backend_options

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


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m cikgwb.knowledge.cli interests ...``."""
    parser = argparse.ArgumentParser(prog="cikgwb")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        if args.verbose:
            raise
        print(f"cikgwb {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every answer received is stored (rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
