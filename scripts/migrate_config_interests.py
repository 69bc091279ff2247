"""Bring run folders' ``config.yaml`` into the current format: the one command for runs written by
an older clone (the lanes' pinned b5da655 included) before they are committed.

    python scripts/migrate_config_interests.py [--reports-dir reports] [--check] [--verify]

Two rewrites, each applied only where needed; nothing else in a file changes (its other lines,
comments included, stay as they are), and running it again changes nothing:

1. **interests** (issue 32). A baseline's (or LightGCN's, or w/o UIK's) ``config.yaml`` written
   before :func:`cikgwb.run_spec.resolve_config` wrote ``interests: none`` for a model that reads
   no interest graph kept the command line's ``interests: paper``, while its ``metrics.json``
   says ``none (...)``: the top-level ``interests:`` line becomes ``interests: none`` with a
   comment naming the old value and this script.
2. **the old flat model section** (issue 19; read by the library until issue 35). A ``model:``
   section in the old flat form (one settings class for every model; it always recorded
   ``extra``) becomes the model's own settings: old names renamed (the model's ``RENAMED``),
   ``extra`` options folded in as fields, the settings the model never read dropped (they had no
   effect on its run). The library reads only the current form; it refuses an old one, naming
   this script.

``--check`` changes nothing and exits 1 when a file would change (what a test runs).
``--verify`` (with the legacy reader of this script) checks each file this script would change:
the old text read as the old library read it and the new text read by the current library give
the same effective configuration (every setting, ``RunConfig.to_dict``), and the run keeps its
Table 3 / baseline variant label.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_INTERESTS_LINE = re.compile(r"^interests:[^\n]*$", re.M)
_MODEL_BLOCK = re.compile(r"^model:\n(?:[ \t][^\n]*\n|\n)*", re.M)  # the indented block after model:

#: the settings of the flat ``ModelConfig`` that served every model before issue 19
LEGACY_MODEL_KEYS = frozenset(
    "model dim n_layers l2_reg cf_weight interest_recon_weight gcl_weight gcl_temp noise_eps edge_dropout "
    "message_dropout self_loops mask_alpha mask_omega mask_lambda schedule uir_enc_layers uir_dec_layers "
    "replace_rate uir_edge_drop sce_eta transe lr_kg l2_reg_kge kg_batch_size views precision use_kg "
    "no_interests no_uir no_cl extra".split()
)


def is_legacy(model_d: dict[str, Any]) -> bool:
    """Whether a ``model:`` section is in the old flat form (every old one recorded ``extra``)."""
    return isinstance(model_d, dict) and "extra" in model_d


def upgrade_model_section(model_d: dict[str, Any]) -> dict[str, Any]:
    """An old flat ``model:`` section as its model's ``Config`` fields (module docstring, 2); an
    unknown old key or ``extra`` option is an error naming it."""
    from cikgwb.models import model_entry

    name = model_d.get("model", "cikgrec")
    config_cls = model_entry(name).config
    unknown = sorted(set(model_d) - LEGACY_MODEL_KEYS)
    if unknown:
        raise ValueError(f"unknown setting model.{unknown[0]!r} in an old-format config of {name}")
    extra = model_d.get("extra") or {}
    if not isinstance(extra, dict):
        raise ValueError(f"setting extra={extra!r}: expected a mapping of option names to values")
    out: dict[str, Any] = {"model": name}
    names = set(config_cls.setting_names())
    for k, v in model_d.items():
        k = config_cls.RENAMED.get(k, k)
        if k != "extra" and k in names:
            out[k] = v
    for k, v in extra.items():
        k2 = config_cls.RENAMED.get(str(k), str(k))
        if k2 not in names:
            raise ValueError(f"setting extra.{k}: {name} has no option {k!r}; its settings: {sorted(names)}")
        out[k2] = v
    return out


def migrated(cfg_path: Path) -> str | None:
    """The current-format text of ``cfg_path``, or None where it is current already."""
    text = cfg_path.read_text()
    raw = yaml.safe_load(text) or {}
    new = text
    m_path = cfg_path.parent / "metrics.json"
    if m_path.is_file() and raw.get("interests") != "none":
        read = str(json.loads(m_path.read_text()).get("interests"))
        if read.startswith("none"):
            if len(_INTERESTS_LINE.findall(new)) != 1:
                raise ValueError(f"{cfg_path}: expected one top-level 'interests:' line")
            note = (
                f"interests: none  # was {raw.get('interests')!r}; the model read no interest graph (metrics.json), "
                "scripts/migrate_config_interests.py"
            )
            new = _INTERESTS_LINE.sub(lambda _: note, new)
    if is_legacy(raw.get("model")):
        blocks = _MODEL_BLOCK.findall(new)
        if len(blocks) != 1:
            raise ValueError(f"{cfg_path}: expected one top-level 'model:' section, found {len(blocks)}")
        body = yaml.safe_dump({"model": upgrade_model_section(raw["model"])}, sort_keys=False)
        new = _MODEL_BLOCK.sub(lambda _: body, new)
    return None if new == text else new


def verify(cfg_path: Path, new_text: str) -> list[str]:
    """What differs between the old file read the old way and ``new_text`` read by the library."""
    from cikgwb.config import RunConfig
    from cikgwb.models import _import_all
    from cikgwb.run_spec import variant_of

    _import_all()
    old = yaml.safe_load(cfg_path.read_text())
    new = yaml.safe_load(new_text)
    try:  # the library's own reader: it read the old flat form until issue 35
        a = RunConfig.from_dict(old, validate=False).to_dict()
    except ValueError:  # a library without it: this script's copy of that reader
        old = {**old, "model": upgrade_model_section(old["model"])}
        a = RunConfig.from_dict(old, validate=False).to_dict()
    b = RunConfig.from_dict(new, validate=False).to_dict()
    problems = []
    interests_fixed = a["interests"] != "none" and b["interests"] == "none"
    for sect in ("", "model", "train"):
        da, db = (a.get(sect), b.get(sect)) if sect else (a, b)
        for k in sorted(set(da) | set(db)):
            if (sect or k not in ("model", "train")) and da.get(k) != db.get(k):
                if not (sect == "" and k == "interests" and interests_fixed):
                    problems.append(f"{sect + '.' if sect else ''}{k}: {da.get(k)!r} before, {db.get(k)!r} after")
    va, vb = variant_of(old, cfg_path.parent), variant_of(new, cfg_path.parent)
    if va != vb:
        problems.append(f"variant: {va!r} before, {vb!r} after")
    return problems


def pending(reports: Path) -> list[tuple[Path, str]]:
    """``(config.yaml, its current-format text)`` of every file under ``reports`` not current yet."""
    return [(p, t) for p in sorted(Path(reports).rglob("config.yaml")) if (t := migrated(p)) is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports-dir", type=Path, default=ROOT / "reports")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 where a file would change")
    ap.add_argument("--verify", action="store_true", help="change nothing; check each rewrite keeps the config")
    args = ap.parse_args(argv)
    todo = pending(args.reports_dir)
    bad = 0
    for cfg_path, text in todo:
        if args.verify:
            for problem in verify(cfg_path, text):
                bad += 1
                print(f"{cfg_path}: {problem}")
        elif args.check:
            print(f"{cfg_path}: not in the current format")
        else:
            cfg_path.write_text(text)
    verb = "verified" if args.verify else "to migrate" if args.check else "rewritten"
    print(f"{len(todo)} config.yaml file(s) {verb} under {args.reports_dir}" + (f"; {bad} problem(s)" if bad else ""))
    return 1 if bad or (args.check and todo) else 0


if __name__ == "__main__":
    sys.exit(main())
