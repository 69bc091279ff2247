"""Shared fixtures: the synthetic dataset (generated once per session), the real data, one torch thread."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import torch

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _checkpoints_in_tmp(tmp_path_factory):
    """Training runs of the tests keep their checkpoints in a temporary folder, not in the
    user's ~/.cache/cikgwb/checkpoints (unless CIKGWB_CHECKPOINT_DIR is set already)."""
    if os.environ.get("CIKGWB_CHECKPOINT_DIR"):
        yield
        return
    os.environ["CIKGWB_CHECKPOINT_DIR"] = str(tmp_path_factory.mktemp("checkpoints"))
    yield
    os.environ.pop("CIKGWB_CHECKPOINT_DIR", None)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test, restored after: small sparse workloads run 5-10x slower
    with 2 threads on a busy 2-core machine, and one thread fixes the summation order."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _real_data_dir() -> Path | None:
    for cand in (os.environ.get("CIKGWB_DATA_DIR"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / "book-crossing" / "train.txt").exists():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder holding the real datasets. Under CI (CI or CIKGWB_REQUIRE_DATA set) a
    missing folder FAILS the test instead of skipping it."""
    d = _real_data_dir()
    if d is None:
        msg = (
            "real data not found: set CIKGWB_DATA_DIR to the folder holding book-crossing/, "
            "dbbook2014/, ml1m/ (CI uses ../shared/data)"
        )
        if os.environ.get("CI") or os.environ.get("CIKGWB_REQUIRE_DATA"):
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def synthetic_ds(synthetic_dir):
    from cikgwb.data import load_dataset

    return load_dataset("synthetic", data_dir=synthetic_dir)


@pytest.fixture(scope="session")
def book_crossing(real_data_dir):
    from cikgwb.data import load_dataset

    return load_dataset("book-crossing", data_dir=real_data_dir)
