"""``cikgwb artefact``: a run's compact ``explorer.npz`` from its best checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .options import add_device


def artefact(args: Any) -> int:
    from ..run_artefact import ARTEFACT_FILE, write_artefact

    rc = 0
    if args.out and len(args.runs) > 1 and Path(args.out).suffix == ".npz":
        raise ValueError(
            f"--out {args.out}: one file for {len(args.runs)} runs; give a folder (one <run>/explorer.npz each)"
        )
    for run in args.runs:
        out = None
        if args.out:
            out = Path(args.out) if Path(args.out).suffix == ".npz" else Path(args.out) / Path(run).name / ARTEFACT_FILE
        try:
            write_artefact(run, device=args.device, top_n=args.top_n, out=out, log=print)
        except FileNotFoundError as e:  # the other runs are still written; the exit code says one failed
            print(f"cikgwb artefact: error: {e}", file=sys.stderr)
            rc = 1
    return rc


def register(sub: Any) -> None:
    from ..run_artefact import TOP_N

    p = sub.add_parser(
        "artefact",
        help="write a run's compact explorer.npz (top-100 lists, per-user metrics, "
        "interest labels) from its best.pt, for the explorer and Figures 3-4",
        description="Write a finished run's explorer.npz from its best checkpoint: each user's top-N list, "
        "per-user test metrics and interest labels, a few MB that the explorer and Figures 3-4 read without "
        "the checkpoint.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished run folder(s)")
    p.add_argument("--top-n", type=int, default=TOP_N, help=f"length of each user's stored list (default {TOP_N})")
    add_device(p)
    p.add_argument(
        "--out",
        default=None,
        help="write FILE.npz, or DIR/<run name>/explorer.npz, instead of into the "
        "run folder (e.g. from a run trained elsewhere into reports/runs)",
    )
    p.set_defaults(func=artefact)
