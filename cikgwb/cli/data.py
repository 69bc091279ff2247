"""``cikgwb data fetch | verify | stats``: download, check and describe a dataset."""

from __future__ import annotations

import json
import sys
from typing import Any

from .options import commands, dataset_names


def register(sub: Any) -> None:
    from ..data.registry import DATA_DIR_ENV

    p = sub.add_parser(
        "data",
        help="fetch, verify and describe datasets",
        description="Fetch a dataset's files (pinned upstream commit, SHA-256 checked), verify them, or print its "
        "statistics.",
    )
    dsub = commands(p, "data_cmd")
    known = ", ".join(dataset_names())
    data_dir_help = f"data folder (default: ${DATA_DIR_ENV} or <project>/data)"
    f = dsub.add_parser(
        "fetch",
        help="download a dataset's files and check their SHA-256",
        description="Download every file of a dataset from its pinned upstream commit (or a "
        "mirror) and check its SHA-256; files already verified are skipped.",
    )
    f.add_argument("name", metavar="NAME", help=f"dataset: {known}")
    f.add_argument(
        "--source",
        metavar="URL_OR_DIR",
        default=None,
        help="mirror: http(s) base URL or local folder laid out as "
        "<source>/<dataset>/<file> (default: upstream raw GitHub addresses)",
    )
    f.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
    f.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    f.add_argument("--retries", type=int, default=2, help="retries on connection errors")
    f.set_defaults(func=run_fetch)

    v = dsub.add_parser(
        "verify",
        help="check a dataset's files against their SHA-256",
        description="Report missing files and files whose SHA-256 differs from the pinned one.",
    )
    v.add_argument("name", metavar="NAME", help=f"dataset: {known}")
    v.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
    v.set_defaults(func=run_verify)

    s = dsub.add_parser(
        "stats",
        help="Table 2 statistics, interest graph and split of a dataset",
        description="The paper's Table 2 figures of a dataset, then its interest graph, split and sparsity groups.",
    )
    s.add_argument("name", metavar="NAME", help=f"dataset: {known}")
    s.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
    s.add_argument("--split-seed", type=int, default=0, help="seed of the validation carve-out (default 0)")
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    s.add_argument(
        "--strict", action="store_true", help="fail (instead of warning) when a file's sha256 is not the pinned one"
    )
    s.set_defaults(func=data_stats)


def run_fetch(args: Any) -> int:
    """``cikgwb data fetch``: print the report; errors go to stderr with exit code 1."""
    from ..data.download import DownloadError, fetch
    from ..data.registry import UnknownDatasetError

    try:
        report = fetch(
            args.name,
            data_dir=args.data_dir,
            source=args.source,
            progress=getattr(args, "progress", True),
            retries=getattr(args, "retries", 2),
        )
    except (DownloadError, UnknownDatasetError, FileNotFoundError, ValueError) as exc:
        print(f"cikgwb data fetch: error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def run_verify(args: Any) -> int:
    """``cikgwb data verify``: print the report; exit code 1 if anything is missing or bad."""
    from ..data.download import verify
    from ..data.registry import UnknownDatasetError

    try:
        report = verify(args.name, data_dir=args.data_dir)
    except UnknownDatasetError as exc:
        print(f"cikgwb data verify: error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0 if report.ok else 1


def data_stats(args: Any) -> int:
    from ..data import load_dataset
    from ..evaluate import sparsity_groups

    ds = load_dataset(args.name, data_dir=args.data_dir, split_seed=args.split_seed, interests=None, strict=args.strict)
    s = ds.summary()
    if args.json:
        s["warnings"] = ds.meta.get("warnings", {})
        print(json.dumps(s, indent=2, default=str))
        return 0
    print(f"{ds.name}  (paper's Table 2 figures, then interest graph and split)")
    rows = [
        ("users", f"{s['users']:,}"),
        ("items", f"{s['items']:,}"),
        ("ratings", f"{s['ratings']:,}"),
        ("density", f"{100 * s['density']:.2f}%"),
        ("relations", f"{s['relations']:,}"),
        ("entities", f"{s['entities']:,}"),
        ("triples", f"{s['triples']:,}"),
        ("interest edges", f"{s['interest edges']:,}"),
        ("interest nodes", f"{s['interests']:,}"),
        ("users with interests", f"{s['users with interests']:,}"),
        ("interest source", ds.meta.get("interests_source", "")),
        ("KG", ds.meta.get("kg", "")),
        ("train / valid / test pairs", f"{s['train pairs']:,} / {s['valid pairs']:,} / {s['test pairs']:,}"),
        ("split", f"seed {s['split']['seed']}: {s['split']['rule']}"),
    ]
    from ..results import train_counts

    counts = train_counts(ds)  # the paper's (KGAT's) groups, on all of train.txt: Figure 3 uses the same
    groups = sparsity_groups(counts, 4)
    for g in range(int(groups.max()) + 1):
        c = counts[groups == g]
        rows.append(
            (
                f"sparsity group {g + 1}",
                f"{len(c):,} users, {c.min()}-{c.max()} train.txt items, {c.sum():,} interactions",
            )
        )
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    from ..data.loader import warning_note

    for k, v in ds.meta.get("warnings", {}).items():
        print(f"  warning: {k}: {v:,} ({warning_note(ds.name, k, v)})")
    return 0
