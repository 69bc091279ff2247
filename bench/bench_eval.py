"""Time a full-ranking evaluation at book-crossing size (6,616 users x 8,853 items).

Scores are dot products of random 64-d user and item embeddings. Masks: book-crossing's real
test split (held-out = test, masked = train + valid) when ``CIKGWB_DATA_DIR`` is set and
``cikgwb.data.load_dataset`` imports; otherwise random masks of the same density.

    OMP_NUM_THREADS=1 python bench/bench_eval.py [--repeats 3] [--batch-size 1024] [--device cpu]

Prints the median wall time of ``repeats`` evaluations and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp
import torch

from cikgwb.evaluate import evaluate

N_USERS, N_ITEMS, DIM = 6616, 8853, 64


def masks(seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix, str]:
    if os.environ.get("CIKGWB_DATA_DIR"):
        try:
            from cikgwb.data import load_dataset

            ds = load_dataset("book-crossing")
            return ds.matrix("test"), ds.matrix("train_full"), "book-crossing test split"
        except Exception as exc:  # noqa: BLE001 - fall back to random masks, say why
            print(f"could not load book-crossing ({exc}); using random masks", file=sys.stderr)
    rng = np.random.default_rng(seed)

    # book-crossing: 86,006 train.txt pairs, 24,673 test pairs
    def rand(nnz: int) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (np.ones(nnz, np.float32), (rng.integers(0, N_USERS, nnz), rng.integers(0, N_ITEMS, nnz))),
            shape=(N_USERS, N_ITEMS),
        )
        m.sum_duplicates()
        m.data[:] = 1
        return m

    return rand(24_673), rand(86_006), "random masks"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    heldout, exclude, source = masks(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    users = torch.randn(heldout.shape[0], DIM, generator=g).to(args.device)
    items = torch.randn(heldout.shape[1], DIM, generator=g).to(args.device)

    def score_fn(u: torch.Tensor) -> torch.Tensor:
        return users[u.to(users.device)] @ items.T

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = evaluate(score_fn, heldout, exclude, ks=(20, 50, 100), batch_size=args.batch_size)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"masks: {source}; {res.n_users_evaluated} users evaluated x {heldout.shape[1]} items; "
        f"device {args.device}; torch threads {torch.get_num_threads()}; batch {args.batch_size}"
    )
    print(f"times: {', '.join(f'{t:.3f}' for t in times)} s")
    print(f"median: {statistics.median(times):.3f} s   peak RSS: {peak_mib:.0f} MiB")
    print(
        f"recall@50 {res.metrics['recall@50']:.4f}  ndcg@50 {res.metrics['ndcg@50']:.4f} "
        f"(random embeddings; held-out also masked: {res.n_heldout_excluded})"
    )


if __name__ == "__main__":
    main()
