"""Browser check: the explorer notebook served by Voila on 127.0.0.1 from the repository root
(as the README says), driven in headless Debian Chromium through Selenium and Debian's
chromedriver (scripts/install_browser.sh; nothing is downloaded). It opens a run given in the URL
(``?run=...&user=...``): a committed book-crossing CIKGRec artefact when there is one (user 2362,
the paper's Figure 4 user), else a 3-epoch synthetic run made here. It asserts the user's interest
labels (the run's, never a "no text label" placeholder), the top-K list (the run's stored list:
K items, none the user trained on, test hits marked exactly, scores and item ids shown), the
neighbours who share each interest and the missed test items are visible; picks another user
through the box; checks that Voila read voila.json (idle kernels culled); saves a screenshot
(``$CIKGWB_SCREENSHOT`` or the test's tmp folder).

Skipped when chromium / chromedriver are missing, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
K = 20
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        msg = "headless Chromium and chromedriver not found (run scripts/install_browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Wait until the server accepts connections (a request to / would start the notebook)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"voila did not listen on 127.0.0.1:{port} within {timeout} s")


def _artefact_run(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The run the explorer opens: a committed book-crossing CIKGRec artefact when the repository
    has one (reports/runs/book-crossing-cikgrec-*/explorer.npz), else a 3-epoch synthetic CIKGRec
    run trained here with its artefact made by ``cikgwb artefact`` (seconds)."""
    committed = sorted(REPO.glob("reports/runs/book-crossing-cikgrec-*/explorer.npz"))
    if committed:
        return committed[0].parent, {}
    reports = tmp_path / "reports"
    env = {
        **os.environ,
        "CIKGWB_REPORTS_DIR": str(reports),
        "CIKGWB_DATA_DIR": str(tmp_path / "data"),
        "CIKGWB_CHECKPOINT_DIR": str(tmp_path / "ck"),
        "OMP_NUM_THREADS": "1",
    }
    name = "synthetic-cikgrec-valid-s0"  # cikgwb train adds the seed to --name
    # both commands in one interpreter (torch imported once): `cikgwb train` then `cikgwb artefact`
    code = (
        "import sys; from cikgwb.cli import main; "
        f"rc = main(['train', '--dataset', 'synthetic', '--name', {name[:-3]!r}, '--seeds', '0', "
        "'--set', 'max_epochs=3', '--quiet']); "
        f"sys.exit(rc or main(['artefact', {str(reports / 'runs' / name)!r}]))"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240, check=False)
    assert r.returncode == 0, f"cikgwb train / artefact failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    return reports / "runs" / name, {"CIKGWB_REPORTS_DIR": str(reports)}


@pytest.fixture()
def voila_url(tmp_path):
    run, extra = _artefact_run(tmp_path)
    env = {**os.environ, "CIKGWB_ROOT": str(REPO), "OMP_NUM_THREADS": "1", **extra}
    port = _free_port()
    log_path = tmp_path / "voila.log"
    log = open(log_path, "w")
    # from the repository root, as the README says: voila reads ./voila.json (idle kernels culled)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "notebooks/explorer.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            "--VoilaExecutor.timeout=120",
        ],
        cwd=str(REPO),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}/", run, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _driver(chromium: str, driver_path: str, profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,2200",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)


def test_explorer_opens_a_run_by_url_and_shows_labels_top_k_and_neighbours(voila_url, tmp_path):
    chromium, driver_path = _browser_paths()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from cikgwb.run_artefact import load_artefact

    url, run, log_path = voila_url
    a = load_artefact(run)
    n_int = [len(a.interests(u)) for u in range(a.n_users)]
    # the paper's Figure 4 user on book-crossing, else a user with >= 2 interests and test items
    user = (
        2362
        if a.meta["dataset"] == "book-crossing"
        else next(u for u in range(10, a.n_users) if n_int[u] >= 2 and len(a.test(u)))
    )

    def check(u: int) -> None:
        labels = [
            e.text.strip() for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-interests .cikgwb-interest-label")
        ]
        assert labels == [a.labels[int(j)] for j in a.interests(u)], f"user {u}: interest labels shown {labels}"
        assert all(not x.startswith("(no text label") for x in labels)
        items = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-topk li")
        assert len(items) == K, f"expected a top-{K} list, got {len(items)} items"
        ids = [int(e.get_attribute("data-item")) for e in items]
        assert ids == a.top(u, K)[0].tolist(), "the top-K shown is not the run's stored list"
        assert not set(ids) & set(a.train(u).tolist()), "the top-K holds a training item"
        test = set(a.test(u).tolist())
        for e, i in zip(items, ids):
            assert e.get_attribute("data-hit") == str(int(i in test)), f"item {i}: test hit marked wrongly"
            assert e.is_displayed() and f"item {i}" in e.text and e.get_attribute("data-score")
        nbs = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-interest-neighbours")
        assert nbs and all(e.is_displayed() for e in nbs) and any(e.text.strip()[:1].isdigit() for e in nbs)
        rows = drv.find_elements(By.CSS_SELECTOR, ".cikgwb-neighbours tr[data-user]")
        assert rows and rows[0].is_displayed()
        missed = {int(e.get_attribute("data-item")) for e in drv.find_elements(By.CSS_SELECTOR, ".cikgwb-missed li")}
        assert missed == test - set(ids)

    profile = tempfile.mkdtemp(prefix="cikgwb-chromium-")
    drv = _driver(chromium, driver_path, profile)
    try:
        t0 = time.time()
        drv.get(f"{url}?run={run.name}&user={user}")
        wait = WebDriverWait(drv, 90)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'.cikgwb-user[data-user="{user}"]')))
        opened = time.time() - t0
        assert run.name in drv.find_element(By.CSS_SELECTOR, ".cikgwb-run").get_attribute("data-run")
        check(user)
        # pick another user in the box
        other = next(u for u in range(a.n_users) if u != user and n_int[u] >= 1 and len(a.test(u)))
        box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".cikgwb-user-input input")))
        box.clear()
        box.send_keys(str(other))
        box.send_keys(Keys.ENTER)
        drv.find_element(By.CSS_SELECTOR, ".cikgwb-show button, button.cikgwb-show").click()
        WebDriverWait(drv, 30).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f'.cikgwb-user[data-user="{other}"]'))
        )
        check(other)

        shot = Path(os.environ.get("CIKGWB_SCREENSHOT") or tmp_path / "explorer.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"explorer opened {run.name} user {user} in {opened:.1f} s")
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert "Culling kernels with idle durations > 300 seconds" in log_path.read_text(), (
        "voila did not read voila.json: idle kernels would never be culled"
    )
