"""The set-up the LLM tests share to run ``cikgwb interests infer`` in a child process against
the fake OpenAI-compatible server (:mod:`fake_openai`): its environment and its command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def infer_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The child's environment: this one without ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` (so
    only what a test gives reaches the child), no user settings file, one thread, this checkout
    importable; ``extra`` (e.g. ``OPENAI_API_KEY=...``) added last."""
    env = {
        **os.environ,
        "CIKGWB_SETTINGS": str(tmp_path / "none.yaml"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    for v in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(v, None)
    return {**env, **extra}


def infer_args(url: str, data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    """``interests infer`` on the synthetic dataset with the chat backend, model ``fake-model``
    at ``url``, answers in ``run_dir``, then ``extra``."""
    return [
        "interests",
        "infer",
        "--dataset",
        "synthetic",
        "--data-dir",
        str(data_dir),
        "--backend",
        "chat",
        "--base-url",
        url,
        "--model",
        "fake-model",
        "--run-dir",
        str(run_dir),
        "--no-progress",
        *extra,
    ]


def infer_cmd(url: str, data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    """:func:`infer_args` as a command line: ``python -m cikgwb interests infer ...``."""
    return [sys.executable, "-m", "cikgwb", *infer_args(url, data_dir, run_dir, *extra)]
