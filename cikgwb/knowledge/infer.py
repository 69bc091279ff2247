"""Infer user interests: histories -> prompts -> backend -> stored answers -> phrases.

:func:`infer_interests` is the Python API behind ``cikgwb interests infer``. It builds a
:class:`~cikgwb.knowledge.backends.protocol.Job` (users, histories, template, sampling
parameters, store), asks the backend (``backend.answer(job)``; the backends, their registry and
how to add one: :mod:`cikgwb.knowledge.backends`) and parses the answers. It returns a
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

The ``local`` backend (:class:`~cikgwb.knowledge.backends.local.LocalBackend`) starts a llama.cpp
server on 127.0.0.1 for the run (only when something is missing from the store) and stops it;
the report then carries the model file, its sha256, the server version and the machine, and
the server's log is ``llama-server-0.log`` in the run folder.

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
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from .backends import backend_names
from .backends.base import LLMRequest
from .backends.protocol import Job, chat_requests
from .histories import HISTORY_LEN, History, user_histories
from .parse import echo_report, summarise
from .templates import Template, item_kind, load_template

BACKENDS = backend_names()  # the registry's names (cikgwb.knowledge.backends.REGISTRY)
TABLE_COLUMNS = ("user", "phrases", "raw", "source", "reason", "template")
REASKABLE = ("empty", "refusal")


def default_run_dir(dataset: str, backend: str) -> Path:
    from ..paths import reports_root

    return reports_root() / "interests" / dataset / backend


def resolve_answers(answers: str, dataset: str) -> Path:
    """An answers file: a path, or a backend name (any registered one) for the file
    ``cikgwb interests infer --backend NAME`` writes (:func:`default_run_dir`)."""
    p = Path(answers).expanduser()
    if p.exists() or answers not in backend_names():
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: answers file not found (expected an answers.jsonl, or one of "
                f"{', '.join(backend_names())} for the file `cikgwb interests infer` writes)"
            )
        return p
    f = default_run_dir(dataset, answers) / "answers.jsonl"
    if not f.is_file():
        raise FileNotFoundError(
            f"{f}: no {answers} answers for {dataset} yet; run "
            f"`cikgwb interests infer --dataset {dataset} --backend {answers}` first"
        )
    return f


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


def build_requests(
    ds: Any,
    model: str,
    template: Template | str | None = None,
    users: list[int] | None = None,
    params: dict[str, Any] | None = None,
    history_len: int = HISTORY_LEN,
    split: str = "train",
) -> tuple[list[LLMRequest], list[History]]:
    """The chat requests for ``users`` (users without a titled history get none)."""
    tpl = load_template(template)
    params = sampling_params() if params is None else params
    hists = user_histories(ds, max_items=history_len, split=split, users=users)
    reqs = chat_requests(hists, ds.name, item_kind(ds), model, tpl, params)
    return reqs, hists


def write_answers(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the answers table as JSONL (atomically: a reader never sees half a file)."""
    path = Path(path)
    cols = [c for c in df.columns]
    lines = []
    for row in df.itertuples(index=False):
        rec = {
            c: (None if not isinstance(v, (list, tuple, np.ndarray)) and pd.isna(v) else v) for c, v in zip(cols, row)
        }
        rec["user"] = int(rec["user"])
        rec["phrases"] = [str(p) for p in rec["phrases"]]
        lines.append(json.dumps(rec, ensure_ascii=False))
    atomic_write_text(path, "".join(line + "\n" for line in lines))
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


def infer_interests(
    ds: Any,
    backend: Any = "chat",
    *,
    users: Any = None,
    limit: int | None = None,
    template: Template | str | None = None,
    max_tokens: int = 1000,
    temperature: float | None = None,
    history_len: int = HISTORY_LEN,
    split: str = "train",
    run_dir: str | Path | None = None,
    store: str | Path | None = None,
    reask: tuple[str, ...] | list[str] = (),
    progress: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Infer interest phrases for users; see the module docstring for the table and files.

    Parameters
    ----------
    ds : Dataset
    backend : a registered name (:data:`cikgwb.knowledge.backends.REGISTRY`: ``chat``,
        ``batch``, ``vllm-batch``, ``local``, ``kg-summary``) or a backend object
        (:class:`~cikgwb.knowledge.backends.protocol.Backend`).
    users, limit : which users (default all, in id order), and at most how many of them.
    template : template name, ``name@vN`` or YAML path (default: the authors' prompt).
    max_tokens, temperature : sampling parameters (the authors': 1000, API default).
    history_len, split : last N titled training items; ``"train"`` or ``"train_full"``.
    run_dir, store : output folder, and the answer store path (default ``run_dir/answers.sqlite``).
    reask : reasons (a subset of ``("empty", "refusal")``) whose stored answers are asked again.
    progress : show a progress bar (backends that have one).
    **options : the backend's options, for a backend given by name (its constructor's
        keywords, e.g. ``model``, ``base_url``, ``api_key``, ``concurrency``, ``timeout``,
        ``max_attempts`` for chat; ``poll_interval``, ``max_rounds`` for batch; ``path`` for
        vllm-batch; ``model``, ``threads``, ``parallel``, ``port``, ``n_ctx`` for local). An
        option given as None is not set; one the backend does not take is an error.
    """
    bad = sorted(set(reask) - set(REASKABLE))
    if bad:
        raise ValueError(f"reask: {bad} not allowed (only {list(REASKABLE)})")
    started = time.time()
    sel = select_users(ds, users, limit)
    tpl = load_template(template)
    params = sampling_params(max_tokens, temperature)
    be = _backend(backend, options, progress)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(ds.name, getattr(be, "run_folder", be.name))
    run_dir.mkdir(parents=True, exist_ok=True)
    job = Job(
        ds=ds,
        users=sel,
        histories=user_histories(ds, max_items=history_len, split=split, users=sel),
        history_len=history_len,
        split=split,
        template=tpl,
        params=params,
        store_path=Path(store) if store is not None else run_dir / "answers.sqlite",
        run_dir=run_dir,
        reask=tuple(reask),
    )
    run = be.answer(job)
    df, parsed = _answer_table(be, job, run)
    report = _report(be, job, run, parsed, started)
    write_answers(df, run_dir / "answers.jsonl")
    atomic_write_text(run_dir / "report.json", json.dumps(report, indent=1, default=str) + "\n")
    df.attrs["report"] = report
    return df


def _backend(backend: Any, options: dict[str, Any], progress: bool) -> Any:
    """The backend object: ``backend`` made by name with ``options`` (and ``progress`` where it
    takes one), or ``backend`` itself (then ``options`` must be empty)."""
    from .backends import backend_options, make_backend

    if isinstance(backend, str):
        if "progress" in backend_options(backend):
            options.setdefault("progress", progress)
        return make_backend(backend, **options)
    if options:
        raise ValueError(
            f"options {sorted(options)} are for a backend given by name; "
            f"pass them to the {type(backend).__name__} you built"
        )
    return backend


def _answer_table(be: Any, job: Job, run: Any) -> tuple[pd.DataFrame, list[Any]]:
    """The answers table (``TABLE_COLUMNS``, one row per user asked) and each user's parsed answer;
    a backend that left a user unanswered is an error."""
    sel = job.users
    missing = [u for u in sel if u not in run.answers]
    if missing:
        raise RuntimeError(
            f"backend {be.name!r} gave no Answer for {len(missing)} of the {len(sel)} users "
            f"asked (first: user {missing[0]}); Backend.answer must answer every user of job.users"
        )
    parsed = [run.answers[u].parsed(job, u) for u in sel]
    rows = [
        (u, p.phrases, run.answers[u].raw, run.answers[u].source, p.reason, run.answers[u].template)
        for u, p in zip(sel, parsed)
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), parsed


def _report(be: Any, job: Job, run: Any, parsed: list[Any], started: float) -> dict[str, Any]:
    """``report.json``: what was asked of which backend, the run's figures, usable users, parse
    reasons and (an LLM's) echo rates."""
    report: dict[str, Any] = {
        "dataset": job.ds.name,
        "backend": be.name,
        "users asked": len(job.users),
        "history": {"max_items": job.history_len, "split": job.split},
        **run.report,
    }
    if be.is_llm:
        report["echo"] = echo_report((job.template.id, p) for p in parsed)
    counts = summarise(parsed)
    usable = int(sum(p.usable for p in parsed))
    return report | {
        "source": be.source,
        "run": run.summary(),
        "usable users": usable,
        "usable fraction": usable / max(1, len(job.users)),
        "reasons": counts["reasons"],
        "parse notes": counts["notes"],
        "elapsed_s": round(time.time() - started, 3),
        "run dir": str(job.run_dir),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def export_batch(
    ds: Any,
    path: str | Path,
    *,
    users: Any = None,
    limit: int | None = None,
    template: Template | str | None = None,
    model: str | None = None,
    max_tokens: int = 1000,
    temperature: float | None = None,
    history_len: int = HISTORY_LEN,
    split: str = "train",
) -> tuple[Path, int]:
    """Write the batch input JSONL for ``vllm run-batch`` (or a manual upload); no key needed."""
    from .backends.batch import export_requests
    from .settings import DEFAULT_MODEL, resolve_settings

    mdl = model
    if mdl is None:
        try:
            mdl = resolve_settings(base_url="http://localhost/v1").model
        except ValueError:
            mdl = DEFAULT_MODEL
    reqs, _ = build_requests(
        ds, mdl, template, select_users(ds, users, limit), sampling_params(max_tokens, temperature), history_len, split
    )
    return export_requests(reqs, path), len(reqs)
