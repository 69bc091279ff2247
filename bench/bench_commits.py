"""Back to back: CIKGRec training epochs of this tree against another commit, in one run.

Each side runs in its own process (the other commit from a ``git archive`` of it in a temporary
folder), alternately A, B, A, B, ..., so that both see the same machine load; the script prints
the median seconds per epoch of each side (wall and the process's own CPU time), their ratio,
the load average around each run, and the first batches' losses of each side (equal losses
show the same maths on the real data, to the bit).

    python bench/bench_commits.py --baseline 53603b1 --datasets book-crossing dbbook2014 \\
        [--rounds 2] [--batches 0 (a full epoch)] [--threads 1]

``--batches N`` times N batches after 2 warm-up batches and extrapolates to the epoch (labelled
so); 0 times a whole epoch after the warm-up batches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_LOSSES = 3  # the first batches' losses printed for the same-maths check


def child(root: str, dataset: str, batches: int, threads: int) -> dict:
    """One side: the dataset's default CIKGRec (valid protocol), seed 0; 2 warm-up batches, then
    ``batches`` (0: the rest of the epoch) timed. Runs in a fresh process whose ``cikgwb`` is
    the one under ``root``."""
    sys.path.insert(0, root)
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(threads)
    import cikgwb
    from cikgwb.data import load_dataset
    from cikgwb.models import build_model, default_config
    from cikgwb.train import PairSampler

    assert Path(cikgwb.__file__).resolve().is_relative_to(Path(root).resolve()), cikgwb.__file__
    ds = load_dataset(dataset)
    cfg = default_config(dataset, "cikgrec")
    dev = torch.device("cpu")
    sampler = PairSampler(ds.train, ds.n_items, cfg.train.batch_size, dev)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    m = build_model("cikgrec", ds, cfg.model, ds.train, dev)
    opt = torch.optim.Adam(m.main_parameters(), lr=cfg.train.lr)
    losses: list[str] = []
    n = 0
    wall = cpu = 0.0
    load = os.getloadavg()[0]
    for i, (users, pos, neg) in enumerate(sampler.epoch(gen)):
        if i == 2:
            w0, c0 = time.perf_counter(), time.process_time()
        loss = m.loss(users, pos, neg, 0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i < N_LOSSES:
            losses.append(repr(float(loss)))
        if i >= 2:
            n += 1
            if batches and n >= batches:
                break
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    per = len(sampler) / n
    import hashlib

    params = hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in m.parameters())).hexdigest()[:16]
    return {
        "wall_epoch_s": wall * per,
        "cpu_epoch_s": cpu * per,
        "timed_batches": n,
        "batches_per_epoch": len(sampler),
        "losses": losses,
        "params_sha1": params,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def run_side(root: Path, dataset: str, batches: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(root), "--datasets", dataset]
    cmd += ["--batches", str(batches), "--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if r.returncode:
        raise SystemExit(f"{root}: {dataset} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def describe(root: Path) -> str:
    r = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=root)
    return r.stdout.strip() or "?"


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2


def compare(baseline: str, datasets: list[str], rounds: int, batches: int, threads: int) -> list[str]:
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-commits-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        sha = subprocess.run(
            ["git", "rev-parse", "--short", baseline], capture_output=True, text=True, cwd=REPO, check=True
        ).stdout.strip()
        archive = subprocess.run(["git", "archive", sha], capture_output=True, cwd=REPO, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        sides = {f"baseline {sha}": base, f"this tree {describe(REPO)}": REPO}
        what = (
            f"{batches} batches after 2 warm-up, extrapolated to the epoch"
            if batches
            else "one epoch less 2 warm-up batches, extrapolated"
        )
        out.append(
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {threads} thread(s), {rounds} rounds alternated, each side a fresh "
            f"process; timed: {what}; machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}"
        )
        for ds in datasets:
            res: dict[str, list[dict]] = {k: [] for k in sides}
            for _ in range(rounds):
                for k, root in sides.items():
                    res[k].append(run_side(root, ds, batches, threads))
                    r = res[k][-1]
                    print(
                        f"  {ds} {k}: {r['wall_epoch_s']:.1f} s wall, {r['cpu_epoch_s']:.1f} s CPU per epoch "
                        f"(load {r['load_before']:.1f} -> {r['load_after']:.1f})",
                        file=sys.stderr,
                        flush=True,
                    )
            (kb, rb), (kn, rn) = res.items()
            wb, wn = median([r["wall_epoch_s"] for r in rb]), median([r["wall_epoch_s"] for r in rn])
            cb, cn = median([r["cpu_epoch_s"] for r in rb]), median([r["cpu_epoch_s"] for r in rn])
            loads = [r[k] for rs in res.values() for r in rs for k in ("load_before", "load_after")]
            same = rb[0]["losses"] == rn[0]["losses"]
            same_params = len({r["params_sha1"] for rs in res.values() for r in rs}) == 1
            mem = {k: max(r["peak_rss_gib"] for r in rs) for k, rs in res.items()}
            out += [
                f"{ds}: seconds per epoch, median of {rounds} (wall / CPU): {kb} {wb:.1f} / {cb:.1f}, "
                f"{kn} {wn:.1f} / {cn:.1f}; ratio baseline / this tree {wb / wn:.2f}x wall, {cb / cn:.2f}x CPU; "
                f"load average {min(loads):.1f}-{max(loads):.1f}",
                f"  peak memory (RSS of the process, GiB): {kb} {mem[kb]:.2f}, {kn} {mem[kn]:.2f}",
                f"  every run (wall s): {kb} {[round(r['wall_epoch_s'], 1) for r in rb]}, "
                f"{kn} {[round(r['wall_epoch_s'], 1) for r in rn]}",
                f"  first {N_LOSSES} batches' losses {'identical' if same else 'DIFFERENT'}: {kb} {rb[0]['losses']}, "
                f"{kn} {rn[0]['losses']}",
                f"  parameters after the timed batches (sha1 of every parameter's bytes, every run): "
                f"{'identical' if same_params else 'DIFFERENT'} ({rb[0]['params_sha1']})",
            ]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=None, help="the commit to compare with (any git revision)")
    ap.add_argument("--datasets", nargs="+", default=["book-crossing", "dbbook2014"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", type=int, default=0, help="timed batches per run (0: the whole epoch)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the summary to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.datasets[0], a.batches, a.threads)))
        return 0
    if not a.baseline:
        ap.error("--baseline REV is required")
    lines = compare(a.baseline, a.datasets, a.rounds, a.batches, a.threads)
    print("\n".join(lines))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
