"""``make demo`` in a fresh clone leaves the checkout clean (issue 36 item 10): the demo writes
under ``reports/demo/`` (git ignores it), never deletes a committed file (a PNG beside a newer
HTML included), and says in one line when PNG export is unavailable."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_demo_leaves_a_clone_clean_and_keeps_committed_pngs(tmp_path, monkeypatch, capsys):
    from cikgwb import plots
    from cikgwb.demo import run_demo
    from cikgwb.paths import REPORTS_ENV

    clone = tmp_path / "clone"
    shutil.copytree(REPO / "notebooks", clone / "notebooks")
    shutil.copy(REPO / ".gitignore", clone / ".gitignore")
    figs = clone / "reports" / "figures" / "synthetic"
    figs.mkdir(parents=True)
    png = b"\x89PNG committed figure"
    (figs / "01_data_degrees.png").write_bytes(png)
    (figs / "01_data_degrees.html").write_text("<html>committed</html>")
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone")
    monkeypatch.setenv("CIKGWB_ROOT", str(clone))
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(clone / "data"))
    monkeypatch.setenv(REPORTS_ENV, "")  # unset: the demo picks reports/demo (restored after the test)
    monkeypatch.chdir(clone)
    monkeypatch.setattr(plots, "png_available", lambda: False)

    assert run_demo(epochs=1, only="01") == 0

    assert _git(clone, "status", "--porcelain") == ""  # nothing modified, deleted or left unignored
    assert (figs / "01_data_degrees.png").read_bytes() == png
    out = clone / "reports" / "demo"
    assert (out / "figures" / "synthetic" / "01_data_degrees.html").exists()
    assert (out / "runs" / "demo-synthetic-cikgrec" / "metrics.json").exists()
    printed = capsys.readouterr().out
    assert printed.count("PNG export unavailable here") == 1, printed
    assert "reports/demo/" in printed
