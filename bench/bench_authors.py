"""Back to back on one machine: one book-crossing epoch of the authors' own CIKGRec code
(laowangzi/CIKGRec at a pinned commit) and two of ``cikgwb train`` with the same settings
(the authors' protocol and views), at a given number of threads; prints the ratio with the
date, the machine (CPU model) and the threads.

    make bench-authors AUTHORS=/path/to/CIKGRec [THREADS=2] [AUTHORS_PY=/path/to/python]
    python bench/bench_authors.py --authors /path/to/CIKGRec --threads 2

Nothing of the authors' code is kept in this repository: the checkout is copied to a temporary
folder and three changes are made there at run time (:data:`CHANGES`), refused if the checkout is
not at the pinned commit or a change does not apply:

1. the device: ``cuda:<gpu_id>`` -> ``cpu`` (their train.py hard-codes CUDA);
2. one epoch timed: after the first epoch's training (the BPR / contrast / reconstruction batches
   and, where ``use_kge`` is on, the TransE batches; not the evaluation) the script prints the
   seconds and exits. ``cikgwb``'s ``epoch_seconds`` counts the same part of its epochs.
3. Python 3.11: the TransE batches' ``random.sample(kg_dict.keys(), n)`` (utils.py), which the
   Pythons the authors tested under (3.8) turned into ``tuple(...)`` themselves and 3.11 refuses,
   is given that tuple: the same draw as there.

The authors' code needs ``torch_geometric``, ``pandas``, ``tqdm``, ``prettytable`` and ``nltk``
(imported, never used in training): ``--authors-python`` (default: this Python) must have them.
Each side runs in its own process with ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` set to
``--threads``; ours first builds nothing but its run folder in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cikgwb.provenance import cpu_model  # noqa: E402  (one definition of the CPU's name)

REPO = Path(__file__).resolve().parents[1]
PINNED_COMMIT = "4cd310f605e8857883a508170e6753dcb05c4e98"  # laowangzi/CIKGRec main, 2025-02-23
AUTHORS_URL = "https://github.com/laowangzi/CIKGRec"

# (file, pattern, replacement): applied with re.subn to the temporary copy, each exactly once
CHANGES = [
    ("train.py", r"config\['device'\] = f'cuda:\{args\.gpu_id\}'", "config['device'] = 'cpu'  # bench_authors: CPU"),
    (
        "train.py",
        r"\n(    if \(epoch\+1\) % config\['eval_interval'\] == 0:)",
        (
            "\n    print(f'BENCH_AUTHORS_EPOCH_SECONDS {time.time() - start:.3f}', flush=True)  # bench_authors\n"
            "    raise SystemExit(0)  # bench_authors: one epoch timed\n\\1"
        ),
    ),
    (
        "utils.py",
        r"random\.sample\(exist_heads, batch_size\)",
        "random.sample(tuple(exist_heads), batch_size)  # bench_authors: what Python <= 3.10 did",
    ),
]


def authors_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# only with --max-batches N (a busy machine): the epoch's recommendation batches stop after N and
# their time is extrapolated to the epoch's number of batches (labelled so in the output); the
# TransE batches that follow (use_kge) run in full and count once
BATCH_CAP = (
    "train.py",
    r"\n(        loss_list\.append\(loss\.detach\(\)\.cpu\(\)\.numpy\(\)\)\n)",
    (
        "\n\\1        if len(loss_list) >= {n}:  # bench_authors --max-batches\n"
        "            print(f'BENCH_AUTHORS_BATCHES {{len(loss_list)}} OF {{len(train_loader)}} "
        "{{time.time() - start:.3f}}', flush=True)\n"
        "            break\n"
    ),
)


def prepare_authors(src: Path, dest: Path, dataset: str, allow_other_commit: bool, max_batches: int = 0) -> str:
    """Copy the checkout (code, config and the one dataset) to ``dest`` and apply :data:`CHANGES`."""
    if not (src / "train.py").is_file() or not (src / "models" / "Model.py").is_file():
        raise SystemExit(f"--authors {src}: not a checkout of {AUTHORS_URL} (no train.py / models/Model.py)")
    commit = authors_commit(src)
    if commit != PINNED_COMMIT and not allow_other_commit:
        raise SystemExit(
            f"--authors {src}: checkout at {commit or 'an unknown commit'}, expected the pinned "
            f"{PINNED_COMMIT} (git -C {src} checkout {PINNED_COMMIT}; or --allow-other-commit)"
        )
    if not (src / "data" / dataset / "train.txt").is_file():
        raise SystemExit(f"--authors {src}: no data/{dataset}/train.txt in the checkout")
    for name in ("train.py", "utils.py", "evaluate.py"):
        shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "models", dest / "models")
    shutil.copytree(src / "config", dest / "config")
    shutil.copytree(src / "data" / dataset, dest / "data" / dataset)
    changes = CHANGES + ([(BATCH_CAP[0], BATCH_CAP[1], BATCH_CAP[2].format(n=max_batches))] if max_batches else [])
    for fname, pattern, repl in changes:
        p = dest / fname
        text, n = re.subn(pattern, repl, p.read_text(), count=1)
        if n != 1:
            raise SystemExit(
                f"{src / fname}: the bench's change {pattern!r} did not apply (is this the pinned commit?)"
            )
        p.write_text(text)
    return commit or "unknown"


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_authors(work: Path, python: str, dataset: str, threads: int, timeout: float) -> tuple[float, float]:
    t0 = time.perf_counter()
    p = subprocess.run(
        [python, "train.py", "--dataset", dataset],
        cwd=work,
        env=thread_env(threads),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - t0
    m = re.search(r"BENCH_AUTHORS_EPOCH_SECONDS ([0-9.]+)", p.stdout)
    if p.returncode != 0 or not m:
        tail = "\n".join((p.stdout + p.stderr).splitlines()[-15:])
        raise SystemExit(f"the authors' train.py failed (exit {p.returncode}):\n{tail}")
    secs = float(m.group(1))
    cap = re.search(r"BENCH_AUTHORS_BATCHES (\d+) OF (\d+) ([0-9.]+)", p.stdout)
    if cap:  # --max-batches: the recommendation batches extrapolated to the epoch, the rest once
        cf = float(cap.group(3))
        secs = cf * int(cap.group(2)) / int(cap.group(1)) + (secs - cf)
    return secs, wall


def run_ours(
    tmp: Path, dataset: str, threads: int, epochs: int, extra: list[str], timeout: float
) -> tuple[list[float], float]:
    env = thread_env(threads)
    env["CIKGWB_REPORTS_DIR"] = str(tmp / "reports")
    env["CIKGWB_CHECKPOINT_DIR"] = str(tmp / "checkpoints")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [
        sys.executable,
        "-m",
        "cikgwb",
        "train",
        "--dataset",
        dataset,
        "--protocol",
        "authors",
        "--set",
        "views=authors",
        "--set",
        f"max_epochs={epochs}",
        "--name",
        "bench-authors",
        "--quiet",
        *extra,
    ]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    hist = tmp / "reports" / "runs" / "bench-authors-s0" / "history.jsonl"
    if p.returncode != 0 or not hist.is_file():
        tail = "\n".join((p.stdout + p.stderr).splitlines()[-15:])
        raise SystemExit(f"cikgwb train failed (exit {p.returncode}):\n{tail}")
    secs = [json.loads(line)["epoch_seconds"] for line in hist.read_text().splitlines() if line.strip()]
    return secs, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authors", required=True, type=Path, help=f"a checkout of {AUTHORS_URL} at {PINNED_COMMIT[:10]}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dataset", default="book-crossing")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of ours (the authors': one)")
    ap.add_argument(
        "--authors-python",
        default=sys.executable,
        help="a Python with torch, torch_geometric, pandas, tqdm, prettytable, nltk",
    )
    ap.add_argument("--allow-other-commit", action="store_true")
    ap.add_argument(
        "--max-batches",
        type=int,
        default=0,
        help="time only this many batches of the authors' epoch and extrapolate (a busy machine); 0: the whole epoch",
    )
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per side")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra setting for ours (e.g. precision=bf16)",
    )
    args = ap.parse_args()
    if args.max_batches < 0:
        raise SystemExit(f"--max-batches {args.max_batches}: expected 0 (the whole epoch) or a positive number")
    if args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: expected a positive number")
    if not os.environ.get("CIKGWB_DATA_DIR"):
        raise SystemExit(
            "CIKGWB_DATA_DIR is not set: the folder holding our copy of the datasets (e.g. ../shared/data)"
        )
    extra = [x for kv in args.sets for x in ("--set", kv)]
    with tempfile.TemporaryDirectory(prefix="bench-authors-") as td:
        tmp = Path(td)
        work = tmp / "authors"
        work.mkdir()
        commit = prepare_authors(args.authors.resolve(), work, args.dataset, args.allow_other_commit, args.max_batches)
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        cap = f", the first {args.max_batches} batches timed and extrapolated to the epoch" if args.max_batches else ""
        print(f"authors' code {AUTHORS_URL} @ {commit}, changes: device cpu, one epoch timed{cap}", flush=True)
        load = os.getloadavg()[0]
        a_s, a_wall = run_authors(work, args.authors_python, args.dataset, args.threads, args.timeout)
        print(
            f"authors: {a_s:.1f} s for epoch 1{' (extrapolated)' if args.max_batches else ''} (process {a_wall:.1f} s; "
            f"load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        load = os.getloadavg()[0]
        ours, o_wall = run_ours(tmp, args.dataset, args.threads, args.epochs, extra, args.timeout)
        print(
            f"ours:    {', '.join(f'{s:.1f}' for s in ours)} s for epochs 1..{len(ours)} (process {o_wall:.1f} s; "
            f"load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    try:
        ours_commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        ours_commit = "unknown"
    best = min(ours)
    print(
        f"\n{args.dataset}, authors' protocol and views, {args.threads} thread(s), back to back; "
        f"date {started}; machine: {cpu_model()} ({os.cpu_count()} CPUs), {platform.node()}; "
        f"ours at {ours_commit}{' with ' + ' '.join(args.sets) if args.sets else ''}"
    )
    print(
        f"seconds per epoch: authors {a_s:.1f}{' (extrapolated from ' + str(args.max_batches) + ' batches)' if args.max_batches else ''}, ours {' / '.join(f'{s:.1f}' for s in ours)}: "
        f"ratio {a_s / max(ours):.1f}-{a_s / best:.1f}x (authors / ours)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
