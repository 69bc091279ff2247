"""Infer user interests: histories -> prompts -> backend -> stored answers -> phrases.

:func:`infer_interests` is the Python API behind ``cikgwb interests infer``. It returns a
:class:`pandas.DataFrame` with one row per user asked about:

============  ==============================================================================
user          user id
phrases       list[str]: the parsed interest phrases (empty when the answer is unusable)
raw           the raw answer text (None when there is none)
source        who answered: ``llm:<model> (chat)``, ``llm:<model> (batch)``,
              ``llm:<model> (local)``, ``llm:<model> (vllm-batch)`` or ``kg-summary (not an LLM)``
reason        ``ok`` or why the user has no phrases (see :mod:`cikgwb.knowledge.parse`)
template      the prompt template (``name@vN``) of the stored answer (None for kg-summary)
============  ==============================================================================

Answers are parsed with the echo rules (:mod:`cikgwb.knowledge.parse`): the user's own titles
and the prompt's own words are not interests.

The ``local`` backend (:class:`~cikgwb.knowledge.llm_server.LocalBackend`) starts a llama.cpp
server on 127.0.0.1 for the run (only when something is missing from the store) and stops it;
the report then carries the model file, its sha256, the server version and the machine.

One run per answer store at a time: the store is locked while a run uses it, and a second run
on it is refused at once (:class:`~cikgwb.knowledge.store.StoreBusy`).

Empty and refusal answers are stored like any other answer (the model was asked and said
that), and a later run does NOT ask again by default: the store is the record of what the model
answered to that exact request. ``reask=("empty", "refusal")`` (``--reask empty,refusal``)
asks those users again; the earlier answer is moved to the store's ``superseded`` table, not
deleted.

and the run report (a dict) in ``df.attrs["report"]``. It also writes, in the run directory
(default ``reports/interests/<dataset>/<backend>/``):

- ``answers.sqlite``: the answer store (LLM backends; see :mod:`cikgwb.knowledge.store`);
- ``answers.jsonl``: the table above, one JSON object per line (read it with :func:`load_answers`);
- ``report.json``: the run report;
- for the batch backend, ``batch_state.json`` and the ``batch_input_*.jsonl`` files.

kg-summary answers are recomputed on every run (deterministic, seconds) and not stored in the
answer store, which holds LLM answers only.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .backends.base import BackendRun, LLMRequest
from .histories import HISTORY_LEN, History, history_items, user_histories
from .parse import EchoChecker, ParsedAnswer, echo_report, parse_answer, summarise
from .store import AnswerStore, public_endpoint, request_key
from .templates import Template, item_kind, load_template

BACKENDS = ("chat", "batch", "local", "kg-summary")
TABLE_COLUMNS = ("user", "phrases", "raw", "source", "reason", "template")
REASKABLE = ("empty", "refusal")


def default_run_dir(dataset: str, backend: str) -> Path:
    return Path("reports") / "interests" / dataset / backend


def select_users(ds: Any, users: Any = None, limit: int | None = None) -> list[int]:
    """``users`` (validated) or all users in id order; the first ``limit`` of them."""
    if users is None:
        sel = list(range(ds.n_users))
    else:
        sel = [int(u) for u in np.asarray(users).ravel()]
        bad = [u for u in sel if not 0 <= u < ds.n_users]
        if bad:
            raise ValueError(f"user {bad[0]} out of range (dataset {ds.name!r} has {ds.n_users} users)")
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        sel = sel[:limit]
    return sel


def sampling_params(max_tokens: int = 1000, temperature: float | None = None) -> dict[str, Any]:
    """The sampling parameters sent with every request (and hashed into the store key).

    The authors' settings: ``max_tokens=1000`` and the API's default temperature (not sent).
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    params: dict[str, Any] = {"max_tokens": int(max_tokens)}
    if temperature is not None:
        if not 0 <= temperature <= 2:
            raise ValueError(f"temperature must be in [0, 2], got {temperature}")
        params["temperature"] = float(temperature)
    return params


def build_requests(ds: Any, model: str, template: Template | str | None = None,
                   users: list[int] | None = None, params: dict[str, Any] | None = None,
                   history_len: int = HISTORY_LEN, split: str = "train") -> tuple[list[LLMRequest], list[History]]:
    """The chat requests for ``users`` (users without a titled history get none)."""
    tpl = load_template(template)
    kind = item_kind(ds)
    params = sampling_params() if params is None else params
    hists = user_histories(ds, max_items=history_len, split=split, users=users)
    reqs = []
    for h in hists:
        if not h.titles:
            continue
        msgs = tpl.messages(list(h.titles), kind)
        reqs.append(LLMRequest(user=h.user, key=request_key(model, tpl.id, msgs, params), model=model,
                               template=tpl.id, messages=msgs, params=params, dataset=ds.name))
    return reqs, hists


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_answers(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the answers table as JSONL (atomically: a reader never sees half a file)."""
    path = Path(path)
    cols = [c for c in df.columns]
    lines = []
    for row in df.itertuples(index=False):
        rec = {c: (None if not isinstance(v, (list, tuple, np.ndarray)) and pd.isna(v) else v)
               for c, v in zip(cols, row)}
        rec["user"] = int(rec["user"])
        rec["phrases"] = [str(p) for p in rec["phrases"]]
        lines.append(json.dumps(rec, ensure_ascii=False))
    _atomic_write_text(path, "".join(line + "\n" for line in lines))
    return path


def load_answers(path: str | Path) -> pd.DataFrame:
    """Read an ``answers.jsonl`` table into a DataFrame (user, phrases, raw, source, ...).

    Each line must be a JSON object with ``user`` (int >= 0), ``phrases`` (list of str), ``raw``
    (str or null) and ``source`` (str); other keys (``reason``, ...) are kept as columns. A bad
    line raises :class:`ValueError` naming the file and the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: answers table not found (run `cikgwb interests infer`)")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            if not line.endswith("\n"):
                where += " (last line, truncated?)"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(rec).__name__}")
            missing = [k for k in ("user", "phrases", "raw", "source") if k not in rec]
            if missing:
                raise ValueError(f"{where}: missing key(s) {missing} (expected user, phrases, raw, source)")
            if not isinstance(rec["user"], int) or isinstance(rec["user"], bool) or rec["user"] < 0:
                raise ValueError(f"{where}: user {rec['user']!r} is not a non-negative integer")
            if not isinstance(rec["phrases"], list) or not all(isinstance(p, str) for p in rec["phrases"]):
                raise ValueError(f"{where}: phrases must be a list of strings, got {rec['phrases']!r}")
            if rec["raw"] is not None and not isinstance(rec["raw"], str):
                raise ValueError(f"{where}: raw must be a string or null")
            if not isinstance(rec["source"], str):
                raise ValueError(f"{where}: source must be a string")
            rows.append(rec)
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=list(TABLE_COLUMNS))
    if df["user"].duplicated().any():
        u = int(df.loc[df["user"].duplicated(), "user"].iloc[0])
        raise ValueError(f"{path}: user {u} appears on more than one line")
    return df


def _make_backend(backend: Any, *, base_url: str | None, model: str | None, api_key: str | None,
                  concurrency: int, timeout: float, max_attempts: int, poll_interval: float,
                  max_rounds: int, progress: bool, client: Any, local: dict[str, Any] | None = None,
                  run_dir: Path | None = None) -> Any:
    if not isinstance(backend, str):
        return backend
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {BACKENDS}")
    if backend == "kg-summary":
        from .backends.kg_summary import KGSummaryBackend

        return KGSummaryBackend()
    if backend == "local":
        from .llm_server import DEFAULT_MODEL, LocalBackend

        opts = dict(local or {})
        return LocalBackend(opts.pop("model", None) or model or DEFAULT_MODEL, timeout=timeout,
                            max_attempts=max_attempts, progress=progress, log_dir=opts.pop("log_dir", run_dir),
                            **opts)
    from .settings import resolve_settings

    settings = resolve_settings(base_url=base_url, model=model, api_key=api_key)
    if backend == "chat":
        from .backends.chat import ChatBackend

        return ChatBackend(settings, concurrency=concurrency, timeout=timeout, max_attempts=max_attempts,
                           progress=progress, client=client)
    from .backends.batch import BatchBackend

    return BatchBackend(settings, poll_interval=poll_interval, max_rounds=max_rounds,
                        max_attempts=max_attempts, progress=progress, client=client)


def infer_interests(ds: Any, backend: Any = "chat", *, users: Any = None, limit: int | None = None,
                    template: Template | str | None = None, model: str | None = None,
                    base_url: str | None = None, api_key: str | None = None, concurrency: int = 8,
                    timeout: float = 60.0, max_attempts: int = 6, max_tokens: int = 1000,
                    temperature: float | None = None, poll_interval: float = 30.0, max_rounds: int = 3,
                    history_len: int = HISTORY_LEN, split: str = "train",
                    run_dir: str | Path | None = None, store: str | Path | None = None,
                    import_batch: str | Path | None = None, progress: bool = True,
                    client: Any = None, local: dict[str, Any] | None = None,
                    reask: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Infer interest phrases for users; see the module docstring for the table and files.

    Parameters
    ----------
    ds : Dataset
    backend : ``"chat"``, ``"batch"``, ``"kg-summary"`` or a backend object.
    users, limit : which users (default all, in id order), and at most how many of them.
    template : template name, ``name@vN`` or YAML path (default: the authors' prompt).
    model, base_url, api_key : default from the environment / settings file
        (:func:`cikgwb.knowledge.settings.resolve_settings`).
    concurrency, timeout, max_attempts : chat backend: parallel requests, per-request timeout
        (s), attempts per request.
    max_tokens, temperature : sampling parameters (the authors': 1000, API default).
    poll_interval, max_rounds : batch backend: seconds between polls, attempts per request.
    history_len, split : last N titled training items; ``"train"`` or ``"train_full"``.
    run_dir, store : output folder, and the answer store path (default ``run_dir/answers.sqlite``).
    import_batch : a batch OUTPUT JSONL (``vllm run-batch`` or OpenAI's) to store instead of
        sending requests.
    local : ``backend="local"``: ``model`` (``smollm2-135m`` or a GGUF path; default ``model``
        or smollm2-135m), ``threads``, ``parallel``, ``port``, ``n_ctx``, ``log_dir``.
    reask : reasons (a subset of ``("empty", "refusal")``) whose stored answers are asked again.
    """
    bad = sorted(set(reask) - set(REASKABLE))
    if bad:
        raise ValueError(f"reask: {bad} not allowed (only {list(REASKABLE)})")
    started = time.time()
    sel = select_users(ds, users, limit)
    if import_batch is not None and backend == "batch" and base_url is None:
        base_url = "http://localhost/v1"  # nothing is sent: no key needed
    be = _make_backend(backend, base_url=base_url, model=model, api_key=api_key, concurrency=concurrency,
                       timeout=timeout, max_attempts=max_attempts, poll_interval=poll_interval,
                       max_rounds=max_rounds, progress=progress, client=client, local=local,
                       run_dir=Path(run_dir) if run_dir is not None else None)
    be_name = "vllm-batch" if import_batch is not None else be.name
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(ds.name, be.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"dataset": ds.name, "backend": be_name, "users asked": len(sel),
                              "history": {"max_items": history_len, "split": split}}

    if be.name == "kg-summary":
        phrases_by_user = be.phrases(ds, sel, history_len=history_len, split=split)
        hists = user_histories(ds, max_items=history_len, split=split, users=sel)
        per_user = history_items(ds, history_len, split)
        rows, parsed = [], []
        for u in sel:
            if len(per_user[u]) == 0:
                p = ParsedAnswer([], "no-history")
                raw = None
            else:  # already clean phrases: no LLM-answer parsing (it would cut at ':')
                raw = ", ".join(phrases_by_user[u])
                p = ParsedAnswer(phrases_by_user[u], "ok" if phrases_by_user[u] else "empty")
            parsed.append(p)
            rows.append((u, p.phrases, raw, be.source, p.reason, None))
        report.update({"source": be.source, "is_llm": False, "params": be.params(),
                       "users with titled history": sum(1 for h in hists if h.titles)})
        run = BackendRun(backend=be.name, requested=len(sel), done=len(sel))
    else:
        settings = be.settings
        tpl = load_template(template)
        params = sampling_params(max_tokens, temperature)
        reqs, hists = build_requests(ds, settings.model, tpl, sel, params, history_len, split)
        store_path = Path(store) if store is not None else run_dir / "answers.sqlite"
        report.update({"is_llm": True, "model": settings.model,
                       "endpoint": public_endpoint(settings.base_url),
                       "api key from": settings.key_source, "template": tpl.id,
                       "template description": tpl.description, "params": params,
                       "store": str(store_path), "users with titled history": len(reqs)})
        kind = item_kind(ds)
        prompt_words = tpl.prompt_text(kind)
        example_answers = [a for _, a in tpl.examples]
        titles_of = {h.user: h.titles for h in hists}

        def parse(raw: str | None, user: int) -> ParsedAnswer:
            return parse_answer(raw, echo=EchoChecker(titles_of.get(user, ()), prompt_words, example_answers))

        with AnswerStore(store_path, exclusive=True) as st:
            if reask:
                have = st.get_many(r.key for r in reqs)
                again = [k for k, a in have.items() if parse(a.raw, a.user).reason in set(reask)]
                report["re-asked (superseded)"] = st.supersede(again)
            if import_batch is not None:
                from .backends.batch import import_results

                run = import_results(import_batch, reqs, st)
            else:
                run = be.run(reqs, st)
            answers = st.get_many(r.key for r in reqs)
        settings = getattr(be, "settings", settings)
        report["endpoint"] = public_endpoint(settings.base_url)
        if hasattr(be, "provenance"):
            report["local server"] = be.provenance()
        by_user = {r.user: r for r in reqs}
        rows, parsed = [], []
        usage_in = usage_out = 0
        for u in sel:
            req = by_user.get(u)
            a = answers.get(req.key) if req is not None else None
            if req is None:
                p, raw, source = ParsedAnswer([], "no-history"), None, f"llm:{settings.model} ({be_name})"
            elif a is None:
                p, raw, source = ParsedAnswer([], "no-answer"), None, f"llm:{settings.model} ({be_name})"
            else:
                p, raw, source = parse(a.raw, u), a.raw, f"llm:{a.model} ({a.backend})"
                usage_in += int((a.usage or {}).get("prompt_tokens") or 0)
                usage_out += int((a.usage or {}).get("completion_tokens") or 0)
            parsed.append(p)
            rows.append((u, p.phrases, raw, source, p.reason, tpl.id if req is not None else None))
        report["usage (stored answers)"] = {"prompt_tokens": usage_in, "completion_tokens": usage_out}
        report["echo"] = echo_report((tpl.id, p) for p in parsed)
        report["source"] = be.source if import_batch is None else f"llm:{settings.model} (vllm-batch)"

    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    counts = summarise(parsed)
    usable = int(sum(p.usable for p in parsed))
    report.update({"run": run.summary(), "usable users": usable,
                   "usable fraction": usable / max(1, len(sel)), "reasons": counts["reasons"],
                   "parse notes": counts["notes"], "elapsed_s": round(time.time() - started, 3),
                   "run dir": str(run_dir), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    write_answers(df, run_dir / "answers.jsonl")
    _atomic_write_text(run_dir / "report.json", json.dumps(report, indent=1, default=str) + "\n")
    df.attrs["report"] = report
    return df


def export_batch(ds: Any, path: str | Path, *, users: Any = None, limit: int | None = None,
                 template: Template | str | None = None, model: str | None = None,
                 max_tokens: int = 1000, temperature: float | None = None,
                 history_len: int = HISTORY_LEN, split: str = "train") -> tuple[Path, int]:
    """Write the batch input JSONL for ``vllm run-batch`` (or a manual upload); no key needed."""
    from .backends.batch import export_requests
    from .settings import DEFAULT_MODEL, resolve_settings

    mdl = model
    if mdl is None:
        try:
            mdl = resolve_settings(base_url="http://localhost/v1").model
        except ValueError:
            mdl = DEFAULT_MODEL
    reqs, _ = build_requests(ds, mdl, template, select_users(ds, users, limit),
                             sampling_params(max_tokens, temperature), history_len, split)
    return export_requests(reqs, path), len(reqs)
