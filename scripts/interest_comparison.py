"""Does the LLM's knowledge matter? CIKGRec on several interest graphs, side by side (issues 15, 33).

    python scripts/interest_comparison.py [--dataset book-crossing|dbbook2014|all] [--runs-root reports/runs] [--screen]

writes, per dataset, ``reports/interests/<dataset>/comparison.md`` and ``comparison.json`` (the valid
protocol: four graphs, issue 15) and ``comparison-users.md`` / ``comparison-users.json`` (the users
protocol, which no graph built from all of train.txt can leak into: the six graphs (a)-(f) of
issue 33, with the structural controls): test metrics at each run's selected epoch as mean +- std
over the seeds that have finished, and paired tests of each graph against "none" (w/o UIK) and of
the pairs each protocol asks about (:func:`cikgwb.compare.compare_sides`), Holm-adjusted as one
family per dataset and protocol; the users report ends with the answer to each question. Beside it,
``screen-users.md`` / ``screen-users.json``: the graph screen (:mod:`cikgwb.knowledge.screen`), each
graph's figures measured without training (``screen-users-measured.json``, made by ``--screen``:
``cikgwb graph screen`` again on the graphs whose edge file changed) against its trained gain over
(d), with their rank correlation (``tests/test_graph_screen.py`` checks both against their inputs).
Only the committed files are read (no per-user file is rebuilt from a checkpoint), so the report
is a function of the committed runs: ``make reports`` writes every dataset's, and
``tests/test_claims.py`` fails when a committed report differs from what :func:`build` makes of
the committed runs. A side whose runs have not finished reads "missing".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cikgwb.compare import _json_safe, compare_sides, sides_markdown  # noqa: E402
from cikgwb.knowledge.screen import (  # noqa: E402
    FIGURES,
    MIN_GRAPHS,
    correlations,
    edge_sha256,
    measured_record,
    paired_gains,
    stale_graphs,
)
from cikgwb.runs import PROVENANCE_MARKS, provenance_flags  # noqa: E402

GRAPHS = "reports/interests/{ds}/graphs"
#: (label, run stem, interest graph folder or None, what it is)
SIDES = {
    "book-crossing": [
        (
            "(a) released gpt-3.5",
            "book-crossing-cikgrec-valid",
            None,
            "the authors' released graph (gpt-3.5-turbo-0125)",
        ),
        (
            "(b) local LLM",
            "book-crossing-cikgrec-valid-interests-localllm-ok",
            "local-smollm2-v3-ok-minilm-kmeans-k350-s0",
            "SmolLM2-135M-Instruct (Q4_1, llama.cpp, few-shot-small@v3) answers -> MiniLM + KMeans, kappa 350",
        ),
        (
            "(c) kg-summary",
            "book-crossing-cikgrec-valid-interests-kgsummary-minilm",
            "kg-summary-minilm-kmeans-k350-s0",
            "KG attributes and title words per user, NOT an LLM -> MiniLM + KMeans, kappa 350",
        ),
        ("(d) none", "book-crossing-cikgrec-wo-uik-valid", None, "no interest graph (Table 3 w/o UIK)"),
    ],
    "dbbook2014": [
        (
            "(a) released gpt-3.5",
            "dbbook2014-cikgrec-valid",
            None,
            "the authors' released graph (gpt-3.5-turbo-0125)",
        ),
        (
            "(b) local LLM",
            "dbbook2014-cikgrec-valid-interests-localllm-ok",
            "local-smollm2-v3-ok-minilm-kmeans-k150-s0",
            "SmolLM2-135M-Instruct (Q4_1, llama.cpp, few-shot-small@v3) answers -> MiniLM + KMeans, kappa 150 "
            "(only 262 distinct phrases, so the authors' 350 is impossible)",
        ),
        (
            "(c) kg-summary",
            "dbbook2014-cikgrec-valid-interests-kgsummary-minilm",
            "kg-summary-minilm-kmeans-k350-s0",
            "KG attributes and title words per user, NOT an LLM -> MiniLM + KMeans, kappa 350",
        ),
        ("(d) none", "dbbook2014-cikgrec-wo-uik-valid", None, "no interest graph (Table 3 w/o UIK)"),
    ],
}
#: the users protocol (issue 33): the released graph, a local LLM's and kg-summary's graphs made from
#: the same window (all of train.txt), no graph, and the two structural controls; (label, run stem
#: (the lanes' names, scripts/campaign/graphs.txt), graph folder, what it is)
_LLM = "SmolLM2-135M-Instruct (Q4_1, llama.cpp, few-shot-small@v3) answers from all of train.txt -> MiniLM + KMeans"
_KGS = "KG attributes and title words per user from all of train.txt, NOT an LLM -> MiniLM + KMeans, kappa 350"
_REW = (
    "(a) rewired: every user keeps its number of interests and every interest its users' count, edges swapped (seeded)"
)
_COOC = "interests that are KMeans clusters of item factors of the train matrix (no text), (a)'s number of interests"
USERS_GRAPHS = {
    "book-crossing": {"b": "local-smollm2-v3-train-full-minilm-kmeans-k350-s0", "f": "cooc-svd-kmeans-k244-s0"},
    "dbbook2014": {"b": "local-smollm2-v3-train-full-minilm-kmeans-k150-s0", "f": "cooc-svd-kmeans-k381-s0"},
}
SIDES_USERS = {
    ds: [
        ("(a) released gpt-3.5", f"{ds}-cikgrec-users", None, "the authors' released graph (gpt-3.5-turbo-0125)"),
        ("(b) local LLM", f"{ds}-cikgrec-users-interests-localllm-trainfull", g["b"], _LLM),
        (
            "(c) kg-summary",
            f"{ds}-cikgrec-users-interests-kgsummary-trainfull",
            "kg-summary-train-full-minilm-kmeans-k350-s0",
            _KGS,
        ),
        ("(d) none", f"{ds}-cikgrec-wo-uik-users", None, "no interest graph (w/o UIK)"),
        ("(e) rewired", f"{ds}-cikgrec-users-interests-rewired", "released-rewired-s0", _REW),
        ("(f) co-occurrence", f"{ds}-cikgrec-users-interests-cooc", g["f"], _COOC),
    ]
    for ds, g in USERS_GRAPHS.items()
}
#: the questions of issue 33, each a list of (A, B) pairs: "does A beat B"
QUESTIONS = [
    (
        "Does any graph beat no graph?",
        [
            (x, "(d) none")
            for x in ("(a) released gpt-3.5", "(b) local LLM", "(c) kg-summary", "(e) rewired", "(f) co-occurrence")
        ],
    ),
    (
        "Does the released graph's knowledge beat structure alone and collaboration alone?",
        [("(a) released gpt-3.5", "(e) rewired"), ("(a) released gpt-3.5", "(f) co-occurrence")],
    ),
    ("Does an LLM beat a knowledge-graph summary?", [("(a) released gpt-3.5", "(c) kg-summary")]),
    ("Does the small local LLM's graph beat no graph?", [("(b) local LLM", "(d) none")]),
]
_USERS_PAIRS = [pair for _, pairs in QUESTIONS[1:3] for pair in pairs]
_VS_RELEASED = [("(b) local LLM", "(a) released gpt-3.5"), ("(c) kg-summary", "(a) released gpt-3.5")]
EXTRA_PAIRS = {"book-crossing": _VS_RELEASED, "dbbook2014": _VS_RELEASED}
NOTES = {
    "book-crossing": [
        "A first (b) run, `book-crossing-cikgrec-valid-interests-localllm-s0`, used the local-LLM graph built "
        "before a fix (local-smollm2-v3-minilm-kmeans-k350-s0: the raw text of 53 answers the parser had "
        "rejected, mostly echoed titles, entered as phrases; 232 interests): R@50 0.1588. It is kept, "
        "not counted here.",
    ],
}
#: the tested metrics: their tests are the comparison's family (Holm)
TESTED = ("recall@50", "ndcg@50")


def graph_note(ds: str, folder: str | None) -> str:
    if folder is None:
        return ""
    prov_file = ROOT / GRAPHS.format(ds=ds) / folder / "provenance.json"
    if not prov_file.is_file():
        return "not built yet"
    c = json.loads(prov_file.read_text())["counts"]
    return f"{c['interests']} interests, {c['edges']:,} edges, {c['users_with_interests']:,} users with interests"


def _used(res: dict, runs_root: Path) -> list[str]:
    """One line per run the comparison read: name, selected epoch, stop reason, commit (with its
    provenance flags, :func:`cikgwb.runs.provenance_flags`), machine, interests."""
    used = []
    for row in res["sides"]:
        for s in row["seeds"]:
            m = json.loads((runs_root / f"{row['spec']}-s{s}" / "metrics.json").read_text())
            mach = m.get("machine") or {}
            flags = provenance_flags(m)
            used.append(
                f"{m['name']}: selected epoch {m['selected_epoch']} of {m.get('epochs_run')} ({m.get('stop_reason')}); "
                f"commit {str(m.get('git_commit'))[:7]}"
                + (f" (FLAGGED: {'; '.join(PROVENANCE_MARKS[f] for f in flags.split(','))})" if flags else "")
                + f"; {mach.get('cpu', '?')} x{mach.get('cpu_count', '?')}, "
                f"{mach.get('torch_threads', '?')} thread(s), {m.get('device')}; interests: {m.get('interests')}"
            )
    return used


PROTOCOL_TEXT = {
    "valid": "valid protocol (selection on the validation split, test once at the selected epoch)",
    "users": "users protocol (trained on all of train.txt; the epoch selected on the test items of a seeded "
    "half of the test users, split_seed = seed; reported once on the other half)",
}


def sides_of(ds: str, protocol: str) -> list[tuple[str, str, str | None, str]]:
    return (SIDES if protocol == "valid" else SIDES_USERS)[ds]


def answers(res: dict) -> list[str]:
    """One line per question of :data:`QUESTIONS`: each pair's verdict from the Holm-adjusted tests
    over paired seeds (a verdict needs :data:`~cikgwb.claims.MIN_PAIRED` paired seeds and both tested
    metrics on one side of zero at Holm p < ALPHA), with the over-users reading beside it."""
    from cikgwb.claims import MIN_PAIRED
    from cikgwb.compare import ALPHA

    tests = {(t["a"], t["b"]): t for t in res["tests"]}
    out = []
    for question, pairs in QUESTIONS:
        parts = []
        for a, b in pairs:
            t = tests.get((a, b))
            if t is None or not t["seed_rows"] and not t["user_rows"]:
                parts.append(f"{a} vs {b}: no paired runs yet (a side has no finished run)")
                continue
            seed = {r["metric"]: r for r in t["seed_rows"] if "p_holm" in r}
            user = {r["metric"]: r for r in t["user_rows"] if "p_holm" in r}
            n = len(t["seeds"])
            signs = {(r["mean_diff"] > 0) for r in seed.values() if r["p_holm"] < ALPHA}
            if n < MIN_PAIRED:
                verdict = f"undecided: {n} paired seed(s), a verdict needs {MIN_PAIRED}"
            elif (
                len(seed) == len(res["tested"]) and all(r["p_holm"] < ALPHA for r in seed.values()) and len(signs) == 1
            ):
                verdict = "yes" if signs == {True} else "no: it is behind"
            else:
                verdict = "not shown (no Holm-significant difference over seeds in both metrics)"
            over_users = ", ".join(f"{m} {r['mean_diff']:+.4f} (Holm p {r['p_holm']:.2g})" for m, r in user.items())
            parts.append(f"{a} vs {b}: {verdict}" + (f"; over users {over_users}" if over_users else ""))
        out.append(f"- **{question}** " + "; ".join(parts) + ".")
    return out


def result(ds: str, runs_root: Path, protocol: str = "valid") -> dict:
    """:func:`cikgwb.compare.compare_sides` of ``ds``'s sides under ``protocol`` (runs under ``runs_root``)."""
    extra = EXTRA_PAIRS.get(ds, ()) if protocol == "valid" else _USERS_PAIRS
    return compare_sides(
        [(lab, stem) for lab, stem, _, _ in sides_of(ds, protocol)],
        reference="(d) none",
        runs_root=runs_root,
        extra_pairs=extra,
        tested=TESTED,
        compute_missing=False,
    )


def build(ds: str, runs_root: Path, protocol: str = "valid", res: dict | None = None) -> tuple[str, str]:
    """``(md, json)`` texts of ``ds``'s comparison under ``protocol`` from the runs under ``runs_root``
    (``res``: their :func:`result`, when already computed)."""
    sides = sides_of(ds, protocol)
    res = res if res is not None else result(ds, runs_root, protocol)
    lines = [
        f"# Does the LLM's knowledge matter? CIKGRec on {len(sides)} interest graphs ({ds}, {protocol} protocol)",
        "",
        f"Dataset {ds}; {PROTOCOL_TEXT[protocol]}; the authors' hyper-parameters, to early stop (min 30 epochs, "
        "patience 10); test metrics as mean ± std over the seeds listed. Paired tests: over users (each user's "
        "metric averaged over the paired seeds; Wilcoxon signed-rank) and over seeds (paired t) where two or more "
        f"seeds are shared; the {res['family']} tests of the second table are one family, Holm-adjusted. A side "
        "with one seed gives no verdict on its graph (a test over users then compares two trained models).",
        "",
        "| side | run stem | interest graph |",
        "|---|---|---|",
        *[
            f"| {lab} | `{stem}` | {what}"
            + (f"; {graph_note(ds, g)} (`{GRAPHS.format(ds=ds)}/{g}`)" if g else "")
            + " |"
            for lab, stem, g, what in sides
        ],
        "",
        sides_markdown(res),
    ]
    if protocol == "users":
        lines += ["## The answer (issue 33)", "", *answers(res), ""]
    lines += [
        "Runs used:",
        "",
        *[f"- {u}" for u in _used(res, runs_root)],
        "",
        *[f"Note: {n}" for n in (NOTES.get(ds, []) if protocol == "valid" else [])],
        "",
        f"Made by `python scripts/interest_comparison.py --dataset {ds}` from the committed runs in reports/runs.",
        "",
    ]
    return "\n".join(lines), json.dumps(_json_safe(res), indent=2, default=str) + "\n"


# ----------------------------------------------------------------------------- the screen (issue 33)
#: the screen's files in reports/interests/<dataset>/: what `cikgwb graph screen` measured (made again
#: only for a graph whose edge file changed: ``--screen``), and the report joining it with the runs
SCREEN_MEASURED, SCREEN = "screen-users-measured.json", "screen-users"
#: the gain the screen is read against: report-half test Recall@50 over (d), paired by seed
GAIN_METRIC = "recall@50"
_SPEC = {"(a) released gpt-3.5": "paper", "(d) none": "none"}
_HEAD = dict(FIGURES)


def screen_graphs(ds: str) -> list[tuple[str, str, str | None]]:
    """``(label, spec, sha256 now)`` of each users-protocol side: ``paper`` (its sha256 as recorded
    in released-names/provenance.json, so no data is read), ``none`` (None) or the graph folder
    relative to the project ("absent" where it is not built yet)."""
    out = []
    for lab, _, folder, _ in SIDES_USERS[ds]:
        spec = _SPEC.get(lab) or f"{GRAPHS.format(ds=ds)}/{folder}"
        if spec == "paper":
            sha = json.loads(_prov_file(ds, spec).read_text())["graph"]["sha256"]
        elif spec == "none":
            sha = None
        else:
            f = ROOT / spec / "user_interest_clustered.txt"
            sha = edge_sha256(f) if f.is_file() else "absent"
        out.append((lab, spec, sha))
    return out


def _prov_file(ds: str, spec: str) -> Path:
    if spec == "paper":
        return ROOT / "reports" / "interests" / ds / "released-names" / "provenance.json"
    return ROOT / spec / "provenance.json"


def measure_screen(ds: str, out: Path, force: bool = False) -> bool:
    """Run ``cikgwb graph screen`` (users protocol, split seed 0) on ``ds``'s built graphs into
    ``out/SCREEN_MEASURED`` when a graph is not measured or its edge file changed (or ``force``);
    needs the dataset ($CIKGWB_DATA_DIR). True when it measured."""
    import subprocess
    import tempfile

    graphs = [(s, h) for _, s, h in screen_graphs(ds) if h != "absent"]
    f = out / SCREEN_MEASURED
    measured = json.loads(f.read_text()) if f.is_file() else None
    if not force and not stale_graphs(measured, dict(graphs)):
        return False
    specs = [s for s, _ in graphs]
    argv = ["graph", "screen", *specs, "--dataset", ds, "--protocol", "users", "--split-seed", "0"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "cikgwb", *argv, "--out", f"{tmp}/s.json"], cwd=ROOT, check=True)
        payload = json.loads(Path(tmp, "s.json").read_text())
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "cikgwb"], capture_output=True, text=True).stdout.strip()
    command = "cikgwb " + " ".join(argv) + f" --out {SCREEN_MEASURED}"
    rec = measured_record(payload, specs, [h for _, h in graphs], command, commit + ("+dirty" if dirty else ""))
    f.write_text(json.dumps(_json_safe(rec), indent=2) + "\n", encoding="utf-8")
    return True


def _queue_lines(stem: str) -> str:
    """Where ``stem``'s runs are queued: the queue file and its seeds, or that none queues it."""
    for q in sorted((ROOT / "scripts" / "campaign").glob("*.txt")):
        seeds = [ln.split()[1] for ln in q.read_text().splitlines() if ln.split()[:1] == [stem]]
        if seeds:
            return f"`make campaign QUEUE={q.relative_to(ROOT)}` (seeds {', '.join(seeds)})"
    return f"no queue in scripts/campaign has `{stem}` yet (add it once the graph is built)"


def _screen_rows(ds: str, res: dict, measured: dict | None) -> list[dict]:
    """One row per side: status, what the graph was built from, the measured figures, the gain."""
    have = {g["spec"]: g for g in (measured or {}).get("graphs", [])}
    gains = paired_gains(res["sides"], "(d) none", GAIN_METRIC)
    stems = {lab: stem for lab, stem, _, _ in SIDES_USERS[ds]}
    rows = []
    for lab, spec, sha in screen_graphs(ds):
        g = have.get(spec)
        status = (
            "no graph" if spec == "none" else "not built yet" if sha == "absent" else "not measured" if g is None
            else "STALE (edge file changed)" if g.get("sha256") != sha else "measured"
        )  # fmt: skip
        prov = _prov_file(ds, spec) if spec != "none" else None
        window = json.loads(prov.read_text()).get("window", {}) if prov and prov.is_file() else {}
        row = {"label": lab, "spec": spec, "status": status, "built_from": window.get("summary", "")}
        row |= {k: g.get(k) for k in _HEAD} if status == "measured" else {}
        row |= {"verdict": g.get("verdict")} if status == "measured" else {}
        trained = next(x for x in res["sides"] if x["label"] == lab)
        row |= {"trained_seeds": trained["seeds"], "trained": (trained.get(GAIN_METRIC) or {}).get("mean")}
        gain = gains.get(lab) if lab != "(d) none" else None
        row |= {"seeds": gain["seeds"], "gain": gain["gain"]} if gain else {}
        if lab != "(d) none" and not gain:
            miss = [x for x in (lab, "(d) none") if not trained_seeds(res, x)]
            row["missing"] = "; ".join(f"{x} has no finished run: {_queue_lines(stems[x])}" for x in miss) or (
                "no seed in common with (d)"
            )
        rows.append(row)
    return rows


def trained_seeds(res: dict, label: str) -> list[int]:
    return next((x["seeds"] for x in res["sides"] if x["label"] == label), [])


def _gain_line(r: dict) -> str:
    seeds = ", ".join(map(str, r["trained_seeds"])) or "none"
    mean = f"{r['trained']:.4f}" if r.get("trained") is not None else ""
    if r["label"] == "(d) none":
        return f"| {r['label']} | {seeds} | {mean} | (the reference) | |"
    if "gain" in r:
        return f"| {r['label']} | {seeds} | {mean} | {', '.join(map(str, r['seeds']))} | {r['gain']:+.4f} |"
    return f"| {r['label']} | {seeds} | {mean} | MISSING: {r['missing']} | |"


def _rho_line(rho: dict) -> str:
    counts = {v["graphs"] for v in rho.values()}
    if all(v["rho"] is None for v in rho.values()) and len(counts) == 1:
        return (
            f"Spearman rank correlation with the gain: n/a for every figure: {counts.pop()} graph(s) have a "
            f"gain over (d), {MIN_GRAPHS} needed."
        )
    return (
        f"Spearman rank correlation with the gain (n/a below {MIN_GRAPHS} graphs with a gain): "
        + "; ".join(
            f"{_HEAD[k]} {_cell(v['rho'], '+.2f') if v['rho'] is not None else 'n/a'} ({v['graphs']} graphs)"
            for k, v in rho.items()
        )
        + "."
    )


def _cell(v, fmt: str = ".3f") -> str:
    return "" if v is None else f"{v:{fmt}}" if isinstance(v, float) else str(v)


def build_screen(ds: str, res: dict, out: Path | None = None) -> tuple[str, str]:
    """``(md, json)`` texts of ``ds``'s users-protocol screen: the measured figures of each graph
    (``out/SCREEN_MEASURED``) against its gain over (d) from the runs' :func:`result` ``res``."""
    out = out or ROOT / "reports" / "interests" / ds
    f = out / SCREEN_MEASURED
    measured = json.loads(f.read_text()) if f.is_file() else None
    rows = _screen_rows(ds, res, measured)
    gains = {r["label"]: r for r in rows if "gain" in r and r["status"] == "measured"}
    rho = correlations([r for r in rows if r["status"] == "measured"], gains, list(_HEAD))
    m = measured or {}
    lines = [
        f"# The graph screen of {ds} under the users protocol: which interest graph is worth a training run?",
        "",
        "Issue 33's screen, measured without training (`cikgwb graph screen`, `cikgwb/knowledge/leak.py`): per "
        "graph, its specificity (users per interest; share of the edges on the 10 most common interests; entropy "
        "of the edges over interests over its maximum; entropy of the phrases clustered into it, where it has "
        "phrases), its leak ratio under the users protocol (interest-neighbour R@50 on the selection half over "
        "the report half; lift = that over the clean control's) and the interest-neighbour R@50 on the "
        "selection half (what the users sharing an interest with a user trained on, ranked). Beside them, "
        f"each graph's trained gain: CIKGRec's report-half test {GAIN_METRIC} on the graph minus (d) no graph, "
        "mean over the seeds both have (the paired tests are in comparison-users.md), and the Spearman rank "
        f"correlation of each figure with the gain, from {MIN_GRAPHS} graphs with a gain.",
        "",
        f"Measured: `{m.get('command', 'not yet: python scripts/interest_comparison.py --dataset ' + ds + ' --screen')}`"
        f" (split seed {m.get('split_seed', 0)}, code {str(m.get('code_commit', '?'))[:12]}, "
        f"{m.get('measured_at', 'never')}; `{SCREEN_MEASURED}`).",
        "",
        "| side | graph | status | built from (provenance) | " + " | ".join(_HEAD.values()) + " | verdict |",
        "|---" * (len(_HEAD) + 5) + "|",
        *[
            f"| {r['label']} | `{Path(r['spec']).name}` | {r['status']} | {r['built_from']} | "
            + " | ".join(
                _cell(r.get(k), ".1f" if k in ("users_per_interest", "phrase_entropy") else ".3f") for k in _HEAD
            )
            + f" | {_cell(r.get('verdict'))} |"
            for r in rows
        ],  # fmt: skip
        "",
        f"| side | seeds trained | {GAIN_METRIC} (mean over them) | seeds paired with (d) | gain over (d) |",
        "|---|---|---|---|---|",
        *[_gain_line(r) for r in rows],
        "",
        _rho_line(rho),
        "",
        *SCREEN_NOTES,
        "",
        f"Made by `python scripts/interest_comparison.py --dataset {ds}` (make reports) from `{SCREEN_MEASURED}` "
        "and the committed runs in reports/runs; `--screen` measures again the graphs whose edge file changed.",
        "",
    ]
    js = {"dataset": ds, "protocol": "users", "gain_metric": GAIN_METRIC, "measured": {k: v for k, v in m.items()
          if k != "graphs"}, "graphs": rows, "spearman": rho}  # fmt: skip
    return "\n".join(lines), json.dumps(_json_safe(js), indent=2) + "\n"


SCREEN_NOTES = [
    "What the screen cannot say:",
    "",
    "- Under the users protocol the leak ratio compares two halves of the test users. A graph built from "
    'test.txt would lift both halves alike and still read clean, so "clean" here means only that no graph '
    "favours the selection half. That each graph saw all of train.txt and never test.txt is read from its "
    'provenance (the column "built from": the code that built it, and for the released graph the valid-protocol '
    "diagnostic, whose reference split is test).",
    "- Phrase entropy exists only for graphs clustered from phrases ((b) and (c)): the released graph's "
    "answers were not released, and (e) and (f) have no text.",
    "- The figures are measured at split seed 0; the runs use split seed = seed, so their selection halves differ.",
    "- A rank correlation over a handful of graphs is a screen, not a test: with 5 graphs only rho = +-1 reaches "
    "p < 0.05.",
]

#: (protocol, file stem) of each dataset's reports
REPORTS = (("valid", "comparison"), ("users", "comparison-users"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="book-crossing", choices=[*sorted(SIDES), "all"])
    ap.add_argument("--runs-root", default=str(ROOT / "reports" / "runs"))
    ap.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET)")
    ap.add_argument(
        "--screen",
        action="store_true",
        help=f"first measure the graph screen (cikgwb graph screen, minutes; needs $CIKGWB_DATA_DIR) into "
        f"{SCREEN_MEASURED} where a graph is not measured or its edge file changed",
    )
    args = ap.parse_args()
    if args.out and args.dataset == "all":
        ap.error("--out takes one dataset, not --dataset all")
    for ds in sorted(SIDES) if args.dataset == "all" else [args.dataset]:
        out = Path(args.out) if args.out else ROOT / "reports" / "interests" / ds
        out.mkdir(parents=True, exist_ok=True)
        if args.screen and measure_screen(ds, out):
            print(f"measured the screen of {ds}: {out / SCREEN_MEASURED}")
        for protocol, stem in REPORTS:
            res = result(ds, Path(args.runs_root), protocol)
            md, js = build(ds, Path(args.runs_root), protocol, res)
            (out / f"{stem}.md").write_text(md, encoding="utf-8")
            (out / f"{stem}.json").write_text(js, encoding="utf-8")
            print(md)
            print(f"wrote {out / f'{stem}.md'}, {out / f'{stem}.json'}")
        md, js = build_screen(ds, res, out)
        (out / f"{SCREEN}.md").write_text(md, encoding="utf-8")
        (out / f"{SCREEN}.json").write_text(js, encoding="utf-8")
        print(md)
        print(f"wrote {out / f'{SCREEN}.md'}, {out / f'{SCREEN}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
