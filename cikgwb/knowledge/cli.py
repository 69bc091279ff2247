"""``cikgwb interests ...``: prompts (what would be sent, with a cost estimate) and infer.

Each ``cmd_*`` function is called with the parsed options and returns an exit code; the options
themselves are defined in :mod:`cikgwb.cli.interests`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def cmd_report(args: Any) -> int:
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


def _load(args: Any) -> Any:
    from cikgwb.data import load_dataset

    return load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)


def cmd_prompts(args: Any) -> int:
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


def cmd_infer(args: Any) -> int:
    from .infer import export_batch, infer_interests
    from .settings import check_base_url

    if args.base_url is not None:  # before any data, folder or store: a malformed URL is no dead server
        check_base_url(args.base_url, "--base-url")
    # option combinations: one line from the CLI's error handler (cikgwb.cli.main), exit code 2
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


def _backend_options(name: str, args: Any) -> dict[str, Any]:
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
