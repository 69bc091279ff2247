"""Golden histories: 5 epochs of every model on the synthetic dataset, one thread.

A refactor that claims "same maths" must reproduce these bit for bit (``tests/test_golden.py``).
Record them before a change that must not move the numbers, never after:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/golden.py            # rewrite tests/golden/histories.json
    OMP_NUM_THREADS=1 .venv/bin/python scripts/golden.py --check    # compare, exit 1 on a difference

**Per CPU kind.** ATen picks its vectorised kernels by the CPU's capability
(``torch.backends.cpu.get_cpu_capability()``), and a few of them (the scatter softmax of KGIN and
MCCLK) round differently on AVX2 and AVX-512. ``histories.json`` was recorded on an AVX-512
machine (:data:`BASE_CAPABILITY`); ``histories.<CAPABILITY>.json`` holds, for another capability,
only the records that differ there, each recorded from the same code as the base (the AVX2 one
at commit 53603b1, before any change of issue 32). A check merges the two; a record never moves
to another kind of CPU without being re-recorded from unchanged code.

Each model runs ``default_config("synthetic", model)`` with ``max_epochs=5`` (no early stop),
seed 0; the record keeps every loss term and valid metric per epoch (timings dropped) and the
test metrics at the selected epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "histories.json"
BASE_CAPABILITY = "AVX512"  # the CPU capability histories.json was recorded on
EPOCHS = 5
SKIP = ("epoch_seconds", "eval_seconds", "seconds", "wall")
# CIKGRec's Table 3 switches, each a golden of its own: NAME -> (model, settings)
VARIANTS = {
    "cikgrec-wo-uir": ("cikgrec", {"no_uir": True}),
    "cikgrec-wo-cl": ("cikgrec", {"no_cl": True}),
    "cikgrec-lin": ("cikgrec", {"schedule": "lin"}),
    "cikgrec-wo-dmr": ("cikgrec", {"schedule": "fixed"}),
}


def record(models: list[str] | None = None) -> dict:
    import torch

    torch.set_num_threads(1)
    from cikgwb.data import load_dataset
    from cikgwb.models import _IMPORT_ERRORS, MODELS, _import_all, default_config
    from cikgwb.runs import run

    _import_all()
    if _IMPORT_ERRORS:  # a model that fails to import must not silently drop out of the check
        raise SystemExit(f"models failed to import: {_IMPORT_ERRORS}")
    ds = load_dataset("synthetic")
    out = {}
    for name in models or [*sorted(MODELS), *VARIANTS]:
        model, sets = VARIANTS.get(name, (name, {}))
        cfg = default_config("synthetic", model, max_epochs=EPOCHS, seed=0, **sets)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CIKGWB_CHECKPOINT_DIR"] = tmp
            res = run(cfg, ds, progress=False, run_dir=Path(tmp) / "run")
        hist = [{k: v for k, v in row.items() if not any(s in k for s in SKIP)} for row in res.history]
        out[name] = {
            "history": hist,
            "test": res.metrics.get("test"),
            "selected_epoch": res.metrics.get("selected_epoch"),
        }
    return out


def capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def golden_file(cap: str) -> Path:
    """Where the records of CPU capability ``cap`` live: the base file, or its override file."""
    return GOLDEN if cap == BASE_CAPABILITY else GOLDEN.with_name(f"histories.{cap}.json")


def load_golden(cap: str) -> dict:
    """The base records, with this capability's overrides (module docstring) on top."""
    gold = json.loads(GOLDEN.read_text())
    over = golden_file(cap)
    if over != GOLDEN and over.exists():
        gold.update(json.loads(over.read_text()))
    return gold


def diff(a: dict, b: dict, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: golden {a!r} != now {b!r}"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the recorded histories")
    p.add_argument("models", nargs="*")
    a = p.parse_args()
    now = record(a.models or None)
    cap = capability()
    if a.check:
        gold = load_golden(cap)
        bad = [d for m in now for d in diff(gold.get(m), now[m], m)]
        if not a.models:
            bad += [f"{m}: recorded in the golden file but not run now" for m in sorted(set(gold) - set(now))]
        print("\n".join(bad[:40]) or f"golden histories match ({', '.join(now)}; CPU capability {cap})")
        return 1 if bad else 0
    out = golden_file(cap)
    if out == GOLDEN:
        old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() and a.models else {}
        old.update(now)
    else:  # another capability: only what differs from the base record
        base = json.loads(GOLDEN.read_text())
        old = json.loads(out.read_text()) if out.exists() else {}
        old.update({m: r for m, r in now.items() if diff(base.get(m), r, m)})
        for m in [m for m in now if not diff(base.get(m), now[m], m)]:
            old.pop(m, None)
    out.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({', '.join(now)}; CPU capability {cap})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
