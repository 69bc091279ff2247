"""Where a figure came from: the code's commit (``-dirty`` where the tree has uncommitted
changes) and the machine (host, CPU model and count, torch threads, GPU). Runs, sweeps, notebooks
and interest graphs record these; nothing here depends on anything else in the package."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``): timings
    are only comparable on the same kind of CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict[str, Any]:
    """Where a figure came from: host, CPU model and count, torch threads, GPU name."""
    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def git_commit(paths: tuple[str, ...] = ()) -> str | None:
    """HEAD, with ``-dirty`` where tracked files have uncommitted changes (only those under
    ``paths``, relative to the project root, where given)."""
    if os.environ.get("CIKGWB_GIT_COMMIT"):  # set where the tree travels without .git (e.g. a GPU host)
        return os.environ["CIKGWB_GIT_COMMIT"]
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=root)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", *(["--", *paths] if paths else [])],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=root,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
