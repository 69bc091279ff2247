"""``python -m cikgwb.batch JOBS.json``: ``cikgwb`` command lines run one after another in ONE
process, for ``cikgwb sweep --executor batch``.

A run of a simple baseline (:mod:`cikgwb.models.simple`) fits in seconds, while a new ``cikgwb
train`` process first imports every model module (torch, torch_geometric: tens of seconds on a
busy 2-core machine) and loads its dataset (the KG file: seconds). Here both are paid once: each
job goes through :func:`cikgwb.cli.main` in this process, and a dataset is loaded once per
(name, split seed, interest mode, data folder) and handed to every job that asks for it again
(the trainer and the models never change a dataset).

``JOBS.json`` is a list of ``{"argv": [...], "env": {...}, "log_path": "..."}``: the arguments
after ``cikgwb``, the ``CIKGWB_*`` settings of that call (set for it, restored after) and the
file that receives its output. One JSON line per job goes to stdout as it ends: ``index``,
``status`` (``ok`` or ``failed: ...``) and ``seconds``. A job that raises or returns non-zero is a
failed job and the next one runs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .paths import environment


def _share_datasets() -> None:
    """Load each dataset once in this process: :func:`cikgwb.data.load_dataset` memoised on its
    arguments and the data folder it would read."""
    import cikgwb.data as data
    from cikgwb.paths import data_dir

    load = data.load_dataset
    cached = functools.lru_cache(maxsize=4)(lambda folder, args, kwargs: load(*args, **dict(kwargs)))

    def shared(*args: Any, **kwargs: Any):
        return cached(str(kwargs.get("data_dir") or data_dir()), args, tuple(sorted(kwargs.items())))

    data.load_dataset = shared


def run_jobs(jobs: list[dict[str, Any]], out: Any = sys.stdout) -> int:
    """Run every job (module docstring); returns how many failed."""
    from cikgwb.cli import main

    _share_datasets()
    failed = 0
    for i, job in enumerate(jobs):
        t0 = time.time()
        with open(job["log_path"], "w") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            print("$ cikgwb " + " ".join(job["argv"]) + "   (in one process: python -m cikgwb.batch)", flush=True)
            with environment(dict(job.get("env") or {})):
                try:
                    rc = main(list(job["argv"]))
                    status = "ok" if rc == 0 else f"failed: exit {rc}"
                except (Exception, SystemExit) as exc:  # one failed job must not stop the others
                    traceback.print_exc()
                    status = f"failed: {type(exc).__name__}: {exc}"[:300]
        failed += status != "ok"
        out.write(json.dumps({"index": i, "status": status, "seconds": time.time() - t0}) + "\n")
        out.flush()
    return failed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m cikgwb.batch JOBS.json")
    run_jobs(json.loads(Path(sys.argv[1]).read_text()))
