"""One training epoch of a model on a dataset, measured on a few batches: the thread's CPU
seconds per batch (``time.thread_time``, which a loaded machine inflates less than wall time)
extrapolated to the epoch's batches, one evaluation on the protocol's selection split (what
every epoch of a run adds), and the process's peak memory (issue 34: ML-1M within reach of
this CPU). The wall seconds per batch are reported too: at more than one thread the thread's
CPU time misses the other threads' work, so there only the wall time on a quiet machine counts.

    OMP_NUM_THREADS=1 python bench/bench_epoch.py --dataset ml1m --protocol users \\
        --models cikgrec lightgcn [--batches 15] [--threads 1] [--out reports/bench/ml1m-epoch.md] \\
        [--load-note "training lanes paused"]

Each model: the dataset's default config, seed 0, the training pairs of ``--protocol``; 2
warm-up batches, then ``--batches`` timed ones. The figures are an extrapolation from those
batches (a later epoch's batches cost the same: the same shapes; the mask rate of CIKGRec's
interest reconstruction changes only the reconstruction's small products).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cikgwb.data import load_dataset  # noqa: E402
from cikgwb.evaluate import evaluate  # noqa: E402
from cikgwb.models import build_model, default_config  # noqa: E402
from cikgwb.runs import protocol_splits  # noqa: E402
from cikgwb.sampling import PairSampler  # noqa: E402
from cikgwb.train import machine_info  # noqa: E402

WARMUP = 2


def peak_rss_gib() -> float:
    """The process's peak resident memory so far (``ru_maxrss``, KiB on Linux), GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(ds, model_name: str, protocol: str, n_batches: int) -> dict:
    """Thread CPU seconds per training batch (``n_batches`` after :data:`WARMUP`), the epoch's
    batch count, one selection evaluation's thread CPU seconds, and the peak RSS after both."""
    cfg = default_config(ds.name, model_name)
    splits = protocol_splits(protocol)
    pairs = splits.train_pairs(ds)
    dev = torch.device("cpu")
    torch.manual_seed(0)
    m = build_model(model_name, ds, cfg.model, pairs, dev)
    opt = torch.optim.Adam(m.main_parameters(), lr=cfg.train.lr)
    sampler = PairSampler(pairs, ds.n_items, cfg.train.batch_size, dev)
    gen = torch.Generator().manual_seed(0)
    per_batch: list[float] = []
    wall: list[float] = []
    m.train()
    for i, (users, pos, neg) in enumerate(sampler.epoch(gen)):
        t0, w0 = time.thread_time(), time.perf_counter()
        loss = m.loss(users, pos, neg, 0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= WARMUP:
            per_batch.append(time.thread_time() - t0)
            wall.append(time.perf_counter() - w0)
        if len(per_batch) >= n_batches:
            break
    heldout, exclude = splits.masks(ds)
    m.eval()
    t0 = time.thread_time()
    with torch.no_grad():
        evaluate(m.score_fn(), heldout, exclude, ks=cfg.train.ks, batch_size=cfg.train.eval_batch_size, device=dev)
    return {
        "model": model_name,
        "batches_per_epoch": len(sampler),
        "batch_size": cfg.train.batch_size,
        "train_pairs": len(pairs),
        "timed": len(per_batch),
        "batch_s": per_batch,
        "wall_s": wall,
        "eval_s": time.thread_time() - t0,
        "peak_rss_gib": peak_rss_gib(),
    }


def report(
    ds, protocol: str, rows: list[dict], loads: list[float], command: str, min_epochs: int, load_note: str
) -> str:
    info = machine_info(torch.device("cpu"))
    lines = [
        f"# One training epoch on {ds.name}, measured on a few batches",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M %Z')}; CPU {info['cpu']} ({os.cpu_count()} CPUs), "
        f"{info['torch_threads']} torch thread(s), torch {info['torch']}; protocol `{protocol}` (its training "
        f"pairs); each model's default config for {ds.name}, seed 0; interest graph: "
        f"{ds.meta.get('interests_source', '?')} ({ds.n_interests} interests). Load average "
        f"{min(loads):.1f}-{max(loads):.1f} ({load_note}): the CPU figures are the main thread's CPU time "
        "(at one thread, what a run costs on a free core; a run's wall time on this machine is the CPU time "
        "times the load's share of a core); the wall figures count only on a quiet machine.",
        "",
        f"Per model: {WARMUP} warm-up batches, then the timed ones; *epoch* = the median batch times the "
        "epoch's batches (an **extrapolation** from the timed batches, not a timed epoch); *eval* = one "
        "evaluation on the selection split (each epoch of a run makes one); peak RSS of the process after "
        "the model's batches and evaluation (the models run one after the other in one process, so a later "
        "row's peak includes the earlier ones').",
        "",
        "| model | train pairs | batches / epoch | timed batches | CPU s / batch (median, min-max) "
        f"| epoch, extrapolated (CPU s) | eval (CPU s) | epoch + eval (CPU min) | {min_epochs} epochs (CPU h) "
        "| wall s / batch (median) | epoch, extrapolated (wall s) | peak RSS (GiB) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b = np.array(r["batch_s"])
        med = float(np.median(b))
        epoch = med * r["batches_per_epoch"]
        wmed = float(np.median(r["wall_s"]))
        lines.append(
            f"| {r['model']} | {r['train_pairs']:,} | {r['batches_per_epoch']} | {r['timed']} | "
            f"{med:.3f} ({b.min():.3f}-{b.max():.3f}) | {epoch:.0f} | {r['eval_s']:.1f} | "
            f"{(epoch + r['eval_s']) / 60:.1f} | {min_epochs * (epoch + r['eval_s']) / 3600:.1f} | "
            f"{wmed:.3f} | {wmed * r['batches_per_epoch']:.0f} | {r['peak_rss_gib']:.2f} |"
        )
    lines += [
        "",
        f"*{min_epochs} epochs*: the least a run of the campaign's queues trains (`min_epochs={min_epochs}`, then "
        "early stop with patience 10), at one free core; the machine's load stretches its wall time.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml1m")
    ap.add_argument("--protocol", default="users")
    ap.add_argument("--models", nargs="+", default=["cikgrec", "lightgcn"])
    ap.add_argument("--batches", type=int, default=15, help="timed batches per model, after 2 warm-up ones")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-epochs", type=int, default=30, help="the least epochs of a run, for its CPU hours")
    ap.add_argument("--out", default=None, help="write the table to this markdown file")
    ap.add_argument(
        "--load-note",
        default="two single-thread training lanes and other work on the 2 cores",
        help="what loaded the machine, for the report",
    )
    a = ap.parse_args()
    protocol_splits(a.protocol)  # a bad protocol: one line before any work
    torch.set_num_threads(a.threads)
    loads = [os.getloadavg()[0]]
    ds = load_dataset(a.dataset)
    rows = []
    for name in a.models:
        rows.append(measure(ds, name, a.protocol, a.batches))
        loads.append(os.getloadavg()[0])
        print(
            f"{name}: {rows[-1]['batches_per_epoch']} batches, median {np.median(rows[-1]['batch_s']):.3f} s",
            flush=True,
        )
    command = f"OMP_NUM_THREADS={a.threads} python " + " ".join(["bench/bench_epoch.py", *sys.argv[1:]])
    text = report(ds, a.protocol, rows, loads, command, a.min_epochs, a.load_note)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
