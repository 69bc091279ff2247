"""What an answer store holds so far: speed, tokens, usable and echo rates, sample answers.

:func:`store_summary` reads an answer store READ-ONLY (safe while a run is still writing it) and
parses every answer with the echo rules against the user's own titles and the template's own
words (the titles are rebuilt from the dataset with the same history rule as the run).
:func:`markdown_report` renders it, with provenance, as a small Markdown file; ``cikgwb
interests report`` is the command.

Speed is measured from the answers' ``received_at`` stamps: users/s over the time spent
answering, where a gap of more than ``gap_s`` seconds between two answers (a stopped and resumed
run) is not counted.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .histories import HISTORY_LEN, user_histories
from .parse import EchoChecker, echo_report, parse_answer, summarise
from .templates import item_kind, load_template


def read_store_readonly(path: str | Path) -> list[dict[str, Any]]:
    """Every answer row of a store, opened read-only (no lock, no schema write)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"answer store {path} not found")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        con.row_factory = sqlite3.Row
        rows = [
            dict(r)
            for r in con.execute(
                "SELECT key, user, dataset, model, response_model, template, "
                "backend, raw, usage, finish_reason, requested_at, received_at "
                "FROM answers ORDER BY received_at"
            )
        ]
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{path}: not an answer store ({e})") from None
    finally:
        con.close()
    for r in rows:
        r["usage"] = json.loads(r["usage"]) if r["usage"] else {}
    return rows


def _speed(stamps: list[float], gap_s: float) -> dict[str, Any]:
    stamps = sorted(stamps)
    if len(stamps) < 2:
        return {"answers": len(stamps), "active_s": 0.0, "users_per_s": None, "resumed_gaps": 0}
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    active = sum(g for g in gaps if g <= gap_s)
    return {
        "answers": len(stamps),
        "active_s": round(active, 1),
        "users_per_s": round((len(stamps) - 1) / active, 3) if active > 0 else None,
        "resumed_gaps": sum(g > gap_s for g in gaps),
        "first": datetime.fromtimestamp(stamps[0], timezone.utc).isoformat(timespec="seconds"),
        "last": datetime.fromtimestamp(stamps[-1], timezone.utc).isoformat(timespec="seconds"),
    }


def _parse_store(
    store: str | Path, ds: Any, history_len: int, split: str, templates: dict[str, Any] | None = None
) -> tuple[list, list, dict]:
    """The store's rows of this dataset, each parsed with the echo rules; the histories by user.

    ``templates`` maps template ids to :class:`~cikgwb.knowledge.templates.Template` objects for
    templates that are not built in (YAML files); others are loaded by id.
    """
    rows = [r for r in read_store_readonly(store) if r["dataset"] in (None, ds.name)]
    hist = {h.user: h for h in user_histories(ds, max_items=history_len, split=split)}
    kind = item_kind(ds)
    tpls: dict[str, Any] = dict(templates or {})
    parsed = []
    for r in rows:
        tid = r["template"]
        if tid not in tpls:
            try:
                tpls[tid] = load_template(tid)
            except (ValueError, FileNotFoundError):
                tpls[tid] = None
        t = tpls[tid]
        h = hist.get(int(r["user"]))
        echo = EchoChecker(
            h.titles if h else (), t.prompt_text(kind) if t else None, [a for _, a in t.examples] if t else ()
        )
        parsed.append(parse_answer(r["raw"], echo=echo))
    return rows, parsed, hist


def answered_users(rows: list[dict[str, Any]], hist: dict[int, Any]) -> list[list[int]]:
    """Per stored answer, the users it serves. A request is keyed by its messages, which hold the
    user's titles and not the user's id, so users with the same titled history share one stored
    answer (the row names the first of them asked): every one of them is answered."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for user, h in sorted(hist.items()):
        if h.titles:
            groups[tuple(h.titles)].append(user)
    out = []
    for r in rows:
        h = hist.get(int(r["user"]))
        out.append(list(groups[tuple(h.titles)]) if h and h.titles else [int(r["user"])])
    return out


def answers_table(store: str | Path, ds: Any, *, history_len: int = HISTORY_LEN, split: str = "train") -> Any:
    """The answers table (:func:`~cikgwb.knowledge.infer.write_answers` format) of the users
    answered SO FAR in a store (read-only: safe while a run writes it), parsed with the echo rules."""
    import pandas as pd

    rows, parsed, hist = _parse_store(store, ds, history_len, split)
    recs = sorted(
        (
            (u, p.phrases, r["raw"], f"llm:{r['model']} ({r['backend']})", p.reason, r["template"])
            for r, p, users in zip(rows, parsed, answered_users(rows, hist))
            for u in users
        ),
        key=lambda x: x[0],
    )
    seen: set[int] = set()
    out = []
    for rec in recs:  # one line per user (a store with several templates: the first received)
        if rec[0] not in seen:
            seen.add(rec[0])
            out.append(rec)
    return pd.DataFrame(out, columns=["user", "phrases", "raw", "source", "reason", "template"])


def store_summary(
    store: str | Path,
    ds: Any,
    *,
    history_len: int = HISTORY_LEN,
    split: str = "train",
    sample: int = 20,
    seed: int = 0,
    gap_s: float = 60.0,
) -> dict[str, Any]:
    """Counts, speed, tokens, reasons, echo rates per template and ``sample`` random answers."""
    rows, parsed, hist = _parse_store(store, ds, history_len, split)
    parsed_rows = []
    per_tpl_reasons: dict[str, Counter] = defaultdict(Counter)
    for r, p in zip(rows, parsed):
        tid = r["template"]
        parsed_rows.append((tid, p))
        per_tpl_reasons[tid][p.reason] += 1
    prompt_toks = [int(r["usage"].get("prompt_tokens") or 0) for r in rows]
    compl_toks = [int(r["usage"].get("completion_tokens") or 0) for r in rows]
    usable = sum(p.usable for p in parsed)
    users_with_history = sum(1 for h in hist.values() if h.titles)
    n_answered = len({u for users in answered_users(rows, hist) for u in users})
    rng = random.Random(seed)
    pick = rng.sample(range(len(rows)), min(sample, len(rows))) if rows else []
    samples = []
    for i in sorted(pick, key=lambda i: rows[i]["user"]):
        r, p = rows[i], parsed[i]
        h = hist.get(int(r["user"]))
        samples.append(
            {
                "user": int(r["user"]),
                "titles": list(h.titles) if h else [],
                "raw": r["raw"],
                "phrases": p.phrases,
                "reason": p.reason,
                "echoes": [e for e, _ in p.echoes],
            }
        )
    return {
        "store": str(store),
        "dataset": ds.name,
        "users": int(ds.n_users),
        "users with titled history": users_with_history,
        "answered": n_answered,
        "answered fraction": round(n_answered / max(1, users_with_history), 4),
        "stored answers": len(rows),
        "models": dict(Counter(r["model"] for r in rows)),
        "templates": dict(Counter(r["template"] for r in rows)),
        "speed": _speed([float(r["received_at"]) for r in rows], gap_s),
        "tokens": {
            "prompt mean": round(statistics.fmean(prompt_toks), 1) if rows else None,
            "prompt median": statistics.median(prompt_toks) if rows else None,
            "completion mean": round(statistics.fmean(compl_toks), 1) if rows else None,
            "completion median": statistics.median(compl_toks) if rows else None,
            "prompt total": sum(prompt_toks),
            "completion total": sum(compl_toks),
            "finish reasons": dict(Counter(r["finish_reason"] for r in rows)),
        },
        "usable": usable,
        "usable rate": round(usable / max(1, len(rows)), 4),
        "reasons": summarise(parsed)["reasons"],
        "parse notes": summarise(parsed)["notes"],
        "reasons per template": {k: dict(v) for k, v in per_tpl_reasons.items()},
        "echo": echo_report(parsed_rows),
        "history": {"max_items": history_len, "split": split},
        "sample": samples,
        "sample seed": seed,
    }


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " / ")


def markdown_report(
    summary: dict[str, Any],
    provenance: dict[str, Any] | None = None,
    title: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """A small Markdown report of :func:`store_summary` (plus provenance lines)."""
    s = summary
    sp, tk = s["speed"], s["tokens"]
    out = [f"# {title or 'Local-LLM answers: ' + s['dataset']}", ""]
    if provenance:
        out += ["## Provenance", ""]
        out += [f"- **{k}**: {v}" for k, v in provenance.items()]
        out.append("")
    out += [
        "## Progress and rates",
        "",
        f"- answered: **{s['answered']:,} of {s['users with titled history']:,}** users with a titled "
        f"training history ({100 * s['answered fraction']:.1f}%; the dataset has {s['users']:,} users)"
        + (
            f"; {s['stored answers']:,} stored answers: users with the same titles share one request"
            if s.get("stored answers", s["answered"]) != s["answered"]
            else ""
        ),
        f"- speed: **{sp['users_per_s']} users/s** over {sp['active_s']:,} s of answering "
        f"({sp.get('first', '-')} .. {sp.get('last', '-')}; pauses > 60 s not counted: "
        f"{sp['resumed_gaps']})",
        f"- tokens per user: prompt mean {tk['prompt mean']} (median {tk['prompt median']}), "
        f"answer mean {tk['completion mean']} (median {tk['completion median']}); totals "
        f"{tk['prompt total']:,} / {tk['completion total']:,}; finish reasons {tk['finish reasons']}",
        f"- usable answers: **{s['usable']:,} ({100 * s['usable rate']:.1f}%)**; reasons "
        + ", ".join(f"{k} {v:,}" for k, v in s["reasons"].items()),
        "",
    ]
    out += [
        "### Echo rate per template",
        "",
        "| template | answers | usable rate | echo rate (all phrases echo) | answers with an echo | "
        "echoed phrases | title / prompt echoes | same as a worked example | kept phrases copied "
        "from the examples |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    for tid, e in s["echo"].items():
        out.append(
            f"| {tid} | {e['answers']:,} | {pct(e['usable rate'])} | {pct(e['echo rate'])} | "
            f"{pct(e['answers with an echo'])} | {pct(e['echoed phrases'])} | "
            f"{e['title echoes']:,} / {e['prompt echoes']:,} | {e['same as example']:,} | "
            f"{pct(e.get('example phrases'))} |"
        )
    out += [
        "",
        f"### {len(s['sample'])} random users' answers beside their titles (seed {s['sample seed']})",
        "",
        "| user | titles (training history, last 30) | raw answer | phrases kept | reason |",
        "|---:|---|---|---|---|",
    ]
    for x in s["sample"]:
        titles = "; ".join(x["titles"])
        if len(titles) > 300:
            titles = titles[:297] + "..."
        out.append(
            f"| {x['user']} | {_md_escape(titles)} | {_md_escape(x['raw'])} | "
            f"{_md_escape(', '.join(x['phrases']))} | {x['reason']} |"
        )
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
